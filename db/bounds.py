"""What each column can hold, read from the models, and the one check of a value against it.

SQLite stores whatever it is given; PostgreSQL refuses a number wider than its `Numeric(p, s)` or a text longer
than its `String(n)`, and the whole transaction fails. So every value a user's input reaches is checked here
before it is stored, the same way on both backends: numbers must be finite, within the column's precision (and
non-negative where a negative value means nothing), and are rounded half up to the column's scale before they are
stored (never left to the backend); texts must fit the column's length, or are shortened where a shorter form
keeps their meaning (a file name keeps its extension; a name from a platform is cut).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.orm import InstrumentedAttribute

# Why a value was refused
NOT_A_NUMBER, NEGATIVE, TOO_LARGE, TOO_LONG = "not_a_number", "negative", "too_large", "too_long"


class OutOfBounds(ValueError):
    """A value that does not fit the column it would be stored in.

    Attributes:
        field: the column's attribute name ("investment_done").
        reason: NOT_A_NUMBER, NEGATIVE, TOO_LARGE or TOO_LONG.
        limit: the largest value (a Decimal) or the longest length (an int) the column takes.
        value: what was refused.
    """

    def __init__(self, field: str, reason: str, limit: Decimal | int | None, value: object) -> None:
        super().__init__(f"{field}: {reason} (limit {limit}): {str(value)[:60]!r}")
        self.field, self.reason, self.limit, self.value = field, reason, limit, value


@dataclass(frozen=True)
class Bound:
    """A column's limits: `length` for a String, `precision` and `scale` for a Numeric (None where unbounded)."""

    field: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @property
    def largest(self) -> Decimal | None:
        """The largest absolute value the column holds: Numeric(14, 2) → 999999999999.99."""
        if self.precision is None:
            return None
        scale = self.scale or 0
        return (Decimal(10) ** (self.precision - scale) - Decimal(1).scaleb(-scale)).quantize(Decimal(1).scaleb(-scale))


def bound(column: InstrumentedAttribute[Any]) -> Bound:
    """The limits of a mapped column (`Report.investment_done`), read from its SQLAlchemy type."""
    col_type = column.property.columns[0].type
    field = column.key
    if isinstance(col_type, Numeric):
        return Bound(field, precision=col_type.precision, scale=col_type.scale)
    if isinstance(col_type, String):
        return Bound(field, length=col_type.length)
    return Bound(field)


def check_number(column: InstrumentedAttribute[Any], value: object, negative: bool = False) -> Decimal:
    """`value` as the Decimal the column will store (rounded half up to its scale); OutOfBounds when it is no
    finite number, negative where `negative` is false, or wider than the column."""
    b = bound(column)
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise OutOfBounds(b.field, NOT_A_NUMBER, b.largest, value) from None
    if not number.is_finite():
        raise OutOfBounds(b.field, NOT_A_NUMBER, b.largest, value)
    if number < 0 and not negative:
        raise OutOfBounds(b.field, NEGATIVE, b.largest, value)
    largest = b.largest
    if largest is None:
        return number
    if number.copy_abs() > largest * 10:  # far too wide: do not even try to round it
        raise OutOfBounds(b.field, TOO_LARGE, largest, value)
    rounded = number.quantize(Decimal(1).scaleb(-(b.scale or 0)), rounding=ROUND_HALF_UP)
    if rounded.copy_abs() > largest:
        raise OutOfBounds(b.field, TOO_LARGE, largest, value)
    return rounded


def check_text(column: InstrumentedAttribute[Any], value: str) -> str:
    """`value` when it fits the column's length; OutOfBounds when it is longer."""
    b = bound(column)
    if b.length is not None and len(value) > b.length:
        raise OutOfBounds(b.field, TOO_LONG, b.length, value)
    return value


def fit_text(column: InstrumentedAttribute[Any], value: str) -> str:
    """`value` cut to the column's length (a name given by a platform, which the user cannot shorten here)."""
    b = bound(column)
    return value if b.length is None or len(value) <= b.length else value[: b.length]


def fit_file_name(column: InstrumentedAttribute[Any], name: str) -> str:
    """A file name shortened to the column's length, keeping its extension ("很长的名字….pdf")."""
    b = bound(column)
    if b.length is None or len(name) <= b.length:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        return name[: b.length - 1] + "…"
    keep = b.length - len(ext) - 2  # "…" and "."
    return f"{stem[:keep]}….{ext}"
