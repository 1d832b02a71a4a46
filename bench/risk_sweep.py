"""Benchmark of the risk sweep (DESIGN.md "Targets"; R-MG-04, R-MG-08).

N open positions in one market (BTCUSDT), each in its own user's futures
account: isolated and cross, longs and shorts, leverage 1x-20x, some with
take-profit / stop-loss, and a known 1 % — 50x longs — that a 3 % fall
liquidates. Then it times

(a) ticks that cross nothing: ``mark_price_set`` + ``risk_sweep`` (median of several);
(b) one tick that liquidates exactly that 1 %, checking that exactly those
    positions were liquidated and that the ledger audit is clean;

and measures a floor in the same run — (a) one plain indexed SELECT count over
the same positions, (b) PostgreSQL COPY of the rows tick (b) wrote, in one
transaction — and prints each time with its ratio to its floor.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/risk_sweep.py --positions 100000

The database is ``DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/copytrading_bench): created when missing,
dropped and re-created when it exists (only a database whose name contains
"bench"), then migrated. Celery's broker is replaced by the in-memory one, so
the sweep each tick queues after commit goes nowhere; the benchmark runs the
sweep itself, inline, as a worker would.

``run_benchmark(n)`` is the whole measurement on the current database
connection; the smoke test calls it inside its test database.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/copytrading_bench"
TARGET_EMPTY_MS = 20.0
TARGET_ONE_PERCENT_MS = 1000.0
CHUNK = 5000  # users, accounts and positions created per transaction
EMPTY_TICKS = 9  # (a) is the median of these, after one warm-up tick
SYMBOL = "BTCUSDT"


# --- the database and Django -----------------------------------------------------------------


def database_prepare(url: str) -> None:
    """Create the benchmark database, dropping it first if it exists (only a "bench" database)."""
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name:
        raise SystemExit(f"DATABASE_URL names no database: {url}")
    admin = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            if "bench" not in name:
                raise SystemExit(f"refusing to drop database {name!r}: its name does not contain 'bench'")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from config.celery import app

    # The sweep a tick queues after commit is run inline by the benchmark instead.
    app.conf.broker_url = "memory://localhost/"
    call_command("migrate", verbosity=0)


# --- the positions ---------------------------------------------------------------------------


def _dec(value: float, places: str = "0.00000001"):
    from decimal import ROUND_DOWN, Decimal

    return Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_DOWN)


def _spec(i: int, k: int, rng: random.Random, market, p0) -> dict:
    """Position ``i`` of the benchmark. The first index of every hundred (k of them) is a doomed 50x long.

    P0 is the mark at the start, P1 = 0.97 P0 the price of tick (b). Doomed:
    entry 0.995-1 P0, isolated margin qE/50 or a cross cushion of 1-1.2 × qE/50,
    so the liquidation price is above 0.975 P0 and at P1 the equity is negative.
    Others: entry 0.99-1.01 P0, leverage ≤ 20x and a cushion ≥ the initial
    margin, so a long's liquidation price is below 0.9634 P0 and a short's above
    1.035 P0: neither P1 nor the empty ticks (≤ 1.001 P0) reach them; TP/SL sit at ±10 %.
    """
    from copytrading.futures import margin as m

    doomed = i % 100 == 0 and i // 100 < k
    if doomed:
        side, leverage = "long", 50
        isolated = (i // 100) % 2 == 0
        entry_factor, extra = rng.uniform(0.995, 1.0), rng.uniform(1.0, 1.2)
    else:
        side = "long" if rng.random() < 0.5 else "short"
        leverage = rng.choice((1, 2, 3, 5, 10, 20))
        isolated = rng.random() < 0.5
        entry_factor, extra = rng.uniform(0.99, 1.01), rng.uniform(1.0, 3.0)
    entry = m.round_price(p0 * _dec(entry_factor), market.price_tick, up=False)
    qty = max(m.round_step_down(_dec(rng.uniform(200, 20000)) / entry, market.qty_step), market.min_qty)
    margin = m.initial_margin(qty=qty, price=entry, leverage=leverage)
    sign = 1 if side == "long" else -1
    if isolated:
        free = _dec(float(margin) * rng.uniform(0.1, 1.0))  # what the wallet holds besides
        liquidation = m.isolated_liquidation_price(
            sign=sign,
            qty=qty,
            entry=entry,
            margin=margin,
            mmr=market.maintenance_margin_rate,
            tick=market.price_tick,
        )
    else:
        free = _dec(float(margin) * extra)  # the whole cushion of the cross account
        liquidation = m.cross_liquidation_price(
            legs=[m.Leg(sign, qty, entry)], cushion=free, mmr=market.maintenance_margin_rate, tick=market.price_tick
        )
    tp = sl = None
    if not doomed and rng.random() < 0.1:
        up, down = (
            m.round_price(p0 * _dec(1.1), market.price_tick, up=True),
            m.round_price(p0 * _dec(0.9), market.price_tick, up=False),
        )
        tp, sl = (up, down) if side == "long" else (down, up)
    return {
        "doomed": doomed,
        "side": side,
        "leverage": leverage,
        "isolated": isolated,
        "entry": entry,
        "qty": qty,
        "margin": margin,
        "free": free,
        "liquidation": liquidation,
        "tp": tp,
        "sl": sl,
    }


def _fingerprint(kind: str, legs) -> str:
    from accounts.services import ledger

    return ledger._fingerprint(kind, legs)  # the key a replay of this entry through entry_post would match


def positions_create(n: int, market, *, seed: int, progress: bool) -> list[int]:
    """Create n users, futures wallets, their isolated-margin accounts and open positions; return the doomed ids.

    Money comes from the external custody account by one balanced compound
    journal entry per chunk (postings, cached balances and the custody balance
    written in the same transaction), so the ledger audit holds throughout.
    """
    from django.db import transaction
    from django.db.models import F
    from tqdm import tqdm

    from accounts.models import AccountKind, JournalEntry, LedgerAccount, Posting, User
    from accounts.services.accounts import platform_account
    from accounts.services.ledger import Leg
    from copytrading.futures.models import MarginMode, Position, PositionSide

    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    k = n // 100
    p0 = market.mark_price
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    tag = f"{seed}-{time.time_ns():x}"
    doomed: list[int] = []
    with tqdm(total=n, unit="position", desc="positions", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, n, CHUNK):
            specs = [_spec(i, k, rng, market, p0) for i in range(start, min(start + CHUNK, n))]
            with transaction.atomic():
                users = User.objects.bulk_create(
                    [User(email=f"bench-{tag}-{start + j}@bench.invalid", password="!") for j in range(len(specs))],
                    batch_size=2000,
                )
                wallets = LedgerAccount.objects.bulk_create(
                    [
                        LedgerAccount(owner=u, kind=AccountKind.FUTURES, balance=s["free"])
                        for u, s in zip(users, specs, strict=True)
                    ],
                    batch_size=2000,
                )
                # Every trading account that ever placed an order has its isolated-margin account
                # (order_place opens it), so cross accounts get an empty one too.
                margins = LedgerAccount.objects.bulk_create(
                    [
                        LedgerAccount(
                            owner=u,
                            kind=AccountKind.POSITION_MARGIN,
                            ref=str(w.pk),
                            balance=s["margin"] if s["isolated"] else 0,
                        )
                        for u, w, s in zip(users, wallets, specs, strict=True)
                    ],
                    batch_size=2000,
                )
                positions = Position.objects.bulk_create(
                    [
                        Position(
                            account=w,
                            market=market,
                            side=PositionSide.LONG if s["side"] == "long" else PositionSide.SHORT,
                            qty=s["qty"],
                            entry_price=s["entry"],
                            leverage=s["leverage"],
                            margin_mode=MarginMode.ISOLATED if s["isolated"] else MarginMode.CROSS,
                            margin=s["margin"],
                            liquidation_price=s["liquidation"],
                            take_profit_price=s["tp"],
                            stop_loss_price=s["sl"],
                        )
                        for w, s in zip(wallets, specs, strict=True)
                    ],
                    batch_size=2000,
                )
                doomed += [p.pk for p, s in zip(positions, specs, strict=True) if s["doomed"]]
                legs = [Leg(a.pk, a.balance) for a in (*wallets, *margins) if a.balance]
                total = sum(leg.amount for leg in legs)
                legs.append(Leg(custody.pk, -total))
                entry = JournalEntry.objects.create(
                    kind="bench_funding",
                    idempotency_key=f"bench:{tag}:{start}",
                    fingerprint=_fingerprint("bench_funding", legs),
                    reference="bench",
                    reason="risk sweep benchmark funding",
                )
                Posting.objects.bulk_create(
                    [Posting(entry=entry, account_id=leg.account_id, amount=leg.amount) for leg in legs],
                    batch_size=5000,
                )
                LedgerAccount.objects.filter(pk=custody.pk).update(balance=F("balance") - total)
            bar.update(len(specs))
    return doomed


# --- measuring -------------------------------------------------------------------------------


class QueryLog:
    """Counts queries and their database time by statement shape (a cheap execute wrapper)."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            shape = " ".join(sql.split()[:8])[:110]
            self.count[shape] += 1
            self.seconds[shape] += time.perf_counter() - started

    @property
    def total(self) -> int:
        return sum(self.count.values())

    @property
    def db_ms(self) -> float:
        return sum(self.seconds.values()) * 1000

    def top(self, limit: int = 8) -> list[dict]:
        shapes = sorted(self.seconds, key=self.seconds.get, reverse=True)[:limit]
        return [{"sql": s, "count": self.count[s], "ms": round(self.seconds[s] * 1000, 1)} for s in shapes]


@contextmanager
def _peak_rss():
    """Peak resident memory (MB) while the block runs: Linux's VmHWM, reset first; else ru_maxrss."""
    box: dict[str, float] = {}
    reset = False
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        pass
    yield box
    if reset:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                box["mb"] = int(line.split()[1]) / 1024
                return
    box["mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _tick(market, price, log: QueryLog | None = None):
    from django.db import connection

    from copytrading.futures.models import PriceSource
    from copytrading.futures.services.liquidation import risk_sweep
    from copytrading.futures.services.prices import mark_price_set

    with connection.execute_wrapper(log) if log else _nothing():
        started = time.perf_counter()
        mark = mark_price_set(market=market, price=price, source=PriceSource.SIMULATED)
        sweep = risk_sweep(market_id=market.pk, tick_id=mark.pk)
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, sweep


@contextmanager
def _nothing():
    yield


def _floor_count(market, price) -> float:
    """A plain indexed SELECT count over the same positions (the long-liquidation partial index)."""
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT count(*) FROM copytrading_position WHERE market_id = %s AND status = 'open' "
            "AND side = 'long' AND liquidation_price >= %s",
            [market.pk, price],
        )
        cursor.fetchone()
        return (time.perf_counter() - started) * 1000


def copy_floor(selects: dict[str, str], *, indexed: bool = False) -> tuple[float, dict[str, int]]:
    """COPY the rows an operation wrote (``selects``: table → WHERE) into fresh tables like theirs, in one
    transaction: (ms, rows per table). The floor each benchmark compares its operation with.

    ``indexed``: the fresh tables also get the originals' indexes and checks (LIKE … INCLUDING ALL), a
    second reference that pays the index maintenance the operation pays (not its foreign-key checks).
    """
    from django.db import connection, transaction

    dumps: dict[str, bytes] = {}
    like = " INCLUDING ALL" if indexed else ""
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for table, where in selects.items():
            with raw.copy(f"COPY (SELECT * FROM {table} WHERE {where}) TO STDOUT") as copy:
                dumps[table] = b"".join(bytes(chunk) for chunk in copy)
            cursor.execute(f"CREATE TABLE bench_floor_{table} (LIKE {table}{like})")
        started = time.perf_counter()
        with transaction.atomic():
            for table, data in dumps.items():
                with raw.copy(f"COPY bench_floor_{table} FROM STDIN") as copy:
                    copy.write(data)
        elapsed = (time.perf_counter() - started) * 1000
        for table in dumps:
            cursor.execute(f"DROP TABLE bench_floor_{table}")
    return elapsed, {table: data.count(b"\n") for table, data in dumps.items()}


def _max_id(model) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def run_benchmark(n: int, *, seed: int = 1, progress: bool = False, profile: bool = False) -> dict:
    """Build n positions on the current database, run ticks (a) and (b), check them; return the results."""
    if n < 100 or n % 100:
        raise ValueError("the number of positions must be a multiple of 100 (1 % of them is liquidated)")
    from decimal import Decimal

    from django.db import connection

    from accounts.models import JournalEntry
    from accounts.selectors import ledger_audit
    from copytrading.futures import margin as m
    from copytrading.futures.models import (
        CloseReason,
        MarginMode,
        Market,
        OutboxEvent,
        Position,
        PositionClose,
        PositionStatus,
    )
    from copytrading.futures.risk import cross_prices, isolated_liquidation_price
    from copytrading.futures.services.demo import markets_seed_demo

    markets_seed_demo()
    market = Market.objects.get(symbol=SYMBOL)
    if Position.objects.filter(market=market, status=PositionStatus.OPEN).exists():
        raise RuntimeError(f"{SYMBOL} already has open positions; benchmark an empty database")
    p0 = market.mark_price

    started = time.perf_counter()
    doomed = positions_create(n, market, seed=seed, progress=progress)
    setup_s = time.perf_counter() - started
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have by now
        cursor.execute("ANALYZE copytrading_position, accounts_ledgeraccount, accounts_posting, accounts_user")
    gc.collect()
    setup_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before _peak_rss resets it

    checks: dict[str, bool] = {}
    # The stored estimates are what the services compute (a sample of both modes).
    sample = list(Position.objects.filter(market=market).select_related("market", "account").order_by("?")[:200])
    checks["liquidation_prices_match_services"] = all(
        p.liquidation_price
        == (
            isolated_liquidation_price(p)
            if p.margin_mode == MarginMode.ISOLATED
            else cross_prices(p.account, [p])[0][id(p)]
        )
        for p in sample
    )

    # (a) ticks that cross nothing: up to +0.1 %, far from every trigger.
    tick = market.price_tick
    empty_prices = [m.round_price(p0 * (1 + Decimal(j) / 10000), tick, up=False) for j in range(EMPTY_TICKS + 1)]
    empty_logs = [QueryLog() for _ in empty_prices]
    empty = [_tick(market, price, log) for price, log in zip(empty_prices, empty_logs, strict=True)]
    empty_ms = [ms for ms, _sweep in empty[1:]]  # the first is the warm-up
    checks["empty_ticks_touched_nothing"] = all(s.liquidated == 0 and s.triggered == 0 for _ms, s in empty) and (
        Position.objects.filter(market=market, status=PositionStatus.OPEN).count() == n
    )
    floor_empty = statistics.median(_floor_count(market, empty_prices[-1]) for _ in range(EMPTY_TICKS))

    # (b) the tick that liquidates the doomed 1 %.
    before = {model: _max_id(model) for model in (JournalEntry, OutboxEvent, PositionClose)}
    crash = m.round_price(p0 * Decimal("0.97"), tick, up=False)
    log = QueryLog()
    profiler = cProfile.Profile() if profile else None
    with _peak_rss() as peak:
        if profiler:
            profiler.enable()
        one_ms, sweep = _tick(market, crash, log)
        if profiler:
            profiler.disable()
    closed = set(Position.objects.filter(market=market, status=PositionStatus.CLOSED).values_list("pk", flat=True))
    reasons = set(PositionClose.objects.filter(position__market=market).values_list("reason", flat=True))
    checks["liquidated_exactly_the_expected"] = closed == set(doomed) and len(doomed) == n // 100
    checks["sweep_counted_them"] = sweep.liquidated == n // 100 and sweep.triggered == 0
    checks["all_closes_are_liquidations"] = reasons == {CloseReason.LIQUIDATION}

    entries, closes = f"id > {before[JournalEntry]}", f"id > {before[PositionClose]}"
    floor_one, floor_tables = copy_floor(
        {
            "accounts_journalentry": entries,
            "accounts_posting": f"entry_id IN (SELECT id FROM accounts_journalentry WHERE {entries})",
            "accounts_ledgeraccount": (
                "id IN (SELECT account_id FROM accounts_posting WHERE entry_id IN "
                f"(SELECT id FROM accounts_journalentry WHERE {entries}))"
            ),
            "copytrading_position": f"id IN (SELECT position_id FROM copytrading_positionclose WHERE {closes})",
            "copytrading_positionclose": closes,
            "copytrading_outboxevent": f"id > {before[OutboxEvent]}",
            "copytrading_risksweep": f"id = {sweep.pk}",
            "copytrading_markprice": f"id = {sweep.tick_id}",
        }
    )

    audit_started = time.perf_counter()
    audit = ledger_audit()
    checks["ledger_audit_ok"] = audit.ok
    audit_ms = (time.perf_counter() - audit_started) * 1000

    results = {
        "n": n,
        "liquidated": len(closed),
        "expected_liquidated": len(doomed),
        "setup_s": round(setup_s, 1),
        "empty_tick_ms": round(statistics.median(empty_ms), 2),
        "empty_tick_ms_max": round(max(empty_ms), 2),
        "empty_tick_queries": empty_logs[-1].total,
        "empty_tick_db_ms": round(statistics.median(log.db_ms for log in empty_logs[1:]), 2),
        "empty_tick_top_queries": empty_logs[-1].top(4),
        "floor_empty_ms": round(floor_empty, 3),
        "one_percent_tick_ms": round(one_ms, 1),
        "one_percent_queries": log.total,
        "one_percent_db_ms": round(log.db_ms, 1),
        "one_percent_top_queries": log.top(),
        "floor_one_percent_ms": round(floor_one, 1),
        "floor_one_percent_rows": sum(floor_tables.values()),
        "peak_rss_mb_during_tick": round(peak["mb"], 1),
        "peak_rss_mb_process": round(
            max(setup_peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, peak["mb"]), 1
        ),
        "audit_ms": round(audit_ms, 1),
        "checks": checks,
        "ok": all(checks.values()),
    }
    results["empty_ratio"] = round(results["empty_tick_ms"] / max(floor_empty, 1e-6), 1)
    results["one_percent_ratio"] = round(one_ms / max(floor_one, 1e-6), 1)
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
        stats.print_stats(r"(accounts|copytrading)/|bulk_update|refresh_from_db|related_descriptors", 40)
        results["profile"] = text.getvalue()
    return results


# --- the command line ------------------------------------------------------------------------


def _git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return f"{os.cpu_count()} cores ({model}), PostgreSQL {pg}, Python {sys.version.split()[0]}"


def _report(results: dict) -> str:
    def verdict(value: float, target: float) -> str:
        return "meets" if value <= target else "MISSES"

    lines = [
        f"risk sweep benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_git_commit()}",
        f"machine: {_machine()}",
        f"positions: {results['n']:,} in {SYMBOL} (built in {results['setup_s']} s)",
        "",
        f"(a) empty tick    {results['empty_tick_ms']:>9.2f} ms median (max {results['empty_tick_ms_max']:.2f}) "
        f"— {verdict(results['empty_tick_ms'], TARGET_EMPTY_MS)} the ≤ {TARGET_EMPTY_MS:.0f} ms target; "
        f"{results['empty_tick_queries']} queries, {results['empty_tick_db_ms']:.2f} ms in the database",
        f"    floor: indexed SELECT count  {results['floor_empty_ms']:.3f} ms → ratio {results['empty_ratio']}",
        f"(b) 1 % tick      {results['one_percent_tick_ms']:>9.1f} ms "
        f"— {verdict(results['one_percent_tick_ms'], TARGET_ONE_PERCENT_MS)} the ≤ {TARGET_ONE_PERCENT_MS:.0f} ms "
        f"target; {results['liquidated']:,} liquidated, {results['one_percent_queries']} queries, "
        f"{results['one_percent_db_ms']:.1f} ms in the database",
        f"    floor: COPY of the {results['floor_one_percent_rows']:,} rows it wrote  "
        f"{results['floor_one_percent_ms']:.1f} ms → ratio {results['one_percent_ratio']}",
        f"peak memory: {results['peak_rss_mb_during_tick']:.1f} MB RSS during tick (b); "
        f"{results['peak_rss_mb_process']:.1f} MB for the whole run",
        f"ledger audit: {results['audit_ms']:.0f} ms",
        "",
        "checks: " + ", ".join(f"{name} {'ok' if ok else 'FAILED'}" for name, ok in results["checks"].items()),
        "",
        "last empty tick, database time by statement:",
        *(f"  {q['ms']:>8.2f} ms  {q['count']:>5}×  {q['sql']}" for q in results["empty_tick_top_queries"]),
        "tick (b), database time by statement:",
        *(f"  {q['ms']:>8.1f} ms  {q['count']:>5}×  {q['sql']}" for q in results["one_percent_top_queries"]),
    ]
    if "profile" in results:
        lines += ["", "tick (b) under cProfile (times inflated by the profiler):", results["profile"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--positions", type=int, default=100_000, help="open positions (a multiple of 100)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="run tick (b) under cProfile and print the top")
    args = parser.parse_args(argv)
    if args.positions < 100 or args.positions % 100:
        parser.error("--positions must be a multiple of 100")
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_prepare(url)
    django_setup(url)
    results = run_benchmark(args.positions, seed=args.seed, progress=True, profile=args.profile)
    print(_report(results))
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
