"""Every refusal of the integrator API in the project's one error shape: `{"error": {"code", "detail",
...}}` with the code's HTTP status (core/errors.py), whether DRF or a service raised it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from core.errors import DomainError

_CODES = {
    exceptions.NotAuthenticated: "auth_required",
    exceptions.AuthenticationFailed: "auth_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "bad_json",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid",
}


def _flatten(detail) -> str:
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    return str(detail)


def as_domain_error(exc: Exception) -> DomainError | None:
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, Http404):
        return DomainError("not_found", "No such object, or it is not yours.")
    if isinstance(exc, DjangoPermissionDenied):
        return DomainError("forbidden")
    if not isinstance(exc, exceptions.APIException):
        return None
    code = next((code for cls, code in _CODES.items() if isinstance(exc, cls)), "bad_request")
    extra = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = "Some fields are not valid."
        extra["errors"] = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    elif isinstance(exc, exceptions.NotFound):
        detail = "No such object, or it is not yours." if str(exc.detail) == "Not found." else _flatten(exc.detail)
    else:
        detail = _flatten(exc.detail)
    if reason := getattr(exc, "reason", None):
        extra["reason"] = reason
    retry_after = getattr(exc, "wait", None)
    return DomainError(
        code,
        detail,
        status=exc.status_code,
        retry_after_s=int(retry_after + 0.999) if retry_after is not None else None,
        **extra,
    )


def exception_handler(exc, context):
    error = as_domain_error(exc)
    if error is None:
        return None  # a 500: Django's handler logs it
    response = Response(error.as_dict(), status=error.status)
    if error.retry_after_s is not None:
        response["Retry-After"] = str(error.retry_after_s)
    if auth_header := getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = auth_header
    view = context.get("view")
    if error.status == 401 and view is not None and "WWW-Authenticate" not in response:
        header = view.get_authenticate_header(context["request"])
        if header:
            response["WWW-Authenticate"] = header
    return response
