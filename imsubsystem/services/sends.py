"""The sockets' messages of a process stored as one batch of the write path (imsubsystem/batching.py):
customers' texts from the widget and agents' messages and notes from the console, side by side in one
`messages_store` call (services/messages.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from imsubsystem import selectors
from imsubsystem.models import Conversation
from imsubsystem.services.drafts import Draft, request_draft
from imsubsystem.services.messages import messages_store
from imsubsystem.services.state import SwitchError


def agent_sends_refused(requests: Sequence[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """The one visibility rule (selectors.conversation_visible_to) for agents' requests ({"user",
    "conversation_id", ...}), one query for them all: None where the user may write, else the same
    `not_found` whether the conversation exists or not, so ids cannot be probed. An internal note needs
    the rule; a reply to the customer its acting form (someone who sees the conversation only because a
    note mentioned them answers with notes)."""
    wanted = [r["conversation_id"] if type(r["conversation_id"]) is int else None for r in requests]
    ids = {pk for pk in wanted if pk is not None}
    rows = {}
    if ids:
        rows = {
            c.pk: c for c in Conversation.objects.only("id", "assignee_id", "queue_id", "status").filter(pk__in=ids)
        }
    refusal = SwitchError("not_found")
    refused: list[dict[str, Any] | None] = []
    for request, pk in zip(requests, wanted, strict=True):
        conversation = rows.get(pk)
        if conversation is None or not selectors.conversation_visible_to(
            user=request["user"], conversation=conversation, acting=request.get("private") is not True
        ):
            refused.append({"error": refusal.code, "detail": refusal.detail})
        else:
            refused.append(None)
    return refused


def messages_send_many(*, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Many sockets' messages (drafts.request_draft says what a request is) as one batch of the write
    path. Each result is {"message": payload, "created": bool}, {"error": code, "detail": str}, or, for a
    customer's, {"fallback": True} when the conversation is no longer their open one (the caller then
    uses customer_message_send, which reopens or opens one). An agent's request must have passed
    `agent_sends_refused` first. `origin`, the sending socket's channel name, gets no message.new of its
    own message (its ack carries it)."""
    results: list[dict[str, Any] | None] = [None] * len(requests)
    drafts: list[Draft] = []
    positions: list[int] = []
    for n, request in enumerate(requests):
        try:
            drafts.append(request_draft(request))
        except SwitchError as exc:
            results[n] = {"error": exc.code, "detail": exc.detail}
            continue
        positions.append(n)
    if drafts:
        for n, result in zip(positions, messages_store(drafts), strict=True):
            results[n] = result
    return results  # type: ignore[return-value]


def customer_messages_send_many(*, requests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Text messages of many customers, each into the open conversation its socket is in
    ({"inbox_id", "contact_id", "conversation_id", "text", "client_id", "origin"?}): messages_send_many."""
    return messages_send_many(requests=[{**request, "kind": "customer"} for request in requests])
