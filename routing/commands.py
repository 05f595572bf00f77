"""The decisions the switch, the supervisor and the bots ask of routing, all keyword-only: queue a
conversation, let it go (completed, cancelled), transfer it, an agent picking one, answering an offer, and
an agent's chosen presence.

Each one is made by the backend (atomic across processes), then written to MySQL (ledger.py) in the
caller's transaction; the hook events leave once that transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from routing.backends import channel_kinds
from routing.backends.base import PRIORITY_LIMIT, Event
from routing.exceptions import RoutingError
from routing.ledger import persist
from routing.models import ACTIVE_WORK_STATUSES, AgentProfile, AgentStatus, Queue, WorkItem, WorkStatus
from routing.rebuild import on_backend
from routing.sync import agent_sync, with_agent, with_queue
from routing.terms import to_ms

MAX_SKILLS = 20


def _check_skills(skills: Sequence[str]) -> list[str]:
    if isinstance(skills, str) or not all(isinstance(s, str) and s for s in skills):
        raise RoutingError("bad_request", "skills must be a list of skill names.")
    if len(skills) > MAX_SKILLS:
        raise RoutingError("bad_request", f"At most {MAX_SKILLS} skills.")
    return sorted(set(skills))


def work_enqueue(
    *,
    ref: int,
    queue_id: int,
    channel_kind: str,
    priority: int = 0,
    skills: Sequence[str] = (),
    preferred_agent_id: int | None = None,
    enqueued_at: datetime | None = None,
) -> None:
    """Put a conversation in a queue and offer it at once if an agent can take it. Idempotent on ref."""
    if channel_kind not in channel_kinds():
        raise RoutingError("bad_request", f"Unknown channel kind {channel_kind!r}.")
    if not isinstance(priority, int) or not -PRIORITY_LIMIT <= priority <= PRIORITY_LIMIT:
        raise RoutingError("bad_request", f"priority must be an integer from {-PRIORITY_LIMIT} to {PRIORITY_LIMIT}.")
    skills = _check_skills(skills)
    queue = Queue.objects.filter(pk=queue_id, is_active=True).first()
    if queue is None:
        raise RoutingError("unknown_queue", f"There is no active queue {queue_id}.")
    now = timezone.now()
    enqueued_at = enqueued_at or now
    with transaction.atomic():
        item = WorkItem.objects.select_for_update().filter(ref=ref).first()
        if item is not None and item.status in ACTIVE_WORK_STATUSES:
            return
        fields = {
            "queue": queue,
            "channel_kind": channel_kind,
            "priority": priority,
            "skills": skills,
            "preferred_agent_id": preferred_agent_id,
            "enqueued_at": enqueued_at,
            "queued_at": now,
            "status": WorkStatus.WAITING,
            "agent_id": None,
            "offer_id": "",
            "policy": "",
            "assigned_at": None,
            "closed_at": None,
            "close_reason": "",
        }
        if item is None:
            WorkItem.objects.create(ref=ref, **fields)
        else:
            WorkItem.objects.filter(pk=item.pk).update(**fields)
    events = with_queue(
        queue.pk,
        lambda: on_backend(
            lambda backend: backend.work_enqueue(
                ref=ref,
                queue_id=queue.pk,
                kind=channel_kind,
                priority=priority,
                skills=skills,
                preferred_agent_id=preferred_agent_id or 0,
                enqueued_ms=to_ms(enqueued_at),
                now_ms=to_ms(now),
            )
        ),
    )
    persist(events)


def _work_release(ref: int, reason: str, final: str) -> None:
    now = timezone.now()
    persist(on_backend(lambda backend: backend.work_release(ref=ref, reason=reason, now_ms=to_ms(now))))
    # Whatever the backend knew, MySQL ends with the item closed.
    WorkItem.objects.filter(ref=ref, status__in=ACTIVE_WORK_STATUSES).update(
        status=final, closed_at=now, close_reason=reason[:32]
    )


def work_cancel(*, ref: int, reason: str = "abandoned") -> None:
    """The customer left or the conversation closed before an agent took it."""
    _work_release(ref, reason or "abandoned", WorkStatus.CANCELLED)


def work_complete(*, ref: int) -> None:
    """An assigned conversation closed: the agent's capacity frees and the next work is offered."""
    _work_release(ref, "completed", WorkStatus.COMPLETED)


def work_snooze_release(*, ref: int) -> None:
    """The agent snoozed an assigned conversation in a queue whose snoozed conversations do not count
    toward capacity: the place frees (the next work may be offered) and the item ends `completed` with
    the reason `snoozed`. When it comes back, the switch enqueues it again, its agent preferred."""
    _work_release(ref, "snoozed", WorkStatus.COMPLETED)


def work_transfer(*, ref: int, queue_id: int | None = None, agent_id: int | None = None) -> None:
    """Move a conversation to another queue (it keeps its age) or straight to an agent."""
    if not queue_id and not agent_id:
        raise RoutingError("bad_request", "Give a queue_id or an agent_id.")
    if queue_id and not Queue.objects.filter(pk=queue_id, is_active=True).exists():
        raise RoutingError("unknown_queue", f"There is no active queue {queue_id}.")
    if agent_id and not AgentProfile.objects.filter(user_id=agent_id).exists():
        raise RoutingError("unknown_agent", f"User {agent_id} is not set up as an agent.")
    if not WorkItem.objects.filter(ref=ref, status__in=ACTIVE_WORK_STATUSES).exists():
        raise RoutingError("unknown_work", f"Conversation {ref} is not routed.")

    def call() -> list[Event]:
        return on_backend(
            lambda backend: backend.work_transfer(
                ref=ref, queue_id=queue_id or 0, agent_id=agent_id or 0, now_ms=to_ms(timezone.now())
            )
        )

    persist(with_agent(agent_id or 0, lambda: with_queue(queue_id or 0, call)))
    if queue_id:
        WorkItem.objects.filter(ref=ref).update(queued_at=timezone.now())


def work_pick(*, ref: int, agent_id: int) -> None:
    """An agent takes a waiting conversation from the queue list (manual pick)."""

    def call() -> list[Event]:
        return on_backend(lambda backend: backend.work_pick(ref=ref, agent_id=agent_id, now_ms=to_ms(timezone.now())))

    persist(with_agent(agent_id, call))


def offer_accept(*, offer_id: str, agent_id: int) -> None:
    persist(
        on_backend(
            lambda backend: backend.offer_accept(
                offer_id=str(offer_id), agent_id=agent_id, now_ms=to_ms(timezone.now())
            )
        )
    )


def offer_reject(*, offer_id: str, agent_id: int) -> None:
    """The agent says no: the conversation goes to the next agent at once, keeping its place."""
    persist(
        on_backend(
            lambda backend: backend.offer_reject(
                offer_id=str(offer_id), agent_id=agent_id, now_ms=to_ms(timezone.now())
            )
        )
    )


def agent_presence_set(*, agent_id: int, status: str) -> None:
    """available | away | offline. An agent becoming available is offered waiting work at once."""
    if status not in AgentStatus.values:
        raise RoutingError("bad_request", f"status must be one of {', '.join(AgentStatus.values)}.")
    if not get_user_model().objects.filter(pk=agent_id, is_active=True).exists():
        raise RoutingError("unknown_agent", f"There is no active user {agent_id}.")
    with transaction.atomic():
        profile, _ = AgentProfile.objects.select_for_update().get_or_create(user_id=agent_id)
        if profile.status != status:
            profile.status = status
            profile.status_changed_at = timezone.now()
            profile.save(update_fields=["status", "status_changed_at"])
    agent_sync(profile=profile)
