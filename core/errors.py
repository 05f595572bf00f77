"""The one error every app raises for a refused request, and the one table of its codes.

A `DomainError` means: the request was refused and nothing was changed. Its `code` is stable (clients
switch on it), its `detail` a sentence for people (the code's sentence when the raiser gives none). Every
HTTP API answers one with the same shape, `{"error": {"code", "detail", ...extra}}` and the code's status
(`core.http.api_endpoint`); every socket answers with an `error` frame carrying the same code and
detail. The apps' own errors (the switch's SwitchError, routing's RoutingError, the supervisor's
SupervisorError, media's refusals) are DomainErrors, so a caller catches one class.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy as _

# Every code any surface sends (docs/protocol.md lists when each is sent), with its sentence for people,
# translated (docs/i18n.md): lazy here, made a str in the request's language where a DomainError or an
# error frame takes it.
ERROR_CODES: dict[str, Any] = {
    "bad_json": _("The frame is not a JSON object."),
    "unknown_type": _("No such frame type on this socket."),
    "invalid": _("A field is missing, has the wrong type, or is not valid text."),
    "too_long": _("The text is longer than the limit."),
    "too_large": _("The request or the file is larger than the limit."),
    "empty": _("A message needs text or an attachment."),
    "rate_limited": _("Too many frames: slow down."),
    "auth_required": _("Authenticate first."),
    "auth_failed": _("The token is unknown, revoked or expired (`reason` says which)."),
    "origin_not_allowed": _("This inbox does not accept this origin."),
    "forbidden": _("Not allowed for this user."),
    "not_found": _("No such conversation (or not yours)."),
    "conversation_closed": _("The conversation is closed."),
    "illegal_transition": _("The conversation cannot move to that status now."),
    "unknown_attachment": _("An attachment id is unknown or not yours."),
    # Routing's codes pass through unchanged.
    "offer_gone": _("The offer expired or was taken."),
    "not_yours": _("That offer or conversation belongs to someone else."),
    "over_capacity": _("You are at your capacity."),
    "not_waiting": _("The conversation is not waiting in a queue."),
    "unknown_queue": _("No such queue."),
    "unknown_agent": _("No such agent."),
    "unknown_work": _("Routing has no work item for this conversation."),
    "bad_request": _("The queuing machine refused the request."),
    "internal": _("The server failed; nothing was changed. Retry with the same client_id."),
    "not_retryable": _("Nothing to retry: the message was sent, or it does not go to a platform."),
    "method_not_allowed": _("The endpoint does not take this method."),
    "not_acceptable": _("The server cannot answer in the format asked for (JSON only)."),
    "unsupported_media_type": _("Send the body as JSON (Content-Type: application/json)."),
    # Starting a conversation with a contact (outbound).
    "no_identity": _("The contact has no address on this inbox's channel."),
    "template_required": _("Outside the platform's reply window: start with an approved template."),
    "conversation_open": _("The contact already has an open conversation in this inbox."),
    # Identified widget visitors (docs/interface.md, "Identified visitors").
    "identity_invalid": _(
        "The customer's identity could not be verified: the hash is not the HMAC of the id with this inbox's "
        "identity secret."
    ),
    "identity_required": _("This inbox accepts a customer id only with its verified hash."),
}

# The HTTP status each code answers with on every HTTP API; any other code is 400.
HTTP_STATUS_FOR_CODE: dict[str, int] = {
    "auth_required": 401,
    "auth_failed": 401,
    "forbidden": 403,
    "origin_not_allowed": 403,
    "not_found": 404,
    "conversation_closed": 409,
    "illegal_transition": 409,
    "not_retryable": 409,
    "method_not_allowed": 405,
    "not_acceptable": 406,
    "conversation_open": 409,
    "identity_invalid": 403,
    "identity_required": 403,
    "too_large": 413,
    "unsupported_media_type": 415,
    "rate_limited": 429,
}


def http_status(code: str) -> int:
    """The HTTP status for an error code."""
    return HTTP_STATUS_FOR_CODE.get(code, 400)


class DomainError(Exception):
    """A refused request; nothing was changed.

    `code` is an ERROR_CODES key (or an app's own documented code, e.g. media's `executable`); `detail`
    defaults to the code's sentence, never the bare code; `retry_after_s` (for `rate_limited`) becomes
    HTTP's Retry-After and the error frame's `retry_after_s`; `extra` holds further documented fields
    (`reason` for `auth_failed`, `errors` for a form's field errors). `status` overrides the code's HTTP
    status where a surface documents another.
    """

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        retry_after_s: int | None = None,
        status: int | None = None,
        **extra: Any,
    ) -> None:
        self.code = code
        # Always a str (JSON encoders and the frame check take no lazy text): the sentence in the language
        # active where the refusal is raised.
        self.detail = str(detail or ERROR_CODES.get(code, code.replace("_", " ")))
        self.retry_after_s = retry_after_s
        self.status = status or http_status(code)
        self.extra = extra
        super().__init__(f"{code}: {self.detail}")

    def as_dict(self) -> dict[str, Any]:
        """The one JSON shape of an HTTP API's refusal."""
        return {"error": {"code": self.code, "detail": self.detail, **self.extra}}


# MySQL's and MariaDB's errors for a connection that is gone or cannot be made: can't connect (2002,
# 2003), server gone (2006), lost during a query (2013, 2055), shutting down (1053), too many
# connections (1040), connection killed (1927, MariaDB) and closed for inactivity (4031, MySQL 8).
CONNECTION_LOST_CODES = frozenset({1040, 1053, 1927, 2002, 2003, 2006, 2013, 2055, 4031})


def database_unreachable(exc: BaseException) -> bool:
    """The database could not be reached (restarting, failing over, the connection dropped), as
    opposed to a query it refused: the same request succeeds once it is back. Django's InterfaceError
    is a connection already closed."""
    if isinstance(exc, InterfaceError):
        return True
    if isinstance(exc, OperationalError):
        code = exc.args[0] if exc.args else None
        return code in CONNECTION_LOST_CODES
    return False
