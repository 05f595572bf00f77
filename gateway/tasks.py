"""Celery tasks of the gateway (queue "gateway", CELERY_TASK_ROUTES). Each takes ids and calls a service
(inbound.py, platform_media.py, outbox.py).

Their names keep the gateway's former module path (`imsubsystem.gateway.tasks.*`): a task's name is what
the broker's queued messages and the beat schedule store, so renaming would strand the tasks queued by a
running release. The names are not imports; the module lives in `gateway/` (docs/gateway.md)."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.conf import settings

from core.inprocess import defer
from gateway import inbound, outbox, platform_media, selectors
from gateway.base import SendError
from media.remote import RemoteFetchTemporary

logger = logging.getLogger(__name__)

INBOUND_MAX_RETRIES = 10


@shared_task(
    name="imsubsystem.gateway.tasks.inbound_event_process",
    autoretry_for=(Exception,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=INBOUND_MAX_RETRIES,
)
def inbound_event_process(event_id: int) -> None:
    inbound.inbound_event_process(event_id=event_id, on_media=platform_media_fetch_later)


@shared_task(bind=True, name="imsubsystem.gateway.tasks.platform_media_fetch", max_retries=6)
def platform_media_fetch(self, attachment_id: int, inbox_id: int, ref: dict) -> None:
    """Fetch a platform's file into its pending attachment, with retries and backoff; after the last
    attempt the attachment is marked failed with the reason, so the agent sees it (never "downloading"
    for ever)."""
    attempts = 0
    while True:
        try:
            platform_media.platform_media_fetch(attachment_id=attachment_id, inbox_id=inbox_id, ref=ref)
            return
        except (RemoteFetchTemporary, SendError) as exc:
            reason = getattr(exc, "reason", "") or str(exc)
            if isinstance(exc, SendError) and exc.permanent:
                platform_media.platform_media_failed(attachment_id=attachment_id, reason=reason)
                return
            attempts += 1
            made = self.request.retries + attempts
            if made > self.max_retries:
                platform_media.platform_media_failed(
                    attachment_id=attachment_id, reason=f"Gave up after {made} attempts: {reason}"
                )
                return
            if not self.request.is_eager:
                raise self.retry(exc=exc, countdown=min(600, 5 * 2**self.request.retries)) from exc
            # Run in-process (the embedded profile): there is no worker to come back later.
            time.sleep(min(2.0, 0.25 * 2**attempts))


@shared_task(name="imsubsystem.gateway.tasks.outbox_drain")
def outbox_drain(conversation_id: int) -> None:
    wait = outbox.outbox_drain(conversation_id=conversation_id)
    # Eager mode (the embedded profile) would run the countdown at once, in a loop: there the timer loop's
    # gateway-sweep (every GATEWAY_SWEEP_S) sends the row when it is due.
    if wait is not None and not settings.CELERY_TASK_ALWAYS_EAGER:
        outbox_drain.apply_async(args=[conversation_id], countdown=wait)


@shared_task(name="imsubsystem.gateway.tasks.gateway_sweep")
def gateway_sweep() -> None:
    """Every 30 s (CELERY_BEAT_SCHEDULE): restart drains whose task was lost or whose worker died, and
    events whose processing never finished."""
    # One conversation or event that fails (eager mode runs it right here) never stops the others.
    for conversation_id in selectors.outbox_conversations_due():
        try:
            defer(outbox_drain, conversation_id)
        except Exception:
            logger.exception("gateway sweep: the drain of conversation %s failed", conversation_id)
    for event_id in selectors.inbound_events_stalled(max_attempts=INBOUND_MAX_RETRIES):
        try:
            defer(inbound_event_process, event_id)
        except Exception:
            logger.exception("gateway sweep: inbound event %s failed", event_id)


# Each of these hands its work to a worker (core/inprocess.py: background threads in the embedded
# default), so the caller (a webhook's answer, an agent's send) never waits for a platform.
def inbound_event_process_later(event_id: int) -> None:
    defer(inbound_event_process, event_id)


def platform_media_fetch_later(attachment_id: int, inbox_id: int, ref: dict) -> None:
    defer(platform_media_fetch, attachment_id, inbox_id, ref)


def outbox_drain_later(conversation_id: int) -> None:
    defer(outbox_drain, conversation_id)
