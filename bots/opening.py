"""Whether the team is open for a conversation, and when it opens next, in the contact's words.

bots/hours.py computes over a plain schedule; this module picks the schedule (the queue's, else the
flow's: bots.selectors.schedule_for_queue) and describes the next opening in the contact's timezone and
language for the out-of-hours messages of a turn (bots/turn.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.utils import formats, timezone, translation

from bots import hours, selectors
from bots.models import BotFlow
from bots.texts import DEFAULT_TEXTS, text_pick


def business_hours_status(*, schedule, at: datetime) -> tuple[bool, datetime | None]:
    """(is_open, next_open_at) of a BusinessHours row or a plain schedule dict at an aware instant.

    DST-correct: hours are wall-clock times in the schedule's timezone (bots/hours.py). Open: next_open_at
    is None. No opening within SEARCH_DAYS: (False, None).
    """
    spec = schedule if isinstance(schedule, Mapping) else selectors.schedule_spec(schedule=schedule)
    return hours.hours_status(spec, at)


def next_open_describe(*, next_open_at: datetime | None, timezone_name: str, language: str | None) -> str:
    """ "Monday 30 November, 09:00 (Europe/Paris)" in the contact's timezone and language."""
    if next_open_at is None:
        return text_pick(DEFAULT_TEXTS["out_of_hours_unknown"], language)
    try:
        zone = hours.zone_get(timezone_name)
    except hours.ScheduleError:
        zone = hours.zone_get("UTC")
    local = next_open_at.astimezone(zone)
    base = (language or "en").split("-")[0].lower()
    if base == "zh":
        # "11月30日 星期一 09:00": Chinese puts the month first and needs no commas.
        with translation.override("zh-hans"):
            when = formats.date_format(local, "n月j日 l H:i")
        return f"{when}（{zone.key}）"
    with translation.override(base):
        when = formats.date_format(local, "l j F, H:i")
    return f"{when} ({zone.key})"


def hours_for(flow: BotFlow, queue_id: int | None, contact: Mapping, language: str) -> tuple[bool, str]:
    """(open now, the next opening described for this contact) for a queue, else the flow's schedule."""
    schedule = selectors.schedule_for_queue(queue_id=queue_id, flow_schedule_id=flow.business_hours_id)
    if schedule is None:
        return True, ""
    is_open, next_open_at = business_hours_status(schedule=schedule, at=timezone.now())
    if is_open:
        return True, ""
    shown_in = contact.get("timezone") or schedule.timezone
    return False, next_open_describe(next_open_at=next_open_at, timezone_name=shown_in, language=language)
