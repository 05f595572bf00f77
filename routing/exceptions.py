"""The one error the queuing machine raises for refused requests."""

from __future__ import annotations


class RoutingError(Exception):
    """A request routing refuses; nothing was changed. `code` is stable, `detail` is for people.

    Codes: offer_gone, not_yours, over_capacity, not_waiting, unknown_queue, unknown_agent, unknown_work,
    bad_request.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail or code.replace("_", " ")
        super().__init__(f"{code}: {self.detail}")
