"""factory-boy factories and small helpers shared by the tests."""

from __future__ import annotations

import uuid
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from accounts.models import AccountKind, LedgerAccount, User
from accounts.services.accounts import account_open, user_open_default_accounts
from accounts.services.flows import deposit_credit

PASSWORD = "a-strong-test-passphrase-42"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def accounts(obj, create, extracted, **kwargs):
        obj.save()
        if create:
            user_open_default_accounts(user=obj)


class OperatorFactory(UserFactory):
    is_staff = True
    email = factory.Sequence(lambda n: f"operator{n}@example.com")

    @factory.post_generation
    def groups(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.groups.add(*Group.objects.filter(name__in=extracted))


def system_operator() -> User:
    return OperatorFactory(email=f"system-{uuid.uuid4().hex[:8]}@example.com", groups=["Finance"])


def fund_spot(user: User, amount: str | Decimal, operator: User | None = None) -> LedgerAccount:
    """Deposit ``amount`` into the user's spot account and return the refreshed account."""
    operator = operator or system_operator()
    deposit_credit(
        user=user, amount=Decimal(amount), operator=operator, reason="test funding", idempotency_key=uuid.uuid4().hex
    )
    return account_open(owner=user, kind=AccountKind.SPOT)


def spot(user: User) -> LedgerAccount:
    return LedgerAccount.objects.get(owner=user, kind=AccountKind.SPOT)


def futures(user: User) -> LedgerAccount:
    return LedgerAccount.objects.get(owner=user, kind=AccountKind.FUTURES)


class MarketFactory(factory.django.DjangoModelFactory):
    """BTCUSDT-like defaults: tick 0.01, step 0.001, 0.06 % taker fee, 0.5 % maintenance."""

    class Meta:
        model = "futures.Market"
        django_get_or_create = ("symbol",)

    symbol = "BTCUSDT"
    base_asset = "BTC"
    price_tick = Decimal("0.01")
    qty_step = Decimal("0.001")
    min_qty = Decimal("0.001")
    max_order_qty = Decimal("100")
    max_leverage = 125
    maintenance_margin_rate = Decimal("0.005")
    taker_fee_rate = Decimal("0.0006")
    funding_rate = Decimal("0.0001")
    mark_price = Decimal("60000")


def fund_futures(user: User, amount: str | Decimal) -> LedgerAccount:
    """Deposit ``amount`` and move it to the user's futures account."""
    from accounts.services.flows import transfer_create

    fund_spot(user, amount)
    transfer_create(
        user=user,
        source_kind="spot",
        destination_kind="futures",
        amount=Decimal(amount),
        idempotency_key=uuid.uuid4().hex,
    )
    return futures(user)
