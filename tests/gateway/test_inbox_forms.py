"""Inboxes set up through the admin's forms alone, as an admin would: the kind first, then its typed fields;
then a real signed webhook on each reaches the switch. Validation, write-only secrets, the history, the
kind that never changes, and the platform buttons against a local stand-in."""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
import telegram
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.test import RequestFactory
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from gateway.base import hmac_hex
from imsubsystem.models import Inbox, Message
from tests.factories import InboxFactory, QueueFactory
from tests.gateway.conftest import Reply
from tests.gateway.test_whatsapp import wa_message, webhook_body

pytestmark = pytest.mark.django_db

ADD = "/admin/imsubsystem/inbox/add/"
TG_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
WA_APP_SECRET = "6f1d0c2e9a8b7c6d5e4f3a2b1c0d9e8f"
WA_ACCESS_TOKEN = "EAAGm0PX4ZCpsBAJZBZCqpfZC8ZBZAsecretaccesstoken"
WX_APP_ID = "wx1234567890abcdef"
WX_APP_SECRET = "0123456789abcdef0123456789abcdef"
WX_TOKEN = "shopToken2026"
WX_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def base_fields(key: str, **extra) -> dict:
    return {"name": f"Inbox {key}", "key": key, "default_queue": QueueFactory().pk, "language": "en",
            "is_active": "on", **extra}  # fmt: skip


def add(client, kind: str, data: dict):
    return client.post(f"{ADD}?kind={kind}", data, secure=True)


def change_url(inbox: Inbox) -> str:
    return f"/admin/imsubsystem/inbox/{inbox.pk}/change/"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def form_errors(response) -> dict[str, list[str]]:
    return {name: list(errors) for name, errors in response.context["adminform"].form.errors.items()}


def test_adding_starts_with_the_platform(admin_client_role):
    page = admin_client_role.get(ADD, secure=True).content.decode()
    for kind in ("web", "telegram", "whatsapp", "wechat", "sms", "api"):
        assert f'href="?kind={kind}"' in page
    form = admin_client_role.get(f"{ADD}?kind=telegram", secure=True).content.decode()
    assert 'name="bot_token"' in form and 'name="config"' not in form and 'name="credentials"' not in form
    assert 'name="kind"' not in form
    assert '<label class="required" for="id_bot_token">' in form
    assert '<label for="id_secret_token">' in form  # made up when left blank
    # Another admin's "add another inbox" popup keeps being a popup.
    popup = admin_client_role.get(f"{ADD}?_to_field=id&_popup=1", secure=True).content.decode()
    assert 'href="?_to_field=id&amp;_popup=1&amp;kind=wechat"' in popup


def test_telegram_inbox_made_in_the_admin_receives_a_webhook(admin_client_role, django_capture_on_commit_callbacks):
    response = add(admin_client_role, "telegram", base_fields("tg-admin", bot_token=TG_TOKEN, secret_token=""))
    assert response.status_code == 302, form_errors(response)
    inbox = Inbox.objects.get(key="tg-admin")
    assert inbox.kind == "telegram"
    secret_token = inbox.credentials["secret_token"]
    assert inbox.credentials["bot_token"] == TG_TOKEN and len(secret_token) >= 32  # made up, left blank

    user = telegram.User(id=777, first_name="Ada", is_bot=False)
    message = telegram.Message(
        message_id=1, date=datetime.now(UTC), chat=telegram.Chat(id=777, type="private"), from_user=user, text="hola"
    )
    body = json.dumps(telegram.Update(update_id=1, message=message).to_dict()).encode()
    url = "/gateway/telegram/tg-admin/"
    refused = admin_client_role.post(
        url, body, content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="x"
    )
    assert refused.status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_role.post(
            url, body, content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=secret_token
        )
    assert response.status_code == 200
    assert Message.objects.filter(conversation__inbox=inbox, text="hola").exists()


def test_whatsapp_inbox_made_in_the_admin_answers_meta_and_receives_a_webhook(
    admin_client_role, django_capture_on_commit_callbacks
):
    data = base_fields(
        "wa-admin",
        provider="cloud",
        phone_number_id="106540352242922",
        access_token=WA_ACCESS_TOKEN,
        app_secret=WA_APP_SECRET,
        verify_token="",
        templates='[{"name": "order_update", "language": "en", "params": 1, "text": "Order {{1}} shipped."}]',
    )
    response = add(admin_client_role, "whatsapp", data)
    assert response.status_code == 302, form_errors(response)
    inbox = Inbox.objects.get(key="wa-admin")
    assert inbox.config["phone_number_id"] == "106540352242922"
    assert inbox.config["templates"][0]["name"] == "order_update"
    verify_token = inbox.credentials["verify_token"]

    # The change page shows the webhook URL and the verify token ready to paste.
    page = admin_client_role.get(change_url(inbox), secure=True).content.decode()
    assert 'value="https://testserver/gateway/whatsapp/wa-admin/"' in page
    assert f'value="{verify_token}"' in page

    handshake = admin_client_role.get(
        "/gateway/whatsapp/wa-admin/",
        {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": "31337"},
    )
    assert handshake.status_code == 200 and handshake.content == b"31337"

    body = webhook_body(messages=[wa_message("text", {"body": "olá"}, ts=str(int(time.time())))])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_role.post(
            "/gateway/whatsapp/wa-admin/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256="sha256=" + hmac_hex(WA_APP_SECRET, body),
        )
    assert response.status_code == 200
    assert Message.objects.filter(conversation__inbox=inbox, text="olá").exists()


def test_wechat_safe_mode_inbox_made_in_the_admin_receives_an_encrypted_message(
    admin_client_role, django_capture_on_commit_callbacks
):
    data = base_fields(
        "wx-admin",
        app_id=WX_APP_ID,
        app_secret=WX_APP_SECRET,
        token=WX_TOKEN,
        encryption="safe",
        encoding_aes_key=WX_AES_KEY,
    )
    response = add(admin_client_role, "wechat", data)
    assert response.status_code == 302, form_errors(response)
    inbox = Inbox.objects.get(key="wx-admin")
    assert inbox.config == {"encryption": "safe"}

    xml = (
        "<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[oUser9]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[你好]]></Content><MsgId>9876543210</MsgId></xml>"
    )
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
    envelope = WeChatCrypto(WX_TOKEN, WX_AES_KEY, WX_APP_ID).encrypt_message(xml, nonce, timestamp)
    encrypt = envelope.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
    msg_signature = envelope.split("<MsgSignature><![CDATA[", 1)[1].split("]]>", 1)[0]
    signer = WeChatSigner()
    signer.add_data(WX_TOKEN, timestamp, nonce)
    query = urlencode(
        {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, "openid": "oUser9",
         "encrypt_type": "aes", "msg_signature": msg_signature}
    )  # fmt: skip
    body = f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_role.post(f"/gateway/wechat/wx-admin/?{query}", body.encode(), content_type="text/xml")
    assert response.status_code == 200
    assert Message.objects.filter(conversation__inbox=inbox, text="你好").exists()


@pytest.mark.parametrize(
    ("kind", "fields", "errors"),
    [
        ("telegram", {"bot_token": ""}, {"bot_token"}),
        ("telegram", {"bot_token": "not a token"}, {"bot_token"}),
        ("telegram", {"bot_token": TG_TOKEN, "secret_token": "has spaces in it"}, {"secret_token"}),
        (
            "whatsapp",
            {"provider": "cloud", "phone_number_id": "phone", "access_token": "", "app_secret": "short"},
            {"phone_number_id", "access_token", "app_secret"},
        ),
        ("whatsapp", {"provider": "twilio", "account_sid": "AC1"}, {"account_sid", "auth_token", "from_number"}),
        (
            "wechat",
            {
                "app_id": "wx123",
                "app_secret": "x",
                "token": "a b",
                "encryption": "safe",
                "encoding_aes_key": "tooShort",
            },
            {"app_id", "app_secret", "token", "encoding_aes_key"},
        ),
        (
            "wechat",
            {"app_id": WX_APP_ID, "app_secret": WX_APP_SECRET, "token": WX_TOKEN, "encryption": "compatible"},
            {"encoding_aes_key"},
        ),
        (
            "sms",
            {"account_sid": "AC" + "0" * 32, "auth_token": "f" * 32, "from_number": "555-0100"},
            {"from_number"},
        ),
        ("sms", {"account_sid": "AC" + "0" * 32, "auth_token": "f" * 32}, {"from_number"}),
        ("api", {"callback_url": "ftp://example.com/", "secret": "short"}, {"callback_url", "secret"}),
        ("web", {"allowed_origins": "https://shop.example/path\nnot an origin"}, {"allowed_origins"}),
        ("whatsapp", {"provider": "cloud", "templates": '{"name": 1}'}, {"templates"}),
    ],
)
def test_missing_and_malformed_fields_are_refused_and_nothing_is_saved(admin_client_role, kind, fields, errors):
    response = add(admin_client_role, kind, base_fields("refused", **fields))
    assert response.status_code == 200
    assert errors <= set(form_errors(response)), form_errors(response)
    assert not Inbox.objects.filter(key="refused").exists()


def test_secrets_are_write_only_kept_when_blank_replaced_when_typed_and_absent_from_the_history(admin_client_role):
    data = base_fields(
        "wx-secrets",
        app_id=WX_APP_ID,
        app_secret=WX_APP_SECRET,
        token=WX_TOKEN,
        encryption="compatible",
        encoding_aes_key=WX_AES_KEY,
    )
    assert add(admin_client_role, "wechat", data).status_code == 302
    inbox = Inbox.objects.get(key="wx-secrets")
    page = admin_client_role.get(change_url(inbox), secure=True).content.decode()
    for secret in (WX_APP_SECRET, WX_TOKEN, WX_AES_KEY):
        assert secret not in page
    assert "stored: leave blank to keep it" in page
    assert f'value="{WX_APP_ID}"' in page  # not a secret: shown

    # Blank secrets keep the stored ones; a rename saves.
    data = {**data, "name": "Renamed", "app_secret": "", "token": "", "encoding_aes_key": ""}
    response = admin_client_role.post(change_url(inbox), data, secure=True)
    assert response.status_code == 302, form_errors(response)
    inbox.refresh_from_db()
    assert inbox.name == "Renamed"
    assert inbox.credentials == {
        "app_id": WX_APP_ID, "app_secret": WX_APP_SECRET, "token": WX_TOKEN, "encoding_aes_key": WX_AES_KEY,
    }  # fmt: skip

    # A typed one replaces it; a form with an error shows none of what was typed.
    new_secret = "fedcba9876543210fedcba9876543210"
    refused = admin_client_role.post(change_url(inbox), {**data, "app_secret": new_secret, "key": ""}, secure=True)
    assert refused.status_code == 200 and new_secret not in refused.content.decode()
    assert admin_client_role.post(change_url(inbox), {**data, "app_secret": new_secret}, secure=True).status_code == 302
    inbox.refresh_from_db()
    assert inbox.credentials["app_secret"] == new_secret and inbox.credentials["token"] == WX_TOKEN

    history = " ".join(str(e.get_change_message()) + e.change_message for e in LogEntry.objects.all())
    assert "AppSecret" in history  # the field is named...
    for secret in (WX_APP_SECRET, new_secret, WX_TOKEN, WX_AES_KEY):
        assert secret not in history  # ...never its value
    history_page = admin_client_role.get(f"/admin/imsubsystem/inbox/{inbox.pk}/history/", secure=True)
    assert new_secret not in history_page.content.decode()


def test_the_kind_of_an_inbox_never_changes(admin_client_role):
    credentials = {"bot_token": TG_TOKEN, "secret_token": "s"}
    inbox = InboxFactory(kind="telegram", key="tg-kind", config={}, credentials=credentials)
    data = base_fields("tg-kind", kind="web", allowed_origins="https://shop.example")
    response = admin_client_role.post(change_url(inbox), data, secure=True)
    assert response.status_code == 302, form_errors(response)
    inbox.refresh_from_db()
    assert inbox.kind == "telegram" and inbox.credentials["bot_token"] == TG_TOKEN
    assert "allowed_origins" not in inbox.config


def test_unmanaged_settings_are_kept(admin_client_role):
    inbox = InboxFactory(kind="web", key="web-keep", config={"allowed_origins": ["https://a.example"], "theme": "dark"})
    data = base_fields("web-keep", allowed_origins="https://b.example/\nhttp://localhost:8000")
    assert admin_client_role.post(change_url(inbox), data, secure=True).status_code == 302
    inbox.refresh_from_db()
    assert inbox.config == {"allowed_origins": ["https://b.example", "http://localhost:8000"], "theme": "dark"}


def test_check_connection_and_register_webhook_buttons(admin_client_role, stand_in):
    inbox = InboxFactory(
        kind="telegram",
        key="tg-buttons",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": TG_TOKEN, "secret_token": "sec-token"},
    )
    page = admin_client_role.get(change_url(inbox), secure=True).content.decode()
    assert TG_TOKEN not in page and "sec-token" not in page
    assert 'value="https://testserver/gateway/telegram/tg-buttons/"' in page
    check = f"/admin/imsubsystem/inbox/{inbox.pk}/check-connection/"
    register = f"/admin/imsubsystem/inbox/{inbox.pk}/telegram-webhook/"
    assert f'action="{check}"' in page and f'action="{register}"' in page

    stand_in.script = [
        Reply(200, {"ok": True, "result": {"id": 7012345678, "username": "shop_bot"}}),
        Reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"}),
        Reply(200, {"ok": True, "result": True}),
    ]
    ok = admin_client_role.post(check, secure=True, follow=True)
    assert ok.status_code == 200 and any("@shop_bot" in m for m in messages_of(ok))
    failed = admin_client_role.post(check, secure=True, follow=True)
    assert failed.status_code == 200 and any("Unauthorized" in m for m in messages_of(failed))
    registered = admin_client_role.post(register, secure=True, follow=True)
    assert any("https://testserver/gateway/telegram/tg-buttons/" in m for m in messages_of(registered))
    assert stand_in.requests[0].path == f"/bot{TG_TOKEN}/getMe"
    assert stand_in.requests[2].json()["secret_token"] == "sec-token"
    assert len(stand_in.requests) == 3
    for response in (ok, failed, registered):
        assert TG_TOKEN not in response.content.decode()

    # A GET calls nothing.
    assert admin_client_role.get(check, secure=True).status_code == 302
    assert len(stand_in.requests) == 3


def test_check_connection_failures_are_messages_never_errors(admin_client_role, stand_in):
    unreachable = InboxFactory(
        kind="sms",
        key="sms-down",
        config={"api_base_url": "http://127.0.0.1:9", "from_number": "+14155550100"},
        credentials={"account_sid": "AC" + "0" * 32, "auth_token": "f" * 32},
    )
    response = admin_client_role.post(
        f"/admin/imsubsystem/inbox/{unreachable.pk}/check-connection/", secure=True, follow=True
    )
    assert response.status_code == 200 and messages_of(response)
    assert all("f" * 32 not in m for m in messages_of(response))

    # WhatsApp's phone number lookup, refused by the platform.
    wa = InboxFactory(
        kind="whatsapp",
        key="wa-check",
        config={"api_base_url": stand_in.url, "phone_number_id": "106540352242922"},
        credentials={"access_token": WA_ACCESS_TOKEN, "app_secret": WA_APP_SECRET, "verify_token": "verify-me"},
    )
    stand_in.script = [
        Reply(200, {"verified_name": "Shop", "display_phone_number": "+1 555-0100"}),
        Reply(400, {"error": {"message": "Invalid OAuth access token.", "code": 190}}),
    ]
    check = f"/admin/imsubsystem/inbox/{wa.pk}/check-connection/"
    assert any("Shop" in m for m in messages_of(admin_client_role.post(check, secure=True, follow=True)))
    failed = admin_client_role.post(check, secure=True, follow=True)
    assert failed.status_code == 200 and any("190" in m or "OAuth" in m for m in messages_of(failed))
    assert stand_in.requests[0].path == "/v21.0/106540352242922"
    assert stand_in.requests[0].headers["Authorization"] == f"Bearer {WA_ACCESS_TOKEN}"


def test_view_only_staff_get_no_secrets_and_no_buttons(client, supervisor, stand_in):
    inbox = InboxFactory(
        kind="telegram",
        key="tg-viewer",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": TG_TOKEN, "secret_token": "sec-token"},
    )
    client.force_login(supervisor)
    page = client.get(change_url(inbox), secure=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert TG_TOKEN not in html and "sec-token" not in html and "check-connection" not in html
    assert client.post(f"/admin/imsubsystem/inbox/{inbox.pk}/check-connection/", secure=True).status_code == 403
    assert client.post(f"/admin/imsubsystem/inbox/{inbox.pk}/telegram-webhook/", secure=True).status_code == 403
    assert client.get(ADD, secure=True).status_code == 403
    assert stand_in.requests == []


def test_check_connection_for_wechat_and_twilio(admin_client_role, stand_in):
    wechat = InboxFactory(
        kind="wechat",
        key="wx-check",
        config={"api_base_url": stand_in.url},
        credentials={"app_id": WX_APP_ID, "app_secret": WX_APP_SECRET, "token": WX_TOKEN},
    )
    sms = InboxFactory(
        kind="sms",
        key="sms-check",
        config={"api_base_url": stand_in.url, "from_number": "+14155550100"},
        credentials={"account_sid": "AC" + "1" * 32, "auth_token": "f" * 32},
    )
    stand_in.script = [
        Reply(200, {"access_token": "ACCESS", "expires_in": 7200}),
        Reply(200, {"errcode": 40125, "errmsg": "invalid appsecret"}),
        Reply(200, {"friendly_name": "Shop", "status": "active"}),
        Reply(401, {"code": 20003, "message": "Authenticate", "status": 401}),
    ]
    wx_check = f"/admin/imsubsystem/inbox/{wechat.pk}/check-connection/"
    sms_check = f"/admin/imsubsystem/inbox/{sms.pk}/check-connection/"
    assert any("access token" in m for m in messages_of(admin_client_role.post(wx_check, secure=True, follow=True)))
    failed = messages_of(admin_client_role.post(wx_check, secure=True, follow=True))
    assert any("40125" in m for m in failed) and all(WX_APP_SECRET not in m for m in failed)
    assert any("Shop" in m for m in messages_of(admin_client_role.post(sms_check, secure=True, follow=True)))
    assert any("20003" in m for m in messages_of(admin_client_role.post(sms_check, secure=True, follow=True)))
    assert stand_in.requests[0].path == "/cgi-bin/token"
    assert stand_in.requests[2].path == f"/2010-04-01/Accounts/AC{'1' * 32}.json"


def test_a_webhook_over_http_and_an_unforeseen_failure_are_messages(admin_client_role, stand_in, monkeypatch):
    inbox = InboxFactory(
        kind="telegram",
        key="tg-http",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": TG_TOKEN, "secret_token": "sec-token"},
    )
    register = f"/admin/imsubsystem/inbox/{inbox.pk}/telegram-webhook/"
    response = admin_client_role.post(register, follow=True)  # the site served over plain HTTP
    assert response.status_code == 200 and any("HTTPS" in m for m in messages_of(response))

    def broken(**kwargs):
        raise RuntimeError("surprise")

    monkeypatch.setattr("gateway.inboxes.inbox_connection_check", broken)
    check = f"/admin/imsubsystem/inbox/{inbox.pk}/check-connection/"
    response = admin_client_role.post(check, secure=True, follow=True)
    assert response.status_code == 200 and any("RuntimeError" in m for m in messages_of(response))
    assert stand_in.requests == []


def test_the_forms_speak_chinese(admin_client_role):
    zh = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
    chooser = admin_client_role.get(ADD, secure=True, **zh).content.decode()
    assert "选择此收件箱连接的平台" in chooser
    response = admin_client_role.post(
        f"{ADD}?kind=wechat", base_fields("wx-zh", app_id="wx1", encryption="safe"), secure=True, **zh
    )
    page = response.content.decode()
    assert "微信公众号" in page and "微信 AppID 为 wx 加 16 个十六进制字符。" in page
    inbox = InboxFactory(kind="telegram", key="tg-zh", config={}, credentials={"bot_token": TG_TOKEN})
    page = admin_client_role.get(change_url(inbox), secure=True, **zh).content.decode()
    assert "连接平台" in page and "机器人令牌" in page and "检查连接" in page


def test_error_reports_mask_the_secrets_typed(admin_user):
    request = RequestFactory().post(f"{ADD}?kind=telegram", base_fields("tg-report", bot_token=TG_TOKEN), secure=True)
    request.user = admin_user
    request.session = {}
    request._messages = type("NoMessages", (), {"add": lambda *a, **k: None})()
    admin.site._registry[Inbox].add_view(request)
    assert {"bot_token", "secret_token", "app_secret", "auth_token", "secret"} <= set(request.sensitive_post_parameters)
    assert "name" not in request.sensitive_post_parameters
