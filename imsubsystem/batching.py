"""Hands the messages of every socket in a process (customers' from the widget, agents' from the console)
to the database together.

Per message, the switch's Python work (queries built, rows locked, a transaction committed) is the
limit, not MySQL (docs/performance.md). While one batch is in the database, the messages that arrive
wait and then go together in the next one: under light load a batch is one message and nothing waits
for a timer; under heavy load one transaction and one thread hop carry hundreds. A socket awaits its
own result before it reads its next frame, so a customer's messages keep their order. The batches run
on threads of their own (`IM_BATCH_WORKERS`), not on Channels' one database thread, so the other
sockets' database work is not queued behind them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import close_old_connections, connections

from core.errors import database_unreachable
from imsubsystem import selectors
from imsubsystem.ratelimit import agent_identity, customer_identity, message_rate_take_many, rate_limited_error
from imsubsystem.services import agent_sends_refused, messages_send_many

logger = logging.getLogger(__name__)

MAX_BATCH = 200


HEALTH_CHECK_EVERY_S = 1.0


class _BatchCall(DatabaseSyncToAsync):
    """DatabaseSyncToAsync whose connection health check (CONN_HEALTH_CHECKS: a ping, one more round trip
    to MySQL, and on a busy process a wait for the GIL after it) runs at most once a second on a batch
    thread instead of before every batch: under load batches follow each other every few milliseconds on
    a connection just proven live. A connection that failed is still closed after the batch (Django's
    `close_old_connections`: errors, then a failed ping) and the next batch opens a new one; one that died
    unnoticed within the second fails its batch, whose sockets close with 4012 and send again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked_at = threading.local()  # per batch thread: database alias -> when last checked

    def thread_handler(self, loop, *args, **kwargs):
        close_old_connections()
        now = time.monotonic()
        checked_at = self.checked_at.__dict__
        for conn in connections.all(initialized_only=True):
            if conn.connection is None:
                continue
            if now - checked_at.get(conn.alias, -HEALTH_CHECK_EVERY_S) < HEALTH_CHECK_EVERY_S:
                conn.health_check_done = True
            else:
                checked_at[conn.alias] = now  # checked at the connection's first use in this batch
        try:
            return SyncToAsync.thread_handler(self, loop, *args, **kwargs)
        finally:
            close_old_connections()


class Batcher:
    """Up to `workers` batches in the database at once, each on its own thread and connection: while
    one waits for MySQL (a commit's flush, a lock) the next is built. Batches that share a conversation
    still go one after the other: each locks its conversation rows first, in id order."""

    def __init__(self, run_many: Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]], workers: int = 1) -> None:
        self.workers = max(1, workers)
        self.pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        self.running: set[asyncio.Task] = set()
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sb-batch")
        # Stale connections closed before and after, the health check at most once a second (_BatchCall);
        # the thread knows the calling loop, so what the batch publishes on commit is handed back to that
        # loop (services/publish.py, _group_send).
        self.run_many = _BatchCall(run_many, thread_sensitive=False, executor=self.executor)

    async def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((request, future))
        if len(self.running) < self.workers:
            task = loop.create_task(self.drain())
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        return await future

    async def drain(self) -> None:
        try:
            await self._drain()
        finally:
            # Not counted running from the moment it last found `pending` empty: the done-callback discards
            # it only a turn of the event loop later, and a message submitted in that turn (another
            # socket's frame handled in it) would start no batch and wait, unstored and unacknowledged,
            # for a later message that may never come (the last of a burst).
            self.running.discard(asyncio.current_task())

    async def _drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            try:
                results = await self.run_many([request for request, _ in batch])
            except Exception as exc:
                # One message alone, or MySQL away (each would fail again, one connection attempt after
                # another): every socket hears of its own (`internal`, or a 4012 close and a resend).
                if len(batch) == 1 or database_unreachable(exc):
                    self._fail(batch, exc)
                    continue
                # One request can fail a whole transaction (the batch rolled back: nothing was stored).
                # Each goes again alone, so a bad one fails with its own error and the others are stored.
                logger.exception("A batch of %d messages failed; storing them one by one", len(batch))
                await self._one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch: list[tuple[dict[str, Any], asyncio.Future]]) -> None:
        for request, future in batch:
            try:
                (result,) = await self.run_many([request])
            except Exception as exc:
                self._fail([(request, future)], exc)
                continue
            if not future.done():
                future.set_result(result)

    @staticmethod
    def _fail(batch: list[tuple[dict[str, Any], asyncio.Future]], exc: BaseException) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Batcher] = weakref.WeakKeyDictionary()


def _identity(request: dict[str, Any]) -> str:
    if request.get("kind") == "agent":
        return agent_identity(request["user_id"])
    return customer_identity(request["contact_id"])


def messages_admit_and_send(requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customers' and agents' messages as the single paths take them, in order: an agent's must be to a
    conversation the visibility rule lets them touch (`not_found` otherwise, and nothing charged);
    then each message from its sender's rate bucket (one Redis round trip for the batch; the same
    buckets as the widget's and the console's HTTP APIs); then the admitted ones stored together
    (services.messages_send_many). A refused request is answered {"error", "detail"} (and
    "retry_after_s" for `rate_limited`). A request is checked and charged once: when a failed batch goes
    again one by one, or a customer's comes back as `fallback`, it is not charged again. An agent's
    message with files comes back with its links signed for the sender ("viewer")."""
    unchecked = [r for r in requests if r.get("kind") == "agent" and "refused" not in r]
    for request, refused in zip(unchecked, agent_sends_refused(unchecked) if unchecked else [], strict=True):
        request["refused"] = refused
    uncharged = [r for r in requests if not r.get("refused") and "rate_wait" not in r]
    waits = message_rate_take_many([_identity(request) for request in uncharged])
    for request, wait in zip(uncharged, waits, strict=True):
        request["rate_wait"] = wait
    admitted = [r for r in requests if not r.get("refused") and not r["rate_wait"]]
    stored = iter(messages_send_many(requests=admitted) if admitted else [])
    results = []
    for request in requests:
        if request.get("refused"):
            results.append(request["refused"])
        elif request["rate_wait"]:
            refused = rate_limited_error(request["rate_wait"])
            results.append({"error": refused.code, "detail": refused.detail, "retry_after_s": refused.retry_after_s})
        else:
            result = next(stored)
            if request.get("viewer") and "message" in result and result["message"]["attachments"]:
                result = {
                    **result,
                    "message": selectors.payload_for_viewer(result["message"], viewer=request["viewer"]),
                }
            results.append(result)
    return results


def message_batcher() -> Batcher:
    """This event loop's batcher of the sockets' messages, widget and console alike (one per loop: a
    daphne process has one)."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = Batcher(messages_admit_and_send, workers=getattr(settings, "IM_BATCH_WORKERS", 1))
    return batcher
