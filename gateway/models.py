"""The gateway's own records: raw inbound events (stored once) and the outbox of platform sends.

Both refer to the switch's rows by id only (inbox, conversation, message): the gateway never holds
an ORM object of the switch, and these tables can be read without it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class InboundEventKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    STATUS = "status", _("Delivery status")


class InboundEvent(models.Model):
    """One platform event as received, stored before any processing so a retried webhook is a no-op."""

    inbox_id = models.BigIntegerField()
    # The platform's id for this event: a message id, Telegram's update_id, a status key. Unique per
    # inbox, which is what makes the same webhook delivered twice store one row.
    platform_message_id = models.CharField(max_length=191)
    event_kind = models.CharField(max_length=8, choices=InboundEventKind.choices, default=InboundEventKind.MESSAGE)
    sender_id = models.CharField(max_length=191, blank=True, db_index=True)
    # The platform's own timestamp for the event (not ours), so out-of-order webhooks keep their order.
    sent_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        constraints = [
            models.UniqueConstraint(fields=["inbox_id", "platform_message_id"], name="gateway_inbound_unique_event")
        ]
        indexes = [
            models.Index(fields=["processed_at", "received_at"], name="gateway_inbound_pending"),
            models.Index(fields=["inbox_id", "sender_id", "sent_at"], name="gateway_inbound_window"),
        ]
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_kind} {self.platform_message_id} (inbox {self.inbox_id})"


class OutboxState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboxItem(models.Model):
    """One message to deliver to a platform. Rows of a conversation are sent in id order."""

    message_id = models.BigIntegerField(unique=True)
    conversation_id = models.BigIntegerField()
    inbox_id = models.BigIntegerField()
    # A snapshot of what to send, taken in the message's own transaction, so sending needs no read of
    # the switch's tables and a later edit cannot change what was queued.
    recipient = models.CharField(max_length=191)
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    template = models.JSONField(null=True, blank=True)

    state = models.CharField(max_length=8, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # While state is "sending", the row belongs to one worker until then; afterwards it may be re-sent.
    lease_until = models.DateTimeField(null=True, blank=True)
    platform_message_id = models.CharField(max_length=191, blank=True)
    # Furthest delivery report seen (sent < delivered < read; failed), so late reports never regress it.
    delivery_status = models.CharField(max_length=12, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outbox item")
        verbose_name_plural = _("outbox items")
        indexes = [
            models.Index(fields=["conversation_id", "state", "id"], name="gateway_outbox_conv_state"),
            models.Index(fields=["state", "next_attempt_at"], name="gateway_outbox_due"),
            models.Index(fields=["inbox_id", "platform_message_id"], name="gateway_outbox_platform_id"),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"message {self.message_id} → {self.recipient} ({self.state})"
