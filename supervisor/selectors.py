"""Reads of the supervisor app: who may watch what (scope), and the conversations a supervisor opens.

Scope: an admin (superuser or the Admin role) sees every queue; a supervisor (the `imsubsystem.supervise`
permission) sees the queues of the teams they supervise, and the agents who serve those queues; anyone
else sees nothing. Every view, socket and action goes through these functions.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from imsubsystem import selectors as switch_selectors
from imsubsystem.models import Conversation
from routing.models import AgentProfile, Queue
from supervisor.models import Team


def user_is_admin(user) -> bool:
    return switch_selectors.user_is_admin(user)


def user_may_supervise(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    return user_is_admin(user) or user.has_perm("imsubsystem.supervise")


def queue_ids_visible(*, user) -> frozenset[int]:
    """Ids of the queues this user may watch and act on (empty for non-supervisors)."""
    if not user_may_supervise(user):
        return frozenset()
    if user_is_admin(user):
        return frozenset(Queue.objects.values_list("pk", flat=True))
    return frozenset(Queue.objects.filter(supervisor_teams__supervisors=user).values_list("pk", flat=True).distinct())


def agent_ids_visible(*, user, queue_ids: frozenset[int] | None = None) -> frozenset[int]:
    """User ids of the agents serving at least one visible queue (an admin sees every agent)."""
    if not user_may_supervise(user):
        return frozenset()
    if user_is_admin(user):
        return frozenset(AgentProfile.objects.values_list("user_id", flat=True))
    queue_ids = queue_ids if queue_ids is not None else queue_ids_visible(user=user)
    return frozenset(AgentProfile.objects.filter(queues__in=queue_ids).values_list("user_id", flat=True).distinct())


def teams_visible(*, user):
    """The teams this user may see: every team for an admin, the teams they supervise for a supervisor,
    none for anyone else."""
    if not user_may_supervise(user):
        return Team.objects.none()
    if user_is_admin(user):
        return Team.objects.all()
    return Team.objects.filter(supervisors=user)


def queues_visible(*, user) -> list[dict[str, Any]]:
    ids = queue_ids_visible(user=user)
    return [
        {"id": q.pk, "name": q.name, "is_active": q.is_active}
        for q in Queue.objects.filter(pk__in=ids).order_by("name")
    ]


def agents_visible(*, user) -> list[dict[str, Any]]:
    ids = agent_ids_visible(user=user)
    profiles = AgentProfile.objects.filter(user_id__in=ids).select_related("user").order_by("user__username")
    return [{"id": p.user_id, "name": switch_selectors.user_display_name(p.user)} for p in profiles]


def supervision_scope(user) -> tuple[frozenset[int], frozenset[int]]:
    """(queue ids, agent user ids) of the teams `user` (a user or its id) supervises: what the switch's one
    visibility rule (imsubsystem.selectors.conversation_visible_to) lets a supervisor see; the answer to
    the switch's `supervision_scope` hook (supervisor/receivers.py)."""
    queue_ids = frozenset(
        Queue.objects.filter(supervisor_teams__supervisors=user).values_list("pk", flat=True).distinct()
    )
    agent_ids = frozenset(
        AgentProfile.objects.filter(queues__in=queue_ids).values_list("user_id", flat=True).distinct()
    )
    return queue_ids, agent_ids


def conversation_visible(*, user, conversation_id: int) -> Conversation | None:
    """The conversation if this supervisor may see it (the switch's one rule: their teams' queues, or
    without a queue one assigned to an agent they supervise; admins every conversation), else None."""
    if not user_may_supervise(user):
        return None
    return switch_selectors.conversation_visible_get(user=user, conversation_id=conversation_id)


def conversation_read_only(*, user, conversation_id: int) -> dict[str, Any] | None:
    """A visible conversation and its whole history, internal notes included, as plain dicts."""
    conversation = conversation_visible(user=user, conversation_id=conversation_id)
    if conversation is None:
        return None
    return {
        "conversation": {
            **switch_selectors.conversation_summary(conversation),
            "queue": conversation.queue.name if conversation.queue else None,
            "assignee": switch_selectors.user_display_name(conversation.assignee) if conversation.assignee else None,
            "inbox": conversation.inbox.name,
        },
        "messages": switch_selectors.messages_after(conversation_id=conversation.pk, after_seq=0, include_private=True),
    }


def conversation_transcript(*, user, conversation_id: int) -> dict[str, Any] | None:
    """A visible conversation's whole transcript as a thread (the switch's conversation_transcript: messages,
    notes, files and the conversation's events), else None."""
    if not user_may_supervise(user):
        return None
    return switch_selectors.conversation_transcript(user=user, conversation_id=conversation_id)


OPEN_IN_SCOPE_STATUSES = ("bot", "queued", "offered", "assigned")


def conversations_open_in_scope(
    *, user, queue_id: int | None = None, status: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Open conversations (with the bot, waiting or assigned) of the visible queues, longest customer's
    wait first (with the bot: oldest first); each with `wait_s` (switch_selectors.customer_wait_s) and
    `waiting_since`. A conversation with the bot belongs to the queue it goes to when the bot hands over;
    one without a queue is listed for admins only. `status` keeps one of them."""
    queue_ids = queue_ids_visible(user=user)
    if queue_id is not None:
        queue_ids = queue_ids & {queue_id}
    statuses = OPEN_IN_SCOPE_STATUSES if status is None else tuple({status} & set(OPEN_IN_SCOPE_STATUSES))
    scope = Q(queue_id__in=queue_ids)
    if user_is_admin(user) and queue_id is None:
        scope |= Q(queue__isnull=True, status="bot")
    rows = (
        Conversation.objects.filter(scope, status__in=statuses)
        .select_related("contact", "queue", "assignee", "inbox")
        .order_by(F("waiting_since").asc(nulls_last=True), "created_at", "id")[:limit]
    )
    now = timezone.now()
    return [
        {
            "id": c.pk,
            "status": c.status,
            "inbox_id": c.inbox_id,
            "inbox": c.inbox.name,
            "created_at": c.created_at.isoformat(),
            "contact": c.contact.display_name,
            "queue_id": c.queue_id,
            "queue": c.queue.name if c.queue else None,
            "assignee_id": c.assignee_id,
            "assignee": switch_selectors.user_display_name(c.assignee) if c.assignee else None,
            "queued_at": c.queued_at.isoformat() if c.queued_at else None,
            **switch_selectors.wait_fields(c, now=now),
        }
        for c in rows
    ]
