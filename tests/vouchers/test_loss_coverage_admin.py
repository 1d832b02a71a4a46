"""Loss coverage in the admin: operators grant the users of a CSV file from the campaign page; the vouchers and
their compensations are read-only records. (R-LC-01, R-LC-05, R-VC-09, R-OP-01)

A grant from the page goes through ``loss_coverage_grant_many`` with a key derived from the file's ids, so the
same file submitted again grants nobody twice; the counts come back as messages, a bad file as a form error.
"""

from __future__ import annotations

import uuid
from decimal import Decimal as D

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from accounts.money import ZERO
from accounts.selectors import ledger_audit
from copytrading.futures.services.orders import order_place
from copytrading.futures.services.outbox import outbox_deliver_pending
from tests.factories import OperatorFactory, UserFactory, fund_futures, futures
from tests.vouchers.voucher_helpers import close_at
from vouchers.ledger import campaign_accounts
from vouchers.models import Campaign, CampaignChange, Compensation, LossCoverageVoucher
from vouchers.selectors import campaign_liabilities
from vouchers.services.campaigns import campaign_pause
from vouchers.services.loss_coverage import loss_coverage_reserved

pytestmark = pytest.mark.django_db

CAMPAIGNS = "/admin/vouchers/campaign/"
LC_VOUCHERS = "/admin/vouchers/losscoveragevoucher/"
COMPENSATIONS = "/admin/vouchers/compensation/"


def grant_page(campaign: Campaign) -> str:
    return f"{CAMPAIGNS}{campaign.pk}/grant-loss-coverage/"


def change_page(campaign: Campaign) -> str:
    return f"{CAMPAIGNS}{campaign.pk}/change/"


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def csv_file(*rows, name: str = "users.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, "".join(f"{row}\n" for row in rows).encode(), content_type="text/csv")


def upload(client: Client, campaign: Campaign, *rows, reason: str = "October promotion", follow: bool = True):
    return client.post(grant_page(campaign), {"file": csv_file(*rows), "reason": reason}, follow=follow)


def said(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def available(campaign: Campaign) -> D:
    account = campaign_accounts(campaign).available
    account.refresh_from_db()
    return account.balance


def books_agree(campaign: Campaign) -> bool:
    """R-VC-09: the ledger audits clean, funded = available + reserved + paid out, and the reserved balance is
    Σ remaining of active loss-coverage vouchers + Σ pending compensations."""
    books = campaign_liabilities([campaign])[campaign.pk]
    reserved = loss_coverage_reserved([campaign.pk]).get(campaign.pk, ZERO)
    return (
        ledger_audit().ok
        and books.funded == books.available + books.reserved + books.paid_out
        and books.reserved == reserved
    )


@pytest.fixture
def operator_client(campaign_operator) -> Client:
    return admin_client(campaign_operator)


# --- granting from the campaign page ----------------------------------------------------------------------


def test_an_operator_uploads_three_ids_one_unknown_and_two_are_granted_once(
    lc_campaign, campaign_operator, operator_client
):
    """R-LC-01, R-OP-01: the button on the campaign page; 2 granted with who and why, the unknown id reported;
    the same file again grants nobody twice."""
    campaign = lc_campaign(face_value="20")
    alice, bob = UserFactory(), UserFactory()
    unknown = bob.pk + 1000

    page = operator_client.get(change_page(campaign)).content.decode()
    assert f'href="{grant_page(campaign)}"' in page
    form = operator_client.get(grant_page(campaign))
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.content.decode()

    done = upload(operator_client, campaign, "user_id", alice.pk, unknown, bob.pk)

    assert done.redirect_chain == [(change_page(campaign), 302)]
    messages = said(done)
    assert f"{campaign.name}: granted 2, already granted 0, unknown ids 1, refused 0." in messages
    assert f"Unknown user ids (no user): {unknown}." in messages
    vouchers = LossCoverageVoucher.objects.filter(campaign=campaign)
    assert sorted(vouchers.values_list("user_id", flat=True)) == sorted([alice.pk, bob.pk])
    assert {(v.granted_by, v.reason, v.total_amount) for v in vouchers} == {
        (campaign_operator, "October promotion", D("20"))
    }
    assert CampaignChange.objects.filter(campaign=campaign, action="granted", actor=campaign_operator).count() == 1
    assert available(campaign) == D("960")

    again = upload(operator_client, campaign, "user_id", alice.pk, unknown, bob.pk, reason="clicked twice")
    assert f"{campaign.name}: granted 0, already granted 2, unknown ids 1, refused 0." in said(again)
    without_header = upload(operator_client, campaign, alice.pk, unknown, bob.pk)  # the same ids: the same run
    assert f"{campaign.name}: granted 0, already granted 2, unknown ids 1, refused 0." in said(without_header)
    assert vouchers.count() == 2
    assert available(campaign) == D("960")
    assert books_agree(campaign)


def test_a_file_over_the_budget_grants_what_it_covers_and_reports_the_refusals(lc_campaign, operator_client):
    """R-VC-09: funded 1,000 covers two vouchers of 400; the third user is refused, with the reason."""
    campaign = lc_campaign(face_value="400")
    users = [UserFactory() for _ in range(3)]

    done = upload(operator_client, campaign, *(u.pk for u in users))

    messages = said(done)
    assert f"{campaign.name}: granted 2, already granted 0, unknown ids 0, refused 1." in messages
    assert f"Refused (this campaign's budget is used up: 1): users {users[2].pk}." in messages
    assert set(LossCoverageVoucher.objects.values_list("user_id", flat=True)) == {users[0].pk, users[1].pk}
    assert available(campaign) == D("200")
    assert books_agree(campaign)


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("user_id\n12\nbob\n", "line 3: &#x27;bob&#x27; is not a user id"),
        ("user_id\n", "users.csv holds no user ids"),
        ("12\n0\n", "line 2: &#x27;0&#x27; is not a user id"),
        ("", "The submitted file is empty."),
        (b"\xff\xfe\x00", "cannot read users.csv"),
    ],
)
def test_a_bad_file_is_a_form_error_and_grants_nothing(lc_campaign, operator_client, content, error):
    campaign = lc_campaign()
    raw = content if isinstance(content, bytes) else content.encode()

    response = operator_client.post(
        grant_page(campaign), {"file": SimpleUploadedFile("users.csv", raw), "reason": "promo"}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not LossCoverageVoucher.objects.exists()


def test_a_missing_reason_or_file_is_a_form_error(lc_campaign, operator_client):
    campaign = lc_campaign()
    user = UserFactory()

    no_reason = operator_client.post(grant_page(campaign), {"file": csv_file(user.pk), "reason": "  "})
    no_file = operator_client.post(grant_page(campaign), {"reason": "promo"})

    assert no_reason.status_code == no_file.status_code == 200
    assert no_reason.context["form"].errors == {"reason": ["This field is required."]}
    assert no_file.context["form"].errors == {"file": ["This field is required."]}
    assert not LossCoverageVoucher.objects.exists()


def test_an_id_beyond_any_user_is_reported_unknown(lc_campaign, operator_client):
    """An id too large for the database names no user: reported, never a server error."""
    campaign = lc_campaign()
    user = UserFactory()

    done = upload(operator_client, campaign, user.pk, "99999999999999999999")

    assert f"{campaign.name}: granted 1, already granted 0, unknown ids 1, refused 0." in said(done)
    assert books_agree(campaign)


def test_the_button_is_only_on_live_loss_coverage_campaigns(live_campaign, lc_campaign, operator_client):
    """A coverage campaign grants no loss coverage; a paused one grants nothing: the page says so."""
    coverage = live_campaign()
    assert "grant-loss-coverage" not in operator_client.get(change_page(coverage)).content.decode()
    refused = operator_client.get(grant_page(coverage), follow=True)
    assert refused.redirect_chain == [(change_page(coverage), 302)]
    assert f"{coverage.name} is not a loss-coverage campaign: it grants no loss coverage." in said(refused)

    campaign = lc_campaign()
    paused = campaign_pause(campaign=campaign, actor=campaign.created_by, reason="hold on")
    assert "grant-loss-coverage" not in operator_client.get(change_page(paused)).content.decode()
    response = upload(operator_client, paused, UserFactory().pk, follow=False)
    assert response.status_code == 200
    assert "This campaign is paused, not live: it grants nothing." in response.content.decode()
    assert not LossCoverageVoucher.objects.exists()


def test_a_staff_user_without_the_permission_cannot_grant(lc_campaign, finance_operator):
    """R-OP-01: granting needs vouchers.change_campaign — a plain staff user and Finance get 403."""
    campaign = lc_campaign()
    user = UserFactory()
    for operator in [OperatorFactory(), finance_operator]:
        client = admin_client(operator)
        assert client.get(grant_page(campaign)).status_code == 403
        assert upload(client, campaign, user.pk, follow=False).status_code == 403
    finance_page = admin_client(finance_operator).get(change_page(campaign)).content.decode()
    assert "grant-loss-coverage" not in finance_page
    assert not LossCoverageVoucher.objects.exists()


# --- the records -----------------------------------------------------------------------------------------


@pytest.fixture
def compensated(lc_campaign, campaign_operator, operator_client, btc):
    """A loss-coverage campaign whose 20 USDT voucher paid a pending compensation of a manual loss of 30."""
    campaign = lc_campaign(face_value="20")
    trader = UserFactory()
    fund_futures(trader, "10000")
    upload(operator_client, campaign, trader.pk)
    position = order_place(
        account=futures(trader), market=btc, side="buy", qty=D("0.01"), idempotency_key=uuid.uuid4().hex
    ).position
    close_at(position, btc, "57000")  # 0.01 BTC down 3,000: a loss of 30
    assert outbox_deliver_pending(consumer="vouchers.loss_coverage") == 1
    return Compensation.objects.get()


def test_operators_read_the_vouchers_and_compensations_and_change_nothing(compensated, campaign_operator):
    """The records are read-only for everybody: lists, filters and search open; add, change, delete refuse."""
    voucher = compensated.voucher
    client = admin_client(campaign_operator)

    for url in [
        LC_VOUCHERS,
        f"{LC_VOUCHERS}?state=used_up",
        f"{LC_VOUCHERS}?campaign__id__exact={voucher.campaign_id}",
        f"{LC_VOUCHERS}?q={voucher.user.email}",
        f"{LC_VOUCHERS}{voucher.pk}/change/",
        COMPENSATIONS,
        f"{COMPENSATIONS}?state=pending",
        f"{COMPENSATIONS}?campaign__id__exact={compensated.campaign_id}",
        f"{COMPENSATIONS}{compensated.pk}/change/",
    ]:
        assert client.get(url).status_code == 200, url
    vouchers = client.get(LC_VOUCHERS).content.decode()
    assert voucher.user.email in vouchers and campaign_operator.email in vouchers
    assert str(compensated.close_id) in client.get(COMPENSATIONS).content.decode()

    for base, pk in [(LC_VOUCHERS, voucher.pk), (COMPENSATIONS, compensated.pk)]:
        assert client.get(f"{base}add/").status_code == 403
        assert client.post(f"{base}{pk}/change/", {"state": "expired"}).status_code == 403
        assert client.get(f"{base}{pk}/delete/").status_code == 403
        assert client.post(f"{base}{pk}/delete/", {"post": "yes"}).status_code == 403
    voucher.refresh_from_db()
    compensated.refresh_from_db()
    assert voucher.state == "used_up" and compensated.state == "pending"


def test_finance_reads_the_compensations_and_a_plain_staff_user_neither(compensated, finance_operator):
    finance = admin_client(finance_operator)
    assert finance.get(COMPENSATIONS).status_code == 200
    assert finance.get(LC_VOUCHERS).status_code == 403
    staff = admin_client(OperatorFactory())
    assert staff.get(COMPENSATIONS).status_code == 403
    assert staff.get(LC_VOUCHERS).status_code == 403
