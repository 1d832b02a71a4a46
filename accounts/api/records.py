"""Ledger records over the API: every movement of one of the caller's accounts, newest first.

The same output and filters serve a following's sub-account records
(``/followings/{id}/records``) and any own account (``/accounts/{id}/records``).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView

from accounts.api.fields import MoneyOutField
from accounts.selectors import account_get, account_records
from config.api import ErrorSerializer

ACCOUNT_PATH = OpenApiParameter("account_id", int, OpenApiParameter.PATH, description="One of your accounts.")


class RecordOutputSerializer(serializers.Serializer):
    """One posting on the account: a credit (positive) or a debit (negative), with the entry behind it."""

    class Meta:
        ref_name = "RecordOutput"

    id = serializers.IntegerField()
    entry_id = serializers.IntegerField()
    kind = serializers.CharField(source="entry.kind", help_text="What moved the money, e.g. transfer, futures_order.")
    amount = MoneyOutField(help_text="Positive: into the account; negative: out of it.")
    currency = serializers.CharField()
    reference = serializers.CharField(source="entry.reference")
    reason = serializers.CharField(source="entry.reason")
    created_at = serializers.DateTimeField(source="entry.created_at")


class RecordFilterSerializer(serializers.Serializer):
    class Meta:
        ref_name = "RecordFilter"

    kind = serializers.CharField(required=False, max_length=48, help_text="Only entries of this kind.")
    since = serializers.DateTimeField(required=False, help_text="From this time (inclusive).")
    until = serializers.DateTimeField(required=False, help_text="Up to this time (exclusive).")

    def validate(self, attrs):
        if "since" in attrs and "until" in attrs and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError({"until": ["must be later than since"]})
        return attrs


class AccountRecordListApi(GenericAPIView):
    """Movements of one of your accounts.

    Every ledger movement of the account (spot, futures or a sub-account), newest first,
    cursor-paginated; filter by entry kind and by time. Anyone else's account answers 404.
    """

    serializer_class = RecordOutputSerializer

    @extend_schema(
        operation_id="accounts_records_list",
        summary="List the movements of one of your accounts",
        description=(
            "Every ledger movement of one of your accounts (spot, futures or a sub-account), newest first "
            "and cursor-paginated, each a credit or a debit with the entry behind it; filter by entry "
            "kind and by time. Any signed-in user, on their own accounts: anyone else's account answers "
            "404. Read-only."
        ),
        parameters=[ACCOUNT_PATH, RecordFilterSerializer],
        responses={
            200: RecordOutputSerializer(many=True),
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request, account_id: int):
        account = account_get(user=request.user, account_id=account_id)
        if account is None:
            raise NotFound(f"no account {account_id} of yours")
        query = RecordFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(account_records(account=account, **query.validated_data))
        return self.get_paginated_response(RecordOutputSerializer(page, many=True).data)
