"""Reimbursements as experience vouchers: issued by the daily run after the trigger, held for review,
claimed in the app, expired when unclaimed or unused. (R-VC-07, R-VC-09, R-OP-01)"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.services.ledger import entry_post
from config.clock import platform_day_start
from config.db import bulk_update_rows
from config.errors import InvalidInput, InvalidState, RuleViolation
from vouchers.ledger import release_legs
from vouchers.models import Payout, PayoutState
from vouchers.selectors import banned_user_ids

logger = logging.getLogger(__name__)

# Payouts moved per transaction: each is a row update (and, when released, part of one compound entry).
PAYOUT_BATCH = 1000
# R-VC-07: paid within one week of the trigger; operators are alerted a day before a held one passes it.
PAYOUT_DEADLINE = timedelta(days=7)
HELD_ALERT_AT = timedelta(days=6)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why: a payout review is recorded with its reason (R-OP-01)")
    return reason


def _lock(payout_id: int) -> Payout:
    return Payout.objects.select_for_update().select_related("campaign").get(pk=payout_id)


def _issue(payout: Payout, now: datetime) -> None:
    payout.state, payout.issued_at = PayoutState.ISSUED, now
    payout.claim_by = now + timedelta(days=payout.campaign.payout_claim_days)


def _release(
    payouts: Iterable[Payout], *, key: str, actor_id: int | None = None, reason: str = "", reference: str = ""
) -> None:
    """Give the payouts' reserved amounts back to their campaigns' available budget, as one entry."""
    legs = release_legs((p.campaign_id, p.amount) for p in payouts)
    if legs:
        entry_post(
            kind="voucher_release",
            idempotency_key=key,
            legs=legs,
            actor_id=actor_id,
            reason=reason,
            reference=reference or "voucher-payout",
        )


def payouts_reservations_release(
    *, payouts: Iterable[Payout], key: str, actor: User, reason: str, reference: str
) -> None:
    """For services that end payouts elsewhere (a voucher-abuse ban): release their reserved amounts to their
    campaigns' available budget in one entry, recorded with who and why (R-VC-09, R-OP-01). Call it in the
    transaction that moved the payouts out of a reserved state, under their row locks."""
    _release(payouts, key=key, actor_id=actor.pk, reason=reason, reference=reference)


def _batches(queryset: QuerySet[Payout]) -> Iterable[list[int]]:
    """Ids of ``queryset`` in batches, walking up the ids: linear in what is due, however many batches."""
    last = 0
    while ids := list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:PAYOUT_BATCH]):
        yield ids
        last = ids[-1]


def _locked(ids: list[int], state: str) -> list[Payout]:
    return list(
        Payout.objects.filter(pk__in=ids, state=state)
        .select_related("campaign")
        .order_by("pk")
        .select_for_update(of=("self",))
    )


def payouts_issue_due(*, now: datetime | None = None) -> int:
    """The daily reimbursement run: issue every pending payout triggered before today (platform time).

    Batches, each its own transaction; a payout is issued once (its state is read
    under its row lock), so a second run, two beats or a crash half-way change nothing twice.
    """
    now = now or timezone.now()
    due = Payout.objects.filter(state=PayoutState.PENDING, triggered_at__lt=platform_day_start(now))
    issued = 0
    for ids in _batches(due):
        with transaction.atomic():
            payouts = _locked(ids, PayoutState.PENDING)
            # A user banned after its voucher triggered is withheld, not paid (R-LC-06), and its money returns.
            banned = banned_user_ids(user_ids={p.user_id for p in payouts})
            withheld = [p for p in payouts if p.user_id in banned]
            for p in withheld:
                p.state, p.ended_at = PayoutState.WITHHELD, now
            paid = [p for p in payouts if p.user_id not in banned]
            for p in paid:
                _issue(p, now)
            bulk_update_rows(Payout, payouts, ["state", "issued_at", "claim_by", "ended_at"])
            if withheld:
                _release(withheld, key=f"payout-withheld:{withheld[0].pk}-{withheld[-1].pk}:{len(withheld)}")
            issued += len(paid)
    return issued


def payout_hold(*, payout: Payout, actor: User, reason: str) -> Payout:
    """Hold a pending payout for review: the daily run leaves it until an operator releases or rejects it."""
    reason = _reason(reason)
    with transaction.atomic():
        payout = _lock(payout.pk)
        if payout.state != PayoutState.PENDING:
            raise InvalidState(f"only a pending payout can be held; this one is {payout.state}")
        payout.state, payout.held_at = PayoutState.HELD, timezone.now()
        payout.reviewed_by, payout.review_reason = actor, reason
        payout.save(update_fields=["state", "held_at", "reviewed_by", "review_reason"])
    return payout


def payout_release(*, payout: Payout, actor: User, reason: str) -> Payout:
    """A reviewed payout is fine: issue it now."""
    reason = _reason(reason)
    with transaction.atomic():
        payout = _lock(payout.pk)
        if payout.state != PayoutState.HELD:
            raise InvalidState(f"only a held payout can be released; this one is {payout.state}")
        _issue(payout, timezone.now())
        payout.reviewed_by, payout.review_reason = actor, reason
        payout.save(update_fields=["state", "issued_at", "claim_by", "reviewed_by", "review_reason"])
    return payout


def payout_reject(*, payout: Payout, actor: User, reason: str) -> Payout:
    """A reviewed payout is refused: its reserved amount returns to the campaign's available budget (R-VC-09)."""
    reason = _reason(reason)
    with transaction.atomic():
        payout = _lock(payout.pk)
        if payout.state != PayoutState.HELD:
            raise InvalidState(f"only a held payout can be rejected; this one is {payout.state}")
        payout.state, payout.ended_at = PayoutState.REJECTED, timezone.now()
        payout.reviewed_by, payout.review_reason = actor, reason
        payout.save(update_fields=["state", "ended_at", "reviewed_by", "review_reason"])
        _release([payout], key=f"payout-reject:{payout.pk}")
    return payout


def payout_claim(*, user: User, payout: Payout, now: datetime | None = None) -> Payout:
    """The user claims an issued experience voucher in the app; it is usable until its usage expiry."""
    now = now or timezone.now()
    with transaction.atomic():
        payout = _lock(payout.pk)
        if payout.user_id != user.pk:
            raise InvalidInput("voucher", "not yours")
        if payout.state == PayoutState.CLAIMED:
            return payout  # a retried claim
        if payout.state != PayoutState.ISSUED:
            raise RuleViolation(
                f"this voucher cannot be claimed: it is {payout.get_state_display().lower()}",
                fields={"voucher": [f"state {payout.state}"]},
            )
        if now > payout.claim_by:
            raise RuleViolation(
                "the claim window of this voucher has passed", fields={"voucher": ["claim window over"]}
            )
        payout.state, payout.claimed_at = PayoutState.CLAIMED, now
        payout.usable_until = now + timedelta(days=payout.campaign.payout_usage_days)
        payout.save(update_fields=["state", "claimed_at", "usable_until"])
    return payout


def payouts_expire_due(*, now: datetime | None = None) -> int:
    """Issued payouts not claimed in time, and claimed ones not applied before their usage expiry, expire;
    their reserved amounts return to available (R-VC-07, R-VC-09). Batched, once per payout."""
    now = now or timezone.now()
    expired = 0
    for state, deadline in ((PayoutState.ISSUED, "claim_by"), (PayoutState.CLAIMED, "usable_until")):
        due = Payout.objects.filter(state=state, **{f"{deadline}__lte": now})
        for ids in _batches(due):
            with transaction.atomic():
                payouts = _locked(ids, state)
                for p in payouts:
                    p.state, p.ended_at = PayoutState.EXPIRED, now
                bulk_update_rows(Payout, payouts, ["state", "ended_at"])
                _release(payouts, key=f"payout-expiry:{state}:{payouts[0].pk}-{payouts[-1].pk}:{len(payouts)}")
                expired += len(payouts)
    return expired


def payouts_held_alert(*, now: datetime | None = None) -> int:
    """Warn operators of held payouts about to pass the week they must be paid in (R-VC-07); return how many."""
    now = now or timezone.now()
    overdue = Payout.objects.filter(state=PayoutState.HELD, triggered_at__lte=now - HELD_ALERT_AT).order_by("pk")
    count = 0
    for payout in overdue.only("pk", "triggered_at", "amount", "user_id"):
        count += 1
        logger.warning(
            "held voucher payout %s (%s USDT, user %s) triggered %s passes its seventh day at %s: release or reject it",
            payout.pk,
            payout.amount,
            payout.user_id,
            payout.triggered_at.isoformat(),
            (payout.triggered_at + PAYOUT_DEADLINE).isoformat(),
        )
    return count
