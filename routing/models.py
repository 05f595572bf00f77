"""The queuing machine's records in MySQL: the truth that the Redis index is rebuilt from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RoutingPolicy(models.TextChoices):
    LEAST_BUSY = "least_busy", _("Least busy (load balancing)")
    ROUND_ROBIN = "round_robin", _("Round robin (load rotation)")
    LONGEST_IDLE = "longest_idle", _("Longest idle")
    MANUAL = "manual", _("Manual pick from the queue")


class Skill(models.Model):
    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Queue(models.Model):
    name = models.CharField(max_length=100, unique=True)
    policy = models.CharField(max_length=16, choices=RoutingPolicy.choices, default=RoutingPolicy.LEAST_BUSY)
    skills_required = models.ManyToManyField(Skill, blank=True, related_name="queues")
    service_level_threshold_s = models.PositiveIntegerField(
        default=60, help_text=_("A conversation answered within this many seconds counts toward the service level.")
    )
    max_wait_s = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("After this many seconds waiting, move to the overflow queue.")
    )
    overflow_queue = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    offer_timeout_s = models.PositiveIntegerField(default=30)
    sticky_window_s = models.PositiveIntegerField(
        default=20,
        help_text=_(
            "A returning customer's conversation waits this long for their previous agent before any agent"
            " may take it (0: offer to the previous agent only when free at once)."
        ),
    )
    # The bots app owns business hours; routing keeps only the id so it never imports bots.
    business_hours_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text=_("Id of the business-hours schedule (bots) this queue follows.")
    )
    snoozed_count_toward_capacity = models.BooleanField(
        _("snoozed conversations count toward capacity"),
        default=True,
        help_text=_(
            "On: a snoozed conversation stays with its agent and takes one of their places. Off: its place is"
            " freed while it sleeps, and it comes back through the queue, its agent preferred."
        ),
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


# Routing's status of an agent who chose a status but has no live console: never offered work, shown
# as disconnected on the dashboards. Not a status anyone chooses, so not an AgentStatus choice.
DISCONNECTED = "disconnected"


class AgentProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    queues = models.ManyToManyField(Queue, blank=True, related_name="agents")
    status = models.CharField(max_length=16, choices=AgentStatus.choices, default=AgentStatus.OFFLINE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # Concurrent conversations an agent may hold, per channel kind ({"web": 3, "whatsapp": 2}); kinds not
    # named use default_capacity.
    capacity = models.JSONField(default=dict, blank=True)
    default_capacity = models.PositiveSmallIntegerField(default=3)
    auto_away_after_missed = models.PositiveSmallIntegerField(
        default=3, help_text=_("Set the agent away after this many offers in a row expire unanswered (0: never).")
    )
    missed_offers = models.PositiveSmallIntegerField(default=0, editable=False)
    # Whether the agent has a live console (docs/routing.md, "Presence follows the console"). `status`
    # is what the agent chose; routing offers only to agents that chose available AND are connected.
    # Off once the grace after their last console passed; on again when a console connects.
    connected = models.BooleanField(default=True, editable=False)
    connected_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")
        ordering = ["user__username"]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def routing_status(self) -> str:
        """The status routing decides by: the chosen one, or `disconnected` without a console."""
        return self.status if self.connected else DISCONNECTED


class AgentSkill(models.Model):
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="skill_levels")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="agent_levels")
    level = models.PositiveSmallIntegerField(default=1)

    class Meta:
        verbose_name = _("agent skill")
        verbose_name_plural = _("agent skills")
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="routing_agentskill_unique")]

    def __str__(self) -> str:
        return f"{self.agent} · {self.skill} ({self.level})"


class WorkStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    OFFERED = "offered", _("Offered")
    ASSIGNED = "assigned", _("Assigned")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_WORK_STATUSES = (WorkStatus.WAITING, WorkStatus.OFFERED, WorkStatus.ASSIGNED)


class WorkItem(models.Model):
    """One conversation waiting for, offered to or held by an agent. `ref` is the conversation id."""

    ref = models.BigIntegerField(unique=True)
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="work_items")
    channel_kind = models.CharField(max_length=16)
    priority = models.SmallIntegerField(default=0)
    skills = models.JSONField(default=list, blank=True)
    preferred_agent_id = models.BigIntegerField(null=True, blank=True)
    # The place in the queue: a re-queued item keeps its first enqueued_at, so it never goes to the back.
    enqueued_at = models.DateTimeField()
    # When the item entered its current queue: the overflow clock.
    queued_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=WorkStatus.choices, default=WorkStatus.WAITING)
    agent_id = models.BigIntegerField(null=True, blank=True)
    offer_id = models.CharField(max_length=64, blank=True)
    policy = models.CharField(max_length=16, blank=True)
    assigned_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=32, blank=True)
    # The backend's decision number of the last change written here. Processes write their decisions
    # to MySQL in any order; a row only moves forward.
    seq = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("work item")
        verbose_name_plural = _("work items")
        indexes = [
            models.Index(fields=["queue", "status", "priority", "enqueued_at"], name="routing_work_queue_idx"),
            models.Index(fields=["agent_id", "status"], name="routing_work_agent_idx"),
        ]

    def __str__(self) -> str:
        return f"work {self.ref} ({self.status})"


class OfferStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class Offer(models.Model):
    id = models.CharField(max_length=64, primary_key=True)
    ref = models.BigIntegerField(db_index=True)
    queue_id = models.BigIntegerField()
    agent_id = models.BigIntegerField(db_index=True)
    policy = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    seq = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        ordering = ["-created_at"]
        # Open offers (the rebuild, /metrics) and today's expired ones (the supervisor's missed offers)
        # without reading the offers of the whole history.
        indexes = [models.Index(fields=["status", "created_at"], name="routing_offer_status_created")]

    def __str__(self) -> str:
        return f"offer {self.id} of {self.ref} to {self.agent_id} ({self.status})"


class AssignmentEvent(models.Model):
    """The assignment ledger: every decision of the queuing machine, in the backend's order (seq)."""

    class Kind(models.TextChoices):
        QUEUED = "queued", _("Queued")
        OFFERED = "offered", _("Offer made")
        ACCEPTED = "accepted", _("Offer accepted")
        REJECTED = "rejected", _("Offer rejected")
        EXPIRED = "expired", _("Offer expired")
        OFFER_CANCELLED = "offer_cancelled", _("Offer cancelled")
        ASSIGNED = "assigned", _("Assigned")
        RELEASED = "released", _("Released (completed or moved)")
        REMOVED = "removed", _("Left the queue")
        OVERFLOWED = "overflowed", _("Overflowed")
        AGENT_STATUS = "agent_status", _("Agent status")

    seq = models.BigIntegerField(db_index=True)
    at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    ref = models.BigIntegerField(null=True, blank=True, db_index=True)
    queue_id = models.BigIntegerField(null=True, blank=True)
    agent_id = models.BigIntegerField(null=True, blank=True)
    offer_id = models.CharField(max_length=64, blank=True)
    policy = models.CharField(max_length=16, blank=True)
    detail = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("assignment event")
        verbose_name_plural = _("assignment events")
        ordering = ["seq", "id"]
        # Today's assignments per agent and hour (the supervisor's fairness figures) read today's rows only.
        indexes = [models.Index(fields=["kind", "at"], name="routing_ledger_kind_at")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind} ref={self.ref} agent={self.agent_id}"
