"""Settings for SmartSpec Autopilot, read from the environment.

One file for every environment: the defaults give a single-machine install (SQLite in
WAL mode, django-q2's ORM broker, no Redis); `DATABASE_URL` and `REDIS_URL` switch to
PostgreSQL and Redis. A bad value fails loudly at start-up.
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false).")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def envfloat(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if not math.isfinite(value) or value < 0:
        raise ImproperlyConfigured(f"{name}={raw!r} must be a finite number, 0 or more.")
    return value


def envchoice(name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    raw = envstr(name, default).strip()
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} is not one of: {', '.join(choices)}.")
    return value


def envlist(name: str, default: list[str], sep: str = ",") -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(sep) if item.strip()]


# --- Where the app keeps its own files --------------------------------------------------

DATA_DIR = Path(envstr("SMARTSPEC_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# A project's workspace must resolve inside DATA_DIR or one of these directories.
WORKSPACE_ROOTS = [Path(p).resolve() for p in envlist("WORKSPACE_ROOTS", [], sep=":")]


def _secret_key() -> str:
    key = envstr("SECRET_KEY")
    if key:
        return key
    # A single-machine install keeps a generated key next to its database, so sessions
    # and signed approval links survive restarts without anyone choosing a key.
    key_file = DATA_DIR / "secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "ninja",  # its Swagger UI's static files, for /api/v1/docs
    "accounts",
    # Before django_q: its `qcluster` command adds the engine's supervisor.
    "workflows",
    "django_q",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "workflows.observability.logging.RequestIdMiddleware",
    "workflows.observability.metrics.RequestLatencyMiddleware",
    # On SQLite, one write request at a time per process (its time waiting counts in the latency).
    "workflows.writes.OneWriterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "accounts.middleware.StaffOnlyAdminMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentTeamMiddleware",
]

ROOT_URLCONF = "smartspec.urls"
WSGI_APPLICATION = "smartspec.wsgi.application"
ASGI_APPLICATION = "smartspec.asgi.application"

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
                "django.template.context_processors.i18n",
                "accounts.context_processors.teams",
                "workflows.context_processors.navigation",
            ],
        },
    },
]

# --- Databases ----------------------------------------------------------------------------

# WAL lets readers and one writer work at once; IMMEDIATE transactions take the write lock
# up front so two processes never deadlock upgrading a read lock; the busy timeout makes a
# writer wait for the lock instead of failing with "database is locked".
SQLITE_OPTIONS: dict[str, Any] = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"),
}


def _database(url: str, test_name: Path) -> dict[str, Any]:
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    except Exception as exc:  # dj-database-url raises several kinds for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} is not a database URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
        # Worker processes in tests open the same file, so tests never use :memory:.
        config["TEST"] = {"NAME": str(test_name)}
    else:
        # A connection is checked before a request uses it, so a restarted server costs no
        # failed request.
        config["CONN_HEALTH_CHECKS"] = True
        # Parameters travel apart from the SQL, so PostgreSQL can prepare the statements a
        # connection runs again and again (psycopg prepares one on its fifth run): those
        # then skip parsing and planning, which costs more than running them.
        config["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
    if envbool("DB_PERSISTENT"):
        # Each thread keeps its connection from one request to the next instead of opening
        # one per request. Web processes turn this on (smartspec.web): their request
        # threads live as long as the process (smartspec.http). Never for qcluster, whose
        # forked workers would share their parent's connections.
        config["CONN_MAX_AGE"] = None
    return config


DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
DATABASES = {"default": _database(DATABASE_URL, DATA_DIR / "test-db.sqlite3")}
USING_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL")

if REDIS_URL or not USING_SQLITE:
    QUEUE_DATABASE = "default"
else:
    # django-q2's ORM broker polls its queue table several times a second; a second SQLite
    # file keeps that polling from ever contending with run writes.
    QUEUE_DATABASE = "queue"
    QUEUE_DB_PATH = envstr("SMARTSPEC_QUEUE_DB", str(DATA_DIR / "queue.sqlite3"))
    DATABASES["queue"] = _database(f"sqlite:///{QUEUE_DB_PATH}", DATA_DIR / "test-queue.sqlite3")
DATABASE_ROUTERS = ["smartspec.routers.QueueRouter"]

# --- Web processes ------------------------------------------------------------------------

# `manage.py serve` starts this many daphne processes on one listening socket. One daphne
# runs Python on one CPU at a time; on a machine with more cores, more processes serve more
# requests at once. Pages and websockets work across them (events come from the database,
# or wake-ups through Redis).
WEB_PROCESSES = envint("WEB_PROCESSES", 1)
# Threads per web process that run HTTP requests (smartspec.http). A request holds one
# while it runs, database waits included; websockets need none.
WEB_THREADS = envint("WEB_THREADS", 8)

# --- Queue, channel layer, cache ----------------------------------------------------------

Q_CLUSTER: dict[str, Any] = {
    # The queue's name (a Redis key prefix): separate installs can share one Redis.
    "name": envstr("Q_NAME", "smartspec"),
    "workers": envint("Q_WORKERS", 2),
    "timeout": envint("Q_TIMEOUT", 3600),
    "retry": envint("Q_TIMEOUT", 3600) + 60,  # django-q2 needs retry > timeout
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.1,
    "save_limit": 1000,
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = QUEUE_DATABASE

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": envstr("CHANNELS_PREFIX", "smartspec")},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("CACHE_PREFIX", "smartspec"),
        }
    }
else:
    # Without Redis, worker events reach pages through the event table (see
    # docs/architecture.md); the in-memory layer only serves one daphne process.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Auth, sessions, security ------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The first hasher hashes new passwords; the others still verify (and upgrade) old hashes.
PASSWORD_HASHERS = envlist(
    "PASSWORD_HASHERS",
    [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ],
)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG and envbool("HTTPS", False))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if envbool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

# --- Email ---------------------------------------------------------------------------------

EMAIL_HOST = envstr("EMAIL_HOST")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "SmartSpec Autopilot <autopilot@localhost>")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
# Links in emails need an absolute address; the request is not there when a worker sends.
SITE_URL = envstr("SITE_URL", f"http://127.0.0.1:{envint('PORT', 8000)}").rstrip("/")

# --- Internationalisation ------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("th", "ไทย")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files --------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app directories when collectstatic has not run (tests, DEBUG).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Logging -------------------------------------------------------------------------------

# One JSON object per line from web and worker processes (workflows/observability/logging.py):
# timestamp, level, logger, event, and request_id / user / run_id / step_id where known.
# LOG_FORMAT=console renders the same lines as key=value text for people.
LOG_LEVEL = envchoice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True)
LOG_FORMAT = envchoice("LOG_FORMAT", "json", ("json", "console"))
LOGGING_CONFIG = "workflows.observability.logging.configure"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "workflows.observability.logging.formatter", "fmt": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Listed to drop Django's own console handler, which would print lines twice.
        "django": {"level": LOG_LEVEL},
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# /metrics answers staff (session or bearer token) and these addresses or networks.
METRICS_ALLOWED_IPS = envlist("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS has {_network!r}, which is not an IP address or network."
        ) from None

# --- Product settings ------------------------------------------------------------------------

DEMO_PASSWORD = envstr("DEMO_PASSWORD", "smartspec-demo")
# Seconds the demo agent waits between the lines it prints, so people can watch a run go.
DEMO_AGENT_PAUSE = envfloat("DEMO_AGENT_PAUSE", 0.4)

# Rate-limit tiers (accounts/ratelimits.py). Counters live in a cache every web process
# shares: Redis when configured; otherwise a file cache under the data directory, which all
# web processes on this machine share (a per-process cache would multiply every limit by
# WEB_PROCESSES; smartspec/checks.py refuses that).
RATELIMITS = {
    "strict": envstr("RATELIMIT_STRICT", "10/m"),
    "moderate": envstr("RATELIMIT_MODERATE", "30/m"),
    "relaxed": envstr("RATELIMIT_RELAXED", "100/m"),
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = envbool("RATELIMIT_ENABLE", True)
CACHES["ratelimit"] = (
    CACHES["default"]
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "ratelimit"),
    }
)

# The engine (docs/architecture.md): how long a worker's claim on a step lasts without a
# heartbeat, when a queued step's message counts as lost, and the retry backoff base.
STEP_LEASE_SECONDS = envint("STEP_LEASE_SECONDS", 30)
STEP_RESEND_AFTER_SECONDS = envint("STEP_RESEND_AFTER_SECONDS", 60)
STEP_RETRY_BACKOFF_SECONDS = envfloat("STEP_RETRY_BACKOFF_SECONDS", 2.0)
SUPERVISOR_INTERVAL_SECONDS = envfloat("SUPERVISOR_INTERVAL_SECONDS", 1.0)
# An approval link without a gate deadline expires after this long.
APPROVAL_LINK_MAX_AGE_SECONDS = envint("APPROVAL_LINK_MAX_AGE_SECONDS", 7 * 86400)
# How shell and agent steps' processes are confined (workflows/engine/executors/sandbox.py):
# auto (bubblewrap when it works here, else none), bwrap (required), or none.
STEP_SANDBOX = envchoice("STEP_SANDBOX", "auto", ("auto", "bwrap", "none"))
