"""Idempotency-Key handling for money-moving API requests.

The first request with a key executes and its response is stored; a replay
with the same body gets that stored response; a replay with a different body
gets 409. The record is inserted first, inside the request's transaction, so
a concurrent identical request blocks on the unique index until the first
commits and then replays it: it executes once.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from django.db import connection, transaction
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import IdempotencyRecord
from config.api import error_response
from config.errors import InvalidInput, ServiceError

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# Printable ASCII only: a key is compared byte for byte and stored in a CharField,
# so a control or non-ASCII character is a client bug, not a key.
_KEY_PATTERN = re.compile(r"[\x20-\x7e]+")


def _request_hash(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _claim(user_id: int, scope: str, key: str, request_hash: str) -> bool:
    """Insert the record; False when it already exists (after waiting for its writer)."""
    table = IdempotencyRecord._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, scope, key, request_hash, created_at) "
            "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP) ON CONFLICT DO NOTHING RETURNING id",
            [user_id, scope, key, request_hash],
        )
        return cursor.fetchone() is not None


def idempotency_key_require(request: Request) -> str:
    """The request's Idempotency-Key, or a 400 naming the header when it is missing or malformed."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise InvalidInput(
            HEADER, "this request moves money and needs an Idempotency-Key header", code="idempotency_key_missing"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(HEADER, f"must be at most {MAX_KEY_LENGTH} characters", code="idempotency_key_invalid")
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidInput(
            HEADER, "must be printable ASCII characters only (e.g. a UUID)", code="idempotency_key_invalid"
        )
    return key


class MoneyMovingApi:
    """Mixin for API views whose ``money_methods`` move money.

    The Idempotency-Key header is checked right after authentication and
    permissions, before the body or any object is read, so a request without
    a usable key is always a 400 naming the header and changes nothing —
    previews included. ``config.api_routes`` lists the same methods per route,
    and a test holds the two in step.
    """

    money_methods: tuple[str, ...] = ("POST",)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in self.money_methods:
            idempotency_key_require(request)


def idempotent(request: Request, scope: str, execute: Callable[[], Response]) -> Response:
    """Run ``execute`` at most once per (user, scope, Idempotency-Key)."""
    key = idempotency_key_require(request)
    request_hash = _request_hash(request)
    with transaction.atomic():
        if not _claim(request.user.pk, scope, key, request_hash):
            record = IdempotencyRecord.objects.get(user=request.user, scope=scope, key=key)
            if record.request_hash != request_hash:
                return error_response(
                    code="idempotency_conflict",
                    detail=f"{HEADER} {key!r} was already used with a different request",
                    fields={HEADER: ["reused with a different request body"]},
                    status_code=409,
                )
            response = Response(record.response_body, status=record.response_status)
            response["Idempotent-Replay"] = "true"
            return response
        try:
            with transaction.atomic():
                response = execute()
        except ServiceError as exc:
            # The operation ran and a rule refused it: that outcome is the answer to this key.
            response = error_response(code=exc.code, detail=exc.detail, fields=exc.fields, status_code=exc.status)
        body = json.loads(json.dumps(response.data, default=str))
        IdempotencyRecord.objects.filter(user=request.user, scope=scope, key=key).update(
            response_status=response.status_code, response_body=body
        )
    return response
