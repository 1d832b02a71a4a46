"""Random price paths and random orders keep the venue's money exact. (R-MG-04, R-MG-05, R-MG-07)

After every step: the ledger audit holds (and PostgreSQL's deferred balance
check fires); no user account is negative; each trading account's isolated
margin account holds exactly the margin of its open isolated positions, so an
isolated loss can only come out of that position's margin; no close loses
more margin than it released; and funding moves sum to zero between longs,
shorts and the house.
"""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from accounts.models import AccountKind, LedgerAccount
from accounts.selectors import ledger_audit
from accounts.services.accounts import platform_account
from config.errors import ServiceError
from copytrading.futures.margin import round_price
from copytrading.futures.models import MarginMode, Position, PositionClose, PositionStatus
from copytrading.futures.services.funding import funding_run
from copytrading.futures.services.liquidation import risk_sweep
from copytrading.futures.services.market_settings import market_setting_set
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.positions import position_close, position_margin_adjust, position_tpsl_set
from copytrading.futures.services.prices import mark_price_set
from tests.factories import MarketFactory, UserFactory, fund_futures, futures
from tests.progress import Progress, counted

EXAMPLES = int(os.environ.get("HYPOTHESIS_FUTURES_EXAMPLES", "40"))


class Venue(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.markets = [
            MarketFactory(),
            MarketFactory(
                symbol="ETHUSDT",
                base_asset="ETH",
                qty_step=Decimal("0.01"),
                min_qty=Decimal("0.01"),
                mark_price=Decimal("3000"),
                maintenance_margin_rate=Decimal("0.01"),
            ),
        ]
        self.users = [UserFactory() for _ in range(3)]
        for user in self.users:
            fund_futures(user, "5000")
        self.funding_times = itertools.count(1)

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _try(self, fn, **kwargs):
        try:
            with transaction.atomic():
                return fn(**kwargs)
        except ServiceError:
            return None

    @rule(
        user=st.integers(0, 2),
        market=st.integers(0, 1),
        leverage=st.integers(1, 50),
        mode=st.sampled_from(MarginMode.values),
    )
    def settings(self, user, market, leverage, mode):
        self._try(
            market_setting_set,
            account=futures(self.users[user]),
            market=self.markets[market],
            leverage=leverage,
            margin_mode=mode,
        )

    @rule(
        user=st.integers(0, 2),
        market=st.integers(0, 1),
        side=st.sampled_from(["buy", "sell"]),
        size=st.decimals("0.001", "2", places=3),
        reduce_only=st.booleans(),
    )
    def order(self, user, market, side, size, reduce_only):
        self._try(
            order_place,
            account=futures(self.users[user]),
            market=self.markets[market],
            side=side,
            qty=size,
            reduce_only=reduce_only,
            idempotency_key=uuid.uuid4().hex,
        )

    @precondition(lambda self: Position.objects.filter(status=PositionStatus.OPEN).exists())
    @rule(data=st.data(), fraction=st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal("1")]))
    def close(self, data, fraction):
        positions = list(Position.objects.filter(status=PositionStatus.OPEN).order_by("pk"))
        position = data.draw(st.sampled_from(positions))
        self._try(position_close, position=position, fraction=fraction, idempotency_key=uuid.uuid4().hex)

    @precondition(lambda self: Position.objects.filter(status=PositionStatus.OPEN, margin_mode="isolated").exists())
    @rule(data=st.data(), amount=st.decimals("-300", "300", places=2), auto=st.booleans())
    def adjust(self, data, amount, auto):
        positions = list(Position.objects.filter(status=PositionStatus.OPEN, margin_mode="isolated").order_by("pk"))
        position = data.draw(st.sampled_from(positions))
        if amount:
            self._try(position_margin_adjust, position=position, amount=amount, idempotency_key=uuid.uuid4().hex)
        self._try(
            position_tpsl_set, position=position, take_profit_price=None, stop_loss_price=None, auto_add_margin=auto
        )

    @rule(market=st.integers(0, 1), move=st.integers(-1500, 1500))
    def tick(self, market, move):
        market = self.markets[market]
        market.refresh_from_db()
        price = round_price(market.mark_price * (1 + Decimal(move) / 10000), market.price_tick, up=False)
        mark = mark_price_set(market=market, price=price)
        risk_sweep(market_id=market.pk, tick_id=mark.pk)

    @rule(market=st.integers(0, 1), rate=st.sampled_from(["0.0001", "-0.0003", "0.01"]))
    def funding(self, market, rate):
        market = self.markets[market]
        market.refresh_from_db()
        market.funding_rate = Decimal(rate)
        market.save(update_fields=["funding_rate"])
        house = platform_account(kind=AccountKind.HOUSE).balance
        paid_before = Position.objects.aggregate(s=Sum("funding_paid"))["s"] or 0
        closes_before = PositionClose.objects.aggregate(s=Sum("funding"))["s"] or 0
        when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=8 * next(self.funding_times))
        funding_run(market=market, funding_time=when)
        paid = (Position.objects.aggregate(s=Sum("funding_paid"))["s"] or 0) - paid_before
        assert (PositionClose.objects.aggregate(s=Sum("funding"))["s"] or 0) == closes_before
        # Longs' and shorts' net payments are exactly what the house took (or gave).
        assert platform_account(kind=AccountKind.HOUSE).balance - house == paid

    @invariant()
    def money_is_exact(self):
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        assert ledger_audit().ok
        assert not LedgerAccount.objects.filter(owner__isnull=False, balance__lt=0).exists()
        for user in self.users:
            wallet = futures(user)
            margin = LedgerAccount.objects.filter(kind=AccountKind.POSITION_MARGIN, ref=str(wallet.pk)).first()
            open_margin = Position.objects.filter(
                account=wallet, status=PositionStatus.OPEN, margin_mode="isolated"
            ).aggregate(s=Sum("margin"))["s"] or Decimal(0)
            assert (margin.balance if margin else Decimal(0)) == open_margin
        for close in PositionClose.objects.filter(position__margin_mode="isolated"):
            assert close.margin_lost <= close.margin_released


@pytest.mark.long
@pytest.mark.django_db
def test_random_orders_and_price_paths_keep_the_venue_exact():
    run_state_machine_as_test(
        counted(Venue, Progress("futures venue state machine", EXAMPLES)),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
