"""Presence follows the console: routing offers work only to an agent with a live console socket.

A server process tells routing when an agent's console opens (and every heartbeat) or closes; an agent
whose last console went away is counted disconnected after a grace (`agent_consoles_sweep`, from
`routing_tick`), stops getting offers and their open offers go to other agents. The status the agent
chose stays, and comes back when a console connects. The live consoles are kept by the backend, across
processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from routing.backends import get_backend
from routing.models import AgentProfile, AgentStatus
from routing.sync import agent_sync
from routing.terms import to_ms


def console_grace_s() -> float:
    """How long an agent may be without a console before routing counts them disconnected."""
    return float(getattr(settings, "ROUTING_CONSOLE_GRACE_S", 30.0))


def console_heartbeat_s() -> float:
    """How often a server process refreshes each console it holds; a console not refreshed for three
    heartbeats (its process died without closing it) lapses."""
    return float(getattr(settings, "ROUTING_CONSOLE_HEARTBEAT_S", 10.0))


def _agent_connected_set(agent_id: int, *, connected: bool, now: datetime) -> None:
    """Turn an agent's `connected` on or off under its row lock, telling the backend in the same lock so
    that two processes (a console connecting, a sweep disconnecting) leave MySQL and the backend agreed."""
    with transaction.atomic():
        profile = AgentProfile.objects.select_for_update().filter(user_id=agent_id).first()
        if profile is None or profile.connected == connected:
            return
        if not connected and get_backend().console_count(agent_id=agent_id, now_ms=to_ms(now)):
            return  # a console came back meanwhile
        profile.connected = connected
        profile.connected_changed_at = now
        profile.save(update_fields=["connected", "connected_changed_at"])
        agent_sync(profile=profile, now=now)


def agent_console_open(*, agent_id: int, console: str) -> None:
    """A console socket of the agent is live (on connect, and again every heartbeat): it counts for
    `3 * heartbeat` seconds. An agent counted disconnected is connected again with the status they chose
    (available: offered waiting work at once)."""
    now = timezone.now()
    ttl_ms = int(3 * console_heartbeat_s() * 1000)
    get_backend().console_beat(agent_id=agent_id, console=str(console), now_ms=to_ms(now), ttl_ms=ttl_ms)
    if AgentProfile.objects.filter(user_id=agent_id, connected=False).exists():
        _agent_connected_set(agent_id, connected=True, now=now)


def agent_console_close(*, agent_id: int, console: str) -> int:
    """A console socket closed. Returns the agent's consoles still live; at 0 the grace starts, after
    which `agent_consoles_sweep` counts the agent disconnected."""
    return get_backend().console_close(agent_id=agent_id, console=str(console), now_ms=to_ms(timezone.now()))


def agent_consoles_expect(*, agent_ids: Iterable[int] | None = None) -> list[int]:
    """Start the grace of agents counted connected who chose to work but have no live console, so the
    sweep counts them disconnected unless a console connects in time: an agent a supervisor set
    available from the dashboard, or every agent when the console presence was lost (the embedded
    default's process restarted). `agent_ids`: those agents (default: every one). Returns whose grace
    started."""
    profiles = AgentProfile.objects.filter(connected=True).exclude(status=AgentStatus.OFFLINE)
    if agent_ids is not None:
        profiles = profiles.filter(user_id__in=list(agent_ids))
    now_ms = to_ms(timezone.now())
    backend = get_backend()
    return [
        agent_id
        for agent_id in profiles.values_list("user_id", flat=True)
        if backend.console_expect(agent_id=agent_id, now_ms=now_ms)
    ]


def agent_consoles_sweep(*, now: datetime | None = None) -> list[int]:
    """Count disconnected every agent whose last console went away (closed, or stopped beating) at
    least the grace ago: routing stops offering them work, withdraws their open offers and re-offers
    them to other agents at once (the supervisors see `disconnected`). Returns those agents' ids. Runs
    from routing_tick every second, and in the server process when an agent's last console closes."""
    now = now or timezone.now()
    lapsed = get_backend().consoles_lapsed(now_ms=to_ms(now), grace_ms=int(console_grace_s() * 1000))
    for agent_id in lapsed:
        _agent_connected_set(agent_id, connected=False, now=now)
    return lapsed
