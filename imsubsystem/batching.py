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
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import DatabaseSyncToAsync
from django.conf import settings

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
        # loop, so what the batch publishes on commit is handed back to that loop (services._group_send).
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
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


_batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Batcher] = weakref.WeakKeyDictionary()


def customer_message_batcher() -> Batcher:
    """This event loop's batcher of widget messages (one per loop: a daphne process has one)."""
    from imsubsystem.services import customer_messages_send_many

    loop = asyncio.get_running_loop()
    batcher = _batchers.get(loop)
    if batcher is None:
        batcher = _batchers[loop] = Batcher(
            lambda requests: customer_messages_send_many(requests=requests),
            workers=getattr(settings, "IM_BATCH_WORKERS", 1),
        )
    return batcher
