"""The switch's services against real MySQL, Redis and the routing app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from crm.services import contact_merge
from imsubsystem import selectors, services
from imsubsystem.hooks import message_stored
from imsubsystem.models import Conversation, Inbox, Message
from imsubsystem.services import SwitchError
from routing.backends import get_backend
from routing.models import WorkItem
from tests.factories import ContactFactory, InboxFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _customer_writes(inbox, contact, text="Hello", client_id=None):
    return services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text=text, client_id=client_id)


def test_first_customer_message_opens_a_queued_conversation_and_enqueues_it(inbox, queue):
    contact = ContactFactory()
    message, created = _customer_writes(inbox, contact, client_id="c-1")
    assert created
    conversation = Conversation.objects.get(pk=message["conversation_id"])
    assert conversation.status == "queued"
    assert conversation.queue_id == queue.pk
    assert conversation.first_queued_at is not None
    assert message["seq"] == 1 and message["sender"] == {"kind": "customer", "name": contact.display_name}
    assert WorkItem.objects.filter(ref=conversation.pk, queue_id=queue.pk).exists()


def test_same_client_id_returns_the_first_message_and_stores_one_row(inbox):
    contact = ContactFactory()
    first, created = _customer_writes(inbox, contact, text="Where is my order?", client_id="same")
    again, created_again = _customer_writes(inbox, contact, text="Where is my order? (retry)", client_id="same")
    assert created and not created_again
    assert again == first
    assert Message.objects.count() == 1


def test_an_agent_may_reuse_a_customer_client_id_in_the_same_conversation(inbox, make_agent):
    agent = make_agent("a1")
    contact = ContactFactory()
    customer, _ = _customer_writes(inbox, contact, client_id="x")
    reply, created = services.message_send(
        conversation_id=customer["conversation_id"],
        sender_kind="agent",
        sender_user_id=agent.pk,
        text="Hi",
        client_id="x",
    )
    assert created and reply["seq"] == 2


def test_messages_of_a_conversation_get_consecutive_seqs(inbox):
    contact = ContactFactory()
    seqs = [_customer_writes(inbox, contact, text=f"m{i}")[0]["seq"] for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert Conversation.objects.get().last_seq == 5


@pytest.mark.parametrize(
    ("text", "code"),
    [("x" * 4001, "too_long"), ("   ", "empty"), ("", "empty")],
)
def test_bad_text_is_refused_and_changes_nothing(inbox, text, code):
    with pytest.raises(SwitchError) as refused:
        _customer_writes(inbox, ContactFactory(), text=text)
    assert refused.value.code == code
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_customers_cannot_write_private_notes(inbox):
    message, _ = _customer_writes(inbox, ContactFactory())
    with pytest.raises(SwitchError) as refused:
        services.message_send(
            conversation_id=message["conversation_id"], sender_kind="customer", text="x", private=True
        )
    assert refused.value.code == "forbidden"


def test_a_closed_conversation_refuses_agent_messages(inbox, make_agent):
    agent = make_agent("a1")
    message, _ = _customer_writes(inbox, ContactFactory())
    services.conversation_close(conversation_id=message["conversation_id"], by_user_id=agent.pk, wrap_up="Solved")
    with pytest.raises(SwitchError) as refused:
        services.message_send(
            conversation_id=message["conversation_id"], sender_kind="agent", sender_user_id=agent.pk, text="late"
        )
    assert refused.value.code == "conversation_closed"
    conversation = Conversation.objects.get()
    assert conversation.wrap_up == "Solved" and conversation.closed_at and conversation.open_slot is None
    assert WorkItem.objects.get(ref=conversation.pk).status in ("cancelled", "completed")


def test_writing_soon_after_a_close_reopens_the_same_conversation(inbox):
    contact = ContactFactory()
    first, _ = _customer_writes(inbox, contact)
    services.conversation_close(conversation_id=first["conversation_id"])
    again, _ = _customer_writes(inbox, contact, text="One more thing")
    assert again["conversation_id"] == first["conversation_id"]
    assert again["seq"] == 2
    assert Conversation.objects.get().status == "queued"


def test_writing_after_the_reopen_window_opens_a_new_conversation(inbox, settings):
    contact = ContactFactory()
    first, _ = _customer_writes(inbox, contact)
    services.conversation_close(conversation_id=first["conversation_id"])
    Conversation.objects.update(closed_at=timezone.now() - timedelta(seconds=settings.IM_REOPEN_WINDOW_S + 5))
    again, _ = _customer_writes(inbox, contact, text="New problem")
    assert again["conversation_id"] != first["conversation_id"]
    assert again["seq"] == 1
    assert Conversation.objects.filter(status="closed").count() == 1


def test_a_retried_client_id_after_a_new_conversation_opened_still_returns_the_first(inbox, settings):
    contact = ContactFactory()
    first, _ = _customer_writes(inbox, contact, client_id="k")
    services.conversation_close(conversation_id=first["conversation_id"])
    Conversation.objects.update(closed_at=timezone.now() - timedelta(days=1))
    again, created = _customer_writes(inbox, contact, client_id="k")
    assert not created and again["id"] == first["id"]
    assert Conversation.objects.count() == 1


def test_message_by_client_id_in_one_conversation_or_across_a_customers_conversations(inbox):
    contact, other = ContactFactory(), ContactFactory()
    first, _ = _customer_writes(inbox, contact, client_id="k")
    services.conversation_close(conversation_id=first["conversation_id"])
    Conversation.objects.update(closed_at=timezone.now() - timedelta(days=1))
    second, _ = _customer_writes(inbox, contact, client_id="k2")
    _customer_writes(inbox, other, client_id="k")  # the same client_id from someone else
    assert second["conversation_id"] != first["conversation_id"]

    def found(**scope):
        message = selectors.message_by_client_id(sender_key="customer", client_id="k", **scope)
        return message and message.pk

    assert found(inbox_id=inbox.pk, contact_id=contact.pk) == first["id"]
    assert found(conversation_id=first["conversation_id"]) == first["id"]
    assert found(conversation_id=second["conversation_id"]) is None
    assert found(inbox_id=InboxFactory(key="other").pk, contact_id=contact.pk) is None
    for scope in ({}, {"inbox_id": inbox.pk}, {"conversation_id": 1, "inbox_id": inbox.pk, "contact_id": contact.pk}):
        with pytest.raises(TypeError):
            found(**scope)


def test_inbound_platform_message_is_idempotent_on_platform_id(queue):
    inbox = InboxFactory(key="tg", kind="telegram", default_queue=queue)
    contact = ContactFactory()
    sent_at = timezone.now()
    first, created = services.inbound_message_receive(
        inbox_id=inbox.pk, contact_id=contact.pk, text="Hi from Telegram", platform_message_id="77", sent_at=sent_at
    )
    again, created_again = services.inbound_message_receive(
        inbox_id=inbox.pk, contact_id=contact.pk, text="Hi from Telegram", platform_message_id="77", sent_at=sent_at
    )
    assert created and not created_again and again["id"] == first["id"]
    stored = Message.objects.get()
    assert stored.platform_message_id == "77" and stored.sent_at == sent_at.replace(
        microsecond=stored.sent_at.microsecond
    )


def test_message_stored_is_sent_inside_the_transaction(inbox):
    seen = []

    def receiver(event):
        seen.append((event.as_dict(), connection.in_atomic_block))

    with message_stored.subscribed(receiver):
        message, _ = _customer_writes(inbox, ContactFactory())
    ((kwargs, in_transaction),) = seen
    assert in_transaction
    assert kwargs["message_id"] == message["id"] and kwargs["inbox_kind"] == "web"
    assert kwargs["sender_kind"] == "customer" and kwargs["private"] is False


def test_a_failing_outbox_receiver_rolls_the_message_back(inbox):
    def receiver(event):
        raise RuntimeError("outbox down")

    contact = ContactFactory()
    with message_stored.subscribed(receiver), pytest.raises(RuntimeError):
        _customer_writes(inbox, contact)
    assert not Message.objects.exists()


def test_delivery_update_is_stored_and_published(queue, frame_log):
    inbox = InboxFactory(key="wa", kind="whatsapp", default_queue=queue)
    message, _ = services.inbound_message_receive(
        inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="hi", platform_message_id="wamid.1", sent_at=None
    )
    services.message_delivery_update(message_id=message["id"], status="failed", error="131047 re-engagement")
    stored = Message.objects.get()
    assert stored.delivery_status == "failed" and stored.delivery_error == "131047 re-engagement"
    assert any(f["type"] == "message.status" and f["status"] == "failed" for _, f in frame_log.published)
    with pytest.raises(SwitchError):
        services.message_delivery_update(message_id=message["id"], status="teleported")


def test_a_queue_move_tells_every_waiting_customer_their_place(inbox, queue, frame_log, monkeypatch):
    conversations = [_customer_writes(inbox, ContactFactory())[0]["conversation_id"] for _ in range(3)]
    frame_log.published.clear()
    backend = type(get_backend())
    with monkeypatch.context() as patched:  # one read for the whole queue, not one per conversation
        patched.setattr(backend, "work_position", lambda self, **kwargs: pytest.fail("position asked one by one"))
        services.queue_positions_publish(queue_id=queue.pk)
    places = {
        frame["conversation_id"]: frame["queue"]
        for _, frame in frame_log.published
        if frame["type"] == "conversation.status"
    }
    assert {conversation_id: place["position"] for conversation_id, place in places.items()} == {
        conversation_id: n for n, conversation_id in enumerate(conversations, start=1)
    }
    # Each also carries the customer's wait so far (a second or so here).
    assert all(isinstance(place.pop("waited_s"), int) for place in places.values())
    assert places == {conversation_id: selectors.queue_info(conversation_id) for conversation_id in conversations}
    assert ("queue.changed", queue.pk) in {(f["type"], f.get("queue_id")) for _, f in frame_log.published}


def test_read_pointers_only_move_forward_and_stop_at_last_seq(inbox):
    message, _ = _customer_writes(inbox, ContactFactory())
    conversation_id = message["conversation_id"]
    assert services.conversation_read_mark(conversation_id=conversation_id, by="agent", up_to_seq=99) == 1
    assert services.conversation_read_mark(conversation_id=conversation_id, by="agent", up_to_seq=0) == 1
    assert Conversation.objects.get().agent_last_read_seq == 1


def test_private_notes_are_left_out_of_customer_history_but_accounted_for(inbox, make_agent):
    agent = make_agent("a1")
    message, _ = _customer_writes(inbox, ContactFactory())
    conversation_id = message["conversation_id"]
    services.message_send(
        conversation_id=conversation_id, sender_kind="agent", sender_user_id=agent.pk, text="VIP", private=True
    )
    services.message_send(conversation_id=conversation_id, sender_kind="agent", sender_user_id=agent.pk, text="Hi!")
    customer_view = selectors.history_for_customer(conversation_id=conversation_id)
    assert [(f["type"], f.get("seq") or f["message"]["seq"]) for f in customer_view] == [
        ("message.new", 1),
        ("message.hidden", 2),
        ("message.new", 3),
    ]
    assert "VIP" not in str(customer_view)
    staff_view = selectors.messages_after(conversation_id=conversation_id, include_private=True)
    assert [m["text"] for m in staff_view] == ["Hello", "VIP", "Hi!"]


def test_agent_conversation_list_counts_unread_customer_messages(inbox, make_agent):
    agent = make_agent("a1")
    message, _ = _customer_writes(inbox, ContactFactory())
    Conversation.objects.update(status="assigned", assignee=agent)
    _customer_writes(inbox, Conversation.objects.get().contact, text="still there?")
    services.message_send(
        conversation_id=message["conversation_id"], sender_kind="agent", sender_user_id=agent.pk, text="yes"
    )
    (summary,) = selectors.conversations_for_agent(user_id=agent.pk)
    assert summary["unread"] == 2 and summary["last_seq"] == 3
    services.conversation_read_mark(conversation_id=message["conversation_id"], by="agent", up_to_seq=2)
    assert selectors.conversations_for_agent(user_id=agent.pk)[0]["unread"] == 0


def test_contact_merge_moves_conversations_and_closes_a_clashing_open_one(inbox):
    source, target = ContactFactory(), ContactFactory()
    _customer_writes(inbox, source)
    _customer_writes(inbox, target)
    other_inbox = InboxFactory(key="other", default_queue=inbox.default_queue)
    _customer_writes(other_inbox, source)
    record = contact_merge(source=source, target=target)
    assert record.moved["conversations"] == 2 and record.moved["conversations_closed"] == 1
    assert Conversation.objects.filter(contact=target).count() == 3
    assert Conversation.objects.filter(contact=target, status="queued").count() == 2
    assert set(Conversation.objects.exclude(open_slot=None).values_list("open_slot", flat=True)) == {
        f"{inbox.pk}:{target.pk}",
        f"{other_inbox.pk}:{target.pk}",
    }


def test_inbox_credentials_are_encrypted_at_rest(queue):
    inbox = InboxFactory(key="enc", kind="telegram", default_queue=queue, credentials={"bot_token": "123:SECRET"})
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM imsubsystem_inbox WHERE id = %s", [inbox.pk])
        (raw,) = cursor.fetchone()
    assert "SECRET" not in raw
    assert Inbox.objects.get(pk=inbox.pk).credentials == {"bot_token": "123:SECRET"}


def test_bot_handlers_receive_plain_dicts_and_new_conversations_start_with_the_bot(bot_double, inbox, settings):
    received = bot_double()
    message, _ = _customer_writes(inbox, ContactFactory(), text="Opening hours?")
    assert Conversation.objects.get().status == "bot"
    assert not WorkItem.objects.exists()
    (event,) = received
    assert event["message"] == message
    assert event["conversation"]["status"] == "bot" and event["conversation"]["inbox_kind"] == "web"
    services.conversation_queue(conversation_id=message["conversation_id"])
    assert Conversation.objects.get().status == "queued"
    assert WorkItem.objects.filter(ref=message["conversation_id"]).exists()
