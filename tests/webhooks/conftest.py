"""A local receiver (the gateway tests' stand-in HTTP server on 127.0.0.1, let through the outbound guard
for its host and port only) and helpers to subscribe it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import InboxFactory
from tests.gateway.conftest import Reply, StandIn, allow_outbound
from tests.security.conftest import teams  # noqa: F401 (the two teams' fixture, used by the tests here)
from webhooks import services, tasks
from webhooks.models import EventType, WebhookDelivery

ALL_TYPES = list(EventType.values)


@pytest.fixture
def receiver(settings):
    server = StandIn()
    server.default = Reply(200, {"ok": True})
    allow_outbound(settings, server.url)
    yield server
    server.close()


@pytest.fixture
def subscribe(receiver):
    def make(types=None, *, team=None, path="/hook", **extra):
        data = {
            "name": f"sub {path}",
            "target_url": receiver.url + path,
            "event_types": list(types or ALL_TYPES),
            "team_id": team.pk if team else None,
            **extra,
        }
        return services.subscription_create(data=data)

    return make


@pytest.fixture
def inbox(db):
    return InboxFactory(kind="web", key="hooks-web")


def make_due() -> None:
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def sweep(capture) -> None:
    """What beat (or the embedded timer loop) does every WEBHOOK_SWEEP_S, with every pending row due."""
    make_due()
    with capture(execute=True):
        tasks.webhooks_sweep()
