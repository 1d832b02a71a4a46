"""Local development: DEBUG on, embedded SQLite + filesystem broker unless URLs are set."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
