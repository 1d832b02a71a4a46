"""The route table (config.api_routes) against the URL conf and the views' real behaviour.

A route that is not classified, or a classification the view does not honour,
fails here: anonymous calls, non-operators, and money-moving calls without an
Idempotency-Key are each tried on every route the table lists.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from accounts.idempotency import MAX_KEY_LENGTH, MoneyMovingApi
from accounts.models import JournalEntry
from config.api_routes import ROUTES, Access
from tests.factories import OperatorFactory

API_PREFIX = "api/v1/"
HANDLED = ("get", "post", "put", "patch", "delete")


def _api_patterns(resolver=None, prefix: str = ""):
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_patterns(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith(API_PREFIX):
            yield pattern


API_PATTERNS = {p.name: p for p in _api_patterns()}
SAMPLE_KWARGS = {"symbol": "BTCUSDT", "name": "ledger-audit"}


def _url(name: str) -> str:
    pattern = API_PATTERNS[name]
    kwargs = {key: SAMPLE_KWARGS.get(key, 987654) for key in pattern.pattern.converters}
    return reverse(name, kwargs=kwargs)


def _served_methods(name: str) -> set[str]:
    view = API_PATTERNS[name].callback.cls
    return {m.upper() for m in HANDLED if hasattr(view, m)}


def _calls(access: Access):
    return [(name, method) for name, r in sorted(ROUTES.items()) for method, a in r.methods.items() if a == access]


def test_every_api_route_is_classified_and_every_classified_route_exists():
    unnamed = [str(p.pattern) for p in API_PATTERNS.values() if not p.name]
    assert not unnamed, f"API routes without a name cannot be classified: {unnamed}"
    assert set(API_PATTERNS) - set(ROUTES) == set(), "classify these routes in config/api_routes.py"
    assert set(ROUTES) - set(API_PATTERNS) == set(), "config/api_routes.py lists routes that do not exist"


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_the_table_lists_exactly_the_methods_each_view_serves(name):
    assert set(ROUTES[name].methods) == _served_methods(name)


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_money_moving_methods_are_exactly_those_whose_view_demands_a_key(name):
    view = API_PATTERNS[name].callback.cls
    demanded = set(view.money_methods) & _served_methods(name) if issubclass(view, MoneyMovingApi) else set()
    assert demanded == set(ROUTES[name].money)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), [c for a in Access if a != Access.PUBLIC for c in _calls(a)])
def test_every_non_public_method_refuses_an_anonymous_caller(name, method):
    response = getattr(APIClient(), method.lower())(_url(name), {}, format="json")
    assert response.status_code == 401, response.content
    assert set(response.json()) == {"code", "detail", "fields"}


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method"), _calls(Access.PUBLIC))
def test_every_public_method_answers_an_anonymous_caller(name, method):
    response = getattr(APIClient(), method.lower())(_url(name), {}, format="json")
    assert response.status_code not in (401, 403, 500), response.content


@pytest.mark.parametrize(("name", "method"), _calls(Access.OPERATOR))
def test_every_operator_method_refuses_a_logged_in_non_operator(user, name, method):
    client = APIClient()
    client.force_authenticate(user)
    response = getattr(client, method.lower())(_url(name), {}, format="json")
    assert response.status_code == 403, response.content


def _money_calls():
    return [(name, method) for name, r in sorted(ROUTES.items()) for method in sorted(r.money)]


@pytest.fixture
def superoperator(db):
    return OperatorFactory(groups=["Finance", "Risk operators", "Campaign operators"], is_superuser=True)


@pytest.mark.parametrize(("name", "method"), _money_calls())
@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "idempotency_key_missing"),
        ("   ", "idempotency_key_missing"),
        ("k" * (MAX_KEY_LENGTH + 1), "idempotency_key_invalid"),
        ("ключ", "idempotency_key_invalid"),
    ],
    ids=["missing", "blank", "too-long", "not-ascii"],
)
def test_every_money_moving_route_answers_400_without_a_usable_idempotency_key(
    superoperator, name, method, header, code
):
    # Given a caller allowed to use the route, when it sends no usable key (whatever the body),
    client = APIClient()
    client.force_authenticate(superoperator)
    extra = {} if header is None else {"HTTP_IDEMPOTENCY_KEY": header}
    entries = JournalEntry.objects.count()
    response = getattr(client, method.lower())(_url(name), {"confirm": False}, format="json", **extra)
    # then the answer is a 400 naming the header, and nothing moved.
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code
    assert "Idempotency-Key" in body["fields"]
    assert JournalEntry.objects.count() == entries
