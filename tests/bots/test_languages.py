"""The bot speaks the conversation's language (docs/bots.md, "Texts and languages"): a Chinese customer gets
the welcome, an FAQ answer, the hand-over, "agent joined" and the survey in Chinese, on the widget and on a
platform; a text missing in that language falls back to the inbox's default language, then the first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import telegram

from bots.models import BotSession
from crm.models import Contact, ContactIdentity
from imsubsystem import services as switch
from imsubsystem.models import Conversation
from routing.models import Offer
from tests.factories import BotFlowFactory, FaqEntryFactory, InboxFactory
from tests.gateway.conftest import Reply, stand_in  # noqa: F401

from .test_conversations import bot_texts, status, write

pytestmark = pytest.mark.django_db(transaction=True)


def chinese_faq():
    FaqEntryFactory(
        title="Delivery time",
        phrasings="How long does delivery take?\n发货需要多长时间？\n多久能收到货？",
        keywords="delivery, 发货, 快递, 收到",
        answer={"en": "Orders arrive within 3 working days.", "zh-Hans": "订单通常在 3 个工作日内送达。"},
    )
    FaqEntryFactory(
        title="Returns",
        phrasings="How do I return an item?\n怎么退货？",
        keywords="return, 退货, 退款",
        answer={"en": "Returns are free within 30 days.", "zh-Hans": "30 天内可免费退货。"},
    )


def test_a_chinese_customer_is_welcomed_and_answered_in_chinese(inbox, queues):
    BotFlowFactory(inbox=inbox, welcome={"en": "Welcome to the shop!", "zh-Hans": "欢迎光临本店！"})
    chinese_faq()
    contact = Contact.objects.create(name="李雷", language="zh-CN")
    conversation_id = write(inbox, contact, "你好，发货需要多长时间？")
    assert bot_texts(conversation_id)[:2] == ["欢迎光临本店！", "订单通常在 3 个工作日内送达。"]
    write(inbox, contact, "怎么退货")
    assert bot_texts(conversation_id)[-1] == "30 天内可免费退货。"
    write(inbox, contact, "人工")
    assert status(conversation_id) == "queued"
    assert bot_texts(conversation_id)[-2:] == [
        "正在为您转接人工客服，请稍候。",
        "您当前排在第 1 位，预计等待时间：约 3 分钟。",
    ]


def test_the_built_in_texts_speak_chinese_through_the_agent_and_the_survey(inbox, queues, make_agent):
    BotFlowFactory(inbox=inbox, welcome="")  # no texts of its own: the built-in ones
    contact = Contact.objects.create(name="韩梅梅", language="zh-Hans")
    conversation_id = write(inbox, contact, "人工")
    texts = bot_texts(conversation_id)
    assert texts[0] == "您好！我是智能客服助手。" and "正在为您转接人工客服，请稍候。" in texts
    lucy = make_agent("lucy")
    switch.offer_answer(
        offer_id=Offer.objects.get(ref=conversation_id, status="open").id, agent_id=lucy.pk, accept=True
    )
    assert bot_texts(conversation_id)[-1] == "Lucy 已加入会话。"
    switch.conversation_close(conversation_id=conversation_id, by_user_id=lucy.pk)
    assert bot_texts(conversation_id)[-1].startswith("请为本次服务打分")
    write(inbox, contact, "5")
    assert bot_texts(conversation_id)[-1].startswith("谢谢！您还有什么想补充的吗？")
    write(inbox, contact, "不用")
    assert bot_texts(conversation_id)[-1] == "感谢您的反馈！"
    assert BotSession.objects.get(conversation_id=conversation_id).survey.comment == ""


def test_a_text_missing_in_the_customers_language_falls_back_to_the_inboxs_then_the_first(queues):
    french_inbox = InboxFactory(key="boutique", kind="web", language="fr", default_queue=queues["support"])
    BotFlowFactory(inbox=french_inbox, welcome={"en": "Welcome!", "fr": "Bienvenue !"})
    contact = Contact.objects.create(name="Li", language="zh-Hans")
    conversation_id = write(french_inbox, contact, "你好")
    assert bot_texts(conversation_id)[0] == "Bienvenue !"  # no Chinese: the inbox's default language

    other = InboxFactory(key="laden", kind="web", language="de", default_queue=queues["support"])
    BotFlowFactory(inbox=other, welcome={"ja": "ようこそ", "ko": "환영합니다"}, language="ja")
    conversation_id = write(other, Contact.objects.create(name="Wang", language="zh-Hans"), "你好")
    assert bot_texts(conversation_id)[0] == "ようこそ"  # neither Chinese nor German: the flow's, then the first


def test_a_customer_without_a_language_gets_the_inboxs(queues):
    chinese_inbox = InboxFactory(key="shop-cn", kind="web", language="zh-Hans", default_queue=queues["support"])
    BotFlowFactory(inbox=chinese_inbox, welcome="")
    conversation_id = write(chinese_inbox, Contact.objects.create(name="Visitor"), "hello")
    assert Conversation.objects.get(pk=conversation_id).language == "zh-hans"
    assert bot_texts(conversation_id)[0] == "您好！我是智能客服助手。"


def test_the_queue_position_and_next_opening_are_written_in_chinese():
    from bots.opening import next_open_describe
    from bots.texts import eta_describe

    assert eta_describe(300, "zh-hans") == "约 5 分钟" and eta_describe(20, "zh-hans") == "不到 1 分钟"
    monday = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    assert next_open_describe(next_open_at=monday, timezone_name="Asia/Shanghai", language="zh-hans") == (
        "11月30日 星期一 09:00（Asia/Shanghai）"
    )


def test_a_telegram_customer_whose_contact_reads_chinese_gets_chinese_messages(client, queues, stand_in):  # noqa: F811
    stand_in.default = lambda request: Reply(200, {"ok": True, "result": {"message_id": len(stand_in.requests)}})
    inbox = InboxFactory(
        kind="telegram",
        key="tg-zh",
        default_queue=queues["support"],
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "1:A", "secret_token": "s3cret"},
    )
    BotFlowFactory(inbox=inbox, welcome="", queue_update_every_s=0)
    contact = Contact.objects.create(name="王芳", language="zh-hans")
    ContactIdentity.objects.create(contact=contact, kind="telegram", external_id="4343")
    user = telegram.User(id=4343, first_name="Fang", is_bot=False)
    message = telegram.Message(
        message_id=1, date=datetime.now(UTC), chat=telegram.Chat(id=4343, type="private"), from_user=user, text="人工"
    )
    response = client.post(
        "/gateway/telegram/tg-zh/",
        json.dumps(telegram.Update(update_id=1, message=message).to_dict()).encode(),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s3cret",
    )
    assert response.status_code == 200
    sent = [r.json()["text"] for r in stand_in.accepted if r.path.endswith("/sendMessage")]
    assert sent == ["您好！我是智能客服助手。", "正在为您转接人工客服，请稍候。"]
    assert Conversation.objects.get(inbox=inbox).language == "zh-hans"


def test_whatsapps_list_button_is_named_in_the_customers_language():
    from gateway.whatsapp import WhatsAppAdapter

    rating = [{"label": str(n), "value": str(n)} for n in range(1, 6)]
    chinese = WhatsAppAdapter.interactive("请为本次服务打分", rating, "zh-hans")
    assert chinese["action"]["button"] == "选择" and chinese["action"]["sections"][0]["title"] == "选择"
    assert WhatsAppAdapter.interactive("How did we do?", rating, "fr")["action"]["button"] == "Choose"
    assert WhatsAppAdapter.interactive("How did we do?", rating)["action"]["button"] == "Choose"


def test_a_new_telegram_contact_takes_telegrams_language_and_is_answered_in_it(client, queues, stand_in):  # noqa: F811
    stand_in.default = lambda request: Reply(200, {"ok": True, "result": {"message_id": len(stand_in.requests)}})
    inbox = InboxFactory(
        kind="telegram",
        key="tg-new",
        default_queue=queues["support"],
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "1:A", "secret_token": "s3cret"},
    )
    BotFlowFactory(inbox=inbox, welcome={"en": "Hello!", "zh-Hans": "您好！"}, queue_update_every_s=0)
    user = telegram.User(id=4444, first_name="Lei", is_bot=False, language_code="zh-hans")
    message = telegram.Message(
        message_id=1, date=datetime.now(UTC), chat=telegram.Chat(id=4444, type="private"), from_user=user, text="你好"
    )
    response = client.post(
        "/gateway/telegram/tg-new/",
        json.dumps(telegram.Update(update_id=1, message=message).to_dict()).encode(),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s3cret",
    )
    assert response.status_code == 200
    identity = ContactIdentity.objects.get(kind="telegram", external_id="4444")
    assert identity.contact.language == "zh-hans"
    sent = [r.json()["text"] for r in stand_in.accepted if r.path.endswith("/sendMessage")]
    assert sent[0] == "您好！"
