"""Reads of followings: the follower's list, one following, its positions, funds, decisions and ledger records.

Everything a follower reads is scoped to its owner: ``following_get`` returns
None for anyone else's following, so the API answers 404.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from accounts import hooks
from accounts.models import AccountKind, LedgerAccount, Posting, User
from accounts.money import ZERO
from accounts.selectors import account_records
from copytrading.futures.models import Position, PositionStatus
from copytrading.futures.risk import account_equity
from copytrading.models import CopyDecision, Following, FollowMode
from copytrading.valuation import following_net_result, following_net_value, frozen_amount, share_pending


def following_list(*, user: User) -> QuerySet[Following]:
    """The user's followings, live and stopped."""
    return Following.objects.filter(follower=user).select_related("lead")


def following_get(*, user: User, following_id: int) -> Following | None:
    """One of the user's followings; None for anyone else's."""
    return (
        Following.objects.filter(pk=following_id, follower=user)
        .select_related("lead", "sub_account", "follower")
        .first()
    )


def following_positions(*, following: Following) -> QuerySet[Position]:
    """The open copy positions of one following (its slot in the sub-account)."""
    return Position.objects.filter(
        account_id=following.sub_account_id, slot=following.pk, status=PositionStatus.OPEN
    ).select_related("market").prefetch_related("closes")


@dataclass
class FollowingFunds:
    """The sub-account (for Diverse: the shared pool) and this following's own net value."""

    equity: Decimal
    available: Decimal
    net_value: Decimal


def following_funds(*, following: Following) -> FollowingFunds:
    """Equity (balance, isolated margin, unrealised PnL) and what may be withdrawn now. (R-CT-03)"""
    wallet: LedgerAccount = following.sub_account
    margin = LedgerAccount.objects.filter(
        owner_id=wallet.owner_id, kind=AccountKind.POSITION_MARGIN, ref=str(wallet.pk)
    ).first()
    positions = Position.objects.filter(account=wallet, status=PositionStatus.OPEN).select_related("market")
    equity = account_equity(wallet, margin.balance if margin else ZERO, positions)
    available = max(hooks.withdrawable(wallet), ZERO)
    net_value = equity if following.mode == FollowMode.SMART else following_net_value(following)
    return FollowingFunds(equity=equity, available=available, net_value=net_value)


def following_decisions(
    *, following: Following, followed: bool | None = None, reason: str = ""
) -> QuerySet[CopyDecision]:
    """The copy decisions of one following (callers page them newest first)."""
    decisions = CopyDecision.objects.filter(following=following).select_related("lead_order__market")
    if followed is not None:
        decisions = decisions.filter(followed=followed)
    if reason:
        decisions = decisions.filter(reason=reason)
    return decisions


def following_records(
    *, following: Following, kind: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[Posting]:
    """Every ledger movement of the following's sub-account (for Diverse: of the shared pool)."""
    return account_records(account=following.sub_account, kind=kind, since=since, until=until)


def following_share(*, following: Following) -> dict:
    """The profit-share figures a follower sees (R-PS-01, R-PS-07): C, pending and frozen."""

    net = following_net_result(following)
    return {"net_result": net, "pending": share_pending(following, net), "frozen": frozen_amount(following)}


def follower_has_followed(*, user: User) -> bool:
    """Whether ``user`` has ever followed a trader (any following, stopped ones too): not a new copy trader."""
    return Following.objects.filter(follower=user).exists()


def followings_of_users(*, user_ids: Collection[int]) -> dict[int, tuple[int, str]]:
    """Every following (stopped ones too) of these users: following id (its copies' slot) → (follower id, mode)."""
    rows = Following.objects.filter(follower_id__in=list(user_ids)).values_list("pk", "follower_id", "mode")
    return {pk: (follower, mode) for pk, follower, mode in rows}
