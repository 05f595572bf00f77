"""The integrator API's periodic work: forgetting idempotency keys after 24 hours."""

from __future__ import annotations

from celery import shared_task

from api import idempotency


@shared_task
def idempotency_keys_purge() -> int:
    return idempotency.purge_expired()
