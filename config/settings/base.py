"""Settings shared by every environment, read 12-factor style with django-environ.

Without DATABASE_URL / REDIS_URL the platform falls back to an embedded setup that
needs no server (a SQLite file and Celery's filesystem broker), so `make run`
works on a bare machine; with them set it uses PostgreSQL and Redis.
"""

import ipaddress
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "accounts",
    # The copy engine before the venue it builds on: its simulate_market (with the demo's lead trades) wins.
    "copytrading",
    "copytrading.futures",
    "vouchers",
    "protection",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat write side by side: WAL lets readers run during a
    # write, IMMEDIATE transactions take the write lock up front (no upgrade
    # deadlock), and the timeout makes a writer wait instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- Time -----------------------------------------------------------------
# Timestamps are stored in UTC; the platform's day boundaries and schedules
# run in PLATFORM_TIME_ZONE (UTC+8), see accounts/schedules.py.
USE_TZ = True
TIME_ZONE = env("TIME_ZONE", default="UTC")
PLATFORM_TIME_ZONE = env("PLATFORM_TIME_ZONE", default="Asia/Shanghai")
LANGUAGE_CODE = "en-us"
USE_I18N = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- The copy engine -------------------------------------------------------
# Followings per fan-out batch: one transaction and one `copy` task each. A batch
# costs about 25 statements whatever its size, and its followers' rows stay locked
# until it commits: 2,500 holds them about 0.3 s and takes ~60 MB above a worker's
# baseline; a 10,000-follower fill is 4 tasks (bench/README.md compares sizes).
COPY_FANOUT_BATCH = env.int("COPY_FANOUT_BATCH", default=2500)
if COPY_FANOUT_BATCH < 1:
    raise ImproperlyConfigured(f"COPY_FANOUT_BATCH must be a positive number of followings, not {COPY_FANOUT_BATCH}")

# --- The demo ---------------------------------------------------------------
# `seed_demo` loads demo users, money and history only where DEMO_ENABLED is on (dev and
# test; prod forces it off). DEMO_PRICE_FEED lets `make run`'s feed process move the marks.
DEMO_ENABLED = env.bool("DEMO_ENABLED", default=False)
DEMO_PRICE_FEED = env.bool("DEMO_PRICE_FEED", default=False)

# --- Redis, cache, Celery -------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    }
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# The longest task (a settlement batch run) is bounded by this hard limit;
# the broker's visibility timeout must exceed it or a slow task is redelivered
# to a second worker while the first is still running it.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        data_folder_in=str(_broker_dir / "queue"),
        data_folder_out=str(_broker_dir / "queue"),
        processed_folder=str(_broker_dir / "processed"),
        control_folder=str(_broker_dir / "control"),
        store_processed=False,
    )
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)

# --- Client addresses ------------------------------------------------------
# Our own reverse proxies (IP addresses or CIDR networks). Only the X-Forwarded-For
# entries they appended are believed (accounts/client_address.py); with none set the
# header is ignored, since any client can send one.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from None

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "auth": env("THROTTLE_AUTH", default="20/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
    # Trust X-Forwarded-For only from this many proxies in front of the app;
    # otherwise a client could pick its own throttle identity.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Copy-trading platform API",
    "DESCRIPTION": (
        "USDT-margined futures copy trading. Money is a decimal string with at most "
        "8 decimal places; every money-moving POST takes an `Idempotency-Key` header. "
        'Errors are `{"code", "detail", "fields"}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"TransferableAccountKind": "accounts.services.flows.TRANSFERABLE_KINDS"},
    # Tags come from the path below this prefix (config.openapi.AutoSchema), one per resource.
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "TAGS": [
        {"name": "auth", "description": "Sign up, log in for an API token, log out, and the signed-in user."},
        {"name": "accounts", "description": "Your spot and futures accounts, their records, transfers, withdrawals."},
        {"name": "markets", "description": "Markets and mark prices (public), your leverage and margin mode."},
        {"name": "orders", "description": "Market orders of your futures account, filled at the mark price."},
        {"name": "positions", "description": "Your futures positions: close, isolated margin, take-profit, stop-loss."},
        {"name": "traders", "description": "Lead traders: apply to lead, the public list, leaderboard and stats."},
        {"name": "followings", "description": "Copy a lead trader: start, fund, set up, withdraw, stop, statistics."},
        {"name": "vouchers", "description": "Voucher campaigns and the vouchers that cover your followings' losses."},
        {"name": "protection", "description": "Capital-protected programs backed by a lead trader's collateral."},
        {"name": "ops", "description": "Operators only: deposits, withdrawal reviews, markets, prices, leads, jobs."},
    ],
    # Declared tags no operation carries yet (vouchers, protection) would show as empty sections.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.openapi.unused_tags_drop"],
    # Swagger UI and Redoc from the installed drf_spectacular_sidecar, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge from the public online validator: it would call out with the schema's URL.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
