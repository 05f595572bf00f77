"""What the OpenAPI document says of every operation without each view repeating it: the one error shape
(`Error`) for the refusals any call may get, the `Idempotency-Key` header of every POST, the rate-limit
headers. A view that documents a status itself keeps its own description."""

from __future__ import annotations

from api.idempotency import HEADER as IDEMPOTENCY_HEADER

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every refusal: nothing was changed. `code` is stable (switch on it); `detail` is for people.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "detail"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "detail": {"type": "string"},
                "reason": {"type": "string", "description": "For `auth_failed`: unknown, revoked, user_inactive."},
                "errors": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "For `invalid`: the message of each field that is not valid.",
                },
            },
            "additionalProperties": True,
        }
    },
}

_REFUSALS = {
    "400": "The request is not valid (`invalid`, `bad_json`).",
    "401": "No credentials (`auth_required`), or a key that is unknown or revoked (`auth_failed`).",
    "403": "The caller's role or the token's scope does not allow this (`forbidden`).",
    "404": "No such object, or not one the caller may see (`not_found`).",
    "409": "The object's state does not allow this now, or a call with this Idempotency-Key is still running "
    "(`idempotency_key_in_progress`).",
    "422": "This Idempotency-Key was used for another request (`idempotency_key_reused`).",
    "429": "Over the token's rate limit (`rate_limited`); `Retry-After` says when to call again.",
}

_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before calling again."}}
_RATE_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Calls allowed per window."},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Calls left in this window."},
    "X-RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Seconds until the window ends."},
}

IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "A key of your choice (e.g. a UUID) that makes a retried POST return the first call's answer "
    "without doing the work again. Kept 24 hours, per token.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
}


def lib_doc_excludes() -> list[type]:
    """Classes whose docstrings never describe an operation (settings "GET_LIB_DOC_EXCLUDES"): DRF's and
    ApiMixin's, so a view without a docstring of its own gets none rather than the mixin's."""
    from drf_spectacular.plumbing import get_lib_doc_excludes

    from api.views.base import ApiMixin

    return [ApiMixin, *get_lib_doc_excludes()]


def _statuses(path: str, method: str, operation: dict) -> list[str]:
    statuses = ["401", "403", "429"]
    if method in ("post", "put", "patch") or operation.get("parameters"):
        statuses.append("400")
    if "{" in path:
        statuses.append("404")
    if method == "post":
        statuses += ["409", "422"]
    return statuses


def postprocess(result, generator, request, public):
    """drf-spectacular's postprocessing hook (settings.SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in _statuses(path, method, operation):
                response = responses.setdefault(status, {"description": _REFUSALS[status]})
                response.setdefault("content", error_content)
                if status in ("429", "409"):
                    response.setdefault("headers", {}).update(_RETRY_AFTER)
            for status, response in responses.items():
                if status.startswith("2"):
                    response.setdefault("headers", {}).update(_RATE_HEADERS)
            if method == "post":
                parameters = operation.setdefault("parameters", [])
                if not any(p.get("name") == IDEMPOTENCY_HEADER for p in parameters if isinstance(p, dict)):
                    parameters.append(IDEMPOTENCY_PARAMETER)
    return result
