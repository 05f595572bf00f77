"""Staffing for a young install: with no weekly history yet, the forecast falls back to the recent days'
volume and handle time, and says which basis each figure uses (page and API).

"Now" is Wednesday 2030-03-13 12:00 UTC, as in test_stats.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from imsubsystem.models import ConversationStatus as S
from supervisor import stats
from tests.supervisor.test_stats import NOW, at, conversation


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


def handled_today(teams, count: int) -> None:
    """`count` conversations of Sales handled today, half from 09:00 and half from 10:00, 600 s each."""
    inbox, agent = teams["sales_inbox"], teams["ag_a"]
    for n in range(count):
        queued = at(9 if n % 2 == 0 else 10, n)
        conversation(
            inbox,
            status=S.CLOSED,
            queued=queued,
            assigned=queued + timedelta(seconds=20),
            closed=queued + timedelta(seconds=620),
            agent=agent,
            created=queued,
        )


def sales_plan(teams, **kwargs):
    plans = stats.staffing_plan(queue_ids=[teams["sales"].pk], now=NOW, **kwargs)
    return {p["queue_id"]: p for p in plans}[teams["sales"].pk]


def test_a_fresh_install_forecasts_from_today(teams):
    handled_today(teams, 26)
    plan = sales_plan(teams)
    assert plan["arrivals_basis"]["kind"] == "recent_days" and plan["arrivals_basis"]["days"] == 1
    assert plan["aht_basis"]["kind"] == "recent_days"
    assert plan["aht_s"] == 600.0
    nine, ten, eleven = plan["slots"][18], plan["slots"][20], plan["slots"][22]
    assert (nine["arrivals"], ten["arrivals"], eleven["arrivals"]) == (13.0, 13.0, 0.0)
    # 13 arrivals x 600 s over 1800 s: 4.333 erlangs, so more than four conversations in hand at once.
    assert nine["traffic"] == 4.333
    assert nine["agents_needed"] >= 5 and eleven["agents_needed"] == 0
    # The afternoon has not come yet today: nothing is known of it, nothing is made up.
    assert plan["slots"][30]["arrivals"] == 0.0


def test_recent_days_average_over_the_days_since_the_first_arrival(teams):
    """Installed yesterday: each half-hour that has begun today averages yesterday and today; one still
    to come today is yesterday's alone."""
    inbox = teams["sales_inbox"]
    for day, hour in ((12, 9), (12, 9), (12, 15), (13, 9), (13, 9), (13, 9), (13, 9)):
        queued = at(hour, 5, day=day)
        conversation(inbox, status=S.CLOSED, queued=queued, assigned=queued, closed=queued + timedelta(seconds=300))
    plan = sales_plan(teams)
    assert plan["arrivals_basis"]["kind"] == "recent_days" and plan["arrivals_basis"]["days"] == 2
    assert plan["slots"][18]["arrivals"] == 3.0  # (2 + 4) / 2
    assert plan["slots"][30]["arrivals"] == 1.0  # 15:00 is yesterday's only: today it has not begun
    assert plan["aht_s"] == 300.0


def test_weekly_history_counts_only_the_weeks_the_queue_has_existed(teams):
    """Installed eight days ago: last Wednesday is the only Wednesday of its history, so asking for four
    weeks divides by one, not four."""
    inbox = teams["sales_inbox"]
    for n in range(4):
        queued = datetime(2030, 3, 6, 9, 5 + n, tzinfo=UTC)
        conversation(inbox, status=S.CLOSED, queued=queued, assigned=queued, closed=queued + timedelta(seconds=900))
    conversation(inbox, status=S.CLOSED, queued=at(9, 0, day=5), assigned=at(9, 0, day=5), closed=at(9, 15, day=5))
    plan = sales_plan(teams, weeks=4)
    assert plan["arrivals_basis"]["kind"] == "weeks" and plan["arrivals_basis"]["weeks"] == 1
    assert plan["slots"][18]["arrivals"] == 4.0
    assert plan["aht_basis"]["kind"] == "weeks" and plan["aht_s"] == 900.0


def test_nothing_yet_says_so(teams):
    plan = sales_plan(teams)
    assert plan["arrivals_basis"]["kind"] == "none" and plan["aht_basis"]["kind"] == "none"
    assert plan["aht_s"] is None and all(slot["agents_needed"] == 0 for slot in plan["slots"])


def test_page_and_api_show_the_basis_of_each_figure(teams, frozen):
    handled_today(teams, 26)
    client = Client()
    client.force_login(teams["sup_a"])
    body = client.get("/supervisor/api/staffing").json()
    (sales,) = body["queues"]
    assert body["weekday"] == 3 and body["weeks"] == 4
    assert sales["arrivals_basis"]["kind"] == "recent_days" and sales["slots"][18]["agents_needed"] >= 5
    assert "today so far" in sales["arrivals_basis"]["label"]
    page = client.get("/supervisor/staffing/").content.decode()
    assert 'data-basis="arrivals" data-kind="recent_days"' in page
    assert "Arrivals from recent days, any weekday (today so far)" in page
    assert "Handle time from conversations handled in recent days (today so far)" in page
    assert "Average handle time 600.0 s" in page
    bad = client.get("/supervisor/api/staffing", {"weeks": "40"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
