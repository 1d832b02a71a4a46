"""Bulk writes of fills for callers that fill many books in one transaction (the copy fan-out).

A caller locks its books and positions (``lock_objects``), builds positions and
closes in memory with the fill mechanics (``services.fills`` with
``save=False``), posts one compound entry, and hands the results here: the
venue's tables are written only by the venue.
"""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import JournalEntry
from config.db import bulk_update_rows, copy_insert
from copytrading.futures.models import Position, PositionClose, PositionStatus
from copytrading.futures.services.fills import POSITION_CLOSE_FIELDS
from copytrading.futures.services.outbox import events_write

# Everything an open, add or close may change on an existing position.
POSITION_WRITE_FIELDS = sorted(
    {*POSITION_CLOSE_FIELDS, "entry_price", "stop_loss_price", "take_profit_price", "leverage", "guarded"}
)


def positions_write(*, positions: Iterable[Position]) -> None:
    """Insert the new positions (their ids assigned in place) and update the changed ones, in two statements."""
    positions = list(positions)
    existing = [p for p in positions if p.pk is not None]  # before the new ones get their ids
    copy_insert(Position, [p for p in positions if p.pk is None], assign_ids=True)
    bulk_update_rows(Position, existing, POSITION_WRITE_FIELDS)


def closes_write(*, closes: list[PositionClose], entry: JournalEntry | None) -> None:
    """Insert closes booked by ``entry`` (ids assigned in place) and their "position closed" events."""
    for close in closes:
        close.entry = entry
    copy_insert(PositionClose, closes, assign_ids=True)
    events_write(closes)


def slot_guard_set(*, slot: int, guarded: bool) -> int:
    """Mark (or unmark) the open positions of ``slot`` as guarded: the guard listeners check them after sweeps."""
    return Position.objects.filter(slot=slot, status=PositionStatus.OPEN).update(guarded=guarded)
