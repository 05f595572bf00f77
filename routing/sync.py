"""Keeping the backend's configuration in step with MySQL: a queue's routing settings, an agent's
skills, queues, capacity and status. The admin calls these after an edit; the commands teach the backend
a queue or an agent it does not know yet (a fresh process, a flushed Redis) and run the decision again."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from django.utils import timezone

from routing.backends.base import Event
from routing.exceptions import RoutingError
from routing.ledger import persist
from routing.models import AgentProfile, Queue
from routing.rebuild import on_backend
from routing.terms import agent_settings, queue_settings, to_ms


def queue_sync(*, queue: Queue) -> None:
    """Tell the backend a queue's routing settings (after an edit, or when the backend lost them)."""
    settings = queue_settings(queue)
    on_backend(lambda backend: backend.queue_set(**settings))


def queue_hours_set(*, schedule_id: int, queue_ids: Iterable[int]) -> None:
    """The queues that follow a business-hours schedule (the bots own schedules; routing keeps the id):
    these queues follow it, and any other queue that did follows none any more. No routing decision
    reads the hours, so the backend has nothing to learn."""
    queue_ids = list(queue_ids)
    Queue.objects.filter(business_hours_id=schedule_id).exclude(pk__in=queue_ids).update(business_hours_id=None)
    Queue.objects.filter(pk__in=queue_ids).update(business_hours_id=schedule_id)


def queues_sync(queues: Iterable[Queue]) -> None:
    for queue in queues:
        queue_sync(queue=queue)


def agent_sync(*, profile: AgentProfile, now: datetime | None = None) -> None:
    """Tell the backend an agent's skills, queues, capacity and status (as of `now`, default now); an
    available agent gets offers."""
    queues_sync(profile.queues.all())
    settings = agent_settings(profile)
    now_ms = to_ms(now or timezone.now())
    persist(on_backend(lambda backend: backend.agent_set(**settings, now_ms=now_ms)))


def with_queue(queue_id: int, call: Callable[[], list[Event]]) -> list[Event]:
    """Run a backend call; if the backend does not know the queue yet (fresh or rebuilt), teach it once."""
    try:
        return call()
    except RoutingError as error:
        if error.code != "unknown_queue":
            raise
        queue = Queue.objects.filter(pk=queue_id, is_active=True).first()
        if queue is None:
            raise
        queue_sync(queue=queue)
        return call()


def with_agent(agent_id: int, call: Callable[[], list[Event]]) -> list[Event]:
    """Run a backend call; if the backend does not know the agent yet, teach it once (with its queues)."""
    try:
        return call()
    except RoutingError as error:
        if error.code != "unknown_agent":
            raise
        profile = AgentProfile.objects.filter(user_id=agent_id).first()
        if profile is None:
            raise
        agent_sync(profile=profile)
        return call()
