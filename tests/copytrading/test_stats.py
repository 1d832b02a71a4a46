"""Statistics, risk flags and copy quality. (R-CT-18, R-CT-19, R-CT-20, R-CT-24)

Flags are checked on synthetic curves just inside and just outside each threshold; the stored stats against
hand-computed values on small histories made of real trades (through the API and the real fan-out) and
synthetic daily snapshots.
"""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from config.clock import platform_today
from copytrading import metrics as s
from copytrading.futures.services.prices import mark_price_set
from copytrading.models import CopyDecision, EquitySnapshot, FollowingStats, LeadTrader, SnapshotKind, TraderStats
from copytrading.selectors.statistics import following_equity_curve, trader_equity_curve, trader_stats_list
from copytrading.services.fanout import copy_fanout
from copytrading.services.statistics import equity_snapshots_take, following_stats_refresh, trader_stats_refresh
from tests.copytrading.copy_helpers import copy_of, follow, lead_order, make_lead
from tests.factories import MarketFactory

START = date(2026, 1, 1)
T = s.DEFAULT_FLAG_THRESHOLDS


def curve(*equities, flows=None) -> list[s.Point]:
    """Consecutive daily points from START; ``flows`` maps an index to that day's net flow."""
    flows = flows or {}
    return [s.Point(START + timedelta(days=i), D(str(e)), D(str(flows.get(i, 0)))) for i, e in enumerate(equities)]


def from_returns(returns, equity="1000") -> list[s.Point]:
    levels = [D(equity)]
    for r in returns:
        levels.append(levels[-1] * (1 + D(str(r))))
    return curve(*levels)


def flags(points, *, trading_days=100, btc_eth_share=D("0"), thresholds=T):
    return s.trader_flags(points, trading_days=trading_days, btc_eth_share=btc_eth_share, thresholds=thresholds)


# --- pure statistics ---------------------------------------------------------------------------------------

SMALL = curve(1000, 1100, 2200, 1980, 1980, 1980, 1980, 1980, 1980, 1980, 2178, flows={2: 1100})
SMALL_RETURNS = [D("0.1"), D("0"), D("-0.1"), *[D("0")] * 6, D("0.1")]


def test_returns_are_time_weighted_so_flows_are_neither_gains_nor_losses():
    """A deposit of 1,100 on day 2 doubles the equity without a return; a withdrawal is no drawdown."""
    assert [r for _, r in s.daily_returns(SMALL)] == SMALL_RETURNS
    assert s.roi(SMALL) == D("0.089")  # 1.1 × 1 × 0.9 × 1.1 − 1
    assert s.roi(SMALL, 7) == D("0.1")  # days 4 … 10
    assert s.roi(SMALL, 30) == D("0.089")  # a younger curve: from its start
    assert s.max_drawdown(SMALL) == D("0.1")  # 1.1 → 0.99 on the flow-adjusted curve
    withdrawal = curve(1000, 100, 100, flows={1: -900})
    assert (s.roi(withdrawal), s.max_drawdown(withdrawal)) == (0, 0)


def test_sharpe_stdev_win_rate_and_percentile_by_hand():
    # Mean 0.01; squared deviations 0.0081 + 0.0001 + 0.0121 + 6 × 0.0001 + 0.0081 = 0.029 over n − 1 = 9.
    sd = (D("0.029") / 9).sqrt()
    assert s.stdev(SMALL_RETURNS) == sd
    assert s.sharpe(SMALL_RETURNS) == D("0.01") / sd * D(365).sqrt()
    assert s.sharpe([D("0.01")] * 5) is None  # no variation: undefined
    assert s.win_rate([D("5"), D("-1"), D("0"), D("2")]) == D("0.5")  # a zero result is not a win
    assert s.win_rate([]) is None
    assert s.percentile([D(v) for v in range(1, 21)], D("0.95")) == D("19")  # nearest rank: ⌈0.95 × 20⌉ = 19


# --- R-CT-19 flags, just inside and just outside each threshold --------------------------------------------


@pytest.mark.parametrize(("days", "raised"), [(29, {"new", "young"}), (30, {"young"}), (59, {"young"}), (60, set())])
def test_r_ct_19_new_and_young(days, raised):
    assert set(flags(curve(1000, 1000), trading_days=days)) & {"new", "young"} == raised


@pytest.mark.parametrize(
    ("share", "low", "raised"),
    [
        (D("0.80"), "700", False),  # conservative: exactly 30 % is not above it
        (D("0.80"), "699.99", True),  # 30.001 %
        (D("0.7999"), "699.99", False),  # aggressive: 30.001 % is within 50 %
        (D("0.7999"), "500", False),  # exactly 50 %
        (D("0.7999"), "499.99", True),  # 50.001 %
    ],
)
def test_r_ct_19_drawdown_conservative_and_aggressive(share, low, raised):
    points = curve(1000, 900, low, 800)
    assert ("drawdown" in flags(points, btc_eth_share=share)) is raised


RISE_7_OF_10 = [1000, 1100, 1200, 1150, 1250, 1350, 1300, 1400, 1500, 1450, 2000]
RISE_6_OF_10 = [1000, 1100, 1200, 1150, 1250, 1350, 1300, 1300, 1500, 1450, 2000]  # one rise is a flat day


@pytest.mark.parametrize(
    ("equities", "raised"),
    [
        ([*RISE_7_OF_10, 1900, 1800, 1600], True),  # 70 % rising days, −20 % on the 3rd day after the peak
        ([*RISE_6_OF_10, 1900, 1800, 1600], False),  # 60 % rising days
        ([*RISE_7_OF_10, 1900, 1800, "1600.01"], False),  # fell 19.9995 % within 3 days
        ([*RISE_7_OF_10, 1900, 1800, 1700, 1600], False),  # −20 % only on the 4th day
    ],
)
def test_r_ct_19_freefall(equities, raised):
    assert ("freefall" in flags(curve(*equities))) is raised


def star(past_end, recent_end) -> list[s.Point]:
    """91 days: flat at 1,000 for days 0–59, ``past_end`` on day 60 (30 days back), ``recent_end`` on day 90."""
    return curve(*([1000] * 60), past_end, *([past_end] * 29), recent_end)


@pytest.mark.parametrize(
    ("past_end", "recent_end", "raised"),
    [
        ("1300", "1300", True),  # days 31–90 back: +30 %; last 30 days: 0
        ("1299.99", "1299.99", False),  # +29.999 %
        ("1300", "1300.01", False),  # the last 30 days gained
        ("1400", "1000", True),  # and a loss counts of course
    ],
)
def test_r_ct_19_past_star(past_end, recent_end, raised):
    assert ("past_star" in flags(star(D(past_end), D(recent_end)))) is raised


@pytest.mark.parametrize(("swing", "raised"), [("0.07866", True), ("0.07865", False)])
def test_r_ct_19_heart_monitor(swing, raised):
    """±a alternating for 30 days: sample stdev a·√(30/29), above 8 % from a ≈ 0.078656."""
    a = D(swing)
    returns = [a if i % 2 else -a for i in range(30)]
    assert (s.stdev(returns) > D("0.08")) is raised
    assert ("heart_monitor" in flags(from_returns([0] * 20 + returns))) is raised


def test_r_ct_19_heart_monitor_looks_at_the_last_30_days_only():
    wild = [D("0.2") if i % 2 else D("-0.2") for i in range(30)]
    assert "heart_monitor" not in flags(from_returns(wild + [0] * 30))


def test_r_ct_19_thresholds_come_from_settings(settings):
    settings.TRADER_FLAG_THRESHOLDS = {"new_days": 10, "drawdown_aggressive": "0.05"}
    t = s.flag_thresholds()
    assert (t["new_days"], t["drawdown_aggressive"], t["young_days"]) == (10, D("0.05"), 60)
    assert s.trader_flags(curve(1000, 940), trading_days=10, btc_eth_share=D("0")) == ["young", "drawdown"]


# --- R-CT-18 stored trader stats on a small history --------------------------------------------------------


@pytest.fixture
def free(db):
    """A market without fees, so every number is a round one."""
    return MarketFactory(symbol="FREEUSDT", base_asset="FREE", taker_fee_rate=D("0"))


def snapshots(kind, subject_id, points):
    EquitySnapshot.objects.bulk_create(
        EquitySnapshot(kind=kind, subject_id=subject_id, day=p.day, equity=p.equity, net_flow=p.flow) for p in points
    )


def round_trip(lead, market, entry, exit_, qty="0.1"):
    """The lead opens ``qty`` long at ``entry`` and closes it at ``exit_`` (followers copy both)."""
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    mark_price_set(market=market, price=D(entry))
    lead_order(lead, market, qty=qty)
    mark_price_set(market=market, price=D(exit_))
    lead_order(lead, market, side="sell", qty=qty, reduce_only=True)


def q(value) -> D:
    return D(value).quantize(D("0.00000001"))


@pytest.mark.django_db
def test_r_ct_18_trader_stats_against_hand_computed_values(free):
    lead = make_lead(equity="10000")
    round_trip(lead, free, "60000", "61000")  # +100
    round_trip(lead, free, "61000", "60500")  # −50
    round_trip(lead, free, "60500", "61500")  # +100
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    lead_order(lead, free, qty="0.1")  # open at 61,500
    mark_price_set(market=free, price=D("61600"))  # unrealised +10
    snapshots(SnapshotKind.LEAD, lead.pk, SMALL)
    assert trader_stats_refresh([lead.pk]) == 1
    stats = TraderStats.objects.get(lead=lead)
    assert (stats.roi_7, stats.roi_30, stats.roi_90, stats.roi_all) == (D("0.1"), D("0.089"), D("0.089"), D("0.089"))
    assert stats.max_drawdown == D("0.1")
    assert stats.trading_days == 11
    assert stats.sharpe == q(D("0.01") / (D("0.029") / 9).sqrt() * D(365).sqrt())
    assert stats.win_rate == q(D(2) / 3)
    assert stats.pnl_all == D("160")  # 100 − 50 + 100 realised, +10 unrealised
    assert stats.btc_eth_share == 0  # traded FREE only
    assert stats.flags == ["new", "young"]
    assert (stats.followers_count, stats.followers_pnl, stats.aum) == (0, 0, 0)
    assert trader_equity_curve(lead=lead, days=7)[0]["day"] == START + timedelta(days=4)
    # A second refresh rewrites the same row.
    trader_stats_refresh([lead.pk])
    assert TraderStats.objects.filter(lead=lead).count() == 1


@pytest.mark.django_db
def test_r_ct_19_drawdown_limit_depends_on_the_90_day_notional_in_btc_and_eth(btc, free):
    """A 35 % drawdown flags a trader of BTC (conservative, > 30 %) but not one of other pairs (> 50 %)."""
    major, other = make_lead(), make_lead()
    round_trip(major, btc, "60000", "60000")
    round_trip(other, free, "60000", "60000")
    for lead in (major, other):
        snapshots(SnapshotKind.LEAD, lead.pk, curve(1000, 650))
    trader_stats_refresh([major.pk, other.pk])
    major_stats, other_stats = TraderStats.objects.get(lead=major), TraderStats.objects.get(lead=other)
    assert (major_stats.btc_eth_share, other_stats.btc_eth_share) == (1, 0)
    assert "drawdown" in major_stats.flags and "drawdown" not in other_stats.flags
    assert [t.lead_id for t in trader_stats_list(exclude_flags=["drawdown"])] == [other.pk]
    assert [t.lead_id for t in trader_stats_list(sort="max_drawdown", min_trading_days=2)] == [major.pk, other.pk]


@pytest.mark.django_db
def test_followers_totals_aum_and_the_30_day_roi_gap(free):
    lead = make_lead(equity="10000")
    first, second = follow(lead, amount="1000"), follow(lead, amount="1000")
    round_trip(lead, free, "60000", "61000")  # each copy: 0.01 → +10
    snapshots(SnapshotKind.LEAD, lead.pk, curve(1000, 1100))  # lead: +10 %
    snapshots(SnapshotKind.FOLLOWING, first.pk, curve(1000, 1010))  # +1 %
    snapshots(SnapshotKind.FOLLOWING, second.pk, curve(1000, 1030))  # +3 %
    trader_stats_refresh([lead.pk])
    stats = TraderStats.objects.get(lead=lead)
    assert (stats.followers_count, stats.followers_pnl, stats.aum) == (2, D("20"), D("2020"))
    assert stats.roi_gap_30 == D("0.08")  # 10 % − average(1 %, 3 %)
    assert following_equity_curve(following=first)[-1]["equity"] == D("1010")


# --- snapshots ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_snapshots_record_equity_and_the_days_flows_and_a_second_run_changes_nothing(free):
    lead = make_lead(equity="10000")
    smart = follow(lead, amount="1000")
    diverse = follow(lead, amount="500", mode="diverse", diverse_margin="60")
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    mark_price_set(market=free, price=D("60000"))
    lead_order(lead, free, qty="0.1")
    mark_price_set(market=free, price=D("60500"))  # lead +50, Smart copy (0.01) +5, Diverse copy (0.01) +5
    day = platform_today()
    assert equity_snapshots_take(day) == 3
    rows = {(r.kind, r.subject_id): r for r in EquitySnapshot.objects.filter(day=day)}
    lead_row = rows[(SnapshotKind.LEAD, lead.pk)]
    assert (lead_row.equity, lead_row.net_flow) == (D("10050"), D("10000"))  # funded today
    smart_row = rows[(SnapshotKind.FOLLOWING, smart.pk)]
    assert (smart_row.equity, smart_row.net_flow) == (D("1005"), D("1000"))
    diverse_row = rows[(SnapshotKind.FOLLOWING, diverse.pk)]
    assert (diverse_row.equity, diverse_row.net_flow) == (D("505"), D("500"))
    before = list(EquitySnapshot.objects.order_by("pk").values())
    mark_price_set(market=free, price=D("70000"))
    assert equity_snapshots_take(day) == 0
    assert list(EquitySnapshot.objects.order_by("pk").values()) == before
    assert copy_of(smart, free) is not None


# --- R-CT-20 follower stats --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_r_ct_20_following_stats_by_hand(btc):
    """0.06 % taker fee: a copy of 0.01 BTC opened at 60,000 and closed at 61,000, then one open at 61,000."""
    lead = make_lead(equity="10000", ratio="0.1")
    following = follow(lead, amount="1000")
    round_trip(lead, btc, "60000", "61000")  # +10, fees 0.36 + 0.366
    LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
    lead_order(lead, btc, qty="0.1")  # fee 0.366
    assert copy_of(following, btc).qty == D("0.01")
    mark_price_set(market=btc, price=D("62000"))  # unrealised +10
    assert following_stats_refresh([following.pk]) == 1
    stats = FollowingStats.objects.get(following=following)
    net = D("10") - D("0.36") - D("0.366") - D("0.366")  # C = 8.908
    assert stats.pnl == net + 10
    assert stats.roi == q((net + 10) / 1000)
    assert (stats.win_rate, stats.open_positions, stats.fees_paid) == (1, 1, D("1.092"))
    assert (stats.share_paid, stats.share_pending) == (0, D("0.8908"))  # 10 % of C, not of the unrealised part
    assert stats.roi_30 is None  # no snapshots yet


# --- R-CT-24 copy quality ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_r_ct_24_copy_slippage_and_missed_rate(btc):
    """The mark moves between the lead's fill and the fan-out: 0, 40 and 80 bps."""
    lead = make_lead()
    loose, tight = follow(lead, slippage_ratio="0.01"), follow(lead)  # 1 % and the default 0.5 %

    def open_with_drift(fill: str, at: str):
        LeadTrader.objects.filter(pk=lead.pk).update(last_open_at=None)
        mark_price_set(market=btc, price=D(fill))
        order = lead_order(lead, btc, qty="0.1", fanout=False)
        mark_price_set(market=btc, price=D(at))
        copy_fanout(lead_order_id=order.pk)

    open_with_drift("60000", "60000")  # both followed at 0 bps
    open_with_drift("60000", "60240")  # 40 bps: both followed
    open_with_drift("60000", "60480")  # 80 bps: the tight one misses (slippage)
    assert CopyDecision.objects.filter(following=loose, followed=True).count() == 3
    assert list(CopyDecision.objects.filter(following=tight).values_list("reason", flat=True)) == ["slippage", "", ""]
    trader_stats_refresh([lead.pk])
    stats = TraderStats.objects.get(lead=lead)
    assert stats.slippage_avg_bps == D("32")  # (0 + 0 + 40 + 40 + 80) / 5
    assert stats.slippage_p95_bps == D("80")  # nearest rank ⌈0.95 × 5⌉ = 5th
    assert stats.missed_rates == {"slippage": "0.16666667"}  # 1 of 6 opens
