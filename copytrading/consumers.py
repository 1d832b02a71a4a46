"""The copy engine's consumers of the venue's "position closed" events (``copytrading.futures.events``)."""

from __future__ import annotations

from decimal import Decimal

from accounts.lock_objects import lock_accounts
from copytrading.futures.events import register_consumer
from copytrading.models import Following, FollowingStatus, LeadTrader
from copytrading.services.followings import following_finish_if_flat
from copytrading.services.loans import loan_repay
from copytrading.services.statistics import following_stats_refresh, trader_stats_refresh
from copytrading.valuation import loan_owed


@register_consumer("copytrading.following_finish")
def following_finish_on_close(payload: dict) -> None:
    """A copy position closed: a following stopping by "follow the trader to close" may now be flat (R-CT-17)."""
    if not payload.get("full") or not payload.get("slot"):
        return
    following = Following.objects.filter(pk=payload["slot"], status=FollowingStatus.STOPPING).first()
    if following is not None:
        following_finish_if_flat(following=following)


@register_consumer("copytrading.loan_repayment")
def loan_repay_on_profit(payload: dict) -> None:
    """A copy closed at a profit: it repays the following's loan first (R-PS-08)."""
    if not payload.get("slot") or Decimal(payload["realised_pnl"]) <= 0:
        return
    following = Following.objects.filter(pk=payload["slot"]).select_related("sub_account").first()
    if following is None or loan_owed(following) <= 0:
        return
    wallet = lock_accounts([following.sub_account_id])[following.sub_account_id]
    loan_repay(
        following=following,
        available=min(Decimal(payload["realised_pnl"]), wallet.available),
        key=f"loan-repay:close:{payload['close_id']}",
    )


@register_consumer("copytrading.statistics")
def statistics_on_close(payload: dict) -> None:
    """Keep the stored statistics current between daily runs: the closing following's, or the lead's own."""
    if payload.get("slot"):
        following_stats_refresh([payload["slot"]])
        return
    lead = LeadTrader.objects.filter(user_id=payload.get("owner_id"), status="approved").first()
    if lead is not None:
        trader_stats_refresh([lead.pk])
