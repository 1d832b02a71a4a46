"""Operators run campaigns: every change is recorded with who and why; Finance funds them within budget.
(R-VC-01, R-VC-09, R-OP-01)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from accounts.models import JournalEntry
from config.errors import IdempotencyConflict, InvalidInput, InvalidState, RuleViolation
from vouchers.ledger import campaign_accounts
from vouchers.models import CampaignStatus
from vouchers.services.campaigns import (
    campaign_create,
    campaign_end,
    campaign_fund,
    campaign_publish,
    campaign_update,
)

pytestmark = pytest.mark.django_db


def test_every_change_of_a_campaign_is_recorded_with_who_and_why(live_campaign, campaign_operator, finance_operator):
    """R-OP-01: created, funded, published, updated, ended — each with its actor and reason."""
    campaign = live_campaign()
    campaign_update(campaign=campaign, actor=campaign_operator, reason="more reach", changes={"per_user_limit": 2})
    campaign_end(campaign=campaign, actor=campaign_operator, reason="season over")

    history = list(campaign.changes.order_by("id").values_list("action", "actor_id", "reason"))
    assert history == [
        ("created", campaign_operator.pk, "launch"),
        ("funded", finance_operator.pk, "Q4 budget"),
        ("published", campaign_operator.pk, "go"),
        ("updated", campaign_operator.pk, "more reach"),
        ("ended", campaign_operator.pk, "season over"),
    ]
    assert campaign.changes.get(action="updated").changes == {"per_user_limit": 2}


def test_a_change_without_a_reason_is_refused(live_campaign, campaign_operator):
    campaign = live_campaign()
    with pytest.raises(InvalidInput) as refused:
        campaign_update(campaign=campaign, actor=campaign_operator, reason="  ", changes={"per_user_limit": 2})
    assert "reason" in refused.value.fields


def test_what_a_claimed_voucher_is_worth_cannot_change_once_published(live_campaign, campaign_operator):
    campaign = live_campaign()
    with pytest.raises(RuleViolation) as refused:
        campaign_update(campaign=campaign, actor=campaign_operator, reason="x", changes={"face_value": D("80")})
    assert "face_value" in refused.value.fields
    campaign.refresh_from_db()
    assert campaign.face_value == D("50")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"face_value": "-5"}, "face_value"),
        ({"face_value": 5.5}, "face_value"),  # a float never touches money
        ({"validity_days": 0}, "validity_days"),
        ({"audience": "vips"}, "audience"),
        ({"kind": "spot_bonus"}, "kind"),
        ({"colour": "red"}, "colour"),
        ({"closing_threshold": "10"}, "closing_threshold"),  # only loss coverage has one
        ({"budget": "20"}, "budget"),  # below one voucher's face value
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(campaign_operator, changes, field):
    now = timezone.now()
    values = {
        "name": "Cover",
        "kind": "first_loss",
        "face_value": D("50"),
        "budget": D("1000"),
        "promotion_starts_at": now,
        "promotion_ends_at": now + timedelta(days=3),
        "claim_deadline": now + timedelta(days=3),
        **changes,
    }
    with pytest.raises(InvalidInput) as refused:
        campaign_create(actor=campaign_operator, reason="launch", **values)
    assert field in refused.value.fields


def test_finance_funds_a_campaign_up_to_its_budget_and_a_retry_moves_nothing(live_campaign, finance_operator):
    """R-VC-09: the campaign's money comes from the marketing account, never beyond the budget."""
    campaign = live_campaign(funded="0")
    first = campaign_fund(campaign=campaign, amount=D("600"), actor=finance_operator, reason="a", idempotency_key="f1")
    again = campaign_fund(campaign=campaign, amount=D("600"), actor=finance_operator, reason="a", idempotency_key="f1")
    assert again.pk == first.pk
    with pytest.raises(IdempotencyConflict):  # the same key for another amount is not a retry
        campaign_fund(campaign=campaign, amount=D("700"), actor=finance_operator, reason="a", idempotency_key="f1")

    with pytest.raises(RuleViolation) as refused:
        campaign_fund(campaign=campaign, amount=D("401"), actor=finance_operator, reason="b", idempotency_key="f2")
    assert refused.value.fields == {"amount": ["at most 400.00000000"]}

    available = campaign_accounts(campaign).available
    available.refresh_from_db()
    assert available.balance == D("600")
    assert JournalEntry.objects.filter(kind="campaign_funding").count() == 1


def test_a_campaign_moves_draft_live_paused_live_ended_and_no_further(live_campaign, campaign_operator):
    campaign = live_campaign(publish=False)
    assert campaign.status == CampaignStatus.DRAFT
    for move, status in ((campaign_publish, "live"), (campaign_end, "ended")):
        campaign = move(campaign=campaign, actor=campaign_operator, reason="r")
        assert campaign.status == status
    with pytest.raises(InvalidState):
        campaign_publish(campaign=campaign, actor=campaign_operator, reason="again")
