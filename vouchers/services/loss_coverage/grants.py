"""Operators grant loss-coverage vouchers, one user or a CSV batch at a time. (R-LC-01, R-LC-06, R-VC-09)

A grant moves the voucher's total amount from the campaign's available account to
its reserved account, under the campaign's row lock (``vouchers.lock_objects``),
then the campaign's ledger rows in one ``lock_accounts`` call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from accounts.lock_objects import lock_accounts
from accounts.models import User
from accounts.services.ledger import Leg, entry_post
from config.errors import InvalidInput, RuleViolation
from vouchers.ledger import campaign_accounts
from vouchers.lock_objects import lock_campaign
from vouchers.models import Campaign, CampaignChange, CampaignKind, CampaignStatus
from vouchers.models.loss_coverage import LossCoverageVoucher
from vouchers.selectors import banned_user_ids
from vouchers.services.loss_coverage.common import digest

# Users granted per transaction (one row each, one compound entry per batch).
GRANT_BATCH = 500

Progress = Callable[[int, int], None]


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "say why: a grant is recorded with who gave it and why (R-OP-01)")
    return reason


def _key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > 200:
        raise InvalidInput("idempotency_key", "give a key of 1 to 200 characters: a retried grant reuses it")
    return key


@dataclass
class GrantReport:
    """What a grant run did, user by user: granted now, granted before with this key (a rerun changes
    nothing), ids that name no user, and users refused with the reason."""

    granted: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def _campaign_refusal(campaign: Campaign) -> str | None:
    if campaign.kind != CampaignKind.LOSS_COVERAGE:
        return "only a loss-coverage campaign grants loss-coverage vouchers"
    if campaign.status != CampaignStatus.LIVE:
        return f"this campaign is {campaign.status}, not live: it grants nothing"
    return None


@dataclass
class _Batch:
    granted: dict[int, LossCoverageVoucher] = field(default_factory=dict)
    already: dict[int, LossCoverageVoucher] = field(default_factory=dict)
    refused: dict[int, tuple[str, str]] = field(default_factory=dict)  # user id → (field, why)


def _grant_batch(*, campaign_id: int, user_ids: list[int], actor: User, reason: str, key: str, now: datetime) -> _Batch:
    """Grant one batch in one transaction: under the campaign's row lock, each user is granted a voucher of
    the campaign's face value while the available budget covers it and the user is under the per-user limit;
    one compound entry reserves the batch's total (R-VC-09)."""
    out = _Batch()
    with transaction.atomic():
        campaign = lock_campaign(campaign_id)
        existing = LossCoverageVoucher.objects.filter(campaign=campaign, user_id__in=user_ids, grant_key=key)
        out.already = {v.user_id: v for v in existing}
        todo = [uid for uid in user_ids if uid not in out.already]
        if not todo:
            return out
        refusal = _campaign_refusal(campaign)
        if refusal is not None:
            out.refused = {uid: ("campaign", refusal) for uid in todo}
            return out
        held = dict(
            LossCoverageVoucher.objects.filter(campaign=campaign, user_id__in=todo)
            .values_list("user_id")
            .annotate(n=Count("id"))
        )
        banned = banned_user_ids(user_ids=todo)
        accounts = campaign_accounts(campaign)
        available = lock_accounts([accounts.available.pk, accounts.reserved.pk])[accounts.available.pk].balance
        face = campaign.face_value
        new: list[LossCoverageVoucher] = []
        for uid in todo:
            if uid in banned:
                out.refused[uid] = ("user", "this account is disabled for voucher abuse")
            elif held.get(uid, 0) >= campaign.per_user_limit:
                out.refused[uid] = ("user", f"already holds this campaign's limit of {campaign.per_user_limit}")
            elif available < face:
                out.refused[uid] = ("campaign", "this campaign's budget is used up")
            else:
                available -= face
                new.append(
                    LossCoverageVoucher(
                        campaign=campaign,
                        user_id=uid,
                        total_amount=face,
                        remaining=face,
                        granted_at=now,
                        expires_at=now + campaign.validity,
                        granted_by=actor,
                        reason=reason,
                        grant_key=key,
                    )
                )
        if new:
            created = LossCoverageVoucher.objects.bulk_create(new)
            total = face * len(created)
            entry_post(
                kind="voucher_reserve",
                idempotency_key=f"loss-coverage-grant:{campaign.pk}:{digest(v.pk for v in created)}",
                legs=[Leg(accounts.available.pk, -total), Leg(accounts.reserved.pk, total)],
                actor_id=actor.pk,
                reason=reason,
                reference=f"campaign:{campaign.pk}",
            )
            CampaignChange.objects.create(
                campaign=campaign,
                actor=actor,
                action="granted",
                reason=reason,
                changes={"key": key, "vouchers": len(created), "amount": format(total, "f")},
            )
            out.granted = {v.user_id: v for v in created}
    return out


def loss_coverage_grant(
    *, campaign: Campaign, user: User, actor: User, reason: str, idempotency_key: str, now: datetime | None = None
) -> LossCoverageVoucher:
    """An operator grants ``user`` a loss-coverage voucher of the campaign's face value (R-LC-01, R-VC-09).

    The campaign must be a live loss-coverage campaign; the grant reserves the voucher's total
    amount from the campaign's available budget, and is refused with a clear reason over the
    budget, over the per-user limit, or for an account disabled for voucher abuse (R-LC-06).
    The voucher arrives now: closes after this moment may use it (R-LC-02). Who granted it
    and why are recorded on it and as a "granted" change of the campaign. The same key for
    the same user and campaign returns the same voucher.
    """
    reason, key = _reason(reason), _key(idempotency_key)
    existing = LossCoverageVoucher.objects.filter(campaign=campaign, user=user, grant_key=key).first()
    if existing is not None:
        return existing
    batch = _grant_batch(
        campaign_id=campaign.pk, user_ids=[user.pk], actor=actor, reason=reason, key=key, now=now or timezone.now()
    )
    if user.pk in batch.refused:
        name, why = batch.refused[user.pk]
        raise RuleViolation(why, fields={name: [why]})
    return batch.granted.get(user.pk) or batch.already[user.pk]


def loss_coverage_grant_many(
    *,
    campaign: Campaign,
    user_ids: Iterable[int],
    actor: User,
    reason: str,
    key: str,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> GrantReport:
    """Grant a voucher to each of ``user_ids`` (an operator's CSV upload), in batches of ``GRANT_BATCH``,
    each its own transaction (R-LC-01, R-VC-09).

    Idempotent per (key, user): a rerun after a crash, or of the same file, grants only those
    not yet granted with ``key`` and reports the others as ``already``. Ids that name no user
    are reported as ``unknown``; refusals (budget used up, per-user limit, account disabled for
    abuse, campaign not live) are reported per user and grant nothing. ``progress(done, total)``
    is called after each batch.
    """
    reason, key = _reason(reason), _key(key)
    now = now or timezone.now()
    ids = list(dict.fromkeys(user_ids))  # each user once, in file order
    report = GrantReport()
    known: set[int] = set()
    for start in range(0, len(ids), GRANT_BATCH):
        known |= set(User.objects.filter(pk__in=ids[start : start + GRANT_BATCH]).values_list("pk", flat=True))
    report.unknown = [uid for uid in ids if uid not in known]
    users = [uid for uid in ids if uid in known]
    if progress is not None:
        progress(len(report.unknown), len(ids))
    for start in range(0, len(users), GRANT_BATCH):
        chunk = users[start : start + GRANT_BATCH]
        batch = _grant_batch(campaign_id=campaign.pk, user_ids=chunk, actor=actor, reason=reason, key=key, now=now)
        report.granted += [uid for uid in chunk if uid in batch.granted]
        report.already += [uid for uid in chunk if uid in batch.already]
        report.refused.update({uid: why for uid, (_, why) in batch.refused.items()})
        if progress is not None:
            progress(len(report.unknown) + start + len(chunk), len(ids))
    return report
