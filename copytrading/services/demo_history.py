"""The living demo: lead traders with a past, followers copying them, statistics to show. (R-CT-18 … R-CT-20)

``demo_history_build`` plays a scripted past of ``DAYS`` days, one platform date after another up to
today, through the platform's own services:

- each day the demo markets a lead trades or holds take one step of a seeded walk, stamped at that
  day's noon (``price_feed``, swept at once, so a stop or a liquidation lands on its day); a market
  whose mark was set after the past begins (by operators, by a feed) keeps it, and its trades fill there;
- on its first day a lead applies and the operator approves it; followers start their followings on
  theirs (``following_start``); the leads open, halve and close positions at the day's marks, and each
  fill reaches their followers through the copy fan-out, run here as the ``copy`` worker runs it;
- at the end of the day every equity is snapshotted (``equity_snapshots_take``); at the end of the
  replay the stored statistics are refreshed.

Funding (R-MG-07) and the daily profit-share run (R-PS-06) of the past days are not replayed: they
would cost more than the rest of the replay. So the followers' shares are pending until the first real
daily run.

A replay writes its orders, fills and journal entries today (they are stamped when written), while marks
and snapshots carry their replayed dates. Hence:

- each snapshot's net flow is the money the replay moved while playing that day (``flows_between``), and
  today is snapshotted too, so the daily run leaves today alone instead of counting the whole replay's
  transfers as today's flow (money moved later today then counts on no day);
- the lead frequency limit (R-CT-15) keeps followers from copying opens seconds apart; replayed opens are
  days apart, so before each one the lead's last open is dated at its replayed time.

Idempotent: every money movement carries a fixed idempotency key, and once the demo's lead traders exist
the past is not played again, so a second run changes nothing.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from accounts.models import AccountKind, User
from accounts.services.accounts import account_open
from config.clock import platform_today
from config.errors import ServiceError
from copytrading.futures.models import Market, Order, Position, PositionStatus, PriceSource, Side
from copytrading.futures.services.demo import price_feed
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.positions import position_close
from copytrading.models import FollowMode, LeadTrader, LeadTraderStatus
from copytrading.services.fanout import copy_fanout
from copytrading.services.followings import following_start
from copytrading.services.leads import lead_trader_apply, lead_trader_approve
from copytrading.services.statistics import equity_snapshots_take, following_stats_refresh, trader_stats_refresh
from copytrading.valuation import lead_futures_equity

logger = logging.getLogger(__name__)

DAYS = 60  # the oldest lead's past; day 0 is DAYS days ago, day DAYS is today
CENT = Decimal("0.01")
HALF = Decimal("0.5")

# One step a day: a uniform move of up to ± this many basis points, plus a drift (bps), per market.
WALKS: dict[str, tuple[int, int]] = {"BTCUSDT": (350, 12), "ETHUSDT": (450, 6), "SOLUSDT": (600, -4)}


@dataclass(frozen=True)
class LeadPlan:
    """How a demo lead trades: every ``every`` days it opens ``stake`` of its equity as margin in the next
    of its markets and closes the position ``hold`` days later (half of it halfway, if ``halves``);
    ``hit_rate`` % of its opens take the side the market then goes. Its latest open, ``last_open`` days
    ago (< ``hold``), is still open today."""

    email: str
    nickname: str
    bio: str
    ratio: Decimal
    days: int  # leading since this many days ago
    symbols: tuple[str, ...]
    leverage: int
    margin_mode: str
    every: int
    hold: int
    halves: bool
    stake: Decimal
    hit_rate: int
    last_open: int


@dataclass(frozen=True)
class FollowPlan:
    follower: str
    lead: str
    mode: str
    amount: Decimal
    days: int  # following since this many days ago
    settings: dict = field(default_factory=dict)


LEADS = (
    LeadPlan(
        "lead@demo.local", "Atlas Macro", "Patient BTC and ETH swings, low leverage, isolated margin.",
        Decimal("0.10"), 60, ("BTCUSDT", "ETHUSDT"), 5, "isolated", 12, 6, True, Decimal("0.30"), 75, 1,
    ),
    LeadPlan(
        "lead2@demo.local", "Nova Momentum", "Rides SOL and ETH momentum for a few days at a time.",
        Decimal("0.15"), 36, ("SOLUSDT", "ETHUSDT"), 8, "cross", 9, 3, False, Decimal("0.20"), 65, 0,
    ),
    LeadPlan(
        "lead3@demo.local", "Quartz Swing", "Swing trades across BTC and SOL.",
        Decimal("0.12"), 30, ("BTCUSDT", "SOLUSDT"), 6, "cross", 8, 4, False, Decimal("0.20"), 66, 2,
    ),
    LeadPlan(
        "lead4@demo.local", "Helix Scalper", "New on the board: short ETH trades, higher leverage.",
        Decimal("0.08"), 16, ("ETHUSDT",), 10, "cross", 5, 2, False, Decimal("0.15"), 55, 1,
    ),
)  # fmt: skip
FOLLOWINGS = (
    FollowPlan("alice@demo.local", "lead@demo.local", FollowMode.SMART, Decimal("2000"), 30),
    FollowPlan(
        "alice@demo.local", "lead2@demo.local", FollowMode.DIVERSE, Decimal("1500"), 20, {"diverse_margin": "150"}
    ),
    FollowPlan("bob@demo.local", "lead3@demo.local", FollowMode.SMART, Decimal("2000"), 25),
    FollowPlan("bob@demo.local", "lead@demo.local", FollowMode.DIVERSE, Decimal("1000"), 12, {"diverse_margin": "100"}),
    FollowPlan("carol@demo.local", "lead2@demo.local", FollowMode.SMART, Decimal("3000"), 28),
    FollowPlan("dave@demo.local", "lead4@demo.local", FollowMode.SMART, Decimal("1000"), 10),
    FollowPlan(
        "dave@demo.local", "lead3@demo.local", FollowMode.DIVERSE, Decimal("800"), 8, {"diverse_multiple": "0.05"}
    ),
)


@dataclass(frozen=True)
class Trade:
    symbol: str
    side: str
    opens: int  # day index
    halves: int | None
    closes: int | None  # None: still open today


@dataclass
class DemoHistory:
    """What one build played: counts for the command to show."""

    days: int = 0
    orders: int = 0
    followings: int = 0
    snapshots: int = 0


def demo_history_start() -> datetime:
    """When the demo's past begins: 00:00 platform time ``DAYS`` days ago (the demo markets' first price)."""
    day = platform_today() - timedelta(days=DAYS)
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.PLATFORM_TIME_ZONE))


def demo_history_played() -> bool:
    """Whether the demo's past was played already: its lead traders exist."""
    return LeadTrader.objects.filter(user__email__in=[plan.email for plan in LEADS]).exists()


def demo_history_build(*, operator: User, on_day: Callable[[date], None] | None = None) -> DemoHistory | None:
    """Play the demo's past up to today (see the module docstring); None when it was played before.

    The demo's users must exist, funded: the leads with futures equity, the followers with spot money
    for their followings. ``on_day`` is called after each replayed day (a progress bar).
    """
    if demo_history_played():
        return None
    emails = [plan.email for plan in LEADS]
    users = {u.email: u for u in User.objects.filter(email__in={*emails, *(f.follower for f in FOLLOWINGS)})}
    markets = {m.symbol: m for m in Market.objects.filter(symbol__in=WALKS, mark_price__isnull=False)}
    # Only marks dated before the past begins are walked: a price set since (by operators, by a feed) stays.
    walked = {symbol for symbol, market in markets.items() if market.mark_price_at <= demo_history_start()}
    today = platform_today()
    tz = ZoneInfo(settings.PLATFORM_TIME_ZONE)
    paths = {symbol: _walk(symbol, market) for symbol, market in markets.items()}
    trades = {plan.email: _trades(plan, paths) for plan in LEADS if set(plan.symbols) <= set(markets)}
    held = _held_markets(trades.values())
    leads: dict[str, LeadTrader] = {}
    last_open: dict[str, datetime | None] = defaultdict(lambda: None)
    done = DemoHistory()
    window_start = datetime.combine(today, time.min, tzinfo=tz)  # the demo's funding, moments ago, is day 0's
    for i in range(DAYS + 1):
        day = today - timedelta(days=DAYS - i)
        noon = datetime.combine(day, time(12), tzinfo=tz) if i < DAYS else timezone.now()
        for symbol, market in markets.items():
            if symbol not in walked or (i < DAYS and symbol not in held[i]):
                continue  # nothing demo is open there: its mark would move no equity and no trigger
            at = noon if i < DAYS else None
            price_feed(market=market, price=paths[symbol][i], source=PriceSource.SIMULATED, at=at, sweep_inline=True)
        for plan in LEADS:
            if i == DAYS - plan.days and plan.email in trades:
                leads[plan.email] = _lead_start(plan, users[plan.email], operator, markets)
        for plan in FOLLOWINGS:
            if i == DAYS - plan.days and plan.lead in leads:
                following_start(
                    follower=users[plan.follower],
                    lead=leads[plan.lead],
                    mode=plan.mode,
                    amount=plan.amount,
                    settings=plan.settings,
                    idempotency_key=f"demo:{leads[plan.lead].pk}",
                )
                done.followings += 1
        for plan in LEADS:
            if plan.email in leads:
                done.orders += _trade_day(plan, leads[plan.email], trades[plan.email], i, markets, last_open, noon)
        window_end = timezone.now()
        done.snapshots += equity_snapshots_take(day, flows_between=(window_start, window_end))
        window_start = window_end
        done.days += 1
        if on_day is not None:
            on_day(day)
    trader_stats_refresh()
    following_stats_refresh()
    return done


def _walk(symbol: str, market: Market) -> list[Decimal]:
    """The day-by-day marks of ``market``: a seeded walk from its current mark, rounded to its tick."""
    rng = random.Random(f"demo-walk:{symbol}")  # noqa: S311 - a demo's scenery, not a secret
    spread, drift = WALKS[symbol]
    level, tick, prices = market.mark_price, market.price_tick, []
    for _ in range(DAYS + 1):
        level *= 1 + Decimal(rng.randint(-spread, spread) + drift) / 10000
        prices.append(max(tick, (level / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick))
    return prices


def _trades(plan: LeadPlan, paths: dict[str, list[Decimal]]) -> list[Trade]:
    """The lead's opens, every ``every`` days back from its latest, each on the side its hit rate gives."""
    rng = random.Random(f"demo-trades:{plan.email}")  # noqa: S311 - a demo's script, not a secret
    trades = []
    for k, opens in enumerate(range(DAYS - plan.last_open, DAYS - plan.days - 1, -plan.every)):
        symbol = plan.symbols[k % len(plan.symbols)]
        closes = opens + plan.hold if opens + plan.hold <= DAYS else None
        halves = opens + plan.hold // 2 if plan.halves and opens + plan.hold // 2 <= DAYS else None
        path = paths[symbol]
        rises = path[min(opens + plan.hold, DAYS)] >= path[opens]
        right = rng.randrange(100) < plan.hit_rate
        trades.append(Trade(symbol, Side.BUY if rises == right else Side.SELL, opens, halves, closes))
    return trades[::-1]


def _held_markets(plans: Iterable[list[Trade]]) -> dict[int, set[str]]:
    """Day index → the markets a demo lead trades or holds a position in that day."""
    held: dict[int, set[str]] = defaultdict(set)
    for trades in plans:
        for trade in trades:
            for i in range(trade.opens, (DAYS if trade.closes is None else trade.closes) + 1):
                held[i].add(trade.symbol)
    return held


def _lead_start(plan: LeadPlan, user: User, operator: User, markets: dict[str, Market]) -> LeadTrader:
    lead = lead_trader_apply(user=user, nickname=plan.nickname, profit_share_ratio=plan.ratio, bio=plan.bio)
    lead = lead_trader_approve(lead_id=lead.pk, operator=operator, reason="demo lead trader")
    wallet = account_open(owner=user, kind=AccountKind.FUTURES)
    for symbol in plan.symbols:
        market_setting_set(account=wallet, market=markets[symbol], leverage=plan.leverage, margin_mode=plan.margin_mode)
    return lead


def _trade_day(
    plan: LeadPlan,
    lead: LeadTrader,
    trades: list[Trade],
    i: int,
    markets: dict[str, Market],
    last_open: dict[str, datetime | None],
    when: datetime,
) -> int:
    """The lead's orders of day ``i`` (halves and closes, then opens), each copied to its followers."""
    wallet = account_open(owner=lead.user, kind=AccountKind.FUTURES)
    orders = []
    for trade in trades:
        if i not in (trade.halves, trade.closes):
            continue
        position = (
            Position.objects.filter(account=wallet, market=markets[trade.symbol], slot=0, status=PositionStatus.OPEN)
            .select_related("market", "account")
            .first()
        )
        if position is None:  # stopped out or liquidated on an earlier tick
            continue
        fraction = HALF if i == trade.halves else None
        orders.append(position_close(position=position, fraction=fraction, idempotency_key=f"demo:{i}"))
    for trade in trades:
        if trade.opens != i:
            continue
        LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=last_open[plan.email])
        margin = (lead_futures_equity(lead=lead) * plan.stake).quantize(CENT)
        orders.append(
            order_place(
                account=wallet,
                market=markets[trade.symbol],
                side=trade.side,
                margin=margin,
                idempotency_key=f"demo:{i}:{trade.symbol}",
            )
        )
        last_open[plan.email] = when
    for order in orders:
        copy_fanout(lead_order_id=order.pk)
    return len(orders)


def demo_lead_trade(*, rng: random.Random) -> Order | None:
    """One live trade of a demo lead while the demo runs: close its open position, or open a small one.

    The order fills at the current mark and its fan-out is queued to the ``copy`` workers, as any lead's
    is. A refused order (too little margin left, a market closed by operators) is logged and skipped.
    """
    plans = {plan.email: plan for plan in LEADS}
    leads = list(
        LeadTrader.objects.filter(user__email__in=plans, status=LeadTraderStatus.APPROVED)
        .select_related("user")
        .order_by("pk")
    )
    if not leads:
        return None
    lead = rng.choice(leads)
    plan = plans[lead.user.email]
    wallet = account_open(owner=lead.user, kind=AccountKind.FUTURES)
    key = f"demo-live:{timezone.now().isoformat()}"
    position = (
        Position.objects.filter(account=wallet, slot=0, status=PositionStatus.OPEN)
        .select_related("market", "account")
        .first()
    )
    try:
        if position is not None:
            return position_close(position=position, idempotency_key=key)
        market = Market.objects.get(symbol=rng.choice(plan.symbols))
        margin = (lead_futures_equity(lead=lead) * plan.stake / 2).quantize(CENT)
        side = rng.choice((Side.BUY, Side.SELL))
        return order_place(account=wallet, market=market, side=side, margin=margin, idempotency_key=key)
    except (ServiceError, Market.DoesNotExist) as error:
        logger.warning("demo: %s did not trade: %s", plan.nickname, error)
        return None
