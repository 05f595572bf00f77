"""The one error the queuing machine raises for refused requests."""

from __future__ import annotations

from core.errors import DomainError


class RoutingError(DomainError):
    """A request routing refuses; nothing was changed. `code` is stable, `detail` is for people.

    Codes: offer_gone, not_yours, over_capacity, not_waiting, unknown_queue, unknown_agent, unknown_work,
    bad_request, not_built (internal: the backend lost its state and is rebuilt).
    """
