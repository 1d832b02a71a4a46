"""Loss-coverage grants: an operator's grant or a CSV of user ids reserves each voucher's total amount within
the budget and the per-user limit; banned users get none; grantees are claimants for the abuse flags.
(R-LC-01, R-LC-06, R-VC-09)"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccessKind
from accounts.services.access import access_record
from config.errors import InvalidInput, RuleViolation
from tests.factories import UserFactory
from tests.vouchers.loss_coverage_helpers import (
    balances,
    books_agree,
    grant,
    in_parallel,
)
from vouchers.models import AbuseBan, CampaignChange, LossCoverageVoucher
from vouchers.models.loss_coverage import LossCoverageState
from vouchers.selectors import campaign_flags
from vouchers.services.campaigns import campaign_end
from vouchers.services.loss_coverage import (
    loss_coverage_grant,
    loss_coverage_grant_many,
)

pytestmark = pytest.mark.django_db


# --- Grants -----------------------------------------------------------------------------------------------


def test_a_grant_reserves_the_total_amount_and_records_who_and_why(lc_campaign, trader, campaign_operator):
    """R-LC-01, R-VC-09: funded 1,000 = available 980 + reserved 20; the voucher arrives now, for 7 days."""
    campaign = lc_campaign()

    voucher = grant(campaign, trader, campaign_operator)

    assert (voucher.state, voucher.total_amount, voucher.remaining) == (LossCoverageState.ACTIVE, D("20"), D("20"))
    assert voucher.expires_at == voucher.granted_at + timedelta(days=7)
    assert (voucher.granted_by, voucher.reason) == (campaign_operator, "welcome gift")
    assert CampaignChange.objects.filter(campaign=campaign, action="granted", actor=campaign_operator).exists()
    assert balances(campaign) == (D("980"), D("20"))
    assert grant(campaign, trader, campaign_operator).pk == voucher.pk  # a retry: the same voucher, reserved once
    assert balances(campaign) == (D("980"), D("20"))
    assert books_agree(campaign)


def test_grants_over_the_budget_or_the_per_user_limit_are_refused(lc_campaign, campaign_operator):
    """R-VC-09: a grant that would pass the funded budget is refused, as is one over the per-user limit."""
    campaign = lc_campaign(funded="30")
    first, second = UserFactory(), UserFactory()
    grant(campaign, first, campaign_operator)

    with pytest.raises(RuleViolation, match="budget is used up"):
        grant(campaign, second, campaign_operator)
    with pytest.raises(RuleViolation, match="limit of 1"):
        grant(campaign, first, campaign_operator, key="another")

    assert LossCoverageVoucher.objects.count() == 1
    assert balances(campaign) == (D("10"), D("20"))
    assert books_agree(campaign)


def test_only_a_live_loss_coverage_campaign_grants(live_campaign, lc_campaign, trader, campaign_operator):
    with pytest.raises(RuleViolation, match="only a loss-coverage campaign"):
        grant(live_campaign(), trader, campaign_operator)
    ended = campaign_end(campaign=lc_campaign(), actor=campaign_operator, reason="over")
    with pytest.raises(RuleViolation, match="not live"):
        grant(ended, trader, campaign_operator)
    with pytest.raises(InvalidInput):
        loss_coverage_grant(
            campaign=lc_campaign(), user=trader, actor=campaign_operator, reason=" ", idempotency_key="k"
        )
    assert not LossCoverageVoucher.objects.exists()


def test_a_csv_grant_of_three_ids_one_unknown_grants_two_and_reports_the_unknown(lc_campaign, campaign_operator):
    """R-LC-01: an operator's upload; batches, idempotent per (key, user), progress reported."""
    campaign = lc_campaign()
    alice, bob = UserFactory(), UserFactory()
    unknown = bob.pk + 1000
    seen = []

    report = loss_coverage_grant_many(
        campaign=campaign,
        user_ids=[alice.pk, unknown, bob.pk],
        actor=campaign_operator,
        reason="October promotion",
        key="upload-1",
        progress=lambda done, total: seen.append((done, total)),
    )

    assert (report.granted, report.unknown, report.already, report.refused) == ([alice.pk, bob.pk], [unknown], [], {})
    assert seen[-1] == (3, 3)
    assert balances(campaign) == (D("960"), D("40"))
    again = loss_coverage_grant_many(
        campaign=campaign, user_ids=[alice.pk, bob.pk], actor=campaign_operator, reason="rerun", key="upload-1"
    )
    assert (again.granted, again.already) == ([], [alice.pk, bob.pk])  # a rerun grants nobody twice
    assert LossCoverageVoucher.objects.count() == 2 and balances(campaign) == (D("960"), D("40"))
    assert books_agree(campaign)


def test_a_csv_grant_over_the_budget_grants_what_it_covers_and_reports_the_rest(lc_campaign, campaign_operator):
    campaign = lc_campaign(funded="50")
    users = [UserFactory().pk for _ in range(3)]

    report = loss_coverage_grant_many(
        campaign=campaign, user_ids=users, actor=campaign_operator, reason="promo", key="upload"
    )

    assert report.granted == users[:2]
    assert report.refused == {users[2]: "this campaign's budget is used up"}
    assert balances(campaign) == (D("10"), D("40"))
    assert books_agree(campaign)


def test_the_grant_command_reads_a_csv_file_and_reports_counts(lc_campaign, campaign_operator, tmp_path, capsys):
    campaign = lc_campaign()
    alice, bob = UserFactory(), UserFactory()
    path = tmp_path / "users.csv"
    path.write_text(f"user_id\n{alice.pk}\n{bob.pk + 1000}\n{bob.pk}\n")
    args = (str(campaign.pk), str(path), "--by", campaign_operator.email, "--reason", "promo")

    call_command("grant_loss_coverage", *args)
    call_command("grant_loss_coverage", *args)  # the same file again: nobody twice

    out = capsys.readouterr().out
    assert "granted 2, already granted 0, unknown 1, refused 0" in out
    assert "granted 0, already granted 2, unknown 1, refused 0" in out
    assert f"unknown user ids: {bob.pk + 1000}" in out
    assert LossCoverageVoucher.objects.filter(campaign=campaign).count() == 2
    path.write_text(f"{alice.pk}\nbob\n")
    with pytest.raises(CommandError, match="line 2"):
        call_command("grant_loss_coverage", *args)
    with pytest.raises(CommandError, match="not a campaign operator"):
        call_command("grant_loss_coverage", str(campaign.pk), str(path), "--by", alice.email, "--reason", "x")
    assert books_agree(campaign)


# --- Application to closes ---------------------------------------------------------------------------------


def test_a_banned_user_is_not_granted(lc_campaign, trader, campaign_operator):
    """R-LC-06: an account disabled for voucher abuse gets no more vouchers."""
    AbuseBan.objects.create(user=trader, actor=campaign_operator, reason="abuse")
    with pytest.raises(RuleViolation, match="disabled for voucher abuse"):
        grant(lc_campaign(), trader, campaign_operator)


def test_grantees_sharing_a_login_address_are_flagged_as_claimants_of_the_campaign(lc_campaign, campaign_operator):
    """R-VC-09, R-LC-06: the campaign's loss-coverage grantees are its claimants: two sharing a login address are
    flagged, with whom; a grantee of another campaign on the same address is not compared."""
    campaign = lc_campaign()
    alice, bob, carol, outsider = UserFactory.create_batch(4)
    for user in (alice, bob, carol):
        grant(campaign, user, campaign_operator)
    grant(lc_campaign(name="Another gift"), outsider, campaign_operator)
    access_record(user=alice, kind=AccessKind.LOGIN, address="198.51.100.7")
    access_record(user=bob, kind=AccessKind.REGISTRATION, address="198.51.100.7")
    access_record(user=carol, kind=AccessKind.LOGIN, address="203.0.113.9")
    access_record(user=outsider, kind=AccessKind.LOGIN, address="198.51.100.7")

    with CaptureQueriesContext(connection) as queries:
        flags = campaign_flags(campaign=campaign)

    assert flags == {
        alice.pk: {"address": {bob.pk}, "withdrawal_address": set()},
        bob.pk: {"address": {alice.pk}, "withdrawal_address": set()},
    }
    assert len(queries) == 3  # the claimants (coverage and loss coverage in one), then the two comparisons


# --- Runs at once ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ten_grants_at_once_on_a_budget_for_three_give_exactly_three(lc_campaign, campaign_operator, transactional_db):
    """R-VC-09: a grant that would pass the budget is refused, however many arrive at once."""
    campaign = lc_campaign(funded="60")
    users = [UserFactory() for _ in range(10)]

    results = in_parallel(*[lambda u=u: grant(campaign, u, campaign_operator) for u in users])

    assert sum(isinstance(r, LossCoverageVoucher) for r in results) == 3
    assert all("budget is used up" in r for r in results if isinstance(r, str))
    assert balances(campaign) == (D("0"), D("60"))
    assert books_agree(campaign)
