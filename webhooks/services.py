"""Writes of the webhooks app, for the admin and the REST API: subscriptions and replays. Each refusal is
a DomainError ("invalid", "forbidden", "not_found") and changes nothing. docs/webhooks.md."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.db import transaction
from django.db.models import QuerySet

from core.errors import DomainError
from core.outbound import OutboundRefused, check_target
from supervisor.models import Team
from webhooks import outbox, selectors
from webhooks.models import CONTACT_EVENTS, EventType, WebhookDelivery, WebhookSubscription

FIELDS = ("name", "target_url", "event_types", "team_id", "active")
REPLAY_PERMISSION = "webhooks.change_webhookdelivery"


def target_url_check(url: Any) -> str:
    """An http(s) URL whose host is not a private address (the outbound guard's rule, core/outbound.py;
    checked again at every delivery, so a name that later resolves elsewhere is refused then)."""
    if not isinstance(url, str) or not url.strip() or len(url) > 500:
        raise DomainError("invalid", "target_url must be an http or https URL of at most 500 characters.")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("invalid", "target_url must be an http or https URL with a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DomainError("invalid", "target_url has an invalid port.") from exc
    try:
        check_target(parts.hostname, port)
    except OutboundRefused as exc:
        raise DomainError("invalid", str(exc)) from exc
    except httpx.ConnectError:
        pass  # a name that does not resolve yet: deliveries retry and log why
    return url


def event_types_check(values: Any, *, team_id: int | None) -> list[str]:
    if not isinstance(values, list | tuple) or not values:
        raise DomainError("invalid", "event_types must be a non-empty list of event types.")
    known = set(EventType.values)
    unknown = sorted({str(v) for v in values} - known)
    if unknown:
        raise DomainError(
            "invalid", f"Unknown event types: {', '.join(unknown)}. Known: {', '.join(EventType.values)}."
        )
    chosen = [t for t in EventType.values if t in set(values)]
    if team_id is not None and CONTACT_EVENTS & set(chosen):
        raise DomainError("invalid", "Contact events belong to no team: a team-scoped subscription cannot take them.")
    return chosen


def _clean(data: dict[str, Any], *, current: WebhookSubscription | None = None) -> dict[str, Any]:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise DomainError("invalid", f"Unknown fields: {', '.join(sorted(unknown))}.")
    cleaned: dict[str, Any] = {}
    if "name" in data or current is None:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
            raise DomainError("invalid", "name must be a text of 1 to 100 characters.")
        cleaned["name"] = name.strip()
    if "target_url" in data or current is None:
        cleaned["target_url"] = target_url_check(data.get("target_url"))
    team_id = data.get("team_id", current.team_id if current else None)
    if team_id is not None and (
        isinstance(team_id, bool) or not isinstance(team_id, int) or not Team.objects.filter(pk=team_id).exists()
    ):
        raise DomainError("invalid", "team_id names no team.")
    cleaned["team_id"] = team_id
    if "event_types" in data or current is None or "team_id" in data:
        types = data.get("event_types", current.event_types if current else None)
        cleaned["event_types"] = event_types_check(types, team_id=team_id)
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise DomainError("invalid", "active must be true or false.")
        cleaned["active"] = data["active"]
    return cleaned


def _changed() -> None:
    transaction.on_commit(selectors.subscriptions_cache_clear)
    selectors.subscriptions_cache_clear()


def subscription_create(*, data: dict[str, Any], created_by=None) -> WebhookSubscription:
    """A new subscription with a generated secret (shown once to the API's caller, always in admin)."""
    cleaned = _clean(data)
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            **cleaned, created_by=created_by if getattr(created_by, "pk", None) else None
        )
        _changed()
    return subscription


def subscription_update(*, subscription_id: int, data: dict[str, Any]) -> WebhookSubscription:
    with transaction.atomic():
        subscription = WebhookSubscription.objects.select_for_update().filter(pk=subscription_id).first()
        if subscription is None:
            raise DomainError("not_found", "No such webhook subscription.")
        for name, value in _clean(data, current=subscription).items():
            setattr(subscription, name, value)
        subscription.save()
        _changed()
    return subscription


def subscription_delete(*, subscription_id: int) -> None:
    """Delete a subscription and its deliveries (pending ones are never sent)."""
    with transaction.atomic():
        deleted, _ = WebhookSubscription.objects.filter(pk=subscription_id).delete()
        if not deleted:
            raise DomainError("not_found", "No such webhook subscription.")
        _changed()


def deliveries_list(
    *,
    subscription_id: int | None = None,
    status: str | None = None,
    event_type: str | None = None,
    limit: int | None = 100,
) -> QuerySet[WebhookDelivery]:
    """Newest first; filtered by subscription, status and event type when given; the first `limit` (None:
    all, for a caller that pages them itself, as the API's cursor does)."""
    rows = WebhookDelivery.objects.select_related("subscription").order_by("-id")
    if subscription_id is not None:
        rows = rows.filter(subscription_id=subscription_id)
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event_type=event_type)
    return rows if limit is None else rows[: max(1, min(int(limit), 1000))]


def delivery_replay(
    *,
    delivery_ids: Sequence[int] | Iterable[int],
    by_user=None,
    on_commit_drain: Callable[[list[list]], Any] | None = None,
) -> int:
    """Send these deliveries again (docs/webhooks.md, "Replay"); `by_user`, when given, needs the
    permission to change deliveries. Returns how many were queued (one being sent right now is skipped).
    An interface passes `on_commit_drain` (webhooks.tasks.drain_later) to send at once; without it the
    sweep sends them within WEBHOOK_SWEEP_S."""
    if by_user is not None and not by_user.has_perm(REPLAY_PERMISSION):
        raise DomainError("forbidden", "Replaying webhook deliveries needs the permission to change them.")
    ids = [int(i) for i in delivery_ids]
    return outbox.deliveries_requeue(ids, on_commit_drain=on_commit_drain or (lambda pairs: None))
