"""Signals the switch sends, so other apps (the gateway's outbox) react without the switch importing them."""

from django.dispatch import Signal

# Sent INSIDE the transaction that stores a message, after its row exists, with plain values:
# message_id, conversation_id, inbox_id, inbox_kind, sender_kind, private. A receiver that writes rows
# (the gateway's outbox) commits or rolls back together with the message. Receivers must not publish
# or call out: the transaction may still roll back.
message_stored = Signal()


def on_contact_merging(*, source, target, **kwargs) -> dict[str, int]:
    """crm.signals.contact_merging receiver: the source contact's conversations follow it into the target."""
    from imsubsystem.services import conversations_move_contact

    return conversations_move_contact(source_id=source.pk, target_id=target.pk)
