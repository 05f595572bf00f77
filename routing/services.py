"""Writes of the queuing machine. The switch, the admin, tasks and commands call these; all keyword-only.

Each decision is made by the routing backend (atomic across processes), then written to MySQL (the work
item, the offer, the ledger) in the caller's transaction; signals leave after that transaction commits.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from routing import signals
from routing.backends import channel_kinds, get_backend
from routing.backends.base import PRIORITY_LIMIT, BaseRoutingBackend, Event
from routing.exceptions import RoutingError
from routing.models import (
    ACTIVE_WORK_STATUSES,
    DISCONNECTED,
    AgentProfile,
    AgentStatus,
    AssignmentEvent,
    Offer,
    OfferStatus,
    Queue,
    WorkItem,
    WorkStatus,
)

logger = logging.getLogger(__name__)

MAX_SKILLS = 20


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- the backend, rebuilt from MySQL when it lost its state -------------------------------------------
class _Rebuilt:
    """The backend, whose refused decisions on a state not loaded (`not_built`: a Redis that restarted
    empty) rebuild the state from MySQL once across processes (`routing_ensure_built`) and run again."""

    def __init__(self, backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._backend, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attribute(*args, **kwargs)
            except RoutingError as error:
                if error.code != "not_built":
                    raise
            routing_ensure_built()
            return attribute(*args, **kwargs)

        return call


def _backend() -> Any:
    return _Rebuilt(get_backend())


# --- keeping the backend's configuration in step with MySQL ---------------------------------------------
def queue_sync(*, queue: Queue) -> None:
    """Tell the backend a queue's routing settings (after an edit, or when the backend lost them)."""
    _backend().queue_set(
        queue_id=queue.pk,
        policy=queue.policy,
        offer_timeout_ms=queue.offer_timeout_s * 1000,
        sticky_window_ms=queue.sticky_window_s * 1000,
        max_wait_ms=(queue.max_wait_s or 0) * 1000,
        overflow_queue_id=queue.overflow_queue_id or 0,
    )


def _agent_spec(profile: AgentProfile) -> dict[str, Any]:
    return {
        "agent_id": profile.user_id,
        "status": profile.routing_status,
        "capacity": {str(k): int(v) for k, v in (profile.capacity or {}).items()},
        "default_capacity": profile.default_capacity,
        "skills": sorted(profile.skill_levels.values_list("skill__name", flat=True)),
        "queue_ids": sorted(profile.queues.values_list("pk", flat=True)),
        "away_after": profile.auto_away_after_missed,
    }


def agent_sync(*, profile: AgentProfile) -> None:
    """Tell the backend an agent's skills, queues, capacity and status; an available agent gets offers."""
    _ensure_queues(profile.queues.all())
    _persist(_backend().agent_set(**_agent_spec(profile), now_ms=_ms(timezone.now())))


def _ensure_queues(queues: Iterable[Queue]) -> None:
    for queue in queues:
        queue_sync(queue=queue)


def _with_queue(queue_id: int, call: Callable[[], list[Event]]) -> list[Event]:
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


def _with_agent(agent_id: int, call: Callable[[], list[Event]]) -> list[Event]:
    try:
        return call()
    except RoutingError as error:
        if error.code != "unknown_agent":
            raise
        profile = AgentProfile.objects.filter(user_id=agent_id).first()
        if profile is None:
            raise
        _ensure_queues(profile.queues.all())
        _persist(_backend().agent_set(**_agent_spec(profile), now_ms=_ms(timezone.now())))
        return call()


# --- writing decisions to MySQL ---------------------------------------------------------------------------
class _Outbox:
    """Signals to send once the transaction commits, queue_changed once per queue."""

    def __init__(self) -> None:
        self.sends: list[tuple[Any, dict[str, Any]]] = []
        self.changed_queues: set[int] = set()

    def add(self, signal, **kwargs: Any) -> None:
        self.sends.append((signal, kwargs))

    def flush_on_commit(self) -> None:
        sends = list(self.sends)
        sends += [(signals.queue_changed, {"queue_id": q}) for q in sorted(self.changed_queues)]
        if not sends:
            return

        def send() -> None:
            for signal, kwargs in sends:
                signal.send(sender=WorkItem, **kwargs)

        transaction.on_commit(send)


def _work_update(ref: int, seq: int, **fields: Any) -> None:
    # Only forward: another process may write a later decision about the same item first.
    WorkItem.objects.filter(ref=ref, seq__lt=seq).update(seq=seq, **fields)


def _offer_close(event: Event, status: str, now: datetime) -> None:
    updated = Offer.objects.filter(pk=event["offer"], status=OfferStatus.OPEN).update(
        status=status, closed_at=now, seq=event["seq"]
    )
    if updated or Offer.objects.filter(pk=event["offer"]).exists():
        return
    # The process that made the offer has not written it yet: write it closed, it will leave it alone.
    try:
        with transaction.atomic():
            Offer.objects.create(
                id=event["offer"],
                ref=event["ref"],
                queue_id=event["queue"],
                agent_id=event["agent"],
                policy=event.get("policy", ""),
                created_at=now,
                expires_at=now,
                status=status,
                closed_at=now,
                seq=event["seq"],
            )
    except IntegrityError:
        Offer.objects.filter(pk=event["offer"], status=OfferStatus.OPEN).update(
            status=status, closed_at=now, seq=event["seq"]
        )


_OFFER_REASONS = {
    "accepted": OfferStatus.ACCEPTED,
    "rejected": OfferStatus.REJECTED,
    "expired": OfferStatus.EXPIRED,
    "offer_cancelled": OfferStatus.CANCELLED,
}


_RETRYABLE_MYSQL_ERRORS = (1205, 1213)  # lock wait timeout, deadlock


def _persist(events: Sequence[Event]) -> None:
    """Write decisions the backend already made. They stand whatever MySQL says, so a deadlock between
    two processes writing about the same items is retried rather than lost (when we own the transaction)."""
    if not events:
        return
    for attempt in range(5):
        try:
            with transaction.atomic():
                _apply(events)
            return
        except OperationalError as error:
            code = error.args[0] if error.args else None
            if attempt == 4 or code not in _RETRYABLE_MYSQL_ERRORS or transaction.get_connection().in_atomic_block:
                raise
            time.sleep(0.01 * (attempt + 1))


def _apply(events: Sequence[Event], *, outbox: _Outbox | None = None) -> None:
    """Write the backend's decisions to MySQL and the ledger; queue their signals for after commit."""
    if not events:
        return
    own_outbox = outbox is None
    outbox = outbox or _Outbox()
    now = timezone.now()
    ledger: list[AssignmentEvent] = []
    for event in events:
        kind, seq, ref = event["kind"], event["seq"], event.get("ref")
        ledger.append(
            AssignmentEvent(
                seq=seq,
                at=now,
                kind=kind,
                ref=ref,
                queue_id=event.get("to") or event.get("queue"),
                agent_id=event.get("agent") or None,
                offer_id=event.get("offer", ""),
                policy=event.get("policy", ""),
                detail=str(event.get("detail") or event.get("status") or "")[:64],
            )
        )
        if kind == "offered":
            try:
                with transaction.atomic():
                    Offer.objects.create(
                        id=event["offer"],
                        ref=ref,
                        queue_id=event["queue"],
                        agent_id=event["agent"],
                        policy=event["policy"],
                        created_at=now,
                        expires_at=_dt(event["expires"]),
                        seq=seq,
                    )
            except IntegrityError:
                pass  # already closed by a faster process
            _work_update(
                ref,
                seq,
                status=WorkStatus.OFFERED,
                agent_id=event["agent"],
                offer_id=event["offer"],
                queue_id=event["queue"],
            )
            outbox.changed_queues.add(event["queue"])
            outbox.add(
                signals.offer_created,
                offer_id=event["offer"],
                ref=ref,
                agent_id=event["agent"],
                queue_id=event["queue"],
                expires_at=_dt(event["expires"]),
            )
        elif kind in _OFFER_REASONS:
            _offer_close(event, _OFFER_REASONS[kind], now)
            if kind != "accepted":
                _work_update(ref, seq, status=WorkStatus.WAITING, agent_id=None, offer_id="")
            reason = "cancelled" if kind == "offer_cancelled" else kind
            outbox.add(signals.offer_closed, offer_id=event["offer"], ref=ref, agent_id=event["agent"], reason=reason)
        elif kind == "assigned":
            _work_update(
                ref,
                seq,
                status=WorkStatus.ASSIGNED,
                agent_id=event["agent"],
                offer_id="",
                policy=event["policy"],
                assigned_at=now,
                queue_id=event["queue"],
            )
            outbox.add(
                signals.work_assigned,
                ref=ref,
                agent_id=event["agent"],
                queue_id=event["queue"],
                policy=event["policy"],
            )
        elif kind == "queued":
            _work_update(ref, seq, status=WorkStatus.WAITING, queue_id=event["queue"], agent_id=None, offer_id="")
            outbox.changed_queues.add(event["queue"])
            outbox.add(signals.work_queued, ref=ref, queue_id=event["queue"])
        elif kind == "overflowed":
            _work_update(ref, seq, queue_id=event["to"], queued_at=now)
            outbox.changed_queues.add(event["queue"])
        elif kind == "released":
            detail = event.get("detail", "")
            if detail not in ("transferred", "withdrawn"):
                final = WorkStatus.COMPLETED if detail == "completed" else WorkStatus.CANCELLED
                _work_update(ref, seq, status=final, closed_at=now, close_reason=detail[:32])
            outbox.add(signals.work_released, ref=ref, queue_id=event["queue"], agent_id=event["agent"], reason=detail)
        elif kind == "removed":
            detail = event.get("detail", "")
            final = WorkStatus.COMPLETED if detail == "completed" else WorkStatus.CANCELLED
            _work_update(ref, seq, status=final, closed_at=now, close_reason=detail[:32], agent_id=None, offer_id="")
            outbox.changed_queues.add(event["queue"])
        elif kind == "agent_status":
            # `disconnected` is routing's view of an agent without a console (agent_consoles_sweep writes
            # `connected`); the status the agent chose stays, and comes back when a console connects.
            if event["status"] != DISCONNECTED:
                AgentProfile.objects.filter(user_id=event["agent"]).exclude(status=event["status"]).update(
                    status=event["status"], status_changed_at=now
                )
            outbox.add(signals.agent_status_changed, agent_id=event["agent"], status=event["status"])
    AssignmentEvent.objects.bulk_create(ledger)
    if own_outbox:
        outbox.flush_on_commit()


# --- the services the switch calls ------------------------------------------------------------------------
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
    events = _with_queue(
        queue.pk,
        lambda: _backend().work_enqueue(
            ref=ref,
            queue_id=queue.pk,
            kind=channel_kind,
            priority=priority,
            skills=skills,
            preferred_agent_id=preferred_agent_id or 0,
            enqueued_ms=_ms(enqueued_at),
            now_ms=_ms(now),
        ),
    )
    _persist(events)


def _work_release(ref: int, reason: str, final: str) -> None:
    now = timezone.now()
    _persist(_backend().work_release(ref=ref, reason=reason, now_ms=_ms(now)))
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
        return _backend().work_transfer(
            ref=ref, queue_id=queue_id or 0, agent_id=agent_id or 0, now_ms=_ms(timezone.now())
        )

    _persist(_with_agent(agent_id or 0, lambda: _with_queue(queue_id or 0, call)))
    if queue_id:
        WorkItem.objects.filter(ref=ref).update(queued_at=timezone.now())


def work_pick(*, ref: int, agent_id: int) -> None:
    """An agent takes a waiting conversation from the queue list (manual pick)."""
    _persist(
        _with_agent(agent_id, lambda: _backend().work_pick(ref=ref, agent_id=agent_id, now_ms=_ms(timezone.now())))
    )


def offer_accept(*, offer_id: str, agent_id: int) -> None:
    _persist(_backend().offer_accept(offer_id=str(offer_id), agent_id=agent_id, now_ms=_ms(timezone.now())))


def offer_reject(*, offer_id: str, agent_id: int) -> None:
    """The agent says no: the conversation goes to the next agent at once, keeping its place."""
    _persist(_backend().offer_reject(offer_id=str(offer_id), agent_id=agent_id, now_ms=_ms(timezone.now())))


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
    _ensure_queues(profile.queues.all())
    _persist(_backend().agent_set(**_agent_spec(profile), now_ms=_ms(timezone.now())))


# --- presence follows the console ------------------------------------------------------------------------
def console_grace_s() -> float:
    """How long an agent may be without a console before routing counts them disconnected."""
    return float(getattr(settings, "ROUTING_CONSOLE_GRACE_S", 30.0))


def console_heartbeat_s() -> float:
    """How often a server process refreshes each console it holds; a console not refreshed for three
    heartbeats (its process died without closing it) lapses."""
    return float(getattr(settings, "ROUTING_CONSOLE_HEARTBEAT_S", 10.0))


def _agent_connected_set(agent_id: int, *, connected: bool, now: datetime) -> None:
    """Turn an agent's `connected` on or off under its row lock, telling the backend in the same lock so
    that two processes (a console connecting, a sweep disconnecting) leave MySQL and the backend agreed."""
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().filter(user_id=agent_id).first()
        if profile is None or profile.connected == connected:
            return
        if not connected and _backend().console_count(agent_id=agent_id, now_ms=_ms(now)):
            return  # a console came back meanwhile
        profile.connected = connected
        profile.connected_changed_at = now
        profile.save(update_fields=["connected", "connected_changed_at"])
        _ensure_queues(profile.queues.all())
        _persist(_backend().agent_set(**_agent_spec(profile), now_ms=_ms(now)))


def agent_console_open(*, agent_id: int, console: str) -> None:
    """A console socket of the agent is live (on connect, and again every heartbeat): it counts for
    `3 * heartbeat` seconds. An agent counted disconnected is connected again with the status they chose
    (available: offered waiting work at once)."""
    now = timezone.now()
    ttl_ms = int(3 * console_heartbeat_s() * 1000)
    _backend().console_beat(agent_id=agent_id, console=str(console), now_ms=_ms(now), ttl_ms=ttl_ms)
    if AgentProfile.objects.filter(user_id=agent_id, connected=False).exists():
        _agent_connected_set(agent_id, connected=True, now=now)


def agent_console_close(*, agent_id: int, console: str) -> int:
    """A console socket closed. Returns the agent's consoles still live; at 0 the grace starts, after
    which `agent_consoles_sweep` counts the agent disconnected."""
    return _backend().console_close(agent_id=agent_id, console=str(console), now_ms=_ms(timezone.now()))


def agent_consoles_expect(*, agent_ids: Iterable[int] | None = None) -> list[int]:
    """Start the grace of agents counted connected who chose to work but have no live console, so the
    sweep counts them disconnected unless a console connects in time: an agent a supervisor set
    available from the dashboard, or every agent when the console presence was lost (the embedded
    default's process restarted). `agent_ids`: those agents (default: every one). Returns whose grace
    started."""
    profiles = AgentProfile.objects.filter(connected=True).exclude(status=AgentStatus.OFFLINE)
    if agent_ids is not None:
        profiles = profiles.filter(user_id__in=list(agent_ids))
    now_ms = _ms(timezone.now())
    backend = _backend()
    return [
        agent_id
        for agent_id in profiles.values_list("user_id", flat=True)
        if backend.console_expect(agent_id=agent_id, now_ms=now_ms)
    ]


def agent_consoles_sweep(*, now: datetime | None = None) -> list[int]:
    """Count disconnected every agent whose last console went away (closed, or stopped beating) at
    least the grace ago: routing stops offering them work, withdraws their open offers and re-offers
    them to other agents at once (the supervisors see `disconnected`). Returns those agents' ids. Runs
    from routing_tick every second, and in the server process when an agent's last console closes."""
    now = now or timezone.now()
    lapsed = _backend().consoles_lapsed(now_ms=_ms(now), grace_ms=int(console_grace_s() * 1000))
    for agent_id in lapsed:
        _agent_connected_set(agent_id, connected=False, now=now)
    return lapsed


# --- timers ----------------------------------------------------------------------------------------------
def routing_tick(*, now: datetime | None = None, limit: int = 500) -> int:
    """Fire every due timer: expire offers past their deadline (re-offering their work), overflow items
    that waited too long, and re-evaluate items whose stickiness or decline hold ended. Returns the
    number of timers handled. Safe to run in several processes at once: each timer fires once."""
    routing_ensure_built()
    now_ms = _ms(now or timezone.now())
    backend = _backend()
    swept = agent_consoles_sweep(now=_dt(now_ms))
    offer_ids, refs = backend.due(now_ms=now_ms, limit=limit)
    for offer_id in offer_ids:
        _persist(backend.offer_expire(offer_id=offer_id, now_ms=now_ms))
    for ref in refs:
        _persist(_with_queue_of(ref, lambda ref=ref: backend.work_reevaluate(ref=ref, now_ms=now_ms)))
    return len(swept) + len(offer_ids) + len(refs)


def _with_queue_of(ref: int, call: Callable[[], list[Event]]) -> list[Event]:
    item = WorkItem.objects.filter(ref=ref).select_related("queue").first()
    if item and item.queue.overflow_queue_id:
        overflow = Queue.objects.filter(pk=item.queue.overflow_queue_id, is_active=True).first()
        if overflow:
            queue_sync(queue=overflow)
    return call()


# --- rebuilding the backend from MySQL ---------------------------------------------------------------------
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
    signals telling agents) would wait for, or vanish with, the caller's commit, while the backend
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
    outbox = _Outbox()
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
                signals.offer_closed, offer_id=offer.pk, ref=offer.ref, agent_id=offer.agent_id, reason="cancelled"
            )
        Offer.objects.filter(pk__in=[o.pk for o in open_offers]).update(status=OfferStatus.CANCELLED, closed_at=now)
        WorkItem.objects.filter(status=WorkStatus.OFFERED).update(status=WorkStatus.WAITING, agent_id=None, offer_id="")
        AssignmentEvent.objects.bulk_create(ledger)

        backend.flush()
        queues = list(Queue.objects.filter(is_active=True))
        for queue in queues:
            queue_sync(queue=queue)
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
                    "enqueued_ms": _ms(row.enqueued_at),
                    "queued_ms": _ms(row.queued_at),
                    "state": row.status,
                    "agent_id": row.agent_id or 0,
                    "policy": row.policy,
                }
            )
            if len(batch) == 1000:
                backend.restore(agents=agents if first else [], items=batch, seq=last_seq, now_ms=_ms(now))
                first = False
                done += len(batch)
                batch = []
                if progress:
                    progress(done, total)
        backend.restore(agents=agents if first else [], items=batch, seq=last_seq, now_ms=_ms(now))
        done += len(batch)
        if progress:
            progress(done, total)
        backend.mark_built()
        _apply(backend.rematch(now_ms=_ms(timezone.now())), outbox=outbox)
        outbox.changed_queues.update(active_queue_ids)
        outbox.flush_on_commit()
    return {"queues": len(queues), "agents": len(agents), "items": total, "offers_withdrawn": len(open_offers)}


# --- estimates --------------------------------------------------------------------------------------------
DEFAULT_HANDLE_S = 180
_eta_cache: dict[int, tuple[float, float, int]] = {}
_ETA_CACHE_S = 5.0


def _queue_throughput(queue_id: int) -> tuple[float, int]:
    """(average handling seconds of the queue's recent conversations, free-or-busy slots of its agents)."""
    cached = _eta_cache.get(queue_id)
    if cached and time.monotonic() - cached[0] < _ETA_CACHE_S:
        return cached[1], cached[2]
    recent = list(
        WorkItem.objects.filter(queue_id=queue_id, status=WorkStatus.COMPLETED, assigned_at__isnull=False)
        .order_by("-closed_at")
        .values_list("assigned_at", "closed_at")[:50]
    )
    durations = [(closed - assigned).total_seconds() for assigned, closed in recent if closed and assigned]
    handle_s = sum(durations) / len(durations) if durations else DEFAULT_HANDLE_S
    slots = sum(
        AgentProfile.objects.filter(queues=queue_id, status=AgentStatus.AVAILABLE, connected=True).values_list(
            "default_capacity", flat=True
        )
    )
    _eta_cache[queue_id] = (time.monotonic(), handle_s, slots)
    return handle_s, slots


def queue_positions(*, queue_id: int) -> dict[int, tuple[int, int]]:
    """{ref: (1-based position, estimated seconds)} for every conversation waiting in a queue, from one
    backend read (what `queue_position` gives for each of them)."""
    positions = _backend().queue_positions(queue_id=queue_id)
    if not positions:
        return {}
    handle_s, slots = _queue_throughput(queue_id)
    return {ref: (position, math.ceil(position * handle_s / max(slots, 1))) for ref, position in positions.items()}


def queue_position(*, ref: int) -> tuple[int, int] | None:
    """(1-based position, estimated seconds until an agent takes it) for a waiting conversation."""
    backend = _backend()
    position = backend.work_position(ref=ref)
    if position is None:
        return None
    item = backend.work_get(ref=ref)
    handle_s, slots = _queue_throughput(item["queue"])
    # Each of the queue's agent slots frees about once per handling time.
    eta_s = math.ceil(position * handle_s / max(slots, 1))
    return position, eta_s
