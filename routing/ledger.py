"""Writing the backend's decisions to MySQL: the work item, the offer and one ledger row
(`AssignmentEvent`) per decision, in the caller's transaction, and the hook events to emit once it
commits (routing/hooks.py).

The backend already made each decision (atomic across processes); these writes only record them. Writes
to a work item or an offer only move forward (`seq` guard), so processes that write their decisions in
another order than the backend made them still leave the right state. One writer per kind of decision
(`_WRITERS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from core.hooks import Hook, HookEvent
from routing import hooks
from routing.backends.base import Event
from routing.models import DISCONNECTED, AgentProfile, AssignmentEvent, Offer, OfferStatus, WorkItem, WorkStatus
from routing.terms import from_ms

_RETRYABLE_MYSQL_ERRORS = (1205, 1213)  # lock wait timeout, deadlock


class Outbox:
    """Hook events to emit once the transaction commits, in order; `queue_changed` last, once per queue."""

    def __init__(self) -> None:
        self.emits: list[tuple[Hook[Any], HookEvent]] = []
        self.changed_queues: set[int] = set()

    def add(self, hook: Hook[Any], event: HookEvent) -> None:
        self.emits.append((hook, event))

    def flush_on_commit(self) -> None:
        emits = list(self.emits)
        emits += [(hooks.queue_changed, hooks.QueueChanged(queue_id=q)) for q in sorted(self.changed_queues)]
        if not emits:
            return

        def emit() -> None:
            for hook, event in emits:
                hook.emit(event)

        transaction.on_commit(emit)


def persist(events: Sequence[Event]) -> None:
    """Write decisions the backend already made. They stand whatever MySQL says, so a deadlock between
    two processes writing about the same items is retried rather than lost (when we own the transaction)."""
    if not events:
        return
    for attempt in range(5):
        try:
            with transaction.atomic():
                apply(events)
            return
        except OperationalError as error:
            code = error.args[0] if error.args else None
            if attempt == 4 or code not in _RETRYABLE_MYSQL_ERRORS or transaction.get_connection().in_atomic_block:
                raise
            time.sleep(0.01 * (attempt + 1))


def apply(events: Sequence[Event], *, outbox: Outbox | None = None) -> None:
    """Write the backend's decisions to MySQL and the ledger; queue their hook events for after commit
    (in `outbox` when given: the caller flushes it, else one of this call's own)."""
    if not events:
        return
    own_outbox = outbox is None
    outbox = outbox or Outbox()
    now = timezone.now()
    ledger: list[AssignmentEvent] = []
    for event in events:
        ledger.append(_ledger_row(event, now))
        writer = _WRITERS.get(event["kind"])
        if writer is not None:
            writer(event, now, outbox)
    AssignmentEvent.objects.bulk_create(ledger)
    if own_outbox:
        outbox.flush_on_commit()


def _ledger_row(event: Event, now: datetime) -> AssignmentEvent:
    return AssignmentEvent(
        seq=event["seq"],
        at=now,
        kind=event["kind"],
        ref=event.get("ref"),
        queue_id=event.get("to") or event.get("queue"),
        agent_id=event.get("agent") or None,
        offer_id=event.get("offer", ""),
        policy=event.get("policy", ""),
        detail=str(event.get("detail") or event.get("status") or "")[:64],
    )


def _work_update(ref: int, seq: int, **fields: Any) -> None:
    # Only forward: another process may write a later decision about the same item first.
    WorkItem.objects.filter(ref=ref, seq__lt=seq).update(seq=seq, **fields)


def _final_status(detail: str) -> str:
    # A snoozed conversation's item ends as its agent's work (commands.work_snooze_release).
    return WorkStatus.COMPLETED if detail in ("completed", "snoozed") else WorkStatus.CANCELLED


# --- one writer per kind of decision (base.py lists each kind's fields) ------------------------------------
def _offered(event: Event, now: datetime, outbox: Outbox) -> None:
    ref, seq = event["ref"], event["seq"]
    try:
        with transaction.atomic():
            Offer.objects.create(
                id=event["offer"],
                ref=ref,
                queue_id=event["queue"],
                agent_id=event["agent"],
                policy=event["policy"],
                created_at=now,
                expires_at=from_ms(event["expires"]),
                seq=seq,
            )
    except IntegrityError:
        pass  # already closed by a faster process
    _work_update(
        ref, seq, status=WorkStatus.OFFERED, agent_id=event["agent"], offer_id=event["offer"], queue_id=event["queue"]
    )
    outbox.changed_queues.add(event["queue"])
    outbox.add(
        hooks.offer_created,
        hooks.OfferCreated(
            offer_id=event["offer"],
            ref=ref,
            agent_id=event["agent"],
            queue_id=event["queue"],
            expires_at=from_ms(event["expires"]),
        ),
    )


_OFFER_REASONS = {
    "accepted": OfferStatus.ACCEPTED,
    "rejected": OfferStatus.REJECTED,
    "expired": OfferStatus.EXPIRED,
    "offer_cancelled": OfferStatus.CANCELLED,
}


def _offer_closed(event: Event, now: datetime, outbox: Outbox) -> None:
    kind, ref = event["kind"], event["ref"]
    _offer_close(event, _OFFER_REASONS[kind], now)
    if kind != "accepted":
        _work_update(ref, event["seq"], status=WorkStatus.WAITING, agent_id=None, offer_id="")
    reason = "cancelled" if kind == "offer_cancelled" else kind
    outbox.add(
        hooks.offer_closed, hooks.OfferClosed(offer_id=event["offer"], ref=ref, agent_id=event["agent"], reason=reason)
    )


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


def _assigned(event: Event, now: datetime, outbox: Outbox) -> None:
    _work_update(
        event["ref"],
        event["seq"],
        status=WorkStatus.ASSIGNED,
        agent_id=event["agent"],
        offer_id="",
        policy=event["policy"],
        assigned_at=now,
        queue_id=event["queue"],
    )
    outbox.add(
        hooks.work_assigned,
        hooks.WorkAssigned(ref=event["ref"], agent_id=event["agent"], queue_id=event["queue"], policy=event["policy"]),
    )


def _queued(event: Event, now: datetime, outbox: Outbox) -> None:
    _work_update(
        event["ref"], event["seq"], status=WorkStatus.WAITING, queue_id=event["queue"], agent_id=None, offer_id=""
    )
    outbox.changed_queues.add(event["queue"])
    outbox.add(hooks.work_queued, hooks.WorkQueued(ref=event["ref"], queue_id=event["queue"]))


def _overflowed(event: Event, now: datetime, outbox: Outbox) -> None:
    _work_update(event["ref"], event["seq"], queue_id=event["to"], queued_at=now)
    outbox.changed_queues.add(event["queue"])


def _released(event: Event, now: datetime, outbox: Outbox) -> None:
    detail = event.get("detail", "")
    if detail not in ("transferred", "withdrawn"):
        _work_update(event["ref"], event["seq"], status=_final_status(detail), closed_at=now, close_reason=detail[:32])
    outbox.add(
        hooks.work_released,
        hooks.WorkReleased(ref=event["ref"], queue_id=event["queue"], agent_id=event["agent"], reason=detail),
    )


def _removed(event: Event, now: datetime, outbox: Outbox) -> None:
    detail = event.get("detail", "")
    _work_update(
        event["ref"],
        event["seq"],
        status=_final_status(detail),
        closed_at=now,
        close_reason=detail[:32],
        agent_id=None,
        offer_id="",
    )
    outbox.changed_queues.add(event["queue"])


def _agent_status(event: Event, now: datetime, outbox: Outbox) -> None:
    # `disconnected` is routing's view of an agent without a console (agent_consoles_sweep writes
    # `connected`); the status the agent chose stays, and comes back when a console connects.
    if event["status"] != DISCONNECTED:
        AgentProfile.objects.filter(user_id=event["agent"]).exclude(status=event["status"]).update(
            status=event["status"], status_changed_at=now
        )
    outbox.add(hooks.agent_status_changed, hooks.AgentStatusChanged(agent_id=event["agent"], status=event["status"]))


_WRITERS: dict[str, Callable[[Event, datetime, Outbox], None]] = {
    "offered": _offered,
    **{kind: _offer_closed for kind in _OFFER_REASONS},
    "assigned": _assigned,
    "queued": _queued,
    "overflowed": _overflowed,
    "released": _released,
    "removed": _removed,
    "agent_status": _agent_status,
}
