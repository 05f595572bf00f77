"""The message search (docs/imsubsystem.md, "Search"): Chinese words of 2 characters, Latin words and digits,
the one visibility rule, the index kept by the write path and rebuilt by `search_reindex`."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from core.errors import DomainError
from crm import selectors as crm_selectors
from crm.roles import AGENT
from imsubsystem import selectors, services
from imsubsystem.models import Message, MessageToken
from imsubsystem.search import text_hashes, words
from tests.factories import ContactFactory, ConversationFactory, UserFactory

REFUND = "我想申请退款，订单号12345"


def test_words_of_chinese_latin_and_digits():
    tokens, runs = words("我想申请退款，订单号12345 Refund ＡＢＣ123 a 7")
    assert tokens == ["我想", "想申", "申请", "请退", "退款", "订单", "单号", "12345", "refund", "abc", "123"]
    assert runs == ["我想申请退款", "订单号"]
    assert words("退") == ([], [])  # a single character is not indexed
    assert words("Straße")[0] == ["strasse"]


@pytest.fixture
def agents(db):
    return UserFactory(username="agent-1", role=AGENT), UserFactory(username="agent-2", role=AGENT)


def _conversation_with(agent, *texts, contact=None):
    conversation = ConversationFactory(assignee=agent, **({"contact": contact} if contact else {}))
    for text in texts:
        services.message_send(conversation_id=conversation.pk, sender_kind="customer", text=text)
    return conversation


def _texts(user, query, **filters):
    return [m["text"] for m in selectors.messages_search(user=user, query=query, **filters)]


def test_a_two_character_chinese_word_finds_the_message_and_its_index_rows(agents):
    mine, _ = agents
    conversation = _conversation_with(mine, REFUND, "谢谢")
    message = Message.objects.get(conversation=conversation, seq=1)
    assert sorted(MessageToken.objects.filter(message=message).values_list("token", flat=True)) == sorted(
        text_hashes(REFUND)
    )
    found = selectors.messages_search(user=mine, query="退款")
    assert [m["id"] for m in found] == [message.pk]
    assert found[0]["contact"]["id"] == conversation.contact_id
    assert found[0]["inbox_id"] == conversation.inbox_id
    assert _texts(mine, "订单号") == [REFUND]
    assert _texts(mine, "12345") == [REFUND]
    assert _texts(mine, "退款 12345") == [REFUND]
    assert _texts(mine, "订单号12345") == [REFUND]
    assert _texts(mine, "退货") == []


def test_a_longer_chinese_word_must_appear_whole(agents):
    mine, _ = agents
    _conversation_with(mine, "退款已到账，款单在邮件里")  # 退款 and 款单, but not 退款单
    _conversation_with(mine, "请把退款单寄回")
    assert _texts(mine, "退款单") == ["请把退款单寄回"]
    assert len(_texts(mine, "退款")) == 2


def test_latin_words_are_found_whatever_their_case(agents):
    mine, _ = agents
    _conversation_with(mine, "My REFUND for order A-778, please", "Ｒｅｆｕｎｄ again")
    assert _texts(mine, "refund") == ["Ｒｅｆｕｎｄ again", "My REFUND for order A-778, please"]
    assert _texts(mine, "Refund ORDER") == ["My REFUND for order A-778, please"]
    assert _texts(mine, "778") == ["My REFUND for order A-778, please"]
    assert _texts(mine, "refunds") == []  # whole words, not prefixes


@pytest.mark.parametrize("query", ["退", "a", " 7 ", "！", ""])
def test_a_query_without_a_word_of_two_characters_is_refused(agents, query):
    with pytest.raises(DomainError) as refused:
        selectors.messages_search(user=agents[0], query=query)
    assert refused.value.code == "invalid"
    assert refused.value.extra["reason"] == "query_too_short"


def test_a_too_long_query_is_refused(agents):
    with pytest.raises(DomainError) as refused:
        selectors.messages_search(user=agents[0], query="退款" * 101)
    assert refused.value.code == "invalid"


def test_an_agent_finds_only_the_messages_of_conversations_they_may_see(agents, admin_user):
    mine, theirs = agents
    _conversation_with(mine, "我的退款")
    _conversation_with(theirs, "他的退款")
    assert _texts(mine, "退款") == ["我的退款"]
    assert _texts(theirs, "退款") == ["他的退款"]
    assert sorted(_texts(admin_user, "退款")) == ["他的退款", "我的退款"]


def test_filters_and_pages(agents):
    mine, _ = agents
    first = _conversation_with(mine, "退款 一", "退款 二")
    second = _conversation_with(mine, "退款 三")
    assert _texts(mine, "退款", conversation_id=first.pk) == ["退款 二", "退款 一"]
    assert _texts(mine, "退款", inbox_id=second.inbox_id) == ["退款 三"]
    page = selectors.messages_search(user=mine, query="退款", limit=2)
    assert [m["text"] for m in page] == ["退款 三", "退款 二"]
    assert _texts(mine, "退款", before_id=page[-1]["id"]) == ["退款 一"]


def test_the_contact_search_finds_chinese_names_notes_and_message_text(agents):
    mine, theirs = agents
    wang = ContactFactory(name="王小明")
    wang.notes.create(body="VIP 客户，喜欢电话联系")
    writer = ContactFactory(name="Lin")
    _conversation_with(mine, REFUND, contact=writer)

    def names(query, user):
        return [c.name for c in crm_selectors.contact_search(query=query, user=user)]

    assert names("小明", mine) == ["王小明"]
    assert names("王", mine) == ["王小明"]  # one character: the contact's own fields, as substrings
    assert names("电话", mine) == ["王小明"]
    assert names("退款", mine) == ["Lin"]
    assert names("退款", theirs) == []  # not a conversation agent-2 may see
    assert names("退款", None) == []


def test_the_contact_list_page_finds_a_contact_by_message_text(client, agents):
    mine, _ = agents
    _conversation_with(mine, REFUND, contact=ContactFactory(name="Writer Lin"))
    client.force_login(mine)
    assert "Writer Lin" in client.get("/crm/contacts/", {"q": "退款"}).content.decode()


def test_deleting_a_contact_deletes_its_messages_tokens(agents):
    conversation = _conversation_with(agents[0], REFUND)
    assert MessageToken.objects.exists()
    conversation.contact.delete()
    assert not MessageToken.objects.exists()


def test_the_reindex_command_backfills_and_resumes(agents, capsys):
    mine, _ = agents
    _conversation_with(mine, REFUND, "另一条消息")
    rows = MessageToken.objects.count()
    MessageToken.objects.all().delete()
    assert _texts(mine, "退款") == []
    call_command("search_reindex", "--batch-size", "1")
    assert "Indexed 2 messages" in capsys.readouterr().out
    assert MessageToken.objects.count() == rows
    assert _texts(mine, "退款") == [REFUND]
    # Again, or resumed after an id: the same rows, never twice.
    first = Message.objects.order_by("pk").first()
    call_command("search_reindex", "--after-id", str(first.pk), "--no-progress")
    assert "Indexed 1 messages" in capsys.readouterr().out
    assert MessageToken.objects.count() == rows
