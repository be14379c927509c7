"""The facts of the customer's published plan (tests/data/plan_facts.yaml) and how tests compare with them.

Used by the tests of the shipped plan and by `.ci/check_shared.py`, which checks the facts against the document.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

FACTS_FILE = Path(__file__).resolve().parent / "data" / "plan_facts.yaml"
FACTS: dict[str, Any] = yaml.safe_load(FACTS_FILE.read_text(encoding="utf-8"))
_NUMERIC_TARGET = re.compile(r"^(≥|>|≤|<)?(\d+(?:\.\d+)?)$")
_OPS = {"≥": ">=", ">": ">", "≤": "<=", "<": "<", None: ">="}


def norm(text: str | None) -> str:
    """Text compared without spaces and with half-width punctuation."""
    table = str.maketrans({"；": ";", "，": ",", "（": "(", "）": ")", "：": ":"})
    return re.sub(r"\s+", "", (text or "").translate(table))


def expected_check(target: str) -> tuple[str, Decimal | None]:
    """How a target from the document is judged: a number (bare, or after ≥ > ≤ <) against that number, a bare
    number as "at least"; anything else by people ("text")."""
    m = _NUMERIC_TARGET.match(norm(target))
    if not m:
        return "text", None
    return _OPS[m.group(1)], Decimal(m.group(2))


def expand(names: list[str]) -> set[str]:
    """Organisation names, with the groups of the facts file replaced by their members."""
    out: set[str] = set()
    for name in names:
        out |= set(FACTS["groups"].get(name, [name]))
    return out
