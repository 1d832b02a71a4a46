"""Lead traders: applying, operators' decisions, follower slots. (R-CT-01, R-CT-22, R-CT-23)"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.money import ZERO, parse_amount
from config.errors import InvalidInput, InvalidState, RuleViolation
from copytrading.models import (
    CopySettings,
    Following,
    FollowingStatus,
    LeadTrader,
    LeadTraderStatus,
)


def _validated_ratio(value: object) -> Decimal:
    ratio = parse_amount(value, field="profit_share_ratio", positive=False)
    ceiling = CopySettings.current().max_profit_share_ratio
    if not ZERO <= ratio <= ceiling:
        raise InvalidInput("profit_share_ratio", f"must be between 0 and {ceiling} (ordinary following)")
    return ratio


def lead_trader_apply(
    *,
    user: User,
    nickname: str,
    profit_share_ratio: Decimal,
    bio: str = "",
    min_following_amount: Decimal | None = None,
    max_followers: int | None = None,
) -> LeadTrader:
    """Apply to lead; operators approve. A user who follows others must stop first (R-CT-23)."""
    nickname = (nickname or "").strip()
    if not 3 <= len(nickname) <= 40:
        raise InvalidInput("nickname", "must be 3 to 40 characters")
    ratio = _validated_ratio(profit_share_ratio)
    minimum = ZERO
    if min_following_amount is not None:
        minimum = parse_amount(min_following_amount, field="min_following_amount", positive=False)
        if minimum < 0:
            raise InvalidInput("min_following_amount", "must not be negative")
    if max_followers is not None and (not isinstance(max_followers, int) or max_followers < 1):
        raise InvalidInput("max_followers", "must be a whole number of at least 1")
    if Following.objects.filter(follower=user).exclude(status=FollowingStatus.STOPPED).exists():
        raise RuleViolation(
            "a lead trader cannot follow other traders: stop following first", fields={"user": ["is following"]}
        )
    if LeadTrader.objects.filter(user=user).exists():
        raise InvalidState("you have already applied to lead")
    try:
        with transaction.atomic():
            return LeadTrader.objects.create(
                user=user,
                nickname=nickname,
                bio=bio,
                profit_share_ratio=ratio,
                min_following_amount=minimum,
                max_followers=max_followers,
            )
    except IntegrityError:
        raise InvalidInput("nickname", "is taken") from None


def _decide(lead_id: int, *, allowed: tuple[str, ...], status: str, operator: User, reason: str) -> LeadTrader:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason", "operators must give a reason")
    with transaction.atomic():
        lead = LeadTrader.objects.select_for_update().get(pk=lead_id)
        if lead.status == status:
            return lead
        if lead.status not in allowed:
            raise InvalidState(f"a {lead.status} lead trader cannot become {status}")
        lead.status, lead.status_reason = status, reason
        lead.decided_by, lead.decided_at = operator, timezone.now()
        lead.save(update_fields=["status", "status_reason", "decided_by", "decided_at"])
    return lead


def lead_trader_approve(*, lead_id: int, operator: User, reason: str) -> LeadTrader:
    """Approve an application, or reinstate a suspended lead."""
    return _decide(
        lead_id,
        allowed=(LeadTraderStatus.PENDING, LeadTraderStatus.SUSPENDED),
        status=LeadTraderStatus.APPROVED,
        operator=operator,
        reason=reason,
    )


def lead_trader_suspend(*, lead_id: int, operator: User, reason: str) -> LeadTrader:
    """Suspend: no new followers, and its fills are not copied until reinstated."""
    return _decide(
        lead_id,
        allowed=(LeadTraderStatus.APPROVED,),
        status=LeadTraderStatus.SUSPENDED,
        operator=operator,
        reason=reason,
    )


def lead_trader_reject(*, lead_id: int, operator: User, reason: str) -> LeadTrader:
    return _decide(
        lead_id,
        allowed=(LeadTraderStatus.PENDING,),
        status=LeadTraderStatus.REJECTED,
        operator=operator,
        reason=reason,
    )
