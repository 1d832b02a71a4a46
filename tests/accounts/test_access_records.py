"""Where users register and log in from, and who shares an address: the evidence for voucher-abuse flags.

R-VC-09: accounts that share a registration or login address or a withdrawal destination with
another claimant of the same campaign are flagged for review (R-LC-06 applies to them).
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext

from accounts.client_address import client_address
from accounts.models import AccessKind, AccessRecord, User
from accounts.selectors import users_sharing_with
from accounts.services.access import access_record
from accounts.services.flows import withdrawal_request
from tests.factories import PASSWORD, OperatorFactory, UserFactory, fund_spot

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
PROXY = "10.0.0.5"
CLIENT = "203.0.113.7"


def _address(remote_addr: str | None = PROXY, forwarded: str | None = None) -> str:
    meta = {}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)
    if remote_addr is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote_addr
    return client_address(request)


# --- client_address ------------------------------------------------------------------------------


@override_settings(TRUSTED_PROXIES=[])
def test_without_trusted_proxies_x_forwarded_for_is_ignored_and_the_peer_is_the_client():
    """R-VC-09: nobody chooses the address it is seen from by sending a header."""
    assert _address(remote_addr="198.51.100.1", forwarded="1.2.3.4") == "198.51.100.1"
    assert _address(remote_addr=PROXY, forwarded=CLIENT) == PROXY


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_behind_one_trusted_proxy_the_right_most_untrusted_hop_is_the_client():
    """R-VC-09: everyone behind our proxy is not one person: each is seen at its own address."""
    assert _address(forwarded=CLIENT) == CLIENT
    assert _address(forwarded="198.51.100.50") == "198.51.100.50"


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_a_spoofed_left_most_entry_is_not_believed():
    """R-VC-09: a client that starts X-Forwarded-For itself is still seen at the address our proxy saw."""
    assert _address(forwarded=f"1.2.3.4, {CLIENT}") == CLIENT
    assert _address(forwarded=f"{PROXY}, 1.2.3.4, {CLIENT}") == CLIENT


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_a_request_that_did_not_come_through_a_trusted_proxy_keeps_its_peer_address():
    assert _address(remote_addr="198.51.100.9", forwarded=CLIENT) == "198.51.100.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "192.168.1.1", "fd00::/8"])
def test_trusted_proxies_may_be_cidr_networks_and_a_chain_of_them_is_walked_through():
    assert _address(remote_addr="10.1.2.3", forwarded=f"1.1.1.1, {CLIENT}, 192.168.1.1") == CLIENT
    assert _address(remote_addr="10.1.2.3", forwarded=f"{CLIENT}, 10.200.0.1, 10.3.3.3") == CLIENT
    assert _address(remote_addr="fd00::1", forwarded="2001:db8::7, fd12::2") == "2001:db8::7"
    # Outside every network: a proxy of someone else's, whose entries are not ours to believe.
    assert _address(remote_addr="192.168.1.2", forwarded=CLIENT) == "192.168.1.2"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_malformed_entry_ends_the_walk_at_the_last_good_hop():
    assert _address(forwarded=f"{CLIENT}, not-an-address") == PROXY
    assert _address(forwarded="1.2.3.4, garbage, 10.0.0.6") == "10.0.0.6"
    assert _address(forwarded=f"1.2.3.4,, {CLIENT}") == CLIENT
    assert _address(forwarded=f"{CLIENT}, ") == PROXY
    assert _address(forwarded=f"{CLIENT}:443") == PROXY
    assert _address(forwarded="") == PROXY


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_when_every_hop_is_a_trusted_proxy_the_left_most_is_the_client():
    assert _address(forwarded="10.9.9.9, 10.0.0.6") == "10.9.9.9"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_ipv4_clients_of_a_dual_stack_socket_are_seen_at_their_ipv4_address():
    assert _address(remote_addr="::ffff:198.51.100.3") == "198.51.100.3"
    assert _address(remote_addr="::ffff:10.0.0.5", forwarded=CLIENT) == CLIENT


@override_settings(TRUSTED_PROXIES=[PROXY])
def test_a_request_without_a_usable_peer_address_has_no_client_address():
    assert _address(remote_addr=None, forwarded=CLIENT) == ""
    assert _address(remote_addr="", forwarded=CLIENT) == ""
    assert _address(remote_addr="unix-socket", forwarded=CLIENT) == ""


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "proxy.internal"])
def test_a_trusted_proxy_that_is_not_an_address_or_network_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match=r"proxy\.internal"):
        _address(forwarded=CLIENT)


# --- where it is recorded ----------------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_registration_records_one_registration_row_with_the_client_address(api_client):
    """R-VC-09: the registration address is kept."""
    response = api_client.post(
        REGISTER, {"email": "new@example.com", "password": "correct horse battery 42"}, REMOTE_ADDR=CLIENT
    )
    assert response.status_code == 201, response.data
    user = User.objects.get(email="new@example.com")
    assert list(AccessRecord.objects.values_list("user_id", "kind", "address")) == [
        (user.pk, AccessKind.REGISTRATION, CLIENT)
    ]


@pytest.mark.django_db
def test_a_refused_registration_records_nothing(api_client):
    response = api_client.post(REGISTER, {"email": "new@example.com", "password": "123"}, REMOTE_ADDR=CLIENT)
    assert response.status_code == 400
    assert not AccessRecord.objects.exists()


@pytest.mark.django_db
def test_an_api_token_login_records_exactly_one_login_row_with_the_client_address(api_client, user):
    """R-VC-09: the login address is kept, once: the token login never fires user_logged_in as well."""
    response = api_client.post(TOKEN, {"email": user.email, "password": PASSWORD}, REMOTE_ADDR=CLIENT)
    assert response.status_code == 200, response.data
    assert list(AccessRecord.objects.values_list("user_id", "kind", "address")) == [(user.pk, AccessKind.LOGIN, CLIENT)]


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=[PROXY])
def test_an_api_login_through_our_proxy_records_the_client_not_the_proxy_nor_a_spoofed_entry(api_client, user):
    response = api_client.post(
        TOKEN,
        {"email": user.email, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"1.2.3.4, {CLIENT}",
    )
    assert response.status_code == 200, response.data
    assert list(AccessRecord.objects.values_list("address", flat=True)) == [CLIENT]


@pytest.mark.django_db
def test_a_failed_token_login_records_nothing(api_client, user):
    response = api_client.post(TOKEN, {"email": user.email, "password": "wrong"}, REMOTE_ADDR=CLIENT)
    assert response.status_code == 400
    assert not AccessRecord.objects.exists()


@pytest.mark.django_db
def test_a_web_login_records_one_login_row_with_the_client_address(client, user):
    """R-VC-09: logins through the web app (Django's user_logged_in) are kept too."""
    response = client.post("/login/", {"username": user.email, "password": PASSWORD}, REMOTE_ADDR=CLIENT)
    assert response.status_code == 302
    assert list(AccessRecord.objects.values_list("user_id", "kind", "address")) == [(user.pk, AccessKind.LOGIN, CLIENT)]


@pytest.mark.django_db
def test_a_failed_web_login_records_nothing(client, user):
    response = client.post("/login/", {"username": user.email, "password": "wrong"}, REMOTE_ADDR=CLIENT)
    assert response.status_code == 200
    assert not AccessRecord.objects.exists()


@pytest.mark.django_db
def test_a_login_without_a_peer_address_such_as_the_test_clients_force_login_records_nothing(client, user):
    client.force_login(user)
    assert not AccessRecord.objects.exists()


@pytest.mark.django_db
def test_access_records_are_searchable_by_email_or_address_and_read_only_in_the_admin(client, user, other_user):
    _seen(user, CLIENT)
    _seen(other_user, "198.51.100.77")
    client.force_login(OperatorFactory(is_superuser=True))
    for term, shown, hidden in [(user.email, CLIENT, "198.51.100.77"), ("198.51.100.77", "198.51.100.77", CLIENT)]:
        page = client.get("/admin/accounts/accessrecord/", {"q": term})
        assert page.status_code == 200
        assert shown in page.content.decode()
        assert hidden not in page.content.decode()
    record = AccessRecord.objects.get(user=user)
    assert client.get("/admin/accounts/accessrecord/add/").status_code == 403
    assert client.post(f"/admin/accounts/accessrecord/{record.pk}/change/", {"address": "1.1.1.1"}).status_code == 403
    assert client.post(f"/admin/accounts/accessrecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    record.refresh_from_db()
    assert record.address == CLIENT


# --- who shares with whom ------------------------------------------------------------------------


def _seen(user: User, address: str, kind: AccessKind = AccessKind.LOGIN) -> None:
    access_record(user=user, kind=kind, address=address)


def _withdraw(user: User, address: str) -> None:
    fund_spot(user, "10")
    withdrawal_request(user=user, amount=Decimal("1"), address=address, idempotency_key=f"w-{user.pk}-{address}")


@pytest.mark.django_db
def test_users_who_registered_or_logged_in_from_one_address_are_found_sharing_it():
    """R-VC-09: a shared registration or login address flags both accounts (R-LC-06 applies to them)."""
    a, b, c, d = UserFactory.create_batch(4)
    _seen(a, "198.51.100.1", AccessKind.REGISTRATION)
    _seen(b, "198.51.100.1")
    _seen(c, "198.51.100.1")
    _seen(a, "2001:db8::1")
    _seen(d, "198.51.100.99")
    _seen(d, "198.51.100.99")

    shared = users_sharing_with(user_ids=[a.pk, b.pk, c.pk, d.pk])

    assert shared == {
        a.pk: {"address": {b.pk, c.pk}, "withdrawal_address": set()},
        b.pk: {"address": {a.pk, c.pk}, "withdrawal_address": set()},
        c.pk: {"address": {a.pk, b.pk}, "withdrawal_address": set()},
    }


@pytest.mark.django_db
def test_users_who_asked_for_withdrawals_to_one_destination_are_found_sharing_it_whatever_its_case():
    """R-VC-09: a shared withdrawal destination flags both accounts (R-LC-06 applies to them)."""
    a, b, c = UserFactory.create_batch(3)
    _withdraw(a, "0xAbCdEf0123456789abcdef0123456789ABCDEF01")
    _withdraw(b, "0xabcdef0123456789abcdef0123456789abcdef01")
    _withdraw(c, "TQ8dq7n1Rp3cExampleTronAddress")
    _seen(a, "198.51.100.1")
    _seen(c, "198.51.100.1")

    shared = users_sharing_with(user_ids={a.pk, b.pk, c.pk})

    assert shared == {
        a.pk: {"address": {c.pk}, "withdrawal_address": {b.pk}},
        b.pk: {"address": set(), "withdrawal_address": {a.pk}},
        c.pk: {"address": {a.pk}, "withdrawal_address": set()},
    }


@pytest.mark.django_db
def test_users_outside_the_set_are_ignored_even_when_they_share_an_address():
    """R-VC-09 compares claimants of the same campaign: someone who did not claim flags nobody."""
    a, b, outsider = UserFactory.create_batch(3)
    _seen(a, "198.51.100.1")
    _seen(outsider, "198.51.100.1")
    _withdraw(b, "dest-1")
    _withdraw(outsider, "dest-1")

    assert users_sharing_with(user_ids=[a.pk, b.pk]) == {}
    assert users_sharing_with(user_ids=[a.pk, outsider.pk]) == {
        a.pk: {"address": {outsider.pk}, "withdrawal_address": set()},
        outsider.pk: {"address": {a.pk}, "withdrawal_address": set()},
    }


@pytest.mark.django_db
def test_a_set_of_fewer_than_two_users_shares_nothing_and_costs_no_query(django_assert_num_queries, user):
    _seen(user, "198.51.100.1")
    with django_assert_num_queries(0):
        assert users_sharing_with(user_ids=[user.pk]) == {}
        assert users_sharing_with(user_ids=[]) == {}


@pytest.mark.django_db
def test_the_selector_costs_the_same_two_queries_for_2_users_as_for_50():
    users = UserFactory.create_batch(50)
    for i, u in enumerate(users):
        _seen(u, f"198.51.100.{i % 10}", AccessKind.REGISTRATION)
        _seen(u, f"203.0.113.{i}")
    for i, u in enumerate(users[:4]):
        _withdraw(u, f"dest-{i % 2}")

    counts = {}
    for size in (2, 50):
        with CaptureQueriesContext(connection) as queries:
            shared = users_sharing_with(user_ids=[u.pk for u in users[:size]])
        counts[size] = len(queries)
        assert len(shared) == (0 if size == 2 else 50)

    assert counts == {2: 2, 50: 2}
