"""Extension points for apps that reserve money on ledger accounts.

The futures venue keeps margin for open positions in a trading account's
balance; a transfer out must not take it, and the positions' liquidation
prices move when the balance does. The accounts app cannot know that, so the
venue registers here (at app start) and the transfer flows ask.

Apps that keep books of their own beside the ledger (a voucher campaign's
budget identity) register an audit check: ``ledger_audit`` runs it and fails
on any problem it reports.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from accounts.models import LedgerAccount

WithdrawableFn = Callable[[LedgerAccount], Decimal | None]
ChangedFn = Callable[[LedgerAccount], None]
AuditCheck = Callable[[], list[dict]]  # the problems found; empty when the books agree

_withdrawable: list[WithdrawableFn] = []
_changed: list[ChangedFn] = []
_audit_checks: dict[str, AuditCheck] = {}


def register_withdrawable(fn: WithdrawableFn) -> None:
    """``fn(account)`` returns how much may leave the (locked) account, or None when it has no say."""
    if fn not in _withdrawable:
        _withdrawable.append(fn)


def register_balance_changed(fn: ChangedFn) -> None:
    """``fn(account)`` runs in the transaction that changed the (locked) account's balance."""
    if fn not in _changed:
        _changed.append(fn)


def withdrawable(account: LedgerAccount) -> Decimal:
    limits = [account.available] + [v for fn in _withdrawable if (v := fn(account)) is not None]
    return min(limits)


def balance_changed(account: LedgerAccount) -> None:
    for fn in _changed:
        fn(account)


def register_audit_check(name: str, check: AuditCheck) -> None:
    """``check()`` returns a list of problems (dicts naming what disagrees); ``ledger_audit`` reports them."""
    _audit_checks[name] = check


def audit_checks() -> dict[str, list[dict]]:
    return {name: check() for name, check in _audit_checks.items()}
