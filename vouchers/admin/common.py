"""What the vouchers admin pages share: the permissions their buttons need, amounts as operators read them, and a
service's refusal shown on a form."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from config.errors import ServiceError

CHANGE_CAMPAIGN = "vouchers.change_campaign"
FUND_CAMPAIGN = "vouchers.fund_campaign"
REVIEW_PAYOUT = "vouchers.review_payout"
BAN_VOUCHER_ABUSE = "vouchers.ban_voucher_abuse"


def usdt(amount: Decimal | None) -> str:
    """An amount as operators read it: thousands separated, two decimals at least, no trailing zeros beyond."""
    if amount is None:
        return "—"
    exact = amount.normalize()
    if exact.as_tuple().exponent > -2:  # whole or tenths: show cents
        exact = amount.quantize(Decimal("0.01"))
    return f"{exact:,f}"


def show_service_error(form: forms.BaseForm, exc: ServiceError) -> None:
    """A service's refusal on the form: on each field it names, or above the form."""
    for field, errors in exc.fields.items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, [f"{field}: {e}" for e in errors])
    if not exc.fields:
        form.add_error(None, exc.detail)
