"""The fan-out benchmark's measures and checks: the COPY floors, the outcome checks, the report.

Used by ``bench/fanout.py``.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from bench.fanout_build import OTHER_SYMBOL
from bench.risk_sweep import copy_floor

TARGET_OPEN_S, AIM_OPEN_S = 2.0, 1.0  # at 10,000 followers
TARGET_RATIO, AIM_RATIO = 10.0, 5.0
TARGET_QUERIES_PER_FOLLOWER = 0.1


# --- measuring -------------------------------------------------------------------------------


def floors(selects: dict[str, str]) -> tuple[float, float, dict[str, int]]:
    plain, rows = copy_floor(selects)
    indexed, _rows = copy_floor(selects, indexed=True)
    return plain, indexed, rows


def max_id(model) -> int:
    return model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def fanout_selects(
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


def check_open(specs: list[dict], order, market, fees_account_id: int) -> tuple[dict[str, bool], dict]:
    from copytrading.futures.models import Position, PositionStatus
    from copytrading.models import Following

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


def check_close(specs: list[dict], order, market, opened: dict) -> dict[str, bool]:
    from copytrading.futures.models import CloseReason, Position, PositionClose, PositionStatus

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


# --- the report ------------------------------------------------------------------------------


def report(results: dict) -> str:
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


def targets_verdict(timed: dict, inline: dict) -> str:
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
