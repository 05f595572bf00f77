"""The gateway is the top-level app `gateway/` with the Django label it always had, and its Celery tasks
keep the names queued messages and beat schedules already hold (gateway/tasks.py)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings

from config.celery import app as celery_app
from gateway import tasks

TASK_NAMES = {
    tasks.inbound_event_process: "imsubsystem.gateway.tasks.inbound_event_process",
    tasks.platform_media_fetch: "imsubsystem.gateway.tasks.platform_media_fetch",
    tasks.outbox_drain: "imsubsystem.gateway.tasks.outbox_drain",
    tasks.gateway_sweep: "imsubsystem.gateway.tasks.gateway_sweep",
}


def test_the_app_keeps_its_label_so_migrations_and_permissions_stay_valid():
    config = apps.get_app_config("gateway")
    assert config.name == "gateway"
    assert config.get_model("OutboxItem")._meta.db_table == "gateway_outboxitem"


def test_tasks_keep_their_names_and_their_queue():
    for task, name in TASK_NAMES.items():
        assert task.name == name
        assert celery_app.tasks[name].run.__module__ == "gateway.tasks"
        route = celery_app.amqp.router.route({}, name, args=(), kwargs={})
        assert route["queue"].name == "gateway"
    assert settings.CELERY_BEAT_SCHEDULE["gateway-sweep"]["task"] in celery_app.tasks
