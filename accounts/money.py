"""Money: one place that parses, validates and rounds USDT amounts.

Amounts are ``Decimal`` stored as ``NUMERIC(28, 8)``. A float never becomes money:
it is refused, not converted, because its binary value is not the decimal the
caller meant.
"""

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation

from config.errors import InvalidAmount

MAX_DIGITS = 28
DECIMAL_PLACES = 8
QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)  # 0.00000001
MAX_AMOUNT = Decimal(10) ** (MAX_DIGITS - DECIMAL_PLACES) - QUANTUM
ZERO = Decimal("0")
CURRENCY = "USDT"


def parse_amount(value: object, *, field: str = "amount", positive: bool = True) -> Decimal:
    """Return ``value`` as an exact Decimal or raise ``InvalidAmount`` naming ``field``.

    Accepts a Decimal, an int or a decimal string. Refuses floats (and bools),
    NaN and infinities, more than 8 decimal places, values beyond NUMERIC(28, 8),
    and — when ``positive`` — zero and negatives.
    """
    if isinstance(value, bool | float):
        raise InvalidAmount(field, "must be a decimal string, not a binary float")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidAmount(field, "is not a number") from None
    else:
        raise InvalidAmount(field, "must be a decimal string")
    if not amount.is_finite():
        raise InvalidAmount(field, "must be a finite number")
    if amount.as_tuple().exponent < -DECIMAL_PLACES and amount != amount.quantize(QUANTUM):
        raise InvalidAmount(field, f"has more than {DECIMAL_PLACES} decimal places")
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmount(field, f"exceeds the largest amount ({MAX_AMOUNT})")
    if positive and amount <= 0:
        raise InvalidAmount(field, "must be greater than zero")
    return amount.quantize(QUANTUM)


def quantize(amount: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round a computed amount to 8 places with an explicit rounding mode.

    Use ``ROUND_DOWN`` for what the platform pays out (never more than owed) and
    book the residue to a platform account so a split always sums exactly.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be Decimal, got {type(amount).__name__}")
    return amount.quantize(QUANTUM, rounding=rounding)


__all__ = ["CURRENCY", "MAX_AMOUNT", "QUANTUM", "ROUND_DOWN", "ZERO", "parse_amount", "quantize"]
