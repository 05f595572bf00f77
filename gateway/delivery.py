"""Delivery status: what the gateway tells the switch about a send (sent, retrying, failed, pending
again), and the platforms' delivery reports (delivered, read) applied to the outbox row.

Both the inbound path (a status event) and the outbox (a send's outcome) report through here, so the
switch hears of a message's delivery from one place."""

from __future__ import annotations

import logging
from datetime import datetime

from gateway.base import DeliveryReport
from gateway.models import OutboxItem
from imsubsystem.services import message_delivery_update

logger = logging.getLogger(__name__)

DELIVERY_RANKS = {"": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}


class EventNotReady(Exception):
    """A delivery report for a send whose platform id is not recorded yet (the report can beat our
    own write by milliseconds): the task tries again shortly."""


def delivery_report_apply(*, inbox_id: int, report: DeliveryReport) -> bool:
    """Record a platform's delivery report and tell the agent. Reports only move forward
    (sent < delivered < read; failed), so a late "delivered" after "read" changes nothing.
    Returns whether anything changed."""
    item = OutboxItem.objects.filter(inbox_id=inbox_id, platform_message_id=report.platform_message_id).first()
    if item is None:
        raise EventNotReady(f"No send with platform id {report.platform_message_id!r} (yet).")
    if DELIVERY_RANKS.get(report.status, 0) <= DELIVERY_RANKS.get(item.delivery_status, 0):
        return False
    updated = OutboxItem.objects.filter(pk=item.pk, delivery_status=item.delivery_status).update(
        delivery_status=report.status,
        last_error=report.error[:2000] if report.status == "failed" else item.last_error,
    )
    if updated:
        delivery_status_tell(message_id=item.message_id, status=report.status, error=report.error)
    return bool(updated)


def delivery_status_tell(*, message_id: int, status: str, error: str = "", retry_at: datetime | None = None) -> None:
    """Tell the switch a message's delivery status (it shows the agent). Never raises: the gateway's
    own record of the send is already written, and a message deleted meanwhile must not undo it."""
    try:
        message_delivery_update(message_id=message_id, status=status, error=error[:2000], retry_at=retry_at)
    except Exception:
        logger.exception("gateway: could not report %s for message %s", status, message_id)
