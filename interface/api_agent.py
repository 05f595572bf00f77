"""The agent console's JSON endpoints under /api/v1/agent/ (docs/interface.md).

Session-authenticated, for staff who handle or supervise conversations. Reads go through the switch's
selectors and writes to the contact record through crm.services; nothing here changes a conversation
(that is the agent socket's job, through the switch's services), except sending an approved platform
template, which goes through the gateway's template_send. Files an agent sends are uploaded here
first and then named by id in the socket's message.send frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Q
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.text import json_unstorable_path, unstorable_detail
from crm import services as crm_services
from crm.models import Contact
from gateway import services as gateway_services
from gateway import tasks as gateway_tasks
from imsubsystem import selectors
from imsubsystem.events import ERROR_CODES, http_status
from imsubsystem.models import Conversation, Message
from imsubsystem.ratelimit import agent_identity, message_rate_check, rate_limit_hit
from imsubsystem.services import SwitchError
from media.selectors import attachment_public_dict
from media.services import attachment_upload
from media.uploads import upload_receive
from routing.models import AgentProfile, Queue

HISTORY_PAGE = 500
NOTES_SHOWN = 20
PAST_CONVERSATIONS_SHOWN = 20
CONSOLE_PERMISSIONS = ("imsubsystem.handle_conversations", "imsubsystem.supervise")


def user_may_use_console(user) -> bool:
    return user.is_authenticated and any(user.has_perm(p) for p in CONSOLE_PERMISSIONS)


def _error(status: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail, **extra}, status=status)


def console_endpoint(view: Callable) -> Callable:
    """JSON errors instead of login redirects, the role check, and no caching of personal data."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return _error(401, "auth_required", "Log in first.")
        if not user_may_use_console(request.user):
            return _error(403, "forbidden", "Your role cannot use the agent console.")
        try:
            return view(request, *args, **kwargs)
        except _UnstorableText as exc:
            return _error(400, "invalid", str(exc))

    return never_cache(wrapper)


def _conversation_for(request: HttpRequest, conversation_id: int) -> Conversation | None:
    """The conversation if this user may see it; None (answered as 404) otherwise, so ids do not leak."""
    return selectors.conversation_visible_get(user=request.user, conversation_id=conversation_id)


def _not_found() -> JsonResponse:
    return _error(404, "not_found", "No such conversation, or it is not yours.")


def _previews(conversation_ids: list[int], *, notes_for: set[int] | None = None) -> dict[int, dict[str, Any]]:
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
    previews = _previews(ids, notes_for=notes_for)
    names = _queue_names(s["queue_id"] for s in summaries)
    for summary in summaries:
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
    conversation = _conversation_for(request, conversation_id)
    if conversation is None:
        return _not_found()
    after_seq = _int_param(request, "after_seq", 0)
    if after_seq is None:
        return _error(400, "invalid", "after_seq must be a whole number, 0 or more.")
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
        }
    )


def _contact_payload(request: HttpRequest, contact: Contact, *, current_conversation_id: int) -> dict[str, Any]:
    notes = contact.notes.select_related("author").order_by("-created_at", "-id")[:NOTES_SHOWN]
    past = selectors.conversations_for_contact(contact_id=contact.pk, user=request.user, limit=PAST_CONVERSATIONS_SHOWN)
    previews = _previews([c.pk for c in past])
    return {
        "id": contact.pk,
        "display_name": contact.display_name,
        "name": contact.name,
        "emails": contact.emails,
        "phones": contact.phones,
        "language": contact.language,
        "timezone": contact.timezone,
        "company": contact.company.name if contact.company_id else "",
        "custom_attributes": contact.custom_attributes,
        "tags": [{"name": t.name, "color": t.color} for t in contact.tags.all()],
        "identities": [
            {
                "kind": i.kind,
                "kind_label": i.get_kind_display(),
                "external_id": i.external_id,
                "display_name": i.display_name,
            }
            for i in contact.identities.all()
        ],
        "notes": [
            {
                "id": n.pk,
                "body": n.body,
                "author": selectors.user_display_name(n.author) if n.author_id else "",
                "created_at": n.created_at.isoformat(),
            }
            for n in notes
        ],
        "conversations": [
            {
                "id": c.pk,
                "status": c.status,
                "channel": c.inbox.name,
                "created_at": c.created_at.isoformat(),
                "closed_at": c.closed_at.isoformat() if c.closed_at else None,
                "agent": selectors.user_display_name(c.assignee) if c.assignee_id else "",
                "wrap_up": c.wrap_up,
                "current": c.pk == current_conversation_id,
                "last_message": previews.get(c.pk),
            }
            for c in past
        ],
        "url": contact.get_absolute_url(),
        "can_edit": request.user.has_perm("crm.change_contact"),
        "can_add_note": request.user.has_perm("crm.add_note"),
    }


class _UnstorableText(Exception):
    """A JSON body with a string that cannot be stored (core/text.py): answered 400 `invalid`."""


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    unstorable = json_unstorable_path(data)
    if unstorable is not None:
        raise _UnstorableText(unstorable_detail(unstorable))
    return data


CONTACT_FIELDS = {"name": str, "emails": list, "phones": list, "language": str, "timezone": str}


@console_endpoint
@require_http_methods(["GET", "POST"])
def conversation_contact(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation = _conversation_for(request, conversation_id)
    if conversation is None:
        return _not_found()
    contact = selectors.conversation_contact(conversation_id=conversation.pk)
    if request.method == "POST":
        if not request.user.has_perm("crm.change_contact"):
            return _error(403, "forbidden", "You may not edit contacts.")
        data = _json_body(request)
        if data is None:
            return _error(400, "bad_json", "Send a JSON object.")
        unknown = sorted(set(data) - set(CONTACT_FIELDS))
        if unknown:
            return _error(400, "invalid", f"Cannot edit: {', '.join(unknown)}.")
        for field, kind in CONTACT_FIELDS.items():
            if field in data and not isinstance(data[field], kind):
                return _error(400, "invalid", f"{field} must be a {'list' if kind is list else 'string'}.")
            if kind is list and field in data and not all(isinstance(v, str) for v in data[field]):
                return _error(400, "invalid", f"{field} must be a list of strings.")
        try:
            crm_services.contact_update(contact=contact, data=data)
        except ValidationError as exc:
            # full_clean failed: nothing was saved; re-read so the reply shows what is stored.
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
            return _error(400, "invalid", "Some fields are not valid.", errors=errors)
        contact = selectors.conversation_contact(conversation_id=conversation.pk)
    return JsonResponse({"contact": _contact_payload(request, contact, current_conversation_id=conversation.pk)})


@console_endpoint
@require_POST
def contact_note_add(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation = _conversation_for(request, conversation_id)
    if conversation is None:
        return _not_found()
    if not request.user.has_perm("crm.add_note"):
        return _error(403, "forbidden", "You may not add notes.")
    data = _json_body(request)
    if data is None or not isinstance(data.get("body"), str):
        return _error(400, "invalid", "Send a JSON object with a text body.")
    contact = selectors.conversation_contact(conversation_id=conversation.pk)
    try:
        crm_services.note_create(contact=contact, author=request.user, body=data["body"])
    except ValidationError as exc:
        return _error(400, "invalid", " ".join(exc.messages))
    return JsonResponse(
        {"contact": _contact_payload(request, contact, current_conversation_id=conversation.pk)}, status=201
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
        {"id": p.user_id, "name": selectors.user_display_name(p.user), "detail": p.get_status_display()}
        for p in profiles
    ]
    return JsonResponse({"queues": queues, "agents": agents})


@csrf_protect
def _upload_store(request: HttpRequest, *, conversation: Conversation, upload) -> JsonResponse:
    """Runs after the body was received under the size limit, so the CSRF check may read request.POST."""
    attachment = attachment_upload(
        file=upload,
        channel_kind=conversation.inbox.kind,
        uploader_kind="agent",
        uploader_id=str(request.user.pk),
    )
    described = attachment_public_dict(
        attachment=attachment,
        viewer=f"agent:{request.user.pk}",
        may_view=lambda conversation_id: _conversation_for(request, conversation_id) is not None,
    )
    return JsonResponse(described, status=201)


# csrf_exempt only on the outside: the token is checked by _upload_store once the upload handlers are in
# place, because the middleware's check reads request.POST and would parse the whole body unlimited.
@csrf_exempt
@console_endpoint
@require_POST
def upload_create(request: HttpRequest) -> JsonResponse:
    """POST ?conversation_id=N, multipart `file` → 201 {id, name, content_type, size, url, thumbnail_url, ...}.

    The file belongs to this agent until a message.send frame names its id in that conversation."""
    try:
        conversation_id = int(request.GET.get("conversation_id", ""))
    except ValueError:
        return _error(400, "invalid", "Give the conversation_id in the query string.")
    conversation = _conversation_for(request, conversation_id)
    if conversation is None:
        return _not_found()
    try:
        upload = upload_receive(request=request, channel_kind=conversation.inbox.kind)
        return _upload_store(request, conversation=conversation, upload=upload)
    except ValidationError as exc:
        code = getattr(exc, "code", None) or "invalid"
        return _error(413 if code == "too_large" else 400, code, " ".join(exc.messages))


@console_endpoint
@require_GET
def conversation_templates(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """The approved templates of the conversation's inbox (empty for platforms without templates)."""
    conversation = _conversation_for(request, conversation_id)
    if conversation is None:
        return _not_found()
    return JsonResponse(
        {
            "conversation_id": conversation.pk,
            "inbox_kind": conversation.inbox.kind,
            "templates": gateway_services.inbox_templates(inbox_id=conversation.inbox_id),
        }
    )


@console_endpoint
@require_POST
def conversation_template_send(request: HttpRequest, conversation_id: int) -> JsonResponse:
    """POST {"name", "language", "params": [str, ...], "client_id"?} → 201 {"message": payload}
    (200 when the client_id was already sent). The CSRF middleware has checked the token."""
    conversation = _conversation_for(request, conversation_id)
    if conversation is None:
        return _not_found()
    data = _json_body(request)
    if data is None:
        return _error(400, "bad_json", "Send a JSON object.")
    name, language, params = data.get("name"), data.get("language"), data.get("params", [])
    client_id = data.get("client_id")
    if not isinstance(name, str) or not isinstance(language, str):
        return _error(400, "invalid", "Give the template's name and language.")
    if client_id is not None and not isinstance(client_id, str):
        return _error(400, "invalid", "client_id must be a string.")
    try:
        # The same bucket as this agent's messages on the socket.
        message_rate_check(identity=agent_identity(request.user.pk))
        payload, created = gateway_services.template_send(
            conversation_id=conversation.pk,
            agent_id=request.user.pk,
            name=name,
            language=language,
            params=params,
            client_id=client_id or None,
        )
    except SwitchError as exc:
        response = _error(http_status(exc.code), exc.code, exc.detail)
        if exc.retry_after_s is not None:
            response["Retry-After"] = str(exc.retry_after_s)
        return response
    return JsonResponse({"message": payload}, status=201 if created else 200)


@console_endpoint
@require_POST
def message_retry(request: HttpRequest, conversation_id: int, message_id: int) -> JsonResponse:
    """POST → 202 {"message_id", "status": "pending"}: "Retry now" on a platform send that failed or is
    waiting for its next attempt. 409 `not_retryable` when there is nothing to retry (sent, or not a
    platform send). The CSRF middleware has checked the token."""
    conversation = _conversation_for(request, conversation_id)
    if conversation is None:
        return _not_found()
    if not Message.objects.filter(pk=message_id, conversation_id=conversation.pk).exists():
        return _error(404, "not_found", "No such message in this conversation.")
    item = gateway_services.outbox_retry_now(message_id=message_id)
    if item is None:
        return _error(http_status("not_retryable"), "not_retryable", ERROR_CODES["not_retryable"])
    transaction.on_commit(lambda: gateway_tasks.outbox_drain_later(conversation.pk))
    return JsonResponse({"message_id": message_id, "status": "pending"}, status=202)


@console_endpoint
@require_POST
def attachment_links(request: HttpRequest) -> JsonResponse:
    """POST {"attachment_ids": [...]} → {"attachments": [...]}: fresh signed links for attachments of
    conversations this user may see (a thread kept open past its links' lifetime); others are left out."""
    if not rate_limit_hit(key=f"agent-links:{request.user.pk}", limit=selectors.LINKS_PER_MINUTE, window_s=60):
        response = _error(429, "rate_limited", "Too many requests for fresh links; wait a minute.")
        response["Retry-After"] = "60"
        return response
    data = _json_body(request)
    ids = data.get("attachment_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return _error(400, "invalid", "attachment_ids must be a list of integers.")
    if len(ids) > selectors.LINKS_MAX:
        return _error(400, "invalid", f"Ask for at most {selectors.LINKS_MAX} attachments at once.")
    return JsonResponse({"attachments": selectors.attachment_links_for_staff(user=request.user, attachment_ids=ids)})


def agent_presence(*, user) -> str:
    """The presence the console shows on load (the socket keeps it live afterwards)."""
    status = AgentProfile.objects.filter(user=user).values_list("status", flat=True).first()
    return status or "offline"


urlpatterns = [
    path("conversations", my_conversations, name="conversations"),
    path("queue", queue_list, name="queue"),
    path("conversations/<int:conversation_id>/messages", conversation_messages, name="conversation_messages"),
    path("conversations/<int:conversation_id>/contact", conversation_contact, name="conversation_contact"),
    path("conversations/<int:conversation_id>/contact/notes", contact_note_add, name="contact_note_add"),
    path("conversations/<int:conversation_id>/templates", conversation_templates, name="conversation_templates"),
    path("conversations/<int:conversation_id>/template", conversation_template_send, name="conversation_template_send"),
    path("conversations/<int:conversation_id>/messages/<int:message_id>/retry", message_retry, name="message_retry"),
    path("canned", canned_responses, name="canned"),
    path("transfer-targets", transfer_targets, name="transfer_targets"),
    path("uploads", upload_create, name="uploads"),
    path("attachments/links", attachment_links, name="attachment_links"),
]
