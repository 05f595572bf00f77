"""The customer widget's HTTP API (CONTRACT.md, docs/protocol.md): sessions, messages, uploads.

Bearer-token auth (no cookies, so no CSRF), CORS for the origins the inbox allows. Views parse, call one
service or selector, and answer JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from core.client_ip import client_ip
from core.errors import DomainError
from core.http import api_endpoint, error_response, json_body, method_not_allowed, validation_refusal
from imsubsystem import auth, selectors, services
from imsubsystem.events import error_frame
from imsubsystem.models import Inbox
from imsubsystem.ratelimit import customer_identity, message_rate_check, rate_limit_hit
from imsubsystem.visitor import visitor_context_check, visitor_context_public, widget_session_context_set
from interface.api_fields import attachment_ids_field
from interface.widget_strings import widget_strings
from media.selectors import attachment_public_dict
from media.services import attachment_upload
from media.uploads import upload_receive

MAX_BODY_BYTES = 64 * 1024
CORS_MAX_AGE = "600"
ORIGIN_REFUSED = "This inbox does not accept requests from this origin."
# A visitor moving from page to page tells each one; more than this a minute is refused.
CONTEXT_UPDATES_PER_MINUTE = 30


def _json_body(request: HttpRequest) -> dict:
    return json_body(request, max_bytes=MAX_BODY_BYTES)


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


def _session_required(view: Callable) -> Callable:
    """Authenticate the bearer token, check the origin against its inbox and add CORS headers. The view's
    refusals (DomainError) are answered by `api_endpoint` and carry CORS headers; a refused token or
    origin does not."""
    handled = api_endpoint(view)

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
            response = error_response(DomainError("auth_failed", frame["detail"], reason=reason))
            response["WWW-Authenticate"] = "Bearer"
            return response
        if not _origin_ok(request, session.inbox):
            return error_response(DomainError("origin_not_allowed", ORIGIN_REFUSED))
        return _cors(handled(request, session, *args, **kwargs), request.headers.get("Origin"))

    return csrf_exempt(wrapper)


@csrf_exempt
@api_endpoint
def session_create(request: HttpRequest, inbox_key: str) -> HttpResponse:
    """POST /api/v1/widget/{inbox_key}/sessions → 201 {session_token, contact_id, conversation_id, language,
    strings}."""
    inbox = selectors.inbox_by_key(key=inbox_key)
    if inbox is None or inbox.kind != "web":
        raise DomainError("not_found", "No such widget inbox.")
    if request.method == "OPTIONS":
        return _preflight(request, inbox)
    if request.method != "POST":
        raise method_not_allowed("POST")
    if not _origin_ok(request, inbox):
        raise DomainError("origin_not_allowed", ORIGIN_REFUSED)
    # From here on the inbox accepts this origin: refusals carry CORS headers too.
    return _cors(_session_create(request, inbox), request.headers.get("Origin"))


@api_endpoint
def _session_create(request: HttpRequest, inbox: Inbox) -> HttpResponse:
    if not rate_limit_hit(
        key=f"widget-session:{client_ip(request)}", limit=settings.IM_WIDGET_SESSIONS_PER_MINUTE, window_s=60
    ):
        raise DomainError("rate_limited", "Too many new sessions from this address; wait a minute.", retry_after_s=60)
    data = _json_body(request)
    fields = {}
    for name in ("name", "email", "phone", "locale"):
        value = data.get(name, "")
        if not isinstance(value, str) or len(value) > 254:
            raise DomainError("invalid", f"{name} must be a text of at most 254 characters.")
        fields[name] = value
    requested = data.get("language", "")
    if not isinstance(requested, str) or (requested and not selectors.language_normalize(requested)):
        raise DomainError("invalid", "language must be a language tag like en or zh-Hans.")
    # The page's or browser's language (v1 clients send it as locale) becomes the new contact's, so the
    # conversation, the bot and the automatic messages use it (imsubsystem/selectors/language.py).
    requested = selectors.language_normalize(requested or fields["locale"])
    fields["locale"] = requested
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict) or len(json.dumps(metadata)) > 4096:
        raise DomainError("invalid", "metadata must be a JSON object of at most 4 KB.")
    if fields["email"] and "@" not in fields["email"]:
        raise DomainError("invalid", "email is not an e-mail address.")
    # Checked as a whole before anything is made: a refusal changes nothing.
    context = visitor_context_check(data["context"]) if data.get("context") is not None else None
    identifier = auth.identity_check(
        inbox=inbox, identifier=data.get("identifier"), identifier_hash=data.get("identifier_hash")
    )
    try:
        token, session = auth.widget_session_create(
            inbox=inbox,
            metadata=metadata,
            identifier=identifier,
            context=context,
            user_agent=request.headers.get("User-Agent", ""),
            **fields,
        )
    except ValidationError as exc:
        raise DomainError("invalid", " ".join(exc.messages)) from None
    language = selectors.ui_language(
        selectors.customer_language(requested=requested, inbox_language=inbox.language), inbox.language
    )
    body = {
        "session_token": token,
        "contact_id": session.contact_id,
        "conversation_id": None,
        # True: the session is the site's verified customer (identifier and its hash); false: anonymous.
        "verified": bool(identifier),
        # The widget's words in the customer's language, so it loads no catalog from the host page's origin.
        "language": language,
        "strings": widget_strings(language),
    }
    return JsonResponse(body, status=201)


@_session_required
def messages(request: HttpRequest, session) -> HttpResponse:
    """GET ?after_seq=N → {conversation_id, last_seq, messages}; POST {client_id, text, attachment_ids?} → 201."""
    viewer = f"customer:{session.contact_id}"
    if request.method == "GET":
        try:
            after_seq = int(request.GET.get("after_seq", "0"))
        except ValueError:
            raise DomainError("invalid", "after_seq must be an integer.") from None
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
        raise method_not_allowed("GET", "POST")
    data = _json_body(request)
    client_id = data.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise DomainError("invalid", "client_id is required.")
    attachment_ids = data.get("attachment_ids") or []
    if not isinstance(attachment_ids, list):
        raise DomainError("invalid", "attachment_ids must be a list.")
    text = data.get("text", "")
    if not isinstance(text, str):
        raise DomainError("invalid", "text must be a string.")
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


@_session_required
def attachment_links(request: HttpRequest, session) -> HttpResponse:
    """POST {"attachment_ids": [...]} → {"attachments": [...]}: fresh signed links for attachments of this
    customer's messages (a history redrawn after its links expired); others are left out."""
    if request.method != "POST":
        raise method_not_allowed("POST")
    if not rate_limit_hit(key=f"widget-links:{session.pk}", limit=selectors.LINKS_PER_MINUTE, window_s=60):
        raise DomainError("rate_limited", "Too many requests for fresh links; wait a minute.", retry_after_s=60)
    ids = attachment_ids_field(_json_body(request))
    found = selectors.attachment_links_for_customer(
        inbox_id=session.inbox_id, contact_id=session.contact_id, attachment_ids=ids
    )
    return JsonResponse({"attachments": found})


@_session_required
def uploads(request: HttpRequest, session) -> HttpResponse:
    """POST multipart `file` → 201 {id, name, content_type, size, url}; sent later by attachment id."""
    if request.method != "POST":
        raise method_not_allowed("POST")
    try:
        # Refuses an oversized body from its Content-Length, or as soon as the limit is passed while
        # reading, before it is all stored.
        upload = upload_receive(request=request, channel_kind="web")
        attachment = attachment_upload(
            file=upload, channel_kind="web", uploader_kind="customer", uploader_id=str(session.contact_id)
        )
    except ValidationError as exc:
        raise validation_refusal(exc) from None
    viewer = f"customer:{session.contact_id}"
    described = attachment_public_dict(attachment=attachment, viewer=viewer, may_view=lambda c: False)
    return JsonResponse(described, status=201)


@_session_required
def context(request: HttpRequest, session) -> HttpResponse:
    """POST {url?, title?, referrer?, language?, timezone?, custom_attributes?} → {"context": {...}}: the
    visitor's page and browser now (a new page, new custom attributes). Bounded as a whole
    (imsubsystem/visitor.py): anything out of bounds is `invalid` and nothing is stored."""
    if request.method != "POST":
        raise method_not_allowed("POST")
    if not rate_limit_hit(key=f"widget-context:{session.pk}", limit=CONTEXT_UPDATES_PER_MINUTE, window_s=60):
        raise DomainError("rate_limited", "Too many page updates; wait a minute.", retry_after_s=60)
    checked = visitor_context_check(_json_body(request))
    stored = widget_session_context_set(
        session=session, context=checked, user_agent=request.headers.get("User-Agent", "")
    )
    return JsonResponse({"context": visitor_context_public(stored)})
