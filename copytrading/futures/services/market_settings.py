"""An account's leverage and margin mode per market. (R-MG-03)"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from accounts.models import LedgerAccount
from config.errors import InvalidInput, RuleViolation
from copytrading.futures import hooks
from copytrading.futures.lock_objects import lock_books
from copytrading.futures.models import MarginMode, Market, MarketSetting, Position, PositionStatus
from copytrading.futures.selectors import market_setting_get


def market_setting_set(
    *, account: LedgerAccount, market: Market, leverage: int | None = None, margin_mode: str | None = None
) -> MarketSetting:
    """Change leverage (1 … market maximum) and/or margin mode.

    The mode cannot change while the account has an open position in the
    market. A new leverage applies to what is opened after it; positions keep
    the margin they were opened with, so a change never liquidates at once.
    """
    if leverage is not None and (not isinstance(leverage, int) or isinstance(leverage, bool)):
        raise InvalidInput("leverage", "must be a whole number")
    if leverage is not None and not 1 <= leverage <= market.max_leverage:
        raise InvalidInput("leverage", f"must be between 1 and {market.max_leverage} for {market.symbol}")
    if margin_mode is not None and margin_mode not in MarginMode.values:
        raise InvalidInput("margin_mode", f"must be one of {', '.join(MarginMode.values)}")
    with transaction.atomic():
        lock_books([account])
        setting = market_setting_get(account=account, market=market)
        if margin_mode is not None and margin_mode != setting.margin_mode:
            if Position.objects.filter(account=account, market=market, status=PositionStatus.OPEN).exists():
                raise RuleViolation(
                    f"close your {market.symbol} position before switching margin mode",
                    fields={"margin_mode": ["cannot change with an open position"]},
                )
            setting.margin_mode = margin_mode
        if leverage is not None:
            hooks.order_check(account=account, market=market, leverage=leverage, opens=True)
            setting.leverage = leverage
        try:
            with transaction.atomic():
                setting.save()
        except IntegrityError:  # created concurrently: apply to the stored row
            stored = MarketSetting.objects.select_for_update().get(account=account, market=market)
            stored.leverage, stored.margin_mode = setting.leverage, setting.margin_mode
            stored.save()
            setting = stored
    return setting
