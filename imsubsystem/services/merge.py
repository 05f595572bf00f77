"""What a contact merge does to the switch's records (imsubsystem/crm_hooks.py calls it from crm's
merge hook), and revoking widget sessions."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone

from imsubsystem.events import error_frame, group_widget_session
from imsubsystem.models import OPEN_STATUSES, Conversation, WidgetSession
from imsubsystem.services.conversations import conversation_close
from imsubsystem.services.publish import event_publish_on_commit
from imsubsystem.services.state import open_slot


# --- Widget sessions ----------------------------------------------------------------------------------------
def widget_sessions_revoke(
    *, session_ids: Sequence[int] | None = None, contact_ids: Sequence[int] | None = None, reason: str = "revoked"
) -> int:
    """Revoke widget sessions (by id, or every session of some contacts): their tokens are refused on
    HTTP and socket from now on, and once the transaction commits each open socket of theirs gets
    `error auth_failed` (reason "revoked") and is closed with 4401, so the widget starts a new session.
    Returns how many were revoked."""
    if session_ids is None and contact_ids is None:
        raise TypeError("Give session_ids or contact_ids.")
    sessions = WidgetSession.objects.filter(revoked_at__isnull=True)
    if session_ids is not None:
        sessions = sessions.filter(pk__in=list(session_ids))
    if contact_ids is not None:
        sessions = sessions.filter(contact_id__in=list(contact_ids))
    ids = list(sessions.values_list("pk", flat=True))
    if not ids:
        return 0
    WidgetSession.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
    frame = error_frame("auth_failed", reason=reason)
    for session_id in ids:
        event_publish_on_commit(group=group_widget_session(session_id), frame=frame)
    return len(ids)


# --- CRM ----------------------------------------------------------------------------------------------------
def conversations_move_contact(*, source_id: int, target_id: int) -> dict[str, int]:
    """Contact merge: the source's conversations move to the target. Where both have an open
    conversation in the same inbox, the source's one is closed (one open per inbox).

    Widget sessions never follow a merge: the sessions of both contacts are revoked (their sockets
    closed). A merge joins two people's histories on a supervisor's judgement, often on an e-mail address
    a visitor typed; no visitor's session may read the other person's conversations because of it. The
    widget starts a new session on its own."""
    closed = 0
    for conversation in Conversation.objects.filter(contact_id=source_id, status__in=OPEN_STATUSES):
        target_slot = open_slot(conversation.inbox_id, target_id)
        if Conversation.objects.filter(open_slot=target_slot).exists():
            conversation_close(conversation_id=conversation.pk, wrap_up="Closed by a contact merge.")
            closed += 1
        else:
            Conversation.objects.filter(pk=conversation.pk).update(open_slot=target_slot)
    revoked = widget_sessions_revoke(contact_ids=[source_id, target_id], reason="revoked")
    moved = Conversation.objects.filter(contact_id=source_id).update(contact_id=target_id)
    # The revoked sessions stay on record with the contact that remains (the source is deleted).
    WidgetSession.objects.filter(contact_id=source_id).update(contact_id=target_id)
    return {"conversations": moved, "conversations_closed": closed, "widget_sessions_revoked": revoked}
