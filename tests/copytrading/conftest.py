from decimal import Decimal

import pytest

from accounts.models import AccountKind, LedgerAccount
from accounts.services.accounts import platform_account
from tests.factories import MarketFactory


@pytest.fixture
def btc(db):
    return MarketFactory()


@pytest.fixture
def eth(db):
    return MarketFactory(
        symbol="ETHUSDT",
        base_asset="ETH",
        qty_step=Decimal("0.01"),
        min_qty=Decimal("0.01"),
        mark_price=Decimal("3000"),
    )


@pytest.fixture
def platform():
    """Balances of the platform's counter-accounts, read fresh."""

    def balance(kind: str) -> Decimal:
        return platform_account(kind=kind).balance

    return balance


def margin_account(wallet: LedgerAccount) -> LedgerAccount:
    return LedgerAccount.objects.get(owner=wallet.owner, kind=AccountKind.POSITION_MARGIN, ref=str(wallet.pk))
