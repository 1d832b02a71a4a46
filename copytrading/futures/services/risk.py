"""Keeping the estimated cross liquidation prices on positions current. (R-MG-04, R-MG-06)

The arithmetic lives in ``copytrading.futures.risk``; this module writes its results.
"""

from __future__ import annotations

from collections import defaultdict

from accounts.models import LedgerAccount
from config.db import bulk_update_rows
from copytrading.futures.models import MarginMode, Position, PositionStatus
from copytrading.futures.risk import cross_prices_apply


def account_risk_refresh(wallet: LedgerAccount) -> None:
    """Recompute the liquidation prices of an account's cross positions after its balance or positions changed.

    Call inside the transaction that made the change, with the wallet locked.
    """
    accounts_risk_refresh([wallet])


def accounts_risk_refresh(wallets: list[LedgerAccount]) -> None:
    """``account_risk_refresh`` for many accounts: one read, one bulk write."""
    by_wallet: dict[int, list[Position]] = defaultdict(list)
    for p in (
        Position.objects.filter(
            account_id__in=[w.pk for w in wallets], status=PositionStatus.OPEN, margin_mode=MarginMode.CROSS
        )
        .select_related("market")
        .order_by("pk")
    ):
        by_wallet[p.account_id].append(p)
    changed = []
    for wallet in wallets:
        positions = by_wallet.get(wallet.pk)
        if not positions:
            continue
        changed.extend(cross_prices_apply(wallet, positions))
    if changed:
        bulk_update_rows(Position, changed, ["liquidation_price", "cross_multi"])


