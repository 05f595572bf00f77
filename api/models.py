"""API tokens: a user's named, scoped keys for the integrator API, stored hashed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A user's key for the REST API. The key itself is shown once, when it is made; only its SHA-256 is
    kept (the key is 32 random bytes, so a fast hash is as safe as a slow one). `prefix` is the public part
    people recognise their keys by in lists."""

    READ = "read"
    WRITE = "write"
    SCOPES = [(READ, _("Read")), (WRITE, _("Read and write"))]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=8, choices=SCOPES, default=READ)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def may_write(self) -> bool:
        return self.scope == self.WRITE


class IdempotencyKey(models.Model):
    """A POST's `Idempotency-Key` and what its first call answered (api/idempotency.py), kept 24 hours.

    The unique (caller, key) row is the lock: it is written, and committed, before the call runs, so a
    concurrent retry finds it and waits its turn. `status` stays null while the first call runs."""

    caller = models.CharField(max_length=40)  # "token:<id>" or "user:<id>" (a session's calls)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path, query and the parsed body
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True, default="")  # the answer's JSON
    location = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = _("idempotency keys")
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="api_idempotency_caller_key")]
        verbose_name = _("idempotency key")

    def __str__(self) -> str:
        return f"{self.caller} {self.key}"
