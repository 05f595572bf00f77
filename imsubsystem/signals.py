"""Signals the switch sends, so other apps (the gateway's outbox) react without the switch importing them."""

from django.dispatch import Signal

# Sent INSIDE the transaction that stores a message, after its row exists, with plain values:
# message_id, conversation_id, inbox_id, inbox_kind, sender_kind, private. A receiver that writes rows
# (the gateway's outbox) commits or rolls back together with the message. Receivers must not publish
# or call out: the transaction may still roll back.
message_stored = Signal()
