"""The same message limits on every transport, keyed by who sends, not by how: a customer's widget socket
and widget HTTP calls draw on one bucket, an agent's socket, console HTTP and supervisor notes on one,
an API-channel sender's webhooks on one. Over the limit: 429 with Retry-After over HTTP, an error frame
`rate_limited` with `retry_after_s` on a socket; nothing is stored."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from gateway.api import sign
from gateway.models import InboundEvent
from imsubsystem.models import Conversation, Message
from tests.factories import InboxFactory
from tests.gateway.conftest import (
    Reply,
    stand_in,  # noqa: F401 - fixtures of the switch's own tests
)
from tests.gateway.test_templates import TEMPLATES, wa_ok
from tests.gateway.test_whatsapp import signed, wa_message, webhook_body
from tests.imsubsystem.conftest import (  # noqa: F401
    _no_bots,
    frame_log,
    inbox,
    make_agent,
    queue,
    receive_until,
    routing_backend,
    staff_communicator,
    supervisor_user,
    widget_communicator,
    widget_session,
)

BURST = 4


@pytest.fixture(autouse=True)
def _small_buckets(settings):
    # Four at once and next to no refill, so the test never waits and never races the clock.
    limits = {"burst": BURST, "per_s": 0.001}
    settings.IM_MESSAGE_RATE_LIMITS = {"customer": limits, "agent": limits, "api": limits}


def _widget_http(token: str, text: str, client_id: str | None = None):
    return Client().post(
        "/api/v1/widget/messages",
        json.dumps({"client_id": client_id or str(uuid.uuid4()), "text": text}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_ORIGIN="https://shop.example",
    )


async def _widget_socket(token: str):
    communicator = widget_communicator()
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps({"type": "auth", "token": token, "after_seq": 0}))
    await receive_until(communicator, "ready")
    return communicator


async def _socket_send(communicator, frame: dict) -> dict:
    """Send a message.send and return its answer: the ack or the error."""
    await communicator.send_to(text_data=json.dumps(frame))
    while True:
        answer = await communicator.receive_json_from(timeout=5)
        if answer["type"] in ("message.ack", "error") and answer.get("client_id") == frame["client_id"]:
            return answer


def _assert_429(response) -> None:
    assert response.status_code == 429, response.content[:300]
    assert int(response["Retry-After"]) >= 1


def _code(response) -> str:
    return response.json()["error"]["code"]


@pytest.mark.django_db
def test_widget_http_has_the_socket_limit(widget_session):
    token, _ = widget_session
    assert [_widget_http(token, f"m{n}").status_code for n in range(BURST)] == [201] * BURST
    refused = _widget_http(token, "one too many")
    _assert_429(refused)
    assert _code(refused) == "rate_limited"
    assert Message.objects.count() == BURST


@pytest.mark.django_db(transaction=True)
async def test_widget_socket_limit_per_customer_across_sockets(widget_session):
    token, _ = widget_session
    first, second = await _widget_socket(token), await _widget_socket(token)  # two tabs, one customer
    answers = []
    for n in range(BURST + 1):
        socket = first if n % 2 else second
        answers.append(await _socket_send(socket, {"type": "message.send", "client_id": f"c{n}", "text": f"m{n}"}))
    assert [a["type"] for a in answers] == ["message.ack"] * BURST + ["error"]
    assert answers[-1]["code"] == "rate_limited" and answers[-1]["retry_after_s"] >= 1
    await first.disconnect()
    await second.disconnect()
    assert await database_sync_to_async(Message.objects.count)() == BURST


@pytest.mark.django_db(transaction=True)
async def test_alternating_http_and_socket_does_not_double_the_budget(widget_session):
    token, _ = widget_session
    socket = await _widget_socket(token)
    statuses = []
    for n in range(BURST):
        if n % 2:
            answer = await _socket_send(socket, {"type": "message.send", "client_id": f"s{n}", "text": f"m{n}"})
            statuses.append(answer["type"])
        else:
            statuses.append((await database_sync_to_async(_widget_http)(token, f"m{n}")).status_code)
    assert statuses == [201, "message.ack", 201, "message.ack"]
    refused = await _socket_send(socket, {"type": "message.send", "client_id": "s-over", "text": "over"})
    assert refused["type"] == "error" and refused["code"] == "rate_limited"
    _assert_429(await database_sync_to_async(_widget_http)(token, "over"))
    await socket.disconnect()
    assert await database_sync_to_async(Message.objects.count)() == BURST


def _whatsapp_conversation(client, stand_in) -> Conversation:
    InboxFactory(
        kind="whatsapp",
        key="wa-rl",
        config={"phone_number_id": "55", "api_base_url": stand_in.url, "templates": TEMPLATES},
        credentials={"access_token": "t", "app_secret": "wa-app-secret", "verify_token": "v"},
    )
    body = webhook_body(messages=[wa_message("text", {"body": "hello"}, ts=str(int(time.time())))])
    client.post(
        "/gateway/whatsapp/wa-rl/",
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=signed(body)["X-Hub-Signature-256"],
    )
    return Conversation.objects.get()


@pytest.mark.django_db(transaction=True)
async def test_an_agent_has_one_budget_over_socket_console_http_and_supervisor_notes(admin_user, stand_in):
    stand_in.default = wa_ok
    http = Client()
    await database_sync_to_async(http.force_login)(admin_user)
    conversation = await database_sync_to_async(_whatsapp_conversation)(http, stand_in)

    def template(client_id: str):
        return http.post(
            f"/api/v1/agent/conversations/{conversation.pk}/template",
            json.dumps({"name": "hello_again", "language": "de", "params": [], "client_id": client_id}),
            content_type="application/json",
        )

    def note(text: str):
        return http.post(
            f"/supervisor/api/conversations/{conversation.pk}/notes",
            json.dumps({"text": text, "client_id": str(uuid.uuid4())}),
            content_type="application/json",
        )

    socket = await database_sync_to_async(staff_communicator)(admin_user)
    assert (await socket.connect())[0]
    await receive_until(socket, "agent.ready")

    def frame(client_id: str) -> dict:
        return {"type": "message.send", "conversation_id": conversation.pk, "client_id": client_id, "text": "hi"}

    assert (await _socket_send(socket, frame("a1")))["type"] == "message.ack"
    assert (await database_sync_to_async(template)("t1")).status_code == 201
    assert (await database_sync_to_async(note)("a note")).status_code == 201
    assert (await _socket_send(socket, frame("a2")))["type"] == "message.ack"
    # The budget of four is spent, whichever way the fifth comes.
    refused = await _socket_send(socket, frame("a3"))
    assert refused["code"] == "rate_limited" and refused["retry_after_s"] >= 1
    for response in (await database_sync_to_async(template)("t2"), await database_sync_to_async(note)("again")):
        _assert_429(response)
        assert _code(response) == "rate_limited"
    await socket.disconnect()
    assert await database_sync_to_async(Message.objects.filter(sender_kind="agent").count)() == BURST


@pytest.mark.django_db
def test_an_api_channel_sender_is_limited_at_the_webhook(client, django_capture_on_commit_callbacks, stand_in):
    InboxFactory(kind="api", key="api-rl", config={"callback_url": stand_in.url}, credentials={"secret": "k"})
    stand_in.default = Reply(200, {"id": "x"})

    def post(sender: str, event_id: str):
        stamp = int(time.time())
        payload = {"type": "message", "id": event_id, "sender": {"id": sender}, "text": "hi", "timestamp": stamp}
        body = json.dumps(payload).encode()
        return client.post(
            "/gateway/api/api-rl/",
            body,
            content_type="application/json",
            HTTP_X_SWITCHBOARD_SIGNATURE=sign("k", body),
            HTTP_X_SWITCHBOARD_TIMESTAMP=str(stamp),
        )

    with django_capture_on_commit_callbacks(execute=True):
        assert [post("u1", f"e{n}").status_code for n in range(BURST)] == [200] * BURST
        refused = post("u1", "e-over")
        assert post("u2", "other sender").status_code == 200
    _assert_429(refused)
    assert not InboundEvent.objects.filter(platform_message_id="e-over").exists()
    assert Message.objects.count() == BURST + 1


def test_the_embedded_default_counts_in_memory_with_the_same_limits():
    from imsubsystem.ratelimit import _MemoryBuckets

    buckets = _MemoryBuckets()
    waits = buckets.take_many(["customer:1"] * (BURST + 1) + ["customer:2"])
    assert waits[:BURST] == [0] * BURST and waits[BURST] >= 1 and waits[-1] == 0


def test_without_redis_the_limit_is_not_counted_and_messages_still_go(monkeypatch):
    import socket

    from imsubsystem import ratelimit

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setattr(ratelimit, "_buckets", ratelimit._RedisBuckets(f"redis://127.0.0.1:{closed_port}/0", 2))
    assert ratelimit.message_rate_take_many(["customer:1"] * (BURST + 2)) == [0] * (BURST + 2)
