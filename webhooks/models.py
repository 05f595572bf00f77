"""Outgoing event webhooks: who is told (WebhookSubscription), what is to be told (WebhookDelivery, the
outbox: one row per event and subscription) and each try (WebhookAttempt). docs/webhooks.md."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    CONVERSATION_CREATED = "conversation.created", "conversation.created"
    CONVERSATION_ASSIGNED = "conversation.assigned", "conversation.assigned"
    CONVERSATION_CLOSED = "conversation.closed", "conversation.closed"
    CONVERSATION_LABELS_CHANGED = "conversation.labels_changed", "conversation.labels_changed"
    MESSAGE_CREATED = "message.created", "message.created"
    CONTACT_CREATED = "contact.created", "contact.created"
    CONTACT_UPDATED = "contact.updated", "contact.updated"
    SURVEY_ANSWERED = "survey.answered", "survey.answered"


# Events about a contact belong to no team: a subscription scoped to a team never receives them.
CONTACT_EVENTS = frozenset({EventType.CONTACT_CREATED.value, EventType.CONTACT_UPDATED.value})


def secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=100)
    target_url = models.URLField(max_length=500, help_text=_("Where events are POSTed (http or https)."))
    secret = models.CharField(
        max_length=100, default=secret_new, help_text=_("Signs every delivery (X-Switchboard-Signature).")
    )
    event_types = models.JSONField(default=list, blank=True, help_text=_("The event types sent to this URL."))
    team = models.ForeignKey(
        "supervisor.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="webhook_subscriptions",
        help_text=_("Only conversations of this team's queues (and of inboxes whose default queue is one of them)."),
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one subscription. Rows of one subscription and `ordering_key` (a conversation, or a
    contact for contact events) go out in id order: a row is not attempted while an earlier one of the
    same subscription and key is pending. A pending row whose `lease_until` lies ahead is being sent."""

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    payload = models.JSONField()
    ordering_key = models.CharField(max_length=40)
    conversation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    retry_until = models.DateTimeField(help_text=_("Retries stop here: the row is failed."))
    lease_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        ordering = ["-id"]
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(fields=["subscription", "ordering_key", "status", "id"], name="webhook_delivery_order"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} to {self.subscription_id}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what came back, or why nothing did."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    response_snippet = models.TextField(blank=True, help_text=_("The start of the receiver's answer."))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"Attempt of delivery {self.delivery_id}: {self.status_code or self.error[:40]}"
