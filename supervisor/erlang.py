"""Erlang C (M/M/N queue): the chance a contact waits, the service level, and the agents a load needs.

Inputs are the arrivals in a period, the period's length and the average handle time; the traffic in
erlangs is A = arrivals * handle time / period. With N servers (N > A):

    P(wait) = C(N, A), computed from Erlang B by the stable recurrence
        B(0) = 1,  B(n) = A·B(n-1) / (n + A·B(n-1)),  C = N·B(N) / (N - A·(1 - B(N)))
    service level (answered within t) = 1 - C · exp(-(N - A) · t / handle time)
    average speed of answer = C · handle time / (N - A)

The recurrence never forms A^N or N!, so it holds for hundreds of agents.
"""

from __future__ import annotations

import math

MAX_AGENTS = 10_000


def traffic_erlangs(*, arrivals: float, period_s: float, aht_s: float) -> float:
    if period_s <= 0:
        raise ValueError("period_s must be positive.")
    if arrivals < 0 or aht_s < 0:
        raise ValueError("arrivals and aht_s cannot be negative.")
    return arrivals * aht_s / period_s


def erlang_b(*, traffic: float, agents: int) -> float:
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def erlang_c(*, traffic: float, agents: int) -> float:
    """Probability that a contact waits; 1.0 when the agents cannot keep up (N <= A)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(traffic=traffic, agents=agents)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(*, traffic: float, agents: int, aht_s: float, target_s: float) -> float:
    """Share of contacts answered within target_s."""
    if traffic <= 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    waits = erlang_c(traffic=traffic, agents=agents)
    return 1 - waits * math.exp(-(agents - traffic) * target_s / aht_s)


def average_speed_of_answer(*, traffic: float, agents: int, aht_s: float) -> float:
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return erlang_c(traffic=traffic, agents=agents) * aht_s / (agents - traffic)


def agents_needed(*, arrivals: float, period_s: float, aht_s: float, target_s: float, target_level: float) -> int:
    """The fewest agents whose service level reaches target_level (0 < target_level < 1); 0 for no traffic."""
    if not 0 < target_level < 1:
        raise ValueError("target_level must lie between 0 and 1.")
    traffic = traffic_erlangs(arrivals=arrivals, period_s=period_s, aht_s=aht_s)
    if traffic <= 0:
        return 0
    agents = max(1, math.floor(traffic) + 1)
    while agents < MAX_AGENTS:
        if service_level(traffic=traffic, agents=agents, aht_s=aht_s, target_s=target_s) >= target_level:
            return agents
        agents += 1
    return MAX_AGENTS
