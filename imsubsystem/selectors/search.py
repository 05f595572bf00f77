"""The message search (docs/imsubsystem.md, "Search"): message text found by its words, in Chinese (any
2-character word), other languages and digits alike, through the one visibility rule.

A query's tokens (imsubsystem/search.py) must all be in a message's text. The rarest token drives: its
rows of the (token, message) index are read newest message first, each kept only when the message also
has every other token (a lookup in the same index), belongs to a conversation the user may see
(`conversations_visible_q`) and passes the filters; the first `limit` found are the answer, so the cost
follows the page asked for, not the number of matches. A CJK run of 3+ characters in the query is
checked against the text as a whole (its bigrams might stand apart).

A page reads at most `SCAN_WINDOW` of the driving token's index rows (the window below the cursor): a word
in most messages read by a user who sees few of them, or under a filter few conversations pass, costs one
window, not the whole posting list. It tries `FIRST_WINDOW` rows first, which fill most pages of a common
word, and the whole window only when they do not. A page with fewer than `limit` results and more rows below its window
answers a `next_cursor` to search further (`search_page`). The console's search and the integrator API
answer through `conversations_search`, its filters declared once in `SEARCH_FILTERS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from imsubsystem.models import ConversationStatus, Inbox, Label, Message, MessageToken
from imsubsystem.search import hashes_of, normalise, words
from imsubsystem.selectors.conversations import user_display_name
from imsubsystem.selectors.labels import labels_of
from imsubsystem.selectors.messages import message_payload
from imsubsystem.selectors.visibility import conversations_visible_q
from routing.models import AgentProfile, Queue

SEARCH_LIMIT_DEFAULT = 50
SEARCH_LIMIT_MAX = 200
QUERY_MAX_CHARS = 200
# How far the rarest token is looked for: counting beyond this tells nothing more about which to drive by.
RAREST_PROBE = 5_000
# The driving token's index rows one page reads at most (docs/imsubsystem.md, "Search").
SCAN_WINDOW = 10_000
FIRST_WINDOW = 2_000
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


def _rarest_first(hashes: list[int]) -> tuple[list[int], int | None]:
    """(the hashes by how many messages have them, counted up to RAREST_PROBE; how many the first has,
    None when not counted: a single word); no hashes when one has no message."""
    if len(hashes) == 1:
        return hashes, None
    counts = {h: MessageToken.objects.filter(token=h)[:RAREST_PROBE].count() for h in hashes}
    if not all(counts.values()):
        return [], 0
    ordered = sorted(hashes, key=counts.__getitem__)
    return ordered, counts[ordered[0]]


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
    label_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    window: int = SCAN_WINDOW,
):
    """(the index rows of the messages matching as a query, the window's floor); None: nothing can match."""
    hashes, runs = search_terms(query)
    ordered, rarest = _rarest_first(hashes)
    if not ordered:
        return None
    rows = MessageToken.objects.filter(token=ordered[0])
    for n, other in enumerate(ordered[1:]):
        # A scalar subquery with LIMIT, not EXISTS: MariaDB turns EXISTS into a semi-join it may drive from
        # the commoner word's rows; this stays one primary-key look-up per row of the rarest word.
        found = MessageToken.objects.filter(token=other, message_id=OuterRef("message_id")).values("token")[:1]
        rows = rows.alias(**{f"also_{n}": Subquery(found)}).filter(**{f"also_{n}__isnull": False})
    rows = rows.filter(_prefixed(conversations_visible_q(user=user), "message__conversation__"))
    conversation_filters = {
        "inbox_id": inbox_id,
        "queue_id": queue_id,
        "assignee_id": assignee_id,
        "status": status,
        "contact_id": contact_id,
        "id": conversation_id,
        "labels": label_id,
    }
    rows = rows.filter(**{f"message__conversation__{k}": v for k, v in conversation_filters.items() if v is not None})
    if since is not None:
        rows = rows.filter(message__created_at__gte=since)
    if until is not None:
        rows = rows.filter(message__created_at__lt=until)
    if before_id is not None:
        rows = rows.filter(message_id__lt=before_id)
    # A driving word counted (exactly: under RAREST_PROBE) under the window's size has all its rows in it:
    # no look for the window's floor.
    counted_under = rarest is not None and rarest < min(RAREST_PROBE, window)
    floor = None if counted_under else _window_floor(ordered[0], before_id, window)
    if floor is not None:
        rows = rows.filter(message_id__gte=floor)
    for run in runs:
        rows = rows.filter(message__text__icontains=run)
    return rows.order_by("-message_id"), floor


def _window_floor(token: int, before_id: int | None, window: int) -> int | None:
    """The lowest message id of the `window` newest index rows of `token` below `before_id`; None when
    there are fewer (the window is the whole rest of the posting list). One short covering index range."""
    rows = MessageToken.objects.filter(token=token)
    if before_id is not None:
        rows = rows.filter(message_id__lt=before_id)
    return rows.order_by("-message_id").values_list("message_id", flat=True)[window - 1 : window].first()


def search_page(
    *, user, query: str, limit: int = SEARCH_LIMIT_DEFAULT, cursor: int | None = None, **filters: Any
) -> tuple[list[int], int | None]:
    """(ids of the matching messages newest first, at most `limit`; the cursor of the next page or None).
    `cursor` is the previous page's `next_cursor`. A page may hold fewer than `limit` and still have a
    next one: its window of the index ended first (SCAN_WINDOW)."""
    limit = max(1, min(int(limit), SEARCH_LIMIT_MAX))
    for window in (min(FIRST_WINDOW, SCAN_WINDOW), SCAN_WINDOW):
        found = _matches(user=user, query=query, before_id=cursor, window=window, **filters)
        if found is None:
            return [], None
        rows, floor = found
        ids = list(rows.values_list("message_id", flat=True)[: limit + 1])
        if len(ids) > limit:
            return ids[:limit], ids[limit - 1]
        if floor is None:  # the window held every row left
            return ids, None
    return ids, floor


def message_ids_search(*, user, query: str, limit: int = SEARCH_LIMIT_DEFAULT, **filters: Any) -> list[int]:
    """The ids of the messages `messages_search` answers, newest first (the first page of `search_page`)."""
    before_id = filters.pop("before_id", None)
    return search_page(user=user, query=query, limit=limit, cursor=before_id, **filters)[0]


def messages_search(*, user, query: str, **filters: Any) -> list[dict[str, Any]]:
    """Messages whose text has every word of `query`, in conversations `user` may see, newest first: each
    the message's payload (events.MessagePayload) with its conversation's `contact` ({"id", "name"}),
    `inbox_id` and `status`. Filters (each optional): inbox_id, queue_id, assignee_id, status, contact_id,
    conversation_id, label_id, since, until (the message's created_at), before_id (the next page: the last id of
    this one), limit (default 50, at most 200); the newest SCAN_WINDOW index rows of the rarest word
    below `before_id` are read (`search_page` says where to go on). A query without a word of 2+ characters is refused
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
    the newest `limit` such messages in the first window of the index (SCAN_WINDOW): the CRM search's
    message text; empty for a query without a word of 2+ characters."""
    try:
        found = _matches(user=user, query=query)
    except DomainError:
        return []
    if found is None:
        return []
    return list(dict.fromkeys(found[0].values_list("message__conversation__contact_id", flat=True)[:limit]))


# ---- the console's and the API's search: filters, conversations, snippets ---------------------------


@dataclass(frozen=True)
class SearchFilter:
    """One filter of the search: `name` is the query parameter, `keyword` the one `_matches` takes, `kind`
    how its value is read ("choice": one of `options`; "id": a positive whole number, offered from
    `options`; "date": YYYY-MM-DD in the active time zone), `options(user)` the values to offer as
    [{"value", "label"}] (None: none to offer)."""

    name: str
    keyword: str
    kind: str
    label: Any
    options: Callable[[Any], list[dict[str, Any]]] | None = None


def _status_options(user) -> list[dict[str, Any]]:
    return [{"value": value, "label": str(label)} for value, label in ConversationStatus.choices]


def _inbox_options(user) -> list[dict[str, Any]]:
    return [{"value": pk, "label": name} for pk, name in Inbox.objects.order_by("name", "pk").values_list("pk", "name")]


def _queue_options(user) -> list[dict[str, Any]]:
    return [{"value": pk, "label": name} for pk, name in Queue.objects.order_by("name", "pk").values_list("pk", "name")]


def _label_options(user) -> list[dict[str, Any]]:
    # Inactive labels too: they cannot be set any more but stay on the conversations that have them.
    return [{"value": pk, "label": name} for pk, name in Label.objects.order_by("name", "pk").values_list("pk", "name")]


def _agent_options(user) -> list[dict[str, Any]]:
    ids = AgentProfile.objects.values_list("user_id", flat=True)
    agents = get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("username")
    return [{"value": agent.pk, "label": user_display_name(agent)} for agent in agents]


# Every filter of the search, in the order the console shows them: the console builds its controls from
# this list (`search_filters_describe`) and both HTTP surfaces read their parameters through it
# (`search_filters_parse`). A new filter is one entry here and one keyword of `_matches`.
SEARCH_FILTERS: tuple[SearchFilter, ...] = (
    SearchFilter("status", "status", "choice", _("Status"), _status_options),
    SearchFilter("inbox", "inbox_id", "id", _("Inbox"), _inbox_options),
    SearchFilter("queue", "queue_id", "id", _("Queue"), _queue_options),
    SearchFilter("agent", "assignee_id", "id", _("Agent"), _agent_options),
    SearchFilter("label", "label_id", "id", _("Label"), _label_options),
    SearchFilter("since", "since", "date", _("From")),
    SearchFilter("until", "until", "date", _("To")),
)
ID_MAX = 2**63 - 1


def search_filters_describe(*, user) -> list[dict[str, Any]]:
    """The filters as the console shows them: [{"name", "kind", "label", "options"?}]."""
    described = []
    for spec in SEARCH_FILTERS:
        item: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "label": str(spec.label)}
        if spec.options is not None:
            item["options"] = spec.options(user)
        described.append(item)
    return described


def search_filters_parse(params: Mapping[str, str]) -> dict[str, Any]:
    """The keywords of `_matches` from a request's parameters (only SEARCH_FILTERS' names are read; an
    empty value is no filter). A value that cannot be one (a status that does not exist, an id that is
    not a positive whole number, a date that is not YYYY-MM-DD) is refused with `invalid`, naming it."""
    keywords: dict[str, Any] = {}
    for spec in SEARCH_FILTERS:
        raw = params.get(spec.name)
        if raw is None or raw == "":
            continue
        if spec.kind == "choice":
            allowed = {str(o["value"]) for o in spec.options(None)} if spec.options else set()
            if raw not in allowed:
                raise DomainError("invalid", f"{spec.name}: not one of {', '.join(sorted(allowed))}.", field=spec.name)
            keywords[spec.keyword] = raw
        elif spec.kind == "id":
            if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= ID_MAX:
                raise DomainError("invalid", f"{spec.name}: a positive whole number.", field=spec.name)
            keywords[spec.keyword] = int(raw)
        else:
            try:
                day = date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
            except ValueError:
                day = None
            if day is None:
                raise DomainError("invalid", f"{spec.name}: a date as YYYY-MM-DD.", field=spec.name)
            if spec.keyword == "until":  # the whole day: up to the next midnight
                day += timedelta(days=1)
            keywords[spec.keyword] = timezone.make_aware(datetime.combine(day, time.min))
    if "since" in keywords and "until" in keywords and keywords["since"] >= keywords["until"]:
        raise DomainError("invalid", "until: a date on or after since.", field="until")
    return keywords


SNIPPET_CHARS = 160


def _word_pattern(token: str) -> str:
    """A query token as found in a text: a Latin word or a number whole, a CJK bigram anywhere."""
    escaped = re.escape(token)
    if token.isdigit():
        return rf"(?<!\d){escaped}(?!\d)"
    if re.fullmatch(r"[^\W\d_]+", token) and token.isascii():
        return rf"(?<![^\W\d_]){escaped}(?![^\W\d_])"
    return escaped


def snippet(text: str, query: str) -> dict[str, Any]:
    """The part of `text` around the first word of `query` found in it, at most SNIPPET_CHARS, and where
    the query's words are in it: {"text", "marks": [[start, end], ...]} (offsets in code points of the
    snippet's text; the console puts them on the page as text, never as markup)."""
    tokens, runs = words(query)
    found = sorted(
        {
            (m.start(), m.end())
            for piece in [*runs, *tokens]
            for m in re.finditer(_word_pattern(piece), text, flags=re.IGNORECASE)
        }
    )
    if not found and normalise(text) != text:
        # Full-width or other forms: find the words in the normalised text, which then is the snippet.
        return snippet(normalise(text), query)
    start = max(0, found[0][0] - SNIPPET_CHARS // 3) if found else 0
    end = min(len(text), start + SNIPPET_CHARS)
    cut = text[start:end]
    prefix = "…" if start > 0 else ""
    marks: list[list[int]] = []
    for low, high in found:
        low, high = max(low, start), min(high, end)
        if low >= high:
            continue
        low, high = low - start + len(prefix), high - start + len(prefix)
        if marks and low <= marks[-1][1]:
            marks[-1][1] = max(marks[-1][1], high)
        else:
            marks.append([low, high])
    return {"text": prefix + cut + ("…" if end < len(text) else ""), "marks": marks}


def conversations_search(
    *, user, query: str, limit: int = 30, cursor: int | None = None, **filters: Any
) -> dict[str, Any]:
    """The console's and the API's search over message text: the matching messages of a page (`limit`,
    newest first, through `search_page` and so the one visibility rule), by conversation, each conversation
    once with its newest matching message as a snippet and how many of the page's messages it has:
    {"conversations": [{"id", "status", "contact", "inbox", "queue", "assignee", "labels", "mine",
    "last_message_at", "hits", "message": {"id", "seq", "sender", "private", "created_at", "snippet"}}], "next_cursor"}.
    Filters: the keywords of `search_filters_parse`."""
    ids, next_cursor = search_page(user=user, query=query, limit=limit, cursor=cursor, **filters)
    found = Message.objects.select_related(
        "conversation__contact", "conversation__inbox", "conversation__queue", "conversation__assignee", "sender_user"
    ).in_bulk(ids)
    by_conversation: dict[int, dict[str, Any]] = {}
    for pk in ids:
        message = found.get(pk)
        if message is None:  # deleted since
            continue
        conversation = message.conversation
        entry = by_conversation.get(conversation.pk)
        if entry is not None:
            entry["hits"] += 1
            continue
        payload = message_payload(message)
        by_conversation[conversation.pk] = {
            "id": conversation.pk,
            "status": conversation.status,
            "contact": {"id": conversation.contact_id, "name": conversation.contact.display_name},
            "inbox": {"id": conversation.inbox_id, "name": conversation.inbox.name},
            "queue": {"id": conversation.queue_id, "name": conversation.queue.name} if conversation.queue_id else None,
            "assignee": (
                {"id": conversation.assignee_id, "name": user_display_name(conversation.assignee)}
                if conversation.assignee_id
                else None
            ),
            "mine": conversation.assignee_id == user.pk,
            "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
            "hits": 1,
            "message": {
                "id": message.pk,
                "seq": message.seq,
                "sender": payload["sender"],
                "private": message.private,
                "created_at": payload["created_at"],
                "snippet": snippet(message.text, query),
            },
        }
    labels = labels_of(by_conversation)
    for conversation_id, entry in by_conversation.items():
        entry["labels"] = labels.get(conversation_id, [])
    return {"conversations": list(by_conversation.values()), "next_cursor": next_cursor}


SEARCH_PAGE_DEFAULT = 30
PAGE_PARAMS = ("q", "cursor", "limit")


def search_request_parse(params: Mapping[str, str]) -> dict[str, Any]:
    """A search's parameters as both HTTP surfaces take them (`q`, `cursor`, `limit` and SEARCH_FILTERS'
    names) as the keywords of `conversations_search`: {"query", "cursor", "limit", **filters}. Anything
    else, or a value that cannot be one, is refused with `invalid` naming the parameter; a query without
    a word of 2+ characters with `invalid`, reason `query_too_short`."""
    unknown = sorted(set(params) - {*PAGE_PARAMS, *(spec.name for spec in SEARCH_FILTERS)})
    if unknown:
        raise DomainError("invalid", f"Unknown search parameter: {', '.join(unknown)}.", field=unknown[0])
    query = params.get("q", "")
    if len(query) > QUERY_MAX_CHARS:
        raise DomainError("invalid", f"The search text must be at most {QUERY_MAX_CHARS} characters.", field="q")
    search_terms(query)  # refuses a query without a word of 2+ characters
    numbers: dict[str, int | None] = {}
    for name, low, high in (("cursor", 1, ID_MAX), ("limit", 1, SEARCH_LIMIT_MAX)):
        raw = params.get(name) or ""
        if raw == "":
            numbers[name] = None
            continue
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
            raise DomainError("invalid", f"{name}: a whole number from {low} to {high}.", field=name)
        numbers[name] = int(raw)
    return {
        "query": query,
        "cursor": numbers["cursor"],
        "limit": numbers["limit"] or SEARCH_PAGE_DEFAULT,
        **search_filters_parse(params),
    }
