"""API conventions shared by every app: one error body, cursor pagination."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, pagination, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ServiceError


class ErrorSerializer(serializers.Serializer):
    """Every error the API returns: ``{"code", "detail", "fields"}``."""

    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


def error_response(*, code: str, detail: str, fields: dict | None = None, status_code: int = 400) -> Response:
    return Response({"code": code, "detail": detail, "fields": fields or {}}, status=status_code)


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list):
                out[key] = [str(v) for v in value]
            else:
                out[key] = [str(value)]
        return out
    return {}


def exception_handler(exc, context):
    """Map service errors and DRF exceptions to the one error body."""
    if isinstance(exc, ServiceError):
        return error_response(code=exc.code, detail=exc.detail, fields=exc.fields, status_code=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = (
            _flatten(exc.detail)
            if isinstance(exc.detail, dict)
            else {"non_field_errors": _flatten({"x": exc.detail})["x"]}
        )
        summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        response.data = {"code": "invalid", "detail": summary or "invalid input", "fields": fields}
        return response
    codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
    code = codes if isinstance(codes, str) else "error"
    detail = exc.detail if isinstance(getattr(exc, "detail", None), str) else str(getattr(exc, "detail", exc))
    response.data = {"code": code, "detail": str(detail), "fields": {}}
    if response.status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Token realm="api"'
    return response


class CursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
