"""Agents send files: POST /api/v1/agent/uploads stores a checked file for the agent, and the socket's
message.send names it by id, to a widget customer and to a platform (Telegram) customer alike."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from django.test import Client

from crm.models import ChannelKind
from crm.roles import AGENT
from gateway.models import OutboxItem
from imsubsystem import selectors
from imsubsystem.models import Conversation
from imsubsystem.services import SwitchError, message_send
from media.models import Attachment
from tests.factories import ContactFactory, InboxFactory, UserFactory
from tests.factories.media import EXE_BYTES, PDF_BYTES, MediaPolicyFactory, image_bytes, upload
from tests.factories.routing import QueueFactory
from tests.gateway.conftest import stand_in  # noqa: F401 (a fixture used below)
from tests.gateway.test_webhooks import tg_update
from tests.ui.test_api_agent import make_conversation, make_inbox

UPLOADS = "/api/v1/agent/uploads"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return root


def stored_files(root) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def conversation(agent):
    queue = QueueFactory(name="Support")
    return make_conversation(contact=ContactFactory(name="Ada"), inbox=make_inbox(queue=queue), assignee=agent)


def post_file(client, conversation_id, file, **extra):
    return client.post(f"{UPLOADS}?conversation_id={conversation_id}", {"file": file}, **extra)


def test_an_agent_uploads_a_pdf_and_sends_it_to_the_widget_customer(agent_client, agent, conversation):
    response = post_file(agent_client, conversation.pk, upload("Invoice 42.pdf", PDF_BYTES, "application/pdf"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Invoice 42.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(PDF_BYTES)
    assert body["status"] == "ready" and body["url"]
    attachment = Attachment.objects.get(pk=body["id"])
    assert (attachment.uploader_kind, attachment.uploader_id) == ("agent", str(agent.pk))
    assert attachment.channel_kind == "web" and attachment.conversation_id is None
    # The agent's own signed URL serves the bytes.
    url = urlsplit(body["url"])
    served = agent_client.get(f"{url.path}?{url.query}" if url.query else url.path)
    assert served.status_code == 200 and b"".join(served.streaming_content) == PDF_BYTES

    payload, created = message_send(
        conversation_id=conversation.pk,
        sender_kind="agent",
        sender_user_id=agent.pk,
        text="Here is your invoice",
        client_id="c-1",
        attachment_ids=[body["id"]],
    )
    assert created and [a["id"] for a in payload["attachments"]] == [body["id"]]
    attachment.refresh_from_db()
    assert attachment.conversation_id == conversation.pk
    seen = selectors.payload_for_viewer(payload, viewer=f"customer:{conversation.contact_id}")
    assert seen["attachments"][0]["name"] == "Invoice 42.pdf" and seen["attachments"][0]["url"]


def test_an_image_comes_back_with_a_thumbnail(agent_client, conversation):
    response = post_file(agent_client, conversation.pk, upload("cat.png", image_bytes("PNG", (600, 400)), "image/png"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "image/png" and body["thumbnail_url"]


def test_another_agent_cannot_send_my_upload(agent_client, conversation):
    attachment_id = post_file(agent_client, conversation.pk, upload("a.pdf", PDF_BYTES, "application/pdf")).json()["id"]
    other = UserFactory(username="agent-b", role=AGENT)
    with pytest.raises(SwitchError) as refused:
        message_send(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user_id=other.pk,
            attachment_ids=[attachment_id],
        )
    assert refused.value.code == "unknown_attachment"
    assert Attachment.objects.get(pk=attachment_id).conversation_id is None


def test_a_pdf_is_queued_for_a_telegram_customer(
    client,
    agent,
    stand_in,  # noqa: F811 (the imported fixture)
    django_capture_on_commit_callbacks,
):
    InboxFactory(
        kind="telegram",
        key="tg-out",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "9:Z", "secret_token": "s"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/telegram/tg-out/",
            tg_update(1, 1, "send me the invoice", datetime.now(UTC)),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
        )
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(assignee=agent, status="assigned")
    client.force_login(agent)
    response = post_file(client, conversation.pk, upload("invoice.pdf", PDF_BYTES, "application/pdf"))
    assert response.status_code == 201, response.content
    assert Attachment.objects.get(pk=response.json()["id"]).channel_kind == "telegram"

    attachment_id = response.json()["id"]
    # Only the outbox row is checked here: the platform send itself belongs to the gateway's tests.
    with django_capture_on_commit_callbacks(execute=False):
        payload, _ = message_send(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user_id=agent.pk,
            text="Your invoice",
            attachment_ids=[attachment_id],
        )
    item = OutboxItem.objects.get(message_id=payload["id"])
    assert item.attachments == [attachment_id] and item.text == "Your invoice"
    assert Attachment.objects.get(pk=attachment_id).conversation_id == conversation.pk


@pytest.mark.parametrize("size", [3000, 200_000], ids=["stopped-while-reading", "refused-from-content-length"])
def test_an_oversized_file_is_refused_with_413_and_nothing_is_stored(agent_client, conversation, media_root, size):
    MediaPolicyFactory(channel_kind=ChannelKind.WEB, max_size=1000)
    data = PDF_BYTES + b"0" * size
    response = post_file(agent_client, conversation.pk, upload("big.pdf", data, "application/pdf"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert "1000" in response.json()["error"]["detail"]
    assert Attachment.objects.count() == 0
    assert stored_files(media_root) == []


def test_the_limit_is_the_conversations_channel_not_the_web_one(agent_client, agent, media_root):
    MediaPolicyFactory(channel_kind=ChannelKind.SMS, max_size=1000)
    sms = InboxFactory(kind="sms", key="sms-1")
    conversation = make_conversation(contact=ContactFactory(), inbox=sms, assignee=agent)
    response = post_file(agent_client, conversation.pk, upload("a.pdf", PDF_BYTES + b"0" * 3000, "application/pdf"))
    assert response.status_code == 413
    assert Attachment.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "data", "claimed", "code"),
    [
        ("invoice.pdf", EXE_BYTES, "application/pdf", "executable"),
        ("photo.png", PDF_BYTES, "image/png", "type_mismatch"),
    ],
)
def test_a_disguised_file_is_refused_and_nothing_is_stored(
    agent_client, conversation, media_root, name, data, claimed, code
):
    response = post_file(agent_client, conversation.pk, upload(name, data, claimed))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["detail"]
    assert Attachment.objects.count() == 0
    assert stored_files(media_root) == []


def test_a_missing_file_field_is_a_clear_400(agent_client, conversation):
    response = agent_client.post(f"{UPLOADS}?conversation_id={conversation.pk}", {"other": "x"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "missing_file"


def test_another_agents_conversation_is_404_and_nothing_is_stored(client, conversation, media_root):
    client.force_login(UserFactory(username="agent-b", role=AGENT))
    response = post_file(client, conversation.pk, upload("a.pdf", PDF_BYTES, "application/pdf"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Attachment.objects.count() == 0 and stored_files(media_root) == []


@pytest.mark.parametrize("query", ["", "?conversation_id=abc"])
def test_the_conversation_id_is_required(agent_client, conversation, query):
    response = agent_client.post(UPLOADS + query, {"file": upload("a.pdf", PDF_BYTES, "application/pdf")})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    assert Attachment.objects.count() == 0


def test_an_unknown_conversation_is_404(agent_client, db):
    response = post_file(agent_client, 987654, upload("a.pdf", PDF_BYTES, "application/pdf"))
    assert response.status_code == 404


def test_anonymous_gets_401_json_not_a_redirect(client, conversation):
    response = post_file(client, conversation.pk, upload("a.pdf", PDF_BYTES, "application/pdf"))
    assert response.status_code == 401 and response.json()["error"]["code"] == "auth_required"
    assert Attachment.objects.count() == 0


def test_get_is_not_allowed(agent_client, conversation):
    assert agent_client.get(f"{UPLOADS}?conversation_id={conversation.pk}").status_code == 405


def test_the_csrf_token_is_required(agent, conversation, media_root):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    strict.get("/agent/")  # sets the csrftoken cookie, as the console page does
    refused = post_file(strict, conversation.pk, upload("a.pdf", PDF_BYTES, "application/pdf"))
    assert refused.status_code == 403
    assert Attachment.objects.count() == 0 and stored_files(media_root) == []

    token = strict.cookies["csrftoken"].value
    accepted = post_file(strict, conversation.pk, upload("a.pdf", PDF_BYTES, "application/pdf"), HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content
    assert Attachment.objects.count() == 1
