"""Operators disable accounts caught abusing vouchers: their unspent payouts are withheld and they claim nothing
more. (R-LC-06, R-VC-09, R-OP-01)

A ban is an ``AbuseBan`` row, recorded with who decided it and why; a user is banned
once, and a second ban returns the first. Banning withholds every payout of the user
that is not yet spent (pending, held, issued or claimed): each is shown as withheld,
never dropped, and their reserved amounts return to their campaigns' available budget
in one ledger entry (R-VC-09). ``voucher_claim`` refuses a banned user
(``vouchers.services.claims.claim_refusal``); loss-coverage compensation reads
``vouchers.selectors.banned_user_ids``.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.db import bulk_update_rows
from config.errors import InvalidInput
from vouchers.models import AbuseBan, Payout, PayoutState
from vouchers.selectors import RESERVED_PAYOUT_STATES
from vouchers.services.loss_coverage import compensations_withhold
from vouchers.services.payouts import payouts_reservations_release


def account_disable_for_abuse(*, user: User, actor: User, reason: str) -> AbuseBan:
    """Disable ``user`` for voucher abuse: record the ban and withhold its unspent payouts, in one transaction.

    Idempotent: a user already banned keeps its first ban (who, when, why), which is returned
    and nothing else changes. Two bans at once: the second waits on the ban's unique user,
    then returns the first. The payouts are locked in id order (then the campaigns' ledger
    accounts, through the ledger), each read in its state under its lock, so a payout an
    operator or the daily run moved meanwhile is withheld from its new state, or left alone
    once spent or ended.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why: a voucher-abuse ban is recorded with its reason (R-OP-01)")
    with transaction.atomic():
        ban, created = AbuseBan.objects.get_or_create(user=user, defaults={"actor": actor, "reason": reason})
        if not created:
            return ban
        payouts = list(
            Payout.objects.filter(user=user, state__in=RESERVED_PAYOUT_STATES)
            .select_related("campaign")
            .order_by("pk")
            .select_for_update(of=("self",))
        )
        now = timezone.now()
        for payout in payouts:
            payout.state, payout.ended_at = PayoutState.WITHHELD, now
        bulk_update_rows(Payout, payouts, ["state", "ended_at"])
        payouts_reservations_release(
            payouts=payouts,
            key=f"voucher-ban:{ban.pk}",
            actor=actor,
            reason=f"voucher abuse: {reason}",
            reference=f"voucher-ban:{ban.pk}",
        )
        # Pending loss-coverage compensation is withheld now, not at the next 00:05 credit run.
        compensations_withhold(user=user, actor=actor, reason=f"voucher abuse: {reason}", now=now)
    return ban
