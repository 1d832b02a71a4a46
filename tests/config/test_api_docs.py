"""The API docs: every operation summarised, described and tagged by resource; the pages work offline.

Swagger UI (/api/docs/) and Redoc (/api/redoc/) must load nothing from outside the
platform: every script and stylesheet they reference is one of our static files.
"""

from __future__ import annotations

import inspect
import re

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.views import serve
from django.test import RequestFactory
from django.urls import URLResolver, get_resolver, path, reverse
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import MoneyMovingApi
from config.openapi import FEATURE_TAGS, RESOURCE_TAGS, AutoSchema, path_tag

TAG_NAMES = [tag["name"] for tag in settings.SPECTACULAR_SETTINGS["TAGS"]]
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
# Every <script src> and <link href> of a page: a stylesheet, a script or the favicon.
ASSET = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)


@pytest.fixture(scope="module")
def operations() -> dict[str, dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        f"{method.upper()} {route}": operation
        for route, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in HTTP_METHODS
    }


def _api_views(resolver=None, prefix: str = ""):
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _api_views(pattern, route)
        elif route.startswith("api/v1/"):
            yield pattern.callback.cls


def test_the_schema_documents_every_method_of_every_api_route(operations):
    served = sum(len(HTTP_METHODS & set(dir(view))) for view in _api_views())
    assert len(operations) == served


def test_every_operation_has_a_one_line_summary_and_a_description(operations):
    missing = [name for name, op in operations.items() if not op.get("summary", "").strip()]
    assert not missing, f"operations without a summary: {missing}"
    multiline = [name for name, op in operations.items() if "\n" in op["summary"]]
    assert not multiline, f"a summary is one line: {multiline}"
    undescribed = [name for name, op in operations.items() if not op.get("description", "").strip()]
    assert not undescribed, f"operations without a description: {undescribed}"


def test_summaries_are_unique(operations):
    seen: dict[str, str] = {}
    for name, op in operations.items():
        assert op["summary"] not in seen, f"{name} and {seen[op['summary']]} share the summary {op['summary']!r}"
        seen[op["summary"]] = name


def test_no_description_is_a_mixins_docstring(operations):
    mixin_doc = inspect.cleandoc(MoneyMovingApi.__doc__)
    for name, op in operations.items():
        assert "Mixin" not in op["description"], name
        assert mixin_doc not in op["description"], name


def test_every_operation_has_exactly_one_declared_tag(operations):
    for name, op in operations.items():
        assert len(op.get("tags", [])) == 1, f"{name} has tags {op.get('tags')}"
        assert op["tags"][0] in TAG_NAMES, f"{name} is tagged {op['tags'][0]!r}: map its resource in config.openapi"
        assert op["tags"] != ["v1"], name


def test_every_tag_a_path_can_get_is_declared_once_with_a_description():
    assert len(TAG_NAMES) == len(set(TAG_NAMES))
    assert set(RESOURCE_TAGS.values()) | set(FEATURE_TAGS.values()) == set(TAG_NAMES)
    assert all(tag.get("description") for tag in settings.SPECTACULAR_SETTINGS["TAGS"])


@pytest.mark.parametrize(
    ("segments", "tag"),
    [
        (["auth", "token"], "auth"),
        (["me"], "auth"),
        (["accounts", "records"], "accounts"),
        (["transfers"], "accounts"),
        (["withdrawals"], "accounts"),
        (["markets", "prices"], "markets"),
        (["orders"], "orders"),
        (["positions", "close"], "positions"),
        (["lead-traders", "me", "income"], "traders"),
        (["traders", "leaderboard"], "traders"),
        (["followings", "stop"], "followings"),
        (["ops", "markets"], "ops"),
        (["ops", "vouchers"], "vouchers"),
        (["followings", "protection"], "protection"),
        (["widgets"], None),
    ],
)
def test_a_path_is_tagged_by_its_resource(segments, tag):
    assert path_tag(segments) == tag


def test_an_unknown_resource_is_reported_and_keeps_no_declared_tag():
    schema = AutoSchema()
    schema.path, schema.path_prefix = "/api/v1/widgets/{widget_id}", "^/api/v1"
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        tags = schema.get_tags()
    assert bool(GENERATOR_STATS), "an untagged resource must be a schema warning (make schema fails on it)"
    GENERATOR_STATS.reset()
    assert tags == ["widgets"]
    assert "widgets" not in TAG_NAMES


class _RetaggedApi(APIView):
    @extend_schema(operation_id="retagged", summary="Retagged", description="Retagged.", tags=["markets"])
    def get(self, request):
        return Response()


def test_an_explicit_tag_wins_over_the_path():
    schema = SchemaGenerator(patterns=[path("api/v1/ops/retagged", _RetaggedApi.as_view())]).get_schema(
        request=None, public=True
    )
    assert schema["paths"]["/api/v1/ops/retagged"]["get"]["tags"] == ["markets"]


# --- the pages ----------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["api-docs", "api-redoc"])
def test_the_docs_pages_load_only_local_assets_that_exist(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    assets = ASSET.findall(response.content.decode())
    assert assets, "the page references no script"
    remote = [url for url in assets if re.match(r"(?:https?:)?//", url)]
    assert not remote, f"the page loads from outside: {remote}"
    for url in assets:
        assert url.startswith(settings.STATIC_URL), url
        static_path = url.removeprefix(settings.STATIC_URL)
        assert finders.find(static_path), f"{url} is not a static file"
        served = serve(RequestFactory().get(url), static_path, insecure=True)
        assert served.status_code == 200, url


def test_the_schema_is_served(client):
    response = client.get(reverse("schema"))
    assert response.status_code == 200
    assert b"openapi:" in response.content
