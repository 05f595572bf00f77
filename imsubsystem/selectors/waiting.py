"""The customer's wait and place in line (docs/supervisor.md): every surface reads them from here.

`customer_wait_s` / `wait_fields` for one conversation, `queue_live` for every queue at once (waiting,
longest wait, active), and `queue_info` / `queue_infos`, the place and expected wait routing gives.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from imsubsystem.models import WAITING_STATUSES, Conversation, ConversationStatus
from routing.services import queue_position, queue_positions

logger = logging.getLogger(__name__)


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def _wait_seconds(since, now) -> int:
    return max(0, int((now - since).total_seconds()))


def customer_wait_s(conversation: Conversation, *, now=None) -> int | None:
    """How long the customer has waited for a person, from the hand-over until an agent took the
    conversation, across offers, overflow and transfers (a transfer's leg adds to the total). While the
    conversation waits it counts up; once an agent holds it, it is the total at that moment. None for a
    conversation never handed over."""
    if conversation.status in WAITING_STATUSES and conversation.waiting_since is not None:
        return _wait_seconds(conversation.waiting_since, now or timezone.now())
    if conversation.waited is not None:
        return int(conversation.waited.total_seconds())
    return None


def wait_fields(conversation: Conversation, *, now=None) -> dict[str, Any]:
    """`waiting_since` (the instant the customer's total wait counts from, ISO 8601; None unless waiting)
    and `wait_s`, for payloads."""
    waiting = conversation.status in WAITING_STATUSES
    return {
        "waiting_since": _iso(conversation.waiting_since) if waiting else None,
        "wait_s": customer_wait_s(conversation, now=now),
    }


def queue_live(*, now=None) -> dict[int, dict[str, int]]:
    """Per queue, now: `waiting` (queued or offered), `longest_wait_s` (the longest customer's wait among
    them) and `active` (assigned), from one grouped query on the (queue, status) index."""
    now = now or timezone.now()
    rows = (
        Conversation.objects.filter(status__in=(*WAITING_STATUSES, ConversationStatus.ASSIGNED), queue__isnull=False)
        .values("queue_id")
        .annotate(
            waiting=Count("pk", filter=Q(status__in=WAITING_STATUSES)),
            oldest=Min("waiting_since", filter=Q(status__in=WAITING_STATUSES)),
            active=Count("pk", filter=Q(status=ConversationStatus.ASSIGNED)),
        )
    )
    return {
        row["queue_id"]: {
            "waiting": row["waiting"],
            "longest_wait_s": _wait_seconds(row["oldest"], now) if row["oldest"] else 0,
            "active": row["active"],
        }
        for row in rows
    }


def queue_info(conversation_id: int, *, waited_s: int | None = None) -> dict[str, Any] | None:
    """{"position", "eta_s", "waited_s"?} of a waiting conversation, from routing; None when it is not
    waiting. `waited_s`, when given, is the customer's wait so far (customer_wait_s)."""
    try:
        found = queue_position(ref=conversation_id)
    except Exception:
        logger.exception("Queue position of %s unavailable", conversation_id)
        return None
    if not found:
        return None
    position, eta = found
    info: dict[str, Any] = {"position": int(position), "eta_s": int(eta) if eta is not None else None}
    if waited_s is not None:
        info["waited_s"] = waited_s
    return info


def queue_infos(queue_id: int) -> dict[int, dict[str, Any]]:
    """{conversation id: {"position", "eta_s"}} of every conversation waiting in a routing queue, from one
    routing read (what queue_info gives for each); empty when routing cannot say."""
    try:
        found = queue_positions(queue_id=queue_id)
    except Exception:
        logger.exception("Queue positions of queue %s unavailable", queue_id)
        return {}
    return {
        ref: {"position": int(position), "eta_s": int(eta) if eta is not None else None}
        for ref, (position, eta) in found.items()
    }
