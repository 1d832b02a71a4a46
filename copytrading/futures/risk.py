"""Account risk, read-only: equity, margin in use, cross state and liquidation prices. (R-MG-04, R-MG-06)

Pure arithmetic over positions and balances (and reads of them); the writes that
keep liquidation prices on positions are ``services.risk``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from accounts.models import AccountKind, LedgerAccount
from accounts.money import ZERO
from copytrading.futures import margin as m
from copytrading.futures.models import MarginMode, Market, Position, PositionStatus


def mark_of(market: Market) -> Decimal:
    if market.mark_price is None:
        raise ValueError(f"{market.symbol} has no mark price yet")
    return market.mark_price


def unrealised(position: Position, price: Decimal) -> Decimal:
    return m.pnl(sign=position.sign, qty=position.qty, entry=position.entry_price, price=price)


@dataclass
class CrossState:
    """The cross side of one trading account at current marks."""

    free: Decimal  # balance − held
    upnl: Decimal
    maintenance: Decimal
    initial: Decimal

    @property
    def equity(self) -> Decimal:
        return self.free + self.upnl

    @property
    def available(self) -> Decimal:
        # Unrealised gains are not lent out as margin; unrealised losses reduce it.
        return self.free - self.initial + min(self.upnl, ZERO)

    @property
    def liquidatable(self) -> bool:
        return self.maintenance > 0 and self.equity < self.maintenance


def open_cross_positions(wallet_id: int) -> list[Position]:
    return list(
        Position.objects.filter(account_id=wallet_id, status=PositionStatus.OPEN, margin_mode=MarginMode.CROSS)
        .select_related("market")
        .order_by("pk")
    )


def cross_state(wallet: LedgerAccount, positions: Iterable[Position]) -> CrossState:
    upnl = maint = initial = ZERO
    for p in positions:
        price = mark_of(p.market)
        upnl += unrealised(p, price)
        maint += m.maintenance_margin(qty=p.qty, price=price, rate=p.market.maintenance_margin_rate)
        initial += p.margin
    return CrossState(free=wallet.balance - wallet.held, upnl=upnl, maintenance=maint, initial=initial)


def isolated_liquidation_price(position: Position) -> Decimal | None:
    market = position.market
    return m.isolated_liquidation_price(
        sign=position.sign,
        qty=position.qty,
        entry=position.entry_price,
        margin=position.margin,
        mmr=market.maintenance_margin_rate,
        tick=market.price_tick,
    )


def cross_prices(wallet: LedgerAccount, positions: list[Position]) -> tuple[dict[int, Decimal | None], bool]:
    """Estimated liquidation price per cross position (keyed by ``id(position)``: new positions have no pk yet),
    and whether the account needs exact sweeps.

    An account whose cross positions are all in one market on one side has an
    exact liquidation price. Otherwise (several markets, or both sides) the
    estimate holds other markets at their current marks, so the sweep
    re-evaluates the account exactly on every tick of any market it holds.
    """
    by_market: dict[int, list[Position]] = defaultdict(list)
    for p in positions:
        by_market[p.market_id].append(p)
    multi = len(by_market) > 1 or len({p.side for p in positions}) > 1
    free = wallet.balance - wallet.held
    prices: dict[int, Decimal | None] = {}
    for market_id, group in by_market.items():
        others = [p for p in positions if p.market_id != market_id]
        cushion = free
        for p in others:
            price = mark_of(p.market)
            cushion += unrealised(p, price) - m.maintenance_margin(
                qty=p.qty, price=price, rate=p.market.maintenance_margin_rate
            )
        for side in {p.side for p in group}:
            legs = [p for p in group if p.side == side]
            opposite = [p for p in group if p.side != side]
            side_cushion = cushion
            for p in opposite:  # held at the current mark: an estimate, the sweep checks exactly
                price = mark_of(p.market)
                side_cushion += unrealised(p, price) - m.maintenance_margin(
                    qty=p.qty, price=price, rate=p.market.maintenance_margin_rate
                )
            market = group[0].market
            price = m.cross_liquidation_price(
                legs=[m.Leg(p.sign, p.qty, p.entry_price) for p in legs],
                cushion=side_cushion,
                mmr=market.maintenance_margin_rate,
                tick=market.price_tick,
            )
            for p in legs:
                prices[id(p)] = price
    return prices, multi


def account_equity(wallet: LedgerAccount, margin_balance: Decimal, positions: Iterable[Position]) -> Decimal:
    """Total assets of a trading account: balance + isolated margin + unrealised PnL of every open position."""
    return wallet.balance + margin_balance + sum((unrealised(p, mark_of(p.market)) for p in positions), ZERO)


def cross_prices_apply(wallet: LedgerAccount, positions: list[Position]) -> list[Position]:
    """Set the cross liquidation prices on ``positions`` in memory; return the ones that changed."""
    cross = [p for p in positions if p.status == PositionStatus.OPEN and p.margin_mode == MarginMode.CROSS]
    if not cross:
        return []
    prices, multi = cross_prices(wallet, cross)
    changed = []
    for p in cross:
        if p.liquidation_price != prices[id(p)] or p.cross_multi != multi:
            p.liquidation_price, p.cross_multi = prices[id(p)], multi
            changed.append(p)
    return changed


def margin_balance(wallet: LedgerAccount) -> Decimal:
    """The balance of a trading account's isolated-margin account; zero when it never had one (nothing opened)."""
    balance = (
        LedgerAccount.objects.filter(owner_id=wallet.owner_id, kind=AccountKind.POSITION_MARGIN, ref=str(wallet.pk))
        .values_list("balance", flat=True)
        .first()
    )
    return balance if balance is not None else ZERO


def wallet_equity(wallet: LedgerAccount) -> Decimal:
    """``account_equity`` of a trading account read fresh: balance, isolated margin, unrealised PnL."""
    positions = Position.objects.filter(account=wallet, status=PositionStatus.OPEN).select_related("market")
    return account_equity(wallet, margin_balance(wallet), positions)


def equity_before(book) -> Decimal:
    """A trading account's futures equity now (before the fill being made): balance, isolated margin, unrealised."""
    positions = Position.objects.filter(account=book.wallet, status=PositionStatus.OPEN).select_related("market")
    return account_equity(book.wallet, book.margin.balance, positions)
