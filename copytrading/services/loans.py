"""Withdrawing positive unrealised PnL as a platform loan, its daily interest and its repayment. (R-PS-08)

Decision: a Smart Ratio follower may withdraw beyond the cash its cross
positions leave free, up to their positive unrealised PnL, while the
sub-account's equity after the withdrawal stays above the positions'
maintenance margin. The part beyond cash is lent by the platform: the
following's loan-book account (platform-owned, ref ``following:<id>``) goes
negative by what is owed, so no user balance ever does. The daily run adds
interest to the debt at the operator-set rate, and realised profits repay it
before anything else.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_UP, Decimal

from django.db import transaction

from accounts.models import AccountKind, JournalEntry, LedgerAccount
from accounts.money import ZERO, quantize
from accounts.services.accounts import platform_account
from accounts.services.ledger import transfer_post
from config.errors import RuleViolation
from copytrading.models import CopySettings, Following
from copytrading.valuation import loan_owed


def loan_account(following: Following) -> LedgerAccount:
    return platform_account(kind=AccountKind.LOAN_BOOK, ref=f"following:{following.pk}")


def loan_draw(*, following: Following, wallet: LedgerAccount, amount: Decimal, key: str) -> None:
    """Lend ``amount`` into the sub-account (the caller holds its locks and checked ``loan_room``)."""
    if amount <= 0:
        return
    transfer_post(
        kind="profit_loan",
        idempotency_key=key,
        source_id=loan_account(following).pk,
        destination_id=wallet.pk,
        amount=amount,
        reference=f"following:{following.pk}",
    )


def loan_repay(*, following: Following, available: Decimal, key: str) -> Decimal:
    """Repay the debt from ``available`` cash first; returns what was repaid."""
    owed = loan_owed(following)
    repay = min(owed, max(available, ZERO))
    if repay > 0:
        transfer_post(
            kind="profit_loan_repayment",
            idempotency_key=key,
            source_id=following.sub_account_id,
            destination_id=loan_account(following).pk,
            amount=repay,
            reference=f"following:{following.pk}",
        )
    return repay


def loan_interest_daily(*, day: date) -> int:
    """Charge a day's interest on every outstanding loan, once per (loan, day): the debt grows by it."""
    rate = CopySettings.current().loan_daily_interest_rate
    revenue = platform_account(kind=AccountKind.FEE_REVENUE, ref="loan-interest")
    charged = 0
    for account in LedgerAccount.objects.filter(owner__isnull=True, kind=AccountKind.LOAN_BOOK, balance__lt=0):
        interest = quantize(-account.balance * rate, rounding=ROUND_UP)
        key = f"loan-interest:{account.ref}:{day.isoformat()}"
        if interest <= 0 or JournalEntry.objects.filter(idempotency_key=key).exists():
            continue
        with transaction.atomic():
            transfer_post(
                kind="profit_loan_interest",
                idempotency_key=key,
                source_id=account.pk,
                destination_id=revenue.pk,
                amount=interest,
                reference=account.ref,
            )
        charged += 1
    return charged


def loan_refuse(amount: Decimal, room: Decimal) -> RuleViolation:
    return RuleViolation(
        f"at most {room} USDT of unrealised profit can be lent now (cross positions only, "
        "equity must stay above the maintenance margin)",
        fields={"amount": [f"exceeds free cash by more than the {room} that can be lent"]},
    )
