"""Net Value Guardian: stop following when the net loss reaches X or the net value falls to Y. (R-CT-06)"""

from __future__ import annotations

from decimal import Decimal

from accounts.money import ZERO
from copytrading.models import CloseReason, Following, FollowingStatus, FollowMode, Position, PositionStatus, StopMethod
from copytrading.services.profit_share import following_net_result
from copytrading.services.risk import mark_of, unrealised, wallet_equity


def following_net_value(following: Following) -> Decimal:
    """Smart Ratio: the sub-account's equity. Diverse: what was put in plus the result of its own copies."""
    if following.mode == FollowMode.SMART:
        return wallet_equity(following.sub_account)
    open_copies = Position.objects.filter(
        account=following.sub_account, slot=following.pk, status=PositionStatus.OPEN
    ).select_related("market")
    upnl = sum((unrealised(p, mark_of(p.market)) for p in open_copies), ZERO)
    return following.invested + following_net_result(following) + upnl


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
