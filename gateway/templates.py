"""Approved message templates (WhatsApp's, not Django's HTML templates): the ones an admin listed in the
inbox's config, their preview, and the agent's template send, which is allowed outside WhatsApp's
24-hour reply window. docs/gateway.md, "Approved templates".

Refusals raise the switch's `SwitchError` (a `core.errors.DomainError`), like the switch's own
message_send, so the console's API answers them with the same `{"error": {"code", "detail"}}` and
status as any refused send.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from gateway import selectors
from gateway.models import OutboxItem, OutboxState
from imsubsystem import selectors as switch_selectors
from imsubsystem.models import Conversation
from imsubsystem.services import SwitchError, message_send

TEMPLATE_INBOX_KINDS = frozenset({"whatsapp"})
TEMPLATE_PARAM_MAX = 1024
PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


def inbox_templates(*, inbox_id: int) -> list[dict[str, Any]]:
    """The approved templates an admin listed in the inbox's config (`config["templates"]`), cleaned:
    entries without a name or language, or with a malformed param count, are left out. Empty for inboxes
    whose platform has no templates."""
    inbox = selectors.inbox_info_get(inbox_id=inbox_id)
    if inbox is None or inbox.kind not in TEMPLATE_INBOX_KINDS:
        return []
    listed = inbox.config.get("templates")
    templates = []
    for entry in listed if isinstance(listed, list) else []:
        if not isinstance(entry, dict):
            continue
        name, language, params = entry.get("name"), entry.get("language"), entry.get("params", 0)
        if not (isinstance(name, str) and name and isinstance(language, str) and language):
            continue
        if not isinstance(params, int) or isinstance(params, bool) or params < 0:
            continue
        text = entry.get("text")
        templates.append(
            {"name": name, "language": language, "params": params, "text": text if isinstance(text, str) else ""}
        )
    return templates


def template_preview(*, text: str, params: list[str] | tuple[str, ...]) -> str:
    """The template's text with {{n}} replaced by the n-th param, in one pass (a param that itself holds
    "{{2}}" stays as written). Placeholders without a param are left as they are."""

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return params[index - 1] if 1 <= index <= len(params) else match.group(0)

    return PLACEHOLDER.sub(fill, text)


def _template_params(params: Any, expected: int) -> list[str]:
    if not isinstance(params, list | tuple) or not all(isinstance(p, str) for p in params):
        raise SwitchError("invalid", "The template's parameters must be a list of strings.")
    if len(params) != expected:
        raise SwitchError("invalid", f"This template takes {expected} parameter(s); {len(params)} given.")
    cleaned = [p.strip() for p in params]
    for number, value in enumerate(cleaned, start=1):
        if not value:
            raise SwitchError("invalid", f"Parameter {number} is empty.")
        if len(value) > TEMPLATE_PARAM_MAX:
            raise SwitchError("too_long", f"Parameter {number} is longer than {TEMPLATE_PARAM_MAX} characters.")
        # WhatsApp refuses template parameters with line breaks, tabs or more than four spaces in a row.
        if "\n" in value or "\r" in value or "\t" in value or "     " in value:
            raise SwitchError("invalid", f"Parameter {number} may not hold line breaks, tabs or long runs of spaces.")
    return cleaned


def template_send(
    *,
    conversation_id: int,
    agent_id: int,
    name: str,
    language: str,
    params: list[str] | tuple[str, ...],
    client_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Send one of the inbox's approved templates as the agent's message: the conversation shows the
    filled-in preview, and the outbox row carries the template so the platform gets the template request
    (allowed outside WhatsApp's 24-hour window). Only a user who may see the conversation may send one
    (imsubsystem.selectors.conversation_visible_to).

    Message and outbox row are written in one transaction; any refusal raises SwitchError (a
    core.errors.DomainError) and stores nothing. Returns (message payload, created) like message_send,
    idempotent on client_id."""
    conversation = Conversation.objects.select_related("inbox").filter(pk=conversation_id).first()
    agent = get_user_model().objects.filter(pk=agent_id, is_active=True).first()
    if conversation is None or agent is None:
        raise SwitchError("not_found", "No such conversation, or it is not yours.")
    if not switch_selectors.conversation_visible_to(user=agent, conversation=conversation, acting=True):
        raise SwitchError("not_found", "No such conversation, or it is not yours.")
    if conversation.inbox.kind not in TEMPLATE_INBOX_KINDS:
        raise SwitchError("invalid", "Templates are only sent on WhatsApp conversations.")
    text, platform_template = template_prepare(
        inbox_id=conversation.inbox_id, name=name, language=language, params=params
    )

    with transaction.atomic():
        payload, created = message_send(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user_id=agent.pk,
            text=text,
            client_id=client_id,
        )
        if not created:
            return payload, False
        template_attach(message_id=payload["id"], template=platform_template)
    return payload, True


def template_prepare(*, inbox_id: int, name: Any, language: Any, params: Any) -> tuple[str, dict[str, Any]]:
    """One of the inbox's approved templates, its params checked: (the filled-in preview the conversation
    shows, the platform's template request). Refusals raise SwitchError (`invalid`, `too_long`)."""
    template = next(
        (t for t in inbox_templates(inbox_id=inbox_id) if t["name"] == name and t["language"] == language),
        None,
    )
    if template is None:
        raise SwitchError("invalid", f"This inbox has no approved template {name!r} in {language!r}.")
    values = _template_params(params, template["params"])
    text = template_preview(text=template["text"], params=values) or f"[Template {name} ({language})]"
    platform_template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if values:
        platform_template["components"] = [
            {"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}
        ]
    return text, platform_template


def template_attach(*, message_id: int, template: dict[str, Any]) -> None:
    """Inside the message's transaction: its outbox row goes out as this template request.

    The message_stored receiver wrote the row a moment ago, in this same transaction; the drain it
    queued runs after commit, so it only ever sees the row with its template."""
    updated = OutboxItem.objects.filter(message_id=message_id, state=OutboxState.PENDING).update(template=template)
    if not updated:
        raise SwitchError("invalid", "This conversation's inbox has no platform to send the template to.")
