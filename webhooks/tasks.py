"""Celery tasks of the webhooks (queue "webhooks", CELERY_TASK_ROUTES). Each takes ids and calls
outbox.py."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from core.inprocess import defer
from webhooks import outbox

logger = logging.getLogger(__name__)


@shared_task(name="webhooks.tasks.deliveries_drain")
def deliveries_drain(pairs: list[list]) -> None:
    """Send the pending rows of each (subscription id, ordering key); one that must wait for a retry is
    scheduled again when it is due (in eager mode, the embedded default, the sweep sends it)."""
    for subscription_id, ordering_key in pairs:
        try:
            wait = outbox.deliveries_drain(subscription_id=int(subscription_id), ordering_key=str(ordering_key))
        except Exception:  # one key's fault never stops the others; the sweep comes back to it
            logger.exception("webhooks: draining %s/%s failed", subscription_id, ordering_key)
            continue
        if wait is not None and not settings.CELERY_TASK_ALWAYS_EAGER:
            deliveries_drain.apply_async(args=[[[subscription_id, ordering_key]]], countdown=wait)


@shared_task(name="webhooks.tasks.webhooks_sweep")
def webhooks_sweep() -> None:
    """Every WEBHOOK_SWEEP_S (CELERY_BEAT_SCHEDULE): drains whose task was lost, and retries that are due."""
    pairs = outbox.pairs_due()
    for start in range(0, len(pairs), 50):
        try:
            defer(deliveries_drain, [list(p) for p in pairs[start : start + 50]])
        except Exception:
            logger.exception("webhooks sweep: a drain failed")


def drain_later(pairs: list[list]) -> None:
    """After commit: one task for the whole batch, on a worker (core/inprocess.py in the embedded default),
    so the change's caller never waits for a receiver."""
    defer(deliveries_drain, pairs)
