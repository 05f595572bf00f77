"""The customer widget's HTTP API (CONTRACT.md, docs/protocol.md): sessions, messages, uploads.

Bearer-token auth (no cookies, so no CSRF), CORS for the origins the inbox allows. Views parse, call one
service or selector, and answer JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.client_ip import client_ip
from core.text import json_unstorable_path, unstorable_detail
from imsubsystem import auth, selectors, services
from imsubsystem.events import error_frame, http_status
from imsubsystem.models import Inbox
from imsubsystem.ratelimit import customer_identity, message_rate_check, rate_limit_hit
from imsubsystem.services import SwitchError

MAX_BODY_BYTES = 64 * 1024
CORS_MAX_AGE = "600"


def _error(code: str, detail: str, status: int | None = None, *, retry_after_s: int | None = None) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "detail": detail}}, status=status or http_status(code))
    if retry_after_s is not None:
        response["Retry-After"] = str(retry_after_s)
    return response


def _switch_error(exc: SwitchError) -> JsonResponse:
    return _error(exc.code, exc.detail, retry_after_s=exc.retry_after_s)


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Vary"] = "Origin"
        response["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


def _origin_ok(request: HttpRequest, inbox: Inbox) -> bool:
    return auth.origin_allowed(inbox=inbox, origin=request.headers.get("Origin"), host=request.get_host())


def _preflight(request: HttpRequest, inbox: Inbox | None) -> HttpResponse:
    """A preflight carries no token, so for token-addressed URLs any active web inbox's origins pass;
    the real request is checked against the token's own inbox."""
    origin = request.headers.get("Origin")
    if inbox is not None:
        allowed = _origin_ok(request, inbox)
    else:
        allowed = any(auth.origin_allowed(inbox=i, origin=origin, host=request.get_host()) for i in _web_inboxes())
    return _cors(HttpResponse(status=204), origin if allowed else None)


def _web_inboxes():
    return Inbox.objects.filter(is_active=True, kind="web").only("id", "config")


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY_BYTES:
        raise SwitchError("too_long", f"The body may be at most {MAX_BODY_BYTES} bytes.")
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except ValueError:
        raise SwitchError("bad_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise SwitchError("bad_json", "The body must be a JSON object.")
    unstorable = json_unstorable_path(data)
    if unstorable is not None:
        raise SwitchError("invalid", unstorable_detail(unstorable))
    return data


def _session_required(view: Callable) -> Callable:
    """Authenticate the bearer token, check the origin against its inbox and add CORS headers."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "OPTIONS":
            return _preflight(request, None)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        session, reason = (
            auth.widget_session_check(token=token.strip()) if scheme.lower() == "bearer" else (None, "unknown")
        )
        if session is None:
            # reason: "unknown", "revoked" or "expired"; the widget starts a new session on any of them.
            detail = "Send Authorization: Bearer <session_token>." if reason == "unknown" else None
            frame = error_frame("auth_failed", detail, reason=reason)
            body = {"error": {"code": "auth_failed", "detail": frame["detail"], "reason": reason}}
            response = JsonResponse(body, status=401)
            response["WWW-Authenticate"] = "Bearer"
            return response
        if not _origin_ok(request, session.inbox):
            return _error("origin_not_allowed", "This inbox does not accept requests from this origin.")
        try:
            response = view(request, session, *args, **kwargs)
        except SwitchError as exc:
            response = _switch_error(exc)
        return _cors(response, request.headers.get("Origin"))

    return csrf_exempt(wrapper)


@csrf_exempt
def session_create(request: HttpRequest, inbox_key: str) -> HttpResponse:
    """POST /api/v1/widget/{inbox_key}/sessions → 201 {session_token, contact_id, conversation_id}."""
    inbox = selectors.inbox_by_key(key=inbox_key)
    if inbox is None or inbox.kind != "web":
        return _error("not_found", "No such widget inbox.", 404)
    if request.method == "OPTIONS":
        return _preflight(request, inbox)
    if request.method != "POST":
        return _error("method_not_allowed", "Use POST.", 405)
    origin = request.headers.get("Origin")
    if not _origin_ok(request, inbox):
        return _error("origin_not_allowed", "This inbox does not accept requests from this origin.")
    if not rate_limit_hit(
        key=f"widget-session:{client_ip(request)}", limit=settings.IM_WIDGET_SESSIONS_PER_MINUTE, window_s=60
    ):
        return _cors(
            _error("rate_limited", "Too many new sessions from this address; wait a minute.", retry_after_s=60), origin
        )
    try:
        data = _json_body(request)
        fields = {}
        for name in ("name", "email", "phone", "locale"):
            value = data.get(name, "")
            if not isinstance(value, str) or len(value) > 254:
                raise SwitchError("invalid", f"{name} must be a text of at most 254 characters.")
            fields[name] = value
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict) or len(json.dumps(metadata)) > 4096:
            raise SwitchError("invalid", "metadata must be a JSON object of at most 4 KB.")
        if fields["email"] and "@" not in fields["email"]:
            raise SwitchError("invalid", "email is not an e-mail address.")
        token, session = auth.widget_session_create(inbox=inbox, metadata=metadata, **fields)
    except SwitchError as exc:
        return _cors(_switch_error(exc), origin)
    except ValidationError as exc:
        return _cors(_error("invalid", " ".join(exc.messages)), origin)
    body = {"session_token": token, "contact_id": session.contact_id, "conversation_id": None}
    return _cors(JsonResponse(body, status=201), origin)


@_session_required
def messages(request: HttpRequest, session) -> HttpResponse:
    """GET ?after_seq=N → {conversation_id, last_seq, messages}; POST {client_id, text, attachment_ids?} → 201."""
    viewer = f"customer:{session.contact_id}"
    if request.method == "GET":
        try:
            after_seq = int(request.GET.get("after_seq", "0"))
        except ValueError:
            raise SwitchError("invalid", "after_seq must be an integer.") from None
        conversation = selectors.customer_conversation_current(inbox_id=session.inbox_id, contact_id=session.contact_id)
        if conversation is None:
            return JsonResponse({"conversation_id": None, "last_seq": 0, "messages": []})
        found = selectors.messages_after(conversation_id=conversation.pk, after_seq=after_seq, include_private=False)
        return JsonResponse(
            {
                "conversation_id": conversation.pk,
                "last_seq": conversation.last_seq,
                "status": conversation.status,
                "messages": [selectors.payload_for_viewer(m, viewer=viewer) for m in found],
            }
        )
    if request.method != "POST":
        return _error("method_not_allowed", "Use GET or POST.", 405)
    data = _json_body(request)
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise SwitchError("invalid", "client_id is required.")
    attachment_ids = data.get("attachment_ids") or []
    if not isinstance(attachment_ids, list):
        raise SwitchError("invalid", "attachment_ids must be a list.")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise SwitchError("invalid", "text must be a string.")
    # The same bucket as the widget socket's (and any other transport's) messages of this customer.
    message_rate_check(identity=customer_identity(session.contact_id))
    message, created = services.customer_message_send(
        inbox_id=session.inbox_id,
        contact_id=session.contact_id,
        text=text,
        client_id=client_id,
        attachment_ids=attachment_ids,
        private=data.get("private", False),
    )
    return JsonResponse(selectors.payload_for_viewer(message, viewer=viewer), status=201 if created else 200)


def _attachment_ids(data: dict[str, Any]) -> list[int]:
    ids = data.get("attachment_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise SwitchError("invalid", "attachment_ids must be a list of integers.")
    if len(ids) > selectors.LINKS_MAX:
        raise SwitchError("invalid", f"Ask for at most {selectors.LINKS_MAX} attachments at once.")
    return ids


@_session_required
def attachment_links(request: HttpRequest, session) -> HttpResponse:
    """POST {"attachment_ids": [...]} → {"attachments": [...]}: fresh signed links for attachments of this
    customer's messages (a history redrawn after its links expired); others are left out."""
    if request.method != "POST":
        return _error("method_not_allowed", "Use POST.", 405)
    if not rate_limit_hit(key=f"widget-links:{session.pk}", limit=selectors.LINKS_PER_MINUTE, window_s=60):
        return _error("rate_limited", "Too many requests for fresh links; wait a minute.", retry_after_s=60)
    ids = _attachment_ids(_json_body(request))
    found = selectors.attachment_links_for_customer(
        inbox_id=session.inbox_id, contact_id=session.contact_id, attachment_ids=ids
    )
    return JsonResponse({"attachments": found})


@_session_required
def uploads(request: HttpRequest, session) -> HttpResponse:
    """POST multipart `file` → 201 {id, name, content_type, size, url}; sent later by attachment id."""
    if request.method != "POST":
        return _error("method_not_allowed", "Use POST.", 405)
    from media.selectors import attachment_public_dict
    from media.services import attachment_upload
    from media.uploads import upload_receive

    try:
        # Refuses an oversized body from its Content-Length, or as soon as the limit is passed while
        # reading, before it is all stored.
        upload = upload_receive(request=request, channel_kind="web")
        attachment = attachment_upload(
            file=upload, channel_kind="web", uploader_kind="customer", uploader_id=str(session.contact_id)
        )
    except ValidationError as exc:
        code = getattr(exc, "code", None) or "invalid"
        return _error(code, " ".join(exc.messages), 413 if code == "too_large" else 400)
    viewer = f"customer:{session.contact_id}"
    described = attachment_public_dict(attachment=attachment, viewer=viewer, may_view=lambda c: False)
    return JsonResponse(described, status=201)
