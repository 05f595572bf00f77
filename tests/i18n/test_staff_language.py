"""Which language a staff page speaks (docs/i18n.md): the user's saved language, else the browser's
(Accept-Language or the switcher's cookie), else English; the saved timezone for server-rendered dates;
the header's switcher keeps a logged-in user's choice; error sentences in the request's language."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone, translation

from config.login_lockout import lockout_response
from core.errors import ERROR_CODES, DomainError
from core.http import error_response
from crm.models import Contact, Note
from crm.roles import ADMIN
from imsubsystem.events import error_frame
from interface.sockets.base import _lazy_text
from switchboard.models import StaffPreference
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


def _logged_in(user, **headers) -> Client:
    client = Client(**headers)
    client.force_login(user)
    return client


def test_without_a_preference_the_page_speaks_the_browsers_language(agent):
    english = _logged_in(agent).get("/crm/contacts/")
    chinese = _logged_in(agent, **ZH).get("/crm/contacts/")
    assert english["Content-Language"] == "en" and "<h1>Contacts</h1>" in english.content.decode()
    assert chinese["Content-Language"] == "zh-hans" and "<h1>客户</h1>" in chinese.content.decode()
    assert '<html lang="zh-hans">' in chinese.content.decode()


def test_the_saved_language_wins_over_the_browsers(agent):
    StaffPreference.objects.create(user=agent, language="zh-hans")
    page = _logged_in(agent, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/crm/contacts/")
    body = page.content.decode()
    assert page["Content-Language"] == "zh-hans"
    assert "<h1>客户</h1>" in body and "退出登录" in body and "坐席工作台" in body
    StaffPreference.objects.filter(user=agent).update(language="en")
    assert "<h1>Contacts</h1>" in _logged_in(agent, **ZH).get("/crm/contacts/").content.decode()


def test_the_login_page_takes_the_browsers_language():
    page = Client(**ZH).get("/accounts/login/")
    assert page.status_code == 200 and "<h1>登录</h1>" in page.content.decode()


def test_the_switcher_sets_the_cookie_and_keeps_the_choice_of_a_logged_in_user(agent):
    client = _logged_in(agent)
    answer = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/crm/contacts/"})
    assert answer.status_code == 302 and answer["Location"] == "/crm/contacts/"
    assert client.cookies["django_language"].value == "zh-hans"
    assert StaffPreference.objects.get(user=agent).language == "zh-hans"
    # Another browser, English by its headers: the saved choice follows the user.
    assert "<h1>客户</h1>" in _logged_in(agent, HTTP_ACCEPT_LANGUAGE="en").get("/crm/contacts/").content.decode()


def test_the_switcher_refuses_an_unknown_language_and_changes_nothing(agent):
    client = _logged_in(agent)
    client.post("/i18n/setlang/", {"language": "xx-unknown", "next": "/crm/contacts/"})
    assert not StaffPreference.objects.filter(user=agent).exists()
    assert "django_language" not in client.cookies


def test_the_switcher_works_for_an_anonymous_visitor_without_saving():
    client = Client()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"})
    assert client.cookies["django_language"].value == "zh-hans"
    assert "<h1>登录</h1>" in client.get("/accounts/login/").content.decode()
    assert not StaffPreference.objects.exists()


def test_the_account_page_saves_language_and_timezone(agent):
    client = _logged_in(agent)
    saved = client.post("/account/preferences", {"language": "zh-hans", "timezone": "Asia/Shanghai"})
    assert saved.status_code == 302
    preference = StaffPreference.objects.get(user=agent)
    assert (preference.language, preference.timezone) == ("zh-hans", "Asia/Shanghai")
    page = client.get("/account/").content.decode()
    assert "语言和时区" in page and "您的偏好设置已保存。" in page


def test_an_unknown_timezone_or_language_is_refused_and_nothing_is_saved(agent):
    client = _logged_in(agent)
    refused = client.post("/account/preferences", {"language": "zh-hans", "timezone": "Mars/Olympus"})
    assert refused.status_code == 400 and "Mars/Olympus is not a known timezone." in refused.content.decode()
    refused = client.post("/account/preferences", {"language": "klingon", "timezone": ""})
    assert refused.status_code == 400
    assert not StaffPreference.objects.exists()


def test_dates_show_in_the_users_timezone_and_language_format(agent):
    contact = Contact.objects.create(name="Wang Fang")
    Note.objects.create(contact=contact, body="called back")
    Note.objects.filter(contact=contact).update(created_at=dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC))
    english = _logged_in(agent).get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert "2026-03-01 23:30" in english  # the server's zone (UTC) and the English short format
    StaffPreference.objects.create(user=agent, language="zh-hans", timezone="Asia/Shanghai")
    chinese = _logged_in(agent).get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert "2026年3月2日 07:30" in chinese  # UTC+8, next day, Django's zh-Hans format
    assert timezone.get_current_timezone_name() == "UTC"  # deactivated after the request


def test_error_sentences_are_str_in_the_active_language():
    with translation.override("zh-hans"):
        error = DomainError("conversation_closed")
        frame = error_frame("not_found")
    assert type(error.detail) is str and error.detail == "会话已结束。"
    assert (
        json.dumps(error.as_dict(), ensure_ascii=False)
        == '{"error": {"code": "conversation_closed", "detail": "会话已结束。"}}'
    )
    assert type(frame["detail"]) is str and frame["detail"].startswith("会话不存在")
    with translation.override("en"):
        assert DomainError("conversation_closed").detail == "The conversation is closed."


def test_a_refusal_answers_json_in_the_active_language():
    with translation.override("zh-hans"):
        response = error_response(DomainError("forbidden"))
    assert response.status_code == 403
    assert json.loads(response.content) == {"error": {"code": "forbidden", "detail": "此用户无权执行该操作。"}}


def test_a_socket_frame_with_a_lazy_sentence_is_sent_as_its_text():
    with translation.override("zh-hans"):
        encoded = json.dumps({"detail": ERROR_CODES["empty"]}, default=_lazy_text, ensure_ascii=False)
    assert encoded == '{"detail": "消息需要包含文字或附件。"}'
    with pytest.raises(TypeError):
        json.dumps({"when": object()}, default=_lazy_text)


def test_the_lockout_page_speaks_the_browsers_language():
    request = RequestFactory(**ZH).post("/accounts/login/", {"username": "someone"})
    with translation.override("zh-hans"):
        page = lockout_response(request, credentials={"username": "someone"})
    body = page.content.decode()
    assert page.status_code == 429 and "登录已锁定" in body and "<h1>登录</h1>" in body


def test_the_admin_speaks_chinese_labels_help_texts_and_choices(db):
    admin_user = UserFactory(username="root", role=ADMIN, is_staff=True, is_superuser=True)
    StaffPreference.objects.create(user=admin_user, language="zh-hans")
    client = _logged_in(admin_user)
    queue_form = client.get("/admin/routing/queue/add/").content.decode()
    assert "溢出队列" in queue_form and "服务水平阈值" in queue_form  # field labels by name
    assert "等待超过此秒数后转入溢出队列。" in queue_form  # a help text
    assert "最空闲优先" in queue_form  # a choice
    contacts = client.get("/admin/crm/contact/").content.decode()
    assert "将所选客户合并到最早的客户" in contacts  # an action
    webhooks = client.get("/admin/webhooks/webhooksubscription/add/").content.decode()
    assert "目标地址" in webhooks and "事件 POST 到的地址" in webhooks
