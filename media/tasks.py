"""Celery tasks: take ids and plain values, call one service."""

from __future__ import annotations

import random

from celery import shared_task
from django.conf import settings

from media import services
from media.models import Attachment, AttachmentStatus
from media.remote import RemoteFetchTemporary

BACKOFF_BASE_S = 5
BACKOFF_MAX_S = 600


def backoff_seconds(retries: int) -> float:
    """5 s, 10 s, 20 s ... up to 10 minutes, with jitter so retries of one outage do not arrive together."""
    return min(BACKOFF_BASE_S * 2**retries, BACKOFF_MAX_S) * random.uniform(0.8, 1.2)


@shared_task(bind=True, max_retries=None)
def fetch_remote_media(self, attachment_id: int, url: str, headers: dict | None = None):
    """Fetch a platform's media file into a pending attachment; the attachment ends ready or failed."""
    try:
        attachment = services.attachment_fetch_remote(attachment_id=attachment_id, url=url, headers=headers)
    except RemoteFetchTemporary as exc:
        attempts = self.request.retries + 1
        if attempts > settings.MEDIA_FETCH_MAX_RETRIES:
            pending = Attachment.objects.filter(pk=attachment_id, status=AttachmentStatus.PENDING).first()
            if pending is not None:
                services.attachment_mark_failed(attachment=pending, reason=f"Gave up after {attempts} attempts: {exc}")
            return "failed"
        if self.request.is_eager:
            # Run in-process (embedded profile, tests) there is no worker to come back later, and with
            # task_eager_propagates a raised Retry would reach the caller: Celery re-runs an eager task
            # at once when it returns its Retry instead.
            return self.retry(exc=exc, throw=False)
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from exc
    return attachment.status if attachment is not None else None


@shared_task
def purge_expired_attachments() -> int:
    return services.attachments_purge_expired()
