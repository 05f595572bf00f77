"""The interface every routing backend implements.

A backend holds the fast index of the queuing machine (waiting items in order, agents with their load,
open offers, timers) and makes every decision atomically. MySQL stays the truth: the services write each
decision the backend returns to the database and the ledger, and `rebuild_routing` can refill a backend
from MySQL at any time.

Every changing call returns the decisions it made as a list of events, in order, each a dict with a
`kind` (an `AssignmentEvent.Kind` value) and a `seq` (the backend's decision number, rising), plus:

* queued: ref, queue                      * offered: ref, queue, agent, offer, expires, policy
* accepted / rejected / expired / offer_cancelled: ref, queue, agent, offer, policy
* assigned: ref, queue, agent, policy     * released: ref, queue, agent, detail (why)
* removed: ref, queue, detail             * overflowed: ref, queue (from), to
* agent_status: agent, status, detail

Times are integer milliseconds since the epoch, passed in by the caller (so tests can move the clock).
A refused call raises `RoutingError` and changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

Event = dict[str, Any]

# A work item's place: higher priority first, then the oldest first (strict FIFO within a priority).
# Priorities live in [-PRIORITY_LIMIT, PRIORITY_LIMIT]; the score fits a double exactly.
PRIORITY_LIMIT = 99
_PRIORITY_SPAN = 10**13


def work_score(*, priority: int, enqueued_ms: int) -> float:
    return float((PRIORITY_LIMIT + 1 - priority) * _PRIORITY_SPAN + enqueued_ms)


def agent_score(*, policy: str, total: int, default_capacity: int, idle_ms: int, rr: int) -> float:
    """An agent's rank in a queue, lowest first. Ties go to the agent whose id sorts first as a string."""
    idle_cs = idle_ms // 10
    if policy == "round_robin":
        return float(rr)
    if policy == "longest_idle":
        return float((10**12 if total > 0 else 0) + idle_cs)
    permille = min(8000, (total * 1000) // max(default_capacity, 1))
    return float(permille * 10**12 + idle_cs)


class BaseRoutingBackend:
    """Subclasses implement every method; see memory.py for the reference semantics."""

    def __init__(self, config: dict[str, Any] | None = None, *, channel_kinds: Sequence[str] = ()) -> None:
        self.config = dict(config or {})
        self.channel_kinds = tuple(channel_kinds)
        self._rebuild_mutex = threading.Lock()

    # --- configuration --------------------------------------------------------------------------------
    def queue_set(
        self,
        *,
        queue_id: int,
        policy: str,
        offer_timeout_ms: int,
        sticky_window_ms: int,
        max_wait_ms: int,
        overflow_queue_id: int,
    ) -> None:
        raise NotImplementedError

    def agent_set(
        self,
        *,
        agent_id: int,
        status: str,
        capacity: dict[str, int],
        default_capacity: int,
        skills: Sequence[str],
        queue_ids: Sequence[int],
        away_after: int,
        now_ms: int,
    ) -> list[Event]:
        """Create or update an agent (load is kept). An agent that is available gets offers at once."""
        raise NotImplementedError

    # --- decisions ------------------------------------------------------------------------------------
    def work_enqueue(
        self,
        *,
        ref: int,
        queue_id: int,
        kind: str,
        priority: int,
        skills: Sequence[str],
        preferred_agent_id: int,
        enqueued_ms: int,
        now_ms: int,
    ) -> list[Event]:
        """Idempotent on ref: an item already known returns no events."""
        raise NotImplementedError

    def work_release(self, *, ref: int, reason: str, now_ms: int) -> list[Event]:
        """The item leaves routing (completed, abandoned...): frees whatever it held. Unknown ref: no events."""
        raise NotImplementedError

    def work_pick(self, *, ref: int, agent_id: int, now_ms: int) -> list[Event]:
        raise NotImplementedError

    def work_transfer(self, *, ref: int, queue_id: int, agent_id: int, now_ms: int) -> list[Event]:
        """To an agent (agent_id, queue_id 0) or back into a queue (queue_id, agent_id 0)."""
        raise NotImplementedError

    def offer_accept(self, *, offer_id: str, agent_id: int, now_ms: int) -> list[Event]:
        raise NotImplementedError

    def offer_reject(self, *, offer_id: str, agent_id: int, now_ms: int) -> list[Event]:
        raise NotImplementedError

    def offer_expire(self, *, offer_id: str, now_ms: int) -> list[Event]:
        """Expire an offer whose deadline passed; an offer answered meanwhile gives no events."""
        raise NotImplementedError

    def work_reevaluate(self, *, ref: int, now_ms: int) -> list[Event]:
        """A waiting item's timer fired: overflow, or the end of a stickiness or decline hold."""
        raise NotImplementedError

    def rematch(self, *, now_ms: int) -> list[Event]:
        """Offer waiting work to every available agent that can take it (after a restore)."""
        raise NotImplementedError

    # --- reads ----------------------------------------------------------------------------------------
    def due(self, *, now_ms: int, limit: int = 500) -> tuple[list[str], list[int]]:
        """Offers past their deadline and items whose timer is due."""
        raise NotImplementedError

    def queue_waiting(self, *, queue_id: int) -> list[dict[str, int]]:
        """Waiting items of a queue in order: [{ref, priority, enqueued_ms}]."""
        raise NotImplementedError

    def work_position(self, *, ref: int) -> int | None:
        """1-based place of a waiting item in its queue; None when it is not waiting."""
        raise NotImplementedError

    def queue_positions(self, *, queue_id: int) -> dict[int, int]:
        """The 1-based place of every waiting item of a queue, by ref, read at once (what
        `work_position` gives for each of them, in one call)."""
        raise NotImplementedError

    def work_get(self, *, ref: int) -> dict[str, Any] | None:
        raise NotImplementedError

    def agent_get(self, *, agent_id: int) -> dict[str, Any] | None:
        """{status, load: {kind: n}, total, missed}."""
        raise NotImplementedError

    # --- console presence -----------------------------------------------------------------------------
    # Which agents have a live console socket, across every server process. A console is registered by
    # `console_beat` (on connect, then every heartbeat) with a deadline; a socket closed cleanly leaves
    # with `console_close`, one whose process died simply stops beating and lapses at its deadline. An
    # agent whose last console left (closed or lapsed) is in the lapse index from that moment; after a
    # grace `consoles_lapsed` hands it out once. This state is not routing's: `flush` and a rebuild keep it.
    def console_beat(self, *, agent_id: int, console: str, now_ms: int, ttl_ms: int) -> None:
        """Register or refresh a live console of an agent until `now_ms + ttl_ms`."""
        raise NotImplementedError

    def console_close(self, *, agent_id: int, console: str, now_ms: int) -> int:
        """A console closed; returns how many live consoles the agent still has (0: its grace starts)."""
        raise NotImplementedError

    def console_expect(self, *, agent_id: int, now_ms: int) -> bool:
        """An agent should have a console (set to work by someone else, or the presence was lost with a
        restart): if they have none and their grace has not started, start it now. Returns whether it
        started."""
        raise NotImplementedError

    def console_count(self, *, agent_id: int, now_ms: int) -> int:
        """Live consoles of an agent (deadline not passed)."""
        raise NotImplementedError

    def consoles_lapsed(self, *, now_ms: int, grace_ms: int, limit: int = 500) -> list[int]:
        """Agents without a live console for at least `grace_ms` (the last closed, or the last deadline
        passed, at or before `now_ms - grace_ms`). Each such agent is handed out once, then forgotten until
        a console of theirs comes and goes again."""
        raise NotImplementedError

    # --- maintenance ----------------------------------------------------------------------------------
    def flush(self) -> None:
        """Forget everything this backend holds (and with it the mark that it is in step with MySQL)."""
        raise NotImplementedError

    def built(self) -> bool:
        """Whether the backend holds the state MySQL has (False once a shared store lost it, e.g. a Redis
        restarted empty, until `routing_rebuild` refills it). A backend that lives and dies with the
        process, like the memory one, is always in step."""
        return True

    def mark_built(self) -> None:
        """Say the state is loaded: decisions are allowed again (the last step of a rebuild)."""

    def rebuild_lock(self, *, ttl_s: float) -> str | None:
        """Take the rebuild lock without waiting: a token, or None when someone else holds it. Shared by
        every process using the same store; it lapses after `ttl_s` if its holder died."""
        return "local" if self._rebuild_mutex.acquire(blocking=False) else None

    def rebuild_unlock(self, token: str) -> None:
        self._rebuild_mutex.release()

    def restore(
        self, *, agents: Sequence[dict[str, Any]], items: Sequence[dict[str, Any]], seq: int, now_ms: int
    ) -> None:
        """Load agents and items as MySQL has them, making no decision.

        An agent dict has the keys of `agent_set`; an item dict those of `work_enqueue` plus `state`
        (waiting | assigned), `agent_id`, `policy` and `queued_ms`. `seq` is the last decision number
        MySQL saw; new decisions number after it.
        """
        raise NotImplementedError
