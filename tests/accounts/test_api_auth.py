"""The API's front door: sign-up, token login and logout, the error body, throttling."""

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import AccountKind, LedgerAccount, User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/me"
ERROR_KEYS = {"code", "detail", "fields"}


def _auth_rate() -> int:
    num, _duration = ScopedRateThrottle().parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"])
    return num


def _token_for(client: APIClient, email: str, password: str = PASSWORD) -> str:
    response = client.post(TOKEN, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.data
    return response.data["token"]


# --- register ---------------------------------------------------------------


def test_register_creates_a_follower_with_spot_and_futures_accounts(api_client):
    response = api_client.post(
        REGISTER, {"email": "New.Person@Example.com", "password": "correct horse battery 42"}, format="json"
    )
    assert response.status_code == 201, response.data
    assert response.data["email"] == "new.person@example.com"
    assert response.data["is_operator"] is False
    assert "password" not in response.data
    user = User.objects.get(pk=response.data["id"])
    assert user.check_password("correct horse battery 42")
    assert not user.is_staff
    kinds = sorted(LedgerAccount.objects.filter(owner=user).values_list("kind", flat=True))
    assert kinds == sorted([AccountKind.SPOT, AccountKind.FUTURES])
    assert all(a.balance == 0 for a in LedgerAccount.objects.filter(owner=user))


@pytest.mark.parametrize("password", ["123", "password", "12345678901", "newperson@example.com"])
def test_a_weak_password_is_refused_naming_the_password_field(api_client, password):
    response = api_client.post(REGISTER, {"email": "newperson@example.com", "password": password}, format="json")
    assert response.status_code == 400
    assert set(response.data) == ERROR_KEYS
    assert "password" in response.data["fields"]
    assert response.data["fields"]["password"]
    assert not User.objects.filter(email="newperson@example.com").exists()


def test_a_taken_email_is_refused_whatever_its_case(api_client, user):
    response = api_client.post(
        REGISTER, {"email": user.email.upper(), "password": "correct horse battery 42"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.data) == ERROR_KEYS
    assert response.data["code"] == "email_taken"
    assert "email" in response.data["fields"]
    assert User.objects.filter(email__iexact=user.email).count() == 1


@pytest.mark.parametrize("email", ["not-an-email", "", "a@", "@example.com"])
def test_a_bad_email_is_refused(api_client, email):
    before = User.objects.count()
    response = api_client.post(REGISTER, {"email": email, "password": "correct horse battery 42"}, format="json")
    assert response.status_code == 400
    assert set(response.data) == ERROR_KEYS
    assert "email" in response.data["fields"]
    assert User.objects.count() == before


def test_register_with_missing_fields_names_each_of_them(api_client):
    response = api_client.post(REGISTER, {}, format="json")
    assert response.status_code == 400
    assert set(response.data["fields"]) == {"email", "password"}


# --- tokens -----------------------------------------------------------------


def test_a_token_is_issued_for_the_right_password_and_works_on_me(user):
    client = APIClient()
    key = _token_for(client, user.email)
    assert Token.objects.get(user=user).key == key

    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(ME)
    assert response.status_code == 200
    assert response.data["id"] == user.pk
    assert response.data["email"] == user.email
    assert response.data["is_operator"] is False


def test_the_login_email_is_case_insensitive_and_asking_again_returns_the_same_token(user):
    client = APIClient()
    first = _token_for(client, user.email.upper())
    second = _token_for(client, user.email)
    assert first == second


@pytest.mark.parametrize(
    "credentials",
    [
        {"password": "wrong-password"},
        {"email": "nobody@example.com"},
    ],
    ids=["wrong-password", "unknown-email"],
)
def test_wrong_credentials_are_refused_without_saying_which_part_is_wrong(user, credentials):
    body = {"email": user.email, "password": PASSWORD, **credentials}
    response = APIClient().post(TOKEN, body, format="json")
    assert response.status_code == 400
    assert set(response.data) == ERROR_KEYS
    assert response.data["code"] == "invalid_credentials"
    assert not Token.objects.exists()


def test_an_inactive_user_gets_no_token(user):
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = APIClient().post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.data["code"] == "invalid_credentials"


def test_a_stale_token_header_does_not_block_logging_in(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert _token_for(client, user.email)


def test_revoking_the_token_makes_it_stop_working(user):
    client = APIClient()
    key = _token_for(client, user.email)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(ME).status_code == 200

    response = client.delete(TOKEN)
    assert response.status_code == 204
    assert not Token.objects.filter(key=key).exists()

    response = client.get(ME)
    assert response.status_code == 401
    assert set(response.data) == ERROR_KEYS
    # Logging in again issues a fresh token.
    assert _token_for(APIClient(), user.email) != key


def test_revoking_needs_authentication(api_client):
    response = api_client.delete(TOKEN)
    assert response.status_code == 401
    assert set(response.data) == ERROR_KEYS


def test_a_garbage_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get(ME)
    assert response.status_code == 401
    assert set(response.data) == ERROR_KEYS


# --- unauthenticated access -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ME),
        ("get", "/api/v1/accounts"),
        ("post", "/api/v1/transfers"),
        ("get", "/api/v1/withdrawals"),
        ("post", "/api/v1/withdrawals"),
        ("post", "/api/v1/ops/deposits"),
        ("post", "/api/v1/ops/withdrawals/1/approve"),
    ],
)
def test_anonymous_requests_get_401_with_the_error_body(api_client, method, path):
    response = getattr(api_client, method)(
        path, {"amount": "1"} if method == "post" else None, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 401
    assert set(response.data) == ERROR_KEYS
    assert response.data["fields"] == {}
    assert response.data["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


# --- throttling -------------------------------------------------------------


def test_the_token_endpoint_is_throttled_after_the_auth_rate(user):
    """Password guessing is limited: past the rate even the right password gets 429."""
    client = APIClient()
    rate = _auth_rate()
    for _ in range(rate):
        response = client.post(TOKEN, {"email": user.email, "password": "guess"}, format="json")
        assert response.status_code == 400
    response = client.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert set(response.data) == ERROR_KEYS
    assert response.data["code"] == "throttled"
    assert response.data["fields"] == {}
    assert int(response["Retry-After"]) > 0
    assert not Token.objects.exists()


def test_register_is_throttled_too(db):
    client = APIClient()
    for _ in range(_auth_rate()):
        assert client.post(REGISTER, {"email": "x", "password": "y"}, format="json").status_code == 400
    response = client.post(REGISTER, {"email": "late@example.com", "password": "correct horse 42"}, format="json")
    assert response.status_code == 429
    assert set(response.data) == ERROR_KEYS
    assert not User.objects.filter(email="late@example.com").exists()


def test_a_spoofed_forwarded_for_header_does_not_reset_the_throttle(user):
    client = APIClient()
    rate = _auth_rate()
    for i in range(rate + 1):
        response = client.post(
            TOKEN, {"email": user.email, "password": "guess"}, format="json", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}"
        )
    assert response.status_code == 429
