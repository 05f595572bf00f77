"""Notifications: an @mention in an internal note, recorded with the note and sent to the mentioned
person's sockets.

The write path (services/messages.py) asks `mentions_refusal` of each note that names people before it
stores anything, and calls `mentions_record` in the note's transaction: one Notification row per person
(selectors/notifications.py says who may be mentioned; a mention lets them see the conversation,
selectors/visibility.py), and after commit a `notification.new` frame to every socket of theirs. A note
naming someone who may not be mentioned (an unknown or forged id, a deactivated user, anyone without an
agent profile) is refused whole with `invalid`: nothing is stored, nobody is told. The writer's own id is
dropped (no one is notified of their own note). The rows stay until read (`notifications_read_mark`),
so a console that reconnects finds them in `agent.ready`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from imsubsystem import selectors
from imsubsystem.events import group_agent
from imsubsystem.models import Notification, NotificationKind
from imsubsystem.services.drafts import Draft
from imsubsystem.services.publish import event_publish_on_commit
from imsubsystem.services.rows import NewMessage
from imsubsystem.services.state import SwitchError


def mentions_wanted(draft: Draft) -> list[int]:
    """The people a checked draft mentions, its writer left out."""
    return [pk for pk in draft.mentions if pk != draft.sender_user_id]


def mentions_refusal(draft: Draft) -> dict[str, Any] | None:
    """None when everyone the note mentions may be mentioned; else the write path's refusal."""
    wanted = set(mentions_wanted(draft))
    if not wanted:
        return None
    unknown = wanted - selectors.mentionable_user_ids(user_ids=wanted)
    if unknown:
        refusal = SwitchError("invalid", "mentions: someone named cannot be mentioned here.")
        return {"error": refusal.code, "detail": refusal.detail}
    return None


def mentions_record(*, notes: Sequence[tuple[NewMessage, Draft]]) -> None:
    """Inside the write path's transaction: the notifications of stored notes (the write path's new rows,
    `rows.NewMessage`: values, not model instances), and their frames on commit."""
    rows = [
        Notification(
            user_id=user_id,
            kind=NotificationKind.MENTION,
            conversation_id=message.conversation_id,
            message_id=message.pk,
            actor_id=draft.sender_user_id,
            created_at=message.created_at,
        )
        for message, draft in notes
        for user_id in dict.fromkeys(mentions_wanted(draft))
    ]
    if not rows:
        return
    Notification.objects.bulk_create(rows)
    stored = Notification.objects.filter(message_id__in={m.pk for m, _ in notes}, kind=NotificationKind.MENTION)
    stored = stored.select_related("message", "actor", "conversation__contact", "conversation__inbox")
    for notification in stored:
        event_publish_on_commit(
            group=group_agent(notification.user_id),
            frame={"type": "notification.new", "notification": selectors.notification_payload(notification)},
        )


def notifications_read_mark(*, user_id: int, notification_ids: Sequence[Any]) -> int:
    """Mark the user's own notifications read (anyone else's ids change nothing); returns how many."""
    if isinstance(notification_ids, str | bytes | dict) or len(notification_ids) > 500:
        raise SwitchError("invalid", "notification_ids must be a list of at most 500 ids.")
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in notification_ids):
        raise SwitchError("invalid", "notification_ids must be a list of integers.")
    with transaction.atomic():
        marked = Notification.objects.filter(
            user_id=user_id, pk__in=list(notification_ids), read_at__isnull=True
        ).update(read_at=timezone.now())
        if marked:
            event_publish_on_commit(
                group=group_agent(user_id),
                frame={
                    "type": "notification.read",
                    "notification_ids": list(notification_ids),
                    "unread": selectors.notifications_unread_count(user_id=user_id),
                },
            )
    return marked
