"""Row locks for the money tables, always taken in one global order.

Every writer that touches several accounts locks them through here: user
accounts first, by primary key, then platform accounts (house, fees,
insurance…), by primary key. Two transfers in opposite directions queue on the
same first row instead of deadlocking, and a transaction that already holds a
hot platform row never waits for a user row, so services may lock a user's
accounts up front and post several entries afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import Hold, LedgerAccount, Withdrawal


def lock_accounts(account_ids: Iterable[int]) -> dict[int, LedgerAccount]:
    ids = sorted(set(account_ids))
    rows = LedgerAccount.objects.filter(pk__in=ids).order_by("pk").select_for_update()
    users = {a.pk: a for a in rows.filter(owner__isnull=False)}
    platform = {a.pk: a for a in rows.filter(owner__isnull=True)} if len(users) < len(ids) else {}
    return {**users, **platform}


def lock_hold(hold_id: int) -> Hold:
    return Hold.objects.select_for_update().get(pk=hold_id)


def lock_withdrawal(withdrawal_id: int) -> Withdrawal:
    return Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
