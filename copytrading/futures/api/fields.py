"""Serializer fields of the futures API: decimal strings, never JSON floats."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import AmountField
from accounts.money import parse_amount
from config.errors import InvalidAmount


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": r"^-?\d{1,20}(\.\d{1,8})?$", "example": "-25.5"}
)
class SignedAmountField(AmountField):
    """A non-zero USDT amount as a decimal string (or integer), positive or negative; JSON floats are refused."""

    def to_internal_value(self, data):
        try:
            amount = parse_amount(data, field=self.field_name or "amount", positive=False)
        except InvalidAmount as exc:
            raise serializers.ValidationError(exc.fields[next(iter(exc.fields))][0]) from None
        if amount == 0:
            raise serializers.ValidationError("must not be zero")
        return amount
