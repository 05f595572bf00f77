"""The queuing machine's records in MySQL: the truth that the Redis index is rebuilt from."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RoutingPolicy(models.TextChoices):
    LEAST_BUSY = "least_busy", "Least busy (load balancing)"
    ROUND_ROBIN = "round_robin", "Round robin (load rotation)"
    LONGEST_IDLE = "longest_idle", "Longest idle"
    MANUAL = "manual", "Manual pick from the queue"


class Skill(models.Model):
    name = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Queue(models.Model):
    name = models.CharField(max_length=100, unique=True)
    policy = models.CharField(max_length=16, choices=RoutingPolicy.choices, default=RoutingPolicy.LEAST_BUSY)
    skills_required = models.ManyToManyField(Skill, blank=True, related_name="queues")
    service_level_threshold_s = models.PositiveIntegerField(
        default=60, help_text="A conversation answered within this many seconds counts toward the service level."
    )
    max_wait_s = models.PositiveIntegerField(
        null=True, blank=True, help_text="After this many seconds waiting, move to the overflow queue."
    )
    overflow_queue = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    offer_timeout_s = models.PositiveIntegerField(default=30)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


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
        default=3, help_text="Set the agent away after this many offers in a row expire unanswered (0: never)."
    )

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return str(self.user)


class AgentSkill(models.Model):
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="skill_levels")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="agent_levels")
    level = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="routing_agentskill_unique")]

    def __str__(self) -> str:
        return f"{self.agent} · {self.skill} ({self.level})"
