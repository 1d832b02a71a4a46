"""Benchmark of the coverage vouchers at 100,000 users (issue "Vouchers", performance; R-VC-04 … R-VC-09).

N copy traders, each with a Smart Ratio following holding one open isolated
BTCUSDT copy and one or two claimed coverage vouchers (liquidation, first-loss or
both), and each with a voucher of an earlier campaign already triggered whose
payout waits for the daily run. Exactly 1 % of the copies are 50x longs that a
3 % fall liquidates. Then it times

(tick)      one price tick to 0.97 P0, ``mark_price_set`` + ``risk_sweep`` inline as a worker
            would run it: the 1 % liquidated, one "position closed" outbox event each;
(consumer)  those events delivered to the vouchers' batch consumer,
            ``outbox_deliver_pending(consumer="vouchers.triggers")``: every liquidated user's
            voucher triggered, one ``CloseDecision`` per close, the payouts created; target:
            the consumer adds at most 50 % to the tick, with a constant number of queries per batch;
(payouts)   the daily reimbursement run ``payouts_issue_due`` over the N pending payouts
            (≤ 30 s), then again (must change nothing);
(loss)      the loss-coverage credit run ``compensations_credit_due`` over N due compensations
            (≤ 30 s), then again (must change nothing) — when loss coverage exists in the tree
            (``loss_compensation_run`` says so otherwise).

Floors in the same run: PostgreSQL COPY of the rows each step wrote into fresh
tables, in one transaction (also into tables with the same indexes); for the
payout run also one ``UPDATE … FROM unnest(arrays)`` of the same rows with the
same values on an indexed copy of the payout table, and for its second run the
indexed count of what is due. Outcome checks: exactly the planned positions
liquidated, exactly the planned vouchers triggered for min(loss, face value), one
decision per close, every due payout issued once, ``ledger_audit().ok`` and the
campaign budget identity (``campaign_budget_problems() == []``). It exits non-zero
when a check fails.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/vouchers.py --users 100000

The database is ``DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/copytrading_vouchers_bench): dropped and
re-created (only a database whose name contains "bench"), then migrated.
Celery's broker is replaced by the in-memory one, so what the tick queues after
commit goes nowhere; the benchmark runs the sweep and the delivery itself.

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
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

from bench.fanout_checks import floors, max_id  # noqa: E402 - after the path is set
from bench.risk_sweep import (  # noqa: E402
    QueryLog,
    _git_commit,
    _machine,
    _peak_rss,
    _tick,
    database_prepare,
    django_setup,
)
from bench.vouchers_build import (  # noqa: E402
    FIRST_LOSS_FACE,
    GROUPS,
    LIQUIDATION_FACE,
    SYMBOL,
    build,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/copytrading_vouchers_bench"
DEFAULT_USERS = 100_000
TARGET_CONSUMER_RATIO = 0.5  # the consumer adds at most 50 % to the tick
TARGET_PAYOUT_S = 30.0
TARGET_LOSS_S = 30.0
# Far above what a batch needs (~20–30) and far below one query per event of a 200-event batch.
QUERIES_PER_BATCH_MAX = 60
CONSUMER = "vouchers.triggers"


class SequenceLog(QueryLog):
    """QueryLog that also keeps the order of the statements, to count the queries of each delivery batch."""

    def __init__(self) -> None:
        super().__init__()
        self.sequence: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sequence.append(sql)
        return super().__call__(execute, sql, params, many, context)

    def per_batch(self) -> list[int]:
        """Queries of each delivery transaction: a batch starts with the locked read of pending events."""
        counts: list[int] = []
        for sql in self.sequence:
            if "SKIP LOCKED" in sql and "copytrading_outboxevent" in sql:
                counts.append(0)
            if counts:
                counts[-1] += 1
        return counts


def _measured(fn, *, profiler: cProfile.Profile | None = None, log: QueryLog | None = None):
    """Run ``fn()`` with its queries logged and its peak memory taken: (result, seconds, peak MB)."""
    from django.db import connection

    gc.collect()
    with ExitStack() as stack:
        peak = stack.enter_context(_peak_rss())
        if log is not None:
            stack.enter_context(connection.execute_wrapper(log))
        if profiler:
            profiler.enable()
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
    return result, elapsed, peak["mb"]


def _profile_text(profiler: cProfile.Profile) -> str:
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
    stats.print_stats(r"(accounts|copytrading|vouchers|config)/|django/db/models/(query|sql/compiler|base)\.py", 35)
    stats.sort_stats("tottime").print_stats(20)
    return text.getvalue()


# --- the loss-coverage credit run ----------------------------------------------------------------


def _loss_identity(campaign) -> bool:
    """R-VC-09 for a loss-coverage campaign: funded = available + reserved + paid out, and the reserved balance is
    exactly Σ remaining of its active vouchers + Σ its pending compensations (``loss_coverage_reserved``), checked
    directly as well as through ``campaign_budget_problems()`` (which counts loss coverage too)."""
    from vouchers.selectors import campaign_liabilities
    from vouchers.services.loss_coverage import loss_coverage_reserved

    books = campaign_liabilities([campaign])[campaign.pk]
    reserved = loss_coverage_reserved([campaign.pk]).get(campaign.pk, Decimal(0))
    return books.funded == books.available + books.reserved + books.paid_out and books.reserved == reserved


def loss_coverage_available() -> bool:
    """Whether the loss-coverage models and credit run exist in this tree."""
    import importlib.util

    return all(
        importlib.util.find_spec(name) is not None
        for name in ("vouchers.models.loss_coverage", "vouchers.services.loss_coverage", "vouchers.services.abuse")
    )


def loss_compensation_run(
    n: int, *, users: list[int], seed: int = 1, progress: bool = False, profile: bool = False
) -> dict:
    """The loss-coverage credit run over n due compensations (one per user of ``users``).

    Builds them (``bench.vouchers_build.loss_build``), then times
    ``compensations_credit_due(now=…)`` — credited to the users' spot accounts, withheld for the
    1 % disabled for voucher abuse — and a second run that must change nothing. Floor: COPY of
    the rows the run wrote (journal entries, postings, the ledger accounts and compensations it
    updated). Raises NotImplementedError when loss coverage does not exist in this tree.
    """
    if not loss_coverage_available():
        raise NotImplementedError(
            "loss coverage is not measured: vouchers.services.loss_coverage.compensations_credit_due and "
            "vouchers/models/loss_coverage.py do not exist in this tree"
        )
    from django.db import connection
    from django.utils import timezone

    from accounts.models import JournalEntry, LedgerAccount
    from bench.vouchers_build import loss_build
    from vouchers.models import Compensation
    from vouchers.models.loss_coverage import CompensationState
    from vouchers.services.loss_coverage import compensations_credit_due, utc_day_start

    started = time.perf_counter()
    built = loss_build(users[:n], seed=seed, progress=progress)
    setup_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE vouchers_compensation, vouchers_losscoveragevoucher, accounts_ledgeraccount")
    checks = {"loss_identity_after_build": _loss_identity(built.campaign)}
    run_now = timezone.now()
    due = set(
        Compensation.objects.filter(state=CompensationState.PENDING, closed_at__lt=utc_day_start(run_now)).values_list(
            "pk", flat=True
        )
    )
    checks["loss_compensations_built_are_due"] = due == set(built.compensations)
    entries_before = max_id(JournalEntry)
    log = QueryLog()
    profiler = cProfile.Profile() if profile else None
    (credited, withheld), run_s, peak = _measured(
        lambda: compensations_credit_due(now=run_now), profiler=profiler, log=log
    )
    banned = built.banned
    rows = {
        pk: (state, credited_at, withheld_at, entry)
        for pk, state, credited_at, withheld_at, entry in Compensation.objects.filter(
            pk__any=set(built.compensations)
        ).values_list("pk", "state", "credited_at", "withheld_at", "entry_id")
    }
    checks["loss_credit_run_paid_every_due"] = (credited, withheld) == (n - len(banned), len(banned)) and all(
        (state, credited_at, withheld_at, entry is not None)
        == (
            (CompensationState.WITHHELD, None, run_now, True)
            if user in banned
            else (CompensationState.CREDITED, run_now, None, True)
        )
        for (state, credited_at, withheld_at, entry), user in zip(
            (rows[pk] for pk in built.compensations), built.users, strict=True
        )
    )
    spots = dict(LedgerAccount.objects.filter(pk__any=set(built.spots.values())).values_list("pk", "balance"))
    checks["loss_spot_accounts_credited"] = all(
        spots[built.spots[user]] == (Decimal(0) if user in banned else amount)
        for user, amount in zip(built.users, built.amounts, strict=True)
    )
    checks["loss_identity_after_credit"] = _loss_identity(built.campaign)
    new_entries = f"id > {entries_before}"
    floor_ms, floor_indexed_ms, floor_rows = floors(
        {
            "accounts_journalentry": new_entries,
            "accounts_posting": f"entry_id IN (SELECT id FROM accounts_journalentry WHERE {new_entries})",
            "accounts_ledgeraccount": (
                "id IN (SELECT account_id FROM accounts_posting WHERE entry_id IN "
                f"(SELECT id FROM accounts_journalentry WHERE {new_entries}))"
            ),
            "vouchers_compensation": f"entry_id IN (SELECT id FROM accounts_journalentry WHERE {new_entries})",
        }
    )
    before_second = (JournalEntry.objects.count(), rows)
    second_log = QueryLog()
    second, second_s, _peak = _measured(lambda: compensations_credit_due(now=run_now), log=second_log)
    after_second = {
        pk: (state, credited_at, withheld_at, entry)
        for pk, state, credited_at, withheld_at, entry in Compensation.objects.filter(
            pk__any=set(built.compensations)
        ).values_list("pk", "state", "credited_at", "withheld_at", "entry_id")
    }
    checks["loss_second_run_changes_nothing"] = second == (0, 0) and before_second == (
        JournalEntry.objects.count(),
        after_second,
    )
    ms = run_s * 1000
    result = {
        "measured": True,
        "setup_s": round(setup_s, 1),
        "ms": round(ms, 1),
        "credited": credited,
        "withheld": withheld,
        "queries": log.total,
        "db_ms": round(log.db_ms, 1),
        "top": log.top(8),
        "floor_ms": round(floor_ms, 1),
        "floor_indexed_ms": round(floor_indexed_ms, 1),
        "rows": sum(floor_rows.values()),
        "rows_by_table": floor_rows,
        "ratio": round(ms / max(floor_ms, 1e-6), 1),
        "peak_rss_mb": round(peak, 1),
        "second_ms": round(second_s * 1000, 1),
        "second_queries": second_log.total,
        "checks": checks,
    }
    if profiler:
        result["profile"] = _profile_text(profiler)
    return result


# --- the checks ----------------------------------------------------------------------------------


def _build_checks(built, market) -> dict[str, bool]:
    from copytrading.futures.models import Position
    from copytrading.futures.risk import isolated_liquidation_price
    from vouchers.models import Voucher
    from vouchers.selectors import campaign_budget_problems

    checks: dict[str, bool] = {}
    step = max(1, len(built.positions) // 200)
    sample = Position.objects.filter(pk__in=built.positions[::step]).select_related("market")
    checks["liquidation_prices_match_services"] = all(
        p.liquidation_price == isolated_liquidation_price(p) for p in sample
    )
    # The bulk-built vouchers are what voucher_claim makes: compare one of each kind with the service's.
    same = True
    for kind, pk in built.serviced.items():
        service = Voucher.objects.get(pk=pk)
        other = next(v[kind] for v in built.vouchers if kind in v and v[kind] != pk)
        bulk = Voucher.objects.get(pk=other)
        same &= all(
            getattr(service, f) == getattr(bulk, f) for f in ("campaign_id", "kind", "face_value", "state", "ended_at")
        )
        same &= service.valid_until - service.claimed_at == bulk.valid_until - bulk.claimed_at
        same &= service.trigger_close_id is None and bulk.trigger_close_id is None
    checks["bulk_vouchers_match_service_claims"] = same and len(built.serviced) == 2
    checks["budget_identity_after_build"] = campaign_budget_problems() == []
    return checks


def _consumer_checks(built, tick_closes: dict[int, object], log: SequenceLog, delivered: int) -> dict[str, bool]:
    """What the consumer must have done: exactly the planned vouchers triggered for min(loss, face)."""
    from vouchers.models import CloseDecision, Outcome, Payout, PayoutState, Voucher, VoucherState

    checks: dict[str, bool] = {}
    checks["consumer_delivered_every_event"] = delivered == len(tick_closes) == len(built.doomed)
    by_slot = {c.position.slot: c for c in tick_closes.values()}
    expected: dict[int, tuple[int, Decimal, Decimal]] = {}  # voucher → (close, amount, recorded loss)
    for i in built.doomed:
        close = by_slot[built.followings[i]]
        loss = max(-close.realised_pnl, Decimal(0))
        if "liquidation" in built.kinds[i]:
            expected[built.vouchers[i]["liquidation"]] = (
                close.pk,
                min(close.margin_lost, LIQUIDATION_FACE),
                close.margin_lost,
            )
        else:
            expected[built.vouchers[i]["first_loss"]] = (close.pk, min(loss, FIRST_LOSS_FACE), loss)
    part1 = [built.campaigns["liquidation"].pk, built.campaigns["first_loss"].pk]
    triggered = {v.pk: v for v in Voucher.objects.filter(campaign_id__in=part1, state=VoucherState.TRIGGERED)}
    checks["triggered_exactly_the_expected"] = set(triggered) == set(expected) and all(
        amount > 0 for _c, amount, _l in expected.values()
    )
    payouts = {p.voucher_id: p for p in Payout.objects.filter(voucher_id__in=list(triggered))}
    checks["payouts_pay_min_of_loss_and_face"] = set(payouts) == set(expected) and all(
        (v := triggered[pk]).trigger_close_id == close_id
        and v.reimbursement == amount
        and payouts[pk].amount == amount
        and payouts[pk].state == PayoutState.PENDING
        for pk, (close_id, amount, _loss) in expected.items()
    )
    decisions = list(CloseDecision.objects.filter(close_id__in=list(tick_closes)))
    checks["one_decision_per_close"] = (
        len(decisions) == len(tick_closes) == CloseDecision.objects.count()
        and {d.close_id for d in decisions} == set(tick_closes)
        and all(
            d.outcome == Outcome.TRIGGERED
            and d.voucher_id in expected
            and expected[d.voucher_id][0] == d.close_id
            and d.amount == expected[d.voucher_id][1]
            and d.loss == expected[d.voucher_id][2]
            and d.liquidation
            for d in decisions
        )
    )
    claimed = Voucher.objects.filter(campaign_id__in=part1, state=VoucherState.CLAIMED).count()
    held = sum(len(v) for v in built.vouchers)
    both = [built.vouchers[i]["first_loss"] for i in built.doomed if len(built.kinds[i]) == 2]
    checks["other_vouchers_untouched"] = claimed == held - len(expected) and Voucher.objects.filter(
        pk__in=both, state=VoucherState.CLAIMED
    ).count() == len(both)
    per_batch = log.per_batch()
    checks["consumer_queries_per_batch_bounded"] = bool(per_batch) and max(per_batch) <= QUERIES_PER_BATCH_MAX
    return checks


def _payout_snapshot(ids: list[int] | None = None) -> list[tuple]:
    """(id, state, issued_at, claim_by, ended_at) of these payouts, or of every payout."""
    from vouchers.models import Payout

    payouts = Payout.objects.all() if ids is None else Payout.objects.filter(pk__any=set(ids))
    return list(payouts.order_by("pk").values_list("pk", "state", "issued_at", "claim_by", "ended_at"))


def _update_floor_prepare() -> None:
    """An indexed copy of the payout table as it is before the run (untimed), for the UPDATE floor."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_update_floor_payout")
        cursor.execute("CREATE TABLE bench_update_floor_payout (LIKE vouchers_payout INCLUDING ALL)")
        cursor.execute("INSERT INTO bench_update_floor_payout SELECT * FROM vouchers_payout")
        cursor.execute("ANALYZE bench_update_floor_payout")


def _update_floor(ids: list[int]) -> float:
    """One UPDATE … FROM unnest(arrays) writing the run's values of these rows into the copy, in one
    transaction (ms): the same rows, columns, values and indexes as the run's writes, in one statement."""
    from django.db import connection, transaction

    from config.db import array_param

    rows = _payout_snapshot(ids)
    params = [array_param([r[i] for r in rows]) for i in range(4)]
    with connection.cursor() as cursor:
        started = time.perf_counter()
        with transaction.atomic():
            cursor.execute(
                "UPDATE bench_update_floor_payout AS t SET state = v.state, issued_at = v.issued_at, "
                "claim_by = v.claim_by FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[], %s::timestamptz[]) "
                "AS v(id, state, issued_at, claim_by) WHERE t.id = v.id",
                params,
            )
            updated = cursor.rowcount
        elapsed = (time.perf_counter() - started) * 1000
        cursor.execute("DROP TABLE bench_update_floor_payout")
    if updated != len(ids):
        raise RuntimeError(f"the UPDATE floor wrote {updated} rows, not {len(ids)}")
    return elapsed


def _due_count_floor(day_start: datetime) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "SELECT count(*) FROM vouchers_payout WHERE state = 'pending' AND triggered_at < %s", [day_start]
        )
        cursor.fetchone()
        return (time.perf_counter() - started) * 1000


# --- the benchmark -------------------------------------------------------------------------------


def run_benchmark(
    n: int, *, seed: int = 1, progress: bool = False, profile: bool = False, delivery_batch: int | None = None
) -> dict:
    """Build n users on the current database, run the tick, the consumer and the daily runs, check; return results."""
    if n < 300 or n % 100:
        raise ValueError(
            "the number of users must be a multiple of 100 and at least 300 (1 % is liquidated, "
            "and the liquidated must cover every voucher group)"
        )
    from django.db import connection
    from django.utils import timezone

    from accounts.models import JournalEntry
    from accounts.selectors import ledger_audit
    from config.clock import platform_day_start
    from copytrading.futures import margin as m
    from copytrading.futures.models import (
        CloseReason,
        Market,
        OutboxEvent,
        Position,
        PositionClose,
        PositionStatus,
    )
    from copytrading.futures.services.demo import markets_seed_demo
    from copytrading.futures.services.outbox import BATCH_CONSUMER_BATCH, outbox_deliver_pending
    from vouchers.models import CloseDecision, Payout, PayoutState, Voucher
    from vouchers.selectors import campaign_budget_problems
    from vouchers.services.payouts import payouts_issue_due

    batch = delivery_batch or BATCH_CONSUMER_BATCH
    markets_seed_demo()
    market = Market.objects.get(symbol=SYMBOL)
    if Position.objects.filter(market=market, status=PositionStatus.OPEN).exists():
        raise RuntimeError(f"{SYMBOL} already has open positions; benchmark an empty database")
    p0 = market.mark_price

    started = time.perf_counter()
    built = build(n, seed=seed, progress=progress)
    setup_s = time.perf_counter() - started
    with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have by now
        cursor.execute(
            "ANALYZE accounts_user, accounts_ledgeraccount, accounts_posting, accounts_journalentry, "
            "copytrading_following, copytrading_position, vouchers_voucher, vouchers_payout, vouchers_closedecision"
        )
    setup_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checks = _build_checks(built, market)
    results: dict = {"n": n, "setup_s": round(setup_s, 1), "delivery_batch": batch}

    # A warm-up tick that crosses nothing, then the tick that liquidates the planned 1 %.
    tick = market.price_tick
    warm_ms, warm = _tick(market, m.round_price(p0 * Decimal("1.0001"), tick, up=False))
    checks["warmup_tick_touched_nothing"] = warm.liquidated == 0 and warm.triggered == 0
    before = {model: max_id(model) for model in (JournalEntry, OutboxEvent, PositionClose, CloseDecision, Payout)}
    crash = m.round_price(p0 * Decimal("0.97"), tick, up=False)
    tick_log = QueryLog()
    (tick_ms, sweep), _s, tick_peak = _measured(lambda: _tick(market, crash, tick_log))
    closes = {c.pk: c for c in PositionClose.objects.filter(pk__gt=before[PositionClose]).select_related("position")}
    doomed_positions = {built.positions[i] for i in built.doomed}
    checks["liquidated_exactly_the_expected"] = (
        {c.position_id for c in closes.values()} == doomed_positions
        and len(doomed_positions) == n // 100
        and sweep.liquidated == n // 100
        and all(c.reason == CloseReason.LIQUIDATION for c in closes.values())
    )
    events = OutboxEvent.objects.filter(pk__gt=before[OutboxEvent])
    checks["one_event_per_close"] = sorted(e.payload["close_id"] for e in events) == sorted(closes)
    entries = f"id > {before[JournalEntry]}"
    tick_floor_ms, tick_floor_indexed_ms, tick_rows = floors(
        {
            "accounts_journalentry": entries,
            "accounts_posting": f"entry_id IN (SELECT id FROM accounts_journalentry WHERE {entries})",
            "accounts_ledgeraccount": (
                "id IN (SELECT account_id FROM accounts_posting WHERE entry_id IN "
                f"(SELECT id FROM accounts_journalentry WHERE {entries}))"
            ),
            "copytrading_position": (
                f"id IN (SELECT position_id FROM copytrading_positionclose WHERE id > {before[PositionClose]})"
            ),
            "copytrading_positionclose": f"id > {before[PositionClose]}",
            "copytrading_outboxevent": f"id > {before[OutboxEvent]}",
            "copytrading_risksweep": f"id = {sweep.pk}",
            "copytrading_markprice": f"id = {sweep.tick_id}",
        }
    )

    # The vouchers' consumer of those events.
    consumer_log = SequenceLog()
    consumer_profiler = cProfile.Profile() if profile else None
    entries_before = max_id(JournalEntry)
    delivered, consumer_s, consumer_peak = _measured(
        lambda: outbox_deliver_pending(consumer=CONSUMER, batch=batch), profiler=consumer_profiler, log=consumer_log
    )
    checks.update(_consumer_checks(built, closes, consumer_log, delivered))
    new_entries = f"id > {entries_before}"
    consumer_floor_ms, consumer_floor_indexed_ms, consumer_rows = floors(
        {
            "vouchers_closedecision": f"id > {before[CloseDecision]}",
            "vouchers_voucher": f"id IN (SELECT voucher_id FROM vouchers_payout WHERE id > {before[Payout]})",
            "vouchers_payout": f"id > {before[Payout]}",
            "accounts_journalentry": new_entries,
            "accounts_posting": f"entry_id IN (SELECT id FROM accounts_journalentry WHERE {new_entries})",
            "accounts_ledgeraccount": (
                "id IN (SELECT account_id FROM accounts_posting WHERE entry_id IN "
                f"(SELECT id FROM accounts_journalentry WHERE {new_entries}))"
            ),
            "copytrading_outboxdelivery": f"consumer = '{CONSUMER}'",
        }
    )
    decisions = CloseDecision.objects.count()
    again, again_s, _peak = _measured(lambda: outbox_deliver_pending(consumer=CONSUMER, batch=batch))
    checks["redelivery_changes_nothing"] = again == 0 and CloseDecision.objects.count() == decisions
    checks["budget_identity_after_triggers"] = campaign_budget_problems() == []

    # The daily reimbursement run over the N pending payouts of the earlier campaign.
    run_now = timezone.now()
    day_start = platform_day_start(run_now)
    due = set(Payout.objects.filter(state=PayoutState.PENDING, triggered_at__lt=day_start).values_list("pk", flat=True))
    checks["payouts_built_are_due"] = set(built.payouts) <= due
    _update_floor_prepare()
    payout_log = QueryLog()
    payout_profiler = cProfile.Profile() if profile else None
    issued, payout_s, payout_peak = _measured(
        lambda: payouts_issue_due(now=run_now), profiler=payout_profiler, log=payout_log
    )
    issued_ids = list(
        Payout.objects.filter(state=PayoutState.ISSUED, issued_at=run_now).order_by("pk").values_list("pk", flat=True)
    )
    claim_by = run_now + timedelta(days=built.campaigns["earlier"].payout_claim_days)
    after = _payout_snapshot(sorted(due))
    checks["payout_run_issued_exactly_the_due"] = (
        issued == len(due)
        and set(issued_ids) == due
        and Payout.objects.filter(state=PayoutState.ISSUED).count() == len(due)
    )
    checks["issued_payouts_claimable_for_the_campaign_days"] = all(
        state == PayoutState.ISSUED and issued_at == run_now and by == claim_by and ended is None
        for _pk, state, issued_at, by, ended in after
    )
    payout_floor_ms, payout_floor_indexed_ms, payout_rows = floors(
        {"vouchers_payout": f"state = 'issued' AND issued_at = '{run_now.isoformat()}'"}
    )
    payout_update_floor_ms = _update_floor(issued_ids)
    everything_before = _payout_snapshot()
    entries_before_second = JournalEntry.objects.count()
    second_log = QueryLog()
    second, second_s, _peak = _measured(lambda: payouts_issue_due(now=run_now), log=second_log)
    second_floor_ms = min(_due_count_floor(day_start) for _ in range(3))
    checks["second_payout_run_changes_nothing"] = (
        second == 0
        and _payout_snapshot() == everything_before
        and JournalEntry.objects.count() == entries_before_second
    )

    # The loss-coverage credit run, over the same users.
    try:
        results["loss"] = loss_compensation_run(n, users=built.users, seed=seed, progress=progress, profile=profile)
        checks.update(results["loss"].pop("checks"))
    except NotImplementedError as missing:
        results["loss"] = {"measured": False, "why": str(missing)}

    audit_started = time.perf_counter()
    checks["ledger_audit_ok"] = ledger_audit().ok
    audit_ms = (time.perf_counter() - audit_started) * 1000
    checks["budget_identity_at_end"] = campaign_budget_problems() == []

    per_batch = consumer_log.per_batch()
    consumer_ms = consumer_s * 1000
    results.update(
        {
            "liquidated": len(closes),
            "groups": {name: sum(1 for k in built.kinds if k == kinds) for name, _w, kinds in GROUPS},
            "vouchers_held": sum(len(v) for v in built.vouchers),
            "warmup_tick_ms": round(warm_ms, 1),
            "tick": {
                "ms": round(tick_ms, 1),
                "queries": tick_log.total,
                "db_ms": round(tick_log.db_ms, 1),
                "top": tick_log.top(8),
                "floor_ms": round(tick_floor_ms, 1),
                "floor_indexed_ms": round(tick_floor_indexed_ms, 1),
                "rows": sum(tick_rows.values()),
                "ratio": round(tick_ms / max(tick_floor_ms, 1e-6), 1),
                "peak_rss_mb": round(tick_peak, 1),
            },
            "consumer": {
                "ms": round(consumer_ms, 1),
                "delivered": delivered,
                "triggered": Voucher.objects.filter(
                    pk__in=[v for vs in built.vouchers for v in vs.values()], state="triggered"
                ).count(),
                "queries": consumer_log.total,
                "queries_per_batch": per_batch,
                "db_ms": round(consumer_log.db_ms, 1),
                "top": consumer_log.top(10),
                "floor_ms": round(consumer_floor_ms, 1),
                "floor_indexed_ms": round(consumer_floor_indexed_ms, 1),
                "rows": sum(consumer_rows.values()),
                "rows_by_table": consumer_rows,
                "ratio_floor": round(consumer_ms / max(consumer_floor_ms, 1e-6), 1),
                "ratio_to_tick": round(consumer_ms / max(tick_ms, 1e-6), 3),
                "redelivery_ms": round(again_s * 1000, 1),
                "peak_rss_mb": round(consumer_peak, 1),
            },
            "payouts": {
                "ms": round(payout_s * 1000, 1),
                "issued": issued,
                "queries": payout_log.total,
                "db_ms": round(payout_log.db_ms, 1),
                "top": payout_log.top(8),
                "floor_ms": round(payout_floor_ms, 1),
                "floor_indexed_ms": round(payout_floor_indexed_ms, 1),
                "update_floor_ms": round(payout_update_floor_ms, 1),
                "rows": sum(payout_rows.values()),
                "ratio": round(payout_s * 1000 / max(payout_floor_ms, 1e-6), 1),
                "ratio_update": round(payout_s * 1000 / max(payout_update_floor_ms, 1e-6), 1),
                "peak_rss_mb": round(payout_peak, 1),
                "second_ms": round(second_s * 1000, 1),
                "second_issued": second,
                "second_queries": second_log.total,
                "second_floor_ms": round(second_floor_ms, 2),
                "second_ratio": round(second_s * 1000 / max(second_floor_ms, 1e-6), 1),
            },
            "audit_ms": round(audit_ms, 1),
            "checks": checks,
            "ok": all(checks.values()),
        }
    )
    results["peak_rss_mb_process"] = round(
        max(setup_peak_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), 1
    )
    if consumer_profiler:
        results["consumer"]["profile"] = _profile_text(consumer_profiler)
    if payout_profiler:
        results["payouts"]["profile"] = _profile_text(payout_profiler)
    return results


# --- the command line ----------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def _report(results: dict) -> str:
    t, c, p, loss = results["tick"], results["consumer"], results["payouts"], results["loss"]
    groups = ", ".join(f"{name} {count:,}" for name, count in results["groups"].items())
    lines = [
        f"users: {results['n']:,} (built in {results['setup_s']} s); vouchers held: {groups} "
        f"({results['vouchers_held']:,} claimed); {results['n']:,} pending payouts of an earlier campaign",
        f"warm-up tick (nothing crossed) {results['warmup_tick_ms']:.1f} ms",
        "",
        f"(a) tick to 0.97 P0     {t['ms']:>9.1f} ms  {results['liquidated']:,} liquidated; {t['queries']} queries, "
        f"{t['db_ms']:.1f} ms in execute(); peak {t['peak_rss_mb']:.1f} MB RSS",
        f"    floor: COPY of the {t['rows']:,} rows it wrote {t['floor_ms']:.1f} ms → ratio {t['ratio']} "
        f"(same indexes {t['floor_indexed_ms']:.1f} ms)",
        f"(b) vouchers consumer   {c['ms']:>9.1f} ms  {c['delivered']:,} events, "
        f"{c['triggered']:,} vouchers triggered; {c['queries']} queries in {len(c['queries_per_batch'])} "
        f"transactions (batches of {results['delivery_batch']}): {c['queries_per_batch']}; "
        f"{c['db_ms']:.1f} ms in execute(); peak {c['peak_rss_mb']:.1f} MB RSS",
        f"    consumer / tick = {c['ratio_to_tick']:.3f} — {_verdict(c['ratio_to_tick'] <= TARGET_CONSUMER_RATIO)} "
        f"the ≤ {TARGET_CONSUMER_RATIO:.2f} target (the tick reads no voucher: (c), the same tick without vouchers, "
        "is the tick itself)",
        f"    floor: COPY of the {c['rows']:,} rows it wrote {c['floor_ms']:.1f} ms → ratio {c['ratio_floor']} "
        f"(same indexes {c['floor_indexed_ms']:.1f} ms); redelivery (nothing left) {c['redelivery_ms']:.1f} ms",
        "    rows: " + ", ".join(f"{k} {v:,}" for k, v in c["rows_by_table"].items()),
        f"(c) daily payout run    {p['ms']:>9.1f} ms  {p['issued']:,} issued; target ≤ {TARGET_PAYOUT_S:.0f} s "
        f"{_verdict(p['ms'] <= TARGET_PAYOUT_S * 1000)}; {p['queries']} queries, {p['db_ms']:.1f} ms in execute(); "
        f"peak {p['peak_rss_mb']:.1f} MB RSS",
        f"    floor: one UPDATE … FROM unnest of the same {p['issued']:,} rows on an indexed copy "
        f"{p['update_floor_ms']:.1f} ms → ratio {p['ratio_update']}; COPY of the rows written "
        f"{p['floor_ms']:.1f} ms → ratio {p['ratio']} (same indexes {p['floor_indexed_ms']:.1f} ms)",
        f"    second run {p['second_ms']:.1f} ms, {p['second_issued']} issued, {p['second_queries']} queries; floor "
        f"(indexed count of what is due) {p['second_floor_ms']:.2f} ms → ratio {p['second_ratio']}",
    ]
    if loss.get("measured") is False:
        lines.append(f"(d) loss-coverage run   NOT MEASURED: {loss['why']}")
    else:
        lines += [
            f"(d) loss-coverage run   {loss['ms']:>9.1f} ms  {loss['credited']:,} credited, {loss['withheld']:,} "
            f"withheld (built in {loss['setup_s']} s); target ≤ {TARGET_LOSS_S:.0f} s "
            f"{_verdict(loss['ms'] <= TARGET_LOSS_S * 1000)}; {loss['queries']} queries, {loss['db_ms']:.1f} ms in "
            f"execute(); peak {loss['peak_rss_mb']:.1f} MB RSS",
            f"    floor: COPY of the {loss['rows']:,} rows it wrote {loss['floor_ms']:.1f} ms → ratio {loss['ratio']} "
            f"(same indexes {loss['floor_indexed_ms']:.1f} ms)",
            "    rows: " + ", ".join(f"{k} {v:,}" for k, v in loss["rows_by_table"].items()),
            f"    second run {loss['second_ms']:.1f} ms, {loss['second_queries']} queries",
        ]
    lines += [
        f"peak memory for the process: {results['peak_rss_mb_process']:.1f} MB; "
        f"ledger audit {results['audit_ms']:.0f} ms",
        "",
        "checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in results["checks"].items()),
        "",
        "tick, database time by statement:",
        *(f"  {q['ms']:>8.1f} ms  {q['count']:>5}×  {q['sql']}" for q in t["top"]),
        "consumer, database time by statement:",
        *(f"  {q['ms']:>8.1f} ms  {q['count']:>5}×  {q['sql']}" for q in c["top"]),
        "payout run, database time by statement:",
        *(f"  {q['ms']:>8.1f} ms  {q['count']:>5}×  {q['sql']}" for q in p["top"]),
    ]
    if loss.get("measured"):
        lines += [
            "loss-coverage run, database time by statement:",
            *(f"  {q['ms']:>8.1f} ms  {q['count']:>5}×  {q['sql']}" for q in loss["top"]),
        ]
    for name, part in (("consumer", c), ("payout run", p), ("loss-coverage run", loss)):
        if "profile" in part:
            lines += ["", f"{name} under cProfile (times inflated by the profiler):", part["profile"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="users (a multiple of 100, at least 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--batch", type=int, default=None, help="events per delivery transaction (BATCH_CONSUMER_BATCH)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the consumer, the payout run and the loss-coverage run under cProfile",
    )
    args = parser.parse_args(argv)
    if args.users < 300 or args.users % 100:
        parser.error("--users must be a multiple of 100, at least 300")
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_prepare(url)
    django_setup(url)
    print(f"vouchers benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {_git_commit()}")
    print(f"machine: {_machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results = run_benchmark(args.users, seed=args.seed, progress=True, profile=args.profile, delivery_batch=args.batch)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(_report(results))
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
