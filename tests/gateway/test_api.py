"""The generic API channel: signature, replay window, payload checks, signed replies to the callback URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx
import pytest

from gateway.api import ApiAdapter, signed_body
from gateway.base import OutboundMessage, PayloadInvalid, SendError, SignatureInvalid
from tests.gateway.conftest import Reply, inbox_info, make_request

SECRET = "api-secret"
adapter = ApiAdapter()


def api_inbox(callback_url: str = "https://connector.example/hook"):
    return inbox_info("api", config={"callback_url": callback_url}, credentials={"secret": SECRET})


def signed(payload: dict, *, secret: str = SECRET, now: float | None = None):
    body, headers = signed_body(secret, payload, now=now)
    return make_request(body=body, headers=headers)


MESSAGE = {"type": "message", "id": "msg-1", "sender": {"id": "user-42", "name": "Ada"}, "text": "Hello"}


def test_signature_is_the_documented_hmac():
    request = signed(MESSAGE)
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers.get("X-Switchboard-Signature") == expected
    adapter.verify(api_inbox(), request)


def test_bad_signature_replay_and_mismatched_timestamp_are_refused():
    with pytest.raises(SignatureInvalid):
        adapter.verify(api_inbox(), signed(MESSAGE, secret="wrong"))
    with pytest.raises(SignatureInvalid):
        adapter.verify(api_inbox(), signed(MESSAGE, now=time.time() - 3600))
    request = signed(MESSAGE)
    # A fresh timestamp header on an old signed body: the body's own timestamp no longer matches.
    moved = make_request(
        body=request.body, headers={**request.headers, "x-switchboard-timestamp": str(int(time.time()) + 1)}
    )
    with pytest.raises(SignatureInvalid):
        adapter.verify(api_inbox(), moved)


def test_message_and_status_in():
    (event,) = adapter.parse(
        api_inbox(),
        signed(
            {
                **MESSAGE,
                "sent_at": "2025-01-31T09:30:00Z",
                "attachments": [{"url": "https://c.example/a.png", "content_type": "image/png"}],
            }
        ),
    )
    message = adapter.message_from_payload(api_inbox(), event.payload)
    assert (message.sender_id, message.sender_name, message.text) == ("user-42", "Ada", "Hello")
    assert message.sent_at.isoformat() == "2025-01-31T09:30:00+00:00"
    assert message.media[0].url == "https://c.example/a.png"
    (status,) = adapter.parse(
        api_inbox(), signed({"type": "status", "id": "evt-9", "message_id": "77", "status": "read"})
    )
    assert adapter.status_from_payload(api_inbox(), status.payload).status == "read"


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "message", "sender": {"id": "u"}, "text": "no id"},
        {"type": "message", "id": "m", "text": "no sender"},
        {"type": "message", "id": "m", "sender": {"id": "u"}},
        {"type": "message", "id": "m", "sender": {"id": "u"}, "text": "x", "sent_at": "yesterday"},
        {"type": "status", "id": "s", "message_id": "1", "status": "exploded"},
        {"type": "poll", "id": "p"},
    ],
)
def test_bad_payloads_are_refused(payload):
    with pytest.raises(PayloadInvalid):
        adapter.parse(api_inbox(), signed(payload))


def test_malformed_json():
    body = b'{"type": "message", '
    with pytest.raises(PayloadInvalid):
        adapter.parse(api_inbox(), make_request(body=body))


def test_reply_is_posted_signed_to_the_callback(stand_in):
    stand_in.default = Reply(200, {"id": "conn-msg-9"})
    with httpx.Client() as client:
        result = adapter.send(
            api_inbox(stand_in.url + "/hook"),
            client,
            OutboundMessage(message_id=77, conversation_id=5, recipient="user-42", text="Hi Ada"),
        )
    assert result.platform_message_id == "conn-msg-9"
    (call,) = stand_in.requests
    body = call.json()
    assert call.path == "/hook"
    assert (
        call.headers["X-Switchboard-Signature"]
        == "sha256=" + hmac.new(SECRET.encode(), call.body, hashlib.sha256).hexdigest()
    )
    assert call.headers["X-Switchboard-Timestamp"] == str(body["timestamp"])
    assert {k: body[k] for k in ("type", "id", "conversation_id", "recipient", "text")} == {
        "type": "message",
        "id": "77",
        "conversation_id": 5,
        "recipient": {"id": "user-42"},
        "text": "Hi Ada",
    }
    # what a connector does with it: check the signature with the shared secret
    adapter.verify(api_inbox(), make_request(body=call.body, headers=call.headers))
    json.loads(call.body)


def test_callback_errors(stand_in):
    stand_in.script = [Reply(503, {}, {"Retry-After": "5"}), Reply(410, {})]
    message = OutboundMessage(message_id=1, conversation_id=1, recipient="u", text="x")
    with httpx.Client() as client:
        with pytest.raises(SendError) as busy:
            adapter.send(api_inbox(stand_in.url), client, message)
        with pytest.raises(SendError) as gone:
            adapter.send(api_inbox(stand_in.url), client, message)
    assert not busy.value.permanent and busy.value.retry_after == 5
    assert gone.value.permanent
