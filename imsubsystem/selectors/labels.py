"""Labels and close reasons as the console and the API read them (docs/imsubsystem.md, "Labels")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from imsubsystem.models import CloseReason, Conversation, Label


def labels_active() -> list[dict[str, Any]]:
    """The labels agents may set: [{"id", "name", "colour", "description"}], by name."""
    return list(Label.objects.filter(is_active=True).values("id", "name", "colour", "description"))


def close_reasons_active() -> list[dict[str, Any]]:
    """The close reasons agents pick from: [{"code", "name"}], in the admin's order."""
    return list(CloseReason.objects.filter(is_active=True).values("code", "name"))


def labels_of(conversation_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """{conversation id: [{"id", "name", "colour"}, ...]} in one query (conversations without: absent)."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return {}
    rows = (
        Conversation.labels.through.objects.filter(conversation_id__in=ids)
        .order_by("label__name", "label_id")
        .values_list("conversation_id", "label_id", "label__name", "label__colour")
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for conversation_id, label_id, name, colour in rows:
        found.setdefault(conversation_id, []).append({"id": label_id, "name": name, "colour": colour})
    return found
