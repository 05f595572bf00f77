"""Business hours across daylight-saving switches, holidays and special days (bots/hours.py)."""

from datetime import UTC, date, datetime, time

import pytest

from bots.hours import ScheduleError, hours_status, local_to_utc, zone_get
from bots.opening import business_hours_status, next_open_describe
from tests.factories.bots import BusinessHoursFactory, SpecialDayFactory, WeeklyHoursFactory

PARIS_OFFICE = {
    "timezone": "Europe/Paris",
    "weekly": {day: [("09:00", "17:00")] for day in range(5)},
    "special": {},
}


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Winter time (UTC+1): 09:30 local is 08:30 UTC.
        (utc(2026, 3, 27, 8, 30), (True, None)),
        (utc(2026, 3, 27, 7, 30), (False, utc(2026, 3, 27, 8, 0))),
        # Friday after closing, before the spring-forward weekend: Monday 09:00 is now summer time (UTC+2).
        (utc(2026, 3, 27, 16, 30), (False, utc(2026, 3, 30, 7, 0))),
        (utc(2026, 3, 30, 6, 30), (False, utc(2026, 3, 30, 7, 0))),
        (utc(2026, 3, 30, 7, 30), (True, None)),
        (utc(2026, 3, 30, 15, 30), (False, utc(2026, 3, 31, 7, 0))),  # 17:30 summer time
        # Fall back (25 October 2026): Friday in summer time, Monday in winter time.
        (utc(2026, 10, 23, 15, 30), (False, utc(2026, 10, 26, 8, 0))),
        (utc(2026, 10, 26, 7, 30), (False, utc(2026, 10, 26, 8, 0))),
        (utc(2026, 10, 26, 15, 30), (True, None)),  # 16:30 winter time
    ],
)
def test_paris_office_keeps_local_hours_across_dst(at, expected):
    assert hours_status(PARIS_OFFICE, at) == expected


def test_an_opening_time_that_does_not_exist_moves_forward_by_the_gap():
    # 29 March 2026: 02:00 -> 03:00 in Paris. 02:30 does not exist; it is read as 03:30 summer time.
    schedule = {"timezone": "Europe/Paris", "weekly": {6: [("02:30", "05:00")]}}
    assert local_to_utc(date(2026, 3, 29), time(2, 30), zone_get("Europe/Paris"), later=False) == utc(
        2026, 3, 29, 1, 30
    )
    assert hours_status(schedule, utc(2026, 3, 29, 1, 0)) == (False, utc(2026, 3, 29, 1, 30))
    assert hours_status(schedule, utc(2026, 3, 29, 1, 45)) == (True, None)
    assert hours_status(schedule, utc(2026, 3, 29, 3, 0)) == (False, utc(2026, 4, 5, 0, 30))


def test_a_repeated_time_opens_at_the_first_and_closes_at_the_second():
    # 25 October 2026: 03:00 summer -> 02:00 winter in Paris, so 02:00-03:00 happens twice.
    opens_in_the_fold = {"timezone": "Europe/Paris", "weekly": {6: [("02:30", "06:00")]}}
    # First 02:30 is summer time (00:30 UTC): already open then.
    assert hours_status(opens_in_the_fold, utc(2026, 10, 25, 0, 45)) == (True, None)
    assert hours_status(opens_in_the_fold, utc(2026, 10, 25, 0, 15)) == (False, utc(2026, 10, 25, 0, 30))

    closes_in_the_fold = {"timezone": "Europe/Paris", "weekly": {6: [("00:00", "02:30")]}}
    # Second 02:30 is winter time (01:30 UTC): still open at the second 02:15.
    assert hours_status(closes_in_the_fold, utc(2026, 10, 25, 1, 15)) == (True, None)
    assert hours_status(closes_in_the_fold, utc(2026, 10, 25, 1, 45))[0] is False


def test_holiday_and_special_hours_replace_the_weekly_hours():
    schedule = {
        **PARIS_OFFICE,
        "special": {"2026-12-24": [("09:00", "12:00")], "2026-12-25": []},
    }
    assert hours_status(schedule, utc(2026, 12, 24, 10, 0)) == (True, None)  # 11:00 local
    # 12:30 local on the 24th: closed, the 25th is a holiday, the weekend follows: Monday 09:00 (UTC+1).
    assert hours_status(schedule, utc(2026, 12, 24, 11, 30)) == (False, utc(2026, 12, 28, 8, 0))
    assert hours_status(schedule, utc(2026, 12, 25, 10, 0)) == (False, utc(2026, 12, 28, 8, 0))


def test_a_night_shift_runs_past_midnight():
    schedule = {"timezone": "America/New_York", "weekly": {0: [("22:00", "06:00")]}}
    # Tuesday 03:00 in New York (EST, UTC-5) belongs to Monday's shift.
    assert hours_status(schedule, utc(2026, 1, 6, 8, 0)) == (True, None)
    assert hours_status(schedule, utc(2026, 1, 6, 12, 0)) == (False, utc(2026, 1, 13, 3, 0))


def test_no_hours_at_all_is_closed_with_no_next_opening():
    assert hours_status({"timezone": "UTC", "weekly": {}}, utc(2026, 1, 1, 12, 0)) == (False, None)


def test_bad_schedules_are_refused():
    with pytest.raises(ScheduleError):
        hours_status({"timezone": "Mars/Olympus"}, utc(2026, 1, 1))
    with pytest.raises(ScheduleError):
        hours_status(PARIS_OFFICE, datetime(2026, 1, 1, 12, 0))


@pytest.mark.django_db
def test_business_hours_status_reads_the_admin_rows():
    schedule = BusinessHoursFactory(timezone="Europe/Paris")
    for weekday in range(5):
        WeeklyHoursFactory(schedule=schedule, weekday=weekday, opens=time(9), closes=time(17))
    SpecialDayFactory(schedule=schedule, date=date(2026, 3, 30), name="Closed for works")
    # Spring-forward weekend, and the Monday after is a special closed day: Tuesday 09:00 summer time.
    assert business_hours_status(schedule=schedule, at=utc(2026, 3, 27, 16, 30)) == (False, utc(2026, 3, 31, 7, 0))
    assert business_hours_status(schedule=schedule, at=utc(2026, 3, 31, 7, 30)) == (True, None)


def test_next_opening_is_told_in_the_contacts_timezone_and_language():
    monday_nine_paris = utc(2026, 3, 30, 7, 0)
    assert next_open_describe(next_open_at=monday_nine_paris, timezone_name="Europe/Paris", language="fr") == (
        "lundi 30 mars, 09:00 (Europe/Paris)"
    )
    assert next_open_describe(next_open_at=monday_nine_paris, timezone_name="America/New_York", language="en") == (
        "Monday 30 March, 03:00 (America/New_York)"
    )
    assert next_open_describe(next_open_at=monday_nine_paris, timezone_name="Nowhere/Else", language="") == (
        "Monday 30 March, 07:00 (UTC)"
    )
