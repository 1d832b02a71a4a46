"""Local development: DEBUG on, embedded SQLite + filesystem broker unless URLs are set."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
DEMO_ENABLED = env.bool("DEMO_ENABLED", default=True)
DEMO_PRICE_FEED = env.bool("DEMO_PRICE_FEED", default=True)
