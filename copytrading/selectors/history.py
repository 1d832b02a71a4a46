"""Reads of the trading history the statistics are computed from (``services.statistics``).

Equity curves from the daily snapshots, the net results of positions and of
each close, and the share of majors in the notional traded; all grouped in a
few queries per batch of subjects.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Sum

from accounts.money import ZERO
from copytrading import metrics as s
from copytrading.futures.models import Order, Position, PositionClose, PositionStatus
from copytrading.futures.risk import mark_of, unrealised
from copytrading.models import EquitySnapshot

MAJOR_ASSETS = ("BTC", "ETH")


def equity_curves(kind: str, subject_ids: list[int], since: date | None = None) -> dict[int, list[s.Point]]:
    """Daily snapshots per subject (lead or following id), oldest first, as points of the metrics maths."""
    qs = EquitySnapshot.objects.filter(kind=kind, subject_id__in=subject_ids)
    if since is not None:
        qs = qs.filter(day__gte=since)
    curves: dict[int, list[s.Point]] = defaultdict(list)
    for subject, day, equity, flow in qs.order_by("subject_id", "day").values_list(
        "subject_id", "day", "equity", "net_flow"
    ):
        curves[subject].append(s.Point(day, equity, flow))
    return curves


def position_results(where: dict, key: str) -> dict[int, dict[str, Decimal]]:
    """Per ``key`` (account_id or slot): realised net result (PnL − fees − funding), fees, unrealised PnL."""
    out: dict[int, dict[str, Decimal]] = defaultdict(lambda: {"net": ZERO, "fees": ZERO, "upnl": ZERO, "open": 0})
    for row in (
        Position.objects.filter(**where)
        .values(key)
        .annotate(r=Sum("realised_pnl"), f=Sum("fees_paid"), u=Sum("funding_paid"))
    ):
        out[row[key]]["net"] += row["r"] - row["f"] - row["u"]
        out[row[key]]["fees"] += row["f"]
    for row in (
        PositionClose.objects.filter(**{f"position__{k}": v for k, v in where.items()})
        .values(f"position__{key}")
        .annotate(funding=Sum("funding"))
    ):
        out[row[f"position__{key}"]]["net"] -= row["funding"]
    for p in Position.objects.filter(**where, status=PositionStatus.OPEN).select_related("market"):
        out[getattr(p, key)]["upnl"] += unrealised(p, mark_of(p.market))
        out[getattr(p, key)]["open"] += 1
    return out


def close_results(where: dict, key: str) -> dict[int, list[Decimal]]:
    """Net result (realised − fee − funding) of every close, per ``key``."""
    out: dict[int, list[Decimal]] = defaultdict(list)
    closes = PositionClose.objects.filter(**{f"position__{k}": v for k, v in where.items()})
    for k, result in closes.values_list(f"position__{key}", F("realised_pnl") - F("fee") - F("funding")):
        out[k].append(result)
    return out


def major_asset_shares(wallet_ids: list[int], since: datetime) -> dict[int, Decimal]:
    """BTC+ETH share of the notional each account traded since ``since``."""
    notional = ExpressionWrapper(
        F("filled_qty") * F("price"), output_field=DecimalField(max_digits=40, decimal_places=16)
    )
    totals: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for row in (
        Order.objects.filter(account_id__in=wallet_ids, created_at__gte=since)
        .values("account_id", "market__base_asset")
        .annotate(n=Sum(notional))
    ):
        totals[row["account_id"]][1] += row["n"]
        if row["market__base_asset"] in MAJOR_ASSETS:
            totals[row["account_id"]][0] += row["n"]
    return {k: (major / total if total else ZERO) for k, (major, total) in totals.items()}
