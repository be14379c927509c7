"""TEMPORARY: stand-ins for read_percent / parse_quantity / convert until the values branch lands."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from handlers.understanding.numbers import parse_percent, to_number


@dataclass(frozen=True)
class PercentReading:
    value: Decimal
    low: Decimal | None = None
    high: Decimal | None = None
    approx: bool = False
    maybe_fraction: bool = False


def read_percent(text: str, bare_number: bool = True) -> PercentReading | None:
    t = text.strip()
    if re.fullmatch(r"0?\.\d+|1\.0*", t):
        return PercentReading(Decimal(t), maybe_fraction=True)
    v = parse_percent(t, bare_number)
    return PercentReading(v) if v is not None else None


@dataclass(frozen=True)
class Quantity:
    value: Decimal
    unit: str
    approx: bool = False


_UNITS = {"万亩": ("亩", Decimal(10000)), "亩": ("亩", Decimal(1)), "个": ("个", Decimal(1)), "家": ("家", Decimal(1))}


def parse_quantity(text: str) -> Quantity | None:
    m = re.search(r"([0-9.]+|[一二三四五六七八九十百千万两零〇点]+)\s*(万亩|亩|个|家|人)", text)
    if not m:
        return None
    v = to_number(m.group(1))
    return Quantity(v, m.group(2)) if v is not None else None


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal | None:
    if from_unit == to_unit:
        return value
    a, b = _UNITS.get(from_unit), _UNITS.get(to_unit)
    if a is None or b is None or a[0] != b[0]:
        return None
    return value * a[1] / b[1]
