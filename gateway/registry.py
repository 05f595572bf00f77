"""Which adapter serves which webhook path and which inbox."""

from __future__ import annotations

from gateway.api import ApiAdapter
from gateway.base import Adapter, InboxInfo
from gateway.telegram import TelegramAdapter
from gateway.twilio import TwilioAdapter
from gateway.wechat import WeChatAdapter
from gateway.whatsapp import WhatsAppAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.kind: adapter
    for adapter in (WhatsAppAdapter(), TelegramAdapter(), WeChatAdapter(), TwilioAdapter(), ApiAdapter())
}
# Inbox kinds with no platform behind them (the web widget talks to the switch directly).
PLATFORM_INBOX_KINDS = frozenset(kind for adapter in ADAPTERS.values() for kind in adapter.inbox_kinds)


def adapter_for_path(kind: str) -> Adapter | None:
    return ADAPTERS.get(kind)


def adapter_for_inbox(inbox: InboxInfo) -> Adapter | None:
    """The adapter that receives and sends for an inbox: SMS inboxes, and WhatsApp inboxes whose
    config says "provider": "twilio", go through Twilio; every other platform inbox through its own."""
    if inbox.kind == "sms" or (inbox.kind == "whatsapp" and inbox.setting("provider") == "twilio"):
        return ADAPTERS["twilio"]
    return ADAPTERS.get(inbox.kind)
