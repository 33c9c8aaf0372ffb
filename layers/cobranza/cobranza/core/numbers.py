"""Numbers as they are stored (SPEC §7: nothing unreadable is ever stored).

DynamoDB keeps a number with at most 38 significant digits and a magnitude from 1E-130 to
9.99...E+125; boto3 refuses anything else when it writes and when it reads, so one stored
``1e-300`` would break every later read of its item. Every number a request brings is put in
one of two shapes before it is stored:

- ``fixed(value, places)``: a quantity with a known scale (coordinates to 7 decimals, about a
  centimetre; accuracy and battery to 1 decimal; money to 2), rounded half-even, with no
  negative zero;
- ``storable(value)``: any other number (an answer to a `number` question), rounded to 38
  significant digits, and 0 when its magnitude is below DynamoDB's smallest.

Both raise ``ValueError`` for what no rounding makes storable: NaN, infinities, and magnitudes
from 1E+126 up (the API's schemas bound every number far below that, so a request never gets
here with one).

Pure functions: no AWS, no clock.
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

MAX_DIGITS = 38
#: The largest exponent a stored number may have (9.99...E+125).
MAX_ADJUSTED_EXPONENT = 125
#: Below this magnitude DynamoDB refuses a number: it is stored as 0.
SMALLEST = Decimal("1E-130")

COORDINATE_PLACES = 7
ACCURACY_PLACES = 1
BATTERY_PLACES = 1
MONEY_PLACES = 2

_CONTEXT = Context(prec=MAX_DIGITS, rounding=ROUND_HALF_EVEN)


def _decimal(value: int | float | Decimal | str) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {str(value)[:40]}") from None
    if not number.is_finite():
        raise ValueError("not a finite number")
    return number


def _checked(number: Decimal) -> Decimal:
    if number.is_zero():
        return Decimal(0)  # no negative zero, no "0E-7"
    if number.adjusted() > MAX_ADJUSTED_EXPONENT:
        raise ValueError("a number too large to store")
    return number


def storable(value: int | float | Decimal | str) -> Decimal:
    """``value`` as DynamoDB stores it: at most 38 significant digits, 0 below 1E-130."""
    number = _decimal(value)
    if abs(number) < SMALLEST:
        return Decimal(0)
    return _checked(_CONTEXT.plus(number))


def fixed(value: int | float | Decimal | str, places: int) -> Decimal:
    """``value`` rounded half-even to ``places`` decimals (``1e-300`` is 0)."""
    number = _decimal(value)
    if number.adjusted() > MAX_ADJUSTED_EXPONENT:
        raise ValueError("a number too large to store")
    step = Decimal(1).scaleb(-places)
    room = Context(prec=max(number.adjusted(), 0) + places + 2)  # every digit the quantized value has
    return _checked(_CONTEXT.plus(number.quantize(step, rounding=ROUND_HALF_EVEN, context=room)))
