"""The one way an HTTP API answers a refusal, and the one reader of a JSON request body.

Every JSON API (the widget's, the agent console's, the supervisor dashboard's) raises `DomainError` for a
refused request; `api_endpoint` turns it into `{"error": {"code", "detail", ...extra}}` with the code's
HTTP status (core/errors.py) and `Retry-After` when the error carries `retry_after_s`, the way Zulip's
JsonableError handling does. `json_body` reads a request's JSON object or raises the DomainError the
client is answered with. Django only: core imports no app.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers

from core.errors import DomainError
from core.text import json_unstorable_path, unstorable_detail


def error_response(exc: DomainError) -> JsonResponse:
    """The JSON answer to a refused request: `exc.as_dict()` with its status, and Retry-After for a
    rate limit."""
    response = JsonResponse(exc.as_dict(), status=exc.status)
    if exc.retry_after_s is not None:
        response["Retry-After"] = str(exc.retry_after_s)
    return response


def api_endpoint(view: Callable[..., HttpResponse] | None = None, *, no_store: bool = False) -> Callable:
    """A JSON view whose DomainErrors become `error_response`s.

    `no_store=True` adds Cache-Control: no-store (Django's never_cache) to every answer, refusals too: for
    endpoints that answer personal data. Use bare (`@api_endpoint`) or with arguments
    (`@api_endpoint(no_store=True)`)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                response = view(request, *args, **kwargs)
            except DomainError as exc:
                response = error_response(exc)
            if no_store:
                add_never_cache_headers(response)
            return response

        return wrapper

    return decorate(view) if view is not None else decorate


def json_body(request: HttpRequest, *, max_bytes: int | None = None) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body), or a DomainError: `too_long` over `max_bytes`
    (None: only the edge's body limit, config/body_limits.py), `bad_json` when it is not JSON or not an
    object, `invalid` when a string or key cannot be stored (core/text.py)."""
    body = request.body
    if max_bytes is not None and len(body) > max_bytes:
        raise DomainError("too_long", f"The body may be at most {max_bytes} bytes.")
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:  # UnicodeDecodeError included
        raise DomainError("bad_json", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise DomainError("bad_json", "The body must be a JSON object.")
    unstorable = json_unstorable_path(data)
    if unstorable is not None:
        raise DomainError("invalid", unstorable_detail(unstorable))
    return data


def validation_refusal(exc: ValidationError, *, code: str = "invalid") -> DomainError:
    """A Django ValidationError (a model's full_clean, media's upload checks) as the DomainError an API
    answers: its own code where it has one (media's `too_large`, `executable`...), its messages as the
    detail."""
    return DomainError(getattr(exc, "code", None) or code, " ".join(exc.messages))


def method_not_allowed(*allowed: str) -> DomainError:
    """405 for a method the endpoint does not take (the widget API answers it as JSON)."""
    return DomainError("method_not_allowed", f"Use {' or '.join(allowed)}.", status=405)
