"""Shared fixtures. The suite runs the production profile (tests/test.env): real MySQL and Redis."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from django.conf import settings

from crm.roles import ADMIN, AGENT, SUPERVISOR
from tests import isolation
from tests.factories import UserFactory
from tests.imsubsystem import bot_double as bot_double_module


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """Just before pytest-django creates the run's test database: drop those of runs killed more than a day
    ago (tests/isolation.py names each run's database)."""
    isolation.drop_databases_of_dead_runs(django_db_blocker)


@pytest.fixture(autouse=True)
def _clean_process_caches():
    """Per-process caches keyed by ids, which a flushed database hands out again in the next test."""
    from bots.selectors import active_flow_cache_clear
    from webhooks.selectors import subscriptions_cache_clear

    active_flow_cache_clear()
    subscriptions_cache_clear()
    yield


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (the run's own number, tests/isolation.py)."""
    if settings.REDIS_URL:
        import redis

        from routing.backends.redis_lua import MARK_BUILT

        client = redis.Redis.from_url(settings.REDIS_URL)
        client.flushdb()
        # An empty Redis beside an empty database is in step, as after a rebuild: routing decides only
        # on a loaded state (the marker its rebuild sets last, for this primary: docs/routing.md).
        client.eval(MARK_BUILT, 1, "rt:built")
        isolation.mark_redis(client)
        client.close()
    yield


@pytest.fixture
def agent(db):
    return UserFactory(username="agent-a", role=AGENT)


@pytest.fixture
def supervisor(db):
    return UserFactory(username="super-s", role=SUPERVISOR)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin-x", role=ADMIN)


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.fixture
def admin_client_role(client, admin_user):
    client.force_login(admin_user)
    return client


def pytest_terminal_summary(terminalreporter):
    """Say which channel layer the run delivered through (CHANNEL_LAYER_BACKEND, docs/realtime.md)."""
    backend = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND", "none")
    terminalreporter.write_line(
        f"channel layer: {backend} (CHANNEL_LAYER_BACKEND={getattr(settings, 'CHANNEL_LAYER_BACKEND', '-')})"
    )


@pytest.fixture
def bot_double():
    """Call it to put the bot double (tests/imsubsystem/bot_double.py) in the bots app's place on the
    switch's bot hooks until the test ends; returns the list of events it receives."""
    stack = ExitStack()
    yield lambda: stack.enter_context(bot_double_module.installed())
    stack.close()
