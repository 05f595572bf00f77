"""`Idempotency-Key` on every POST of the integrator API: a retried POST with the same key returns what
the first call answered (status and body) without doing the work again.

Stored in the database (api.models.IdempotencyKey), beside the record of what was done, so a replay
survives a Redis flush or restart. The steps, run by ApiMixin.dispatch
(api/views/base.py) for every POST that sends the header, after authentication, permissions and the rate
limit:

1. `begin`: insert the (caller, key) row and commit it before the call runs. The unique constraint is the
   lock: a concurrent retry's insert fails, it reads the row and is told `idempotency_key_in_progress`
   (409, Retry-After: 1). A finished row is replayed; a row whose request differs (another method, path,
   query or body) is refused with `idempotency_key_reused` (422).
2. The view's handler runs as it would without a key (the services own their transactions, as for the
   console's calls), then `finish` writes its answer onto the row.
3. An answer of 5xx or 429, or an exception, is not kept (`release` deletes the row): the retry runs
   again.
   A row left unfinished for ABANDONED_AFTER (the process stopped during the call) is taken over by the
   next retry, which runs again.

Keys are the caller's (a token's, or a user's for the staff pages' session calls) and kept KEEP (24 hours;
`idempotency_keys_purge` deletes older ones every hour).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from api.models import IdempotencyKey
from api.throttling import caller_key
from core.errors import DomainError

HEADER = "Idempotency-Key"
KEEP = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=5)
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII without spaces, as Stripe's keys


class Replay(Exception):
    """The call was made before with this key: answer what it answered."""

    def __init__(self, row: IdempotencyKey) -> None:
        super().__init__(row.key)
        self.row = row

    def response(self) -> Response:
        row = self.row
        response = Response(json.loads(row.body) if row.body else None, status=row.status)
        response["Idempotent-Replayed"] = "true"
        if row.location:
            response["Location"] = row.location
        return response


@dataclass
class Claim:
    row: IdempotencyKey


def _fingerprint(request) -> str:
    data = request.data
    try:
        body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    except TypeError:
        body = repr(data)
    seen = json.dumps([request.method, request.path, request.META.get("QUERY_STRING", ""), body])
    return hashlib.sha256(seen.encode()).hexdigest()


def begin(request) -> Claim | None:
    """Claim the POST's key for this call (a Claim), or raise Replay or a DomainError; None when the
    request is not a POST or sends no key."""
    if request.method != "POST":
        return None
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _VALID_KEY.fullmatch(key):
        raise DomainError("invalid", f"The {HEADER} header must be 1 to 255 printable ASCII characters without spaces.")
    caller = caller_key(request)
    if caller is None:
        return None
    fingerprint = _fingerprint(request)
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(
                    caller=caller,
                    key=key,
                    fingerprint=fingerprint,
                    method=request.method,
                    path=request.path[:500],
                    created_at=now,
                )
            return Claim(row)
        except IntegrityError:
            pass
        row = IdempotencyKey.objects.filter(caller=caller, key=key).first()
        if row is None:  # purged in between
            continue
        if row.created_at < now - KEEP:
            IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).delete()
            continue
        if row.fingerprint != fingerprint:
            raise DomainError(
                "idempotency_key_reused",
                f"This {HEADER} was used for another request (a different method, path or body). "
                "Use a new key for a new request.",
                status=422,
            )
        if row.status is not None:
            raise Replay(row)
        if row.created_at < now - ABANDONED_AFTER:
            # Its process stopped during the call (a call never runs this long): this retry runs again.
            taken = IdempotencyKey.objects.filter(pk=row.pk, status=None, created_at=row.created_at).update(
                created_at=now
            )
            if taken:
                row.created_at = now
                return Claim(row)
            continue
        break
    raise DomainError(
        "idempotency_key_in_progress",
        f"A call with this {HEADER} is still running: retry in a moment to get its answer.",
        status=409,
        retry_after_s=1,
    )


def finish(claim: Claim, response, unkept: tuple[str, ...] = ()) -> None:
    """Keep the call's answer on its key. The `unkept` fields of the answer (a secret shown once, e.g. a
    new token's key) are kept as null."""
    row = claim.row
    data = getattr(response, "data", None)
    if unkept and isinstance(data, dict):
        data = {**data, **{name: None for name in unkept if name in data}}
    row.status = response.status_code
    row.body = JSONRenderer().render(data).decode() if data is not None else ""
    row.location = (response.get("Location") or "")[:500]
    row.finished_at = timezone.now()
    row.save(update_fields=["status", "body", "location", "finished_at"])


def release(claim: Claim) -> None:
    """The call failed (5xx): forget the key so that a retry runs again."""
    IdempotencyKey.objects.filter(pk=claim.row.pk, status=None).delete()


def purge_expired() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - KEEP).delete()
    return deleted
