"""Loss-coverage scenarios: grants, manual trades on the main account, deliveries, and the campaign's books."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal as D

from django.db import connection

from accounts.money import ZERO
from accounts.selectors import ledger_audit
from config.errors import RuleViolation
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.outbox import outbox_deliver_pending
from tests.factories import futures
from vouchers.ledger import campaign_accounts
from vouchers.selectors import campaign_liabilities
from vouchers.services.loss_coverage import loss_coverage_grant, loss_coverage_reserved


def identity_holds(campaign) -> bool:
    """R-VC-09 for a loss-coverage campaign: funded = available + reserved + paid out, and the reserved
    balance is exactly Σ remaining of its active vouchers + Σ its pending compensations."""
    books = campaign_liabilities([campaign])[campaign.pk]
    reserved = loss_coverage_reserved([campaign.pk]).get(campaign.pk, ZERO)
    return books.funded == books.available + books.reserved + books.paid_out and books.reserved == reserved


def books_agree(*campaigns) -> bool:
    return ledger_audit().ok and all(identity_holds(c) for c in campaigns)


def balances(campaign) -> tuple[D, D]:
    """(available, reserved) of the campaign."""
    accounts = campaign_accounts(campaign)
    accounts.available.refresh_from_db()
    accounts.reserved.refresh_from_db()
    return accounts.available.balance, accounts.reserved.balance


def grant(campaign, user, actor, key="k", **kwargs):
    return loss_coverage_grant(
        campaign=campaign, user=user, actor=actor, reason="welcome gift", idempotency_key=key, **kwargs
    )


def manual(user, market, *, qty="0.01"):
    """A manual long on the user's main futures account (slot 0), opened at the current mark."""
    return order_place(
        account=futures(user), market=market, side="buy", qty=D(qty), idempotency_key=uuid.uuid4().hex
    ).position


def deliver() -> int:
    return outbox_deliver_pending(consumer="vouchers.loss_coverage")


def state(voucher):
    voucher.refresh_from_db()
    return voucher.state, voucher.remaining


def in_parallel(*calls):
    """Run the calls in threads released together; return their results (or errors) in the order they finished."""
    barrier = threading.Barrier(len(calls))
    results: list = []

    def run(call):
        try:
            barrier.wait()
            results.append(call())
        except RuleViolation as refused:
            results.append(str(refused))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
