"""A tenth of the sockets dropping every second under load, behind nginx.

The relay benchmark's load generator (bench/relay.py) drives two daphne processes behind nginx: forty
customers in live conversations with four agents, forty messages a second for eight seconds, while every
second a random tenth of all sockets is closed abruptly (`--drop-fraction 0.1 --drop-every 1`). Each
client reconnects as the widget and the console do: it resumes from the last seq it shows and sends
again, with the same client_id, what was not acknowledged. Afterwards every acknowledged message is in
MySQL exactly once, every conversation's seq runs 1..N, every customer's and agent's screen equals
MySQL's conversation, and every conversation is held by exactly one agent.
"""

from __future__ import annotations

import argparse
import asyncio

import pytest

from bench import relay
from bench.database import relay_verify
from bench.server import django_call

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 40
AGENTS = 4


def test_a_tenth_of_the_sockets_dropping_every_second_loses_and_doubles_nothing(start_cluster):
    cluster = start_cluster(daphnes=2)
    setup = django_call(
        "relay-setup", {**cluster.env, "DJANGO_SETTINGS_MODULE": "config.settings"}, str(AGENTS), str(CUSTOMERS)
    )
    args = argparse.Namespace(
        agents=AGENTS, customers=CUSTOMERS, rate=40.0, duration=8.0, ramp=False, drop_fraction=0.1, drop_every=1.0
    )
    results = asyncio.run(relay.drive(args, [cluster.base], setup["inbox"]))
    ids = results.pop()
    step = results[0]
    check = relay_verify(ids)

    assert step["drops"] >= 20, step  # 4 of the 44 sockets a second, for 8 s
    assert step["reconnects"] >= step["drops"] // 2, step
    assert ids["client_errors"] == [], ids["client_errors"]
    assert step["sent"] == 320 and step["lost"] == 0 and step["duplicated"] == 0, step
    assert check["never_acked"] == 0, check
    assert check["db_missing"] == 0 and check["db_duplicated"] == 0 and check["seq_gaps"] == 0, check
    # Every conversation is on its customer's screen and its agent's, each equal to MySQL's.
    assert check["screens_checked"] == 2 * CUSTOMERS and check["screens_differ"] == 0, check
    assert check["held_twice"] == 0 and check["holder_mismatch"] == 0, check
