"""Who supervises which queues (teams) and the per-queue alert thresholds and staffing targets.

Routing owns the queues; these rows hang off them one-to-one so routing never learns of supervision.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    supervisors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="supervised_teams")
    queues = models.ManyToManyField("routing.Queue", blank=True, related_name="supervisor_teams")

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


_PERCENT = [MinValueValidator(0), MaxValueValidator(100)]


class QueueAlertThresholds(models.Model):
    """Warning and critical values for one queue's live figures, and its service-level target.

    Empty means "no alert" for that figure. Longest wait alerts when the wait reaches the value; service
    level (last 30 minutes) alerts when it falls to or below the value.
    """

    queue = models.OneToOneField("routing.Queue", on_delete=models.CASCADE, related_name="alert_thresholds")
    longest_wait_warning_s = models.PositiveIntegerField(null=True, blank=True)
    longest_wait_critical_s = models.PositiveIntegerField(null=True, blank=True)
    service_level_warning_pct = models.PositiveSmallIntegerField(null=True, blank=True, validators=_PERCENT)
    service_level_critical_pct = models.PositiveSmallIntegerField(null=True, blank=True, validators=_PERCENT)
    service_level_target_pct = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("Staffing aims for this share answered within the queue's service-level threshold."),
    )
    concurrency = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("Conversations one agent of this queue handles at once, for staffing (Erlang C counts slots)."),
    )

    class Meta:
        verbose_name = _("queue alert thresholds")
        verbose_name_plural = _("queue alert thresholds")

    def __str__(self) -> str:
        return f"Thresholds of {self.queue}"

    def clean(self) -> None:
        errors = {}
        wait_warn, wait_crit = self.longest_wait_warning_s, self.longest_wait_critical_s
        if wait_warn is not None and wait_crit is not None and wait_crit < wait_warn:
            errors["longest_wait_critical_s"] = _("The critical wait must be at least the warning wait.")
        sl_warn, sl_crit = self.service_level_warning_pct, self.service_level_critical_pct
        if sl_warn is not None and sl_crit is not None and sl_crit > sl_warn:
            errors["service_level_critical_pct"] = _("The critical service level must be at most the warning level.")
        if errors:
            raise ValidationError(errors)


class ReplicaHeartbeat(models.Model):
    """One row written on the primary every DATABASE_REPLICA_HEARTBEAT_S by beat (with a replica only);
    the same row read on the replica says how far behind the replica is (supervisor.replica)."""

    beat_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = _("replica heartbeats")
        verbose_name = _("replica heartbeat")

    def __str__(self) -> str:
        return f"Heartbeat at {self.beat_at}"
