"""Sign-up, token login and logout, and the current user."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.client_address import client_address
from accounts.models import AccessKind
from accounts.services.access import access_record
from accounts.services.users import user_register
from config.api import ErrorSerializer
from config.errors import ServiceError


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    is_operator = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


def _record_access(request, *, user, kind: AccessKind) -> None:
    address = client_address(request)
    if address:
        access_record(user=user, kind=kind, address=address)


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RegisterInput"

        email = serializers.EmailField()
        password = serializers.CharField(write_only=True, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_register",
        summary="Register a new user",
        description=(
            "Creates a user with an empty spot account and an empty futures account and returns it. "
            "Anyone may call it, without credentials; the password must pass the platform's password "
            "rules and an email already in use is refused. Throttled per client."
        ),
        request=InputSerializer,
        responses={201: UserOutputSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        _record_access(request, user=user, kind=AccessKind.REGISTRATION)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    """Create a token for a mobile client (POST) or revoke the caller's token (DELETE)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenCreateInput"

        email = serializers.EmailField()
        password = serializers.CharField(write_only=True, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "TokenOutput"

        token = serializers.CharField()

    def get_permissions(self):
        return [AllowAny()] if self.request.method == "POST" else super().get_permissions()

    def get_authenticators(self):
        # Logging in needs no credentials beyond the body; a stale token must not block it.
        request = getattr(self, "request", None)
        return [] if getattr(request, "method", None) == "POST" else super().get_authenticators()

    @extend_schema(
        operation_id="auth_token_create",
        summary="Log in for an API token",
        description=(
            "Exchanges an email and password for the user's API token, to send as `Authorization: Token "
            "<key>` on every other call; the same token comes back until it is revoked. Anyone may call "
            "it: only the body is read, so a stale token never blocks a login. Wrong credentials or an "
            "inactive user are refused with `invalid_credentials`. Throttled per client."
        ),
        request=InputSerializer,
        responses={200: OutputSerializer, 400: ErrorSerializer, 429: ErrorSerializer},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request, email=data.validated_data["email"].lower(), password=data.validated_data["password"]
        )
        if user is None or not user.is_active:
            raise ServiceError("email or password is wrong", code="invalid_credentials")
        # authenticate() alone never sends user_logged_in, so this is the login's only record.
        _record_access(request, user=user, kind=AccessKind.LOGIN)
        token, _ = Token.objects.get_or_create(user=user)
        return Response(self.OutputSerializer({"token": token.key}).data)

    @extend_schema(
        operation_id="auth_token_revoke",
        summary="Log out and revoke your API token",
        description=(
            "Deletes the caller's API token, so every client using it must log in again. Any signed-in "
            "user; nothing else changes."
        ),
        request=None,
        responses={204: None, 401: ErrorSerializer},
    )
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(
        operation_id="me",
        summary="Show the signed-in user",
        description=(
            "Your user: id, email, whether you are an operator, and when you joined. Any signed-in user; read-only."
        ),
        responses={200: UserOutputSerializer, 401: ErrorSerializer},
    )
    def get(self, request):
        return Response(UserOutputSerializer(request.user).data)
