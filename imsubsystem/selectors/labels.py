"""Labels and close reasons as the console and the API read them (docs/imsubsystem.md, "Labels")."""

from __future__ import annotations

import re
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


COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
COLOUR_DEFAULT = "#6b7280"


def label_chips(labels: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Labels ({"id", "name", "colour"}) as a page draws their chips: the colour only when it is "#" and six
    hex digits (else the default), and "ink", the colour of the chip's text: dark on a light chip, white on
    a dark one (the rule of static/agent/console/labels.js's chips)."""
    chips = []
    for label in labels:
        colour = label["colour"] if COLOUR.fullmatch(label.get("colour") or "") else COLOUR_DEFAULT
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        ink = "#111111" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#ffffff"
        chips.append({**label, "colour": colour, "ink": ink})
    return chips
