"""What the platform did with an outgoing message, as the gateway reports it: stored on the message and
published to the agents (`message.status`)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from imsubsystem.events import group_conversation
from imsubsystem.models import DeliveryStatus, Message
from imsubsystem.services.publish import event_publish_on_commit
from imsubsystem.services.state import SwitchError


def message_delivery_update(*, message_id: int, status: str, error: str = "", retry_at: datetime | None = None) -> None:
    """The gateway reports what the platform did with an outgoing message (`retrying` with the reason and
    when the next attempt is due); publishes message.status."""
    if status not in DeliveryStatus.values:
        raise SwitchError("invalid", f"Unknown delivery status {status!r}.")
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise SwitchError("not_found", f"No message {message_id}.")
        message.delivery_status = status
        message.delivery_error = error[:2000]
        message.delivery_retry_at = retry_at if status == DeliveryStatus.RETRYING else None
        message.save(update_fields=["delivery_status", "delivery_error", "delivery_retry_at"])
        event_publish_on_commit(
            group=group_conversation(message.conversation_id),
            frame={
                "type": "message.status",
                "conversation_id": message.conversation_id,
                "message_id": message.pk,
                "seq": message.seq,
                "status": status,
                "error": message.delivery_error,
                "retry_at": message.delivery_retry_at.isoformat() if message.delivery_retry_at else None,
            },
            hide_from_customer=True,
        )
