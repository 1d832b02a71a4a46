"""What the loss-coverage services share: the short name of a set of ids in an idempotency key."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def digest(ids: Iterable[int]) -> str:
    """A short, stable name for a set of ids (an idempotency key holds at most 200 characters)."""
    ids = sorted(ids)
    return f"{ids[0]}-{ids[-1]}:{len(ids)}:" + hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]
