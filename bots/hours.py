"""Business hours as pure functions over a plain schedule dict (the models turn into one in selectors).

A schedule is
    {"timezone": "Europe/Paris",
     "weekly": {0: [("09:00", "17:00")], 1: [...], ...},        # Monday is 0, as datetime.weekday()
     "special": {"2026-12-25": [], "2026-12-24": [("09:00", "12:00")]}}   # [] = closed all day

Hours are wall-clock times in the schedule's own timezone, so 09:00-17:00 Europe/Paris stays 09:00-17:00
local on both sides of a daylight-saving switch. A closing time at or before the opening time ends on the
next day (22:00-06:00 is a night shift; 00:00-00:00 is the whole day).

Times the clock skips or repeats at a switch follow RFC 5545 and docs/bots.md:
* a time that does not exist (02:30 on a spring-forward night) is read with the offset before the gap,
  so it lands as far after the gap's start as it was written after it (02:30 -> 03:30 summer time);
* a time that happens twice (02:30 on a fall-back night): an opening uses the first 02:30 and a closing
  the second, so the shop is open for the whole wall-clock span customers read on the door.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# How far ahead next_open_at is looked for: a year and a bit covers a long closure for works.
SEARCH_DAYS = 400

Interval = tuple[datetime, datetime]


class ScheduleError(ValueError):
    """A schedule that cannot be read: unknown timezone, bad time, bad weekday."""


def zone_get(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(f"Unknown timezone {name!r}.") from None


def time_parse(value: str | time) -> time:
    if isinstance(value, time):
        return value.replace(tzinfo=None)
    try:
        hours, minutes = str(value).split(":")[:2]
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        raise ScheduleError(f"Bad time {value!r}: use HH:MM.") from None


def _is_real(local: datetime) -> bool:
    """True when this wall-clock time exists in its zone (it survives a round trip through UTC)."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def local_to_utc(day: date, at: time, zone: ZoneInfo, *, later: bool) -> datetime:
    """The UTC instant of a wall-clock time on a day. `later` picks the second of a repeated time."""
    local = datetime.combine(day, at, tzinfo=zone)
    if not _is_real(local):
        # In a gap: fold=0 reads it with the offset from before the gap (RFC 5545), i.e. shifted forward.
        return local.replace(fold=0).astimezone(UTC)
    return local.replace(fold=1 if later else 0).astimezone(UTC)


def _intervals_of_day(day: date, spans: Iterable[tuple[str | time, str | time]], zone: ZoneInfo) -> list[Interval]:
    intervals = []
    for opens, closes in spans:
        opens_t, closes_t = time_parse(opens), time_parse(closes)
        end_day = day if closes_t > opens_t else day + timedelta(days=1)
        start = local_to_utc(day, opens_t, zone, later=False)
        end = local_to_utc(end_day, closes_t, zone, later=True)
        if end > start:
            intervals.append((start, end))
    return intervals


def _spans_for(schedule: Mapping, day: date) -> Iterable:
    special = schedule.get("special") or {}
    key = day.isoformat()
    if key in special:
        return special[key] or ()
    weekly = schedule.get("weekly") or {}
    return weekly.get(day.weekday()) or weekly.get(str(day.weekday())) or ()


def _merged(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def intervals_between(schedule: Mapping, start_day: date, days: int) -> list[Interval]:
    """Open intervals (UTC, merged, sorted) of the local days start_day .. start_day + days - 1."""
    zone = zone_get(schedule.get("timezone") or "UTC")
    found: list[Interval] = []
    for offset in range(days):
        day = start_day + timedelta(days=offset)
        found.extend(_intervals_of_day(day, _spans_for(schedule, day), zone))
    return _merged(found)


def hours_status(schedule: Mapping, at: datetime) -> tuple[bool, datetime | None]:
    """(is_open, next_open_at) at an aware instant. Open: next_open_at is None. Closed for longer than
    SEARCH_DAYS (or a schedule with no hours at all): (False, None)."""
    if at.tzinfo is None:
        raise ScheduleError("`at` must be an aware datetime.")
    zone = zone_get(schedule.get("timezone") or "UTC")
    today = at.astimezone(zone).date()
    # Yesterday too: a night shift that started yesterday may still be open.
    window_start = today - timedelta(days=1)
    checked = 0
    while checked < SEARCH_DAYS:
        chunk = 14
        for start, end in intervals_between(schedule, window_start + timedelta(days=checked), chunk + 1):
            if end <= at:
                continue
            if start <= at:
                return True, None
            return False, start.astimezone(UTC)
        checked += chunk
    return False, None


def schedule_validate(schedule: Mapping) -> None:
    """Raise ScheduleError if any part of the schedule cannot be read."""
    zone_get(schedule.get("timezone") or "UTC")
    for weekday, spans in (schedule.get("weekly") or {}).items():
        if int(weekday) not in range(7):
            raise ScheduleError(f"Weekday {weekday!r} is not 0 (Monday) .. 6 (Sunday).")
        for opens, closes in spans:
            time_parse(opens), time_parse(closes)
    for day, spans in (schedule.get("special") or {}).items():
        try:
            date.fromisoformat(str(day))
        except ValueError:
            raise ScheduleError(f"Bad date {day!r}: use YYYY-MM-DD.") from None
        for opens, closes in spans or ():
            time_parse(opens), time_parse(closes)
