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
        operation_id="accounts_list",
        summary="List your accounts",
        description=(
            "Every ledger account you own (spot, futures, your followings' sub-accounts and the like), "
            "each with its balance, the amount held and the amount available. Any signed-in user sees "
            "only their own; read-only."
        ),
        responses={200: AccountOutputSerializer(many=True), 401: ErrorSerializer},
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
        summary="Transfer between your spot and futures accounts",
        description=(
            "Moves money between your own spot and futures accounts in one ledger entry; an amount above "
            "what the source has available is refused and nothing moves. Any signed-in user, on their own "
            "accounts. Needs an `Idempotency-Key` header: a replay with the same body returns the first "
            "response."
        ),
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

    @extend_schema(
        operation_id="withdrawals_list",
        summary="List your withdrawal requests",
        description=(
            "Your requests to withdraw to an external address, newest first and cursor-paginated, each "
            "with its status (pending, approved, rejected) and the reason of the decision. Any signed-in "
            "user; read-only."
        ),
        responses={200: WithdrawalOutputSerializer(many=True)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WithdrawalOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="withdrawals_create",
        summary="Request a withdrawal to an external address",
        description=(
            "Holds the amount on your spot account and records a request for Finance to review: the money "
            "leaves only when an operator approves it, and a rejection releases the hold. Any signed-in "
            "user, from their own spot account. Needs an `Idempotency-Key` header: a replay with the same "
            "body returns the first response."
        ),
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
        summary="Credit a deposit to a user's spot account",
        description=(
            "Records a deposit received in the platform's external custody by crediting the user's spot "
            "account; the operator and the reason are recorded with the entry. Operators holding "
            "`accounts.credit_deposit` only. Needs an `Idempotency-Key` header (scoped to the operator), "
            "so a retried request credits once."
        ),
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

    @extend_schema(
        operation_id="ops_withdrawals_approve",
        summary="Approve a withdrawal request",
        description=(
            "Finance approves a pending withdrawal: the held amount leaves the user's spot account for "
            "external custody. A reason is required and recorded with the operator; approving twice "
            "changes nothing. Operators holding `accounts.review_withdrawal` only. Needs an "
            "`Idempotency-Key` header: a replay with the same body returns the first response."
        ),
        **_DECISION_SCHEMA,
    )
    def post(self, request, withdrawal_id: int):
        return super().post(request, withdrawal_id)


class OpsWithdrawalRejectApi(_WithdrawalDecisionApi):
    decide = staticmethod(withdrawal_reject)

    @extend_schema(
        operation_id="ops_withdrawals_reject",
        summary="Reject a withdrawal request",
        description=(
            "Finance rejects a pending withdrawal: the hold is released and the money is available on the "
            "user's spot account again. A reason is required and recorded with the operator; rejecting "
            "twice changes nothing. Operators holding `accounts.review_withdrawal` only. Needs an "
            "`Idempotency-Key` header: a replay with the same body returns the first response."
        ),
        **_DECISION_SCHEMA,
    )
    def post(self, request, withdrawal_id: int):
        return super().post(request, withdrawal_id)
