"""Row locks for the money tables, always taken in primary-key order.

Every writer that touches several accounts locks them through here, so two
transfers in opposite directions queue on the same first row instead of
deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import Hold, LedgerAccount, Withdrawal


def lock_accounts(account_ids: Iterable[int]) -> dict[int, LedgerAccount]:
    ids = sorted(set(account_ids))
    return {a.pk: a for a in LedgerAccount.objects.filter(pk__in=ids).order_by("pk").select_for_update()}


def lock_hold(hold_id: int) -> Hold:
    return Hold.objects.select_for_update().get(pk=hold_id)


def lock_withdrawal(withdrawal_id: int) -> Withdrawal:
    return Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
