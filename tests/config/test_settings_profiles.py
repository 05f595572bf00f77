"""The two profiles, and the settings that must refuse to start. Each case loads settings in a fresh
interpreter with its own environment, as a deployment would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "profile": settings.PROFILE,
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_options": settings.DATABASES["default"].get("OPTIONS", {}),
    "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_config": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}),
    "routing": settings.ROUTING_BACKEND,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "acks_late": settings.CELERY_TASK_ACKS_LATE,
    "visibility": settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout"),
    "storage": settings.STORAGES["default"]["BACKEND"],
    "storage_options": settings.STORAGES["default"].get("OPTIONS", {}),
    "debug": settings.DEBUG,
    "media_root": str(settings.MEDIA_ROOT),
    "beat": sorted(settings.CELERY_BEAT_SCHEDULE),
    "replica": settings.DATABASES.get("replica"),
    "routers": settings.DATABASE_ROUTERS,
}))
"""


def load_env(tmp_path: Path, **env: str) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "DATABASE_URL",
            "REDIS_URL",
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DEBUG",
            "AWS_STORAGE_BUCKET_NAME",
            "CELERY_TASK_ALWAYS_EAGER",
            "STATIC_MANIFEST",
            "SECURE_COOKIES",
            "ROUTING_BACKEND",
            "CHANNEL_LAYER_BACKEND",
            "REDIS_SENTINELS",
            "REDIS_SENTINEL_SERVICE",
            "REDIS_SENTINEL_PASSWORD",
            "CELERY_BROKER_URL",
            "DATABASE_REPLICA_URL",
        }
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "config.settings", "SWITCHBOARD_VAR_DIR": str(tmp_path / "var"), **env})
    return clean


def load(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    env = load_env(tmp_path, **env)
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def loaded(tmp_path: Path, **env: str) -> dict:
    result = load(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_default_needs_nothing(tmp_path):
    s = loaded(tmp_path)
    assert s["profile"] == "embedded"
    assert s["db"] == "django.db.backends.sqlite3"
    assert s["layer"] == "realtime.memory.MemoryChannelLayer"
    assert s["routing"] == "routing.backends.memory.MemoryBackend"
    assert s["eager"] is True
    assert s["storage"] == "django.core.files.storage.FileSystemStorage"
    assert s["media_root"] == str(tmp_path / "var" / "media")
    # The generated key is kept under var/ so sessions survive a restart, and is private to its owner.
    key = tmp_path / "var" / "secret_key"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"


SQLITE_PROBE = """
import json, django
from django.db import connection
django.setup()
with connection.cursor() as cursor:
    names = ("journal_mode", "synchronous", "busy_timeout")
    values = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in names]
print(json.dumps(values))
"""


def sqlite_pragmas(tmp_path: Path, **env: str) -> list:
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_PROBE],
        cwd=ROOT,
        env=load_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_embedded_sqlite_connection_settings(tmp_path):
    """WAL with synchronous=NORMAL by default (a process crash loses nothing committed; docs/architecture.md),
    FULL on request, a 20 s busy timeout, and a connection kept per thread instead of one per step."""
    assert sqlite_pragmas(tmp_path) == ["wal", 1, 20000]
    assert sqlite_pragmas(tmp_path, SQLITE_SYNCHRONOUS="full") == ["wal", 2, 20000]
    assert loaded(tmp_path)["conn_max_age"] == 600


PRODUCTION = {
    "DATABASE_URL": "mysql://sb:pw@db.internal:3306/switchboard",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "chat.example.com",
}


def test_production_profile(tmp_path):
    s = loaded(tmp_path, **PRODUCTION)
    assert s["profile"] == "production" and s["debug"] is False
    assert s["db"] == "django.db.backends.mysql"
    assert s["db_options"]["charset"] == "utf8mb4"
    assert "STRICT_TRANS_TABLES" in s["db_options"]["init_command"]
    assert s["conn_max_age"] == 60
    assert s["layer"] == "realtime.fanout.FanoutChannelLayer"
    # Chosen on purpose, not the library default of 100 (docs/architecture.md).
    assert s["layer_config"]["capacity"] >= 1000
    assert s["routing"] == "routing.backends.redis.RedisBackend"
    assert s["eager"] is False and s["acks_late"] is True and s["visibility"] == 900
    # Every app's timers are scheduled (one app's entries must not replace another's).
    assert {"gateway-sweep", "routing-tick", "media-retention-purge", "bots-watchdog", "bots-timers"} <= set(s["beat"])


def test_replica_is_an_alias_of_its_own(tmp_path):
    """DATABASE_REPLICA_URL adds the `replica` alias (reads that may lag, core/replica.py) with a short connect
    timeout and beat's heartbeat; without it there is no alias and no heartbeat. The router is always on."""
    plain = loaded(tmp_path, **PRODUCTION)
    assert plain["replica"] is None and "replica-heartbeat" not in plain["beat"]
    assert plain["routers"] == ["core.replica.ReplicaRouter"]
    s = loaded(tmp_path, **PRODUCTION, DATABASE_REPLICA_URL="mysql://sb:pw@replica.internal:3306/switchboard")
    replica = s["replica"]
    assert replica["HOST"] == "replica.internal" and replica["NAME"] == "switchboard"
    assert replica["OPTIONS"]["connect_timeout"] == 2 and replica["OPTIONS"]["charset"] == "utf8mb4"
    assert replica["TEST"]["MIRROR"] == "default"
    assert "replica-heartbeat" in s["beat"]


def test_channels_redis_pub_sub_layer_is_selectable(tmp_path):
    s = loaded(tmp_path, **PRODUCTION, CHANNEL_LAYER_BACKEND="channels_redis")
    assert s["layer"] == "realtime.pubsub.PubSubChannelLayer"
    assert s["layer_config"]["hosts"][0]["address"] == PRODUCTION["REDIS_URL"]


SENTINEL_PROBE = """
import json, django
from django.conf import settings
django.setup()
from django.core.cache import cache
print(json.dumps({
    "server": settings.REDIS_SERVER,
    "layer_hosts": settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"],
    "cache_pool": type(cache._cache.get_client(write=True).connection_pool).__name__,
    "broker": settings.CELERY_BROKER_URL,
    "broker_options": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
}, default=list))
"""
SENTINEL = {
    **PRODUCTION,
    "REDIS_URL": "redis://:pw@mymaster/2",
    "REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379",
    "REDIS_SENTINEL_SERVICE": "mymaster",
    "REDIS_SENTINEL_PASSWORD": "sp",
}


@pytest.mark.parametrize("layer", ["switchboard", "channels_redis"])
def test_with_sentinels_every_user_of_redis_asks_them_for_the_primary(tmp_path, layer):
    result = subprocess.run(
        [sys.executable, "-c", SENTINEL_PROBE],
        cwd=ROOT,
        env=load_env(tmp_path, **SENTINEL, CHANNEL_LAYER_BACKEND=layer),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout.strip().splitlines()[-1])
    sentinels = [["10.0.0.1", 26379], ["10.0.0.2", 26379], ["10.0.0.3", 26379]]
    assert s["server"]["sentinels"] == sentinels and s["server"]["master_name"] == "mymaster"
    assert s["server"]["db"] == 2 and s["server"]["password"] == "pw"
    assert s["server"]["sentinel_kwargs"]["password"] == "sp"
    (host,) = s["layer_hosts"]
    assert "address" not in host and host["sentinels"] == sentinels and host["db"] == 2
    assert s["cache_pool"] == "BlockingSentinelConnectionPool"
    assert s["broker"] == ";".join(f"sentinel://:pw@10.0.0.{n}:26379/2" for n in (1, 2, 3))
    assert s["broker_options"]["master_name"] == "mymaster"
    assert s["broker_options"]["sentinel_kwargs"]["password"] == "sp"
    assert s["broker_options"]["visibility_timeout"] == 900


def test_production_with_s3(tmp_path):
    s = loaded(
        tmp_path, **PRODUCTION, AWS_STORAGE_BUCKET_NAME="attachments", AWS_S3_ENDPOINT_URL="http://minio.internal:9000"
    )
    assert s["storage"] == "storages.backends.s3.S3Storage"
    assert s["storage_options"]["bucket_name"] == "attachments"
    assert s["storage_options"]["endpoint_url"] == "http://minio.internal:9000"
    assert s["storage_options"]["querystring_auth"] is True


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({**PRODUCTION, "SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({**PRODUCTION, "SECRET_KEY": "short"}, "SECRET_KEY is too short"),
        ({**PRODUCTION, "ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must be set"),
        ({**PRODUCTION, "DEBUG": "1"}, "DEBUG is on while ALLOWED_HOSTS names public hosts"),
        ({"DEBUG": "1", "ALLOWED_HOSTS": "chat.example.com"}, "DEBUG is on while ALLOWED_HOSTS names public hosts"),
        ({**PRODUCTION, "DATABASE_URL": "postgres://x@y/z"}, "must be a mysql:// URL"),
        ({**PRODUCTION, "DATABASE_REPLICA_URL": "postgres://x@y/z"}, "DATABASE_REPLICA_URL must be a mysql:// URL"),
        ({**PRODUCTION, "CHANNEL_LAYER_BACKEND": "rabbit"}, "CHANNEL_LAYER_BACKEND='rabbit' is not one of"),
        # OFF would let an OS crash corrupt the database, not only lose its last commits.
        ({"SQLITE_SYNCHRONOUS": "off"}, "SQLITE_SYNCHRONOUS='OFF' is not one of: NORMAL, FULL"),
        ({**PRODUCTION, "REDIS_SENTINELS": "10.0.0.1"}, "REDIS_SENTINELS: '10.0.0.1' is not host:port"),
    ],
)
def test_unsafe_settings_refuse_to_start(tmp_path, env, message):
    result = load(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
