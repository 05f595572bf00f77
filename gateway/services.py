"""The gateway's writes, by name, for callers outside the app (the interface's agent API, tests).

Each job lives in a module of its own; this module only re-exports their public names, so
`gateway.services.X` keeps working. Inside the gateway, import from the module that holds the name.

- `inbound.py`: `webhook_receive`, `webhook_nonce_claim`, `inbound_event_store`, `inbound_event_process`
  (a raw event → the switch's `inbound_message_receive`);
- `platform_media.py`: `platform_media_pending`, `platform_media_fetch`, `platform_media_failed`
  (customers' files on a platform);
- `outbox.py`: `outbox_enqueue`, `outbox_enqueue_for_message`, `recipient_for`, `outbox_drain`,
  `outbox_retry`, `outbox_retry_now`;
- `delivery.py`: `delivery_report_apply`, `delivery_status_tell`, `EventNotReady` (delivery status,
  from the platform and to the switch);
- `templates.py`: `inbox_templates`, `template_preview`, `template_send` (WhatsApp's approved templates);
- `inboxes.py`: `inbox_connection_check`, `telegram_webhook_set` (inbox admin actions);
- `platform_http.py`: `http_client` (every platform call, behind the outbound guard).
"""

from __future__ import annotations

from gateway.delivery import EventNotReady, delivery_report_apply, delivery_status_tell
from gateway.inbound import inbound_event_process, inbound_event_store, webhook_nonce_claim, webhook_receive
from gateway.inboxes import inbox_connection_check, telegram_webhook_set
from gateway.outbox import (
    outbox_drain,
    outbox_enqueue,
    outbox_enqueue_for_message,
    outbox_retry,
    outbox_retry_now,
    recipient_for,
)
from gateway.platform_http import http_client
from gateway.platform_media import platform_media_failed, platform_media_fetch, platform_media_pending
from gateway.templates import inbox_templates, template_preview, template_send

__all__ = [
    "EventNotReady",
    "delivery_report_apply",
    "delivery_status_tell",
    "http_client",
    "inbound_event_process",
    "inbound_event_store",
    "inbox_connection_check",
    "inbox_templates",
    "outbox_drain",
    "outbox_enqueue",
    "outbox_enqueue_for_message",
    "outbox_retry",
    "outbox_retry_now",
    "platform_media_failed",
    "platform_media_fetch",
    "platform_media_pending",
    "recipient_for",
    "telegram_webhook_set",
    "template_preview",
    "template_send",
    "webhook_nonce_claim",
    "webhook_receive",
]
