"""Extension points of the copy engine, for the apps built on it (vouchers, protection).

- **following stopped** — ``fn(following=…)`` runs inside the transaction that
  settled a stopping following and returned its funds (status ``stopped``), once
  per following; its writes commit or roll back with the stop. (Experience-voucher
  funds left in the sub-account go back to their campaign, R-XV-02.)

Listeners register in their ``AppConfig.ready``; a registration is idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from copytrading.models import Following

FollowingStopped = Callable[..., None]  # (*, following: Following) -> None

_following_stopped: list[FollowingStopped] = []


def register_following_stopped(fn: FollowingStopped) -> None:
    if fn not in _following_stopped:
        _following_stopped.append(fn)


def unregister_following_stopped(fn: FollowingStopped) -> None:
    if fn in _following_stopped:
        _following_stopped.remove(fn)


def following_stopped(*, following: Following) -> None:
    for fn in _following_stopped:
        fn(following=following)
