"""A withdrawal racing the daily run waits on the following's lock and ends consistent. (R-PS-06)"""

import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from accounts.selectors import ledger_audit
from copytrading.models import ShareSettlement
from copytrading.services.followings import following_withdraw
from copytrading.services.profit_share import profit_share_daily_run
from copytrading.valuation import frozen_amount, share_pending
from tests.copytrading.copy_helpers import follow, make_lead, sub_balance
from tests.copytrading.test_profit_share import DAY, trade
from tests.factories import MarketFactory, spot


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_in_parallel_with_the_daily_run_ends_consistent():
    market = MarketFactory(symbol="FREEUSDT", base_asset="FREE", taker_fee_rate=D("0"))
    lead = make_lead(ratio="0.1")
    following = follow(lead, amount="1000")
    trade(lead, market, "60000", "70000")  # pending 10, equity 1,100
    assert share_pending(following) == D("10")
    barrier, errors = threading.Barrier(2), []

    def run(work):
        try:
            barrier.wait()
            work()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(lambda: profit_share_daily_run(day=DAY),)),
        threading.Thread(
            target=run,
            args=(lambda: following_withdraw(following=following, amount=D("1080"), idempotency_key="race"),),
        ),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert ShareSettlement.objects.filter(following=following).count() == 1
    # Whichever went first, the lead got its 10 once or it is still frozen for it, and nothing was lost.
    paid_or_frozen = spot(lead.user).balance + frozen_amount(following)
    assert paid_or_frozen == D("10")
    assert spot(following.follower).balance + sub_balance(following) + paid_or_frozen == D("1100")
    assert ledger_audit().ok
