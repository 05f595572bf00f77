"""One item that fails never fails the others it travels with: every batched or swept path of the system
takes a failing item alone. Each test injects one item that fails in a way validation does not catch (it
stands for whatever the next unforeseen fault is) and checks that the rest go through."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from bots import turn as bot_turn
from bots import waiting as bot_waiting
from bots.models import BotSession
from gateway import services as gateway_services
from gateway import tasks as gateway_tasks
from gateway.models import OutboxItem
from gateway.telegram import TelegramAdapter
from imsubsystem import batching, services
from imsubsystem.models import Conversation, Message
from imsubsystem.ratelimit import customer_identity, message_rate_take_many
from imsubsystem.services import drafts
from tests.factories import ContactFactory, InboxFactory
from tests.factories.bots import BotFlowFactory
from tests.gateway.conftest import (
    Reply,
    stand_in,  # noqa: F401 - fixtures of the switch's own tests
)
from tests.gateway.test_webhooks import tg_update
from tests.imsubsystem.conftest import (  # noqa: F401
    _no_bots,
    frame_log,
    inbox,
    make_agent,
    queue,
    routing_backend,
    supervisor_user,
    widget_session,
)

POISON = "poison \ud800"


def _open(inbox):
    contact = ContactFactory()
    first, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hello")
    return contact, first["conversation_id"]


def _request(inbox, contact, conversation_id, text):
    return {
        "inbox_id": inbox.pk,
        "contact_id": contact.pk,
        "conversation_id": conversation_id,
        "text": text,
        "client_id": str(uuid.uuid4()),
    }


@pytest.mark.django_db(transaction=True)
async def test_a_message_batch_that_fails_goes_again_one_by_one(inbox, monkeypatch, settings):
    """Eight customers' messages in one batch, one of which the database refuses (validation switched off
    to let it through): seven are stored, the eighth fails with its own error, and each customer's
    message was charged to its rate bucket once, not again on the second try."""
    settings.IM_MESSAGE_RATE_LIMITS = {"customer": {"burst": 2, "per_s": 0.001}}
    monkeypatch.setattr(drafts, "text_check", lambda value, *, field: None)
    opened = [await database_sync_to_async(_open)(inbox) for _ in range(8)]
    requests = [
        _request(inbox, contact, conversation_id, POISON if n == 3 else f"honest {n}")
        for n, (contact, conversation_id) in enumerate(opened)
    ]
    batches = []
    batcher = batching.Batcher(lambda rs: batches.append(len(rs)) or batching.messages_admit_and_send(rs))
    results = await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)

    assert batches[0] == 8  # they went together first
    assert isinstance(results[3], UnicodeEncodeError)
    honest = [r for n, r in enumerate(results) if n != 3]
    assert all(r["created"] for r in honest), honest
    stored = await database_sync_to_async(lambda: sorted(Message.objects.exclude(text="hello").values_list("text")))()
    assert stored == [(f"honest {n}",) for n in range(8) if n != 3]
    # Charged once each: one more message fits in each bucket of two, the one after does not.
    identities = [customer_identity(contact.pk) for contact, _ in opened if contact.pk != opened[3][0].pk]
    assert await database_sync_to_async(message_rate_take_many)(identities) == [0] * 7
    assert all(await database_sync_to_async(message_rate_take_many)(identities))


@pytest.mark.django_db
def test_an_outbox_row_that_breaks_the_adapter_fails_alone(
    client, agent, stand_in, django_capture_on_commit_callbacks, monkeypatch, settings
):
    """An unforeseen fault sending one row (not a platform refusal) is retried with backoff and then given
    up like any send error, so the conversation's later rows go out after it."""
    settings.GATEWAY_MAX_ATTEMPTS = 2
    stand_in.default = Reply(200, {"ok": True, "result": {"message_id": 1}})
    InboxFactory(
        kind="telegram",
        key="tg-iso",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "9:Z", "secret_token": "s"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/telegram/tg-iso/",
            tg_update(1, 1, "hi", datetime.now(UTC)),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
        )
    conversation = Conversation.objects.get()
    real_send = TelegramAdapter.send

    def send(self, inbox, http, message):
        if message.text == "breaks the adapter":
            raise ValueError("an adapter fault")
        return real_send(self, inbox, http, message)

    monkeypatch.setattr(TelegramAdapter, "send", send)
    for text in ("breaks the adapter", "goes out after it"):
        with django_capture_on_commit_callbacks(execute=True):
            services.message_send(
                conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text=text
            )
    broken = OutboxItem.objects.get(text="breaks the adapter")
    assert broken.state == "pending" and "ValueError" in broken.last_error  # backing off, not stuck "sending"
    OutboxItem.objects.filter(pk=broken.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    gateway_services.outbox_drain(conversation_id=conversation.pk)
    broken.refresh_from_db()
    assert broken.state == "failed"
    assert OutboxItem.objects.get(text="goes out after it").state == "sent"
    assert [r.json()["text"] for r in stand_in.accepted] == ["goes out after it"]


@pytest.mark.django_db
def test_the_gateway_sweep_goes_on_past_a_failing_conversation(monkeypatch):
    drained = []

    def drain(*, conversation_id):
        if conversation_id == 2:
            raise RuntimeError("one broken conversation")
        drained.append(conversation_id)

    monkeypatch.setattr(gateway_tasks.selectors, "outbox_conversations_due", lambda: [1, 2, 3])
    monkeypatch.setattr(gateway_tasks.selectors, "inbound_events_stalled", lambda **kwargs: [])
    monkeypatch.setattr(gateway_tasks.outbox, "outbox_drain", drain)
    gateway_tasks.gateway_sweep()  # tasks run in the sweep itself here (CELERY_TASK_ALWAYS_EAGER)
    assert drained == [1, 3]


@pytest.mark.django_db
def test_the_bot_watchdog_and_idle_sweep_go_on_past_a_failing_conversation(monkeypatch):
    long_ago = timezone.now() - timedelta(hours=1)
    flow = BotFlowFactory(idle_reminder_after_s=60)
    for conversation_id in (1, 2, 3):
        BotSession.objects.create(
            conversation_id=conversation_id,
            inbox_id=flow.inbox_id,
            contact_id=conversation_id,
            flow=flow,
            pending_since=long_ago,
            last_reply_at=long_ago,
            last_customer_at=long_ago - timedelta(minutes=1),
        )
    queued, reminded = [], []

    def fallback(*, conversation_id, reason):
        if conversation_id == 2:
            raise RuntimeError("one broken conversation")
        queued.append(conversation_id)
        return True

    def idle_step(conversation_id, statuses, now, *, close):
        if conversation_id == 2:
            raise RuntimeError("one broken conversation")
        reminded.append(conversation_id)
        return 1

    monkeypatch.setattr(bot_turn, "bot_fallback_queue", fallback)
    monkeypatch.setattr(bot_waiting, "_idle_step", idle_step)
    assert bot_waiting.bot_watchdog() == 2 and sorted(queued) == [1, 3]
    assert bot_waiting.idle_sweep() == {"reminded": 2, "closed": 0} and sorted(reminded) == [1, 3]


@pytest.mark.django_db
def test_the_media_purge_goes_on_past_an_attachment_it_cannot_delete(settings, tmp_path, monkeypatch):
    from media import services as media_services
    from media.models import Attachment
    from tests.factories.media import AttachmentFactory

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    old = timezone.now() - timedelta(hours=settings.MEDIA_ORPHAN_HOURS + 1)
    stuck, *others = [AttachmentFactory(created_at=old) for _ in range(3)]  # never sent: past retention
    real_delete = media_services.attachment_delete

    def delete(*, attachment):
        if attachment.pk == stuck.pk:
            raise RuntimeError("storage refuses this one")
        real_delete(attachment=attachment)

    monkeypatch.setattr(media_services, "attachment_delete", delete)
    assert media_services.attachments_purge_expired(batch_size=2) == 2
    assert list(Attachment.objects.values_list("pk", flat=True)) == [stuck.pk]
    assert all(not Attachment.objects.filter(pk=a.pk).exists() for a in others)


@pytest.mark.django_db
def test_a_platform_error_that_is_not_storable_text_fails_only_its_row(
    client, agent, stand_in, django_capture_on_commit_callbacks
):
    """The platform's own error text (quoted into the row and shown to the agent) with a lone surrogate
    in it is kept as U+FFFD; the row is given up cleanly and the agent sees why."""
    stand_in.default = Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat \ud800 gone"})
    InboxFactory(
        kind="telegram",
        key="tg-err",
        config={"api_base_url": stand_in.url},
        credentials={"bot_token": "9:Z", "secret_token": "s"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/gateway/telegram/tg-err/",
            tg_update(1, 1, "hi", datetime.now(UTC)),
            content_type="application/json",
            HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="s",
        )
    conversation = Conversation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        payload, _ = services.message_send(
            conversation_id=conversation.pk, sender_kind="agent", sender_user_id=agent.pk, text="hello"
        )
    row = OutboxItem.objects.get()
    assert row.state == "failed" and "chat \ufffd gone" in row.last_error
    message = Message.objects.get(pk=payload["id"])
    assert message.delivery_status == "failed" and "\ufffd" in message.delivery_error
