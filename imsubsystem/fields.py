"""An encrypted JSON field for inbox credentials (platform tokens, app secrets).

Values are stored as Fernet tokens (AES-128-CBC + HMAC-SHA256). The key is derived with HKDF from
settings.CREDENTIALS_KEY, or SECRET_KEY when that is empty, so a database dump alone reveals no secret.
Keys in SECRET_KEY_FALLBACKS / CREDENTIALS_KEY_FALLBACKS still decrypt, which lets a key be rotated:
set the new key, keep the old one as a fallback, re-save the inboxes, then drop the fallback.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

_HKDF_SALT = b"switchboard.credentials.v1"
_HKDF_INFO = b"imsubsystem.EncryptedJSONField"


def _derive(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=4)
def _fernet_for(primary: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_derive(primary), *(_derive(f) for f in fallbacks)])


def credentials_fernet() -> MultiFernet:
    primary = getattr(settings, "CREDENTIALS_KEY", "") or settings.SECRET_KEY
    fallbacks = tuple(getattr(settings, "CREDENTIALS_KEY_FALLBACKS", ()) or ()) + tuple(
        getattr(settings, "SECRET_KEY_FALLBACKS", ()) or ()
    )
    return _fernet_for(primary, fallbacks)


def encrypt_json(value: Any) -> str:
    return credentials_fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> Any:
    try:
        return json.loads(credentials_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise ImproperlyConfigured(
            "Inbox credentials cannot be decrypted: CREDENTIALS_KEY (or SECRET_KEY) changed without keeping "
            "the old key in CREDENTIALS_KEY_FALLBACKS."
        ) from None


class EncryptedJSONField(models.TextField):
    """A JSON value encrypted at rest. Not searchable or indexable by design."""

    description = "JSON encrypted with Fernet"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return None if value is None else {}
        return decrypt_json(value)

    def to_python(self, value):
        if isinstance(value, str) and value:
            try:
                return json.loads(value)
            except ValueError:
                return decrypt_json(value)
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        return encrypt_json(value)

    def value_to_string(self, obj):
        # Serialised dumps (dumpdata) keep the ciphertext, never the plain secrets.
        return self.get_prep_value(self.value_from_object(obj))

    def formfield(self, **kwargs):
        return super(models.TextField, self).formfield(**{"form_class": forms.JSONField, **kwargs})


class EncryptedTextField(models.TextField):
    """A text encrypted at rest (an inbox's identity secret): plain text in Python, a Fernet token in the
    database. Not searchable or indexable by design."""

    description = "Text encrypted with Fernet"

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt_json(value)

    def get_prep_value(self, value):
        if value is None or value == "":
            return value
        return encrypt_json(str(value))

    def value_to_string(self, obj):
        return self.get_prep_value(self.value_from_object(obj))
