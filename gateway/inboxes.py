"""Inbox administration against the platform: checking an inbox's connection and setting Telegram's
webhook (the actions gateway/admin.py adds to the Inbox admin). A platform's refusal is raised as a
ValidationError for the admin to show."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from gateway import selectors
from gateway.base import InboxMisconfigured, SendError
from gateway.platform_http import http_client
from gateway.registry import adapter_for_inbox
from gateway.telegram import TelegramAdapter


def inbox_connection_check(*, inbox_id: int) -> str:
    """Ask the platform whether the inbox's credentials work; returns what the platform says."""
    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if inbox is None or adapter is None:
        raise ValidationError("This inbox has no platform behind it.")
    with http_client() as client:
        try:
            return adapter.check_connection(inbox, client)
        except (SendError, InboxMisconfigured) as exc:
            raise ValidationError(str(exc)) from exc


def telegram_webhook_set(*, inbox_id: int, url: str) -> str:
    """Point a Telegram bot's webhook at this site's URL for the inbox (Telegram only calls HTTPS)."""
    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    adapter = adapter_for_inbox(inbox) if inbox else None
    if not isinstance(adapter, TelegramAdapter):
        raise ValidationError("Only Telegram inboxes have a webhook to set.")
    if not url.startswith("https://"):
        raise ValidationError(f"Telegram only calls HTTPS URLs; this site is served at {url}.")
    with http_client() as client:
        try:
            return adapter.set_webhook(inbox, client, url=url)
        except (SendError, InboxMisconfigured) as exc:
            raise ValidationError(str(exc)) from exc
