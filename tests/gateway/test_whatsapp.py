"""WhatsApp Cloud API adapter: handshake, X-Hub-Signature-256, each inbound type, sends, the 24-hour window."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.base import OutboundMessage, PayloadInvalid, SendError, SignatureInvalid, hmac_hex
from gateway.whatsapp import WhatsAppAdapter
from tests.gateway.conftest import Reply, inbox_info, make_request

APP_SECRET = "wa-app-secret"
adapter = WhatsAppAdapter()


def wa_inbox(base_url: str = "https://graph.example") -> object:
    return inbox_info(
        "whatsapp",
        config={"phone_number_id": "106540352242922", "api_base_url": base_url, "api_version": "v21.0"},
        credentials={"access_token": "EAAG-token", "app_secret": APP_SECRET, "verify_token": "verify-me"},
    )


def webhook_body(*, messages=(), statuses=(), name="Kerry Fisher", wa_id="16315551181") -> bytes:
    """A Cloud API webhook in Meta's documented shape."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
        }
    ).encode()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body), "Content-Type": "application/json"}


def wa_message(
    kind: str,
    part: dict,
    *,
    mid: str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    ts: str = "1749416383",
) -> dict:
    return {"from": "16315551181", "id": mid, "timestamp": ts, "type": kind, kind: part}


def test_handshake_answers_the_challenge_with_the_right_verify_token():
    inbox = wa_inbox()
    ok = adapter.handshake(
        inbox,
        make_request(
            method="GET",
            query={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"},
        ),
    )
    assert (ok.status, ok.body) == (200, "1158201444")
    bad = adapter.handshake(
        inbox,
        make_request(method="GET", query={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}),
    )
    assert bad.status == 403


def test_signature_accepted_and_refused():
    inbox = wa_inbox()
    body = webhook_body(messages=[wa_message("text", {"body": "hi"})])
    adapter.verify(inbox, make_request(body=body, headers=signed(body)))
    with pytest.raises(SignatureInvalid):
        adapter.verify(inbox, make_request(body=body, headers=signed(body, "other-secret")))
    with pytest.raises(SignatureInvalid):
        adapter.verify(inbox, make_request(body=body + b" ", headers=signed(body)))
    with pytest.raises(SignatureInvalid):
        adapter.verify(inbox, make_request(body=body))


@pytest.mark.parametrize(
    ("kind", "part", "text", "media"),
    [
        ("text", {"body": "Where is my order?"}, "Where is my order?", None),
        (
            "image",
            {"caption": "the label", "mime_type": "image/jpeg", "sha256": "abc", "id": "1479537139650973"},
            "the label",
            ("image", "1479537139650973"),
        ),
        (
            "document",
            {"caption": "", "filename": "invoice.pdf", "mime_type": "application/pdf", "sha256": "x", "id": "doc-1"},
            "",
            ("document", "doc-1"),
        ),
        (
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "sha256": "x", "id": "voice-1", "voice": True},
            "",
            ("voice", "voice-1"),
        ),
        (
            "location",
            {"latitude": 37.4837, "longitude": -122.1484, "name": "Philz Coffee", "address": "101 Forest Ave"},
            "Location: 37.4837, -122.1484 (Philz Coffee, 101 Forest Ave)",
            None,
        ),
    ],
)
def test_inbound_types(kind, part, text, media):
    inbox = wa_inbox()
    body = webhook_body(messages=[wa_message(kind, part)])
    (event,) = adapter.parse(inbox, make_request(body=body, headers=signed(body)))
    assert event.event_kind == "message" and event.sender_id == "16315551181"
    assert event.sent_at.timestamp() == 1749416383
    message = adapter.message_from_payload(inbox, event.payload)
    assert message.text == text
    assert message.sender_name == "Kerry Fisher"
    if media:
        assert (message.media[0].kind, message.media[0].media_id) == media
    else:
        assert message.media == ()


@pytest.mark.parametrize(
    ("interactive", "text"),
    [
        ({"type": "button_reply", "button_reply": {"id": "yes-1", "title": "Yes, please"}}, "Yes, please"),
        (
            {"type": "list_reply", "list_reply": {"id": "q-sales", "title": "Sales", "description": "Buy things"}},
            "Sales",
        ),
    ],
)
def test_interactive_replies(interactive, text):
    inbox = wa_inbox()
    body = webhook_body(messages=[wa_message("interactive", interactive)])
    (event,) = adapter.parse(inbox, make_request(body=body, headers=signed(body)))
    assert adapter.message_from_payload(inbox, event.payload).text == text


def test_statuses_are_events_per_message_and_status():
    inbox = wa_inbox()
    statuses = [
        {"id": "wamid.OUT1", "status": "delivered", "timestamp": "1749416400", "recipient_id": "16315551181"},
        {
            "id": "wamid.OUT2",
            "status": "failed",
            "timestamp": "1749416401",
            "recipient_id": "16315551181",
            "errors": [
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed: more than 24 hours have passed since the customer last replied."
                    },
                }
            ],
        },
    ]
    body = webhook_body(statuses=statuses)
    events = adapter.parse(inbox, make_request(body=body, headers=signed(body)))
    assert [e.platform_message_id for e in events] == ["status:wamid.OUT1:delivered", "status:wamid.OUT2:failed"]
    failed = adapter.status_from_payload(inbox, events[1].payload)
    assert failed.status == "failed" and "131047" in failed.error and "24 hours" in failed.error


def test_malformed_json_is_refused():
    with pytest.raises(PayloadInvalid):
        adapter.parse(wa_inbox(), make_request(body=b'{"entry": [}'))
    with pytest.raises(PayloadInvalid):
        adapter.parse(wa_inbox(), make_request(body=b'["not", "a", "webhook"]'))


def test_send_text_and_media_to_the_graph_api(stand_in):
    stand_in.default = Reply(
        200,
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": "16315551181", "wa_id": "16315551181"}],
            "messages": [{"id": "wamid.SENT1"}],
        },
    )
    inbox = wa_inbox(stand_in.url)
    with httpx.Client() as client:
        result = adapter.send(
            inbox,
            client,
            OutboundMessage(message_id=1, conversation_id=1, recipient="16315551181", text="Your order shipped"),
        )
        adapter.send(
            inbox,
            client,
            OutboundMessage(
                message_id=2,
                conversation_id=1,
                recipient="16315551181",
                text="here",
                attachments=({"url": "https://files.example/a.png", "content_type": "image/png", "name": "a.png"},),
            ),
        )
    assert result.platform_message_id == "wamid.SENT1"
    first, second = stand_in.requests
    assert first.method == "POST" and first.path == "/v21.0/106540352242922/messages"
    assert first.headers["Authorization"] == "Bearer EAAG-token"
    assert first.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16315551181",
        "type": "text",
        "text": {"preview_url": False, "body": "Your order shipped"},
    }
    assert second.json()["type"] == "image"
    assert second.json()["image"] == {"link": "https://files.example/a.png", "caption": "here"}


def test_send_errors_are_classified(stand_in):
    inbox = wa_inbox(stand_in.url)
    stand_in.script = [
        Reply(
            400,
            {
                "error": {
                    "message": "Re-engagement message",
                    "type": "OAuthException",
                    "code": 131047,
                    "error_data": {"messaging_product": "whatsapp", "details": "more than 24 hours"},
                }
            },
        ),
        Reply(400, {"error": {"message": "Rate limit hit", "code": 130429}}, {"Retry-After": "30"}),
        Reply(401, {"error": {"message": "Invalid OAuth access token", "code": 190}}),
    ]
    message = OutboundMessage(message_id=1, conversation_id=1, recipient="1", text="x")
    with httpx.Client() as client:
        with pytest.raises(SendError) as window:
            adapter.send(inbox, client, message)
        with pytest.raises(SendError) as rate:
            adapter.send(inbox, client, message)
        with pytest.raises(SendError) as auth:
            adapter.send(inbox, client, message)
    assert window.value.permanent and "24-hour" in window.value.reason and "template" in window.value.reason
    assert not rate.value.permanent
    assert auth.value.permanent and "190" in auth.value.reason


def test_template_send(stand_in):
    stand_in.default = Reply(200, {"messages": [{"id": "wamid.T"}]})
    template = {"name": "order_update", "language": {"code": "en_US"}, "components": []}
    with httpx.Client() as client:
        adapter.send(
            wa_inbox(stand_in.url),
            client,
            OutboundMessage(message_id=1, conversation_id=1, recipient="1", template=template),
        )
    body = stand_in.requests[0].json()
    assert body["type"] == "template" and body["template"] == template
