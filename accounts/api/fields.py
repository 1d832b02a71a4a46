"""Serializer fields for money."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.money import parse_amount
from config.errors import InvalidAmount


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,20}(\.\d{1,8})?$", "example": "100.50"})
class AmountField(serializers.Field):
    """A positive USDT amount as a decimal string (or integer); JSON floats are refused."""

    def to_internal_value(self, data):
        try:
            return parse_amount(data, field=self.field_name or "amount")
        except InvalidAmount as exc:
            raise serializers.ValidationError(exc.fields[next(iter(exc.fields))][0]) from None

    def to_representation(self, value):
        return format(value, "f")


@extend_schema_field(OpenApiTypes.STR)
class MoneyOutField(serializers.DecimalField):
    def __init__(self, **kwargs):
        super().__init__(max_digits=28, decimal_places=8, coerce_to_string=True, **kwargs)
