"""Settings shared by every environment; not meant to be run by itself.

Choose one overlay with DJANGO_SETTINGS_MODULE:

- ``config.settings.production``, the default of manage.py, the WSGI/ASGI applications
  and the Celery app: it refuses to start without a strong SECRET_KEY and ALLOWED_HOSTS;
- ``config.settings.local``, the embedded default, asked for by name (``bin/run`` does):
  a machine of your own, with no server needed;
- ``config.settings.test``, the test suite's.

The database and the broker follow DATABASE_URL and REDIS_URL (or CELERY_BROKER_URL) in
every one; unset, they are SQLite in ``var/`` and a Celery transport on the file system.
See the README's configuration table and docs/operations.md.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VITALS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# SECRET_KEY and ALLOWED_HOSTS are each overlay's: production requires them.
DEBUG = env_bool("DEBUG", default=False)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "axes",
    "csp",
    "accounts",
    "contacts",
    "scoring",
    "notifications",
    "renewals",
    "playbooks",
    "workspace",
    "samples",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it inspects the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'vitals.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; the busy timeout makes
    # concurrent writers wait instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# Parallel workers a web request's query may use on PostgreSQL (config/wsgi.py).
VITALS_WEB_PARALLEL_WORKERS = env_int("VITALS_WEB_PARALLEL_WORKERS", 0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    # django-axes first, so a locked-out username or address never reaches the password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security baseline (production.py tightens the transport-level parts) ----------

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# django-axes: lock out from the 5th failed attempt for a username or for an address.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A good log-in forgets that user name's failures only (config.security.LockoutHandler).
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "config.security.LockoutHandler"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = env_bool("AXES_ENABLED", default=True)
# How many reverse proxies (nginx, a load balancer) sit in front of the web process and
# append to X-Forwarded-For; 0 when clients connect directly. See config/security.py.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"

# django-csp: every script and style is served from our own origin (htmx vendored).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Email ---------------------------------------------------------------------------

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Vitals <vitals@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The address people open Vitals at: the links of emails (the daily digest) start with it.
VITALS_SITE_URL = env_str("VITALS_SITE_URL", "http://localhost:8000")
SLACK_DEFAULT_WEBHOOK_URL = env_str("SLACK_DEFAULT_WEBHOOK_URL", "")

# --- Celery ----------------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "")
# The embedded default passes messages through files under var/celery: no server needed.
_FILESYSTEM_BROKER = "filesystem://"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or _FILESYSTEM_BROKER)
if CELERY_BROKER_URL == _FILESYSTEM_BROKER:
    _queue_dir = VAR_DIR / "celery" / "queue"
    _processed_dir = VAR_DIR / "celery" / "processed"
    # The exchange tables too: kombu's default is ./control in the working directory.
    _control_dir = VAR_DIR / "celery" / "control"
    for _dir in (_queue_dir, _processed_dir, _control_dir):
        _dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "control_folder": str(_control_dir),
        "store_processed": False,
        # How often an idle worker looks for messages (kombu's default is every second,
        # which adds up to a second to every task when prefetching one at a time).
        "polling_interval": 0.1,
    }
# Every task's time budget: the worker kills a task still running after the hard limit
# (a chunk of 5,000 accounts takes a second or two; the periodic ticks bound their own
# work well below it). A task cut off is simply done again: every task is idempotent.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 10 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 9 * 60)
# The longest countdown of any retry (the transient database errors' back-off): longer
# waits, such as a failing delivery's, are kept in the database and sent when due.
RETRY_COUNTDOWN_MAX = 60
if CELERY_BROKER_URL != _FILESYSTEM_BROKER:
    # Redis hands a message whose worker died (unacknowledged) to another worker after
    # this many seconds. It must exceed the time budget of every task and the longest
    # retry countdown, or Redis would deliver a healthy running (or waiting) task a
    # second time. Recovery within a minute does not depend on it: lost chunks, steps
    # and deliveries are found in the database (docs/operations.md, "Faults").
    _visibility = env_int("CELERY_VISIBILITY_TIMEOUT", 15 * 60)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _visibility}
    if _visibility <= CELERY_TASK_TIME_LIMIT + RETRY_COUNTDOWN_MAX:
        raise ImproperlyConfigured(
            f"CELERY_VISIBILITY_TIMEOUT={_visibility} must be above CELERY_TASK_TIME_LIMIT"
            f" + {RETRY_COUNTDOWN_MAX} s ({CELERY_TASK_TIME_LIMIT + RETRY_COUNTDOWN_MAX}),"
            " or Redis would deliver running tasks a second time."
        )
# We never read task results: state lives in our own tables (runs, deliveries).
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
# JSON only: tasks take ids and ISO strings, never pickled objects.
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Acknowledge after the task has run, and requeue when a worker is lost, so a killed
# worker's message is delivered again. Safe because every task is idempotent.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: a chunk in flight is never hoarded by a busy worker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Separate installs (or test runs) sharing one Redis keep apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "vitals")

# --- REST API -------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Token auth, scopes and throttling: accounts/authentication.py (by path: config
    # imports no app); parsing and paging: config/api.py. Every API view
    # declares the scope each of its methods needs (``required_scopes``); its query
    # parameters are held to the schema (config/api_query.py).
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "accounts.authentication.HasScopes",
        "config.api_query.QueryMatchesSchema",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.authentication.TokenRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["config.api.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPagination",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
}
# Requests per token; "N/s", "N/min", "N/hour" or "N/day".
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "1000/min")
if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", API_THROTTLE_RATE):
    raise ImproperlyConfigured(
        f"API_THROTTLE_RATE={API_THROTTLE_RATE!r} is not a rate such as 1000/min."
    )
# The largest request body accepted (pages and API alike); the API answers 413 beyond it.
# 10 MB is over ten times a full batch: 1,000 accounts with every field filled come to
# about 0.46 MB of JSON, 5,000 signals to about 0.78 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Vitals API",
    "DESCRIPTION": "Accounts, signals, health scores, tasks and configuration. "
    "Authenticate with `Authorization: Bearer <token>`; see docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page are public (they describe, they reveal no data), and
    # never fail on a stale token a browser might send.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Separate request and response components: read-only fields stay out of requests.
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files come from the drf-spectacular-sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": False, "displayOperationId": False},
    # Choice sets shared by several fields, or whose field names clash, named once.
    "ENUM_NAME_OVERRIDES": {
        "PriorityEnum": "playbooks.models.Priority",
        "StepKindEnum": "playbooks.models.PlaybookStep.Kind",
        "ScoringModelKindEnum": "scoring.models.ScoringModel.Kind",
        "RiskLevelEnum": "accounts.models.RiskLevel",
        "TouchKindEnum": "contacts.models.Touch.Kind",
        "OutcomeKindEnum": "renewals.models.RenewalOutcome.Kind",
    },
}

# --- Cache ---------------------------------------------------------------------------
# The API throttle counts requests here, so it must be shared by every web process:
# Redis when there is one; the embedded default runs a single web process.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "vitals",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Logging --------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- Vitals ---------------------------------------------------------------------------

VITALS_ACCOUNTS_PER_PAGE = env_int("VITALS_ACCOUNTS_PER_PAGE", 25)
# Tasks each section of the queue (/tasks/) shows at a time; "Show more" gives the next.
VITALS_QUEUE_SECTION_ROWS = env_int("VITALS_QUEUE_SECTION_ROWS", 25)
# Lists count their rows exactly up to this many; beyond, PostgreSQL's estimate is shown
# as "about N" (accounts.pagination).
VITALS_LIST_EXACT_COUNT = env_int("VITALS_LIST_EXACT_COUNT", 10000)
# Accounts per recompute chunk: one transaction and one task each.
VITALS_RECOMPUTE_CHUNK_SIZE = env_int("VITALS_RECOMPUTE_CHUNK_SIZE", 5000)
# A run whose chunks are neither claimed, finished nor sent for this long, with none
# being scored, lost its messages: the watchdog (every 10 s) sends them again.
VITALS_RECOMPUTE_STALL_AFTER = env_int("VITALS_RECOMPUTE_STALL_AFTER", 20)
# Backtests and what-ifs run as jobs on the workers (scoring.analysis.jobs). A running
# job whose worker has not reported for this many seconds is taken again by the next
# message (the watchdog sends one every 10 s), up to VITALS_ANALYSIS_MAX_ATTEMPTS
# claims; then it is marked failed.
VITALS_ANALYSIS_STALL_AFTER = env_int("VITALS_ANALYSIS_STALL_AFTER", 30)
VITALS_ANALYSIS_MAX_ATTEMPTS = env_int("VITALS_ANALYSIS_MAX_ATTEMPTS", 3)
# Accounts scored as of a past date per step of a backtest (one progress report each).
VITALS_BACKTEST_CHUNK_SIZE = env_int("VITALS_BACKTEST_CHUNK_SIZE", 2000)
# A scheduled full recompute that finds one of its own trigger begun less than this
# many seconds ago is the same slot's (a second beat) and starts nothing.
VITALS_RECOMPUTE_MIN_INTERVAL = env_int("VITALS_RECOMPUTE_MIN_INTERVAL", 300)
# A computation whose score falls this many points below the previous one records a
# score-drop event.
VITALS_SCORE_DROP_POINTS = env_int("VITALS_SCORE_DROP_POINTS", 10)
# PostgreSQL: monthly partitions of the score history made this many months ahead by the
# daily history job (scoring.partitions); a month without one writes to the default
# partition until the job makes it.
VITALS_HISTORY_PARTITIONS_AHEAD = env_int("VITALS_HISTORY_PARTITIONS_AHEAD", 3)

# --- Playbooks ------------------------------------------------------------------------

# Celery tasks (by name) that the recompute sends when a run finishes, so that its band
# changes and score drops become playbook runs at once rather than at the next tick.
# Names, not imports: scoring does not know the apps that consume its events.
VITALS_AFTER_RECOMPUTE_TASKS = env_list(
    "VITALS_AFTER_RECOMPUTE_TASKS",
    ["playbooks.tasks.process_score_events", "notifications.tasks.notify_score_events"],
)
# A due step or delivery sent to the workers this long ago (seconds) and still not
# handled (its message lost with a worker or a restarted broker, or stuck behind a long
# queue) is done by the periodic tick itself, for up to VITALS_PLAYBOOK_DRAIN_SECONDS
# per tick.
# The tick runs every 15 s, one at a time: 30 s + a tick finds a lost message's work
# well within a minute, and the drain ends before the next tick is due.
VITALS_PLAYBOOK_REDISPATCH_AFTER = env_int("VITALS_PLAYBOOK_REDISPATCH_AFTER", 30)
VITALS_PLAYBOOK_DRAIN_SECONDS = env_int("VITALS_PLAYBOOK_DRAIN_SECONDS", 10)
# Outbound email, Slack and webhook deliveries: attempts in all, the first back-off
# (doubling after each failure, capped) and the timeout of each HTTP request, in seconds.
VITALS_DELIVERY_MAX_ATTEMPTS = env_int("VITALS_DELIVERY_MAX_ATTEMPTS", 8)
VITALS_DELIVERY_BACKOFF = env_int("VITALS_DELIVERY_BACKOFF", 30)
VITALS_DELIVERY_BACKOFF_MAX = env_int("VITALS_DELIVERY_BACKOFF_MAX", 3600)
VITALS_DELIVERY_TIMEOUT = env_int("VITALS_DELIVERY_TIMEOUT", 5)
# Webhooks and Slack posts go to public addresses only (playbooks.egress); these
# networks (CIDRs, comma-separated) are allowed too: a receiver on the LAN, or
# 127.0.0.0/8 for local development. Loopback, private, link-local (the cloud metadata
# service) and other non-public addresses are refused otherwise.
VITALS_OUTBOUND_ALLOWED_NETWORKS = env_list("VITALS_OUTBOUND_ALLOWED_NETWORKS")
for _network in VITALS_OUTBOUND_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"VITALS_OUTBOUND_ALLOWED_NETWORKS: {_network!r} is not a network such as 10.0.0.0/8."
        ) from None
