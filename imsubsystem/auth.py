"""Widget session tokens: random, opaque, stored only as their SHA-256, revocable."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from crm.models import ChannelKind
from crm.services import identity_get_or_create, identity_verify
from imsubsystem.models import Inbox, WidgetSession
from imsubsystem.services import widget_sessions_revoke
from imsubsystem.visitor import widget_session_context_set

# last_seen_at is written at most this often per session, not on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAX_IDENTIFIER = 128
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def identifier_hash_for(*, inbox: Inbox, identifier: str) -> str:
    """HMAC-SHA256 of a site's customer id keyed with the inbox's identity secret, in hex: what the site
    computes on its server and puts in the page (docs/interface.md, "Identified visitors")."""
    return hmac.new(inbox.identity_secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def identity_check(*, inbox: Inbox, identifier: Any, identifier_hash: Any) -> str:
    """The site's customer id when its hash proves it, "" for an anonymous visitor. Refuses (DomainError)
    a malformed id, any hash that is not the id's HMAC (`identity_invalid`), and, when the inbox
    requires verification, an id without a hash (`identity_required`). An id without a hash on an inbox
    that does not require verification is not used: the visitor is anonymous."""
    identifier = "" if identifier is None else identifier
    identifier_hash = "" if identifier_hash is None else identifier_hash
    if not isinstance(identifier, str) or not isinstance(identifier_hash, str):
        raise DomainError("invalid", "identifier and identifier_hash must be texts.")
    if len(identifier) > MAX_IDENTIFIER or _CONTROL.search(identifier) or identifier != identifier.strip():
        raise DomainError("invalid", f"identifier must be 1 to {MAX_IDENTIFIER} characters, without spaces around.")
    if not identifier:
        if identifier_hash:
            raise DomainError("identity_invalid", "identifier_hash was sent without an identifier.")
        return ""
    if not identifier_hash:
        if inbox.identity_required:
            raise DomainError("identity_required")
        return ""
    expected = identifier_hash_for(inbox=inbox, identifier=identifier)
    # The format check first (compare_digest takes ASCII only); the comparison itself in constant time.
    if not _HEX_SHA256.match(identifier_hash) or not hmac.compare_digest(expected, identifier_hash.lower()):
        raise DomainError("identity_invalid")
    return identifier


def verified_external_id(*, inbox: Inbox, identifier: str) -> str:
    """The web identity of a verified customer of this inbox: in the inbox's own namespace, so an id
    proven on one site (one secret) never names a customer of another, and never an anonymous visitor's
    `visitor:` identity."""
    return f"user:{inbox.pk}:{identifier}"


def widget_session_create(
    *,
    inbox: Inbox,
    name: str = "",
    email: str = "",
    phone: str = "",
    locale: str = "",
    metadata: dict[str, Any] | None = None,
    identifier: str = "",
    context: dict[str, Any] | None = None,
    user_agent: str = "",
) -> tuple[str, WidgetSession]:
    """A new session. An anonymous visitor gets a new CRM contact (never matched by the e-mail a visitor
    types, which anyone could claim) with a web identity of its own. A verified customer (`identifier`
    already proven by identity_check) gets the contact of their verified identity, made on first sight
    from the name and e-mail sent; an existing contact's record is left as the CRM has it. `context` is
    visitor_context_check's answer. Returns the token, shown once."""
    token = secrets.token_urlsafe(32)
    defaults = {
        "emails": [email.strip()[:254]] if email.strip() else [],
        "phones": [phone.strip()[:32]] if phone.strip() else [],
        "language": locale.strip()[:16],
        "metadata": {"inbox": inbox.key, **(metadata or {})},
    }
    with transaction.atomic():
        external_id = (
            verified_external_id(inbox=inbox, identifier=identifier)
            if identifier
            else f"visitor:{secrets.token_hex(16)}"
        )
        identity, _ = identity_get_or_create(
            kind=ChannelKind.WEB, external_id=external_id, display_name=name.strip()[:200], defaults=defaults
        )
        if identifier:
            identity_verify(identity=identity)
        session = WidgetSession.objects.create(
            token_hash=token_hash(token), contact=identity.contact, inbox=inbox, last_seen_at=timezone.now()
        )
        if context is not None:
            widget_session_context_set(session=session, context=context, user_agent=user_agent)
    return token, session


def widget_session_idle_limit() -> timedelta:
    return timedelta(days=settings.IM_WIDGET_SESSION_IDLE_DAYS)


def widget_session_check(*, token: str) -> tuple[WidgetSession | None, str]:
    """The live session behind a token and "", or None and why not: "unknown" (no such token, or its
    inbox is off), "revoked" (revoked, e.g. by a contact merge) or "expired" (unused for longer than
    IM_WIDGET_SESSION_IDLE_DAYS). Every use of a live session counts as activity."""
    if not isinstance(token, str) or not 20 <= len(token) <= 200:
        return None, "unknown"
    session = (
        WidgetSession.objects.select_related("inbox", "contact")
        # Read on every request and socket auth: the visitor context and the inbox's secret only when used.
        .defer("context", "inbox__identity_secret")
        .filter(token_hash=token_hash(token), inbox__is_active=True)
        .first()
    )
    if session is None:
        return None, "unknown"
    if session.revoked_at is not None:
        return None, "revoked"
    now = timezone.now()
    if now - (session.last_seen_at or session.created_at) > widget_session_idle_limit():
        return None, "expired"
    if session.last_seen_at is None or now - session.last_seen_at > LAST_SEEN_RESOLUTION:
        WidgetSession.objects.filter(pk=session.pk).update(last_seen_at=now)
        session.last_seen_at = now
    return session, ""


def widget_session_authenticate(*, token: str) -> WidgetSession | None:
    """The live session behind a token (not revoked, not idle too long, its inbox active), or None."""
    return widget_session_check(token=token)[0]


def widget_session_live(*, session_id: int) -> bool:
    """Is this session still usable (not revoked since it authenticated)?"""
    return WidgetSession.objects.filter(pk=session_id, revoked_at__isnull=True, inbox__is_active=True).exists()


def widget_session_revoke(*, session_id: int) -> None:
    """Revoke one session: its token is refused from now on and its open sockets are closed."""
    widget_sessions_revoke(session_ids=[session_id])


def origin_allowed(*, inbox: Inbox, origin: str | None, host: str | None) -> bool:
    """A browser origin may use an inbox's widget when the inbox lists it (or "*"), or when it is the
    server's own origin. No Origin header means no browser, and the token is the only credential."""
    if not origin:
        return True
    origin = origin.rstrip("/")
    allowed = inbox.allowed_origins
    if "*" in allowed or origin in allowed:
        return True
    if host:
        bare = origin.split("://", 1)[-1]
        return bare == host
    return False
