"""The console's lists and history: my conversations, the waiting list, a conversation's messages, the
canned responses and the transfer targets."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import F, Max, Q
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from core.errors import DomainError
from imsubsystem import selectors
from imsubsystem.models import Message
from interface.api_agent.base import console_endpoint, conversation_for
from routing.models import AgentProfile, Queue

HISTORY_PAGE = 500


def message_previews(conversation_ids: list[int], *, notes_for: set[int] | None = None) -> dict[int, dict[str, Any]]:
    """The last message of each conversation, one query. Private notes only where the user may see the
    conversation (`notes_for`; None: all of them): elsewhere (another agent's conversation waiting in a
    shared queue) the preview is the last public message, so a note never reaches a list its reader may
    not open."""
    if not conversation_ids:
        return {}
    hidden = [c for c in conversation_ids if notes_for is not None and c not in notes_for]
    shown = [c for c in conversation_ids if notes_for is None or c in notes_for]
    condition = Q(conversation_id__in=shown, seq=F("conversation__last_seq")) if shown else Q(pk__in=[])
    if hidden:
        last_public = (
            Message.objects.filter(conversation_id__in=hidden, private=False)
            .values("conversation_id")
            .annotate(last=Max("seq"))
            .values_list("conversation_id", "last")
        )
        for conversation_id, seq in last_public:
            condition |= Q(conversation_id=conversation_id, seq=seq)
    rows = Message.objects.filter(condition).values(
        "conversation_id", "text", "sender_kind", "private", "created_at", "attachments"
    )
    return {
        row["conversation_id"]: {
            "text": row["text"][:200] or ("Attachment" if row["attachments"] else ""),
            "sender_kind": row["sender_kind"],
            "private": row["private"],
            "created_at": row["created_at"].isoformat(),
        }
        for row in rows
    }


def _queue_names(queue_ids) -> dict[int, str]:
    ids = {q for q in queue_ids if q}
    return dict(Queue.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def _decorate(summaries: list[dict[str, Any]], *, user=None) -> list[dict[str, Any]]:
    """Previews and queue names; with `user`, notes only in the previews of conversations they may see."""
    ids = [s["id"] for s in summaries]
    notes_for = None
    if user is not None and not selectors.user_is_admin(user):
        # The one visibility rule, from the summaries (no second read of the conversations): assigned to
        # the user, or in a queue of a team they supervise.
        supervised_queues = selectors.supervised_scope(user=user)[0]
        notes_for = {
            s["id"] for s in summaries if s.get("assignee_id") == user.pk or s.get("queue_id") in supervised_queues
        }
    previews = message_previews(ids, notes_for=notes_for)
    names = _queue_names(s["queue_id"] for s in summaries)
    labels = selectors.labels_of(ids)
    for summary in summaries:
        summary["labels"] = labels.get(summary["id"], [])
        summary["last_message"] = previews.get(summary["id"])
        summary["queue"] = (
            {"id": summary["queue_id"], "name": names.get(summary["queue_id"], "")} if summary["queue_id"] else None
        )
    return summaries


@console_endpoint
@require_GET
def my_conversations(request: HttpRequest) -> JsonResponse:
    summaries = selectors.conversations_for_agent(user_id=request.user.pk, include_closed_since=timedelta(hours=1))
    return JsonResponse({"conversations": _decorate(summaries)})


@console_endpoint
@require_GET
def queue_list(request: HttpRequest) -> JsonResponse:
    summaries = selectors.conversations_waiting(queue_ids=selectors.queue_ids_watched(user=request.user))
    positions: dict[int | None, int] = {}
    for summary in _decorate(summaries, user=request.user):
        positions[summary["queue_id"]] = positions.get(summary["queue_id"], 0) + 1
        summary["position"] = positions[summary["queue_id"]]
    return JsonResponse({"conversations": summaries})


def _int_param(request: HttpRequest, name: str, default: int) -> int | None:
    raw = request.GET.get(name, str(default))
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


@console_endpoint
@require_GET
def conversation_messages(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation = conversation_for(request, conversation_id)
    after_seq = _int_param(request, "after_seq", 0)
    if after_seq is None:
        raise DomainError("invalid", "after_seq must be a whole number, 0 or more.")
    messages = selectors.messages_after(
        conversation_id=conversation.pk, after_seq=after_seq, include_private=True, limit=HISTORY_PAGE + 1
    )
    has_more = len(messages) > HISTORY_PAGE
    # Stored payloads carry no attachment URLs; each viewer gets its own short-lived signed ones.
    viewer = f"agent:{request.user.pk}"
    messages = [
        selectors.payload_for_viewer(m, viewer=viewer) if m["attachments"] else m for m in messages[:HISTORY_PAGE]
    ]
    return JsonResponse(
        {
            "conversation_id": conversation.pk,
            "last_seq": conversation.last_seq,
            "messages": messages,
            "has_more": has_more,
            # The last transfer's note for whoever holds it now: the console shows it above the thread.
            "transfer_note": selectors.transfer_note_of(conversation),
            # Whether this user may act on it; False: they see it through a mention (notes only).
            "acting": selectors.conversation_visible_to(user=request.user, conversation=conversation, acting=True),
        }
    )


@console_endpoint
@require_GET
def canned_responses(request: HttpRequest) -> JsonResponse:
    seen: set[str] = set()
    items = []
    # The selector orders a user's own response before a shared one with the same shortcut.
    for canned in selectors.canned_responses_for(user_id=request.user.pk):
        if canned.shortcut in seen:
            continue
        seen.add(canned.shortcut)
        items.append(
            {
                "id": canned.pk,
                "shortcut": canned.shortcut,
                "title": canned.title,
                "text": canned.text,
                # {language: text}: the console inserts the one of the conversation's language, else text.
                "translations": canned.translations if isinstance(canned.translations, dict) else {},
                "shared": canned.owner_id is None,
            }
        )
    return JsonResponse({"canned_responses": items})


@console_endpoint
@require_GET
def transfer_targets(request: HttpRequest) -> JsonResponse:
    queues = [{"id": q.pk, "name": q.name} for q in Queue.objects.filter(is_active=True).order_by("name")]
    profiles = (
        AgentProfile.objects.select_related("user")
        .filter(user__is_active=True)
        .exclude(user=request.user)
        .order_by("user__username")
    )
    agents = [
        {
            "id": p.user_id,
            "name": selectors.user_display_name(p.user),
            "username": p.user.get_username(),
            "detail": p.get_status_display(),
        }
        for p in profiles
    ]
    return JsonResponse({"queues": queues, "agents": agents})
