"""Net Value Guardian: stop following when the net loss reaches X or the net value falls to Y. (R-CT-06)"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from accounts.models import LedgerAccount
from accounts.money import ZERO
from copytrading.lock_objects import margin_account_for
from copytrading.models import CloseReason, Following, FollowingStatus, FollowMode, Position, PositionStatus, StopMethod
from copytrading.services.risk import account_equity, mark_of, unrealised


def following_net_value(following: Following) -> Decimal:
    """Smart Ratio: the sub-account's equity. Diverse: what was put in plus the result of its own copies."""
    if following.mode == FollowMode.SMART:
        wallet: LedgerAccount = following.sub_account
        positions = Position.objects.filter(account=wallet, status=PositionStatus.OPEN).select_related("market")
        return account_equity(wallet, margin_account_for(wallet).balance, positions)
    copies = Position.objects.filter(account=following.sub_account, slot=following.pk).select_related("market")
    totals = copies.aggregate(r=Sum("realised_pnl"), f=Sum("fees_paid"), u=Sum("funding_paid"))
    result = (totals["r"] or ZERO) - (totals["f"] or ZERO) - (totals["u"] or ZERO)
    result += sum((unrealised(p, mark_of(p.market)) for p in copies if p.status == PositionStatus.OPEN), ZERO)
    return following.invested + result


def guardian_breached(following: Following) -> bool:
    value = following_net_value(following)
    if following.guardian_max_loss is not None and following.invested - value >= following.guardian_max_loss:
        return True
    return following.guardian_min_net_value is not None and value <= following.guardian_min_net_value


def guardian_enforce(*, following_ids: list[int], key: str) -> list[int]:
    """Stop (closing at market) every listed active following whose guardian is breached; return their ids."""
    from copytrading.services.followings import following_stop

    stopped = []
    for following in Following.objects.filter(pk__in=following_ids, status=FollowingStatus.ACTIVE).select_related(
        "sub_account"
    ):
        if guardian_breached(following):
            following_stop(
                following=following,
                method=StopMethod.MARKET,
                idempotency_key=f"guardian:{key}",
                reason=CloseReason.GUARDIAN,
            )
            stopped.append(following.pk)
    return stopped
