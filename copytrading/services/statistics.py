"""Daily equity snapshots and the precomputed trader and following statistics. (R-CT-18 … R-CT-20, R-CT-24)

``equity_snapshots_take(day)`` records, once per platform date, the equity of every approved lead trader's
futures account and of every live following, with the day's net flow (money transferred in minus out), in
batches; the rows are keyed by (kind, subject, day), so a second run or a retry changes nothing.

``trader_stats_refresh`` and ``following_stats_refresh`` recompute the stored rows from the snapshots, the
positions and closes, and the copy decisions. The API reads those rows only.

Equity definitions:
- lead trader: its futures account's total assets (balance + isolated margin + unrealised PnL);
- Smart Ratio following: the sub-account's total assets plus any profit share frozen from it (frozen money is
  still the follower's until paid, so a freeze is not a loss and its refund not a gain);
- Diverse following: its net value in the shared pool (``valuation.following_net_value``) less the profit
  share already paid, so paid shares are a cost for both modes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.models import Posting
from accounts.money import ZERO, quantize
from copytrading import metrics as s
from copytrading.models import (
    CopyDecision,
    EquitySnapshot,
    Following,
    FollowingStats,
    FollowingStatus,
    LeadTrader,
    LeadTraderStatus,
    SnapshotKind,
    TraderStats,
)
from copytrading.selectors.history import close_results, equity_curves, major_asset_shares, position_results
from copytrading.valuation import following_equities, lead_wallets, share_pending, wallet_equities

# Entries that move money into or out of a trading account rather than trade with it.
LEAD_FLOW_KINDS = ("deposit", "withdrawal", "transfer")
FOLLOWING_FLOW_KINDS = ("following_funds_in", "following_funds_out", "following_settlement")
BATCH = 500
STAT_PLACES = Decimal("0.00000001")


def _stat(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(STAT_PLACES)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = ZoneInfo(settings.PLATFORM_TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, start + timedelta(days=1)


def _batches(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), BATCH):
        yield ids[i : i + BATCH]


# --- snapshots ---------------------------------------------------------------------------------------------


def _flows(
    account_ids: list[int], kinds: tuple[str, ...], between: tuple[datetime, datetime], by_reference: bool = False
) -> dict:
    """Net flow in ``between`` [start, end) per account id (or per entry reference) over entries of ``kinds``."""
    start, end = between
    key = "entry__reference" if by_reference else "account_id"
    rows = (
        Posting.objects.filter(
            account_id__in=account_ids, entry__kind__in=kinds, entry__created_at__gte=start, entry__created_at__lt=end
        )
        .values(key)
        .annotate(total=Sum("amount"))
    )
    return {r[key]: r["total"] for r in rows}


def equity_snapshots_take(day: date, *, flows_between: tuple[datetime, datetime] | None = None) -> int:
    """One snapshot per approved lead trader and per live following for ``day``; returns how many were added.

    Run just after 00:00 (UTC+8) for the date that has just ended. Subjects already snapshotted for ``day``
    are skipped, and the unique key makes a concurrent run harmless.

    The equity is the one of now; the day's net flow is the money moved within the platform day ``day``.
    ``flows_between`` ([start, end)) replaces that span for a history replayed in one sitting (the demo):
    its entries are all written today, so each replayed day passes the span in which it was played.
    """
    between = flows_between or _day_bounds(day)
    return _snapshot_leads(day, between) + _snapshot_followings(day, between)


def _snapshot_leads(day: date, between: tuple[datetime, datetime]) -> int:
    done = EquitySnapshot.objects.filter(kind=SnapshotKind.LEAD, day=day).values("subject_id")
    ids = list(
        LeadTrader.objects.filter(status=LeadTraderStatus.APPROVED)
        .exclude(pk__in=done)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    added = 0
    for batch in _batches(ids):
        leads = list(LeadTrader.objects.filter(pk__in=batch).order_by("pk"))
        wallets = lead_wallets(lead.user_id for lead in leads)
        equities = wallet_equities(list(wallets.values())) if wallets else {}
        flows = _flows([w.pk for w in wallets.values()], LEAD_FLOW_KINDS, between)
        rows = []
        for lead in leads:
            wallet = wallets.get(lead.user_id)
            rows.append(
                EquitySnapshot(
                    kind=SnapshotKind.LEAD,
                    subject_id=lead.pk,
                    day=day,
                    equity=quantize(equities[wallet.pk]) if wallet else ZERO,
                    net_flow=flows.get(wallet.pk, ZERO) if wallet else ZERO,
                )
            )
        added += len(EquitySnapshot.objects.bulk_create(rows, ignore_conflicts=True))
    return added


def _snapshot_followings(day: date, between: tuple[datetime, datetime]) -> int:
    done = EquitySnapshot.objects.filter(kind=SnapshotKind.FOLLOWING, day=day).values("subject_id")
    ids = list(
        Following.objects.exclude(status=FollowingStatus.STOPPED)
        .exclude(pk__in=done)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    added = 0
    for batch in _batches(ids):
        followings = list(Following.objects.filter(pk__in=batch).select_related("sub_account").order_by("pk"))
        equities = following_equities(followings)
        flows = _flows(list({f.sub_account_id for f in followings}), FOLLOWING_FLOW_KINDS, between, by_reference=True)
        rows = [
            EquitySnapshot(
                kind=SnapshotKind.FOLLOWING,
                subject_id=f.pk,
                day=day,
                equity=quantize(equities[f.pk]),
                net_flow=flows.get(f"following:{f.pk}", ZERO),
            )
            for f in followings
        ]
        added += len(EquitySnapshot.objects.bulk_create(rows, ignore_conflicts=True))
    return added


# --- trader stats ------------------------------------------------------------------------------------------


def trader_stats_refresh(lead_ids: list[int] | None = None) -> int:
    """Recompute and store the stats of the given lead traders (default: every approved one); returns how many."""
    qs = (
        LeadTrader.objects.all()
        if lead_ids is not None
        else LeadTrader.objects.filter(status=LeadTraderStatus.APPROVED)
    )
    if lead_ids is not None:
        qs = qs.filter(pk__in=lead_ids)
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    thresholds = s.flag_thresholds()
    for batch in _batches(ids):
        _trader_batch(list(LeadTrader.objects.filter(pk__in=batch).order_by("pk")), thresholds)
    return len(ids)


def _trader_batch(leads: list[LeadTrader], thresholds: dict) -> None:
    now = timezone.now()
    lead_ids = [lead.pk for lead in leads]
    curves = equity_curves(SnapshotKind.LEAD, lead_ids)
    wallets = lead_wallets(lead.user_id for lead in leads)
    wallet_ids = [w.pk for w in wallets.values()]
    own = {"account_id__in": wallet_ids}
    results = position_results(own, "account_id")
    closes = close_results(own, "account_id")
    shares = major_asset_shares(wallet_ids, now - timedelta(days=thresholds["conservative_window_days"]))

    followings = list(Following.objects.filter(lead_id__in=lead_ids).select_related("sub_account"))
    following_ids = [f.pk for f in followings]
    copies = position_results({"slot__in": following_ids}, "slot") if following_ids else {}
    live = [f for f in followings if f.is_live]
    live_equity = following_equities(live) if live else {}
    ends = {lead_id: curve[-1].day for lead_id, curve in curves.items() if curve}
    since = min(ends.values(), default=now.date()) - timedelta(days=30)
    follower_curves = equity_curves(SnapshotKind.FOLLOWING, [f.pk for f in live], since) if live else {}
    quality = _copy_quality(lead_ids)

    rows = []
    for lead in leads:
        points = curves.get(lead.pk, [])
        wallet = wallets.get(lead.user_id)
        result = results.get(wallet.pk) if wallet else None
        mine = [f for f in followings if f.lead_id == lead.pk]
        mine_live = [f for f in mine if f.is_live]
        drawdown = s.max_drawdown(points)
        roi_30 = s.roi(points, 30)
        follower_rois = [s.roi(follower_curves[f.pk], 30) for f in mine_live if len(follower_curves.get(f.pk, [])) >= 2]
        slip_avg, slip_p95, missed = quality.get(lead.pk, (None, None, {}))
        rows.append(
            TraderStats(
                lead=lead,
                roi_7=_stat(s.roi(points, 7)),
                roi_30=_stat(roi_30),
                roi_90=_stat(s.roi(points, 90)),
                roi_all=_stat(s.roi(points)),
                pnl_all=quantize(result["net"] + result["upnl"]) if result else ZERO,
                win_rate=_stat(s.win_rate(closes.get(wallet.pk, []) if wallet else [])),
                max_drawdown=_stat(drawdown),
                trading_days=len(points),
                sharpe=_stat(s.sharpe([r for _, r in s.daily_returns(points)])),
                btc_eth_share=_stat(shares.get(wallet.pk, ZERO) if wallet else ZERO),
                followers_count=len(mine_live),
                followers_pnl=quantize(
                    sum((copies[f.pk]["net"] + copies[f.pk]["upnl"] for f in mine if f.pk in copies), ZERO)
                ),
                aum=quantize(sum((live_equity[f.pk] for f in mine_live), ZERO)),
                slippage_avg_bps=_stat(slip_avg),
                slippage_p95_bps=_stat(slip_p95),
                missed_rates=missed,
                roi_gap_30=_stat(roi_30 - s.mean(follower_rois)) if follower_rois else None,
                flags=s.trader_flags(
                    points,
                    trading_days=len(points),
                    btc_eth_share=shares.get(wallet.pk, ZERO) if wallet else ZERO,
                    drawdown=drawdown,
                    thresholds=thresholds,
                ),
                updated_at=now,
            )
        )
    TraderStats.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["lead"],
        update_fields=[f.name for f in TraderStats._meta.concrete_fields if f.name not in ("id", "lead")],
    )


def _copy_quality(lead_ids: list[int]) -> dict[int, tuple[Decimal | None, Decimal | None, dict[str, str]]]:
    """Per lead: average and 95th-percentile slippage (bps) of followed opens, and missed-open rate by reason.

    Slippage of a copy = |copy price − lead fill price| / lead fill price × 10,000. Rates are over the open
    decisions (closes are not opportunities to miss a copy), as decimal strings.
    """
    slippage: dict[int, list[Decimal]] = defaultdict(list)
    for lead_id, price, lead_price in CopyDecision.objects.filter(
        following__lead_id__in=lead_ids, followed=True, is_close=False, price__isnull=False
    ).values_list("following__lead_id", "price", "lead_order__price"):
        slippage[lead_id].append(abs(price - lead_price) / lead_price * 10000)
    totals: dict[int, int] = defaultdict(int)
    missed: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        CopyDecision.objects.filter(following__lead_id__in=lead_ids, is_close=False)
        .values("following__lead_id", "followed", "reason")
        .annotate(n=Count("id"))
    ):
        lead_id = row["following__lead_id"]
        totals[lead_id] += row["n"]
        if not row["followed"]:
            missed[lead_id][row["reason"]] = missed[lead_id].get(row["reason"], 0) + row["n"]
    out = {}
    for lead_id in set(slippage) | set(totals):
        bps = slippage.get(lead_id, [])
        rates = {
            reason: str(_stat(Decimal(n) / Decimal(totals[lead_id]))) for reason, n in sorted(missed[lead_id].items())
        }
        out[lead_id] = (s.mean(bps) if bps else None, s.percentile(bps, Decimal("0.95")), rates)
    return out


# --- following stats ---------------------------------------------------------------------------------------


def following_stats_refresh(following_ids: list[int] | None = None) -> int:
    """Recompute and store the stats of the given followings (default: the live ones and those stopped in the
    last two days, so a stop's final figures land); returns how many."""

    if following_ids is None:
        recent = timezone.now() - timedelta(days=2)
        qs = Following.objects.filter(~Q(status=FollowingStatus.STOPPED) | Q(stopped_at__gte=recent))
    else:
        qs = Following.objects.filter(pk__in=following_ids)
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    for batch in _batches(ids):
        now = timezone.now()
        followings = list(Following.objects.filter(pk__in=batch).select_related("lead", "sub_account"))
        copies = position_results({"slot__in": batch}, "slot")
        closes = close_results({"slot__in": batch}, "slot")
        funds_in = {
            r["entry__reference"]: r["total"]
            for r in Posting.objects.filter(
                account_id__in={f.sub_account_id for f in followings},
                entry__kind="following_funds_in",
                entry__reference__in=[f"following:{f.pk}" for f in followings],
                amount__gt=0,
            )
            .values("entry__reference")
            .annotate(total=Sum("amount"))
        }
        curves = equity_curves(SnapshotKind.FOLLOWING, batch)
        rows = []
        for f in followings:
            c = copies.get(f.pk, {"net": ZERO, "fees": ZERO, "upnl": ZERO, "open": 0})
            pnl = c["net"] + c["upnl"]
            put_in = funds_in.get(f"following:{f.pk}", ZERO)
            curve = curves.get(f.pk, [])
            rows.append(
                FollowingStats(
                    following=f,
                    pnl=quantize(pnl),
                    roi=_stat(pnl / put_in) if put_in else ZERO,
                    roi_30=_stat(s.roi(curve, 30)) if len(curve) >= 2 else None,
                    win_rate=_stat(s.win_rate(closes.get(f.pk, []))),
                    open_positions=c["open"],
                    fees_paid=c["fees"],
                    share_paid=f.share_paid,
                    share_pending=share_pending(f, c["net"]),
                    updated_at=now,
                )
            )
        FollowingStats.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["following"],
            update_fields=[f.name for f in FollowingStats._meta.concrete_fields if f.name not in ("id", "following")],
        )
    return len(ids)
