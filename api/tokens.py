"""Making, checking and revoking API tokens (the only code that sees a key in clear).

A key reads `sbk_<prefix>_<secret>`: the prefix (8 hex characters) finds the row, the SHA-256 of the whole
key must match it. The last-used time is written at most once a minute per token, so a busy integration
does not write a row per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.utils import timezone

from api.models import ApiToken

KEY_PREFIX = "sbk_"
LAST_USED_EVERY = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_key_assign(token: ApiToken) -> str:
    """Give an unsaved token a new key (its prefix and hash); the key, to show once."""
    while True:
        prefix = secrets.token_hex(4)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token.prefix, token.key_hash = prefix, _hash(key)
    return key


def token_create(*, user, name: str, scope: str = ApiToken.READ) -> tuple[ApiToken, str]:
    """A new token for `user`: (the row, the key to show once)."""
    if scope not in dict(ApiToken.SCOPES):
        raise ValueError(f"unknown scope {scope!r}")
    token = ApiToken(user=user, name=name.strip()[:100] or "API token", scope=scope)
    key = token_key_assign(token)
    token.save()
    return token, key


def token_revoke(*, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


def token_for_key(key: str) -> tuple[ApiToken | None, str]:
    """(the token, "") for a good key; (None, reason) otherwise: `unknown` or `revoked`."""
    if not key.startswith(KEY_PREFIX) or len(key) > 128:
        return None, "unknown"
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.key_hash, _hash(key)):
        return None, "unknown"
    if token.revoked_at is not None:
        return None, "revoked"
    if not token.user.is_active:
        return None, "user_inactive"
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token, ""
