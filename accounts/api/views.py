"""Accounts, transfers, withdrawals and the operators' deposit and review endpoints."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.fields import AmountField, MoneyOutField
from accounts.api.permissions import operator_with
from accounts.idempotency import MoneyMovingApi, idempotency_key_require, idempotent
from accounts.models import JournalEntry, User, Withdrawal
from accounts.selectors import account_list, withdrawal_list
from accounts.services.flows import (
    TRANSFERABLE_KINDS,
    deposit_credit,
    transfer_create,
    withdrawal_approve,
    withdrawal_reject,
    withdrawal_request,
)
from config.api import ErrorSerializer

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Unique per operation; a replay with the same body returns the first response.",
)
MONEY_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 409: ErrorSerializer, 422: ErrorSerializer}


class AccountOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    ref = serializers.CharField()
    currency = serializers.CharField()
    balance = MoneyOutField()
    held = MoneyOutField()
    available = MoneyOutField()


class EntryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    reference = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class WithdrawalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    amount = MoneyOutField()
    address = serializers.CharField()
    status = serializers.CharField()
    requested_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_reason = serializers.CharField()


class AccountListApi(APIView):
    @extend_schema(
        operation_id="accounts_list", responses={200: AccountOutputSerializer(many=True), 401: ErrorSerializer}
    )
    def get(self, request):
        return Response(AccountOutputSerializer(account_list(user=request.user), many=True).data)


class TransferCreateApi(MoneyMovingApi, APIView):
    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TransferCreateInput"

        source = serializers.ChoiceField(choices=TRANSFERABLE_KINDS)
        destination = serializers.ChoiceField(choices=TRANSFERABLE_KINDS)
        amount = AmountField()

    @extend_schema(
        operation_id="transfers_create",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: EntryOutputSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            entry = transfer_create(
                user=request.user,
                source_kind=data.validated_data["source"],
                destination_kind=data.validated_data["destination"],
                amount=data.validated_data["amount"],
                idempotency_key=idempotency_key_require(request),
            )
            return Response(EntryOutputSerializer(entry).data, status=status.HTTP_201_CREATED)

        return idempotent(request, "transfers", execute)


class WithdrawalListCreateApi(MoneyMovingApi, GenericAPIView):
    serializer_class = WithdrawalOutputSerializer

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WithdrawalCreateInput"

        amount = AmountField()
        address = serializers.CharField(max_length=200)

    def get_queryset(self):
        return withdrawal_list(user=self.request.user)

    @extend_schema(operation_id="withdrawals_list", responses={200: WithdrawalOutputSerializer(many=True)})
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WithdrawalOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="withdrawals_create",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: WithdrawalOutputSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def execute():
            withdrawal = withdrawal_request(
                user=request.user, idempotency_key=idempotency_key_require(request), **data.validated_data
            )
            return Response(WithdrawalOutputSerializer(withdrawal).data, status=status.HTTP_201_CREATED)

        return idempotent(request, "withdrawals", execute)


class OpsDepositCreateApi(MoneyMovingApi, APIView):
    permission_classes = [operator_with("accounts.credit_deposit")]

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "OpsDepositCreateInput"

        user_id = serializers.IntegerField(min_value=1)
        amount = AmountField()
        reason = serializers.CharField(max_length=500)

    @extend_schema(
        operation_id="ops_deposits_create",
        parameters=[IDEMPOTENCY_HEADER],
        request=InputSerializer,
        responses={201: EntryOutputSerializer, 403: ErrorSerializer, 404: ErrorSerializer, **MONEY_ERRORS},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = get_object_or_404(User, pk=data.validated_data["user_id"])

        def execute():
            entry: JournalEntry = deposit_credit(
                user=user,
                amount=data.validated_data["amount"],
                operator=request.user,
                reason=data.validated_data["reason"],
                idempotency_key=f"api:{request.user.pk}:{idempotency_key_require(request)}",
            )
            return Response(EntryOutputSerializer(entry).data, status=status.HTTP_201_CREATED)

        return idempotent(request, "ops-deposits", execute)


class _WithdrawalDecisionApi(MoneyMovingApi, APIView):
    permission_classes = [operator_with("accounts.review_withdrawal")]
    decide = None

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "WithdrawalDecisionInput"

        reason = serializers.CharField(max_length=500)

    def post(self, request, withdrawal_id: int):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        withdrawal = get_object_or_404(Withdrawal, pk=withdrawal_id)

        def execute():
            decided = type(self).decide(withdrawal_id=withdrawal.pk, operator=request.user, **data.validated_data)
            return Response(WithdrawalOutputSerializer(decided).data)

        return idempotent(request, f"ops-withdrawal-{type(self).decide.__name__}", execute)


_DECISION_SCHEMA = {
    "parameters": [IDEMPOTENCY_HEADER],
    "request": _WithdrawalDecisionApi.InputSerializer,
    "responses": {200: WithdrawalOutputSerializer, 403: ErrorSerializer, 404: ErrorSerializer, **MONEY_ERRORS},
}


class OpsWithdrawalApproveApi(_WithdrawalDecisionApi):
    decide = staticmethod(withdrawal_approve)

    @extend_schema(operation_id="ops_withdrawals_approve", **_DECISION_SCHEMA)
    def post(self, request, withdrawal_id: int):
        return super().post(request, withdrawal_id)


class OpsWithdrawalRejectApi(_WithdrawalDecisionApi):
    decide = staticmethod(withdrawal_reject)

    @extend_schema(operation_id="ops_withdrawals_reject", **_DECISION_SCHEMA)
    def post(self, request, withdrawal_id: int):
        return super().post(request, withdrawal_id)
