"""Price feeds as management commands, and the demo markets. (R-MG-08, R-MG-01)

R-MG-08: mark prices enter from operators, a replayed CSV file or a simulator;
each new price runs the market's risk sweep (queued to the worker, or inline).
"""

import uuid
from datetime import UTC, datetime
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import JournalEntry, LedgerAccount, Posting, User
from accounts.selectors import ledger_audit
from copytrading.futures.management.commands import replay_prices, simulate_market
from copytrading.futures.models import CloseReason, Market, MarkPrice, Position, PositionStatus, RiskSweep
from copytrading.futures.services.demo import markets_seed_demo
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.prices import mark_price_set
from tests.factories import fund_futures, futures

pytestmark = pytest.mark.django_db


@pytest.fixture
def markets(db):
    """The demo markets, last priced before the period the test files replay."""
    markets_seed_demo()
    Market.objects.update(mark_price_at=datetime(2024, 1, 1, tzinfo=UTC))
    return {m.symbol: m for m in Market.objects.all()}


@pytest.fixture
def csv_file(tmp_path):
    def write(*lines: str):
        path = tmp_path / f"{uuid.uuid4().hex}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


def run(command: str, *args) -> str:
    out = StringIO()
    call_command(command, *[str(a) for a in args], stdout=out, stderr=StringIO())
    return out.getvalue()


def history(symbol: str, source: str) -> list[D]:
    return list(
        MarkPrice.objects.filter(market__symbol=symbol, source=source).order_by("pk").values_list("price", flat=True)
    )


# --- replay_prices ---------------------------------------------------------------------------


def test_replay_records_every_price_in_file_order_and_keeps_the_history(markets, csv_file):
    """R-MG-08: each row becomes a mark price; the market shows the last one, MarkPrice keeps them all."""
    path = csv_file(
        "timestamp,symbol,price",
        "2024-05-01T00:00:00Z,BTCUSDT,60100.5",
        "2024-05-01T00:00:01Z,ETHUSDT,3001.25",
        "",
        "2024-05-01T00:00:02+00:00,BTCUSDT,60200",
        "2024-05-01T08:00:03+08:00,btcusdt,60150.1",
    )
    out = run("replay_prices", path)

    assert "Replayed 4 prices for BTCUSDT, ETHUSDT" in out
    assert history("BTCUSDT", "replay") == [D("60100.5"), D("60200"), D("60150.1")]
    assert history("ETHUSDT", "replay") == [D("3001.25")]
    assert history("BTCUSDT", "operator") == [D("60000")]  # the first price is still in the history
    btc = Market.objects.get(symbol="BTCUSDT")
    assert btc.mark_price == D("60150.1")
    assert btc.mark_price_at == datetime(2024, 5, 1, 0, 0, 3, tzinfo=UTC)
    assert MarkPrice.objects.filter(source="replay").order_by("pk").first().at == datetime(2024, 5, 1, tzinfo=UTC)
    assert not RiskSweep.objects.exists()  # without --sweep-inline the sweeps are the worker's


def test_a_file_older_than_the_current_marks_only_adds_history_unless_replayed_now(csv_file):
    """R-MG-08: an old file never rolls live marks back; --now replays it as today's feed."""
    markets_seed_demo()  # priced now
    path = csv_file("2024-05-01T00:00:00Z,BTCUSDT,58000", "2024-05-01T00:00:01Z,BTCUSDT,57000")
    out = run("replay_prices", path)
    assert "2 of them were older than their market's current mark" in out
    assert history("BTCUSDT", "replay") == [D("58000"), D("57000")]
    assert Market.objects.get(symbol="BTCUSDT").mark_price == D("60000")

    started = timezone.now()
    out = run("replay_prices", path, "--now", "--sweep-inline")
    btc = Market.objects.get(symbol="BTCUSDT")
    assert (btc.mark_price, btc.mark_price_at >= started) == (D("57000"), True)
    assert "older" not in out


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        ("2024-05-01T00:00:02Z,XRPUSDT,0.5", "line 3: unknown symbol 'XRPUSDT'"),
        ("2024-05-01T00:00:02Z,BTCUSDT,abc", "line 3: bad price 'abc'"),
        ("2024-05-01T00:00:02Z,BTCUSDT,-5", "line 3: bad price '-5'"),
        ("2024-05-01T00:00:02Z,BTCUSDT,60000.05", "line 3: bad price '60000.05': not a multiple of BTCUSDT's"),
        ("yesterday,BTCUSDT,60000", "line 3: bad timestamp 'yesterday'"),
        ("2024-05-01T00:00:02Z,BTCUSDT", "line 3: expected 3 columns"),
        ("2999-01-01T00:00:00Z,BTCUSDT,60000", "line 3: timestamp '2999-01-01T00:00:00Z' is in the future"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line_and_changes_nothing(markets, csv_file, bad_row, message):
    path = csv_file(
        "timestamp,symbol,price",
        "2024-05-01T00:00:00Z,BTCUSDT,61000",
        bad_row,
        "2024-05-01T00:00:03Z,BTCUSDT,62000",
    )
    before = MarkPrice.objects.count()
    with pytest.raises(CommandError) as error:
        run("replay_prices", path)
    assert message in str(error.value)
    assert MarkPrice.objects.count() == before
    assert Market.objects.get(symbol="BTCUSDT").mark_price == D("60000")


def test_replay_refuses_a_missing_or_empty_file(markets, csv_file, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        run("replay_prices", tmp_path / "nope.csv")
    with pytest.raises(CommandError, match="holds no prices"):
        run("replay_prices", csv_file("timestamp,symbol,price"))


def test_speed_sleeps_the_scaled_gap_between_timestamps_and_zero_never_sleeps(markets, csv_file, monkeypatch):
    slept = []
    monkeypatch.setattr(replay_prices.time, "sleep", slept.append)
    path = csv_file(
        "2024-05-01T00:00:00Z,BTCUSDT,60001",
        "2024-05-01T00:00:10Z,BTCUSDT,60002",
        "2024-05-01T00:00:30Z,ETHUSDT,3002",
    )
    run("replay_prices", path, "--speed", "10")
    assert slept == [1.0, 2.0]
    slept.clear()
    run("replay_prices", path)
    assert slept == []


def _isolated_long(user, market):
    """10x isolated long 0.1 BTC at 60,000: margin 600, liquidation price 54,216.9 (mmr 0.4 %)."""
    fund_futures(user, "1000")
    market_setting_set(account=futures(user), market=market, leverage=10, margin_mode="isolated")
    order = order_place(account=futures(user), market=market, side="buy", qty=D("0.1"), idempotency_key="long")
    position = Position.objects.get(pk=order.position_id)
    assert position.liquidation_price == D("54216.9")
    return position


def test_sweep_inline_liquidates_a_position_the_replayed_path_crosses(user, markets, csv_file):
    """R-MG-08: each replayed price runs the liquidation check; the path dips through 54,216.9 and recovers."""
    position = _isolated_long(user, markets["BTCUSDT"])
    path = csv_file(
        "timestamp,symbol,price",
        "2024-05-01T00:00:00Z,BTCUSDT,58000",
        "2024-05-01T00:00:01Z,BTCUSDT,54216.9",
        "2024-05-01T00:00:02Z,BTCUSDT,54100",
        "2024-05-01T00:00:03Z,BTCUSDT,56000",
    )
    out = run("replay_prices", path, "--sweep-inline")

    position.refresh_from_db()
    assert position.status == PositionStatus.CLOSED
    close = position.closes.get()
    assert (close.reason, close.price) == (CloseReason.LIQUIDATION, D("54100"))
    assert RiskSweep.objects.filter(market=markets["BTCUSDT"]).count() == 4  # one per tick
    assert "1 liquidated" in out
    assert ledger_audit().ok


def test_without_sweep_inline_the_sweep_is_left_to_the_worker(user, markets, csv_file):
    position = _isolated_long(user, markets["BTCUSDT"])
    run("replay_prices", csv_file("2024-05-01T00:00:00Z,BTCUSDT,50000"))
    position.refresh_from_db()
    assert position.status == PositionStatus.OPEN
    assert not RiskSweep.objects.exists()


# --- simulate_market -------------------------------------------------------------------------


def _reset(markets):
    for symbol, price in (("BTCUSDT", "60000"), ("ETHUSDT", "3000")):
        mark_price_set(market=Market.objects.get(symbol=symbol), price=D(price))


def test_the_same_seed_from_the_same_prices_gives_the_same_ticks(markets):
    """R-MG-08: a seeded random walk is reproducible; another seed walks elsewhere."""
    args = ("simulate_market", "--symbols", "BTCUSDT,ETHUSDT", "--ticks", "25", "--interval", "0")
    run(*args, "--seed", "42")
    first = {s: history(s, "simulated") for s in ("BTCUSDT", "ETHUSDT")}
    assert Market.objects.get(symbol="BTCUSDT").mark_price == first["BTCUSDT"][-1]
    _reset(markets)
    run(*args, "--seed", "42")
    second = {s: history(s, "simulated")[25:] for s in ("BTCUSDT", "ETHUSDT")}
    _reset(markets)
    run(*args, "--seed", "43")
    other = {s: history(s, "simulated")[50:] for s in ("BTCUSDT", "ETHUSDT")}

    assert all(len(prices) == 25 for prices in first.values())
    assert first == second
    assert other["BTCUSDT"] != first["BTCUSDT"]
    assert len(set(first["BTCUSDT"])) > 5  # it does move
    for symbol, prices in first.items():
        tick = markets[symbol].price_tick
        assert all(p > 0 and p % tick == 0 for p in prices)


def test_a_wild_walk_never_reaches_zero(markets):
    args = ("--symbols", "SOLUSDT", "--ticks", "40", "--interval", "0", "--seed", "2")
    run("simulate_market", *args, "--volatility", "3")
    prices = history("SOLUSDT", "simulated")
    assert len(prices) == 40
    assert min(prices) >= markets["SOLUSDT"].price_tick


def test_simulate_with_sweep_inline_sweeps_every_tick_of_every_market(markets):
    out = run("simulate_market", "--ticks", "3", "--interval", "0", "--seed", "5", "--sweep-inline")
    assert RiskSweep.objects.count() == 3 * 3  # every active priced market, every tick
    assert "0 liquidated" in out


def test_simulate_stops_cleanly_when_interrupted(markets, monkeypatch):
    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(simulate_market.time, "sleep", interrupt)
    out = run("simulate_market", "--symbols", "BTCUSDT", "--seed", "9")  # no --ticks: runs until stopped
    assert "Stopped" in out
    assert len(history("BTCUSDT", "simulated")) == 1


def test_simulate_says_when_a_mark_dated_in_the_future_keeps_its_ticks_as_history(markets):
    Market.objects.filter(symbol="BTCUSDT").update(mark_price_at=datetime(2999, 1, 1, tzinfo=UTC))
    out = run("simulate_market", "--symbols", "BTCUSDT", "--ticks", "2", "--interval", "0", "--seed", "1")
    assert "2 prices were kept as history only" in out
    assert Market.objects.get(symbol="BTCUSDT").mark_price == D("60000")


def test_simulate_refuses_bad_numbers(markets):
    with pytest.raises(CommandError, match="--ticks: must be a whole number ≥ 0, not '-1'"):
        run("simulate_market", "--ticks", "-1")
    with pytest.raises(CommandError, match="--volatility: must be a number ≥ 0, not 'nan'"):
        run("simulate_market", "--volatility", "nan")


def test_simulate_refuses_unknown_or_unpriced_symbols(markets):
    with pytest.raises(CommandError, match="unknown symbol"):
        run("simulate_market", "--symbols", "BTCUSDT,XRPUSDT", "--ticks", "1")
    Market.objects.create(
        symbol="DOGEUSDT",
        base_asset="DOGE",
        price_tick=D("0.00001"),
        qty_step=D("1"),
        min_qty=D("1"),
        max_order_qty=D("1000000"),
        max_leverage=20,
        maintenance_margin_rate=D("0.01"),
        taker_fee_rate=D("0.0005"),
    )
    with pytest.raises(CommandError, match="no mark price yet for DOGEUSDT"):
        run("simulate_market", "--symbols", "DOGEUSDT", "--ticks", "1")


# --- seed_demo -------------------------------------------------------------------------------


def _snapshot():
    return {
        model.__name__: model.objects.count()
        for model in (User, LedgerAccount, JournalEntry, Posting, Market, MarkPrice)
    } | {"markets": list(Market.objects.order_by("symbol").values())}


def test_seed_demo_creates_the_three_markets_and_a_second_run_changes_nothing():
    """R-MG-01: realistic demo markets, each with a first mark price; seeding twice is harmless."""
    run("seed_demo")
    btc, eth, sol = Market.objects.order_by("symbol")
    assert [m.symbol for m in (btc, eth, sol)] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert [m.price_tick for m in (btc, eth, sol)] == [D("0.1"), D("0.01"), D("0.001")]
    assert [m.qty_step for m in (btc, eth, sol)] == [D("0.001"), D("0.01"), D("0.1")]
    assert [m.max_order_qty for m in (btc, eth, sol)] == [D("50"), D("1000"), D("20000")]
    assert [m.max_leverage for m in (btc, eth, sol)] == [125, 100, 50]
    assert [m.maintenance_margin_rate for m in (btc, eth, sol)] == [D("0.004"), D("0.005"), D("0.01")]
    assert {(m.taker_fee_rate, m.funding_rate) for m in (btc, eth, sol)} == {(D("0.0005"), D("0.0001"))}
    assert all(m.token_follow_limit and m.mark_price and m.mark_price_at for m in (btc, eth, sol))
    assert MarkPrice.objects.filter(source="operator").count() == 3  # the demo's past adds simulated ones

    before = _snapshot()
    run("seed_demo")
    assert _snapshot() == before
    assert "ledger audit clean" in run("audit_ledger")


def test_seed_demo_leaves_an_existing_market_as_operators_left_it(markets):
    btc = markets["BTCUSDT"]
    mark_price_set(market=btc, price=D("65000"))
    Market.objects.filter(pk=btc.pk).update(max_leverage=20)
    run("seed_demo")
    btc.refresh_from_db()
    assert (btc.mark_price, btc.max_leverage) == (D("65000"), 20)
