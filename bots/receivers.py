"""Subscribers to routing's hooks (routing/hooks.py, emitted after commit with plain values): an agent
took a conversation ("agent X has joined"), or an assigned conversation was closed (the satisfaction
survey)."""

from __future__ import annotations

import logging

from django.db.models.signals import post_delete, post_save

from bots.models import BotFlow
from bots.selectors import active_flow_cache_clear
from bots.tasks import agent_joined, survey_send
from routing import hooks as routing_hooks
from routing.hooks import WorkAssigned, WorkReleased

logger = logging.getLogger(__name__)


def _later(task, **kwargs) -> None:
    try:
        task.delay(**kwargs)
    except Exception:
        logger.exception("Could not queue %s %s", task.name, kwargs)


def on_work_assigned(event: WorkAssigned) -> None:
    _later(agent_joined, conversation_id=int(event.ref), agent_id=int(event.agent_id))


def on_work_released(event: WorkReleased) -> None:
    if event.reason != "completed":
        return
    _later(survey_send, conversation_id=int(event.ref), agent_id=event.agent_id, queue_id=event.queue_id)


def connect() -> None:
    routing_hooks.work_assigned.subscribe(on_work_assigned)
    routing_hooks.work_released.subscribe(on_work_released)
    # The bots' own model signals (not between apps): a saved or deleted flow clears the flow cache.
    post_save.connect(active_flow_cache_clear, sender=BotFlow, dispatch_uid="bots.flow_cache_save")
    post_delete.connect(active_flow_cache_clear, sender=BotFlow, dispatch_uid="bots.flow_cache_delete")
