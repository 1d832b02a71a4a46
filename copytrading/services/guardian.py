"""Net Value Guardian: stop following when the net loss reaches X or the net value falls to Y. (R-CT-06)"""

from __future__ import annotations

from copytrading.futures.models import CloseReason
from copytrading.models import Following, FollowingStatus, StopMethod
from copytrading.services.followings import following_stop
from copytrading.valuation import following_net_value


def guardian_breached(following: Following) -> bool:
    value = following_net_value(following)
    if following.guardian_max_loss is not None and following.invested - value >= following.guardian_max_loss:
        return True
    return following.guardian_min_net_value is not None and value <= following.guardian_min_net_value


def guardian_enforce(*, following_ids: list[int], key: str) -> list[int]:
    """Stop (closing at market) every listed active following whose guardian is breached; return their ids."""

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
