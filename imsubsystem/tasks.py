"""The switch's periodic job: snoozed conversations whose time came wake (Celery beat in production, the
embedded default's timer loop otherwise; config/settings.py, CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from imsubsystem import services


@shared_task(name="imsubsystem.snoozes_wake", ignore_result=True)
def snoozes_wake() -> int:
    return services.snoozes_wake()
