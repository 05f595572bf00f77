"""The supervisor app's answers to the switch's hooks (imsubsystem/hooks.py), subscribed in
SupervisorConfig.ready: the switch's one visibility rule asks which queues and agents a supervisor's
teams cover."""

from __future__ import annotations

from imsubsystem.hooks import ScopeWanted
from supervisor.selectors import supervision_scope


def on_scope_wanted(event: ScopeWanted) -> tuple[frozenset[int], frozenset[int]]:
    return supervision_scope(event.user_id)
