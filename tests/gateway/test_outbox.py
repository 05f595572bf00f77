"""The outbound path: an outbox row per agent message, drained in order against a stand-in platform, with
retries, backoff, Retry-After, a give-up state the agent sees, and a claim that only one worker wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from gateway import delivery, outbox
from gateway.base import DeliveryReport
from gateway.models import OutboxItem
from imsubsystem.models import Conversation, Message
from imsubsystem.services import message_send
from tests.factories import InboxFactory
from tests.gateway.conftest import Reply
from tests.gateway.test_webhooks import tg_update

pytestmark = pytest.mark.django_db


def ok(counter=iter(range(1, 10_000))):
    return lambda request: Reply(200, {"ok": True, "result": {"message_id": next(counter)}})


@pytest.fixture
def conversation(client, stand_in, django_capture_on_commit_callbacks):
    InboxFactory(
        kind="telegram",
        key="tg-out",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "9:Z", "secret_token": "s"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/telegram/tg-out/",
            tg_update(1, 1, "hello", datetime.now(UTC)),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
        )
    return Conversation.objects.get()


def agent_says(conversation, agent, text, capture, *, private=False):
    with capture(execute=True):
        payload, _ = message_send(
            conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text=text, private=private
        )
    return payload["id"]


def make_due(conversation):
    OutboxItem.objects.filter(conversation_id=conversation.pk, state="pending").update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_agent_messages_go_out_in_order_once(conversation, agent, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = ok()
    ids = [agent_says(conversation, agent, f"reply {n}", django_capture_on_commit_callbacks) for n in range(3)]
    assert [r.json()["text"] for r in stand_in.requests] == ["reply 0", "reply 1", "reply 2"]
    assert all(r.path == "/bot9:Z/sendMessage" and r.json()["chat_id"] == "4242" for r in stand_in.requests)
    rows = list(OutboxItem.objects.order_by("id"))
    assert [r.message_id for r in rows] == ids and {r.state for r in rows} == {"sent"}
    assert all(r.platform_message_id.startswith("4242:") for r in rows)
    assert set(Message.objects.filter(pk__in=ids).values_list("delivery_status", flat=True)) == {"sent"}


def test_private_notes_and_customer_messages_get_no_outbox_row(
    conversation, agent, stand_in, django_capture_on_commit_callbacks
):
    agent_says(conversation, agent, "internal only", django_capture_on_commit_callbacks, private=True)
    assert OutboxItem.objects.count() == 0 and stand_in.requests == []


def test_500_then_200_is_sent_once(conversation, agent, stand_in, django_capture_on_commit_callbacks):
    stand_in.script = [Reply(500, {"ok": False, "description": "Internal Server Error"})]
    stand_in.default = ok()
    message_id = agent_says(conversation, agent, "retry me", django_capture_on_commit_callbacks)
    item = OutboxItem.objects.get()
    assert item.state == "pending" and item.attempts == 1 and "500" in item.last_error
    assert item.next_attempt_at > timezone.now()
    assert outbox.outbox_drain(conversation_id=conversation.pk) > 0  # not due yet: nothing sent
    make_due(conversation)
    assert outbox.outbox_drain(conversation_id=conversation.pk) is None
    item.refresh_from_db()
    assert item.state == "sent" and item.attempts == 2
    assert len(stand_in.accepted) == 1 and len(stand_in.requests) == 2
    assert Message.objects.get(pk=message_id).delivery_status == "sent"


def test_429_backs_off_for_retry_after(conversation, agent, stand_in, django_capture_on_commit_callbacks):
    stand_in.script = [
        Reply(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 40",
                "parameters": {"retry_after": 40},
            },
        )
    ]
    stand_in.default = ok()
    agent_says(conversation, agent, "slow down", django_capture_on_commit_callbacks)
    item = OutboxItem.objects.get()
    assert item.state == "pending"
    assert item.next_attempt_at >= timezone.now() + timedelta(seconds=38)
    # A later message waits behind it: order is kept.
    agent_says(conversation, agent, "after", django_capture_on_commit_callbacks)
    assert len(stand_in.requests) == 1
    make_due(conversation)
    outbox.outbox_drain(conversation_id=conversation.pk)
    assert [r.json()["text"] for r in stand_in.accepted] == ["slow down", "after"]


def test_permanent_error_fails_with_the_platforms_reason(
    conversation, agent, stand_in, django_capture_on_commit_callbacks
):
    stand_in.script = [
        Reply(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    ]
    stand_in.default = ok()
    message_id = agent_says(conversation, agent, "are you there?", django_capture_on_commit_callbacks)
    agent_says(conversation, agent, "next one", django_capture_on_commit_callbacks)
    first, second = OutboxItem.objects.order_by("id")
    assert first.state == "failed" and "blocked by the user" in first.last_error
    assert second.state == "sent"
    message = Message.objects.get(pk=message_id)
    assert message.delivery_status == "failed" and "blocked by the user" in message.delivery_error


def test_gives_up_after_the_last_attempt(conversation, agent, stand_in, django_capture_on_commit_callbacks, settings):
    settings.GATEWAY_MAX_ATTEMPTS = 3
    stand_in.default = Reply(502, {"ok": False, "description": "Bad Gateway"})
    message_id = agent_says(conversation, agent, "doomed", django_capture_on_commit_callbacks)
    for _ in range(2):
        make_due(conversation)
        outbox.outbox_drain(conversation_id=conversation.pk)
    item = OutboxItem.objects.get()
    assert (item.state, item.attempts) == ("failed", 3) and "502" in item.last_error
    assert Message.objects.get(pk=message_id).delivery_status == "failed"


def test_a_claimed_row_is_not_sent_by_a_second_worker_until_its_lease_expires(
    conversation, agent, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = ok()
    with django_capture_on_commit_callbacks(execute=False):
        message_send(conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text="once")
    item = OutboxItem.objects.get()
    assert outbox._claim(item, timezone.now())
    assert not outbox._claim(item, timezone.now())  # the same read state: the second UPDATE matches nothing
    assert outbox.outbox_drain(conversation_id=conversation.pk) is None
    assert stand_in.requests == []
    OutboxItem.objects.filter(pk=item.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    outbox.outbox_drain(conversation_id=conversation.pk)
    item.refresh_from_db()
    assert item.state == "sent" and item.attempts == 2 and len(stand_in.accepted) == 1


def test_delivery_reports_move_forward_only(conversation, agent, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = ok()
    message_id = agent_says(conversation, agent, "track me", django_capture_on_commit_callbacks)
    item = OutboxItem.objects.get()
    inbox_id = item.inbox_id
    assert delivery.delivery_report_apply(inbox_id=inbox_id, report=DeliveryReport(item.platform_message_id, "read"))
    assert not delivery.delivery_report_apply(
        inbox_id=inbox_id, report=DeliveryReport(item.platform_message_id, "delivered")
    )
    assert Message.objects.get(pk=message_id).delivery_status == "read"
    with pytest.raises(delivery.EventNotReady):
        delivery.delivery_report_apply(inbox_id=inbox_id, report=DeliveryReport("unknown", "read"))


def test_whatsapp_window_closed_gives_the_agent_a_clear_error(
    client, agent, stand_in, django_capture_on_commit_callbacks
):
    from tests.gateway.test_whatsapp import signed, wa_message, webhook_body

    InboxFactory(
        kind="whatsapp",
        key="wa-out",
        config={"phone_number_id": "55", "api_base_url": stand_in.url},
        credentials={"access_token": "t", "app_secret": "wa-app-secret", "verify_token": "v"},
    )
    old = str(int((timezone.now() - timedelta(hours=30)).timestamp()))
    body = webhook_body(messages=[wa_message("text", {"body": "old question"}, ts=old)])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/whatsapp/wa-out/",
            body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=signed(body)["X-Hub-Signature-256"],
        )
    conversation = Conversation.objects.get()
    message_id = agent_says(conversation, agent, "late answer", django_capture_on_commit_callbacks)
    assert stand_in.requests == []
    message = Message.objects.get(pk=message_id)
    assert (
        message.delivery_status == "failed"
        and "24-hour" in message.delivery_error
        and "template" in message.delivery_error
    )


def test_an_agents_file_reaches_the_platform_as_a_link_it_can_fetch(
    conversation, agent, stand_in, django_capture_on_commit_callbacks, client, settings, tmp_path
):
    """An agent's PDF on a Telegram conversation goes out as sendDocument with a signed, absolute link
    that serves the same bytes to a client without our cookies."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from media.services import attachment_upload

    settings.MEDIA_ROOT = str(tmp_path)
    settings.MEDIA_PUBLIC_BASE_URL = "https://switchboard.example"
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    attachment = attachment_upload(
        file=SimpleUploadedFile("invoice.pdf", pdf, content_type="application/pdf"),
        channel_kind="telegram",
        uploader_kind="agent",
        uploader_id=str(agent.pk),
    )
    stand_in.default = ok()
    with django_capture_on_commit_callbacks(execute=True):
        message_send(
            conversation_id=conversation.pk,
            sender_kind="agent",
            sender_user_id=agent.pk,
            text="Your invoice",
            attachment_ids=[attachment.pk],
        )
    [request] = stand_in.requests  # the text rides as the document's caption
    assert request.path == "/bot9:Z/sendDocument" and request.json()["caption"] == "Your invoice"
    link = request.json()["document"]
    assert link.startswith("https://switchboard.example/")
    fetched = client.__class__().get(link.removeprefix("https://switchboard.example"))
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == pdf
    assert OutboxItem.objects.get().state == "sent"
