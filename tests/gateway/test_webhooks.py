"""The inbound path through Django and the switch: verify, store once, answer fast, process, hand over."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import telegram

from crm.models import ContactIdentity
from gateway.api import signed_body
from gateway.models import InboundEvent
from imsubsystem.models import Conversation, Message
from tests.factories import InboxFactory
from tests.gateway.conftest import Recorded, Reply  # noqa: F401
from tests.gateway.test_wechat import BOMB, plain_query, wx_xml
from tests.gateway.test_whatsapp import signed as wa_signed
from tests.gateway.test_whatsapp import wa_message, webhook_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def telegram_inbox():
    return InboxFactory(
        kind="telegram", key="tg-shop", config={}, credentials={"bot_token": "1:A", "secret_token": "s3cret"}
    )


@pytest.fixture
def whatsapp_inbox():
    return InboxFactory(
        kind="whatsapp",
        key="wa-shop",
        config={"phone_number_id": "106540352242922"},
        credentials={"access_token": "t", "app_secret": "wa-app-secret", "verify_token": "verify-me"},
    )


def tg_update(update_id: int, message_id: int, text: str, when: datetime) -> bytes:
    user = telegram.User(id=4242, first_name="Ada", is_bot=False)
    message = telegram.Message(
        message_id=message_id, date=when, chat=telegram.Chat(id=4242, type="private"), from_user=user, text=text
    )
    return json.dumps(telegram.Update(update_id=update_id, message=message).to_dict()).encode()


def post_tg(client, body: bytes, token: str = "s3cret"):
    return client.post(
        "/gateway/telegram/tg-shop/", body, content_type="application/json", HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=token
    )


def test_bad_signature_is_403_and_stores_nothing(client, telegram_inbox, whatsapp_inbox):
    assert post_tg(client, tg_update(1, 1, "hi", datetime.now(UTC)), token="wrong").status_code == 403
    body = webhook_body(messages=[wa_message("text", {"body": "hi"})])
    response = client.post(
        "/gateway/whatsapp/wa-shop/",
        body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256="sha256=" + "0" * 64,
    )
    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0 and Message.objects.count() == 0


def test_unknown_inbox_or_wrong_kind_is_404(client, telegram_inbox):
    assert client.post("/gateway/telegram/nope/", b"{}", content_type="application/json").status_code == 404
    assert client.post("/gateway/whatsapp/tg-shop/", b"{}", content_type="application/json").status_code == 404


def test_malformed_bodies_are_400_and_store_nothing(client, whatsapp_inbox):
    body = b'{"object": "whatsapp_business_account", "entry": ['
    response = client.post(
        "/gateway/whatsapp/wa-shop/",
        body,
        content_type="application/json",
        **{"HTTP_X_HUB_SIGNATURE_256": wa_signed(body)["X-Hub-Signature-256"]},
    )
    assert response.status_code == 400
    assert InboundEvent.objects.count() == 0


def test_wechat_entity_bomb_is_refused(client):
    InboxFactory(
        kind="wechat",
        key="wx-shop",
        config={},
        credentials={
            "token": "switchboard",
            "app_id": "wx0",
            "app_secret": "s",
            "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        },
    )
    query = "&".join(f"{k}={v}" for k, v in plain_query().items())
    response = client.post(f"/gateway/wechat/wx-shop/?{query}", BOMB, content_type="text/xml")
    assert response.status_code == 400
    assert InboundEvent.objects.count() == 0


def test_same_webhook_three_times_and_out_of_order_stores_each_message_once(
    client, telegram_inbox, django_capture_on_commit_callbacks
):
    early = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)
    later = datetime(2025, 5, 1, 10, 5, tzinfo=UTC)
    first, second = tg_update(100, 7, "first", early), tg_update(101, 8, "second", later)
    with django_capture_on_commit_callbacks(execute=True):
        for body in (second, first, second, first, second, first):
            response = post_tg(client, body)
            assert response.status_code == 200
    assert InboundEvent.objects.count() == 2
    messages = list(Message.objects.order_by("seq"))
    assert len(messages) == 2
    # They arrived second-first; each keeps the platform's own time.
    by_text = {m.text: m for m in messages}
    assert by_text["first"].sent_at == early and by_text["second"].sent_at == later
    assert {m.platform_message_id for m in messages} == {"4242:7", "4242:8"}
    assert Conversation.objects.count() == 1
    identity = ContactIdentity.objects.get(kind="telegram", external_id="4242")
    assert Conversation.objects.get().contact_id == identity.contact_id
    assert InboundEvent.objects.filter(processed_at__isnull=True).count() == 0


def test_whatsapp_handshake_through_the_view(client, whatsapp_inbox):
    response = client.get(
        "/gateway/whatsapp/wa-shop/",
        {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "4242"},
    )
    assert (response.status_code, response.content) == (200, b"4242")
    assert (
        client.get(
            "/gateway/whatsapp/wa-shop/", {"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"}
        ).status_code
        == 403
    )


def test_whatsapp_image_becomes_a_message_with_a_pending_attachment(
    client, whatsapp_inbox, django_capture_on_commit_callbacks, monkeypatch
):
    fetched = []
    monkeypatch.setattr("gateway.tasks.platform_media_fetch_later", lambda *args: fetched.append(args))
    body = webhook_body(
        messages=[wa_message("image", {"caption": "label", "mime_type": "image/jpeg", "sha256": "x", "id": "MEDIA1"})]
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/gateway/whatsapp/wa-shop/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=wa_signed(body)["X-Hub-Signature-256"],
        )
    assert response.status_code == 200
    message = Message.objects.get()
    assert message.text == "label" and len(message.attachments) == 1
    assert fetched == [
        (
            message.attachments[0],
            whatsapp_inbox.pk,
            {"kind": "image", "media_id": "MEDIA1", "content_type": "image/jpeg"},
        )
    ]


def test_platform_media_is_fetched_through_the_adapter(stand_in, django_capture_on_commit_callbacks, client):
    from media.models import Attachment

    InboxFactory(
        kind="whatsapp",
        key="wa-media",
        config={"phone_number_id": "1", "api_base_url": stand_in.url},
        credentials={"access_token": "tok", "app_secret": "wa-app-secret", "verify_token": "v"},
    )
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    png = buffer.getvalue()
    stand_in.default = lambda r: (
        Reply(200, {"url": f"{stand_in.url}/download/MEDIA1", "mime_type": "image/png"})
        if r.path == "/v21.0/MEDIA1"
        else Reply(200, png, {"Content-Type": "image/png"})
    )
    body = webhook_body(messages=[wa_message("image", {"mime_type": "image/png", "sha256": "x", "id": "MEDIA1"})])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/whatsapp/wa-media/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=wa_signed(body)["X-Hub-Signature-256"],
        )
    attachment = Attachment.objects.get(pk=Message.objects.get().attachments[0])
    assert [r.path for r in stand_in.requests] == ["/v21.0/MEDIA1", "/download/MEDIA1"]
    assert all(r.headers["Authorization"] == "Bearer tok" for r in stand_in.requests)
    assert attachment.status == "ready", attachment.error


def test_api_channel_end_to_end_in(client, django_capture_on_commit_callbacks):
    InboxFactory(
        kind="api", key="api-shop", config={"callback_url": "http://127.0.0.1:9/"}, credentials={"secret": "k"}
    )
    body, headers = signed_body(
        "k", {"type": "message", "id": "m-1", "sender": {"id": "u-1", "name": "Lin"}, "text": "Hello API"}
    )
    extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k != "Content-Type"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/gateway/api/api-shop/", body, content_type="application/json", **extra).status_code == 200
        assert client.post("/gateway/api/api-shop/", body, content_type="application/json", **extra).status_code == 200
    assert Message.objects.get().text == "Hello API"


def test_wechat_plain_text_in(client, django_capture_on_commit_callbacks):
    InboxFactory(
        kind="wechat",
        key="wx-in",
        config={},
        credentials={
            "token": "switchboard",
            "app_id": "wx0",
            "app_secret": "s",
            "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        },
    )
    query = "&".join(f"{k}={v}" for k, v in plain_query().items())
    xml = wx_xml("text", "<Content><![CDATA[<b>hi</b>]]></Content>")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/gateway/wechat/wx-in/?{query}", xml.encode(), content_type="text/xml")
    assert (response.status_code, response.content) == (200, b"success")
    assert Message.objects.get().text == "<b>hi</b>"


def test_platform_media_that_never_comes_is_marked_failed_after_the_last_attempt(stand_in):
    """The attachment shows "downloading" while retries remain and a clear failure after the last one."""
    from gateway.tasks import platform_media_fetch
    from media.services import attachment_create_pending

    inbox = InboxFactory(
        kind="whatsapp",
        key="wa-broken",
        config={"phone_number_id": "1", "api_base_url": stand_in.url},
        credentials={"access_token": "tok", "app_secret": "wa-app-secret", "verify_token": "v"},
    )
    stand_in.default = lambda r: Reply(503, {"error": {"message": "Service temporarily unavailable"}})
    attachment = attachment_create_pending(channel_kind="whatsapp", uploader_id=str(inbox.pk))
    ref = {"kind": "image", "media_id": "MEDIA9", "content_type": "image/png"}
    # The last retry a worker would run (retries=max_retries): one more attempt, then the give-up.
    platform_media_fetch.apply(args=(attachment.pk, inbox.pk, ref), retries=platform_media_fetch.max_retries)
    attachment.refresh_from_db()
    assert attachment.status == "failed"
    assert attachment.error.startswith("Gave up after 7 attempts")
    assert stand_in.requests, "the platform was asked"
