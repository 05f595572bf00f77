"""A conversation's messages through the integrator API: the history by seq in both directions, and
sending as the calling agent, as the bot or as an internal note through the switch's one write path:
stored once with its seq, published after commit, idempotent on client_id or Idempotency-Key."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from api.tokens import token_revoke
from imsubsystem import services as switch
from imsubsystem.events import group_conversation
from imsubsystem.models import Message, SenderKind
from tests.api.scene_conversations import BASE, assigned_conversation, build_teams
from tests.realtime.support import recording_layer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scene(db, django_capture_on_commit_callbacks):
    """The teams and ag-a's conversation in Sales with seq 1 (the transfer's note) and seq 2..6: the
    customer's five messages, one of them markup."""
    scene = build_teams()
    conversation = assigned_conversation(
        scene["sales_inbox"], scene["ag_a"], by=scene["admin"], commit=django_capture_on_commit_callbacks
    )
    for n in range(5):
        text = '<script>alert("x")</script> & "quotes"' if n == 2 else f"customer {n}"
        switch.customer_message_send(
            inbox_id=conversation.inbox_id, contact_id=conversation.contact_id, text=text, client_id=f"c{n}"
        )
    conversation.refresh_from_db()
    assert conversation.last_seq == 6
    scene["mine"] = conversation
    scene["url"] = f"{BASE}/conversations/{conversation.pk}/messages"
    return scene


def seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [m["seq"] for m in response.json()["results"]]


# --- Reading --------------------------------------------------------------------------------------------
def test_newest_first_by_default_then_backwards_by_next(scene, make_api_client):
    api = make_api_client(scene["ag_a"], scope="read")
    first = api.get(f"{scene['url']}?limit=4")
    body = first.json()
    assert (body["order"], body["last_seq"], body["conversation_id"]) == ("newest_first", 6, scene["mine"].pk)
    assert seqs(first) == [6, 5, 4, 3]
    assert body["next"].endswith("before_seq=3") or "before_seq=3" in body["next"]
    second = api.get(body["next"])
    assert seqs(second) == [2, 1] and second.json()["next"] is None


def test_after_seq_reads_forwards_oldest_first(scene, make_api_client):
    api = make_api_client(scene["ag_a"], scope="read")
    page = api.get(f"{scene['url']}?after_seq=1&limit=3")
    assert seqs(page) == [2, 3, 4] and page.json()["order"] == "oldest_first"
    rest = api.get(page.json()["next"])
    assert seqs(rest) == [5, 6] and rest.json()["next"] is None
    assert seqs(api.get(f"{scene['url']}?after_seq=6")) == []
    assert seqs(api.get(f"{scene['url']}?before_seq=3")) == [2, 1]


def test_the_payload_is_the_consoles_and_markup_stays_text(scene, make_api_client):
    """The same payload as the console's own endpoint; the customer's markup is a JSON string, never HTML."""
    api = make_api_client(scene["ag_a"], scope="read")
    response = api.get(f"{scene['url']}?after_seq=0")
    assert response["Content-Type"] == "application/json"
    ours = response.json()["results"]
    from django.test import Client

    console = Client()
    console.force_login(scene["ag_a"])
    theirs = console.get(f"/api/v1/agent/conversations/{scene['mine'].pk}/messages").json()["messages"]
    assert ours == theirs
    markup = next(m for m in ours if m["seq"] == 4)
    assert markup["text"] == '<script>alert("x")</script> & "quotes"'
    assert markup["sender"]["kind"] == "customer"
    assert b"<script>" in response.content  # as JSON text: the client decides how to show it
    assert response.content.count(b'\\"x\\"') == 1  # quotes escaped by JSON


@pytest.mark.parametrize(
    "query", ["after_seq=-1", "after_seq=x", "before_seq=0", "limit=0", "limit=201", "after_seq=1&before_seq=5"]
)
def test_a_bad_page_is_invalid(scene, make_api_client, query):
    response = make_api_client(scene["ag_a"]).get(f"{scene['url']}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


@pytest.mark.parametrize(
    ("who", "status"), [("ag_a", 200), ("ag_b", 404), ("sup_b", 404), ("sup_a", 200), ("admin", 200)]
)
def test_reading_follows_the_visibility_rule(scene, make_api_client, who, status):
    response = make_api_client(scene[who], scope="read").get(scene["url"])
    assert response.status_code == status
    if status == 404:
        assert response.json()["error"]["code"] == "not_found"


def test_a_revoked_token_reads_nothing(scene, make_api_client):
    api = make_api_client(scene["admin"])
    token_revoke(token=api.token)
    response = api.get(scene["url"])
    assert response.status_code == 401 and response.json()["error"]["reason"] == "revoked"


# --- Sending --------------------------------------------------------------------------------------------
def published_messages(layer, conversation_id: int) -> list[dict]:
    return [
        message["frame"]["message"]
        for group, message in layer.sent
        if group == group_conversation(conversation_id) and message.get("frame", {}).get("type") == "message.new"
    ]


def test_an_agent_sends_stored_once_with_its_seq_and_published(
    scene, make_api_client, django_capture_on_commit_callbacks
):
    api = make_api_client(scene["ag_a"])
    conversation = scene["mine"]
    with recording_layer() as layer, django_capture_on_commit_callbacks(execute=True):
        response = api.post_json(scene["url"], {"text": "Hello, <b>friend</b>", "client_id": "order-42"})
    assert response.status_code == 201, response.content
    message = response.json()
    assert (message["seq"], message["sender"]["kind"], message["sender"]["id"]) == (7, "agent", scene["ag_a"].pk)
    assert (message["text"], message["private"], message["client_id"]) == ("Hello, <b>friend</b>", False, "order-42")
    row = Message.objects.get(pk=message["id"])
    assert (row.conversation_id, row.seq, row.sender_user_id, row.text) == (
        conversation.pk,
        7,
        scene["ag_a"].pk,
        message["text"],
    )
    assert [m["id"] for m in published_messages(layer, conversation.pk)] == [message["id"]]

    # The retry: the first message again, nothing new stored or published.
    with recording_layer() as layer, django_capture_on_commit_callbacks(execute=True):
        again = api.post_json(scene["url"], {"text": "Hello, <b>friend</b>", "client_id": "order-42"})
    assert again.status_code == 200 and again.json()["id"] == message["id"]
    assert Message.objects.filter(conversation=conversation).count() == 7
    assert published_messages(layer, conversation.pk) == []


def test_the_idempotency_key_stands_for_a_client_id(scene, make_api_client):
    api = make_api_client(scene["ag_a"])
    key = "k" * 100  # longer than a client_id: kept by its hash
    first = api.post_json(scene["url"], {"text": "once"}, HTTP_IDEMPOTENCY_KEY=key)
    second = api.post_json(scene["url"], {"text": "once"}, HTTP_IDEMPOTENCY_KEY=key)
    # The API's idempotency layer answers the retry with the first answer; the key is also the message's
    # client_id, so a retry after that layer forgot it (24 h) still stores nothing new.
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    assert Message.objects.filter(conversation=scene["mine"], text="once").count() == 1
    short = api.post_json(scene["url"], {"text": "short"}, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert short.json()["client_id"] == "abc-1"


def test_a_private_note_is_stored_as_one(scene, make_api_client):
    response = make_api_client(scene["ag_a"]).post_json(scene["url"], {"text": "VIP customer", "private": True})
    assert response.status_code == 201
    row = Message.objects.get(pk=response.json()["id"])
    assert (row.private, row.sender_kind, row.delivery_status) == (True, SenderKind.AGENT, row.delivery_status)
    assert response.json()["private"] is True


def test_the_bot_sends_for_supervisors_and_admins_only(scene, make_api_client):
    refused = make_api_client(scene["ag_a"]).post_json(scene["url"], {"text": "beep", "sender": "bot"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert not Message.objects.filter(text="beep").exists()
    response = make_api_client(scene["sup_a"]).post_json(scene["url"], {"text": "beep", "sender": "bot"})
    assert response.status_code == 201, response.content
    assert response.json()["sender"] == {"kind": "bot", "name": "Assistant"}
    assert Message.objects.get(pk=response.json()["id"]).sender_user_id is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"text": "   "}, "empty"),
        ({}, "invalid"),
        ({"text": 5}, "invalid"),
        ({"text": "x" * 5000}, "too_long"),
        ({"text": "hi", "sender": "customer"}, "invalid"),
        ({"text": "hi", "client_id": "x" * 65}, "invalid"),
        ({"text": "hi", "attachment_ids": [999999]}, "unknown_attachment"),
        ({"text": "\ud800"}, "invalid"),
    ],
)
def test_a_bad_message_is_refused_and_stores_nothing(scene, make_api_client, body, code):
    response = make_api_client(scene["ag_a"]).post_json(scene["url"], body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert Message.objects.filter(conversation=scene["mine"]).count() == 6


@pytest.mark.parametrize(("who", "status"), [("ag_b", 404), ("sup_b", 404), ("sup_a", 201), ("admin", 201)])
def test_sending_follows_the_visibility_rule(scene, make_api_client, who, status):
    response = make_api_client(scene[who]).post_json(scene["url"], {"text": f"from {who}"})
    assert response.status_code == status
    assert Message.objects.filter(text=f"from {who}").count() == (1 if status == 201 else 0)


def test_a_read_token_may_not_send(scene, make_api_client):
    response = make_api_client(scene["admin"], scope="read").post_json(scene["url"], {"text": "no"})
    assert response.status_code == 403 and response.json()["error"]["detail"] == "This token may only read."
    assert not Message.objects.filter(text="no").exists()


def test_sending_is_rate_limited_in_the_agents_bucket(scene, make_api_client, settings):
    settings.IM_MESSAGE_RATE_LIMITS = {"agent": {"burst": 2, "per_s": 0.01}}
    api = make_api_client(scene["ag_a"])
    answers = [api.post_json(scene["url"], {"text": f"fast {n}"}) for n in range(4)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert limited[0].json()["error"]["code"] == "rate_limited" and int(limited[0]["Retry-After"]) >= 1
