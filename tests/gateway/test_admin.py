"""The gateway's actions on the switch's Inbox admin: webhook URL, connection check, Telegram setWebhook."""

from __future__ import annotations

import pytest
from django.contrib import admin

from imsubsystem.models import Inbox
from tests.factories import InboxFactory
from tests.gateway.conftest import Reply

pytestmark = pytest.mark.django_db


def run_action(client, action: str, inbox: Inbox):
    return client.post(
        "/admin/imsubsystem/inbox/",
        {"action": action, "_selected_action": [inbox.pk]},
        secure=True,
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_actions_are_on_the_inbox_admin():
    names = {getattr(a, "__name__", a) for a in admin.site._registry[Inbox].actions}
    assert {"show_webhook_url", "check_connection", "telegram_set_webhook"} <= names


def test_set_webhook_and_check_connection(admin_client_role, stand_in):
    inbox = InboxFactory(
        kind="telegram",
        key="tg-admin",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "5:T", "secret_token": "sec"},
    )
    stand_in.script = [
        Reply(200, {"ok": True, "result": True}),
        Reply(200, {"ok": True, "result": {"id": 5, "username": "shop_bot"}}),
    ]
    response = run_action(admin_client_role, "telegram_set_webhook", inbox)
    assert any("https://testserver/gateway/telegram/tg-admin/" in m for m in messages_of(response))
    assert stand_in.requests[0].json()["url"] == "https://testserver/gateway/telegram/tg-admin/"
    response = run_action(admin_client_role, "check_connection", inbox)
    assert any("@shop_bot" in m for m in messages_of(response))


def test_webhook_url_and_failed_check_are_reported(admin_client_role, stand_in):
    inbox = InboxFactory(
        kind="sms",
        key="sms-admin",
        config={"api_base_url": stand_in.url},
        credentials={"account_sid": "AC1", "auth_token": "x"},
    )
    stand_in.default = Reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
    assert any(
        "https://testserver/gateway/twilio/sms-admin/" in m
        for m in messages_of(run_action(admin_client_role, "show_webhook_url", inbox))
    )
    assert any("20003" in m for m in messages_of(run_action(admin_client_role, "check_connection", inbox)))
