"""Builders for copy-trading scenarios."""

from __future__ import annotations

import uuid
from decimal import Decimal

from accounts.models import LedgerAccount
from copytrading.models import Following, LeadTrader, Order, Position, PositionStatus
from copytrading.services.fanout import copy_fanout
from copytrading.services.followings import following_start
from copytrading.services.leads import lead_trader_apply, lead_trader_approve
from copytrading.services.market_settings import market_setting_set
from copytrading.services.orders import order_place
from tests.factories import OperatorFactory, UserFactory, fund_futures, fund_spot, futures


def make_lead(*, equity: str = "10000", ratio: str = "0.1", minimum: str = "0", nickname: str | None = None):
    user = UserFactory()
    fund_futures(user, equity)
    lead = lead_trader_apply(
        user=user,
        nickname=nickname or f"lead-{uuid.uuid4().hex[:6]}",
        profit_share_ratio=Decimal(ratio),
        min_following_amount=Decimal(minimum),
    )
    return lead_trader_approve(lead_id=lead.pk, operator=OperatorFactory(), reason="track record checked")


def follow(lead: LeadTrader, *, amount: str = "1000", mode: str = "smart", user=None, **settings) -> Following:
    user = user or UserFactory()
    fund_spot(user, amount)
    return following_start(
        follower=user,
        lead=lead,
        mode=mode,
        amount=Decimal(amount),
        settings=settings,
        idempotency_key=uuid.uuid4().hex,
    )


def lead_order(
    lead: LeadTrader,
    market,
    *,
    side: str = "buy",
    qty: str = "0.1",
    leverage: int = 10,
    mode: str = "cross",
    reduce_only: bool = False,
    fanout: bool = True,
) -> Order:
    wallet = futures(lead.user)
    market_setting_set(account=wallet, market=market, leverage=leverage, margin_mode=mode)
    order = order_place(
        account=wallet,
        market=market,
        side=side,
        qty=Decimal(qty),
        reduce_only=reduce_only,
        idempotency_key=uuid.uuid4().hex,
    )
    if fanout:
        copy_fanout(lead_order_id=order.pk)
    return order


def copy_of(following: Following, market) -> Position | None:
    return Position.objects.filter(
        account=following.sub_account, market=market, slot=following.pk, status=PositionStatus.OPEN
    ).first()


def sub_balance(following: Following) -> Decimal:
    return LedgerAccount.objects.get(pk=following.sub_account_id).balance
