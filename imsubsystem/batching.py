"""Hands the customer messages of every socket in a process to the database together.

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
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings

from core.errors import database_unreachable
from imsubsystem.ratelimit import customer_identity, message_rate_take_many, rate_limited_error
from imsubsystem.services import customer_messages_send_many

logger = logging.getLogger(__name__)

MAX_BATCH = 200


class Batcher:
    """Up to `workers` batches in the database at once, each on its own thread and connection: while
    one waits for MySQL (a commit's flush, a lock) the next is built. Batches that share a conversation
    still go one after the other: each locks its conversation rows first, in id order."""

    def __init__(self, run_many: Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]], workers: int = 1) -> None:
        self.workers = max(1, workers)
        self.pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        self.running: set[asyncio.Task] = set()
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sb-batch")
        # DatabaseSyncToAsync: stale connections closed before and after; the thread knows the calling
        # loop, so what the batch publishes on commit is handed back to that loop (services/publish.py, _group_send).
        self.run_many = DatabaseSyncToAsync(run_many, thread_sensitive=False, executor=self.executor)

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


def customer_messages_admit_and_send(requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each request's message from its customer's rate bucket (one Redis round trip for the batch; the
    same bucket as the widget HTTP API's), then the admitted ones stored together. A refused request is
    answered {"error": "rate_limited", "detail", "retry_after_s"}. A request is charged once: when a
    failed batch goes again one by one, or comes back as `fallback`, it is not charged again."""
    uncharged = [request for request in requests if "rate_wait" not in request]
    waits = message_rate_take_many([customer_identity(request["contact_id"]) for request in uncharged])
    for request, wait in zip(uncharged, waits, strict=True):
        request["rate_wait"] = wait
    admitted = [request for request in requests if not request["rate_wait"]]
    stored = iter(customer_messages_send_many(requests=admitted) if admitted else [])
    results = []
    for request in requests:
        if request["rate_wait"]:
            refused = rate_limited_error(request["rate_wait"])
            results.append({"error": refused.code, "detail": refused.detail, "retry_after_s": refused.retry_after_s})
        else:
            results.append(next(stored))
    return results


def customer_message_batcher() -> Batcher:
    """This event loop's batcher of widget messages (one per loop: a daphne process has one)."""
    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = Batcher(
            customer_messages_admit_and_send, workers=getattr(settings, "IM_BATCH_WORKERS", 1)
        )
    return batcher
