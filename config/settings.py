"""Switchboard settings.

Two profiles, one code path (docs/architecture.md):

* embedded default (nothing set): SQLite under var/, Channels' in-memory layer, the in-memory routing
  backend, Celery tasks run eagerly, files on local disk under var/media;
* production (DATABASE_URL and REDIS_URL set): MySQL through mysqlclient, our Redis channel layer, the Redis
  routing backend, Celery workers on a Redis broker, S3 storage when a bucket is named.

Every variable is documented in README.md and docs/deployment.md.
One module of about 490 lines: Django reads one settings module, and each app's section names its docs
page; splitting it would hide which profile sets what.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from core.redis import celery_broker, parse_sentinels, redis_server

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SWITCHBOARD_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
# Redis through Sentinel (docs/deployment.md): the sentinels to ask for the primary of the service, by
# every user of Redis. REDIS_URL then gives the database number and the password; its host is not used.
REDIS_SENTINELS = env.str("REDIS_SENTINELS", default="")
REDIS_SENTINEL_SERVICE = env.str("REDIS_SENTINEL_SERVICE", default="mymaster")
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="")
try:
    _sentinels = parse_sentinels(REDIS_SENTINELS)
except ValueError as error:
    raise ImproperlyConfigured(f"REDIS_SENTINELS: {error}; give host:port,host:port,...") from None
if _sentinels and not REDIS_URL:
    REDIS_URL = "redis:///0"  # Sentinel names the server; the database is 0
if _sentinels and not REDIS_SENTINEL_SERVICE:
    raise ImproperlyConfigured("REDIS_SENTINEL_SERVICE must name the primary's service when REDIS_SENTINELS is set.")
# The one description of the deployment's Redis that every user of it takes (core/redis.py).
REDIS_SERVER = (
    redis_server(
        REDIS_URL, sentinels=_sentinels, service=REDIS_SENTINEL_SERVICE, sentinel_password=REDIS_SENTINEL_PASSWORD
    )
    if REDIS_URL
    else None
)
PRODUCTION = bool(DATABASE_URL)
PROFILE = "production" if PRODUCTION else "embedded"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)


def _embedded_secret_key() -> str:
    """A per-checkout key kept under var/, so sessions survive a restart of `make run`."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set in the production profile (DATABASE_URL is set).")
    SECRET_KEY = _embedded_secret_key()
if PRODUCTION and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY is too short for production: use at least 32 random characters.")

LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=LOCAL_HOSTS if not PRODUCTION else [])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in the production profile.")
_public_hosts = [h for h in ALLOWED_HOSTS if h.strip("[]") not in {"127.0.0.1", "localhost", "::1", "testserver"}]
if DEBUG and _public_hosts:
    raise ImproperlyConfigured(
        f"DEBUG is on while ALLOWED_HOSTS names public hosts ({', '.join(_public_hosts)}): "
        "debug pages leak settings and source. Unset DEBUG or serve only on localhost."
    )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "crm",
    "routing",
    "media",
    "imsubsystem",
    "gateway",
    "bots",
    "supervisor",
    "webhooks",
    "interface",
    "api",
    "switchboard",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After LocaleMiddleware and AuthenticationMiddleware: a staff user's saved language and timezone.
    "switchboard.middleware.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crm.context_processors.navigation",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
if PRODUCTION:
    _db = env.db_url("DATABASE_URL")
    if _db["ENGINE"] != "django.db.backends.mysql":
        raise ImproperlyConfigured("DATABASE_URL must be a mysql:// URL (MySQL or MariaDB).")
    _db.setdefault("OPTIONS", {})
    _db["OPTIONS"].update(
        {
            "charset": "utf8mb4",
            # Strict mode turns silent truncation into errors; READ COMMITTED keeps the per-conversation
            # seq counter row lock short and avoids gap locks on the message indexes.
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_ENGINE_SUBSTITUTION'",
            "isolation_level": "read committed",
        }
    )
    # Connection reuse: a persistent connection per thread, checked before reuse.
    _db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    _db["CONN_HEALTH_CHECKS"] = True
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    DATABASES = {"default": _db}
    # A replica for the reads that may lag (reports, CSV exports, staffing): core/replica.py says which
    # reads go there; everything else reads the primary. A short connect timeout bounds the wait for a
    # replica that is down before reports fall back to the primary (docs/deployment.md).
    DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
    if DATABASE_REPLICA_URL:
        _replica = env.db_url("DATABASE_REPLICA_URL")
        if _replica["ENGINE"] != "django.db.backends.mysql":
            raise ImproperlyConfigured("DATABASE_REPLICA_URL must be a mysql:// URL (MySQL or MariaDB).")
        _replica.setdefault("OPTIONS", {})
        _replica["OPTIONS"].update(
            {
                "charset": "utf8mb4",
                "isolation_level": "read committed",
                "connect_timeout": env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", default=2),
            }
        )
        _replica["CONN_MAX_AGE"] = _db["CONN_MAX_AGE"]
        _replica["CONN_HEALTH_CHECKS"] = True
        _replica["TEST"] = {"MIRROR": "default"}
        DATABASES["replica"] = _replica
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL: readers never wait for the writer. SQLITE_SYNCHRONOUS=NORMAL (the default) syncs the WAL to disk
    # at checkpoints instead of at every commit: a crash of the process loses nothing committed, a power
    # loss or an OS crash can lose the last commits (never corrupts); FULL syncs every commit
    # (docs/architecture.md, "SQLite"). A connection per thread, kept DB_CONN_MAX_AGE seconds: opening
    # one (and its PRAGMAs) for every database step was a tenth of the server's time (docs/performance.md).
    SQLITE_SYNCHRONOUS = env.str("SQLITE_SYNCHRONOUS", default="NORMAL").upper()
    if SQLITE_SYNCHRONOUS not in {"NORMAL", "FULL"}:
        raise ImproperlyConfigured(f"SQLITE_SYNCHRONOUS={SQLITE_SYNCHRONOUS!r} is not one of: NORMAL, FULL.")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(VAR_DIR / "db.sqlite3")),
            "OPTIONS": {
                "timeout": 20,  # the busy timeout: how long a writer waits for the other one, in seconds
                "transaction_mode": "IMMEDIATE",
                "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={SQLITE_SYNCHRONOUS};",
            },
            "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=600),
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Reads go to the primary except inside core.replica.reads_that_may_lag(); writes and migrations always.
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
# How long reports read the primary after the replica failed to answer, before trying it again.
DATABASE_REPLICA_RETRY_S = env.float("DATABASE_REPLICA_RETRY_S", default=10.0)
# How often beat writes the heartbeat row the dashboard's replica lag is measured by (with a replica only).
DATABASE_REPLICA_HEARTBEAT_S = env.float("DATABASE_REPLICA_HEARTBEAT_S", default=1.0)

# --- Redis, channel layer, cache --------------------------------------------------------------
# The channel layer on Redis (docs/realtime.md): `switchboard` (ours: local fan-out in each process, Redis
# pub/sub between processes, a reset instead of a silent loss) or `channels_redis` (channels-redis's
# pub/sub layer). Both keep realtime.SwitchLayer and pass the same contract suite.
CHANNEL_LAYER_BACKENDS = {
    "switchboard": "realtime.fanout.FanoutChannelLayer",
    "channels_redis": "realtime.pubsub.PubSubChannelLayer",
}
CHANNEL_LAYER_BACKEND = env.str("CHANNEL_LAYER_BACKEND", default="switchboard")
if CHANNEL_LAYER_BACKEND not in CHANNEL_LAYER_BACKENDS:
    raise ImproperlyConfigured(
        f"CHANNEL_LAYER_BACKEND={CHANNEL_LAYER_BACKEND!r} is not one of: {', '.join(CHANNEL_LAYER_BACKENDS)}."
    )
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Ours by default: both ends of a conversation in one process cost no Redis round trip
            # (docs/performance.md).
            "BACKEND": CHANNEL_LAYER_BACKENDS[CHANNEL_LAYER_BACKEND],
            "CONFIG": {
                # Publishing connections per process (ours pipelines them: a burst of sends shares round trips).
                "hosts": [{**REDIS_SERVER, "max_connections": env.int("CHANNEL_POOL_SIZE", default=50)}],
                # How many frames a socket may be behind before the layer resets it (it then closes with
                # 4012 and its client resumes from MySQL): never a silent drop. channels-redis has no bound.
                "capacity": env.int("CHANNEL_CAPACITY", default=2000),
                "prefix": env.str("CHANNEL_PREFIX", default="sb"),
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sbcache",
            # With Sentinel the pool asks the sentinels for the primary (LOCATION gives the database).
            **(
                {"OPTIONS": {"pool_class": "core.redis.CacheConnectionPool", "server": REDIS_SERVER}}
                if _sentinels
                else {}
            ),
        }
    }
else:
    # One process, no Redis: Channels' in-memory layer with the switch's named methods.
    CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.memory.MemoryChannelLayer", "CONFIG": {"capacity": 2000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The redis-py pool size used by our own Redis clients (routing, rate limits). redis-py 8's default of
# 100 connections raises MaxConnectionsError under a few hundred decisions a second; a blocking pool
# waits for a free connection instead of failing.
REDIS_POOL_SIZE = env.int("REDIS_POOL_SIZE", default=200)

# --- Routing (queuing machine) -----------------------------------------------------------------
ROUTING_BACKEND = env.str(
    "ROUTING_BACKEND",
    default="routing.backends.redis.RedisBackend" if REDIS_URL else "routing.backends.memory.MemoryBackend",
)
# The embedded default runs beat's schedule in the server process (switchboard/timers.py), and the work
# production gives to Celery workers (platform sends, media fetches, webhook processing) on this many
# background threads instead of inline in the caller's thread (core/inprocess.py).
INPROCESS_TIMERS = env.bool("INPROCESS_TIMERS", default=not REDIS_URL)
INPROCESS_WORKERS = env.int("INPROCESS_WORKERS", default=0 if REDIS_URL else 4)
# Tasks the embedded default's timer loop runs once when its server process starts.
INPROCESS_AT_START = ["routing.consoles_expect"]
# Presence follows the console (docs/routing.md): an agent without a live console socket for this long
# is counted disconnected (no offers; open offers go to others). Each server process refreshes its
# consoles every heartbeat; a console not refreshed for three heartbeats (its process died) lapses.
ROUTING_CONSOLE_GRACE_S = env.float("ROUTING_CONSOLE_GRACE_S", default=30.0)
ROUTING_CONSOLE_HEARTBEAT_S = env.float("ROUTING_CONSOLE_HEARTBEAT_S", default=10.0)

# --- Celery ------------------------------------------------------------------------------------
# On the deployment's Redis by default, through Sentinel when it is configured (kombu's `sentinel://`).
_broker_url, _broker_options = celery_broker(REDIS_SERVER) if REDIS_SERVER else ("memory://", {})
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or _broker_url
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged after it ran, so a worker killed mid-task leaves it to be redelivered; tasks
# are idempotent (docs/architecture.md). The visibility timeout is how long Redis waits before handing
# an unacknowledged task to another worker: longer than our slowest task (a 100 MB media fetch, about
# 5 minutes at worst), short enough that a killed worker's task is retried within the hour.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=900),
    **(_broker_options if _broker_url == CELERY_BROKER_URL else {}),
}
CELERY_TASK_DEFAULT_QUEUE = "default"
# Routes match task names, not modules: the gateway's tasks keep the names they were queued under
# (`imsubsystem.gateway.tasks.*`, gateway/tasks.py) though the app is the top-level `gateway/`.
CELERY_TASK_ROUTES = {
    "imsubsystem.gateway.*": {"queue": "gateway"},
    "routing.*": {"queue": "routing"},
    "media.*": {"queue": "media"},
    "bots.*": {"queue": "bots"},
    "webhooks.*": {"queue": "webhooks"},
}
CELERY_TASK_SERIALIZER = "json"

# --- Outbound HTTP (core/outbound.py) ---------------------------------------------------------
# Every call to a URL from outside (platform media, platform APIs and connector callbacks set by admins)
# reaches public addresses only; list here the hosts (`name`, `name:port`), addresses and networks
# (`10.0.0.0/8`) it may reach anyway, e.g. a platform stand-in or a connector on the private network.
OUTBOUND_FETCH_ALLOW = env.list("OUTBOUND_FETCH_ALLOW", default=[])

# --- Gateway (docs/gateway.md) ----------------------------------------------------------------
# How long a worker owns an outbox row it claimed for sending; a killed worker's row is sent again
# only after this. Longer than the slowest platform call (the HTTP timeout below).
GATEWAY_SEND_LEASE_S = env.int("GATEWAY_SEND_LEASE_S", default=60)
GATEWAY_HTTP_TIMEOUT_S = env.float("GATEWAY_HTTP_TIMEOUT_S", default=15.0)
GATEWAY_MAX_ATTEMPTS = env.int("GATEWAY_MAX_ATTEMPTS", default=8)
# How far a platform's signed timestamp may be from our clock (WeChat, the API channel); its nonce is
# remembered in the cache for as long (an inbox's config `replay_window_s` overrides it).
GATEWAY_REPLAY_WINDOW_S = env.int("GATEWAY_REPLAY_WINDOW_S", default=300)

# --- Outgoing webhooks (docs/webhooks.md) --------------------------------------------------------
# Each POST to an integrator's URL: its time limit, how much of the answer is read, how long a worker
# owns a delivery it claimed (longer than the time limit).
WEBHOOK_TIMEOUT_S = env.float("WEBHOOK_TIMEOUT_S", default=10.0)
WEBHOOK_RESPONSE_MAX_BYTES = env.int("WEBHOOK_RESPONSE_MAX_BYTES", default=1024 * 1024)
WEBHOOK_SEND_LEASE_S = env.int("WEBHOOK_SEND_LEASE_S", default=60)
# Retries: exponential from the base, capped, with jitter, for the window (24 h), then the delivery fails.
WEBHOOK_RETRY_BASE_S = env.float("WEBHOOK_RETRY_BASE_S", default=30.0)
WEBHOOK_RETRY_MAX_S = env.float("WEBHOOK_RETRY_MAX_S", default=3600.0)
WEBHOOK_RETRY_WINDOW_S = env.int("WEBHOOK_RETRY_WINDOW_S", default=24 * 3600)
# How long each process trusts its list of active subscriptions (a change elsewhere is seen within this).
WEBHOOK_SUBSCRIPTION_CACHE_S = env.float("WEBHOOK_SUBSCRIPTION_CACHE_S", default=10.0)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Every timer of the system; one Celery beat runs them in production (docs/deployment.md). Apps add
# their entries below, each by key.
CELERY_BEAT_SCHEDULE = {
    # Restarts lost drains and sends retries that are due; in the embedded default (no countdowns without
    # workers) it is what sends a retry, so it runs more often there.
    "gateway-sweep": {
        "task": "imsubsystem.gateway.tasks.gateway_sweep",
        "schedule": env.float("GATEWAY_SWEEP_S", default=30.0 if REDIS_URL else 5.0),
    },
    # Routing timers (offer expiry, overflow, re-evaluation). The embedded default runs this whole
    # schedule in the server process (INPROCESS_TIMERS, switchboard/timers.py).
    "routing-tick": {"task": "routing.tick", "schedule": 1.0},
    # Snoozed conversations whose time came go back to their agent (docs/imsubsystem.md, "Snooze").
    "snoozes-wake": {"task": "imsubsystem.snoozes_wake", "schedule": env.float("SNOOZE_WAKE_S", default=2.0)},
    # Outgoing webhooks: lost drains and retries that are due (in the embedded default, every retry).
    "webhooks-sweep": {
        "task": "webhooks.tasks.webhooks_sweep",
        "schedule": env.float("WEBHOOK_SWEEP_S", default=30.0 if REDIS_URL else 5.0),
    },
}
if "replica" in DATABASES:
    # The heartbeat row on the primary; read on the replica it says how far behind it is (docs/supervisor.md).
    CELERY_BEAT_SCHEDULE["replica-heartbeat"] = {
        "task": "supervisor.replica_heartbeat",
        "schedule": DATABASE_REPLICA_HEARTBEAT_S,
    }

# --- Storage -----------------------------------------------------------------------------------
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media-files/"
STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("MEDIA_URL_TTL", default=300),
            "file_overwrite": False,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
            # Presigned URLs with Signature Version 4: every current region and MinIO accept it.
            "signature_version": env.str("AWS_S3_SIGNATURE_VERSION", default="s3v4"),
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        # Hashed names need `collectstatic` first (make run and deployments do it); tests and DEBUG
        # serve files straight from the apps through WhiteNoise's finders.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or not env.bool("STATIC_MANIFEST", default=not DEBUG)
MEDIA_URL_TTL = env.int("MEDIA_URL_TTL", default=300)
# Attachments (docs/media.md). Per-channel limits live in MediaPolicy rows (admin); these are the
# ceiling no policy may pass and the defaults for a channel without a row.
MEDIA_MAX_UPLOAD_SIZE = env.int("MEDIA_MAX_UPLOAD_SIZE", default=100 * 1024 * 1024)
MEDIA_DEFAULT_MAX_SIZE = env.int("MEDIA_DEFAULT_MAX_SIZE", default=20 * 1024 * 1024)
MEDIA_DEFAULT_RETENTION_DAYS = env.int("MEDIA_DEFAULT_RETENTION_DAYS", default=365)
MEDIA_ORPHAN_HOURS = env.int("MEDIA_ORPHAN_HOURS", default=24)
# The pixel budget of one image: width x height x frames, checked from its headers before decoding.
MEDIA_MAX_IMAGE_PIXELS = env.int("MEDIA_MAX_IMAGE_PIXELS", default=40_000_000)
MEDIA_PUBLIC_BASE_URL = env.str("MEDIA_PUBLIC_BASE_URL", default="")
MEDIA_FETCH_TIMEOUT_S = env.float("MEDIA_FETCH_TIMEOUT_S", default=30.0)
MEDIA_FETCH_MAX_RETRIES = env.int("MEDIA_FETCH_MAX_RETRIES", default=5)
# Total time one platform file may take to download (each read also has MEDIA_FETCH_TIMEOUT_S).
MEDIA_FETCH_DEADLINE_S = env.float("MEDIA_FETCH_DEADLINE_S", default=600.0)
CELERY_BEAT_SCHEDULE["media-retention-purge"] = {"task": "media.tasks.purge_expired_attachments", "schedule": 3600.0}

# --- Auth and security -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION and not DEBUG:
    # nginx writes X-Forwarded-Proto itself ($scheme, deploy/nginx.conf.template), so it can be trusted.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=True)
    # --- HTTPS only (docs/deployment.md, "TLS") ---------------------------------------------------
    # `manage.py check --deploy --fail-level WARNING` passes with these defaults (make lint runs it).
    # HTTP is redirected to HTTPS, except the probes that orchestrators and Prometheus send straight to
    # daphne over plain HTTP. HSTS is sent on HTTPS responses only.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz(/live|/ready)?$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Who may scrape /metrics (the Prometheus servers); loopback by default.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])

# --- Request body limits (config/body_limits.py, docs/deployment.md) ---------------------------
# Refused with 413 before the body is buffered: webhooks, everything else but uploads (those get
# MEDIA_MAX_UPLOAD_SIZE). deploy/nginx.conf.template sets the same caps per location.
REQUEST_BODY_MAX_WEBHOOK = env.int("REQUEST_BODY_MAX_WEBHOOK", default=1024 * 1024)
REQUEST_BODY_MAX = env.int("REQUEST_BODY_MAX", default=2_621_440)  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE

# --- Rolling restart (config/daphne_drain.py, docs/deployment.md) -----------------------------
# A daphne process told to stop (SIGTERM) closes its sockets with 4012 and lets what is in flight finish
# for at most this long before it exits. A service manager's stop timeout must be longer (deploy/systemd/).
DRAIN_SECONDS = env.float("DRAIN_SECONDS", default=10.0)

# --- Login lockout (django-axes; docs/deployment.md) ---------------------------------------------
# Failed log-ins are counted per user AND address (one attacker cannot lock a user out everywhere, and
# no address gets more than LOGIN_FAILURE_LIMIT tries at one account), on the staff login page and the
# admin's alike. The address comes from core/client_ip.py, never from a header a client writes.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # last, as django-axes requires
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
# The lockout ends LOGIN_LOCKOUT_MINUTES after the last counted failure, as the message says.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "config.login_lockout.lockout_response"

# --- Content-Security-Policy (django-csp; docs/deployment.md) ------------------------------------
# On every response: scripts and styles only from our own files (no inline script, handler or style
# attribute anywhere), sockets and fetches to our own origin (CSP's 'self' covers ws:/wss: there),
# images also from where attachments are stored. Pages that need more set it per view.
INSTALLED_APPS += ["csp"]
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


_media_origins = [_origin(MEDIA_PUBLIC_BASE_URL)]
if AWS_STORAGE_BUCKET_NAME:
    _endpoint = env.str("AWS_S3_ENDPOINT_URL", default="")
    # Presigned attachment URLs point at the object store: its endpoint, or AWS's virtual hosts.
    _media_origins.append(_origin(_endpoint) if _endpoint else "https://*.amazonaws.com")
_media_origins += env.list("CSP_MEDIA_ORIGINS", default=[])
_media_origins = [o for o in dict.fromkeys(_media_origins) if o]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *_media_origins],
        "media-src": ["'self'", "blob:", *_media_origins],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Languages (docs/i18n.md) --------------------------------------------------------------------
# Every surface speaks these; the catalogs are locale/<language>/LC_MESSAGES/django.po (Python and
# templates) and djangojs.po (the browser's code, served by /jsi18n/), compiled by `make run`/`make test`.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]  # English's short dates as ISO; the rest are Django's formats
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "filters": {"refusals_one_line": {"()": "config.logging.RefusalsOneLine"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["refusals_one_line"],
            # JSON lines in production (with conversation ids), readable lines for `make run`.
            "formatter": env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain"),
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Integrator API (Django REST framework; docs/api.md) --------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.StaffWithScope"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.IdCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard integrator API",
    "DESCRIPTION": "Contacts, conversations, messages, queues and reports for the systems around the CRM "
    "(docs/api.md). Authenticate with `Authorization: Bearer <key>`; keys are made in your profile page.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/rest/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "WebhookEventType": "webhooks.models.EventType",
        "WebhookDeliveryStatus": "webhooks.models.DeliveryStatus",
        # A contact identity's channel kind and an inbox's kind share a field name but not their choices.
        "ChannelKindEnum": "crm.models.ChannelKind",
        "AgentStatusEnum": "routing.models.AgentStatus",
        "ConversationStatusEnum": "imsubsystem.models.ConversationStatus",
        "MessageDeliveryStatusEnum": "imsubsystem.models.DeliveryStatus",
    },
    # The documentation page (api/views/docs.py) fetches nothing from elsewhere: no validator badge.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "deepLinking": True, "displayOperationId": False},
    # Every operation documents the one error shape, its refusals and its headers (api/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.postprocess"],
    "GET_LIB_DOC_EXCLUDES": "api.schema.lib_doc_excludes",
}
# Calls per token (per user for the staff pages' session calls), counted in the cache: Redis in
# production, so all processes share the budget (api/throttling.py). "<n>/s", "<n>/min" or "<n>/hour".
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/min")
# Idempotency keys are kept 24 hours (api/idempotency.py); older ones are deleted every hour.
CELERY_BEAT_SCHEDULE["api-idempotency-purge"] = {"task": "api.tasks.idempotency_keys_purge", "schedule": 3600.0}

# --- IM switch (docs/imsubsystem.md) -----------------------------------------------------------
# Inbox credentials are encrypted with a key derived from this (SECRET_KEY when empty).
CREDENTIALS_KEY = env.str("CREDENTIALS_KEY", default="")
CREDENTIALS_KEY_FALLBACKS = env.list("CREDENTIALS_KEY_FALLBACKS", default=[])
# A customer writing within this many seconds of a close reopens that conversation; later, a new one.
IM_REOPEN_WINDOW_S = env.int("IM_REOPEN_WINDOW_S", default=900)
# Check every frame the switch publishes (imsubsystem/services/publish.py) and every frame a socket sends
# (interface/sockets/base.py) against imsubsystem/frames.py, and raise on one that is undeclared or
# malformed. On in the tests (tests/test.env); off in production, where it
# would cost every frame a walk of its declaration.
IM_FRAME_CHECK = env.bool("IM_FRAME_CHECK", default=False)
IM_MAX_TEXT_LENGTH = 4000
# How often /ws/v1/supervisor/ sends a queue.stats frame (the supervisor app's statistics service).
IM_QUEUE_STATS_INTERVAL_S = env.float("IM_QUEUE_STATS_INTERVAL_S", default=2.0)
# Message batches one process has in the database at once (imsubsystem/batching.py): on MySQL two, so one
# is built while the other waits for MySQL (docs/performance.md: p99 halved at 2,000 msg/s); on SQLite one
# (it has one writer at a time).
IM_BATCH_WORKERS = env.int("IM_BATCH_WORKERS", default=2 if PRODUCTION else 1)
# A serving process freezes what survives each full garbage collection and collects in full this often
# (config/gc_policy.py; 0: CPython's defaults).
GC_FULL_COLLECT_EVERY_S = env.float("GC_FULL_COLLECT_EVERY_S", default=300.0)
# How long a serving process's event loop may hold the GIL while the message batch's thread waits for it
# after each round trip to MySQL (CPython's default is 5 ms: a batch makes about ten round trips, so a
# busy loop made each batch wait up to 50 ms; docs/performance.md).
PYTHON_SWITCH_INTERVAL_S = env.float("PYTHON_SWITCH_INTERVAL_S", default=0.001)
# Channel-layer sends one process runs at once (each holds a Redis connection while it runs).
IM_PUBLISH_CONCURRENCY = env.int("IM_PUBLISH_CONCURRENCY", default=64)
# New widget sessions one address may open a minute. Behind a proxy, daphne runs with --proxy-headers
# so the address is the customer's, not the proxy's (docs/deployment.md).
IM_WIDGET_SESSIONS_PER_MINUTE = env.int("IM_WIDGET_SESSIONS_PER_MINUTE", default=30)
# A widget session unused (no HTTP call, no socket authentication) for this many days is refused with
# auth_failed (reason "expired"); the widget then starts a new one (docs/protocol.md).
IM_WIDGET_SESSION_IDLE_DAYS = env.int("IM_WIDGET_SESSION_IDLE_DAYS", default=30)

# --- Automatic responses (docs/bots.md) --------------------------------------------------------
# A bot turn past the soft limit hands the customer to a person; the watchdog does the same for a
# message no worker answered within BOTS_REPLY_TIMEOUT_S (longer than the hard limit, soft + 10 s).
BOTS_SOFT_TIME_LIMIT_S = env.int("BOTS_SOFT_TIME_LIMIT_S", default=10)
BOTS_REPLY_TIMEOUT_S = env.int("BOTS_REPLY_TIMEOUT_S", default=30)
CELERY_BEAT_SCHEDULE["bots-watchdog"] = {"task": "bots.tasks.bot_watchdog", "schedule": 10.0}
# Idle reminders and auto-close, and queue position messages.
CELERY_BEAT_SCHEDULE["bots-timers"] = {"task": "bots.tasks.bots_timers", "schedule": 30.0}
