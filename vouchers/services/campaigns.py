"""Operators run campaigns: create, edit, publish, pause, end, fund. Every change records who and why.
(R-VC-01, R-VC-09, R-OP-01)"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum

from accounts.models import User
from accounts.money import ZERO, parse_amount
from accounts.services.ledger import transfer_post
from config.errors import IdempotencyConflict, InvalidInput, InvalidState, RuleViolation
from vouchers.ledger import campaign_accounts, marketing_account
from vouchers.lock_objects import lock_campaign
from vouchers.models import Audience, Campaign, CampaignChange, CampaignFunding, CampaignKind, CampaignStatus

MONEY_FIELDS = ("face_value", "closing_threshold", "budget")
DAY_FIELDS = ("validity_days", "payout_claim_days", "payout_usage_days")
TIME_FIELDS = ("promotion_starts_at", "promotion_ends_at", "claim_deadline")
# What may change once the campaign is live: its reach and its timing, never what a claimed voucher is worth.
LIVE_EDITABLE = ("name", "promotion_ends_at", "claim_deadline", "budget", "per_user_limit", "audience")
DRAFT_EDITABLE = (
    "name",
    "kind",
    *MONEY_FIELDS,
    *TIME_FIELDS,
    *DAY_FIELDS,
    "per_user_limit",
    "audience",
)
MAX_DAYS = 365


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why: every change of a campaign is recorded with its reason (R-OP-01)")
    return reason


def _clean(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check types and ranges field by field; each error names the field."""
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name in MONEY_FIELDS:
            clean[name] = None if value is None and name == "closing_threshold" else parse_amount(value, field=name)
        elif name in DAY_FIELDS or name == "per_user_limit":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
                raise InvalidInput(name, f"must be a whole number from 1 to {MAX_DAYS}")
            clean[name] = value
        elif name in TIME_FIELDS:
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise InvalidInput(name, "must be a date and time with its time zone")
            clean[name] = value
        elif name == "kind":
            if value not in CampaignKind.values:
                raise InvalidInput("kind", f"must be one of {', '.join(CampaignKind.values)}")
            clean[name] = value
        elif name == "audience":
            if value not in Audience.values:
                raise InvalidInput("audience", f"must be one of {', '.join(Audience.values)}")
            clean[name] = value
        elif name == "name":
            value = (value or "").strip()
            if not 3 <= len(value) <= 120:
                raise InvalidInput("name", "must be 3 to 120 characters")
            clean[name] = value
        else:
            raise InvalidInput(name, "is not a campaign setting")
    return clean


def _check_whole(campaign: Campaign) -> None:
    """Rules across fields, on the campaign as it would be saved."""
    if campaign.promotion_starts_at >= campaign.promotion_ends_at:
        raise InvalidInput("promotion_ends_at", "must be after the promotion starts")
    if campaign.claim_deadline < campaign.promotion_starts_at:
        raise InvalidInput("claim_deadline", "must not be before the promotion starts")
    if campaign.kind != CampaignKind.LOSS_COVERAGE and campaign.closing_threshold is not None:
        raise InvalidInput("closing_threshold", "only loss-coverage campaigns have a closing-amount threshold")
    if campaign.face_value > campaign.budget:
        raise InvalidInput("budget", "must cover at least one voucher's face value")


def _record(campaign: Campaign, actor: User, action: str, reason: str, changes: dict | None = None) -> None:
    CampaignChange.objects.create(
        campaign=campaign, actor=actor, action=action, reason=reason, changes=_plain(changes or {})
    )


def _plain(values: dict) -> dict:
    """JSON-safe values for the change record: money as exact strings, times as ISO."""

    def plain(v: Any) -> Any:
        return format(v, "f") if isinstance(v, Decimal) else v.isoformat() if isinstance(v, datetime) else v

    return {k: plain(v) for k, v in values.items()}


def campaign_create(*, actor: User, reason: str, **values: Any) -> Campaign:
    """A new campaign, in draft: nobody sees it until it is published and funded."""
    reason = _reason(reason)
    required = ("name", "kind", "face_value", "budget", *TIME_FIELDS)
    missing = [name for name in required if values.get(name) is None]
    if missing:
        raise InvalidInput(missing[0], "is required")
    clean = _clean(values)
    campaign = Campaign(created_by=actor, **clean)
    _check_whole(campaign)
    with transaction.atomic():
        campaign.save()
        _record(campaign, actor, "created", reason, clean)
    return campaign


def campaign_update(*, campaign: Campaign, actor: User, reason: str, changes: Mapping[str, Any]) -> Campaign:
    """Edit a draft freely; a live or paused campaign only in its reach and timing (never its vouchers' worth)."""
    reason = _reason(reason)
    clean = _clean(changes)
    with transaction.atomic():
        campaign = lock_campaign(campaign.pk)
        if campaign.status == CampaignStatus.ENDED:
            raise InvalidState("an ended campaign cannot change")
        editable = DRAFT_EDITABLE if campaign.status == CampaignStatus.DRAFT else LIVE_EDITABLE
        for name in clean:
            if name not in editable:
                raise RuleViolation(
                    f"{name} cannot change once the campaign is published",
                    fields={name: ["fixed once published: claimed vouchers depend on it"]},
                )
        for name, value in clean.items():
            setattr(campaign, name, value)
        _check_whole(campaign)
        if "budget" in clean and clean["budget"] < funded_total(campaign):
            raise RuleViolation(
                "the budget cannot go below what Finance has already funded",
                fields={"budget": [f"at least {funded_total(campaign)}"]},
            )
        campaign.save(update_fields=list(clean))
        _record(campaign, actor, "updated", reason, clean)
    return campaign


def _move(campaign: Campaign, actor: User, reason: str, *, allowed: tuple[str, ...], to: str, action: str) -> Campaign:
    reason = _reason(reason)
    with transaction.atomic():
        campaign = lock_campaign(campaign.pk)
        if campaign.status == to:
            return campaign  # a repeated click changes nothing
        if campaign.status not in allowed:
            raise InvalidState(f"a {campaign.status} campaign cannot be {action}")
        campaign.status = to
        campaign.save(update_fields=["status"])
        _record(campaign, actor, action, reason)
    return campaign


def campaign_publish(*, campaign: Campaign, actor: User, reason: str) -> Campaign:
    """Draft or paused → live: users may claim during its promotion window."""
    return _move(
        campaign,
        actor,
        reason,
        allowed=(CampaignStatus.DRAFT, CampaignStatus.PAUSED),
        to=CampaignStatus.LIVE,
        action="published",
    )


def campaign_pause(*, campaign: Campaign, actor: User, reason: str) -> Campaign:
    """Live → paused: no new claims; claimed vouchers keep working."""
    return _move(campaign, actor, reason, allowed=(CampaignStatus.LIVE,), to=CampaignStatus.PAUSED, action="paused")


def campaign_end(*, campaign: Campaign, actor: User, reason: str) -> Campaign:
    """Any → ended: no new claims, for good; claimed vouchers keep working until they expire."""
    return _move(
        campaign,
        actor,
        reason,
        allowed=(CampaignStatus.DRAFT, CampaignStatus.LIVE, CampaignStatus.PAUSED),
        to=CampaignStatus.ENDED,
        action="ended",
    )


def funded_total(campaign: Campaign) -> Decimal:
    return campaign.fundings.aggregate(s=Sum("amount"))["s"] or ZERO


def _same(funding: CampaignFunding, amount: Decimal) -> CampaignFunding:
    """A retry returns the first funding; the same key for another amount is an error, not a retry."""
    if funding.amount != amount:
        raise IdempotencyConflict(
            f"this key already funded {funding.amount}, not {amount}", fields={"amount": ["key already used"]}
        )
    return funding


def campaign_fund(
    *, campaign: Campaign, amount: Decimal, actor: User, reason: str, idempotency_key: str
) -> CampaignFunding:
    """Finance moves ``amount`` from the marketing account to the campaign, up to its budget; a retry is harmless."""
    reason = _reason(reason)
    amount = parse_amount(amount, field="amount")
    key = f"campaign-fund:{campaign.pk}:{idempotency_key}"
    existing = CampaignFunding.objects.filter(entry__idempotency_key=key).first()
    if existing is not None:
        return _same(existing, amount)
    with transaction.atomic():
        campaign = lock_campaign(campaign.pk)
        existing = CampaignFunding.objects.filter(entry__idempotency_key=key).first()
        if existing is not None:
            return _same(existing, amount)
        if campaign.status == CampaignStatus.ENDED:
            raise InvalidState("an ended campaign takes no more money")
        room = campaign.budget - funded_total(campaign)
        if amount > room:
            raise RuleViolation(
                f"funding {amount} would pass the campaign's budget {campaign.budget}",
                fields={"amount": [f"at most {room}"]},
            )
        entry = transfer_post(
            kind="campaign_funding",
            idempotency_key=key,
            source_id=marketing_account().pk,
            destination_id=campaign_accounts(campaign).available.pk,
            amount=amount,
            actor_id=actor.pk,
            reason=reason,
            reference=f"campaign:{campaign.pk}",
        )
        funding = CampaignFunding.objects.create(
            campaign=campaign, amount=amount, entry=entry, actor=actor, reason=reason
        )
        _record(campaign, actor, "funded", reason, {"amount": amount})
    return funding
