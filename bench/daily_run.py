"""Benchmark of the daily profit-share run (issue 5 "Performance"; R-PS-01, R-PS-04, R-PS-06).

N followings of a handful of approved lead traders, each in its own Smart Ratio
sub-account: half of them flat (every copy closed) with a pending share, some of
those with a share frozen on a withdrawal; the other half holding an open copy,
which the run must leave alone. Then it times

(first)   ``profit_share_daily_run(day=D)``: every flat following settled once —
          the pending share paid to its lead's spot account (frozen part first),
          the rest of the frozen amount returned, H moved to C;
(second)  the same run again on the same day, which must change nothing;

and measures floors in the same run: PostgreSQL COPY of the rows the first run
wrote (settlements, the journal entries and postings, the ledger accounts and
followings it updated) into fresh tables in one transaction, and one plain
grouped aggregate of C over every copy position (what any run must read). It
prints each time with its ratio to the floors, the rows written, the queries and
database time by statement, the peak memory and the commit, and checks the
outcome against figures it computes itself from the data it created.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/daily_run.py   # N = 100,000

The database is ``DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/copytrading_daily_bench): dropped and
re-created (only a database whose name contains "bench"), then migrated.
Celery's broker is replaced by the in-memory one.

``run_benchmark(n)`` is the whole measurement on the current database
connection; the smoke test calls it inside its test database.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import math
import os
import pstats
import random
import resource
import sys
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

from bench.fanout_checks import floors  # noqa: E402 - after the path is set
from bench.risk_sweep import (  # noqa: E402
    QueryLog,
    _git_commit,
    _machine,
    _peak_rss,
    database_prepare,
    django_setup,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/copytrading_daily_bench"
DEFAULT_FOLLOWINGS = 100_000
TARGET_FIRST_S, TARGET_SECOND_S = 30.0, 3.0
CHUNK = 5000  # followings created per transaction
DAY = date(2026, 11, 22)  # the platform date the run settles
SYMBOL, OTHER_SYMBOL = "BTCUSDT", "ETHUSDT"
LEAD_RATIOS = [Decimal(r) for r in ("0.05", "0.08", "0.10", "0.125", "0.15", "0.20")]  # one lead each
EIGHT = Decimal("0.00000001")


def _dec(value: float, places: Decimal = EIGHT) -> Decimal:
    return Decimal(repr(value)).quantize(places, rounding=ROUND_DOWN)


def _pending(ratio: Decimal, c: Decimal, h: Decimal) -> Decimal:
    """The bench's own ratio × max(0, C − H), rounded down to 8 places."""
    return (ratio * max(c - h, Decimal(0))).quantize(EIGHT, rounding=ROUND_DOWN)


# --- the followings --------------------------------------------------------------------------


def _spec(i: int, rng: random.Random, n_leads: int) -> dict:
    """Following ``i``: flat (even i) or holding an open copy (odd i), its copies, H, frozen share and balance.

    Flat: 1–3 closed copies with realised PnL > 0 (8 decimals), fees and a close each with funding
    (paid or received), so C > 0. H is 0 (60 %), below C (35 %) or above C (5 %, nothing pending).
    A quarter of them have a frozen share: the pending share, half of it, or more than it (the
    residue goes back). Open: one open BTC copy (with a realised part), half of them a closed one
    too, a quarter a frozen share — all of which the run must leave alone.
    """
    flat = i % 2 == 0
    lead = (i // 2) % n_leads
    closed = []
    for _ in range(rng.randint(1, 3) if flat else rng.choice((0, 1))):
        pnl = _dec(rng.uniform(1, 800))
        fees = _dec(rng.uniform(0.05, 3), Decimal("0.0001"))
        funding = _dec(rng.uniform(-2, 2), Decimal("0.0001"))
        closed.append({"pnl": pnl, "fees": fees, "funding": funding})
    open_pnl = _dec(rng.uniform(0, 50)) if not flat else Decimal(0)
    open_fees = Decimal("0.3") if not flat else Decimal(0)
    c = sum((p["pnl"] - p["fees"] - p["funding"] for p in closed), Decimal(0)) + open_pnl - open_fees
    roll = rng.random()
    if roll < 0.60 or c <= 0:
        h = Decimal(0)
    elif roll < 0.95:
        h = _dec(float(c) * rng.uniform(0.1, 0.9), Decimal("0.01"))
    else:
        h = c + _dec(rng.uniform(0, 100), Decimal("0.01"))  # a past loss not yet recovered: nothing pending
    invested = _dec(math.exp(rng.uniform(math.log(100), math.log(10_000))), Decimal("0.01"))
    return {
        "index": i,
        "flat": flat,
        "lead": lead,
        "closed": closed,
        "open_pnl": open_pnl,
        "open_fees": open_fees,
        "c": c,
        "h": h,
        "invested": invested,
        "freeze_roll": rng.random(),
        "freeze_extra": _dec(rng.uniform(0.01, 50), Decimal("0.01")),
    }


def _with_freeze(sp: dict, ratio: Decimal) -> None:
    """Add the pending share (the bench's own figure) and the frozen amount to a spec."""
    sp["pending"] = _pending(ratio, sp["c"], sp["h"])
    roll, frozen = sp["freeze_roll"], Decimal(0)
    if roll < 0.25:
        if roll < 0.15:
            frozen = sp["pending"]  # the usual case: the pending share at the withdrawal
        elif roll < 0.20:
            frozen = (sp["pending"] / 2).quantize(EIGHT, rounding=ROUND_DOWN)  # C rose since
        else:
            frozen = sp["pending"] + sp["freeze_extra"]  # C fell since: the excess goes back
    sp["frozen"] = frozen
    # The sub-account holds what was invested plus the net realised result, less what was frozen.
    sp["sub_balance"] = sp["invested"] + sp["c"] - frozen


def leads_create(*, tag: str) -> list[dict]:
    """A handful of approved lead traders, each with its spot account opened (the run pays into it)."""
    from django.utils import timezone

    from accounts.models import AccountKind, User
    from accounts.services.accounts import account_open
    from copytrading.models import LeadTrader, LeadTraderStatus

    leads = []
    for k, ratio in enumerate(LEAD_RATIOS):
        user = User.objects.create(email=f"lead-{tag}-{k}@bench.invalid", password="!")
        lead = LeadTrader.objects.create(
            user=user,
            nickname=f"daily-{tag}-{k}"[:40],
            profit_share_ratio=ratio,
            status=LeadTraderStatus.APPROVED,
            status_reason="benchmark",
            decided_at=timezone.now(),
        )
        leads.append({"lead": lead, "ratio": ratio, "spot": account_open(owner=user, kind=AccountKind.SPOT).pk})
    return leads


def followings_create(n: int, leads: list[dict], *, seed: int, tag: str, progress: bool) -> list[dict]:
    """Create n followings in bulk; return their specs with following, sub-account and frozen-account ids.

    Per following: a user, its Smart Ratio sub-account (FOLLOW, ref "smart:<lead>"), the
    Following row with its H, the copy positions (slot = the following's id) and a close per
    closed copy; with a frozen share also its FROZEN_SHARE account (ref = the following's id).
    Money: one balanced compound entry per chunk from external custody to the sub-accounts
    (invested + C), then one compound ``profit_share_freeze`` entry from the sub-accounts to
    the frozen-share accounts, both through ``entry_post``, so ``ledger_audit()`` stays clean.
    """
    from django.db import transaction
    from django.utils import timezone
    from tqdm import tqdm

    from accounts.models import AccountKind, LedgerAccount, User
    from accounts.services.accounts import platform_account
    from accounts.services.ledger import Leg, entry_post
    from config.db import copy_insert
    from copytrading.futures.models import (
        CloseReason,
        MarginMode,
        Market,
        Position,
        PositionClose,
        PositionSide,
        PositionStatus,
    )
    from copytrading.models import Following, FollowMode

    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    btc, eth = Market.objects.get(symbol=SYMBOL), Market.objects.get(symbol=OTHER_SYMBOL)
    specs = [_spec(i, rng, len(leads)) for i in range(n)]
    for sp in specs:
        _with_freeze(sp, leads[sp["lead"]]["ratio"])
    closed_at = timezone.now() - timedelta(days=1)
    with tqdm(total=n, unit="following", desc="followings", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, n, CHUNK):
            chunk = specs[start : start + CHUNK]
            with transaction.atomic():
                users = User.objects.bulk_create(
                    [User(email=f"daily-{tag}-{sp['index']}@bench.invalid", password="!") for sp in chunk],
                    batch_size=2000,
                )
                subs = [
                    LedgerAccount(owner=u, kind=AccountKind.FOLLOW, ref=f"smart:{leads[sp['lead']]['lead'].pk}")
                    for u, sp in zip(users, chunk, strict=True)
                ]
                copy_insert(LedgerAccount, subs, assign_ids=True)
                followings = [
                    Following(
                        follower=u,
                        lead=leads[sp["lead"]]["lead"],
                        mode=FollowMode.SMART,
                        sub_account=s,
                        invested=sp["invested"],
                        high_water_mark=sp["h"],
                        share_paid=Decimal(0),
                        started_at=closed_at - timedelta(days=30),
                    )
                    for u, s, sp in zip(users, subs, chunk, strict=True)
                ]
                copy_insert(Following, followings, assign_ids=True)
                frozen = {
                    sp["index"]: LedgerAccount(owner=u, kind=AccountKind.FROZEN_SHARE, ref=str(f.pk))
                    for u, f, sp in zip(users, followings, chunk, strict=True)
                    if sp["frozen"]
                }
                copy_insert(LedgerAccount, list(frozen.values()), assign_ids=True)

                positions, closes = [], []
                for s, f, sp in zip(subs, followings, chunk, strict=True):
                    for k, p in enumerate(sp["closed"]):
                        market = btc if k % 2 == 0 else eth
                        position = Position(
                            account=s,
                            market=market,
                            slot=f.pk,
                            side=PositionSide.LONG,
                            qty=Decimal(0),
                            entry_price=market.mark_price,
                            leverage=10,
                            margin_mode=MarginMode.CROSS,
                            margin=Decimal(0),
                            realised_pnl=p["pnl"],
                            fees_paid=p["fees"],
                            funding_paid=Decimal(0),  # moved to the close when it closed
                            status=PositionStatus.CLOSED,
                            closed_at=closed_at,
                        )
                        positions.append(position)
                        closes.append((position, p))
                    if not sp["flat"]:
                        positions.append(
                            Position(
                                account=s,
                                market=btc,
                                slot=f.pk,
                                side=PositionSide.LONG,
                                qty=Decimal("0.01"),
                                entry_price=btc.mark_price,
                                leverage=10,
                                margin_mode=MarginMode.CROSS,
                                margin=(Decimal("0.001") * btc.mark_price).quantize(EIGHT),
                                realised_pnl=sp["open_pnl"],  # an earlier partial close
                                fees_paid=sp["open_fees"],
                                status=PositionStatus.OPEN,
                            )
                        )
                copy_insert(Position, positions, assign_ids=True)
                copy_insert(
                    PositionClose,
                    [
                        PositionClose(
                            position=position,
                            qty=Decimal("0.01"),
                            price=position.entry_price,
                            realised_pnl=p["pnl"],
                            fee=p["fees"],
                            funding=p["funding"],
                            reason=CloseReason.COPY,
                        )
                        for position, p in closes
                    ],
                )

                legs = [Leg(s.pk, sp["sub_balance"] + sp["frozen"]) for s, sp in zip(subs, chunk, strict=True)]
                legs.append(Leg(custody.pk, -sum(leg.amount for leg in legs)))
                entry_post(
                    kind="bench_funding",
                    idempotency_key=f"bench-daily:{tag}:{start}",
                    legs=legs,
                    reference="bench",
                    reason="daily profit-share benchmark funding",
                )
                freeze = []
                for s, sp in zip(subs, chunk, strict=True):
                    if sp["frozen"]:
                        freeze += [Leg(s.pk, -sp["frozen"]), Leg(frozen[sp["index"]].pk, sp["frozen"])]
                if freeze:
                    entry_post(
                        kind="profit_share_freeze",
                        idempotency_key=f"bench-daily:{tag}:{start}:freeze",
                        legs=freeze,
                        reference="bench",
                        reason="shares frozen on withdrawals",
                    )
                for sp, f, s in zip(chunk, followings, subs, strict=True):
                    sp.update(following=f.pk, sub=s.pk, frozen_account=frozen[sp["index"]].pk if sp["frozen"] else None)
            bar.update(len(chunk))
    return specs


# --- measuring -------------------------------------------------------------------------------


def _run(day: date, profiler: cProfile.Profile | None) -> dict:
    """One ``profit_share_daily_run`` inline; time, count and log its queries."""
    from django.db import connection

    from copytrading.services.profit_share import profit_share_daily_run

    log = QueryLog()
    gc.collect()
    with ExitStack() as stack:
        peak = stack.enter_context(_peak_rss())
        stack.enter_context(connection.execute_wrapper(log))
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        settled = profit_share_daily_run(day=day)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
    return {
        "s": elapsed,
        "settled": settled,
        "queries": log.total,  # CaptureQueriesContext keeps at most 9,000
        "db_ms": log.db_ms,
        "top": log.top(10),
        "peak": peak,
    }


def _floor_aggregate() -> float:
    """One plain grouped aggregate of C over every copy position and its closes (ms): what any run must read."""
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT p.slot, sum(p.realised_pnl) - sum(p.fees_paid) - sum(p.funding_paid) "
            "FROM copytrading_position p WHERE p.slot > 0 GROUP BY p.slot"
        )
        cursor.fetchall()
        cursor.execute(
            "SELECT p.slot, sum(c.funding) FROM copytrading_positionclose c "
            "JOIN copytrading_position p ON p.id = c.position_id WHERE p.slot > 0 GROUP BY p.slot"
        )
        cursor.fetchall()
        return (time.perf_counter() - started) * 1000


def _floor_second(day: date) -> float:
    """What a second run must at least find out: the live followings not settled today that hold no open copy."""
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT count(*) FROM copytrading_following f WHERE f.status <> 'stopped' "
            "AND NOT EXISTS (SELECT 1 FROM copytrading_sharesettlement s WHERE s.following_id = f.id AND s.day = %s) "
            "AND NOT EXISTS (SELECT 1 FROM copytrading_position p WHERE p.slot = f.id AND p.status = 'open')",
            [day],
        )
        cursor.fetchone()
        return (time.perf_counter() - started) * 1000


def _run_selects(day: date) -> dict[str, str]:
    """The rows the first run wrote: settlements, its entries and postings, the accounts and followings updated."""
    entries = f"kind = 'profit_share_daily' AND reference = 'profit-share:{day.isoformat()}'"
    entry_ids = f"SELECT id FROM accounts_journalentry WHERE {entries}"
    return {
        "copytrading_sharesettlement": f"day = '{day.isoformat()}'",
        "accounts_journalentry": entries,
        "accounts_posting": f"entry_id IN ({entry_ids})",
        "accounts_ledgeraccount": f"id IN (SELECT account_id FROM accounts_posting WHERE entry_id IN ({entry_ids}))",
        "copytrading_following": (
            f"id IN (SELECT following_id FROM copytrading_sharesettlement WHERE day = '{day.isoformat()}' AND paid > 0)"
        ),
    }


def _snapshot(specs: list[dict], leads: list[dict]) -> dict:
    """Balances of every sub-account, frozen and lead spot account; H, share_paid of every following."""
    from accounts.models import LedgerAccount
    from copytrading.models import Following

    ids = [sp["sub"] for sp in specs] + [sp["frozen_account"] for sp in specs if sp["frozen_account"]]
    ids += [ld["spot"] for ld in leads]
    balances = {}
    for start in range(0, len(ids), 20_000):
        balances.update(LedgerAccount.objects.filter(pk__in=ids[start : start + 20_000]).values_list("pk", "balance"))
    followings = {}
    fids = [sp["following"] for sp in specs]
    for start in range(0, len(fids), 20_000):
        followings.update(
            (pk, (h, paid))
            for pk, h, paid in Following.objects.filter(pk__in=fids[start : start + 20_000]).values_list(
                "pk", "high_water_mark", "share_paid"
            )
        )
    return {"balances": balances, "followings": followings}


def _check(specs: list[dict], leads: list[dict], before: dict, after: dict, day: date) -> dict[str, bool]:
    from collections import Counter

    from copytrading.models import ShareSettlement

    rows = list(ShareSettlement.objects.filter(day=day).values_list("following_id", "paid", "unfrozen"))
    counts = Counter(f for f, _p, _u in rows)
    settled = {f: (p, u) for f, p, u in rows}
    flat = [sp for sp in specs if sp["flat"]]
    busy = [sp for sp in specs if not sp["flat"]]
    checks: dict[str, bool] = {}
    checks["one_settlement_per_flat_following"] = set(counts) == {sp["following"] for sp in flat} and set(
        counts.values()
    ) == {1}
    checks["settlements_pay_the_pending_share"] = all(
        settled.get(sp["following"]) == (sp["pending"], sp["frozen"] - min(sp["frozen"], sp["pending"])) for sp in flat
    )
    checks["no_settlement_for_open_copies"] = not any(sp["following"] in settled for sp in busy)
    b, a = before["balances"], after["balances"]
    due = {k: Decimal(0) for k in range(len(leads))}
    for sp in flat:
        due[sp["lead"]] += sp["pending"]
    checks["leads_received_the_pending_shares"] = all(
        a[ld["spot"]] - b[ld["spot"]] == due[k] for k, ld in enumerate(leads)
    )
    checks["frozen_accounts_of_flat_emptied"] = all(a[sp["frozen_account"]] == 0 for sp in flat if sp["frozen_account"])
    checks["flat_sub_accounts_paid_and_refunded"] = all(
        a[sp["sub"]] - b[sp["sub"]] == sp["frozen"] - sp["pending"] for sp in flat
    )
    checks["open_copies_untouched"] = all(
        a[sp["sub"]] == b[sp["sub"]]
        and (sp["frozen_account"] is None or a[sp["frozen_account"]] == b[sp["frozen_account"]] == sp["frozen"])
        and after["followings"][sp["following"]] == before["followings"][sp["following"]]
        for sp in busy
    )
    checks["high_water_marks_moved_to_c"] = all(
        after["followings"][sp["following"]] == ((sp["c"], sp["pending"]) if sp["pending"] else (sp["h"], Decimal(0)))
        for sp in flat
    )
    return checks


def run_benchmark(
    n: int, *, seed: int = 1, progress: bool = False, profile: bool = False, batch: int | None = None
) -> dict:
    """Build n followings on the current database, run the daily settlement twice on one day, check; return results."""
    if n < 20:
        raise ValueError("at least 20 followings, so every case of the mix appears")
    from django.db import connection

    from accounts.models import JournalEntry
    from accounts.selectors import ledger_audit
    from copytrading.futures.services.demo import markets_seed_demo
    from copytrading.models import Following, ShareSettlement
    from copytrading.services import profit_share

    markets_seed_demo()
    tag = f"{seed}-{time.time_ns():x}"
    started = time.perf_counter()
    leads = leads_create(tag=tag)
    specs = followings_create(n, leads, seed=seed, tag=tag, progress=progress)
    setup_s = time.perf_counter() - started
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have by now
        cursor.execute(
            "ANALYZE accounts_user, accounts_ledgeraccount, accounts_posting, accounts_journalentry, "
            "copytrading_following, copytrading_position, copytrading_positionclose, copytrading_sharesettlement"
        )
    setup_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    checks: dict[str, bool] = {}
    # The bench's data is what it meant: the service's own C of a sample equals the bench's.
    sample = specs[:: max(1, n // 100)]
    by_pk = Following.objects.select_related("lead").in_bulk([sp["following"] for sp in sample])
    checks["c_as_built"] = all(
        profit_share.following_net_result(by_pk[sp["following"]]) == sp["c"]
        and profit_share.share_pending(by_pk[sp["following"]], sp["c"]) == sp["pending"]
        for sp in sample
    )
    aggregate_floor_ms = min(_floor_aggregate() for _ in range(3))

    before = _snapshot(specs, leads)
    saved_batch = profit_share.DAILY_BATCH
    if batch:
        profit_share.DAILY_BATCH = batch
    try:
        profiler = cProfile.Profile() if profile else None
        first = _run(DAY, profiler)
        after = _snapshot(specs, leads)
        checks["first_settled_every_flat"] = first["settled"] == sum(sp["flat"] for sp in specs)
        checks.update(_check(specs, leads, before, after, DAY))
        floor_ms, floor_indexed_ms, rows = floors(_run_selects(DAY))

        settlements, entries = ShareSettlement.objects.count(), JournalEntry.objects.count()
        second = _run(DAY, None)
        second_floor_ms = min(_floor_second(DAY) for _ in range(3))
        checks["second_run_settles_nothing"] = (
            second["settled"] == 0
            and ShareSettlement.objects.count() == settlements
            and JournalEntry.objects.count() == entries
            and _snapshot(specs, leads) == after
        )
    finally:
        profit_share.DAILY_BATCH = saved_batch

    audit_started = time.perf_counter()
    checks["ledger_audit_ok"] = ledger_audit().ok
    audit_ms = (time.perf_counter() - audit_started) * 1000

    flat = [sp for sp in specs if sp["flat"]]
    results = {
        "n": n,
        "batch": batch or saved_batch,
        "setup_s": round(setup_s, 1),
        "flat": len(flat),
        "frozen": sum(1 for sp in flat if sp["frozen"]),
        "nothing_pending": sum(1 for sp in flat if not sp["pending"]),
        "open": n - len(flat),
        "positions": sum(len(sp["closed"]) + (not sp["flat"]) for sp in specs),
        "paid": str(sum((sp["pending"] for sp in flat), Decimal(0))),
        "aggregate_floor_ms": round(aggregate_floor_ms, 1),
        "audit_ms": round(audit_ms, 1),
        "checks": checks,
        "ok": all(checks.values()),
    }
    for name, run, floor, extra in (
        ("first", first, floor_ms, {"floor_indexed_ms": round(floor_indexed_ms, 1), "rows_by_table": rows}),
        ("second", second, second_floor_ms, {}),
    ):
        results[name] = {
            "ms": round(run["s"] * 1000, 1),
            "settled": run["settled"],
            "queries": run["queries"],
            "db_ms": round(run["db_ms"], 1),
            "top": run["top"],
            "floor_ms": round(floor, 1),
            "ratio": round(run["s"] * 1000 / max(floor, 1e-6), 1),
            "peak_rss_mb": round(run["peak"]["mb"], 1),
            **extra,
        }
    results["first"]["rows"] = sum(rows.values())
    results["first"]["ratio_aggregate"] = round(first["s"] * 1000 / max(aggregate_floor_ms, 1e-6), 1)
    results["peak_rss_mb_process"] = round(
        max(setup_peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), 1
    )
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
        stats.print_stats(r"(accounts|copytrading|config)/|django/db/models/(query|sql/compiler|base)\.py", 40)
        stats.sort_stats("tottime").print_stats(25)
        results["profile"] = text.getvalue()
    return results


# --- the command line ------------------------------------------------------------------------


def _report(results: dict) -> str:
    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    f, s = results["first"], results["second"]
    lines = [
        f"followings: {results['n']:,} (built in {results['setup_s']} s): {results['flat']:,} flat "
        f"({results['frozen']:,} with a frozen share, {results['nothing_pending']:,} with nothing pending), "
        f"{results['open']:,} with an open copy; {results['positions']:,} copy positions; batch {results['batch']:,}",
        f"first run   {f['ms']:>9.1f} ms  settled {f['settled']:,}, paid {results['paid']} USDT; "
        f"target ≤ {TARGET_FIRST_S:.0f} s {verdict(f['ms'] <= TARGET_FIRST_S * 1000)}",
        f"            {f['rows']:,} rows written; COPY floor {f['floor_ms']:.1f} ms → ratio {f['ratio']} "
        f"(with the same indexes {f['floor_indexed_ms']:.1f} ms); aggregate of C over every copy "
        f"{results['aggregate_floor_ms']:.1f} ms → ratio {f['ratio_aggregate']}",
        f"            {f['queries']:,} queries, {f['db_ms']:.1f} ms in execute(); peak {f['peak_rss_mb']:.1f} MB RSS",
        "            rows: " + ", ".join(f"{t} {c:,}" for t, c in f["rows_by_table"].items()),
        f"second run  {s['ms']:>9.1f} ms  settled {s['settled']:,}; target ≤ {TARGET_SECOND_S:.0f} s "
        f"{verdict(s['ms'] <= TARGET_SECOND_S * 1000)}; floor (count of what is left to settle) "
        f"{s['floor_ms']:.1f} ms → ratio {s['ratio']}",
        f"            {s['queries']:,} queries, {s['db_ms']:.1f} ms in execute(); peak {s['peak_rss_mb']:.1f} MB RSS",
        f"peak memory for the process: {results['peak_rss_mb_process']:.1f} MB; "
        f"ledger audit {results['audit_ms']:.0f} ms",
        "checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in results["checks"].items()),
    ]
    for name in ("first", "second"):
        lines.append(f"{name} run, database time by statement:")
        lines += [f"  {q['ms']:>9.1f} ms  {q['count']:>6}×  {q['sql']}" for q in results[name]["top"]]
    if "profile" in results:
        lines += ["", "first run under cProfile (times inflated by the profiler):", results["profile"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followings", type=int, default=DEFAULT_FOLLOWINGS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=None, help="followings per settlement transaction (DAILY_BATCH)")
    parser.add_argument("--profile", action="store_true", help="run the first run under cProfile")
    args = parser.parse_args(argv)
    if args.followings < 20:
        parser.error("--followings must be at least 20")
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_prepare(url)
    django_setup(url)
    print(f"daily profit-share run benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_git_commit()}")
    print(f"machine: {_machine()}")
    results = run_benchmark(args.followings, seed=args.seed, progress=True, profile=args.profile, batch=args.batch)
    print()
    print(_report(results))
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
