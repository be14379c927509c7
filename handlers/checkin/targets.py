"""A task's quantified target (1.2万亩, 7个) and how a quantity typed against it becomes progress."""

from __future__ import annotations

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


def in_target_unit(item: Item, value: Decimal, unit: str) -> tuple[Decimal, str]:
    """`value` `unit` in the target's unit (8000 亩 → 0.8 万亩); as typed when there is no target to convert to."""
    goal = target(item)
    if goal is None:
        return value, unit
    converted = convert(value, unit, goal[1])
    return (converted, goal[1]) if converted is not None else (value, unit)


def percent_of_target(item: Item, value: Decimal, unit: str) -> tuple[Decimal | None, str | None]:
    """(the share of the target the quantity is, capped at 100; an error when its unit does not fit the target's).
    (None, None) when the item has no quantified target."""
    goal = target(item)
    if goal is None:
        return None, None
    amount, goal_unit = goal
    converted = convert(value, unit, goal_unit)
    if converted is None:
        return None, texts.QUICK_UNIT_MISMATCH.format(unit=unit, target=f"{fmt_number(amount, 4)}{goal_unit}")
    if amount <= 0:
        return None, None
    return min(Decimal(100), converted / amount * 100), None
