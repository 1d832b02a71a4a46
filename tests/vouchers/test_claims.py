"""Claiming coverage vouchers: the reservation, every refusal, expiry, and the budget identity.
(R-VC-01, R-VC-09)"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.utils import timezone

from accounts.selectors import ledger_audit
from config.errors import RuleViolation
from tests.copytrading.copy_helpers import follow, make_lead
from tests.factories import UserFactory
from vouchers.ledger import campaign_accounts, marketing_account
from vouchers.models import Voucher, VoucherState
from vouchers.selectors import campaign_budget_problems, campaign_liabilities
from vouchers.services.campaigns import campaign_pause
from vouchers.services.claims import voucher_claim, vouchers_expire_due

pytestmark = pytest.mark.django_db


def balances(campaign):
    accounts = campaign_accounts(campaign)
    accounts.available.refresh_from_db()
    accounts.reserved.refresh_from_db()
    return accounts.available.balance, accounts.reserved.balance


def test_a_claim_reserves_the_face_value_from_the_funded_budget(live_campaign, user):
    """R-VC-01, R-VC-09: funded 1,000 = available 950 + reserved 50 + paid out 0."""
    campaign = live_campaign()

    voucher = voucher_claim(user=user, campaign=campaign, idempotency_key="k1")

    assert (voucher.state, voucher.face_value, voucher.kind) == (VoucherState.CLAIMED, D("50"), "first_loss")
    assert voucher.valid_until == voucher.claimed_at + timedelta(days=7)
    assert balances(campaign) == (D("950"), D("50"))
    assert marketing_account().balance == D("-1000")  # the marketing spend committed to the campaign
    books = campaign_liabilities([campaign])[campaign.pk]
    assert (books.funded, books.available, books.reserved, books.paid_out) == (D("1000"), D("950"), D("50"), 0)
    assert campaign_budget_problems() == [] and ledger_audit().ok


def test_a_retried_claim_returns_the_same_voucher_and_reserves_once(live_campaign, user):
    campaign = live_campaign()
    first = voucher_claim(user=user, campaign=campaign, idempotency_key="k1")
    again = voucher_claim(user=user, campaign=campaign, idempotency_key="k1")
    assert again.pk == first.pk and balances(campaign) == (D("950"), D("50"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"claim_deadline": -1}, "collection deadline"),
        ({"promotion_starts_at": +1}, "not started"),
    ],
)
def test_a_claim_outside_the_campaign_window_is_refused_and_reserves_nothing(live_campaign, user, settings, message):
    now = timezone.now()
    shifted = {name: now + timedelta(hours=hours) for name, hours in settings.items()}
    if "promotion_starts_at" in shifted:
        shifted["promotion_ends_at"] = now + timedelta(days=2)
    campaign = live_campaign(**shifted)

    with pytest.raises(RuleViolation, match=message):
        voucher_claim(user=user, campaign=campaign, idempotency_key="k1")

    assert not Voucher.objects.exists() and balances(campaign) == (D("1000"), D("0"))


def test_a_claim_over_the_budget_is_refused(live_campaign, user, other_user):
    campaign = live_campaign(budget=D("80"), funded="80")
    voucher_claim(user=user, campaign=campaign, idempotency_key="k1")
    with pytest.raises(RuleViolation, match="budget is used up"):
        voucher_claim(user=other_user, campaign=campaign, idempotency_key="k1")
    assert balances(campaign) == (D("30"), D("50"))


def test_a_claim_over_the_per_user_limit_is_refused(live_campaign, user):
    campaign = live_campaign(per_user_limit=2)
    voucher_claim(user=user, campaign=campaign, idempotency_key="k1")
    voucher_claim(user=user, campaign=campaign, idempotency_key="k2")
    with pytest.raises(RuleViolation, match="limit of 2"):
        voucher_claim(user=user, campaign=campaign, idempotency_key="k3")


def test_a_campaign_for_new_copy_traders_refuses_a_user_who_has_followed_before(live_campaign):
    """R-VC-01 decision: new = never had a following before the claim (a stopped one counts)."""
    campaign = live_campaign(audience="new_copy_traders")
    veteran = follow(make_lead()).follower
    newcomer = UserFactory()

    with pytest.raises(RuleViolation, match="new copy traders"):
        voucher_claim(user=veteran, campaign=campaign, idempotency_key="k1")
    assert voucher_claim(user=newcomer, campaign=campaign, idempotency_key="k1").state == VoucherState.CLAIMED


def test_a_paused_campaign_takes_no_claims(live_campaign, user, campaign_operator):
    campaign = campaign_pause(campaign=live_campaign(), actor=campaign_operator, reason="fraud wave")
    with pytest.raises(RuleViolation, match="not running"):
        voucher_claim(user=user, campaign=campaign, idempotency_key="k1")


def test_an_untriggered_voucher_expires_after_its_validity_and_its_reservation_returns(live_campaign, user):
    """R-VC-09: the reservation is released to available when the voucher expires untriggered; a rerun is a no-op."""
    campaign = live_campaign()
    voucher = voucher_claim(user=user, campaign=campaign, idempotency_key="k1")

    assert vouchers_expire_due(now=voucher.valid_until - timedelta(seconds=1)) == 0
    assert vouchers_expire_due(now=voucher.valid_until) == 1
    assert vouchers_expire_due(now=voucher.valid_until + timedelta(hours=1)) == 0

    voucher.refresh_from_db()
    assert voucher.state == VoucherState.EXPIRED
    assert balances(campaign) == (D("1000"), D("0"))
    assert campaign_budget_problems() == [] and ledger_audit().ok


def test_the_audit_fails_when_a_reservation_disagrees_with_the_live_claims(live_campaign, user):
    campaign = live_campaign()
    voucher = voucher_claim(user=user, campaign=campaign, idempotency_key="k1")
    Voucher.objects.filter(pk=voucher.pk).update(state=VoucherState.EXPIRED)  # a state moved without its money

    problems = campaign_budget_problems()

    assert problems == [{"campaign": campaign.pk, "reserved": "50.00000000", "live claims": "0"}]
    assert not ledger_audit().ok


@pytest.mark.slow
def test_thirty_parallel_claims_on_a_budget_for_ten_give_exactly_ten(live_campaign, transactional_db):
    """R-VC-01: a claim that would pass the budget is refused, however many arrive at once."""
    campaign = live_campaign(budget=D("500"))
    users = [UserFactory() for _ in range(30)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(users))

    def claim(user):
        try:
            barrier.wait()
            voucher_claim(user=user, campaign=campaign, idempotency_key="race")
            outcomes.append("claimed")
        except RuleViolation as refused:
            outcomes.append(str(refused))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count("claimed") == 10
    assert all("budget is used up" in o for o in outcomes if o != "claimed")
    assert Voucher.objects.count() == 10 and balances(campaign) == (D("0"), D("500"))
    assert campaign_budget_problems() == [] and ledger_audit().ok
