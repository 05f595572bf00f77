"""A supervisor sees and acts on their teams' queues only, over HTTP and over the live socket."""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from crm.roles import ADMIN
from imsubsystem.events import frame_validate
from imsubsystem.models import ConversationStatus as S
from supervisor.selectors import queue_ids_visible
from tests.factories import ContactFactory, ConversationFactory, UserFactory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_queue_scope_follows_teams(teams):
    assert queue_ids_visible(user=teams["sup_a"]) == {teams["sales"].pk}
    assert queue_ids_visible(user=teams["sup_b"]) == {teams["support"].pk}
    admin = UserFactory(username="boss", role=ADMIN)
    assert queue_ids_visible(user=admin) >= {teams["sales"].pk, teams["support"].pk}
    assert queue_ids_visible(user=teams["ag_a"]) == frozenset()


def test_snapshot_over_http_holds_only_team_queues_and_agents(teams):
    body = client_for(teams["sup_a"]).get("/supervisor/api/snapshot").json()
    assert [q["name"] for q in body["queues"]] == ["Sales"]
    assert [a["agent_id"] for a in body["agents"]] == [teams["ag_a"].pk]
    admin = UserFactory(username="boss", role=ADMIN)
    body = client_for(admin).get("/supervisor/api/snapshot").json()
    assert {q["name"] for q in body["queues"]} >= {"Sales", "Support"}


def test_pages_refuse_agents_and_anonymous(teams):
    assert client_for(teams["ag_a"]).get("/supervisor/").status_code == 403
    assert client_for(teams["ag_a"]).get("/supervisor/api/snapshot").status_code == 403
    assert Client().get("/supervisor/").status_code == 302
    page = client_for(teams["sup_a"]).get("/supervisor/")
    assert page.status_code == 200
    assert b"Supervisor dashboard" in page.content and b"sv-config" in page.content


def test_other_teams_conversation_is_not_found(teams):
    theirs = ConversationFactory(inbox=teams["support_inbox"], contact=ContactFactory(), status=S.QUEUED)
    mine = ConversationFactory(inbox=teams["sales_inbox"], contact=ContactFactory(), status=S.QUEUED)
    sup_a = client_for(teams["sup_a"])
    assert sup_a.get(f"/supervisor/api/conversations/{theirs.pk}").status_code == 404
    assert sup_a.get(f"/supervisor/conversations/{theirs.pk}/").status_code == 404
    assert sup_a.get(f"/supervisor/api/conversations/{mine.pk}").status_code == 200
    listed = sup_a.get("/supervisor/api/conversations").json()["conversations"]
    assert [c["id"] for c in listed] == [mine.pk]


def test_reports_and_csv_hold_only_team_queues(teams):
    ConversationFactory(inbox=teams["support_inbox"], contact=ContactFactory(), status=S.QUEUED)
    from django.utils import timezone

    from imsubsystem.models import Conversation

    Conversation.objects.update(first_queued_at=timezone.now(), queued_at=timezone.now())
    sup_a, sup_b = client_for(teams["sup_a"]), client_for(teams["sup_b"])
    assert b"Support" not in sup_a.get("/supervisor/reports.csv").content
    assert b"Support" in sup_b.get("/supervisor/reports.csv").content
    # Asking for another team's queue by id is refused by the form (not one of the choices).
    response = sup_a.get("/supervisor/reports/", {"queue": teams["support"].pk})
    assert response.status_code == 200 and response.context["rows"] is None


def _communicator(user, origin: str | None = None, path: str = "/ws/v1/supervisor/live/"):
    from config.asgi import application

    headers = [
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={client_for(user).cookies['sessionid'].value}".encode()),
    ]
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def _first_snapshot(communicator) -> dict:
    while True:
        frame = json.loads(await communicator.receive_from(timeout=5))
        if frame["type"] == "supervisor.snapshot":
            return frame


@pytest.mark.django_db(transaction=True)
async def test_live_socket_sends_only_team_queues(teams):
    from asgiref.sync import sync_to_async

    communicator = await sync_to_async(_communicator)(teams["sup_b"])
    connected, _ = await communicator.connect()
    assert connected
    ready = json.loads(await communicator.receive_from(timeout=5))
    assert ready["type"] == "supervisor.ready"
    snapshot = await _first_snapshot(communicator)
    assert [q["name"] for q in snapshot["queues"]] == ["Support"]
    assert [a["agent_id"] for a in snapshot["agents"]] == [teams["ag_b"].pk]
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    while (frame := json.loads(await communicator.receive_from(timeout=5)))["type"] != "pong":
        assert frame["type"] == "supervisor.snapshot"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_live_socket_refuses_agents_and_other_sites(teams):
    from asgiref.sync import sync_to_async

    communicator = await sync_to_async(_communicator)(teams["ag_a"])
    await communicator.connect()
    frame = json.loads(await communicator.receive_from(timeout=5))
    assert (frame["type"], frame["code"]) == ("error", "forbidden")
    assert (await communicator.receive_output(timeout=5))["type"] == "websocket.close"
    await communicator.disconnect()

    communicator = await sync_to_async(_communicator)(teams["sup_a"], origin="https://evil.example")
    await communicator.connect()
    frame = json.loads(await communicator.receive_from(timeout=5))
    assert frame["code"] == "origin_not_allowed"
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_switch_supervisor_socket_keeps_to_the_team_too(teams):
    """/ws/v1/supervisor/ (CONTRACT.md's queue.stats) shows a supervisor only their teams' queues."""
    from asgiref.sync import sync_to_async

    communicator = await sync_to_async(_communicator)(teams["sup_a"], path="/ws/v1/supervisor/")
    connected, _ = await communicator.connect()
    assert connected
    ready = json.loads(await communicator.receive_from(timeout=5))
    assert ready["type"] == "supervisor.ready"
    stats = json.loads(await communicator.receive_from(timeout=5))
    assert stats["type"] == "queue.stats"
    frame_validate(stats, direction="server")  # CONTRACT's queue.stats, from the supervisor's statistics
    assert [q["name"] for q in stats["queues"]] == ["Sales"]
    assert [a["agent_id"] for a in stats["agents"]] == [teams["ag_a"].pk]
    await communicator.disconnect()
