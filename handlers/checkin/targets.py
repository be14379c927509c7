"""A task's quantified target (1.2万亩, 7个) and how a quantity typed against it becomes progress."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from db.models import Item
from handlers import texts
from handlers.understanding.numbers import convert, fmt_number


def target(item: Item) -> tuple[Decimal, str] | None:
    """The first target of `item` with a value and a unit, other than a percentage."""
    for t in item.targets or []:
        value, unit = t.get("value"), t.get("unit")
        if value is not None and unit and unit != "%":
            return Decimal(str(value)), str(unit)
    return None


@dataclass(frozen=True)
class Measured:
    """A quantity typed against an item's target."""

    value: Decimal  # in the target's unit (8000 亩 → 0.8 万亩); as typed when the item has no target
    unit: str
    percent: Decimal | None  # the share of the target, capped at 100; None without a quantified target


def measure(item: Item, value: Decimal, unit: str) -> Measured | str:
    """`value` `unit` against `item`'s target, converted once; the refusal (a text) when its unit does not fit."""
    goal = target(item)
    if goal is None:
        return Measured(value, unit, None)
    amount, goal_unit = goal
    converted = convert(value, unit, goal_unit)
    if converted is None:
        return texts.QUICK_UNIT_MISMATCH.format(unit=unit, target=f"{fmt_number(amount, 4)}{goal_unit}")
    percent = min(Decimal(100), converted / amount * 100) if amount > 0 else None
    return Measured(converted, goal_unit, percent)
