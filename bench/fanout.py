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
Redis; the lead's commit queues ``copy_fanout_run``, which runs the first batch
and queues the others), timed by polling the decision count; the median of
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
import math
import os
import pstats
import random
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

from bench.fanout_workers import DEFAULT_BROKER_URL, CopyWorkers  # noqa: E402 - after the path is set
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
TARGET_OPEN_S, AIM_OPEN_S = 2.0, 1.0  # at 10,000 followers
TARGET_RATIO, AIM_RATIO = 10.0, 5.0
TARGET_QUERIES_PER_FOLLOWER = 0.1
CHUNK = 5000  # followers created per transaction
SYMBOL, OTHER_SYMBOL = "BTCUSDT", "ETHUSDT"
LEAD_EQUITY = Decimal("1000000")
LEAD_QTY = Decimal("1")  # 60,000 USDT at 10x: a follower with 1,000 USDT copies the minimum 0.001 BTC
SLIPPAGE_MOVE = Decimal("0.0015")  # the mark between the lead's fill and the fan-out
CLOSE_MOVE = Decimal("0.001")  # and before the lead's close
SLOT_TIER_EQUITY = 100_000

# (group, weight in %, the reason its open is refused with; "" = followed)
GROUPS: list[tuple[str, int, str]] = [
    ("plain", 37, ""),
    ("isolated", 15, ""),
    ("fixed_leverage", 10, ""),
    ("sl_tp", 5, ""),
    ("guardian", 5, ""),
    ("capped", 5, ""),  # max_position_value cuts the copy down
    ("new_pair", 1, ""),  # follows only ETH but auto-follows new pairs: the lead's first BTC trade joins
    ("pair", 4, "pair_not_followed"),  # follows only ETH, no auto-follow
    ("interrupted", 3, "following_interrupted"),  # equity below the 50 USDT minimum
    ("insufficient", 7, "insufficient_balance"),  # the copy rounds below 0.001 BTC
    ("slippage", 5, "slippage"),  # 0.1 % allowed, the mark moved 0.15 %
    ("position_value", 3, "max_position_value"),  # an ETH copy already worth more than the cap
]
FOLLOWED_SLIPPAGE = [Decimal(s) for s in ("0.002", "0.005", "0.005", "0.01", "0.02", "0.03")]


# --- the lead and its followers --------------------------------------------------------------


def _money(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"))


def _spec(i: int, rng: random.Random) -> dict:
    """Follower ``i``: its group, sub-account balance and following settings."""
    if i < len(GROUPS):  # every group appears even at a small N
        group, _w, reason = GROUPS[i]
    else:
        group, _w, reason = rng.choices(GROUPS, weights=[w for _g, w, _r in GROUPS])[0]
    balance = _money(math.exp(rng.uniform(math.log(1000), math.log(20000))))
    settings: dict = {"slippage_ratio": rng.choice(FOLLOWED_SLIPPAGE)}
    if group == "isolated":
        settings["margin_mode"] = "isolated"
    elif group == "fixed_leverage":
        settings.update(leverage_mode="fixed", fixed_leverage=rng.randint(1, 10))
    elif group == "sl_tp":
        settings.update(stop_loss_ratio=Decimal("0.5"), take_profit_ratio=Decimal("1"))
    elif group == "guardian":
        settings["guardian_min_net_value"] = (balance / 2).quantize(Decimal("0.01"))
    elif group == "capped":
        balance = _money(rng.uniform(5000, 20000))
        settings["max_position_value"] = _money(rng.uniform(100, 250))
    elif group == "new_pair":
        settings["pairs"] = [OTHER_SYMBOL]
    elif group == "pair":
        settings.update(pairs=[OTHER_SYMBOL], auto_follow_new_pairs=False)
    elif group == "interrupted":
        balance = _money(rng.uniform(10, 49.99))
    elif group == "insufficient":
        balance = _money(rng.uniform(50, 999.99))
    elif group == "slippage":
        settings["slippage_ratio"] = Decimal("0.001")
    elif group == "position_value":
        settings["max_position_value"] = Decimal("200")
    return {"group": group, "reason": reason, "balance": balance, "settings": settings}


def lead_create(n: int, *, tag: str):
    """An approved lead with LEAD_EQUITY in its futures account; the slot tiers raised so n followers fit."""
    from django.utils import timezone

    from accounts.models import AccountKind, User
    from accounts.services.accounts import account_open, platform_account
    from accounts.services.ledger import Leg, entry_post
    from copytrading.models import CopySettings, LeadTrader, LeadTraderStatus

    settings = CopySettings.current()
    tiers = [t for t in settings.follower_slot_tiers if t[0] < SLOT_TIER_EQUITY]
    top = max([int(t[1]) for t in settings.follower_slot_tiers if t[0] >= SLOT_TIER_EQUITY] + [n])
    settings.follower_slot_tiers = [*tiers, [SLOT_TIER_EQUITY, top]]
    settings.save(update_fields=["follower_slot_tiers"])

    user = User.objects.create(email=f"lead-{tag}@bench.invalid", password="!")
    wallet = account_open(owner=user, kind=AccountKind.FUTURES)
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    entry_post(
        kind="bench_funding",
        idempotency_key=f"bench-fanout:{tag}:lead",
        legs=[Leg(wallet.pk, LEAD_EQUITY), Leg(custody.pk, -LEAD_EQUITY)],
        reference="bench",
        reason="copy fan-out benchmark funding",
    )
    lead = LeadTrader.objects.create(
        user=user,
        nickname=f"bench-{tag}"[:40],
        profit_share_ratio=Decimal("0.1"),
        status=LeadTraderStatus.APPROVED,
        status_reason="benchmark",
        decided_at=timezone.now(),
    )
    return lead, wallet


def followers_create(n: int, lead, other_market, *, seed: int, tag: str, progress: bool) -> list[dict]:
    """Create n followers of ``lead`` in bulk; return their specs with following, sub-account and margin ids.

    Per follower: a user, its Smart Ratio sub-account (FOLLOW, ref "smart:<lead>"), that
    account's isolated-margin account (POSITION_MARGIN, ref = the sub-account's id, as
    order_place and the fan-out would open it), the Following row; the "position_value"
    group also an open cross ETH copy of the same lead worth 300 USDT. The money comes
    from external custody by one balanced compound entry per chunk through ``entry_post``.
    """
    from django.db import transaction
    from tqdm import tqdm

    from accounts.models import AccountKind, LedgerAccount, User
    from accounts.services.accounts import platform_account
    from accounts.services.ledger import Leg, entry_post
    from copytrading import margin as m
    from copytrading.models import Following, FollowMode, MarginMode, Position, PositionSide

    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    custody = platform_account(kind=AccountKind.EXTERNAL_CUSTODY)
    specs = [_spec(i, rng) for i in range(n)]
    eth_qty, eth_price = Decimal("0.1"), other_market.mark_price
    with tqdm(total=n, unit="follower", desc="followers", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, n, CHUNK):
            chunk = specs[start : start + CHUNK]
            with transaction.atomic():
                users = User.objects.bulk_create(
                    [User(email=f"fan-{tag}-{start + j}@bench.invalid", password="!") for j in range(len(chunk))],
                    batch_size=2000,
                )
                subs = LedgerAccount.objects.bulk_create(
                    [LedgerAccount(owner=u, kind=AccountKind.FOLLOW, ref=f"smart:{lead.pk}") for u in users],
                    batch_size=2000,
                )
                margins = LedgerAccount.objects.bulk_create(
                    [
                        LedgerAccount(owner=u, kind=AccountKind.POSITION_MARGIN, ref=str(s.pk))
                        for u, s in zip(users, subs, strict=True)
                    ],
                    batch_size=2000,
                )
                followings = Following.objects.bulk_create(
                    [
                        Following(
                            follower=u,
                            lead=lead,
                            mode=FollowMode.SMART,
                            sub_account=s,
                            invested=sp["balance"],
                            **sp["settings"],
                        )
                        for u, s, sp in zip(users, subs, chunk, strict=True)
                    ],
                    batch_size=2000,
                )
                Position.objects.bulk_create(
                    [
                        Position(
                            account=s,
                            market=other_market,
                            slot=f.pk,
                            side=PositionSide.LONG,
                            qty=eth_qty,
                            entry_price=eth_price,
                            leverage=10,
                            margin_mode=MarginMode.CROSS,
                            margin=m.initial_margin(qty=eth_qty, price=eth_price, leverage=10),
                            liquidation_price=m.cross_liquidation_price(
                                legs=[m.Leg(1, eth_qty, eth_price)],
                                cushion=sp["balance"],
                                mmr=other_market.maintenance_margin_rate,
                                tick=other_market.price_tick,
                            ),
                        )
                        for s, f, sp in zip(subs, followings, chunk, strict=True)
                        if sp["group"] == "position_value"
                    ]
                )
                legs = [Leg(s.pk, sp["balance"]) for s, sp in zip(subs, chunk, strict=True)]
                legs.append(Leg(custody.pk, -sum(sp["balance"] for sp in chunk)))
                entry_post(
                    kind="bench_funding",
                    idempotency_key=f"bench-fanout:{tag}:{start}",
                    legs=legs,
                    reference="bench",
                    reason="copy fan-out benchmark funding",
                )
                for sp, f, s, mg in zip(chunk, followings, subs, margins, strict=True):
                    sp.update(following=f.pk, sub=s.pk, margin=mg.pk)
            bar.update(len(chunk))
    return specs


def _plan(specs: list[dict], order, market, price: Decimal, token_used: Decimal) -> None:
    """Add to each spec the open's expected outcome: reason, or quantity (the token limit taken in id order)."""
    from copytrading import margin as m

    for sp in sorted(specs, key=lambda s: s["following"]):
        sp["expected_reason"], sp["expected_qty"] = sp["reason"], None
        if sp["reason"]:
            continue
        qty, limited_by = LEAD_QTY * sp["balance"] / order.lead_equity, "insufficient_balance"
        cap = sp["settings"].get("max_position_value")
        if cap is not None and cap / price < qty:
            qty, limited_by = cap / price, "max_position_value"
        qty = m.round_step_down(qty, market.qty_step)
        if qty < market.min_qty:
            sp["expected_reason"] = limited_by
            continue
        if market.token_follow_limit is not None and token_used + qty * price > market.token_follow_limit:
            sp["expected_reason"] = "token_limit"
            continue
        token_used += qty * price
        sp["expected_qty"] = qty


# --- measuring -------------------------------------------------------------------------------


def _floor_copy(selects: dict[str, str], *, indexed: bool = False) -> tuple[float, dict[str, int]]:
    """COPY the rows a fan-out wrote into fresh tables like theirs, in one transaction: (ms, rows per table).

    ``indexed``: the fresh tables also get the originals' indexes and checks (LIKE … INCLUDING ALL), a
    second reference that pays the index maintenance the fan-out pays (not its foreign-key checks).
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


def _floors(selects: dict[str, str]) -> tuple[float, float, dict[str, int]]:
    plain, rows = _floor_copy(selects)
    indexed, _rows = _floor_copy(selects, indexed=True)
    return plain, indexed, rows


def _max_id(model) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


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


def _fanout_selects(
    order_id: int, *, closes_after: int | None = None, events_after: int | None = None, followings: list[int] = ()
) -> dict:
    decisions = f"lead_order_id = {order_id}"
    entries = f"kind = 'copy_fill' AND reference = 'order:{order_id}'"
    entry_ids = f"SELECT id FROM accounts_journalentry WHERE {entries}"
    selects = {
        "copytrading_copydecision": decisions,
        "copytrading_position": (
            f"id IN (SELECT position_id FROM copytrading_copydecision WHERE {decisions} AND position_id IS NOT NULL)"
        ),
        "accounts_journalentry": entries,
        "accounts_posting": f"entry_id IN ({entry_ids})",
        "accounts_ledgeraccount": f"id IN (SELECT account_id FROM accounts_posting WHERE entry_id IN ({entry_ids}))",
    }
    if followings:  # auto-followed new pair written back
        selects["copytrading_following"] = f"id IN ({', '.join(str(pk) for pk in followings)})"
    if closes_after is not None:
        selects["copytrading_positionclose"] = f"id > {closes_after}"
    if events_after is not None:
        selects["copytrading_outboxevent"] = f"id > {events_after}"
    return selects


def _nets(order_id: int) -> dict[int, Decimal]:
    """Net postings per account of the fan-out entries of one lead order."""
    from django.db.models import Sum

    from accounts.models import Posting

    return dict(
        Posting.objects.filter(entry__kind="copy_fill", entry__reference=f"order:{order_id}")
        .values("account_id")
        .annotate(net=Sum("amount"))
        .values_list("account_id", "net")
    )


def _decisions(order_id: int) -> tuple[Counter, dict[int, object]]:
    from copytrading.models import CopyDecision

    rows = list(CopyDecision.objects.filter(lead_order_id=order_id))
    return Counter(d.following_id for d in rows), {d.following_id: d for d in rows}


def _check_open(specs: list[dict], order, market, fees_account_id: int) -> tuple[dict[str, bool], dict]:
    from copytrading.models import Following, Position, PositionStatus

    ids = {sp["following"] for sp in specs}
    counts, decisions = _decisions(order.pk)
    checks = {"open_one_decision_per_follower": set(counts) == ids and set(counts.values()) == {1}}
    checks["open_reasons_and_sizes_as_planned"] = all(
        (d := decisions.get(sp["following"])) is not None
        and d.followed == (not sp["expected_reason"])
        and d.reason == sp["expected_reason"]
        and not d.is_close
        and (d.qty == sp["expected_qty"] if d.followed else d.position_id is None)
        for sp in specs
    )
    copies = {
        p.slot: p
        for p in Position.objects.filter(
            market=market, status=PositionStatus.OPEN, account_id__in=[sp["sub"] for sp in specs]
        )
    }
    followed = {f: d for f, d in decisions.items() if d.followed}
    checks["open_positions_match_decisions"] = set(copies) == set(followed) and all(
        (p := copies[f]).pk == d.position_id
        and p.qty == d.qty
        and p.margin == d.margin
        and p.leverage == d.leverage
        and p.margin_mode == d.margin_mode
        and p.side == "long"
        for f, d in followed.items()
    )
    by_following = {sp["following"]: sp for sp in specs}
    checks["open_settings_applied"] = all(
        p.margin_mode == ("isolated" if (sp := by_following[f])["group"] == "isolated" else "cross")
        and p.leverage == sp["settings"].get("fixed_leverage", order.leverage)
        and p.guarded == (sp["group"] == "guardian")
        and (p.stop_loss_price is not None and p.take_profit_price is not None) == (sp["group"] == "sl_tp")
        and (p.liquidation_price is not None or p.margin_mode == "cross")
        for f, p in copies.items()
    )
    added = {sp["following"] for sp in specs if sp["group"] == "new_pair"}
    checks["open_new_pair_auto_followed"] = all(
        f.pairs == sorted([OTHER_SYMBOL, market.symbol]) if f.pk in added else f.pairs in (None, [OTHER_SYMBOL])
        for f in Following.objects.filter(pk__in=ids)
    )
    nets = _nets(order.pk)
    ok = set(nets) <= {sp["sub"] for sp in specs} | {sp["margin"] for sp in specs} | {fees_account_id}
    for sp in specs:
        wallet, margin = nets.get(sp["sub"], Decimal(0)), nets.get(sp["margin"], Decimal(0))
        p = copies.get(sp["following"])
        if p is None:
            ok = ok and wallet == 0 and margin == 0
        else:
            ok = ok and wallet + margin == -p.fees_paid and margin == (p.margin if p.is_isolated else 0)
    ok = ok and nets.get(fees_account_id, Decimal(0)) == sum((p.fees_paid for p in copies.values()), Decimal(0))
    checks["open_ledger_matches_decisions"] = ok
    return checks, copies


def _check_close(specs: list[dict], order, market, opened: dict) -> dict[str, bool]:
    from copytrading.models import CloseReason, Position, PositionClose, PositionStatus

    ids = {sp["following"] for sp in specs}
    counts, decisions = _decisions(order.pk)
    checks = {"close_one_decision_per_follower": set(counts) == ids and set(counts.values()) == {1}}
    checks["close_followed_for_every_copy"] = all(
        d.followed
        and d.is_close
        and not d.reason
        and (
            (d.position_id, d.qty) == (opened[f].pk, opened[f].qty)
            if f in opened
            else (d.position_id, d.qty) == (None, 0)
        )
        for f, d in decisions.items()
    )
    still_open = Position.objects.filter(
        market=market, status=PositionStatus.OPEN, account_id__in=[sp["sub"] for sp in specs]
    ).exists()
    closes = {c.position_id: c for c in PositionClose.objects.filter(position_id__in=[p.pk for p in opened.values()])}
    closed = {p.pk: p for p in Position.objects.filter(pk__in=[p.pk for p in opened.values()])}
    checks["close_positions_closed"] = (
        not still_open
        and len(closes) == len(opened)
        and all(
            closed[p.pk].status == PositionStatus.CLOSED
            and closed[p.pk].qty == 0
            and closes[p.pk].qty == p.qty
            and closes[p.pk].reason == CloseReason.COPY
            and closes[p.pk].price == order.price
            and closes[p.pk].realised_pnl == p.qty * (order.price - p.entry_price)
            for p in opened.values()
        )
    )
    nets = _nets(order.pk)
    ok = True
    for sp in specs:
        wallet, margin = nets.get(sp["sub"], Decimal(0)), nets.get(sp["margin"], Decimal(0))
        p = opened.get(sp["following"])
        if p is None:
            ok = ok and wallet == 0 and margin == 0
        else:
            c = closes[p.pk]
            ok = (
                ok
                and wallet + margin == c.realised_pnl - c.fee
                and margin == (-c.margin_released if p.is_isolated else 0)
            )
    checks["close_ledger_matches_closes"] = ok
    return checks


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
    from copytrading import margin as m
    from copytrading.models import Market, OutboxEvent, Position, PositionClose, PositionStatus, PriceSource
    from copytrading.services.demo import markets_seed_demo
    from copytrading.services.leads import lead_follower_slots
    from copytrading.services.orders import order_place
    from copytrading.services.prices import mark_price_set

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
            _plan(specs, open_order, market, price, token_used)
        profiler = cProfile.Profile() if profile and not workers else None
        opened_run = (
            _fanout_on(workers, open_order.pk, n, committed["open"]) if workers else _fanout(open_order.pk, profiler)
        )
        checks["open_decided_all"] = opened_run["decided"] == n
        open_checks, opened = _check_open(specs, open_order, market, fees_account.pk)
        checks.update(open_checks)
        open_floor_ms, open_indexed_ms, open_rows = _floors(
            _fanout_selects(open_order.pk, followings=[sp["following"] for sp in specs if sp["group"] == "new_pair"])
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
            closes_before, events_before = _max_id(PositionClose), _max_id(OutboxEvent)  # after the lead's own close
        closed_run = (
            _fanout_on(workers, close_order.pk, n, committed["close"]) if workers else _fanout(close_order.pk, None)
        )
        checks["close_decided_all"] = closed_run["decided"] == n
        checks.update(_check_close(specs, close_order, market, opened))
        close_floor_ms, close_indexed_ms, close_rows = _floors(
            _fanout_selects(close_order.pk, closes_after=closes_before, events_after=events_before)
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


def _report(results: dict) -> str:
    n = results["n"]
    lines = [
        f"followers: {n:,} (Smart Ratio; built in {results['setup_s']} s); fan-out batch {results['batch']:,}; "
        f"fan-out run {results['mode']}",
        "open outcomes planned: " + ", ".join(f"{k} {v:,}" for k, v in results["outcomes"].items()),
        *(
            [
                f"the median of {len(results['repeats']['open'])} runs, each with its own lead and followers; "
                + "; ".join(
                    f"{name} {', '.join(f'{ms:.0f}' for ms in times)} ms" for name, times in results["repeats"].items()
                )
            ]
            if "repeats" in results
            else []
        ),
        f"lead order_place: open {results['lead_open_ms']:.1f} ms, close {results['lead_close_ms']:.1f} ms",
    ]
    for name in ("open", "close"):
        r = results[name]
        lines.append(
            f"{name:<5} fan-out {r['ms']:>8.1f} ms ({r['us_per_follower']} µs per follower); "
            f"{r['rows']:,} rows written; COPY floor {r['floor_ms']:.1f} ms → ratio {r['ratio']} "
            f"(floor with the same indexes {r['floor_indexed_ms']:.1f} ms → ratio {r['ratio_indexed']})"
        )
        if r["queries"] is None:
            lines.append(f"      peak {r['peak_rss_mb']:.1f} MB RSS in a worker process (queries: see the inline run)")
        else:
            lines.append(
                f"      {r['queries']} queries = {r['queries_per_follower']:.4f} per follower, {r['db_ms']:.1f} ms in "
                f"execute(); Python GC {r['gc_ms']:.0f} ms ({r['gc_runs']} collections); "
                f"peak {r['peak_rss_mb']:.1f} MB RSS"
            )
        lines.append("      rows: " + ", ".join(f"{t} {c:,}" for t, c in r["rows_by_table"].items()))
    lines += [
        f"peak memory for the process so far: {results['peak_rss_mb_process']:.1f} MB; "
        f"ledger audit {results['audit_ms']:.0f} ms",
        "checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in results["checks"].items()),
    ]
    for name in ("open", "close"):
        if results[name]["top"]:
            lines.append(f"{name} fan-out, database time by statement:")
            lines += [f"  {q['ms']:>8.1f} ms  {q['count']:>5}×  {q['sql']}" for q in results[name]["top"]]
    if "profile" in results:
        lines += ["", "open fan-out under cProfile (times inflated by the profiler):", results["profile"]]
    return "\n".join(lines)


def _targets(timed: dict, inline: dict) -> str:
    """The issue's targets at 10,000 followers: the open's time and ratio as timed, its queries from the inline run.

    The floor is COPY of the rows the fan-out wrote into tables shaped like the
    ones it wrote them to (the same indexes and checks): the fan-out cannot write
    a position, a decision or a balance without maintaining those indexes. The
    ratio to a COPY into bare tables is printed beside it.
    """

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    r, q = timed["open"], inline["open"]["queries_per_follower"]
    return (
        f"targets at {timed['n']:,} ({timed['mode']}): "
        f"open ≤ {TARGET_OPEN_S} s {verdict(r['ms'] <= TARGET_OPEN_S * 1000)} ({r['ms']:.0f} ms), "
        f"≤ {TARGET_RATIO:.0f}× the floor {verdict(r['ratio_indexed'] <= TARGET_RATIO)} ({r['ratio_indexed']}× COPY "
        f"into tables with the same indexes; {r['ratio']}× COPY into bare tables), "
        f"< {TARGET_QUERIES_PER_FOLLOWER} queries per follower {verdict(q < TARGET_QUERIES_PER_FOLLOWER)} ({q}); "
        f"aim ≤ {AIM_OPEN_S} s {verdict(r['ms'] <= AIM_OPEN_S * 1000)}, "
        f"≤ {AIM_RATIO:.0f}× {verdict(r['ratio_indexed'] <= AIM_RATIO)}"
    )


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
        print(_report(inline))
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
            print(_report(timed))
        if n >= 10_000:
            print()
            print(_targets(timed, inline))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
