"""The OpenAPI schema's conventions: one tag per resource, descriptions that are the view's own.

Kept apart from ``config.api``: DRF imports that module while it builds its generic views
(the pagination class), and drf-spectacular's AutoSchema imports those views in turn.
"""

from __future__ import annotations

import inspect

from drf_spectacular.drainage import warn
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import get_doc

# The first segment of a path under /api/v1/ names the resource, and the resource its tag
# in the API docs (each described in SPECTACULAR_SETTINGS["TAGS"]).
RESOURCE_TAGS = {
    "auth": "auth",
    "me": "auth",
    "accounts": "accounts",
    "transfers": "accounts",
    "withdrawals": "accounts",
    "markets": "markets",
    "orders": "orders",
    "positions": "positions",
    "lead-traders": "traders",
    "traders": "traders",
    "followings": "followings",
    "vouchers": "vouchers",
    "ops": "ops",
}
# Vouchers and protected programs are reached under other resources (a following, the
# operators' routes) and a reader looks for them by feature: a later segment naming one wins.
FEATURE_TAGS = {"vouchers": "vouchers", "protection": "protection"}


def path_tag(segments: list[str]) -> str | None:
    """The tag of a path below /api/v1/ given as its segments (parameters left out); None when it has none."""
    for segment in segments[1:]:
        if segment in FEATURE_TAGS:
            return FEATURE_TAGS[segment]
    return RESOURCE_TAGS.get(segments[0]) if segments else None


class AutoSchema(SpectacularAutoSchema):
    """Tags each operation by its resource; a description never comes from a mixin or a base class.

    An explicit ``extend_schema(tags=...)`` still wins. A path whose resource has no tag is
    reported as a schema warning (``make schema`` fails on it) and keeps its first segment as
    its tag, which the docs test refuses: a new resource gets its tag on purpose.
    """

    def get_tags(self) -> list[str]:
        segments = self._tokenize_path()
        tag = path_tag(segments)
        if tag is None:
            first = segments[0] if segments else ""
            warn(f"no API docs tag for the path segment {first!r}: add it to config.openapi.RESOURCE_TAGS")
            return [first]
        return [tag]

    def get_description(self) -> str:
        # drf-spectacular inherits a class docstring through the MRO, so a view without one of
        # its own showed the text of a mixin (MoneyMovingApi) or of a private base view.
        method = getattr(self.view, getattr(self.view, "action", self.method.lower()), None)
        own_doc = self.view.__class__.__dict__.get("__doc__")
        return get_doc(method) or (inspect.cleandoc(own_doc) if own_doc else "")


def unused_tags_drop(result, generator, request, public):
    """Postprocessing hook: list only the tags some operation carries, so no section shows empty."""
    used = {tag for operations in result.get("paths", {}).values() for op in operations.values() for tag in op["tags"]}
    result["tags"] = [tag for tag in result.get("tags", []) if tag["name"] in used]
    return result
