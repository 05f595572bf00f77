"""Reads that may lag: the one way a read goes to the MySQL replica (docs/deployment.md, "A replica for
reports").

The rule is explicit, never guessed from the model: a read goes to the replica only inside
`reads_that_may_lag()` (or a function decorated with `may_lag`), and only when a replica is configured
(`DATABASE_REPLICA_URL`, the `replica` alias) and answers. Everything else, every write, every read a
console, widget or socket makes, and every migration, goes to the primary (`default`), so a client never
reads less than it was acknowledged. The supervisor's reports, their CSV export and the staffing plan
(supervisor.stats.reports and .staffing) are the reads that may lag.

`ReplicaRouter` (settings.DATABASE_ROUTERS) enforces the rule for the ORM: writes always go to the
primary, reads to the replica only inside the block, migrations only to the primary.

A replica that does not answer (refused, or no answer within DATABASE_REPLICA_CONNECT_TIMEOUT) is left
alone for DATABASE_REPLICA_RETRY_S seconds: the reads that may lag go to the primary meanwhile. The
process logs the change once each way and counts every read sent to the primary instead
(`switchboard_replica_fallback_reads_total`, core/metrics.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from core.errors import database_unreachable
from core.metrics import REPLICA_FALLBACK_READS

logger = logging.getLogger(__name__)

REPLICA = "replica"

# The alias reads go to in this context: set only inside reads_that_may_lag().
_reading: contextvars.ContextVar[str | None] = contextvars.ContextVar("switchboard_reading", default=None)

T = TypeVar("T")


class _Health:
    """This process's view of the replica: up, or down until a moment (monotonic clock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_until = 0.0
        self.down_since: float | None = None  # wall clock, for the dashboard
        self.reason = ""

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def mark_down(self, exc: BaseException) -> None:
        retry_s = float(getattr(settings, "DATABASE_REPLICA_RETRY_S", 10.0))
        with self.lock:
            first = self.down_since is None
            self.down_until = time.monotonic() + retry_s
            self.reason = str(exc)[:200]
            if first:
                self.down_since = time.time()
        if first:
            logger.warning("Replica down (%s): reports read the primary until it answers again.", self.reason)

    def mark_up(self) -> None:
        with self.lock:
            was_down = self.down_since is not None
            self.down_since = None
            self.down_until = 0.0
            self.reason = ""
        if was_down:
            logger.warning("Replica answers again: reports read the replica.")


HEALTH = _Health()


def replica_configured() -> bool:
    """Whether a replica is configured (the `replica` alias exists)."""
    return REPLICA in connections.settings


def replica_down() -> dict[str, Any] | None:
    """{since (epoch seconds), reason} while this process reads the primary for want of the replica."""
    if HEALTH.down_since is None:
        return None
    return {"since": HEALTH.down_since, "reason": HEALTH.reason}


def _close_quietly(alias: str) -> None:
    with contextlib.suppress(Exception):
        connections[alias].close()


def replica_check() -> bool:
    """Whether the replica answers now (a connection, then a ping): marks it up or down accordingly. The
    connect is bounded by DATABASE_REPLICA_CONNECT_TIMEOUT (its `connect_timeout`)."""
    connection = connections[REPLICA]
    try:
        connection.ensure_connection()
        if not connection.is_usable():
            _close_quietly(REPLICA)
            connection.ensure_connection()
    except DatabaseError as exc:
        _close_quietly(REPLICA)
        HEALTH.mark_down(exc)
        return False
    HEALTH.mark_up()
    return True


def replica_alias() -> str:
    """The alias reads that may lag should use now: `replica` when configured and answering, else
    `default` (counted as a fallback when a replica is configured)."""
    if not replica_configured():
        return DEFAULT_DB_ALIAS
    if HEALTH.usable() and replica_check():
        return REPLICA
    REPLICA_FALLBACK_READS.inc()
    return DEFAULT_DB_ALIAS


@contextlib.contextmanager
def reads_that_may_lag() -> Iterator[str]:
    """Inside the block the ORM's reads go to the replica (when one is configured and answers; else to the
    primary); writes still go to the primary. Yields the alias chosen. Use it only for reads whose reader
    accepts figures a few seconds old: never for what a console, widget or socket shows."""
    alias = replica_alias()
    token = _reading.set(alias)
    try:
        yield alias
    finally:
        _reading.reset(token)


def may_lag(function: Callable[..., T]) -> Callable[..., T]:
    """Runs `function` inside reads_that_may_lag(); if the replica stops answering half way, marks it
    down and runs `function` again on the primary (a read only: running it again changes nothing)."""

    @wraps(function)
    def wrapped(*args, **kwargs):
        if _reading.get() is not None:  # already inside a block: one decision per read
            return function(*args, **kwargs)
        with reads_that_may_lag() as alias:
            if alias == DEFAULT_DB_ALIAS:
                return function(*args, **kwargs)
            try:
                return function(*args, **kwargs)
            except DatabaseError as exc:
                if not database_unreachable(exc):
                    raise
                _close_quietly(REPLICA)
                HEALTH.mark_down(exc)
        REPLICA_FALLBACK_READS.inc()
        token = _reading.set(DEFAULT_DB_ALIAS)
        try:
            return function(*args, **kwargs)
        finally:
            _reading.reset(token)

    return wrapped


class ReplicaRouter:
    """settings.DATABASE_ROUTERS: the primary for everything but the reads inside reads_that_may_lag()."""

    def db_for_read(self, model, **hints) -> str:
        return _reading.get() or DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # one set of data, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS
