"""The message search (docs/imsubsystem.md, "Search"): message text found by its words, in Chinese (any
2-character word), other languages and digits alike, through the one visibility rule.

A query's tokens (imsubsystem/search.py) must all be in a message's text. The rarest token drives: its
rows of the (token, message) index are read newest message first, each kept only when the message also
has every other token (a lookup in the same index), belongs to a conversation the user may see
(`conversations_visible_q`) and passes the filters; the first `limit` found are the answer, so the cost
follows the page asked for, not the number of matches. A CJK run of 3+ characters in the query is
checked against the text as a whole (its bigrams might stand apart).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from core.errors import DomainError
from imsubsystem.models import Message, MessageToken
from imsubsystem.search import hashes_of, words
from imsubsystem.selectors.messages import message_payload
from imsubsystem.selectors.visibility import conversations_visible_q

SEARCH_LIMIT_DEFAULT = 50
SEARCH_LIMIT_MAX = 200
QUERY_MAX_CHARS = 200
# How far the rarest token is looked for: counting beyond this tells nothing more about which to drive by.
RAREST_PROBE = 5_000
TOO_SHORT = "Search for a word of at least 2 characters (a single character is not indexed)."


def search_terms(query: str) -> tuple[list[int], list[str]]:
    """(token hashes, CJK runs to check whole) of a query; refused when it has no token of 2+ characters."""
    if not isinstance(query, str) or len(query) > QUERY_MAX_CHARS:
        raise DomainError("invalid", f"The search text must be at most {QUERY_MAX_CHARS} characters.")
    tokens, runs = words(query)
    if not tokens:
        raise DomainError("invalid", TOO_SHORT, reason="query_too_short")
    return hashes_of(tokens), runs


def _prefixed(q: Q, prefix: str) -> Q:
    """A Conversation filter as a filter through `prefix` (e.g. `message__conversation__`)."""
    out = Q()
    out.connector, out.negated = q.connector, q.negated
    out.children = [
        (prefix + child[0], child[1]) if isinstance(child, tuple) else _prefixed(child, prefix) for child in q.children
    ]
    return out


def _rarest_first(hashes: list[int]) -> list[int]:
    """The hashes by how many messages have them (up to RAREST_PROBE); empty when one has none."""
    if len(hashes) == 1:
        return hashes
    counts = {h: MessageToken.objects.filter(token=h)[:RAREST_PROBE].count() for h in hashes}
    if not all(counts.values()):
        return []
    return sorted(hashes, key=counts.__getitem__)


def _matches(
    *,
    user,
    query: str,
    inbox_id: int | None = None,
    queue_id: int | None = None,
    assignee_id: int | None = None,
    status: str | None = None,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
):
    """The index rows of the messages matching, as a query (None: nothing can match)."""
    hashes, runs = search_terms(query)
    ordered = _rarest_first(hashes)
    if not ordered:
        return None
    rows = MessageToken.objects.filter(token=ordered[0])
    for other in ordered[1:]:
        rows = rows.filter(Exists(MessageToken.objects.filter(token=other, message_id=OuterRef("message_id"))))
    rows = rows.filter(_prefixed(conversations_visible_q(user=user), "message__conversation__"))
    conversation_filters = {
        "inbox_id": inbox_id,
        "queue_id": queue_id,
        "assignee_id": assignee_id,
        "status": status,
        "contact_id": contact_id,
        "id": conversation_id,
    }
    rows = rows.filter(**{f"message__conversation__{k}": v for k, v in conversation_filters.items() if v is not None})
    if since is not None:
        rows = rows.filter(message__created_at__gte=since)
    if until is not None:
        rows = rows.filter(message__created_at__lt=until)
    if before_id is not None:
        rows = rows.filter(message_id__lt=before_id)
    for run in runs:
        rows = rows.filter(message__text__icontains=run)
    return rows.order_by("-message_id")


def message_ids_search(*, user, query: str, limit: int = SEARCH_LIMIT_DEFAULT, **filters: Any) -> list[int]:
    """The ids of the messages `messages_search` answers, newest first."""
    rows = _matches(user=user, query=query, **filters)
    if rows is None:
        return []
    limit = max(1, min(int(limit), SEARCH_LIMIT_MAX))
    return list(rows.values_list("message_id", flat=True)[:limit])


def messages_search(*, user, query: str, **filters: Any) -> list[dict[str, Any]]:
    """Messages whose text has every word of `query`, in conversations `user` may see, newest first: each
    the message's payload (events.MessagePayload) with its conversation's `contact` ({"id", "name"}),
    `inbox_id` and `status`. Filters (each optional): inbox_id, queue_id, assignee_id, status, contact_id,
    conversation_id, since, until (the message's created_at), before_id (the next page: the last id of
    this one), limit (default 50, at most 200). A query without a word of 2+ characters is refused
    (DomainError `invalid`, reason `query_too_short`)."""
    ids = message_ids_search(user=user, query=query, **filters)
    found = Message.objects.select_related("conversation__contact", "sender_user").in_bulk(ids)
    answer = []
    for pk in ids:
        message = found.get(pk)
        if message is None:  # deleted since
            continue
        conversation = message.conversation
        payload = message_payload(message)
        payload["contact"] = {"id": conversation.contact_id, "name": conversation.contact.display_name}
        payload["inbox_id"] = conversation.inbox_id
        payload["status"] = conversation.status
        answer.append(payload)
    return answer


def contact_ids_by_message_text(*, user, query: str, limit: int = 1_000) -> list[int]:
    """The contacts whose conversations `user` may see have a message with every word of `query`, from
    the newest `limit` such messages (the CRM search's message text); empty for a query without a word
    of 2+ characters."""
    try:
        rows = _matches(user=user, query=query)
    except DomainError:
        return []
    if rows is None:
        return []
    return list(dict.fromkeys(rows.values_list("message__conversation__contact_id", flat=True)[:limit]))
