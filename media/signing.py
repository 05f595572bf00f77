"""Tokens for the local-file view: which attachment, which variant, for whom, signed and dated.

The token is the whole capability: nothing in it can be changed without breaking the signature, and it
stops working MEDIA_URL_TTL seconds after it was made.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing

SALT = "media.attachment-url"
ORIGINAL = "o"
THUMBNAIL = "t"


@dataclass(frozen=True)
class FileGrant:
    attachment_id: int
    variant: str
    viewer: str


def grant_sign(*, attachment_id: int, variant: str, viewer: str) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"a": attachment_id, "v": variant, "s": viewer})


def grant_read(*, token: str) -> FileGrant:
    """The grant in a token; raises signing.SignatureExpired or signing.BadSignature."""
    payload = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=settings.MEDIA_URL_TTL)
    try:
        return FileGrant(int(payload["a"]), str(payload["v"]), str(payload["s"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise signing.BadSignature("Malformed grant") from exc
