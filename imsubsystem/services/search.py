"""The message search's index kept whole: rebuilding the tokens of stored messages (the backfill after an
upgrade, `manage.py search_reindex`). New messages get theirs from the write path (services/messages.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from imsubsystem.models import Message, MessageToken
from imsubsystem.services.rows import message_tokens_write

REINDEX_BATCH = 1000


def messages_reindex(
    *, after_id: int = 0, batch_size: int = REINDEX_BATCH, progress: Callable[[int, int], None] | None = None
) -> int:
    """Write again the search tokens of every message with an id above `after_id`, `batch_size` messages
    per transaction, in id order; idempotent (a message's old rows go first), so an interrupted run is
    started again from the last id it reported. Each transaction holds only its batch's token rows: the
    message table is read, never locked, and the write path goes on meanwhile. `progress(messages, last
    id)` after each batch. Returns the number of messages."""
    done = 0
    while True:
        batch = list(Message.objects.filter(pk__gt=after_id).order_by("pk").values_list("pk", "text")[:batch_size])
        if not batch:
            return done
        first, last = batch[0][0], batch[-1][0]
        with transaction.atomic():
            MessageToken.objects.filter(message_id__gte=first, message_id__lte=last).delete()
            message_tokens_write(batch)
        done += len(batch)
        after_id = last
        if progress is not None:
            progress(len(batch), last)
