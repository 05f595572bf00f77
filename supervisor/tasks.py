"""The supervisor app's Celery tasks."""

from __future__ import annotations

from celery import shared_task

from supervisor.replica import heartbeat_write


@shared_task(name="supervisor.replica_heartbeat", ignore_result=True)
def replica_heartbeat() -> None:
    """Beat's heartbeat row on the primary, read on the replica for the dashboard's lag (with a replica)."""
    heartbeat_write()
