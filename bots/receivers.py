"""Receivers of routing's signals (sent after commit with plain values): an agent took a conversation
("agent X has joined"), or an assigned conversation was closed (the satisfaction survey)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def _later(task, **kwargs) -> None:
    try:
        task.delay(**kwargs)
    except Exception:
        logger.exception("Could not queue %s %s", task.name, kwargs)


def on_work_assigned(*, ref, agent_id, **kwargs) -> None:
    from bots.tasks import agent_joined

    _later(agent_joined, conversation_id=int(ref), agent_id=int(agent_id))


def on_work_released(*, ref, reason, agent_id=None, queue_id=None, **kwargs) -> None:
    if reason != "completed":
        return
    from bots.tasks import survey_send

    _later(survey_send, conversation_id=int(ref), agent_id=agent_id, queue_id=queue_id)


def connect() -> None:
    from routing import signals

    signals.work_assigned.connect(on_work_assigned, dispatch_uid="bots.on_work_assigned")
    signals.work_released.connect(on_work_released, dispatch_uid="bots.on_work_released")

    from django.db.models.signals import post_delete, post_save

    from bots.models import BotFlow
    from bots.selectors import active_flow_cache_clear

    post_save.connect(active_flow_cache_clear, sender=BotFlow, dispatch_uid="bots.flow_cache_save")
    post_delete.connect(active_flow_cache_clear, sender=BotFlow, dispatch_uid="bots.flow_cache_delete")
