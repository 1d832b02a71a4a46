"""Reads and statistics of copytrading."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from accounts.models import AccountKind, LedgerAccount, User
from copytrading.futures.models import (
    CloseReason,
    MarginMode,
    Market,
    MarketChange,
    MarketSetting,
    MarkPrice,
    Order,
    Position,
    PositionClose,
    PositionStatus,
)
from copytrading.futures.risk import unrealised

PLATFORM_BALANCE_KINDS = (AccountKind.HOUSE, AccountKind.INSURANCE_FUND, AccountKind.FEE_REVENUE)


def market_list() -> QuerySet[Market]:
    """The markets open for trading, by symbol."""
    return Market.objects.filter(is_active=True).order_by("symbol")


def market_get(*, symbol: str) -> Market | None:
    """A market by symbol (any case), active or not."""
    return Market.objects.filter(symbol=symbol.strip().upper()).first() if symbol else None


def mark_price_history(*, market: Market) -> QuerySet[MarkPrice]:
    """Every recorded tick of ``market``; callers order and page it (newest first by ``at``)."""
    return MarkPrice.objects.filter(market=market)


def futures_account_get(*, user: User) -> LedgerAccount | None:
    """The user's futures (manual trading) account, if opened."""
    return LedgerAccount.objects.filter(owner=user, kind=AccountKind.FUTURES, ref="").first()


HOLDER_KINDS = (AccountKind.FUTURES, AccountKind.FOLLOW)


def order_list(*, user: User) -> QuerySet[Order]:
    """The orders of the user's futures account, newest first."""
    return Order.objects.filter(account__owner=user, account__kind=AccountKind.FUTURES).select_related("market")


def position_list(*, user: User, status: str = PositionStatus.OPEN) -> QuerySet[Position]:
    """The user's positions in ``status`` (open by default): its futures account's and its copies'.

    Copies sit in follow sub-accounts, where the follower may close them, set TP/SL and adjust margin;
    protected sub-accounts are not the follower's to touch (R-CP-04).
    """
    return (
        Position.objects.filter(account__owner=user, account__kind__in=HOLDER_KINDS, status=status)
        .select_related("market")
        .prefetch_related("closes")
    )


def position_get(*, user: User, position_id: int) -> Position | None:
    """One of the user's positions (open or closed) it may act on; None for anyone else's."""
    return (
        Position.objects.filter(pk=position_id, account__owner=user, account__kind__in=HOLDER_KINDS)
        .select_related("market", "account")
        .first()
    )


def position_unrealised_pnl(position: Position) -> Decimal | None:
    """Unrealised PnL of an open position at its market's current mark (None when closed or unpriced)."""
    if position.status != PositionStatus.OPEN or position.market.mark_price is None:
        return None
    return unrealised(position, position.market.mark_price)


def market_setting_for(*, user: User, market: Market) -> MarketSetting:
    """The leverage and margin mode the user's futures account trades ``market`` with (the default if unset)."""
    account = futures_account_get(user=user)
    if account is None:
        return MarketSetting(market=market, leverage=min(DEFAULT_LEVERAGE, market.max_leverage))
    return market_setting_get(account=account, market=market)


def platform_balances() -> QuerySet[LedgerAccount]:
    """The platform's house, insurance fund and fee revenue accounts."""
    return LedgerAccount.objects.filter(owner__isnull=True, kind__in=PLATFORM_BALANCE_KINDS).order_by("kind", "ref")


def market_list_all() -> QuerySet[Market]:
    """Every market, trading or stopped, by symbol (operators)."""
    return Market.objects.order_by("symbol")


def market_changes(*, market: Market) -> QuerySet[MarketChange]:
    """The recorded changes of a market's parameters, newest first."""
    return MarketChange.objects.filter(market=market).select_related("actor")


DEFAULT_LEVERAGE = 10


def market_setting_get(*, account: LedgerAccount, market: Market) -> MarketSetting:
    """The account's setting in ``market``, or the default (cross, 10x capped at the market maximum)."""
    setting = MarketSetting.objects.filter(account=account, market=market).first()
    if setting is None:
        setting = MarketSetting(
            account=account,
            market=market,
            leverage=min(DEFAULT_LEVERAGE, market.max_leverage),
            margin_mode=MarginMode.CROSS,
        )
    return setting


@dataclass(frozen=True)
class SlotClose:
    """A close of a position held in a slot (a copy), as apps that react to losses read it."""

    close_id: int
    slot: int
    account_id: int
    closed_at: datetime
    opened_at: datetime
    realised_pnl: Decimal
    margin_lost: Decimal
    reason: str
    margin_mode: str
    entry_id: int | None


def slot_closes_losing(*, slots: Collection[int], since: datetime) -> list[SlotClose]:
    """Closes at a loss or by liquidation of positions in ``slots``, at or after ``since``, oldest first
    by (time, id): one query whatever the number of slots."""
    rows = (
        PositionClose.objects.filter(position__slot__in=list(slots), created_at__gte=since)
        .filter(Q(realised_pnl__lt=0) | Q(reason=CloseReason.LIQUIDATION))
        .order_by("created_at", "pk")
        .values_list(
            "pk",
            "position__slot",
            "position__account_id",
            "created_at",
            "position__opened_at",
            "realised_pnl",
            "margin_lost",
            "reason",
            "position__margin_mode",
            "entry_id",
        )
    )
    return [SlotClose(*row) for row in rows]


@dataclass(frozen=True)
class AccountClose:
    """A close of a position held in one of given accounts, as apps that react to losses read it."""

    close_id: int
    position_id: int
    account_id: int
    closed_at: datetime
    realised_pnl: Decimal  # the trading result of the closed quantity, fees and funding excluded
    qty: Decimal
    price: Decimal


def account_closes_losing(*, account_ids: Collection[int], slot: int = 0, since: datetime) -> list[AccountClose]:
    """Closes at a loss (realised PnL below 0) of positions in ``slot`` of ``account_ids`` (slot 0: manual
    trading), at or after ``since``, oldest first by (time, id): one query whatever the number of accounts."""
    rows = (
        PositionClose.objects.filter(
            position__account_id__in=list(account_ids),
            position__slot=slot,
            created_at__gte=since,
            realised_pnl__lt=0,
        )
        .order_by("created_at", "pk")
        .values_list("pk", "position_id", "position__account_id", "created_at", "realised_pnl", "qty", "price")
    )
    return [AccountClose(*row) for row in rows]
