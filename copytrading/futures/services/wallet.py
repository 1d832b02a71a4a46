"""The venue's say on money leaving a trading account, registered with ``accounts.hooks``."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import LedgerAccount
from copytrading.futures.models import Position, PositionStatus
from copytrading.futures.risk import cross_state, open_cross_positions
from copytrading.futures.services.orders import TRADING_KINDS
from copytrading.futures.services.risk import account_risk_refresh


def wallet_withdrawable(account: LedgerAccount) -> Decimal | None:
    """What may leave a trading account: its cross available balance (margin in use and losses stay)."""
    if account.kind not in TRADING_KINDS:
        return None
    positions = open_cross_positions(account.pk)
    if not positions:
        return None
    return max(cross_state(account, positions).available, Decimal(0))


def wallet_changed(account: LedgerAccount) -> None:
    """A trading account's balance changed: its cross liquidation prices move."""
    if (
        account.kind in TRADING_KINDS
        and Position.objects.filter(account_id=account.pk, status=PositionStatus.OPEN).exists()
    ):
        account_risk_refresh(account)
