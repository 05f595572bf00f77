"""Celery tasks of the bots, routed to the "bots" queue (settings.CELERY_TASK_ROUTES). Each takes ids and
calls one service (bots/turn.py, bots/waiting.py, bots/survey.py; they never import this module). A turn
that raises or passes its soft time limit hands the customer to a person."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from bots import survey, turn, waiting

logger = logging.getLogger(__name__)

SOFT_LIMIT_S = getattr(settings, "BOTS_SOFT_TIME_LIMIT_S", 10)


@shared_task(name="bots.tasks.bot_reply", soft_time_limit=SOFT_LIMIT_S, time_limit=SOFT_LIMIT_S + 10)
def bot_reply(*, conversation_id: int) -> int:
    try:
        done = turn.bot_turn(conversation_id=conversation_id)
    except SoftTimeLimitExceeded:
        turn.bot_fallback_queue(conversation_id=conversation_id, reason="too slow")
        return 0
    except Exception:
        logger.exception("Bot turn of conversation %s failed", conversation_id)
        turn.bot_fallback_queue(conversation_id=conversation_id, reason="error")
        return 0
    if done.handed_over:
        transaction.on_commit(lambda: _queue_update_later(conversation_id))
    return done.answered


def _queue_update_later(conversation_id: int) -> None:
    try:
        queue_update.delay(conversation_id=conversation_id)
    except Exception:
        # The periodic sweep sends it instead.
        logger.exception("Could not schedule the first queue update of %s", conversation_id)


@shared_task(name="bots.tasks.queue_update", soft_time_limit=SOFT_LIMIT_S)
def queue_update(*, conversation_id: int) -> bool:
    return waiting.queue_update_send(conversation_id=conversation_id, force=True)


@shared_task(name="bots.tasks.agent_joined", soft_time_limit=SOFT_LIMIT_S)
def agent_joined(*, conversation_id: int, agent_id: int) -> bool:
    return waiting.agent_joined_announce(conversation_id=conversation_id, agent_id=agent_id)


@shared_task(name="bots.tasks.survey_send", soft_time_limit=SOFT_LIMIT_S)
def survey_send(*, conversation_id: int, agent_id: int | None = None, queue_id: int | None = None) -> bool:
    return survey.survey_send(conversation_id=conversation_id, agent_id=agent_id, queue_id=queue_id) is not None


@shared_task(name="bots.tasks.bot_watchdog")
def bot_watchdog() -> int:
    return waiting.bot_watchdog()


@shared_task(name="bots.tasks.bots_timers")
def bots_timers() -> dict:
    """Idle reminders and closes, then queue position updates (every BOTS_TIMERS_EVERY_S by beat)."""
    done = waiting.idle_sweep()
    done["queue_updates"] = waiting.queue_updates_sweep()
    return done
