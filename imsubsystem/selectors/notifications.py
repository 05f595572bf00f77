"""A staff member's notifications (being @mentioned in an internal note) and who may be mentioned.

Who may be mentioned: an active staff member with an agent profile (routing's AgentProfile), the same
people the console offers as transfer targets. A mention lets them see the conversation (visibility.py),
as a transfer to them would let them hold it; anyone else (an unknown id, a deactivated user, a
customer's or an integrator's account) is refused by the write path before anything is stored
(services/notifications.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model

from imsubsystem.models import Notification
from imsubsystem.selectors.conversations import conversation_summary, user_display_name

NOTIFICATIONS_SHOWN = 50
EXCERPT = 200


def mentionable_users(*, user_ids: Iterable[int] | None = None):
    """Active users with an agent profile (the console's transfer targets), optionally only among
    `user_ids`."""
    users = get_user_model().objects.filter(is_active=True, agent_profile__isnull=False)
    if user_ids is not None:
        users = users.filter(pk__in=list(user_ids))
    return users


def mentionable_user_ids(*, user_ids: Iterable[int]) -> set[int]:
    return set(mentionable_users(user_ids=user_ids).values_list("pk", flat=True))


def notification_payload(notification: Notification) -> dict[str, Any]:
    """A notification as the console shows it (frames.NotificationPayload)."""
    message = notification.message
    text = message.text if len(message.text) <= EXCERPT else message.text[: EXCERPT - 1] + "…"
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "conversation": conversation_summary(notification.conversation),
        "message_id": notification.message_id,
        "seq": message.seq,
        "text": text,
        "by": {"id": notification.actor_id, "name": user_display_name(notification.actor)}
        if notification.actor_id
        else None,
        "created_at": notification.created_at.isoformat(),
        "read": notification.read_at is not None,
    }


def notifications_for(*, user_id: int, unread_only: bool = False, limit: int = NOTIFICATIONS_SHOWN) -> list[dict]:
    """The user's notifications, newest first: what the console's Mentions list shows."""
    rows = Notification.objects.filter(user_id=user_id).select_related(
        "message", "actor", "conversation__contact", "conversation__inbox", "conversation__assignee"
    )
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return [notification_payload(n) for n in rows.order_by("-id")[:limit]]


def notifications_unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()
