"""Settings for the gateway's web process and backend Celery worker.

Every knob comes from the environment (see `.env.example`), read with django-environ, which rejects
malformed values at start. With nothing set the embedded default runs on one machine: SQLite in WAL
mode, Celery's `filesystem://` broker, a file-based cache and local media, all under `data/`.
With `DATABASE_URL` and `REDIS_URL` set it uses PostgreSQL, and Redis as broker and cache.
"""

from __future__ import annotations

import environ

from gateway.settings.base import BASE_DIR, DATA_DIR, ENV_FILE, env  # noqa: E402,F401
from node_agent.broker import broker_settings, result_backend_url

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and env.bool("REQUIRE_SECRET_KEY", default=False):
        raise environ.ImproperlyConfigured("SECRET_KEY must be set")
    # Embedded default: a per-install key kept under data/, never a constant in the code.
    _key_file = DATA_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "gateway",
    "accounts",
    "workers_app",
    "sessions_app",
    "billing",
    "axes",
    "csp",
]

MIDDLEWARE = [
    # First: a body over its route's cap is refused before anything reads it (gateway.bodylimits).
    "gateway.bodylimits.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]
# The chain of a request to /api/ authenticated by its key or node token (gateway/wsgi.py).
API_MIDDLEWARE = [
    "gateway.bodylimits.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
]

ROOT_URLCONF = "gateway.urls"
WSGI_APPLICATION = "gateway.wsgi.application"

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
                "billing.context_processors.quota_banner",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'gateway.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on the busy timeout instead of failing "database is locked" mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT_S", default=20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# Connections are kept across requests and tasks: opening one (and, for SQLite, its PRAGMAs)
# cost each request and each webhook attempt a few milliseconds.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE_S", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# UsageRecord's unique constraint treats NULLs as equal (PostgreSQL 15+). SQLite cannot, but the
# embedded default serializes writers (IMMEDIATE transactions), so the update-then-insert in
# billing.services cannot race there.
SILENCED_SYSTEM_CHECKS = ["models.W047"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out address at once
    "django.contrib.auth.backends.ModelBackend",
]
# E-mail (password reset). EMAIL_URL as django-environ reads it, e.g. smtp+tls://user:pw@host:587;
# without it, each mail is a file under DATA_DIR/mail (the embedded default: nothing to set up,
# and a reset link never lands in a log).
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="WhatsApp Gateway <gateway@localhost>")
# A sign-up is finished by a link mailed to its address, so the sign-up form never tells whether
# an address is registered (accounts.signup). On by default wherever mail goes out (EMAIL_URL);
# the embedded default, with no mail server, logs a new user in at once.
SIGNUP_EMAIL_VERIFICATION = env.bool("SIGNUP_EMAIL_VERIFICATION", default=bool(EMAIL_URL))
SIGNUP_LINK_MAX_AGE_S = env.int("SIGNUP_LINK_MAX_AGE_S", default=3 * 24 * 3600)

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "sessions:list"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Redis, cache, broker -------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CACHES = {
    "default": env.cache_url(
        "CACHE_URL",
        default=REDIS_URL or f"filecache://{DATA_DIR / 'cache'}",
    )
}
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="wag")

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_FOLDER = env.str("CELERY_BROKER_FOLDER", default=str(DATA_DIR / "broker"))
_celery = broker_settings(
    CELERY_BROKER_URL,
    folder=CELERY_BROKER_FOLDER,
    visibility_timeout_s=env.int("CELERY_VISIBILITY_TIMEOUT_S", default=600),
    key_prefix=env.str("CELERY_BROKER_KEY_PREFIX", default=""),
)
CELERY_BROKER_TRANSPORT_OPTIONS = _celery["broker_transport_options"]
CELERY_BROKER_TRANSPORT = _celery.get("broker_transport")
CELERY_TASK_ACKS_LATE = True  # so every task must be idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Results carry only the node's answers to RPC tasks (`messages_list`, `check_number`): Redis when
# REDIS_URL is set, else files under DATA_DIR that the node agents on this machine also write.
CELERY_RESULT_BACKEND = result_backend_url(
    env.str(
        "CELERY_RESULT_BACKEND",
        default=REDIS_URL or f"file://{(DATA_DIR / 'celery-results').resolve()}",
    )
)
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES_S", default=300)
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    # An RPC waits at most NODE_RPC_TIMEOUT_S anyway: don't retry a lost result store for long.
    "retry_policy": {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
}
if "global_keyprefix" in _celery["broker_transport_options"]:
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["global_keyprefix"] = _celery[
        "broker_transport_options"
    ]["global_keyprefix"]
NODE_RPC_TIMEOUT_S = env.float("NODE_RPC_TIMEOUT_S", default=10.0)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TASK_ROUTES = {
    "workers_app.tasks.check_node_health": {"queue": "default"},
    "sessions_app.webhooks.tasks.deliver_webhook": {"queue": "webhooks"},
    "sessions_app.webhooks.tasks.deliver_webhooks": {"queue": "webhooks"},
    "sessions_app.webhooks.tasks.sweep_webhooks": {"queue": "webhooks"},
    "sessions_app.webhooks.tasks.prune_webhook_events": {"queue": "default"},
    "sessions_app.messages.tasks.republish_messages": {"queue": "default"},
    "sessions_app.sessions.tasks.fail_stalled_sessions": {"queue": "default"},
    "billing.tasks.close_statements": {"queue": "default"},
}
# node_agent tasks have no static route: each goes to its session's node, node.<workerId>.

# --- Nodes ----------------------------------------------------------------------------------
WORKER_AUTH_TOKEN = env.str("WORKER_AUTH_TOKEN", default="")
WORKER_HEARTBEAT_INTERVAL = env.float("WORKER_HEARTBEAT_INTERVAL", default=30.0)
WORKER_HEALTH_CHECK_INTERVAL = env.float("WORKER_HEALTH_CHECK_INTERVAL", default=30.0)
WORKER_MISSED_HEARTBEATS = env.int("WORKER_MISSED_HEARTBEATS", default=3)
# A node that missed its heartbeats is asked on its health URL before it is declared OFFLINE.
WORKER_HEALTH_PROBE_TIMEOUT_S = env.float("WORKER_HEALTH_PROBE_TIMEOUT_S", default=2.0)
CELERY_BEAT_SCHEDULE = {
    "check-node-health": {
        "task": "workers_app.tasks.check_node_health",
        "schedule": WORKER_HEALTH_CHECK_INTERVAL,
    },
}

# --- Sessions and messages ------------------------------------------------------------------
QR_DEFAULT_TTL_S = env.int("QR_DEFAULT_TTL_S", default=60)
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="") or None
MESSAGE_TEXT_MAX_CHARS = env.int("MESSAGE_TEXT_MAX_CHARS", default=4096)
API_KEY_LAST_USED_RESOLUTION_S = env.int("API_KEY_LAST_USED_RESOLUTION_S", default=60)
# A message still `queued` this long (its task lost: broker restart, node crash before the
# hand-off) is published again; the node skips ids it has sent. Past MESSAGE_QUEUED_MAX_AGE_S a
# message whose session is not connected ends `failed` (`session_not_connected`).
MESSAGE_REQUEUE_AFTER_S = env.float("MESSAGE_REQUEUE_AFTER_S", default=60.0)
MESSAGE_REQUEUE_BATCH = env.int("MESSAGE_REQUEUE_BATCH", default=500)
MESSAGE_QUEUED_MAX_AGE_S = env.float("MESSAGE_QUEUED_MAX_AGE_S", default=3600.0)
MESSAGE_SWEEP_INTERVAL_S = env.float("MESSAGE_SWEEP_INTERVAL_S", default=15.0)
# A session INITIALIZING this long without a node report ends FAILED (`start_timeout`).
SESSION_START_TIMEOUT_S = env.float("SESSION_START_TIMEOUT_S", default=60.0)
SESSION_SWEEP_INTERVAL_S = env.float("SESSION_SWEEP_INTERVAL_S", default=15.0)
CELERY_BEAT_SCHEDULE["republish-messages"] = {
    "task": "sessions_app.messages.tasks.republish_messages",
    "schedule": MESSAGE_SWEEP_INTERVAL_S,
}
# Last month's statements are made the first time this runs in a month (billing.statements).
CELERY_BEAT_SCHEDULE["close-statements"] = {
    "task": "billing.tasks.close_statements",
    "schedule": env.float("STATEMENTS_CLOSE_INTERVAL_S", default=3600.0),
}
CELERY_BEAT_SCHEDULE["fail-stalled-sessions"] = {
    "task": "sessions_app.sessions.tasks.fail_stalled_sessions",
    "schedule": SESSION_SWEEP_INTERVAL_S,
}

# The gateway's own address as its users reach it: links it hands out (a received file's URL in
# a webhook) start with it. `make run` sets it to the local address.
PUBLIC_URL = env.str("PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
# A received file's link in a webhook event opens it without an API key for this long: the whole
# retry schedule (about three days) and the replay window (WEBHOOK_REPLAY_WINDOW_DAYS) resend the
# same event, so it must outlive both.
MEDIA_URL_TTL_S = env.int("MEDIA_URL_TTL_S", default=15 * 24 * 3600)

# Let webhooks and media URLs reach loopback and private addresses (local development, tests).
ALLOW_PRIVATE_URLS = env.bool("ALLOW_PRIVATE_URLS", default=False)
# Media given by URL: the download must finish within this time and these bytes (per-type caps
# in sessions_app/media.py apply as well).
MEDIA_DOWNLOAD_TIMEOUT_S = env.float("MEDIA_DOWNLOAD_TIMEOUT_S", default=20.0)
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=100 * 1024 * 1024)
# A JSON body (base64 media included) may be this big; larger files go by URL or multipart upload,
# whose file parts Django streams to disk instead of holding them in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=24 * 1024 * 1024)

from gateway.settings.webhooks import *  # noqa: E402,F403

CELERY_BEAT_SCHEDULE.update(WEBHOOK_BEAT_SCHEDULE)  # noqa: F405
from gateway.settings.limits import *  # noqa: E402,F403
from gateway.settings.metrics import *  # noqa: E402,F403
from gateway.settings.security import *  # noqa: E402,F403

# Where browsers and clients reach the event stream (README "Live event stream"): behind the
# production proxy the web's own origin (set STREAM_URL to PUBLIC_URL); else PUBLIC_URL's host
# on STREAM_PORT. The dashboard's monitor connects to it, so the CSP lets it.
STREAM_URL = env.str("STREAM_URL", default="").rstrip("/")
if not STREAM_URL:
    from urllib.parse import urlsplit as _urlsplit

    _public = _urlsplit(PUBLIC_URL)
    STREAM_URL = f"{_public.scheme}://{_public.hostname}:{STREAM_PORT}"  # noqa: F405
DASHBOARD_CONNECT_SRC.append(STREAM_URL)  # noqa: F405

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "templates" / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(DATA_DIR / "media"))
# Media (sent and received files) go through django-storages: local disk under MEDIA_ROOT by
# default, S3 or MinIO when MEDIA_S3_BUCKET is set.
MEDIA_S3_BUCKET = env.str("MEDIA_S3_BUCKET", default="")
_media_storage: dict = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if MEDIA_S3_BUCKET:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("MEDIA_S3_PREFIX", default="media"),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["gateway.parsers.JSONParser"],
    # OPTIONS would answer DRF's metadata outside the envelope; it is 405 instead.
    "DEFAULT_METADATA_CLASS": None,
    "EXCEPTION_HANDLER": "gateway.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
from gateway.settings.schema import *  # noqa: E402,F403

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # 500s and failed tasks, also in the System log (gateway/error_log.py).
        "system_log": {"class": "gateway.error_log.SystemLogHandler"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # a line per log-in otherwise
        "django.request": {"handlers": ["system_log"]},
        "gateway.errors": {"handlers": ["system_log"]},
        "celery.app.trace": {"handlers": ["system_log"]},
    },
}
