"""The write path's reads and its two statements (services/messages.py): the locked conversations, their
inboxes and the customers' names read as values, not model instances (a batch only reads their fields);
every new message of a batch in one multi-row INSERT, their search tokens in another (imsubsystem/search.py),
and the new seqs of every conversation it touched in one UPDATE."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from crm.models import Contact
from imsubsystem.models import Conversation, Inbox, Message, MessageToken, SenderKind
from imsubsystem.search import text_hashes
from imsubsystem.selectors import user_display_name


@dataclasses.dataclass(slots=True)
class LockedConversation:
    """The fields of a locked conversation row the write path reads; `last_seq`, `last_message_at` and
    `first_agent_reply_at` change as the batch's messages are taken."""

    pk: int
    inbox_id: int
    contact_id: int
    status: str
    closed_at: datetime | None
    last_seq: int
    first_agent_reply_at: datetime | None
    queue_id: int | None
    assignee_id: int | None
    snoozed_at: datetime | None
    last_message_at: datetime | None = None


LOCKED_FIELDS = [f.name for f in dataclasses.fields(LockedConversation)][:-1]


class InboxRow(NamedTuple):
    pk: int
    kind: str
    key: str


class _ValuesQuery(NamedTuple):
    head: str  # SELECT <columns> FROM <table> WHERE <pk> IN (
    tail: str  # ) [ORDER BY <pk>] [FOR UPDATE]
    datetimes: tuple[int, ...]  # the columns the database returns as it stores them (converted here)


_VALUES_QUERIES: dict[tuple, _ValuesQuery] = {}


def statement_rendered(db: Any, sql: str, params: Sequence[Any]) -> str | None:
    """On MySQL, `sql` with its `%s` parameters written in as mysqlclient writes them, or None where a
    parameter is not an int, a str (or a subclass: text choices), a bool or None (the caller then passes
    the parameters as usual).
    The same escaping as mysqlclient's (the connection's own `literal`, which it calls for each
    parameter), but called once per distinct value of a statement, and not at all for ints and NULL,
    whose literals are their digits and NULL: a batch's statements carry hundreds of values, most of them
    repeated (the inbox, the time, the empty lists, the statuses), and mysqlclient's call per value was a
    sixth of the write path's thread at 2,000 msg/s (docs/performance.md). The result is the statement
    mysqlclient would send, byte for byte (tests/imsubsystem/test_write_rows.py)."""
    if db.vendor != "mysql":
        return None
    raw = db.connection
    literal, encoding = raw.literal, raw.encoding
    known: dict[tuple[type, Any], str] = {}
    rendered: list[str] = []
    for value in params:
        kind = type(value)
        if kind is int:
            rendered.append(str(value))
        elif value is None:
            rendered.append("NULL")
        elif isinstance(value, str | int):  # text choices and other str subclasses, bools
            text = known.get((kind, value))
            if text is None:
                text = known[(kind, value)] = literal(value).decode(encoding)
            rendered.append(text)
        else:
            return None
    return sql % tuple(rendered)


def _execute(cursor: Any, db: Any, sql: str, params: Sequence[Any]) -> None:
    """cursor.execute(sql, params), the parameters written in by statement_rendered where it can."""
    statement = statement_rendered(db, sql, params)
    if statement is None:
        cursor.execute(sql, params)
    else:
        cursor.execute(statement)


def rows_by_pk(
    model: type[models.Model], fields: Sequence[str], ids: Iterable[int], *, lock: bool = False
) -> list[tuple]:
    """`model.objects.filter(pk__in=ids).values_list(*fields)` (in primary-key order, and `FOR UPDATE`
    with `lock` where the database has it) without the ORM's query compiler: a batch's reads are a
    handful of these with an id per message, and compiling them (each id of the IN list through the
    lookup's own preparation) was a tenth of the daphne process at 2,000 msg/s (docs/performance.md).
    Only plain columns and datetimes, which come back as the ORM returns them (aware, in UTC);
    tests/imsubsystem/test_write_rows.py checks it against values_list on both databases."""
    ids = sorted(set(ids))
    if not ids:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    key = (model, tuple(fields), lock, db.vendor)
    query = _VALUES_QUERIES.get(key)
    if query is None:
        quote = db.ops.quote_name
        found = [model._meta.pk if name == "pk" else model._meta.get_field(name) for name in fields]
        for field in found:
            if (field.is_relation and not field.many_to_one) or isinstance(field, models.JSONField):
                raise ValueError(f"rows_by_pk reads plain columns: {field.name} is not one")
        pk = quote(model._meta.pk.column)
        columns = ", ".join(quote(field.column) for field in found)
        tail = f") ORDER BY {pk}"
        if lock and db.features.has_select_for_update:
            tail += " FOR UPDATE"
        query = _VALUES_QUERIES[key] = _ValuesQuery(
            head=f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {pk} IN (",  # noqa: S608 - names from the model
            tail=tail,
            datetimes=tuple(n for n, field in enumerate(found) if isinstance(field, models.DateTimeField)),
        )
    with db.cursor() as cursor:
        _execute(cursor, db, query.head + ", ".join(["%s"] * len(ids)) + query.tail, ids)
        rows = list(cursor.fetchall())
    if query.datetimes:
        convert = db.ops.convert_datetimefield_value
        converted = []
        for row in rows:
            row = list(row)
            for n in query.datetimes:
                if row[n] is not None:
                    row[n] = convert(row[n], None, db)
            converted.append(tuple(row))
        rows = converted
    return rows


def _matchable(part: tuple[set, ...] | None) -> tuple[set, ...] | None:
    """A clause's value sets as the ORM's IN treats them: NULL matches nothing, and a clause with an
    empty set matches nothing (None: leave it out)."""
    if part is None:
        return None
    part = tuple({value for value in values if value is not None} for values in part)
    return part if all(part) else None


def message_keys_read(
    *,
    customer: tuple[set[str], set[int]] | None = None,
    sender: tuple[set[int], set[str], set[str]] | None = None,
    platform: tuple[set[int], set[str]] | None = None,
) -> list[tuple]:
    """(id, conversation_id, sender_key, client_id, inbox_id, platform_message_id, the conversation's
    contact_id) of the stored messages that match any of: `customer` (client ids, contact ids) a
    customer's message with one of those client ids in a conversation of one of those contacts; `sender`
    (conversation ids, sender keys, client ids); `platform` (inbox ids, platform message ids). The write
    path's duplicate check (services/messages.py, `_earlier`) as one plain query, the SQL the ORM built
    for it without the cost of building it (as rows_by_pk)."""
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    m, c = quote(Message._meta.db_table), quote(Conversation._meta.db_table)

    def within(column: str, values: Iterable[Any]) -> str:
        values = list(values)
        params.extend(values)
        return f"{column} IN ({', '.join(['%s'] * len(values))})"

    customer, sender, platform = (_matchable(part) for part in (customer, sender, platform))
    params: list[Any] = []
    clauses = []
    if customer is not None:
        client_ids, contact_ids = customer
        clauses.append(
            f"({within(f'{m}.client_id', client_ids)} AND {within(f'{c}.contact_id', contact_ids)} "
            f"AND {m}.sender_key = %s)"
        )
        params.append(SenderKind.CUSTOMER)
    if sender is not None:
        conversation_ids, sender_keys, client_ids = sender
        clauses.append(
            f"({within(f'{m}.client_id', client_ids)} AND {within(f'{m}.conversation_id', conversation_ids)} "
            f"AND {within(f'{m}.sender_key', sender_keys)})"
        )
    if platform is not None:
        inbox_ids, platform_ids = platform
        clauses.append(f"({within(f'{m}.inbox_id', inbox_ids)} AND {within(f'{m}.platform_message_id', platform_ids)})")
    if not clauses:
        return []
    sql = (
        f"SELECT {m}.id, {m}.conversation_id, {m}.sender_key, {m}.client_id, {m}.inbox_id, "  # noqa: S608 - names from the models; every value is a parameter
        f"{m}.platform_message_id, {c}.contact_id FROM {m} INNER JOIN {c} ON ({m}.conversation_id = {c}.id) "
        f"WHERE {' OR '.join(clauses)}"
    )
    with db.cursor() as cursor:
        _execute(cursor, db, sql, params)
        return list(cursor.fetchall())


def conversations_lock(ids: Iterable[int]) -> dict[int, LockedConversation]:
    """SELECT ... FOR UPDATE of the conversation rows alone (a join would lock the inbox and the contact
    too), in id order so two batches never wait on each other in a cycle."""
    return {row[0]: LockedConversation(*row) for row in rows_by_pk(Conversation, LOCKED_FIELDS, ids, lock=True)}


def inboxes_read(ids: Iterable[int]) -> dict[int, InboxRow]:
    """Kind and key (not the instance: its credentials would be decrypted on every read)."""
    return {row[0]: InboxRow(*row) for row in rows_by_pk(Inbox, ("id", "kind", "key"), ids)}


def contact_names(ids: Iterable[int]) -> dict[int, str]:
    """The contacts' display names (crm's rule, Contact.display_name_of): the names in one plain read,
    the e-mail addresses and phone numbers (JSON) only of contacts without a name."""
    names = dict(rows_by_pk(Contact, ("id", "name"), ids))
    unnamed = [pk for pk, name in names.items() if not name]
    if unnamed:
        rows = Contact.objects.filter(pk__in=unnamed).values_list("pk", "name", "emails", "phones")
        names.update({pk: Contact.display_name_of(pk, name, emails, phones) for pk, name, emails, phones in rows})
    return names


def sender_names(messages: Sequence[NewMessage], contact_of: dict[int, int]) -> dict[int, str]:
    """Customers' and agents' names by message id (`contact_of`: conversation id -> contact id), two
    queries at most (bots and the system need none)."""
    customers = {contact_of[m.conversation_id] for m in messages if m.sender_kind == SenderKind.CUSTOMER}
    contacts = contact_names(customers) if customers else {}
    agents = {m.sender_user_id for m in messages if m.sender_kind == SenderKind.AGENT}
    users = {u.pk: user_display_name(u) for u in get_user_model().objects.filter(pk__in=agents)} if agents else {}
    names: dict[int, str] = {}
    for message in messages:
        if message.sender_kind == SenderKind.CUSTOMER:
            names[message.pk] = contacts.get(contact_of[message.conversation_id], "")
        elif message.sender_kind == SenderKind.AGENT:
            names[message.pk] = users.get(message.sender_user_id, "")
    return names


@dataclasses.dataclass(slots=True)
class NewMessage:
    """A message the write path is storing, as the values of its row (no model instance: building a
    `Message` and having each field prepare its value was the largest Python cost left in a batch,
    docs/performance.md). It has the attributes `selectors.message_payload` reads; `pk` is set by
    `messages_insert`."""

    conversation_id: int
    inbox_id: int
    seq: int
    sender_kind: str
    sender_user_id: int | None
    sender_key: str
    client_id: str | None
    text: str
    attachments: list[int]
    buttons: list[dict[str, str]]
    private: bool
    platform_message_id: str | None
    delivery_status: str
    created_at: datetime
    sent_at: datetime | None
    delivery_error: str = ""
    delivery_retry_at: datetime | None = None
    pk: int | None = None


_ROW_FIELDS = frozenset(f.name for f in dataclasses.fields(NewMessage))


def _insert_columns(db: Any) -> tuple[str, list[tuple[str, Any, Any]]]:
    """The INSERT's column list and, per column: the row's attribute, the field that prepares its value
    (None: the value goes as it is: ints, strings, booleans, NULL), and for a column NewMessage does not
    carry (added to the model later), the field's default, prepared once."""
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
    prepared = (models.DateTimeField, models.JSONField)  # the values the database adapts
    layout = []
    for f in fields:
        if f.attname in _ROW_FIELDS:
            layout.append((f.attname, f if isinstance(f, prepared) else None, None))
        else:
            layout.append(("", None, f.get_db_prep_save(f.get_default(), db)))
    return columns, layout


def messages_insert(messages: Sequence[NewMessage]) -> None:
    """The messages as one multi-row INSERT, their values straight from the rows: datetimes and JSON
    prepared by their fields as Django would (an empty list, the usual attachments and buttons, once per
    batch), everything else as it is. Sets the primary keys (read back on a database without
    INSERT ... RETURNING)."""
    db = connections[DEFAULT_DB_ALIAS]  # resolved once: the proxy looks it up on every attribute
    columns, layout = _insert_columns(db)
    empty: dict[str, Any] = {}
    params: list[Any] = []
    for message in messages:
        for attname, field, default in layout:
            if not attname:
                params.append(default)
                continue
            value = getattr(message, attname)
            if field is None or (value is None and not isinstance(field, models.JSONField)):
                params.append(value)
            elif value == [] and isinstance(field, models.JSONField):
                if attname not in empty:
                    empty[attname] = field.get_db_prep_save([], db)
                params.append(empty[attname])
            else:
                params.append(field.get_db_prep_save(value, db))
    table = db.ops.quote_name(Message._meta.db_table)
    row = "(" + ", ".join("%s" for _ in layout) + ")"
    returning = db.features.can_return_rows_from_bulk_insert
    sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join(row for _ in messages)}"  # noqa: S608 - names from the model
    if returning:
        sql += f" RETURNING {db.ops.quote_name(Message._meta.pk.column)}"
    with db.cursor() as cursor:
        _execute(cursor, db, sql, params)
        if returning:
            for message, (value,) in zip(messages, cursor.fetchall(), strict=True):
                message.pk = value
    if not returning:
        ids = {
            (conversation_id, seq): pk
            for pk, conversation_id, seq in Message.objects.filter(
                conversation_id__in={m.conversation_id for m in messages}, seq__in={m.seq for m in messages}
            ).values_list("pk", "conversation_id", "seq")
        }
        for message in messages:
            message.pk = ids[(message.conversation_id, message.seq)]


TOKEN_ROWS_PER_INSERT = 8000  # 16,000 parameters: under SQLite's and MySQL's limits per statement


def message_tokens_insert(messages: Sequence[NewMessage]) -> int:
    """The search tokens of stored messages (with their primary keys) as one multi-row INSERT: one row
    per distinct token of each text (docs/imsubsystem.md, "Search"); a batch of very long texts takes
    one INSERT per TOKEN_ROWS_PER_INSERT rows. Returns the number of rows."""
    return message_tokens_write((message.pk, message.text) for message in messages)


def message_tokens_write(texts: Iterable[tuple[int, str]]) -> int:
    """message_tokens_insert for (message id, text) pairs (the backfill's reads are values, not models)."""
    params: list[int] = []
    for pk, text in texts:
        for token in text_hashes(text):
            params += (pk, token)
    db = connections[DEFAULT_DB_ALIAS]
    quote = db.ops.quote_name
    head = f"INSERT INTO {quote(MessageToken._meta.db_table)} ({quote('message_id')}, {quote('token')}) VALUES "  # noqa: S608 - names from the model
    step = 2 * TOKEN_ROWS_PER_INSERT
    with db.cursor() as cursor:
        for start in range(0, len(params), step):
            chunk = params[start : start + step]
            _execute(cursor, db, head + ", ".join(["(%s, %s)"] * (len(chunk) // 2)), chunk)
    return len(params) // 2


def conversations_seq_update(conversations: Sequence[LockedConversation], *, last_message_at: datetime) -> None:
    """One UPDATE for the new last_seq of many locked conversations (bulk_update's CASE expressions,
    built through the ORM, cost more Python than the rest of a batch)."""
    table = connection.ops.quote_name(Conversation._meta.db_table)
    cases = " ".join("WHEN %s THEN %s" for _ in conversations)
    marks = ", ".join("%s" for _ in conversations)
    params: list[Any] = []
    for conversation in conversations:
        params += [conversation.pk, conversation.last_seq]
    params.append(Conversation._meta.get_field("last_message_at").get_db_prep_save(last_message_at, connection))
    params += [conversation.pk for conversation in conversations]
    with connection.cursor() as cursor:
        # The table name comes from the model; every value is a parameter.
        sql = f"UPDATE {table} SET last_seq = CASE id {cases} END, last_message_at = %s WHERE id IN ({marks})"  # noqa: S608
        _execute(cursor, connection, sql, params)
