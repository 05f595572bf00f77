"""Seq numbers under concurrency: real threads, real MySQL connections, one conversation."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from imsubsystem import services
from imsubsystem.models import Conversation, Message
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_concurrent_senders_get_seq_1_to_20_without_gap_or_duplicate(inbox, make_agent):
    agents = [make_agent(f"agent{i}") for i in range(4)]
    first, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="start")
    conversation_id = first["conversation_id"]
    Message.objects.all().delete()
    Conversation.objects.filter(pk=conversation_id).update(last_seq=0)

    barrier = threading.Barrier(20)
    results: list[int] = []
    errors: list[BaseException] = []

    def sender(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            message, created = services.message_send(
                conversation_id=conversation_id,
                sender_kind="agent",
                sender_user_id=agents[index % 4].pk,
                text=f"message {index}",
                client_id=f"c{index}",
            )
            assert created
            results.append(message["seq"])
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == list(range(1, 21))
    assert sorted(Message.objects.values_list("seq", flat=True)) == list(range(1, 21))
    assert Conversation.objects.get(pk=conversation_id).last_seq == 20


def test_concurrent_retries_of_one_client_id_store_one_message(inbox):
    contact = ContactFactory()
    barrier = threading.Barrier(8)
    ids: list[int] = []
    errors: list[BaseException] = []

    def retry() -> None:
        try:
            barrier.wait(timeout=10)
            message, _ = services.customer_message_send(
                inbox_id=inbox.pk, contact_id=contact.pk, text="only once", client_id="same-id"
            )
            ids.append(message["id"])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(set(ids)) == 1 and len(ids) == 8
    assert Message.objects.count() == 1 and Conversation.objects.count() == 1
