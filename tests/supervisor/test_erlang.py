"""Erlang C against a published worked example.

Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example" (callcentrehelper.com):
100 calls in 30 minutes, average handle time 180 s, target 80% answered within 20 s. The traffic is
100 * 180 / 1800 = 10 erlangs; with 11 agents the probability a call waits is 68.21% and the service
level 39.0%, and the agents are raised until the target is met: 14 agents (service level 88.8%, before
shrinkage and maximum occupancy, which the article applies afterwards).
"""

from __future__ import annotations

import math

import pytest

from supervisor import erlang


def test_traffic_of_the_worked_example_is_ten_erlangs():
    assert erlang.traffic_erlangs(arrivals=100, period_s=1800, aht_s=180) == pytest.approx(10.0)


def test_probability_of_waiting_with_eleven_agents():
    assert erlang.erlang_c(traffic=10, agents=11) == pytest.approx(0.6821, abs=5e-5)


@pytest.mark.parametrize(
    ("agents", "level"),
    [(11, 0.3896), (12, 0.6402), (13, 0.7956), (14, 0.8884)],
)
def test_service_level_rises_with_agents(agents, level):
    assert erlang.service_level(traffic=10, agents=agents, aht_s=180, target_s=20) == pytest.approx(level, abs=5e-5)


def test_agents_needed_for_eighty_in_twenty_is_fourteen():
    assert erlang.agents_needed(arrivals=100, period_s=1800, aht_s=180, target_s=20, target_level=0.8) == 14


def test_erlang_c_agrees_with_the_factorial_formula():
    # The textbook form, for a case small enough to compute directly.
    traffic, agents = 7.5, 10
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(agents)) + top
    assert erlang.erlang_c(traffic=traffic, agents=agents) == pytest.approx(top / bottom)


def test_average_speed_of_answer_of_the_worked_example():
    # ASA = P(wait) * AHT / (N - A) = 0.6821 * 180 / 1 = 122.8 s with 11 agents.
    assert erlang.average_speed_of_answer(traffic=10, agents=11, aht_s=180) == pytest.approx(122.78, abs=0.01)


def test_no_traffic_needs_no_agents_and_overload_never_answers():
    assert erlang.agents_needed(arrivals=0, period_s=1800, aht_s=180, target_s=20, target_level=0.8) == 0
    assert erlang.erlang_c(traffic=10, agents=10) == 1.0
    assert erlang.service_level(traffic=10, agents=9, aht_s=180, target_s=20) == 0.0


def test_large_centres_do_not_overflow():
    # 500 erlangs: the factorial form would overflow a float; the Erlang B recurrence does not.
    needed = erlang.agents_needed(arrivals=5000, period_s=1800, aht_s=180, target_s=20, target_level=0.8)
    assert 500 < needed < 540


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1])
def test_target_level_out_of_range_is_refused(level):
    with pytest.raises(ValueError):
        erlang.agents_needed(arrivals=10, period_s=1800, aht_s=180, target_s=20, target_level=level)
