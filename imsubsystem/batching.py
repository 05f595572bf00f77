"""Hands the customer messages of every socket in a process to the database together.

Per message, the switch's Python work (queries built, rows locked, a transaction committed) is the
limit, not MySQL (docs/performance.md). While one batch is in the database, the messages that arrive
wait and then go together in the next one: under light load a batch is one message and nothing waits
for a timer; under heavy load one transaction and one thread hop carry hundreds. A socket awaits its
own result before it reads its next frame, so a customer's messages keep their order.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from channels.db import database_sync_to_async

MAX_BATCH = 200


class Batcher:
    def __init__(self, run_many: Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        self.run_many = run_many
        self.pending: list[tuple[dict[str, Any], asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((request, future))
        if self.task is None or self.task.done():
            self.task = loop.create_task(self.drain())
        return await future

    async def drain(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
            try:
                results = await database_sync_to_async(self.run_many)([request for request, _ in batch])
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
        batcher = _batchers[loop] = Batcher(lambda requests: customer_messages_send_many(requests=requests))
    return batcher
