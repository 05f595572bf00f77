"""Every staff socket (the agent console, the switch's supervisor socket, the dashboard's live snapshots)
is admitted by the one StaffSocket base (interface/sockets/staff.py): the same refusals, the same close codes,
the same frame handling."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from tests.supervisor.test_scope import _communicator

STAFF_PATHS = ["/ws/v1/agent/", "/ws/v1/supervisor/", "/ws/v1/supervisor/live/"]
SUPERVISOR_PATHS = STAFF_PATHS[1:]


async def _refusal(communicator) -> tuple[dict, int]:
    await communicator.connect()
    frame = json.loads(await communicator.receive_from(timeout=5))
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    await communicator.disconnect()
    return frame, closed["code"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", STAFF_PATHS)
async def test_anonymous_is_refused_with_4401(path):
    from config.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=[(b"host", b"testserver")])
    frame, code = await _refusal(communicator)
    assert (frame["type"], frame["code"], frame["detail"], code) == ("error", "auth_required", "Log in first.", 4401)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", STAFF_PATHS)
async def test_another_sites_page_is_refused_with_4403(teams, path):
    communicator = await sync_to_async(_communicator)(teams["sup_a"], origin="https://evil.example", path=path)
    frame, code = await _refusal(communicator)
    assert (frame["code"], frame["detail"], code) == ("origin_not_allowed", "This page may not open the socket.", 4403)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SUPERVISOR_PATHS)
async def test_an_agent_is_refused_from_the_supervisor_sockets(teams, path):
    communicator = await sync_to_async(_communicator)(teams["ag_a"], path=path)
    frame, code = await _refusal(communicator)
    assert (frame["code"], code) == ("forbidden", 4403)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SUPERVISOR_PATHS)
async def test_the_supervisor_sockets_take_ping_and_refuse_anything_else_staying_open(teams, path):
    communicator = await sync_to_async(_communicator)(teams["sup_a"], path=path)
    connected, _ = await communicator.connect()
    assert connected
    for text, expected in (
        ("not json", ("error", "bad_json")),
        (json.dumps({"type": "message.send", "client_id": "c1", "text": "hi"}), ("error", "unknown_type")),
        (json.dumps({"type": "ping"}), ("pong", None)),
    ):
        await communicator.send_to(text_data=text)
        while True:
            frame = json.loads(await communicator.receive_from(timeout=5))
            if frame["type"] in ("error", "pong"):
                break
        assert (frame["type"], frame.get("code")) == expected
    await communicator.disconnect()
