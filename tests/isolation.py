"""Names of a test run's own: its MySQL test database, its Redis database and its channel prefix, so that
two runs on one machine (two checkouts, two terminals, xdist workers) never meet (docs/development.md,
"How test runs are isolated").

A pytest plugin, loaded before Django reads its settings (`-p tests.isolation` in PYTEST_ADDOPTS,
tests/test.env): pytest-django imports the settings before any conftest, and the settings read REDIS_URL
once, into the channel layer, the cache and the Celery broker. So the run's names go into the environment
first; the settings, and every process a test starts with the environment (daphne, Celery workers,
`manage.py`), take them from there.

- **MySQL.** The test database is `test_<name>_<run>` (`<name>` from DATABASE_URL; `<run>` is the start
  time in hex and four random hex digits; pytest-django appends `_gw<n>` under xdist), created and dropped
  by pytest-django as usual. Databases of this pattern whose run started more than a day ago belong to runs
  that were killed before they could drop them: each run drops them before it creates its own.
  `--reuse-db` keeps the fixed `test_<name>` (the point is to find it again next time).
- **Redis.** The run takes a database number of its own on the server of REDIS_URL: the first one from
  REDIS_URL's number upwards (then from 1; 0 never) that is empty, or holds only what a dead run left,
  and no live run holds. A run holds its number with a connection named `sb-test-run:<db>:<run>` that
  stays open for the whole run, so the hold ends when the run does, killed or not. Runs (and benchmarks)
  pick their numbers one at a time: the picking is done under a short lock, the key `sb-test-run-claiming`
  in database 0 (set with NX, gone after at most 10 s even if its run dies), so a run that names a number
  sees every run that named one before it. The run's database carries
  the key `sb-test-run` (set again after every flush, tests/conftest.py), which tells a dead run's
  leftovers from someone else's data (never touched). At the end the run empties its database.
  One number is enough for every user of Redis: keys live in their database (routing's `rt:` keys, the
  cache's `sbcache:` keys, rate limits, Celery's queues), and the two users of pub/sub, which ignores
  database numbers, put the number in their channel names (the channel layer's `<prefix>:<db>:`, kombu's
  fanout `/<db>.`). The channel prefix is the run's own as well (`sbt<run>`), so the layer's channels stay
  apart even between runs given the same Redis database.
- **Given names.** An exported TEST_DATABASE_URL uses `test_<name>` as before; an exported TEST_REDIS_URL
  uses exactly that database, held like a derived one, and a run refuses to start on a number another
  live run holds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

CLAIM = "sb-test-run"  # client name of a run's holding connection: sb-test-run:<db>:<run>
CLAIMING = "sb-test-run-claiming"  # key in database 0 while one run or benchmark picks its number
CLAIMING_TTL_MS = 10_000
CLAIMING_WAIT_S = 120
MARKER = "sb-test-run"  # key in a run's Redis database: the run that holds it
STALE_AFTER_S = 24 * 3600


@dataclasses.dataclass
class Run:
    id: str
    redis_url: str = ""
    redis_derived: bool = False
    claim: object = None  # redis.Redis on one connection, open for the whole run
    claim_id: int = 0
    database_base: str = ""  # `<name>` of DATABASE_URL when the test database name is derived


RUN: Run | None = None


def new_run_id(now: float | None = None) -> str:
    return f"{int(time.time() if now is None else now):08x}{secrets.token_hex(2)}"


def with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def db_of(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


# --- Redis ----------------------------------------------------------------------------------------
def _database_count(client) -> int:
    try:
        return int(client.config_get("databases").get("databases", 16))
    except Exception:  # CONFIG may be renamed away on a managed server: Redis's default
        return 16


def _holders(client, db: int) -> list[int]:
    prefix = f"{CLAIM}:{db}:"
    return [int(c["id"]) for c in client.client_list() if (c.get("name") or "").startswith(prefix)]


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@contextlib.contextmanager
def claiming(client, owner: str, wait_s: float = CLAIMING_WAIT_S):
    """One run or benchmark at a time picks its Redis database number (`client` on database 0): without
    this, a run that names a number before another, but on a connection with a higher id, would keep it
    while the other, seeing itself lower, kept it too."""
    deadline = time.monotonic() + wait_s
    while not client.set(CLAIMING, owner, nx=True, px=CLAIMING_TTL_MS):
        if time.monotonic() > deadline:
            raise pytest.UsageError(f"Another test run has been picking its Redis database for {wait_s:.0f} s.")
        time.sleep(0.02)
    try:
        yield
    finally:
        client.eval(_RELEASE, 1, CLAIMING, owner)


def held_by_another(client, db: int, me: int) -> bool:
    """Whether a connection other than `me` holds database `db` (call under `claiming`)."""
    return _holders(client, db) != [me]


def claim_redis(url: str, run: str, *, given: bool):
    """Takes a Redis database for the run on the server of `url` (exactly `url`'s when `given`):
    (holding client, URL of the database)."""
    import redis

    client = redis.Redis.from_url(with_db(url, 0), single_connection_client=True, socket_connect_timeout=5)
    try:
        me = client.client_id()
    except redis.RedisError as exc:
        client.close()
        raise pytest.UsageError(f"Redis at {url} does not answer ({exc}): start it with scripts/services.sh.") from exc
    first, count = db_of(url), _database_count(client)
    order = [first] if given else [db for db in [*range(first, count), *range(1, first)] if db != 0]
    with claiming(client, run):
        for db in order:
            client.client_setname(f"{CLAIM}:{db}:{run}")
            if held_by_another(client, db, me):
                if given:
                    client.close()
                    raise pytest.UsageError(
                        f"Redis database {db} of {url} is held by another test run: unset TEST_REDIS_URL to get a "
                        "free one, or name another database."
                    )
                continue
            if given:
                return client, url
            data = redis.Redis.from_url(with_db(url, db))
            try:
                if data.dbsize() and not data.exists(MARKER):
                    continue  # someone else's data
                data.flushdb()  # empty, or what a dead run left
                data.set(MARKER, run)
            finally:
                data.close()
            return client, with_db(url, db)
    client.close()
    raise pytest.UsageError(
        f"No free Redis database on {url}: each holds data or another test run. Free one (FLUSHDB) or set "
        "TEST_REDIS_URL."
    )


def mark_redis(client) -> None:
    """After a flush of the run's Redis database: mark it as the run's again (the key that tells a dead
    run's leftovers from other data)."""
    if RUN is not None and RUN.redis_derived:
        client.set(MARKER, RUN.id)


# --- MySQL ----------------------------------------------------------------------------------------
def dead_run_databases(names: list[str], base: str, now: float | None = None) -> list[str]:
    """The derived test databases of `base` among `names` whose run started more than a day ago."""
    now = time.time() if now is None else now
    pattern = re.compile(rf"test_{re.escape(base)}_([0-9a-f]{{8}})[0-9a-f]{{4}}(_gw\d+)?")
    return [
        name for name in names if (match := pattern.fullmatch(name)) and now - int(match.group(1), 16) > STALE_AFTER_S
    ]


def drop_databases_of_dead_runs(django_db_blocker) -> list[str]:
    """Drops the test databases that killed runs left behind (only when this run derives its name)."""
    if RUN is None or not RUN.database_base:
        return []
    from django.db import connection

    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute("SHOW DATABASES")
        dead = dead_run_databases([row[0] for row in cursor.fetchall()], RUN.database_base)
        for name in dead:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    return dead


# --- hooks ----------------------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Before pytest-django imports the settings: the run's Redis database and channel prefix."""
    global RUN
    options = early_config.known_args_namespace
    if getattr(options, "help", False) or getattr(options, "version", False):
        return
    RUN = Run(id=new_run_id())
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return  # the embedded default: no Redis
    os.environ["CHANNEL_PREFIX"] = f"sbt{RUN.id}"
    # An xdist controller runs no test: each worker takes its own database.
    if getattr(options, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    given = bool(os.environ.get("TEST_REDIS_URL"))
    RUN.claim, RUN.redis_url = claim_redis(url, RUN.id, given=given)
    RUN.claim_id = RUN.claim.client_id()
    RUN.redis_derived = not given
    os.environ["REDIS_URL"] = RUN.redis_url


def pytest_configure(config):
    """The run's test database name, before pytest-django creates it (its xdist suffix comes after)."""
    if RUN is None or os.environ.get("TEST_DATABASE_URL") or config.getoption("reuse_db", default=False):
        return
    from django.conf import settings

    if not settings.configured:
        return
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.mysql" or db.get("TEST", {}).get("NAME"):
        return
    RUN.database_base = db["NAME"]
    db.setdefault("TEST", {})["NAME"] = f"test_{db['NAME']}_{RUN.id}"


def pytest_runtest_setup(item):
    """The run still holds its Redis database (a connection Redis closed would let another run take it)."""
    if RUN is not None and RUN.claim is not None:
        try:
            same = RUN.claim.client_id() == RUN.claim_id
        except Exception:
            same = False
        if not same:
            pytest.exit(f"The test run lost its hold on {RUN.redis_url} (its connection to Redis was closed).", 3)


def pytest_unconfigure(config):
    """Empties the run's Redis database, then lets it go."""
    if RUN is None or RUN.claim is None:
        return
    claim, RUN.claim = RUN.claim, None
    try:
        if RUN.redis_derived:
            import redis

            data = redis.Redis.from_url(RUN.redis_url)
            data.flushdb()
            data.close()
    finally:
        claim.close()
