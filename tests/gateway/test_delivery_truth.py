"""A platform failure reaches the agent: a send that will be tried again is `retrying` with the reason and
when the next attempt is due (on the message, in its message.status frame and in the console's history),
"Retry now" makes it due at once, and a send that gave up can be retried the same way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from crm.roles import AGENT
from gateway import outbox
from gateway.models import OutboxItem
from imsubsystem.models import Conversation, Message
from imsubsystem.services import message_send
from tests.factories import InboxFactory, UserFactory
from tests.gateway.conftest import Reply
from tests.gateway.test_webhooks import tg_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(client, stand_in, agent, django_capture_on_commit_callbacks):
    InboxFactory(
        kind="telegram",
        key="tg-truth",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "9:Z", "secret_token": "s"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/telegram/tg-truth/",
            tg_update(1, 1, "hello", datetime.now(UTC)),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
        )
    conversation = Conversation.objects.get()
    Conversation.objects.filter(pk=conversation.pk).update(status="assigned", assignee=agent)
    return conversation


def retry_url(conversation, message_id) -> str:
    return f"/api/v1/agent/conversations/{conversation.pk}/messages/{message_id}/retry"


def agent_says(conversation, agent, text, capture):
    with capture(execute=True):
        payload, _ = message_send(
            conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text=text
        )
    return payload["id"]


def published_statuses(monkeypatch):
    frames: list[dict] = []
    from imsubsystem.services import delivery as switch

    real = switch.event_publish_on_commit

    def record(*, group, frame, **kwargs):
        if frame.get("type") == "message.status":
            frames.append(frame)
        return real(group=group, frame=frame, **kwargs)

    monkeypatch.setattr(switch, "event_publish_on_commit", record)
    return frames


def test_a_send_to_be_retried_is_retrying_with_the_reason_and_the_next_attempt(
    conversation, agent, agent_client, stand_in, django_capture_on_commit_callbacks, monkeypatch
):
    frames = published_statuses(monkeypatch)
    stand_in.default = Reply(502, {"ok": False, "description": "Bad Gateway"})
    before = timezone.now()
    message_id = agent_says(conversation, agent, "are you there?", django_capture_on_commit_callbacks)

    item = OutboxItem.objects.get(message_id=message_id)
    message = Message.objects.get(pk=message_id)
    assert item.state == "pending" and item.attempts == 1
    assert message.delivery_status == "retrying"
    assert "502" in message.delivery_error or "Bad Gateway" in message.delivery_error
    assert message.delivery_retry_at == item.next_attempt_at and message.delivery_retry_at > before
    (frame,) = frames
    assert frame["status"] == "retrying" and frame["error"] == message.delivery_error
    assert frame["retry_at"] == item.next_attempt_at.isoformat()

    # The console's history says the same after a reload.
    history = agent_client.get(f"/api/v1/agent/conversations/{conversation.pk}/messages").json()
    (row,) = [m for m in history["messages"] if m["id"] == message_id]
    assert row["delivery_status"] == "retrying"
    assert row["delivery_retry_at"] == item.next_attempt_at.isoformat()
    assert row["delivery_error"] == message.delivery_error


def test_retry_now_sends_at_once_and_a_sent_message_has_nothing_to_retry(
    conversation, agent, agent_client, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = Reply(503, {"ok": False, "description": "Service Unavailable"})
    message_id = agent_says(conversation, agent, "hello again", django_capture_on_commit_callbacks)
    assert OutboxItem.objects.get(message_id=message_id).next_attempt_at > timezone.now()
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 77}})

    url = f"/api/v1/agent/conversations/{conversation.pk}/messages/{message_id}/retry"
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(url, {}, content_type="application/json")
    assert response.status_code == 202, response.content
    assert OutboxItem.objects.get(message_id=message_id).state == "sent"
    message = Message.objects.get(pk=message_id)
    assert (message.delivery_status, message.delivery_retry_at) == ("sent", None)
    assert [r.json()["text"] for r in stand_in.accepted] == ["hello again"]

    again = agent_client.post(url, {}, content_type="application/json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_retryable"
    assert len(stand_in.accepted) == 1


def test_retry_now_takes_a_failed_send_through_its_attempts_again(
    conversation, agent, agent_client, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = Reply(403, {"ok": False, "description": "Forbidden: bot was blocked by the user"})
    message_id = agent_says(conversation, agent, "blocked?", django_capture_on_commit_callbacks)
    assert Message.objects.get(pk=message_id).delivery_status == "failed"

    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 78}})
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(retry_url(conversation, message_id), {}, content_type="application/json")
    assert response.status_code == 202
    assert Message.objects.get(pk=message_id).delivery_status == "sent"


def test_retry_now_is_refused_on_a_conversation_the_agent_may_not_see(
    conversation, agent, client, stand_in, django_capture_on_commit_callbacks
):
    stand_in.default = Reply(503, {"ok": False})
    message_id = agent_says(conversation, agent, "mine", django_capture_on_commit_callbacks)
    item = OutboxItem.objects.get(message_id=message_id)
    client.force_login(UserFactory(username="other-agent", role=AGENT))
    response = client.post(retry_url(conversation, message_id), {}, content_type="application/json")
    assert response.status_code == 404
    assert OutboxItem.objects.get(pk=item.pk).next_attempt_at == item.next_attempt_at


def test_an_unknown_message_is_not_found(conversation, agent_client):
    response = agent_client.post(
        f"/api/v1/agent/conversations/{conversation.pk}/messages/999999/retry", {}, content_type="application/json"
    )
    assert response.status_code == 404


def test_retry_now_sends_earlier_waiting_rows_first(conversation, agent, stand_in, django_capture_on_commit_callbacks):
    stand_in.default = Reply(503, {"ok": False})
    first = agent_says(conversation, agent, "first", django_capture_on_commit_callbacks)
    second = agent_says(conversation, agent, "second", django_capture_on_commit_callbacks)
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 1}})
    assert outbox.outbox_retry_now(message_id=second) is not None
    outbox.outbox_drain(conversation_id=conversation.pk)
    assert [r.json()["text"] for r in stand_in.accepted] == ["first", "second"]
    assert set(Message.objects.filter(pk__in=[first, second]).values_list("delivery_status", flat=True)) == {"sent"}
