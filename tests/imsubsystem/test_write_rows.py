"""The write path's INSERT from values (imsubsystem/services/rows.py): no model instance per message, and
the row stored is what the model itself would have written (docs/performance.md, "Speed, round three")."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.db.models import Model
from django.utils import timezone

from imsubsystem import selectors, services
from imsubsystem.models import Message
from imsubsystem.services.rows import NewMessage, messages_insert
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = [f.attname for f in Message._meta.concrete_fields if f.attname not in ("id", "seq", "conversation_id")]


def _row(pk: int) -> dict:
    return Message.objects.filter(pk=pk).values(*COMPARED).get()


def _three_customers_requests(inbox, text: str) -> list[dict]:
    """Three customers, each with an open conversation: one batched request each (text "<text> <n>")."""
    contacts = [ContactFactory() for _ in range(3)]
    opened = [
        services.customer_message_send(inbox_id=inbox.pk, contact_id=c.pk, text="first", client_id="c0")[0]
        for c in contacts
    ]
    return [
        {
            "inbox_id": inbox.pk,
            "contact_id": c.pk,
            "conversation_id": first["conversation_id"],
            "text": f"{text} {n}",
            "client_id": f"c{n + 1}",
        }
        for n, (c, first) in enumerate(zip(contacts, opened, strict=True))
    ]


def test_a_batch_of_messages_builds_no_message_instances(inbox, monkeypatch):
    requests = _three_customers_requests(inbox, "message")
    built: list[Model] = []
    original = Model.__init__

    def counting(self, *args, **kwargs):
        if isinstance(self, Message):
            built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Model, "__init__", counting)
    results = services.customer_messages_send_many(requests=requests)
    monkeypatch.setattr(Model, "__init__", original)
    assert [r["created"] for r in results] == [True, True, True]
    assert built == []
    for result in results:
        stored = Message.objects.select_related("conversation__contact").get(pk=result["message"]["id"])
        assert selectors.message_payload(stored) == result["message"]


def test_the_value_insert_writes_what_the_model_writes(inbox, make_agent):
    agent = make_agent("a1")
    # The model's rows in one conversation, the value INSERT's in another (the unique keys hold).
    model_in, values_in = (
        services.customer_message_send(inbox_id=inbox.pk, contact_id=ContactFactory().pk, text="hi")[0][
            "conversation_id"
        ]
        for _ in range(2)
    )
    sent = timezone.now() - timedelta(minutes=3, microseconds=17)
    variants = [
        {"sender_kind": "customer", "sender_user_id": None, "sender_key": "customer", "client_id": "k1"},
        {
            "sender_kind": "agent",
            "sender_user_id": agent.pk,
            "sender_key": f"agent:{agent.pk}",
            "client_id": None,
            "private": True,
            "text": "an internal note: 退款单",
        },
        {
            "sender_kind": "bot",
            "sender_user_id": None,
            "sender_key": "bot",
            "client_id": None,
            "buttons": [{"label": "是", "value": "yes"}, {"label": "No", "value": "no"}],
            "delivery_status": "pending",
        },
        {
            "sender_kind": "customer",
            "sender_user_id": None,
            "sender_key": "customer",
            "client_id": "k2",
            "platform_message_id": "tg-42",
            "sent_at": sent,
            "attachments": [7, 9],
        },
    ]
    seq = 100
    for variant in variants:
        values = {
            "inbox_id": inbox.pk,
            "text": "hello, Straße",
            "attachments": [],
            "buttons": [],
            "private": False,
            "platform_message_id": None,
            "delivery_status": "stored",
            "created_at": timezone.now(),
            "sent_at": None,
            **variant,
        }
        model = Message(conversation_id=model_in, seq=seq, **values)
        model.save()
        expected = _row(model.pk)
        # The platform id is unique in the inbox: the model's row gives it up before the other is written.
        Message.objects.filter(pk=model.pk).update(platform_message_id=None)
        row = NewMessage(conversation_id=values_in, seq=seq, **values)
        messages_insert([row])
        assert row.pk is not None and row.pk != model.pk
        assert _row(row.pk) == expected
        seq += 1


def test_every_message_column_is_a_row_value_or_its_default():
    """A column added to Message later is written with its default until NewMessage carries it; a column
    NewMessage names must exist (a renamed field fails here, not in production)."""
    columns = {f.attname for f in Message._meta.concrete_fields}
    assert {f.name for f in dataclasses.fields(NewMessage)} - {"pk"} <= columns


def test_the_batch_reads_without_the_orm_return_what_values_list_returns(inbox):
    """rows_by_pk (the lock, the inboxes, the contacts' names) against the ORM's own values_list: the same
    tuples, datetimes aware and equal, ids in order, an empty or repeated id list handled."""
    from crm.models import Contact
    from imsubsystem.models import Conversation, Inbox
    from imsubsystem.services.rows import LOCKED_FIELDS, contact_names, conversations_lock, rows_by_pk

    named = ContactFactory(name="Ada")
    unnamed = ContactFactory(name="", emails=["x@example.com"])
    ids = []
    for contact in (named, unnamed):
        payload, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi", client_id="c1")
        ids.append(payload["conversation_id"])
    moment = timezone.now().replace(microsecond=123456) - timedelta(days=2)
    Conversation.objects.filter(pk=ids[1]).update(closed_at=moment, snoozed_at=moment, first_agent_reply_at=moment)
    wanted = list(Conversation.objects.filter(pk__in=ids).order_by("pk").values_list(*LOCKED_FIELDS))
    got = rows_by_pk(Conversation, LOCKED_FIELDS, [*reversed(ids), ids[0]], lock=True)
    assert got == wanted
    assert got[1][LOCKED_FIELDS.index("closed_at")] == moment
    assert got[1][LOCKED_FIELDS.index("closed_at")].tzinfo is not None
    assert list(conversations_lock(ids)) == sorted(ids)
    assert rows_by_pk(Inbox, ("id", "kind", "key"), [inbox.pk]) == list(
        Inbox.objects.filter(pk=inbox.pk).values_list("id", "kind", "key")
    )
    assert rows_by_pk(Conversation, LOCKED_FIELDS, []) == []
    names = contact_names([named.pk, unnamed.pk])
    assert names == {named.pk: "Ada", unnamed.pk: "x@example.com"}
    assert names == {c.pk: c.display_name for c in Contact.objects.filter(pk__in=[named.pk, unnamed.pk])}
    with pytest.raises(ValueError, match="plain columns"):
        rows_by_pk(Contact, ("id", "emails"), [named.pk])


def test_the_duplicate_check_reads_the_batch_not_the_history(inbox):
    """A customer's client_id is looked for in every conversation of the contact (a retry must not open a
    new one): by the client_id index, MySQL reads the rows that match, not every message of those
    conversations (before the index it read each of them, so the check grew with the history)."""
    from django.db import connection

    from imsubsystem.models import Conversation
    from imsubsystem.services.rows import message_keys_read

    if connection.vendor != "mysql":
        pytest.skip("the rows MySQL reads")
    contact = ContactFactory()
    first, _ = services.customer_message_send(inbox_id=inbox.pk, contact_id=contact.pk, text="hi", client_id="c0")
    conversation = Conversation.objects.get(pk=first["conversation_id"])
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            conversation=conversation,
            inbox=inbox,
            seq=n,
            sender_kind="customer",
            sender_key="customer",
            client_id=f"history-{n}",
            text=f"message {n}",
            created_at=now,
        )
        for n in range(2, 2002)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE TABLE imsubsystem_message, imsubsystem_conversation")
        cursor.fetchall()

    def rows_read(**keys) -> tuple[list, int]:
        with connection.cursor() as cursor:
            cursor.execute("FLUSH STATUS")
            found = message_keys_read(**keys)
            cursor.execute("SHOW SESSION STATUS LIKE 'Handler_read%%'")
            return found, sum(int(value) for _, value in cursor.fetchall())

    found, read = rows_read(customer=({"new-1", "new-2", "history-7"}, {contact.pk}))
    assert [row[3] for row in found] == ["history-7"]
    assert read < 50
    found, read = rows_read(sender=({conversation.pk}, {"customer"}, {"new-1", "history-9"}))
    assert [row[3] for row in found] == ["history-9"]
    assert read < 50


def test_the_statements_parameters_are_written_in_as_mysqlclient_writes_them():
    """statement_rendered: byte for byte the statement mysqlclient builds from the same parameters
    (quotes, backslashes, NUL, percent signs, non-BMP text, repeated values, bools, NULL, large and
    negative ints); any other type is left to mysqlclient."""
    from django.db import connection

    from imsubsystem.models import SenderKind
    from imsubsystem.services.rows import statement_rendered

    if connection.vendor != "mysql":
        assert statement_rendered(connection, "SELECT %s", [1]) is None
        return
    params = [
        0,
        -7,
        2**63 - 1,
        -(2**63),
        None,
        True,
        False,
        "",
        "plain",
        "it's",
        'say "hi"',
        "back\\slash",
        "nul\x00byte",
        "100% %s %d",
        "line\nbreak\r\ttab\x1a",
        "中文 😀",
        "plain",
        "it's",
        True,
        None,
        "2026-12-06 07:50:36.976372",
        '[{"label": "a"}]',
        SenderKind.CUSTOMER,
        "customer",
    ]
    sql = "SELECT " + ", ".join(["%s"] * len(params))
    with connection.cursor() as cursor:
        rendered = statement_rendered(connection, sql, params)
        assert rendered == cursor.cursor.mogrify(sql, params)
        cursor.execute(rendered)
        assert list(cursor.fetchone()) == [
            0,
            -7,
            2**63 - 1,
            -(2**63),
            None,
            1,
            0,
            *params[7:16],
            "plain",
            "it's",
            1,
            None,
            *params[20:],
        ]
        # Every value written in, a text choice as its value (nothing left to mysqlclient).
        assert "%s" not in rendered.replace("100% %s %d", "")
        assert statement_rendered(connection, "SELECT %s", [1.5]) is None
        assert statement_rendered(connection, "SELECT %s", [b"bytes"]) is None


def test_a_batchs_statements_are_all_written_in(inbox, make_agent, monkeypatch):
    """On MySQL every statement of a batch (the lock, the inboxes, the duplicate check, the INSERTs, the
    UPDATE, the names) has its values written in by statement_rendered: none falls back to mysqlclient's
    per-value escaping (a text choice among the values once sent the whole INSERT back to it)."""
    from django.db import connection

    from imsubsystem.services import rows

    if connection.vendor != "mysql":
        pytest.skip("MySQL only")
    requests = _three_customers_requests(inbox, "it's 100%")
    seen: list[tuple[str, bool]] = []
    original = rows.statement_rendered

    def spy(db, sql, params):
        statement = original(db, sql, params)
        seen.append((sql.split(" ", 3)[:3], statement is not None))
        return statement

    monkeypatch.setattr(rows, "statement_rendered", spy)
    results = services.customer_messages_send_many(requests=requests)
    assert [r["created"] for r in results] == [True, True, True]
    assert len(seen) >= 6
    assert [s for s in seen if not s[1]] == []
    assert [m.text for m in Message.objects.filter(pk__in=[r["message"]["id"] for r in results]).order_by("pk")] == [
        f"it's 100% {n}" for n in range(3)
    ]
