"""The widget's HTTP API: sessions, messages, uploads, CORS and bearer tokens."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from imsubsystem import services
from imsubsystem.models import Message, WidgetSession

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = "https://shop.example"


def _session(client, inbox_key="shop", **body):
    return client.post(
        f"/api/v1/widget/{inbox_key}/sessions",
        body or {"name": "Vera"},
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )


def _auth(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ORIGIN": ORIGIN}


def test_session_create_returns_a_token_stored_only_as_its_hash(client, inbox):
    response = _session(client, name="Vera", email="vera@example.org", locale="fr", metadata={"page": "/cart"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"session_token", "contact_id", "conversation_id", "verified", "language", "strings"}
    assert body["conversation_id"] is None and body["language"] == "en" and body["strings"]["send"] == "Send"
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    session = WidgetSession.objects.get()
    assert session.token_hash == hashlib.sha256(body["session_token"].encode()).hexdigest()
    assert body["session_token"] not in str(WidgetSession.objects.values().get())
    assert session.contact.emails == ["vera@example.org"]


def test_session_create_refuses_unknown_inboxes_bad_fields_and_foreign_origins(client, inbox):
    assert _session(client, inbox_key="nope").status_code == 404
    assert _session(client, email="not-an-address").status_code == 400
    assert _session(client, metadata="x").status_code == 400
    foreign = client.post(
        "/api/v1/widget/shop/sessions", {}, content_type="application/json", HTTP_ORIGIN="https://evil.example"
    )
    assert foreign.status_code == 403 and "Access-Control-Allow-Origin" not in foreign
    assert not WidgetSession.objects.exists()


def test_preflight_answers_allowed_origins_only(client, inbox):
    ok = client.options("/api/v1/widget/messages", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert ok.status_code == 204 and ok["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in ok["Access-Control-Allow-Headers"]
    evil = client.options("/api/v1/widget/messages", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in evil


def test_post_and_get_messages_with_idempotent_client_id(client, inbox, make_agent):
    token = _session(client).json()["session_token"]
    first = client.post(
        "/api/v1/widget/messages", {"client_id": "c1", "text": "Hi"}, content_type="application/json", **_auth(token)
    )
    assert first.status_code == 201 and first.json()["seq"] == 1
    again = client.post(
        "/api/v1/widget/messages",
        {"client_id": "c1", "text": "Hi (retry)"},
        content_type="application/json",
        **_auth(token),
    )
    assert again.status_code == 200 and again.json() == first.json()
    assert Message.objects.count() == 1

    agent = make_agent("a1")
    conversation_id = first.json()["conversation_id"]
    services.message_send(
        conversation_id=conversation_id, sender_kind="agent", sender_user_id=agent.pk, text="note", private=True
    )
    services.message_send(conversation_id=conversation_id, sender_kind="agent", sender_user_id=agent.pk, text="Hello!")
    listed = client.get("/api/v1/widget/messages?after_seq=1", **_auth(token)).json()
    assert listed["conversation_id"] == conversation_id and listed["last_seq"] == 3
    assert [m["text"] for m in listed["messages"]] == ["Hello!"]


def test_bad_requests_get_clear_errors(client, inbox):
    token = _session(client).json()["session_token"]
    assert client.get("/api/v1/widget/messages").status_code == 401
    assert client.get("/api/v1/widget/messages", HTTP_AUTHORIZATION="Bearer " + "x" * 43).status_code == 401
    too_long = client.post(
        "/api/v1/widget/messages",
        {"client_id": "c", "text": "x" * 4001},
        content_type="application/json",
        **_auth(token),
    )
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "too_long"
    no_id = client.post("/api/v1/widget/messages", {"text": "x"}, content_type="application/json", **_auth(token))
    assert no_id.json()["error"]["code"] == "invalid"
    bad_json = client.post("/api/v1/widget/messages", "{nope", content_type="application/json", **_auth(token))
    assert bad_json.json()["error"]["code"] == "bad_json"
    assert client.get("/api/v1/widget/messages?after_seq=x", **_auth(token)).status_code == 400
    assert not Message.objects.exists()


# The statuses the widget and console APIs share (imsubsystem.events.HTTP_STATUS_FOR_CODE), written out.
SWITCH_ERROR_STATUSES = [
    ("not_found", 404),
    ("forbidden", 403),
    ("conversation_closed", 409),
    ("illegal_transition", 409),
    ("rate_limited", 429),
    ("unknown_attachment", 400),
]


@pytest.mark.parametrize(("code", "status"), SWITCH_ERROR_STATUSES)
def test_a_switch_refusal_answers_with_its_status(client, inbox, monkeypatch, code, status):
    token = _session(client).json()["session_token"]

    def refuse(**kwargs):
        raise services.SwitchError(code, "refused")

    monkeypatch.setattr(services, "customer_message_send", refuse)
    response = client.post(
        "/api/v1/widget/messages", {"client_id": "c1", "text": "Hi"}, content_type="application/json", **_auth(token)
    )
    assert response.status_code == status
    assert response.json() == {"error": {"code": code, "detail": "refused"}}
    assert response["Access-Control-Allow-Origin"] == ORIGIN


def test_too_many_new_sessions_are_refused_with_429(client, inbox, settings):
    settings.IM_WIDGET_SESSIONS_PER_MINUTE = 1
    assert _session(client).status_code == 201
    refused = _session(client)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert WidgetSession.objects.count() == 1


def test_a_revoked_token_stops_working(client, inbox):
    from imsubsystem.auth import widget_session_revoke

    token = _session(client).json()["session_token"]
    widget_session_revoke(session_id=WidgetSession.objects.get().pk)
    assert client.get("/api/v1/widget/messages", **_auth(token)).status_code == 401


def test_upload_then_send_the_attachment(client, inbox):
    token = _session(client).json()["session_token"]
    image = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(image, "PNG")
    image.seek(0)
    image.name = "photo.png"
    uploaded = client.post("/api/v1/widget/uploads", {"file": image}, **_auth(token))
    assert uploaded.status_code == 201, uploaded.content
    attachment = uploaded.json()
    assert attachment["content_type"] == "image/png" and attachment["url"]
    sent = client.post(
        "/api/v1/widget/messages",
        {"client_id": "p1", "text": "", "attachment_ids": [attachment["id"]]},
        content_type="application/json",
        **_auth(token),
    )
    assert sent.status_code == 201, sent.content
    (described,) = sent.json()["attachments"]
    assert described["id"] == attachment["id"] and described["url"]

    other = _session(client).json()["session_token"]
    stolen = client.post(
        "/api/v1/widget/messages",
        {"client_id": "p2", "attachment_ids": [attachment["id"]]},
        content_type="application/json",
        **_auth(other),
    )
    assert stolen.status_code == 400 and stolen.json()["error"]["code"] == "unknown_attachment"


def test_an_upload_the_media_rules_refuse_is_a_400(client, inbox):
    token = _session(client).json()["session_token"]
    evil = io.BytesIO(b"MZ\x90\x00" + b"\x00" * 100)
    evil.name = "invoice.pdf"
    response = client.post("/api/v1/widget/uploads", {"file": evil}, **_auth(token))
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"executable", "type_mismatch"}
    from media.models import Attachment

    assert Attachment.objects.count() == 0


def test_an_upload_over_the_channel_limit_is_a_413_and_stores_nothing(client, inbox):
    from media.models import Attachment, MediaPolicy

    MediaPolicy.objects.update_or_create(channel_kind="web", defaults={"max_size": 1024, "allowed_families": ["pdf"]})
    token = _session(client).json()["session_token"]
    big = io.BytesIO(b"%PDF-1.4\n" + b"0" * 200_000)
    big.name = "big.pdf"
    response = client.post("/api/v1/widget/uploads", {"file": big}, **_auth(token))
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert Attachment.objects.count() == 0
