"""Widget session tokens: random, opaque, stored only as their SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.models import ChannelKind
from crm.services import identity_get_or_create
from imsubsystem.models import Inbox, WidgetSession
from imsubsystem.services import widget_sessions_revoke

# last_seen_at is written at most this often per session, not on every request.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def widget_session_create(
    *,
    inbox: Inbox,
    name: str = "",
    email: str = "",
    phone: str = "",
    locale: str = "",
    metadata: dict[str, Any] | None = None,
) -> tuple[str, WidgetSession]:
    """A new visitor: a new CRM contact (never matched by the e-mail a visitor types, which anyone could
    claim) with a web identity, and a session. Returns the token, shown once."""
    visitor_id = secrets.token_hex(16)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        identity, _ = identity_get_or_create(
            kind=ChannelKind.WEB,
            external_id=f"visitor:{visitor_id}",
            display_name=name.strip()[:200],
            defaults={
                "emails": [email.strip()[:254]] if email.strip() else [],
                "phones": [phone.strip()[:32]] if phone.strip() else [],
                "language": locale.strip()[:16],
                "metadata": {"inbox": inbox.key, **(metadata or {})},
            },
        )
        session = WidgetSession.objects.create(
            token_hash=token_hash(token), contact=identity.contact, inbox=inbox, last_seen_at=timezone.now()
        )
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
