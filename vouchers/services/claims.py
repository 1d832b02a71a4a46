"""Users claim coverage vouchers; unused ones expire and give their reservation back. (R-VC-01, R-VC-09)"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.lock_objects import lock_accounts
from accounts.models import User
from accounts.services.ledger import entry_post, transfer_post
from config.errors import IdempotencyConflict, RuleViolation
from copytrading.selectors.followings import follower_has_followed
from vouchers.ledger import campaign_accounts, release_legs
from vouchers.lock_objects import lock_campaign, lock_vouchers
from vouchers.models import AbuseBan, Audience, Campaign, CampaignStatus, Voucher, VoucherState
from vouchers.models.campaigns import COVERAGE_KINDS

# Vouchers expired per transaction: each is a row update plus two legs of one compound entry.
EXPIRY_BATCH = 500


def _refuse(code_field: str, message: str) -> RuleViolation:
    return RuleViolation(message, fields={code_field: [message]})


def claim_refusal(*, campaign: Campaign, user: User, now: datetime) -> RuleViolation | None:
    """Why ``user`` may not claim from ``campaign`` now (budget aside, which needs the lock), or None."""
    if campaign.kind not in COVERAGE_KINDS:
        return _refuse("campaign", "loss-coverage vouchers are granted by the campaign, not claimed")
    if AbuseBan.objects.filter(user=user).exists():  # R-LC-06
        return _refuse("campaign", "this account is disabled for voucher abuse: it cannot claim vouchers")
    if campaign.status != CampaignStatus.LIVE:
        return _refuse("campaign", "this campaign is not running")
    if now < campaign.promotion_starts_at:
        return _refuse("campaign", "this campaign has not started yet")
    if now > campaign.claim_deadline:
        return _refuse("campaign", "the collection deadline of this campaign has passed")
    if now > campaign.promotion_ends_at:
        return _refuse("campaign", "the promotion of this campaign is over")
    if campaign.audience == Audience.NEW_COPY_TRADERS and follower_has_followed(user=user):
        return _refuse("campaign", "this campaign is for new copy traders: you have followed a trader before")
    claimed = Voucher.objects.filter(campaign=campaign, user=user).count()
    if claimed >= campaign.per_user_limit:
        return _refuse("campaign", f"you have claimed this campaign's limit of {campaign.per_user_limit}")
    return None


def _same(voucher: Voucher, campaign: Campaign) -> Voucher:
    """A retried claim returns its voucher; the same key for another campaign is an error, not a retry."""
    if voucher.campaign_id != campaign.pk:
        raise IdempotencyConflict("this key already claimed from another campaign", fields={"campaign": ["key used"]})
    return voucher


def voucher_claim(*, user: User, campaign: Campaign, idempotency_key: str, now: datetime | None = None) -> Voucher:
    """Claim a coverage voucher: its face value is reserved from the campaign's budget (R-VC-01).

    Refused with a clear reason after the collection deadline, over the budget, over
    the per-user limit, or for a user who has followed before when the campaign is
    for new copy traders. The same key returns the same voucher.
    """
    existing = Voucher.objects.filter(user=user, claim_key=idempotency_key).first()
    if existing is not None:
        return _same(existing, campaign)
    now = now or timezone.now()
    with transaction.atomic():
        # The campaign row serialises its claims: the budget and per-user counts are read under it.
        campaign = lock_campaign(campaign.pk)
        existing = Voucher.objects.filter(user=user, claim_key=idempotency_key).first()
        if existing is not None:
            return _same(existing, campaign)
        refusal = claim_refusal(campaign=campaign, user=user, now=now)
        if refusal is not None:
            raise refusal
        accounts = campaign_accounts(campaign)
        available = lock_accounts([accounts.available.pk])[accounts.available.pk]
        if available.balance < campaign.face_value:
            raise _refuse("campaign", "this campaign's budget is used up")
        voucher = Voucher.objects.create(
            campaign=campaign,
            user=user,
            kind=campaign.kind,
            face_value=campaign.face_value,
            claimed_at=now,
            valid_until=now + campaign.validity,
            claim_key=idempotency_key,
        )
        transfer_post(
            kind="voucher_reserve",
            idempotency_key=f"voucher-claim:{voucher.pk}",
            source_id=accounts.available.pk,
            destination_id=accounts.reserved.pk,
            amount=campaign.face_value,
            actor_id=user.pk,
            reference=f"voucher:{voucher.pk}",
        )
    return voucher


def vouchers_expire_due(*, now: datetime | None = None) -> int:
    """Expire claimed vouchers whose validity ended untriggered; release their reservations (hourly, R-VC-09).

    Batches of ``EXPIRY_BATCH``, each its own transaction with one compound entry
    keyed by the batch's voucher ids; a voucher is expired once (its state is read
    under its row lock), so a second run or a crash half-way changes nothing twice.
    """
    now = now or timezone.now()
    expired = 0
    while True:
        ids = list(
            Voucher.objects.filter(state=VoucherState.CLAIMED, valid_until__lte=now)
            .order_by("pk")
            .values_list("pk", flat=True)[:EXPIRY_BATCH]
        )
        if not ids:
            return expired
        expired += _expire_batch(ids, now)


def _expire_batch(ids: list[int], now: datetime) -> int:
    with transaction.atomic():
        vouchers = lock_vouchers(ids, state=VoucherState.CLAIMED)
        if not vouchers:
            return 0
        entry_post(
            kind="voucher_release",
            idempotency_key=f"voucher-expiry:{vouchers[0].pk}-{vouchers[-1].pk}:{len(vouchers)}",
            legs=release_legs((v.campaign_id, v.face_value) for v in vouchers),
            reference="voucher-expiry",
        )
        Voucher.objects.filter(pk__in=[v.pk for v in vouchers]).update(state=VoucherState.EXPIRED, ended_at=now)
        return len(vouchers)
