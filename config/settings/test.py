"""The test suite runs against real PostgreSQL and Redis (never SQLite, never mocks)."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-secret-key-not-for-production-use-0123456789"
DEBUG = False
DEMO_ENABLED = True
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/copytrading")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Own Redis databases (broker 2, cache 3): a developer's `make run` on db 0 never sees test messages.
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/2")
# Cache on its own Redis database so a test's cache.clear() never touches the broker.
CACHE_REDIS_URL = env("CACHE_REDIS_URL", default="redis://127.0.0.1:6379/3")
# Keys prefixed by the run's test database, so runs side by side (CI beside a developer) never share
# throttle counters, and each clears only its own keys (tests/conftest.py).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_REDIS_URL,
        "KEY_PREFIX": f"test-{env('TEST_DATABASE_NAME', default='default')}",
    }
}
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT * 2}
# Parallel runs on one server (CI beside a developer) can each take their own test database.
DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME", default=None)}
