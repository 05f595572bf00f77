"""Rebuilding the backend from MySQL, the truth, when it lost its state (a Redis restarted empty), and
the retry every decision gets when the backend refuses it for that reason (`on_backend`).

A rebuild empties the backend, loads queues, agents with their load and every waiting item in its place,
withdraws the offers that were open (their agents hear `offer_closed` with `cancelled`) and offers waiting
work again. One rebuild runs at a time across processes (the backend's rebuild lock); decisions wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from routing import hooks
from routing.backends import get_backend
from routing.backends.base import BaseRoutingBackend
from routing.exceptions import RoutingError
from routing.ledger import Outbox, apply
from routing.models import (
    ACTIVE_WORK_STATUSES,
    AgentProfile,
    AssignmentEvent,
    Offer,
    OfferStatus,
    Queue,
    WorkItem,
    WorkStatus,
)
from routing.terms import queue_settings, to_ms

logger = logging.getLogger(__name__)

T = TypeVar("T")


def on_backend(call: Callable[[BaseRoutingBackend], T]) -> T:
    """Run `call` with the backend. A decision refused because the backend's state is not loaded
    (`not_built`: a Redis that restarted empty) rebuilds the state from MySQL once across processes
    (`routing_ensure_built`) and runs again, so the caller sees nothing but a delay. Every decision goes
    through here; configuration of queues, reads and console presence are never refused."""
    backend = get_backend()
    try:
        return call(backend)
    except RoutingError as error:
        if error.code != "not_built":
            raise
    routing_ensure_built()
    return call(backend)


# How long a rebuild may hold its lock before another process may take over (its holder died), and how
# long a caller waits for someone else's rebuild before giving up with `not_built`.
REBUILD_LOCK_S = 300.0
REBUILD_WAIT_S = 60.0
# Decisions after a rebuild are numbered this far past the highest number in MySQL, and the rebuild
# stamps every active work item with the new base: a decision the lost Redis made but whose process
# had not written it yet (a few milliseconds of work) then cannot overwrite the rebuilt state.
REBUILD_SEQ_GAP = 1_000_000


def routing_rebuild(*, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Refill the backend from MySQL (after Redis was lost): queues, agents with their load, every
    waiting conversation in its place. Open offers are withdrawn (their agents are told) and made again.
    `progress(done, total)` is called as items load. Returns counts. One rebuild runs at a time across
    processes (it waits for one already running); decisions elsewhere wait until it is done."""
    backend = get_backend()
    deadline = time.monotonic() + REBUILD_LOCK_S
    while (token := backend.rebuild_lock(ttl_s=REBUILD_LOCK_S)) is None:
        if time.monotonic() > deadline:
            raise RoutingError("not_built", "Another rebuild of the routing state is still running.")
        time.sleep(0.05)
    try:
        return _rebuild(progress)
    finally:
        backend.rebuild_unlock(token)


def routing_ensure_built(*, wait_s: float = REBUILD_WAIT_S) -> bool:
    """Rebuild the backend from MySQL if it lost its state (a Redis restarted empty has no `built`
    marker), once across every process: the one that takes the lock rebuilds, the others wait for it.
    Beat's `routing.tick` calls this every second, and every decision refused with `not_built` calls it
    before running again. Returns whether this call rebuilt. Costs one Redis read when in step."""
    backend = get_backend()
    deadline = time.monotonic() + wait_s
    while not backend.built():
        token = backend.rebuild_lock(ttl_s=REBUILD_LOCK_S)
        if token is not None:
            try:
                if backend.built():
                    return False
                logger.warning("The routing backend lost its state: rebuilding it from MySQL.")
                counts = _rebuild_committed()
                logger.warning("Routing rebuilt from MySQL: %s", counts)
                return True
            finally:
                backend.rebuild_unlock(token)
        if time.monotonic() > deadline:
            raise RoutingError("not_built", "The routing state is being rebuilt; try again.")
        time.sleep(0.05)
    return False


def _rebuild_committed() -> dict[str, int]:
    """Rebuild in a transaction of its own: inside the caller's transaction the rebuild's writes (and the
    hook events telling agents) would wait for, or vanish with, the caller's commit, while the backend
    already holds the rebuilt state. A helper thread has its own database connection."""
    if not connection.in_atomic_block:
        return _rebuild(None)
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["counts"] = _rebuild(None)
        except BaseException as error:  # handed to the caller below
            result["error"] = error
        finally:
            connection.close()

    helper = threading.Thread(target=run, name="routing-rebuild", daemon=True)
    helper.start()
    helper.join()
    if "error" in result:
        raise result["error"]
    return result["counts"]


def _rebuild(progress: Callable[[int, int], None] | None) -> dict[str, int]:
    backend = get_backend()
    try:
        return _rebuild_into(backend, progress)
    except BaseException:
        # The marker may be set already while MySQL rolls back: half a state must not look loaded.
        # Emptied, the next decision or tick rebuilds again.
        backend.flush()
        raise


def _rebuild_into(backend: BaseRoutingBackend, progress: Callable[[int, int], None] | None) -> dict[str, int]:
    now = timezone.now()
    outbox = Outbox()
    with transaction.atomic():
        last_seq = REBUILD_SEQ_GAP + max(
            WorkItem.objects.aggregate(m=Max("seq"))["m"] or 0,
            AssignmentEvent.objects.aggregate(m=Max("seq"))["m"] or 0,
            Offer.objects.aggregate(m=Max("seq"))["m"] or 0,
        )
        WorkItem.objects.filter(status__in=ACTIVE_WORK_STATUSES).update(seq=last_seq)
        open_offers = list(Offer.objects.select_for_update().filter(status=OfferStatus.OPEN))
        ledger = []
        for offer in open_offers:
            last_seq += 1
            ledger.append(
                AssignmentEvent(
                    seq=last_seq,
                    at=now,
                    kind=AssignmentEvent.Kind.OFFER_CANCELLED,
                    ref=offer.ref,
                    queue_id=offer.queue_id,
                    agent_id=offer.agent_id,
                    offer_id=offer.pk,
                    policy=offer.policy,
                    detail="rebuild",
                )
            )
            outbox.add(
                hooks.offer_closed,
                hooks.OfferClosed(offer_id=offer.pk, ref=offer.ref, agent_id=offer.agent_id, reason="cancelled"),
            )
        Offer.objects.filter(pk__in=[o.pk for o in open_offers]).update(status=OfferStatus.CANCELLED, closed_at=now)
        WorkItem.objects.filter(status=WorkStatus.OFFERED).update(status=WorkStatus.WAITING, agent_id=None, offer_id="")
        AssignmentEvent.objects.bulk_create(ledger)

        backend.flush()
        queues = list(Queue.objects.filter(is_active=True))
        for queue in queues:
            backend.queue_set(**queue_settings(queue))
        profiles = AgentProfile.objects.prefetch_related("queues", "skill_levels__skill")
        agents = [
            {
                "agent_id": p.user_id,
                "status": p.routing_status,
                "capacity": p.capacity or {},
                "default_capacity": p.default_capacity,
                "skills": sorted(s.skill.name for s in p.skill_levels.all()),
                "queue_ids": sorted(q.pk for q in p.queues.all()),
                "away_after": p.auto_away_after_missed,
            }
            for p in profiles
        ]
        active_queue_ids = {q.pk for q in queues}
        rows = WorkItem.objects.filter(
            status__in=(WorkStatus.WAITING, WorkStatus.ASSIGNED), queue_id__in=active_queue_ids
        ).order_by("pk")
        total = rows.count()
        done = 0
        batch: list[dict[str, Any]] = []
        first = True
        for row in rows.iterator(chunk_size=1000):
            batch.append(
                {
                    "ref": row.ref,
                    "queue_id": row.queue_id,
                    "kind": row.channel_kind,
                    "priority": row.priority,
                    "skills": row.skills or [],
                    "preferred_agent_id": 0,
                    "enqueued_ms": to_ms(row.enqueued_at),
                    "queued_ms": to_ms(row.queued_at),
                    "state": row.status,
                    "agent_id": row.agent_id or 0,
                    "policy": row.policy,
                }
            )
            if len(batch) == 1000:
                backend.restore(agents=agents if first else [], items=batch, seq=last_seq, now_ms=to_ms(now))
                first = False
                done += len(batch)
                batch = []
                if progress:
                    progress(done, total)
        backend.restore(agents=agents if first else [], items=batch, seq=last_seq, now_ms=to_ms(now))
        done += len(batch)
        if progress:
            progress(done, total)
        backend.mark_built()
        apply(backend.rematch(now_ms=to_ms(timezone.now())), outbox=outbox)
        outbox.changed_queues.update(active_queue_ids)
        outbox.flush_on_commit()
    return {"queues": len(queues), "agents": len(agents), "items": total, "offers_withdrawn": len(open_offers)}
