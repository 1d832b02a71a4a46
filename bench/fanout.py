"""Benchmark of the copy fan-out (issue 4 "Performance"; R-CT-02, R-CT-04, R-CT-09 … R-CT-14, R-CT-21).

One approved lead trader with N followers in Smart Ratio mode, each in its own
sub-account, with mixed settings so that some are refused (pair not followed,
following interrupted, slippage, maximum position value, insufficient
balance) and the followed ones differ (cross and isolated, the lead's or a
fixed leverage, SL/TP ratios, a guardian, a position-value cap). Then it times

(open)  the lead opens 1 BTC (``order_place``) and the mark moves 0.15 % in the
        same commit; the fan-out then runs, from the lead's commit to the last
        follower row committed;
(close) the lead closes 100 % reduce-only at a mark 0.1 % higher, fanned out again.

Each N is run twice, each time with its own lead and followers: inline
(``copy_fanout`` in this process, batch after batch, with its queries, database
time by statement, memory and an optional profile), then on real ``copy``
workers (``bench/fanout_workers.py``: a Celery worker with K processes on
Redis; the lead's commit queues ``copy_fanout_run``, which queues one task per
batch), timed by polling the decision count; the median of
``--repeat`` such runs is reported. The floor, measured in the same run: PostgreSQL
COPY of the rows each fan-out wrote (decisions, positions, closes, outbox
events, journal entries, postings, ledger accounts) into fresh tables with the
same indexes and checks, and into bare ones. Every run checks that every
follower got exactly one decision per lead order with the planned reason or
size, that positions and the ledger match the decisions, and that the ledger
audit is clean.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/fanout.py   # N = 1,000 and 10,000

The database is ``DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/copytrading_fanout_bench): dropped and
re-created (only a database whose name contains "bench"), then migrated. The
broker is ``BENCH_BROKER_URL`` (default redis://127.0.0.1:6379/5; its ``copy``
queue is emptied before the workers start); with ``--workers 0`` it is the
in-memory one and only the inline run is made.

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
import resource
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

from bench.fanout_build import (  # noqa: E402 - after the path is set
    CLOSE_MOVE,
    GROUPS,
    LEAD_EQUITY,
    LEAD_QTY,
    OTHER_SYMBOL,
    SLIPPAGE_MOVE,
    SYMBOL,
    followers_create,
    lead_create,
    plan_outcomes,
)
from bench.fanout_checks import (  # noqa: E402
    check_close,
    check_open,
    fanout_selects,
    floors,
    max_id,
    report,
    targets_verdict,
)
from bench.fanout_workers import DEFAULT_BROKER_URL, CopyWorkers  # noqa: E402
from bench.risk_sweep import (  # noqa: E402
    QueryLog,
    _git_commit,
    _machine,
    _peak_rss,
    database_prepare,
    django_setup,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/copytrading_fanout_bench"
DEFAULT_FOLLOWERS = (1_000, 10_000)


def _fanout(order_id: int, profiler: cProfile.Profile | None) -> dict:
    """Run the fan-out of one lead order inline, as the worker would; time, count and log its queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from copytrading.services.fanout import copy_fanout

    log = QueryLog()
    gc.collect()
    collections = {"s": 0.0, "n": 0, "started": 0.0}

    def gc_timer(phase: str, _info: dict) -> None:
        if phase == "start":
            collections["started"] = time.perf_counter()
        else:
            collections["s"] += time.perf_counter() - collections["started"]
            collections["n"] += 1

    gc.callbacks.append(gc_timer)
    with ExitStack() as stack:
        stack.callback(gc.callbacks.remove, gc_timer)
        peak = stack.enter_context(_peak_rss())
        captured = stack.enter_context(CaptureQueriesContext(connection))
        stack.enter_context(connection.execute_wrapper(log))
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        decided = copy_fanout(lead_order_id=order_id)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
    return {
        "s": elapsed,
        "decided": decided,
        "queries": len(captured.captured_queries),
        "db_ms": log.db_ms,
        "top": log.top(10),
        "peak": peak,
        "gc_ms": collections["s"] * 1000,
        "gc_runs": collections["n"],
    }


def _fanout_on(workers: CopyWorkers, order_id: int, n: int, committed_at: float) -> dict:
    """Wait for the copy workers to decide every follower of one lead order; time it from the lead's commit."""
    finished, decided = workers.wait_decided(order_id, n)
    return {
        "s": finished - committed_at,
        "decided": decided,
        "queries": None,  # issued in the workers: the inline run counts them
        "db_ms": None,
        "top": [],
        "peak": {"mb": workers.peak_rss_mb()},
        "gc_ms": None,
        "gc_runs": None,
    }


def run_benchmark(
    n: int,
    *,
    seed: int = 1,
    progress: bool = False,
    profile: bool = False,
    batch: int | None = None,
    workers: CopyWorkers | None = None,
) -> dict:
    """Build a lead with n followers on the current database, fan out one open and one close, check; return results.

    Without ``workers`` each fan-out runs inline in this process (``copy_fanout``),
    measured with its queries; with them, on the real ``copy`` workers from the
    lead's commit (``copy_fanout_run`` queued on commit, its batches spread).
    """
    if n < len(GROUPS):
        raise ValueError(f"at least {len(GROUPS)} followers, one per group of settings")
    from django.conf import settings
    from django.db import connection, transaction
    from django.db.models import F, Sum

    from accounts.models import AccountKind
    from accounts.selectors import ledger_audit
    from accounts.services.accounts import platform_account
    from copytrading.futures import margin as m
    from copytrading.futures.models import (
        Market,
        OutboxEvent,
        Position,
        PositionClose,
        PositionStatus,
        PriceSource,
    )
    from copytrading.futures.services.demo import markets_seed_demo
    from copytrading.futures.services.orders import order_place
    from copytrading.futures.services.prices import mark_price_set
    from copytrading.valuation import lead_follower_slots

    markets_seed_demo()
    market, other = Market.objects.get(symbol=SYMBOL), Market.objects.get(symbol=OTHER_SYMBOL)
    tag = f"{seed}-{time.time_ns():x}"
    started = time.perf_counter()
    lead, wallet = lead_create(n, tag=tag)
    specs = followers_create(n, lead, other, seed=seed, tag=tag, progress=progress)
    setup_s = time.perf_counter() - started
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have by now
        cursor.execute(
            "ANALYZE accounts_user, accounts_ledgeraccount, accounts_posting, accounts_journalentry, "
            "copytrading_following, copytrading_position, copytrading_copydecision"
        )
    setup_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before _peak_rss resets it
    fees_account = platform_account(kind=AccountKind.FEE_REVENUE)
    others_before = sorted(
        Position.objects.filter(market=other, slot__in=[sp["following"] for sp in specs]).values_list(
            "pk", "qty", "status"
        )
    )

    checks: dict[str, bool] = {"slots_fit": lead_follower_slots(lead=lead) >= n}
    saved_batch = settings.COPY_FANOUT_BATCH
    if batch:
        settings.COPY_FANOUT_BATCH = batch
    committed: dict[str, float] = {}
    try:
        # The open: the lead's fill and a move of the mark commit together, so the mark has
        # moved before any copy worker runs; the outcomes are planned before the commit too.
        with transaction.atomic():
            transaction.on_commit(lambda: committed.__setitem__("open", time.perf_counter()))  # first hook
            t0 = time.perf_counter()
            open_order = order_place(
                account=wallet, market=market, side="buy", qty=LEAD_QTY, idempotency_key=f"open-{tag}"
            )
            lead_open_ms = (time.perf_counter() - t0) * 1000
            checks["lead_open_copyable"] = open_order.lead_equity == LEAD_EQUITY and not open_order.copy_blocked
            market.refresh_from_db()
            price = m.round_price(open_order.price * (1 + SLIPPAGE_MOVE), market.price_tick, up=False)
            mark_price_set(market=market, price=price, source=PriceSource.SIMULATED)
            token_used = Position.objects.filter(market=market, status=PositionStatus.OPEN, slot__gt=0).aggregate(
                v=Sum(F("qty") * F("entry_price"))
            )["v"] or Decimal(0)
            plan_outcomes(specs, open_order, market, price, token_used)
        profiler = cProfile.Profile() if profile and not workers else None
        opened_run = (
            _fanout_on(workers, open_order.pk, n, committed["open"]) if workers else _fanout(open_order.pk, profiler)
        )
        checks["open_decided_all"] = opened_run["decided"] == n
        open_checks, opened = check_open(specs, open_order, market, fees_account.pk)
        checks.update(open_checks)
        open_floor_ms, open_indexed_ms, open_rows = floors(
            fanout_selects(open_order.pk, followings=[sp["following"] for sp in specs if sp["group"] == "new_pair"])
        )

        # The close: 100 % reduce-only at a mark 0.1 % higher.
        close_price = m.round_price(price * (1 + CLOSE_MOVE), market.price_tick, up=False)
        mark_price_set(market=market, price=close_price, source=PriceSource.SIMULATED)
        with transaction.atomic():
            transaction.on_commit(lambda: committed.__setitem__("close", time.perf_counter()))
            t0 = time.perf_counter()
            close_order = order_place(
                account=wallet,
                market=market,
                side="sell",
                qty=LEAD_QTY,
                reduce_only=True,
                idempotency_key=f"close-{tag}",
            )
            lead_close_ms = (time.perf_counter() - t0) * 1000
            checks["lead_close_is_full"] = close_order.closed_fraction == 1 and close_order.filled_qty == LEAD_QTY
            closes_before, events_before = max_id(PositionClose), max_id(OutboxEvent)  # after the lead's own close
        closed_run = (
            _fanout_on(workers, close_order.pk, n, committed["close"]) if workers else _fanout(close_order.pk, None)
        )
        checks["close_decided_all"] = closed_run["decided"] == n
        checks.update(check_close(specs, close_order, market, opened))
        close_floor_ms, close_indexed_ms, close_rows = floors(
            fanout_selects(close_order.pk, closes_after=closes_before, events_after=events_before)
        )
        checks["other_positions_untouched"] = others_before == sorted(
            Position.objects.filter(market=other, slot__in=[sp["following"] for sp in specs]).values_list(
                "pk", "qty", "status"
            )
        )
    finally:
        settings.COPY_FANOUT_BATCH = saved_batch

    audit_started = time.perf_counter()
    checks["ledger_audit_ok"] = ledger_audit().ok
    audit_ms = (time.perf_counter() - audit_started) * 1000

    outcomes = Counter(sp["expected_reason"] or "followed" for sp in specs)
    results = {
        "n": n,
        "mode": f"{workers.processes} copy worker processes" if workers else "inline, one process",
        "workers": workers.processes if workers else 0,
        "open_order_id": open_order.pk,
        "batch": batch or saved_batch,
        "setup_s": round(setup_s, 1),
        "outcomes": dict(sorted(outcomes.items(), key=lambda kv: -kv[1])),
        "followed": outcomes["followed"],
        "lead_open_ms": round(lead_open_ms, 1),
        "lead_close_ms": round(lead_close_ms, 1),
        "audit_ms": round(audit_ms, 1),
        "checks": checks,
        "ok": all(checks.values()),
    }
    for name, run, floor_ms, indexed_ms, rows in (
        ("open", opened_run, open_floor_ms, open_indexed_ms, open_rows),
        ("close", closed_run, close_floor_ms, close_indexed_ms, close_rows),
    ):
        results[name] = {
            "ms": round(run["s"] * 1000, 1),
            "us_per_follower": round(run["s"] * 1e6 / n),
            "gc_ms": None if run["gc_ms"] is None else round(run["gc_ms"], 1),
            "gc_runs": run["gc_runs"],
            "floor_indexed_ms": round(indexed_ms, 1),
            "queries": run["queries"],
            "queries_per_follower": None if run["queries"] is None else round(run["queries"] / n, 4),
            "db_ms": None if run["db_ms"] is None else round(run["db_ms"], 1),
            "top": run["top"],
            "rows": sum(rows.values()),
            "rows_by_table": rows,
            "floor_ms": round(floor_ms, 1),
            "ratio": round(run["s"] * 1000 / max(floor_ms, 1e-6), 1),
            "ratio_indexed": round(run["s"] * 1000 / max(indexed_ms, 1e-6), 1),
            "peak_rss_mb": round(run["peak"]["mb"], 1),
        }
    results["peak_rss_mb_process"] = round(
        max(
            setup_peak_mb,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            results["open"]["peak_rss_mb"],
            results["close"]["peak_rss_mb"],
        ),
        1,
    )
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
        stats.print_stats(r"(accounts|copytrading|config)/|django/db/models/(query|sql/compiler|base)\.py", 45)
        stats.sort_stats("tottime").print_stats(25)
        results["profile"] = text.getvalue()
    return results


# --- the command line ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, nargs="+", default=list(DEFAULT_FOLLOWERS), help="N, one run each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=None, help="followings per fan-out batch (COPY_FANOUT_BATCH)")
    parser.add_argument(
        "--workers", type=int, default=2, help="copy worker processes for the timed run (0: the inline run only)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs on the workers per N, each with its own lead (median shown)"
    )
    parser.add_argument("--profile", action="store_true", help="run the largest N's inline open under cProfile")
    args = parser.parse_args(argv)
    if min(args.followers) < len(GROUPS):
        parser.error(f"--followers must be at least {len(GROUPS)}")
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    broker = os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL)
    database_prepare(url)
    django_setup(url)
    if args.workers:
        from config.celery import app

        app.conf.broker_url = broker  # the lead's commit queues its fan-out for the real workers
    print(f"copy fan-out benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_git_commit()}")
    print(f"machine: {_machine()}")
    ok = True
    largest = max(args.followers)
    for n in args.followers:
        inline = run_benchmark(
            n, seed=args.seed, progress=True, profile=args.profile and n == largest, batch=args.batch
        )
        print()
        print(report(inline))
        ok = ok and inline["ok"]
        timed = inline
        if args.workers:  # started now, so they never see the inline run's queued fan-out
            workers = CopyWorkers(processes=args.workers, database_url=url, broker_url=broker, batch=args.batch)
            workers.start()
            try:
                workers.warm(inline["open_order_id"])
                runs = []
                for _ in range(max(1, args.repeat)):
                    runs.append(run_benchmark(n, seed=args.seed, batch=args.batch, workers=workers))
                    ok = ok and runs[-1]["ok"]
            finally:
                workers.stop()
            runs.sort(key=lambda r: r["open"]["ms"])
            timed = runs[len(runs) // 2]
            timed["repeats"] = {name: sorted(r[name]["ms"] for r in runs) for name in ("open", "close")}
            print()
            print(report(timed))
        if n >= 10_000:
            print()
            print(targets_verdict(timed, inline))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
