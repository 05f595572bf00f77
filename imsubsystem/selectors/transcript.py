"""A conversation's whole transcript, read-only: what staff open from the console's contact panel, the CRM
contact record and the supervisor pages (docs/imsubsystem.md, "Transcripts").

One read, `conversation_transcript(user=, conversation_id=)`, behind the one visibility rule
(`conversation_visible_get`): a conversation the user may not see is None, exactly as one that does not
exist, so every surface answers 404 for both. Whoever may see a conversation sees all of it, its internal
notes too (the rule has no second level: notes are hidden from customers, never from the staff who may
open the conversation).

The transcript is the messages in seq order (each the internal payload, with attachment links signed for
this viewer) with the conversation's events between them: when it was opened, the queuing machine's
decisions (queued, assigned, overflowed: routing's ledger) and its close with the close reason and the
wrap-up note. The header carries the conversation's labels (each with the ink its chip's text is drawn in). Transfers
and reopenings are private system notes written by the switch, so they are messages already.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_datetime

from imsubsystem.selectors.conversations import conversation_visible_get, user_display_name
from imsubsystem.selectors.labels import label_chips, labels_of
from imsubsystem.selectors.messages import messages_after, payload_for_viewer
from routing.models import Queue
from routing.selectors import work_ledger

TRANSCRIPT_MESSAGES_MAX = 5000  # a longer conversation shows its first messages and says it was cut

# How items that happened in the same instant are ordered: the opening first, routing's decisions before
# the messages they led to, the close last.
_RANK = {"opened": 0, "queued": 1, "overflowed": 1, "assigned": 1, "message": 2, "closed": 3}


def _names_of_users(user_ids: set[int]) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=user_ids)
    return {user.pk: user_display_name(user) for user in users}


def conversation_transcript(*, user, conversation_id: int) -> dict[str, Any] | None:
    """{"conversation": header, "items": [...], "truncated": bool} if the user may see the conversation,
    else None. Each item is {"type": "message", "at", "message": payload} or {"type": "event", "at",
    "kind": opened | queued | assigned | overflowed | closed, ...names} (closed: "reason", the close
    reason's name or "", and "note", the wrap-up); `at` is a datetime. The header's "labels" are
    [{"id", "name", "colour", "ink"}] by name."""
    conversation = conversation_visible_get(user=user, conversation_id=conversation_id)
    if conversation is None:
        return None
    viewer = f"agent:{user.pk}"
    messages = messages_after(
        conversation_id=conversation.pk, after_seq=0, include_private=True, limit=TRANSCRIPT_MESSAGES_MAX + 1
    )
    truncated = len(messages) > TRANSCRIPT_MESSAGES_MAX
    messages = messages[:TRANSCRIPT_MESSAGES_MAX]
    message_items = [
        {
            "type": "message",
            "at": parse_datetime(m["created_at"]),
            "message": payload_for_viewer(m, viewer=viewer) if m["attachments"] else m,
        }
        for m in messages
    ]

    ledger = work_ledger(ref=conversation.pk)
    queue_names = dict(
        Queue.objects.filter(pk__in={e["queue_id"] for e in ledger if e["queue_id"]}).values_list("pk", "name")
    )
    agent_names = _names_of_users({e["agent_id"] for e in ledger if e["agent_id"]})
    events: list[dict[str, Any]] = []
    events.append({"type": "event", "kind": "opened", "at": conversation.created_at, "inbox": conversation.inbox.name})
    for entry in ledger:
        event: dict[str, Any] = {"type": "event", "kind": entry["kind"], "at": entry["at"]}
        if entry["kind"] == "overflowed":
            # The ledger keeps the overflow's target as its queue (routing/ledger.py).
            event["queue"] = queue_names.get(entry["queue_id"], "")
        elif entry["kind"] == "assigned":
            event["agent"] = agent_names.get(entry["agent_id"], "")
            event["queue"] = queue_names.get(entry["queue_id"], "")
        else:
            event["queue"] = queue_names.get(entry["queue_id"], "")
        events.append(event)
    if conversation.closed_at is not None:
        reason = conversation.close_reason.name if conversation.close_reason_id else ""
        events.append(
            {
                "type": "event",
                "kind": "closed",
                "at": conversation.closed_at,
                "reason": reason,
                "note": conversation.wrap_up,
            }
        )
    if truncated:
        # The events after the last message shown would stand beside messages that are not there.
        last = message_items[-1]["at"]
        events = [event for event in events if event["at"] <= last]
    items = _merge(message_items, events)

    contact = conversation.contact
    header = {
        "id": conversation.pk,
        "status": conversation.status,
        "contact": {"id": contact.pk, "name": contact.display_name},
        "inbox": {"id": conversation.inbox_id, "name": conversation.inbox.name, "kind": conversation.inbox.kind},
        "queue": conversation.queue.name if conversation.queue_id else "",
        "assignee": user_display_name(conversation.assignee) if conversation.assignee_id else "",
        "created_at": conversation.created_at,
        "closed_at": conversation.closed_at,
        "wrap_up": conversation.wrap_up,
        "close_reason": conversation.close_reason.name if conversation.close_reason_id else "",
        "labels": label_chips(labels_of([conversation.pk]).get(conversation.pk, [])),
        "last_seq": conversation.last_seq,
    }
    return {"conversation": header, "items": items, "truncated": truncated}


def _merge(message_items: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages in seq order (their times come from several processes' clocks and may not rise with
    seq), each event placed before the first message that is later than it."""
    events = sorted(events, key=lambda e: (e["at"], _RANK[e["kind"]]))
    items: list[dict[str, Any]] = []
    waiting = 0
    for item in message_items:
        while waiting < len(events) and _key(events[waiting]) < _key(item):
            items.append(events[waiting])
            waiting += 1
        items.append(item)
    items.extend(events[waiting:])
    return items


def _key(item: dict[str, Any]) -> tuple[datetime, int]:
    return item["at"], _RANK["message" if item["type"] == "message" else item["kind"]]
