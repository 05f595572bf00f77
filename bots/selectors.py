"""Reads for the bots: flows and schedules as the plain dicts the engine and bots/hours.py work on."""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Q

from bots.models import BotFlow, BotSession, BusinessHours, FaqEntry, FaqLog, SurveyResponse
from bots.texts import DEFAULT_HANDOVER_WORDS
from routing.models import Queue


def schedule_spec(*, schedule: BusinessHours) -> dict[str, Any]:
    """The plain schedule bots/hours.py reads (its module docstring gives the shape)."""
    weekly: dict[int, list[tuple[str, str]]] = {}
    for span in schedule.weekly.all():
        weekly.setdefault(span.weekday, []).append((span.opens.strftime("%H:%M"), span.closes.strftime("%H:%M")))
    special: dict[str, list[tuple[str, str]]] = {}
    for day in schedule.special_days.all():
        spans = special.setdefault(day.date.isoformat(), [])
        if day.opens is not None and day.closes is not None:
            spans.append((day.opens.strftime("%H:%M"), day.closes.strftime("%H:%M")))
    return {"id": schedule.pk, "timezone": schedule.timezone, "weekly": weekly, "special": special}


def schedule_get(*, schedule_id: int) -> BusinessHours | None:
    return BusinessHours.objects.prefetch_related("weekly", "special_days").filter(pk=schedule_id).first()


def schedule_for_queue(*, queue_id: int | None, flow_schedule_id: int | None = None) -> BusinessHours | None:
    """The queue's own hours (routing.Queue.business_hours_id), else the flow's, else None (always open)."""
    schedule_id = None
    if queue_id:
        schedule_id = Queue.objects.filter(pk=queue_id).values_list("business_hours_id", flat=True).first()
    schedule_id = schedule_id or flow_schedule_id
    return schedule_get(schedule_id=schedule_id) if schedule_id else None


def flow_for_inbox(*, inbox_id: int) -> BotFlow | None:
    return BotFlow.objects.filter(inbox_id=inbox_id, is_active=True).first()


# inbox id -> (has an active flow, when read). The switch asks on every customer message; flows change
# rarely, so each process keeps the answer a few seconds. A flow saved or deleted in this process clears
# it at once (bots/receivers.py); other processes see the change within FLOW_CACHE_S.
FLOW_CACHE_S = 5.0
_active_flow: dict[int, tuple[bool, float]] = {}


def inbox_has_active_flow(*, inbox_id: int) -> bool:
    now = time.monotonic()
    cached = _active_flow.get(inbox_id)
    if cached is not None and now - cached[1] < FLOW_CACHE_S:
        return cached[0]
    active = BotFlow.objects.filter(inbox_id=inbox_id, is_active=True).exists()
    _active_flow[inbox_id] = (active, now)
    return active


def active_flow_cache_clear(**kwargs) -> None:
    _active_flow.clear()


def _queue_ids_by_name() -> dict[str, int]:
    return {name.lower(): pk for pk, name in Queue.objects.values_list("pk", "name")}


def _option_spec(option: dict[str, Any], index: int, queues: dict[str, int]) -> dict[str, Any]:
    queue = option.get("queue_id", option.get("queue"))
    if isinstance(queue, str) and not queue.isdigit():
        queue_id = queues.get(queue.strip().lower())
    else:
        queue_id = int(queue) if queue not in (None, "") else None
    return {
        "label": option.get("label") or "",
        "value": str(option.get("value") or index),
        "next": option.get("next") or "",
        "queue_id": queue_id,
        "skills": [str(s) for s in option.get("skills") or []],
    }


def handover_words_parse(text: str) -> list[str]:
    return [w.strip() for chunk in (text or "").splitlines() for w in chunk.split(",") if w.strip()]


def faq_entries_for(*, inbox_id: int | None) -> list[dict[str, Any]]:
    """The active entries an inbox answers with (its own and every inbox's); inbox None: every entry."""
    entries = FaqEntry.objects.filter(is_active=True)
    if inbox_id is not None:
        entries = entries.filter(Q(inbox_id=inbox_id) | Q(inbox__isnull=True))
    return [{"id": e.pk, "phrasings": e.phrasing_list, "keywords": e.keyword_list, "answer": e.answer} for e in entries]


def flow_spec(*, flow: BotFlow) -> dict[str, Any]:
    """The plain flow bots/engine.py runs (its module docstring gives the shape)."""
    queues = _queue_ids_by_name()
    steps = []
    for step in flow.steps.all().order_by("position", "id"):
        steps.append(
            {
                "key": step.key,
                "kind": step.kind,
                "text": step.text,
                "next": step.next_step,
                "options": [_option_spec(o, i, queues) for i, o in enumerate(step.options or [], start=1)]
                if isinstance(step.options, list)
                else [],
                "field": step.capture_field,
                "invalid_text": step.invalid_text,
                "queue_id": step.queue_id,
                "skills": [str(s) for s in step.skills or []],
            }
        )
    texts = {name: getattr(flow, name) for name in BotFlow.TEXT_FIELDS if getattr(flow, name)}
    return {
        "id": flow.pk,
        "inbox_id": flow.inbox_id,
        "language": flow.language or "en",
        "max_attempts": flow.max_attempts,
        "handover_words": handover_words_parse(flow.handover_words) or list(DEFAULT_HANDOVER_WORDS),
        "texts": texts,
        "faq": {
            "threshold": flow.faq_threshold,
            "entries": faq_entries_for(inbox_id=flow.inbox_id) if flow.faq_enabled else [],
        },
        "steps": steps,
    }


def session_get(*, conversation_id: int) -> BotSession | None:
    return BotSession.objects.filter(conversation_id=conversation_id).first()


def faq_misses(*, inbox_id: int | None = None, limit: int = 100) -> list[FaqLog]:
    logs = FaqLog.objects.filter(matched=False)
    if inbox_id is not None:
        logs = logs.filter(inbox_id=inbox_id)
    return list(logs[:limit])


def surveys_for_conversation(*, conversation_id: int) -> list[SurveyResponse]:
    return list(SurveyResponse.objects.filter(conversation_id=conversation_id))
