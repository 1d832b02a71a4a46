"""What a following and a lead are worth now: read-only valuations the copy engine's services share.

C (a following's net realised result), the lead's pending share, the frozen
share, a following's net value (R-CT-06), a lead's futures equity and its
follower slots (R-CT-22). Reads only; the writes that act on them are in
``services/``.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from django.db.models import Sum

from accounts.models import AccountKind, LedgerAccount
from accounts.money import ZERO, quantize
from copytrading.futures.models import Position, PositionClose, PositionStatus
from copytrading.futures.risk import mark_of, unrealised, wallet_equity
from copytrading.models import CopySettings, Following, FollowMode, LeadTrader


def following_net_result(following: Following) -> Decimal:
    """C: realised PnL − fees − funding of every copy this following made (open positions' realised parts too)."""
    return net_results([following])[following.pk]


def share_pending(following: Following, net_result: Decimal | None = None) -> Decimal:
    """ratio × max(0, C − H), rounded down."""
    c = following_net_result(following) if net_result is None else net_result
    gain = max(c - following.high_water_mark, ZERO)
    return quantize(following.lead.profit_share_ratio * gain, rounding=ROUND_DOWN)


def frozen_amount(following: Following) -> Decimal:
    account = LedgerAccount.objects.filter(
        owner_id=following.follower_id, kind=AccountKind.FROZEN_SHARE, ref=str(following.pk)
    ).first()
    return account.balance if account else ZERO


def net_results(followings: list[Following]) -> dict[int, Decimal]:
    """C for many followings in two grouped queries."""
    ids = [f.pk for f in followings]
    result = dict.fromkeys(ids, ZERO)
    for slot, pnl, fees, funding in (
        Position.objects.filter(slot__in=ids)
        .order_by()
        .values("slot")
        .annotate(p=Sum("realised_pnl"), f=Sum("fees_paid"), u=Sum("funding_paid"))
        .values_list("slot", "p", "f", "u")
    ):
        result[slot] = (pnl or ZERO) - (fees or ZERO) - (funding or ZERO)
    for slot, funding in (
        PositionClose.objects.filter(position__slot__in=ids)
        .order_by()
        .values("position__slot")
        .annotate(u=Sum("funding"))
        .values_list("position__slot", "u")
    ):
        result[slot] -= funding or ZERO
    return result
def following_net_value(following: Following) -> Decimal:
    """Smart Ratio: the sub-account's equity. Diverse: what was put in plus the result of its own copies."""
    if following.mode == FollowMode.SMART:
        return wallet_equity(following.sub_account)
    open_copies = Position.objects.filter(
        account=following.sub_account, slot=following.pk, status=PositionStatus.OPEN
    ).select_related("market")
    upnl = sum((unrealised(p, mark_of(p.market)) for p in open_copies), ZERO)
    return following.invested + following_net_result(following) + upnl


def lead_futures_equity(*, lead: LeadTrader) -> Decimal:
    """The lead's futures equity: balance, isolated margin and unrealised PnL."""
    wallet = LedgerAccount.objects.filter(owner_id=lead.user_id, kind=AccountKind.FUTURES).first()
    if wallet is None:
        return ZERO
    return wallet_equity(wallet)


def lead_follower_slots(*, lead: LeadTrader) -> int:
    """Follower slots: the platform's equity tiers, capped by the lead's own limit (R-CT-22)."""
    slots = CopySettings.current().slots_for(lead_futures_equity(lead=lead))
    if lead.max_followers is not None:
        slots = min(slots, lead.max_followers)
    return slots


