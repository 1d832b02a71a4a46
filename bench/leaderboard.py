"""Benchmark of the trader list (issue 5: GET /api/v1/traders, p95 ≤ 50 ms; R-CT-18, R-CT-19).

N approved lead traders (default 10,000), each with a year of daily equity
snapshots and its stored statistics and flags. It then requests
``GET /api/v1/traders`` through the real URL (Django's test client: routing,
middleware, DRF, serializers, pagination) with every sort and a mix of
filters, and reports p50 / p95 / max. The floor, in the same run, is the
database alone: the SQL of the same query executed directly.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/leaderboard.py --traders 10000

The database is ``DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/copytrading_leaderboard_bench), dropped and
re-created like the other benchmarks'. ``run_benchmark(n, days)`` runs on the
current connection; the smoke test calls it in its test database.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.risk_sweep import _git_commit, _machine, _peak_rss, database_prepare, django_setup  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/copytrading_leaderboard_bench"
TARGET_P95_MS = 50.0
REQUESTS = 200
QUERIES = [
    {"sort": "roi_30"},
    {"sort": "followers_pnl"},
    {"sort": "aum"},
    {"sort": "max_drawdown"},
    {"sort": "roi_30", "min_trading_days": "90"},
    {"sort": "roi_30", "max_drawdown": "0.3"},
    {"sort": "aum", "exclude_flags": ["freefall", "heart_monitor"]},
    {"sort": "roi_30", "min_trading_days": "60", "max_drawdown": "0.5", "exclude_flags": ["new"]},
]
FLAG_CHOICES = ["new", "young", "drawdown", "freefall", "past_star", "heart_monitor"]
CHUNK = 2000  # traders (and their year of snapshots) per transaction


def traders_create(n: int, days: int, *, seed: int, progress: bool) -> list[int]:
    """N approved leads with stats and ``days`` daily snapshots each; returns their ids."""
    from django.db import transaction
    from tqdm import tqdm

    from accounts.models import User
    from config.db import copy_rows
    from copytrading.models import EquitySnapshot, LeadTrader, TraderStats

    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    last_day = date(2026, 11, 21)
    ids: list[int] = []
    bar = tqdm(total=n, unit="trader", disable=not progress)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        with transaction.atomic():
            users = User.objects.bulk_create(
                User(email=f"lead{start + i}-{seed}@bench.local", password="!") for i in range(size)
            )
            leads = LeadTrader.objects.bulk_create(
                LeadTrader(
                    user=u, nickname=f"lead-{seed}-{start + i}", profit_share_ratio=Decimal("0.1"), status="approved"
                )
                for i, u in enumerate(users)
            )
            stats = []
            for lead in leads:
                trading_days = rng.randint(1, days)
                stats.append(
                    TraderStats(
                        lead=lead,
                        roi_7=_r(rng, 0.2),
                        roi_30=_r(rng, 0.5),
                        roi_90=_r(rng, 1),
                        roi_all=_r(rng, 2),
                        pnl_all=Decimal(rng.randint(-50_000, 200_000)),
                        max_drawdown=abs(_r(rng, 0.8)),
                        trading_days=trading_days,
                        followers_count=rng.randint(0, 500),
                        followers_pnl=Decimal(rng.randint(-100_000, 500_000)),
                        aum=Decimal(rng.randint(0, 5_000_000)),
                        flags=rng.sample(FLAG_CHOICES, rng.randint(0, 2)),
                    )
                )
            TraderStats.objects.bulk_create(stats)
            now = datetime.now(UTC)
            rows = (
                (
                    "lead",
                    lead.pk,
                    last_day - timedelta(days=d),
                    Decimal(10_000 + rng.randint(-5000, 50_000)),
                    Decimal(0),
                    now,
                )
                for lead in leads
                for d in range(days)
            )
            copy_rows(EquitySnapshot, ("kind", "subject_id", "day", "equity", "net_flow", "created_at"), rows)
        ids.extend(lead.pk for lead in leads)
        bar.update(size)
    bar.close()
    return ids


def _r(rng: random.Random, scale: float) -> Decimal:
    return Decimal(repr(round(rng.uniform(-scale, scale), 6)))


def _sql_of(params: dict) -> tuple[str, list]:
    from copytrading.selectors.traders import trader_list

    values = {k: v for k, v in params.items() if k != "exclude_flags"}
    for key in ("min_trading_days",):
        if key in values:
            values[key] = int(values[key])
    if "max_drawdown" in values:
        values["max_drawdown"] = Decimal(values["max_drawdown"])
    queryset = trader_list(**values, exclude_flags=params.get("exclude_flags"))[:20]
    sql, sql_params = queryset.query.sql_with_params()
    return sql, list(sql_params)


def run_benchmark(n: int, days: int = 365, *, seed: int = 1, progress: bool = False, requests: int = REQUESTS) -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    built = time.perf_counter()
    ids = traders_create(n, days, seed=seed, progress=progress)
    built_s = time.perf_counter() - built
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE copytrading_leadtrader, copytrading_traderstats, copytrading_equitysnapshot")
    client = Client(HTTP_HOST="localhost")  # a host every settings module allows
    checks: dict[str, bool] = {}
    times, floors = [], []
    with _peak_rss() as peak:
        for i in range(requests):
            params = QUERIES[i % len(QUERIES)]
            started = time.perf_counter()
            response = client.get("/api/v1/traders", params)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                checks["all_requests_ok"] = False
                continue
            if i < len(QUERIES):
                rows = response.json()["results"]
                checks[f"sorted_{i}"] = _sorted_as_asked(rows, params)
                if i == 0:
                    checks["first_page_full"] = len(rows) == min(20, n)
            sql, sql_params = _sql_of(params)
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(sql, sql_params)
                cursor.fetchall()
            floors.append((time.perf_counter() - started) * 1000)
    checks.setdefault("all_requests_ok", True)
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/traders", QUERIES[0])
    p95 = _p95(times)
    return {
        "ok": all(checks.values()),
        "checks": checks,
        "traders": len(ids),
        "snapshots": len(ids) * days,
        "built_s": built_s,
        "p50_ms": statistics.median(times),
        "p95_ms": p95,
        "max_ms": max(times),
        "floor_p95_ms": _p95(floors),
        "ratio": p95 / max(_p95(floors), 1e-9),
        "queries_per_request": len(queries),
        "peak_mb": peak.get("mb"),
        "meets": p95 <= TARGET_P95_MS,
    }


def _p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _sorted_as_asked(rows: list[dict], params: dict) -> bool:
    from copytrading.models import TraderStats

    stats = {s.lead_id: s for s in TraderStats.objects.filter(lead_id__in=[r["id"] for r in rows])}
    key = params["sort"]
    values = [getattr(stats[r["id"]], key) for r in rows]
    ordered = values == sorted(values, reverse=key != "max_drawdown")
    filters = all(
        (int(params.get("min_trading_days", 0)) <= stats[r["id"]].trading_days)
        and ("max_drawdown" not in params or stats[r["id"]].max_drawdown <= Decimal(params["max_drawdown"]))
        and not set(params.get("exclude_flags", [])) & set(stats[r["id"]].flags)
        for r in rows
    )
    return ordered and filters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traders", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_prepare(url)
    django_setup(url)
    print(f"trader list benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_git_commit()}")
    print(f"machine: {_machine()}")
    r = run_benchmark(args.traders, args.days, seed=args.seed, progress=True)
    print(f"traders {r['traders']:,} with {r['snapshots']:,} daily snapshots (built in {r['built_s']:.1f} s)")
    print(
        f"GET /api/v1/traders over {REQUESTS} requests: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms "
        f"(target ≤ {TARGET_P95_MS:.0f} ms: {'meets' if r['meets'] else 'MISSES'}), max {r['max_ms']:.1f} ms; "
        f"{r['queries_per_request']} queries per request"
    )
    floor = f"floor: the same SQL alone, p95 {r['floor_p95_ms']:.2f} ms → ratio {r['ratio']:.1f}"
    print(f"{floor}; peak {r['peak_mb']:.0f} MB")
    print("checks: " + ", ".join(f"{k} {'ok' if v else 'FAIL'}" for k, v in r["checks"].items()))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
