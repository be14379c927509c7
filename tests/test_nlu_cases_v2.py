"""The understanding layer against our own phrasings of the questions of a plan under way (issue 15):
tests/nlu_cases_v2_extra.yaml (290 cases) and tests/nlu_cases_heldout.yaml (179), each written by someone who
did not read the parser, from what coordinators and officials say.

Each case is compared as tests/nlu_cases.py says (intent, units, group, window, kind, list item, status, scope).
At least 95 % must pass overall and for every intent with cases; the accuracy and every failure are printed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from handlers.understanding import nlu as nlu_mod
from handlers.understanding.nlu import NLU
from tests.nlu_cases import CASES_TODAY, REQUIRED_ACCURACY, load_cases, mismatches, run_cases

V2_CASES = Path(__file__).resolve().parent / "nlu_cases_v2_extra.yaml"
# A second set of 179 phrasings, written later and blind like the first; measured once before any change made
# for it (165/179 = 92.2 %), then kept as a regression set.
HELDOUT_CASES = Path(__file__).resolve().parent / "nlu_cases_heldout.yaml"
# The intents of a plan under way (issue 15): every one of them needs its cases.
NEW_INTENTS = {
    nlu_mod.DUE,
    nlu_mod.COUNT,
    nlu_mod.LAGGING,
    nlu_mod.BLOCKED_LIST,
    nlu_mod.PROBLEMS,
    nlu_mod.UNMET,
    nlu_mod.REPORTED,
    nlu_mod.RANKING,
    nlu_mod.URGE,
    nlu_mod.MY_UNREPORTED,
    nlu_mod.REVIEW_QUEUE,
    nlu_mod.RETURNED,
}


def test_v2_phrasings(shipped_nlu: NLU) -> None:
    cases = load_cases(V2_CASES)
    assert len(cases) >= 200
    assert run_cases(shipped_nlu, cases, "tests/nlu_cases_v2_extra.yaml") >= REQUIRED_ACCURACY


def test_second_phrasings(shipped_nlu: NLU) -> None:
    cases = load_cases(HELDOUT_CASES)
    assert len(cases) >= 120
    assert run_cases(shipped_nlu, cases, "tests/nlu_cases_heldout.yaml") >= REQUIRED_ACCURACY


def test_v2_phrasings_per_intent(shipped_nlu: NLU) -> None:
    """No new intent hides behind the others' accuracy."""
    cases = load_cases(V2_CASES)
    total: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for case in cases:
        total[case["intent"]] += 1
        passed[case["intent"]] += not mismatches(
            case, shipped_nlu.understand(case["text"], today=CASES_TODAY), shipped_nlu.lexicon
        )
    assert NEW_INTENTS <= set(total), f"intents without cases: {NEW_INTENTS - set(total)}"
    low = {i: f"{passed[i]}/{n}" for i, n in total.items() if passed[i] / n < REQUIRED_ACCURACY}
    for intent in sorted(total):
        print(f"{intent:14} {passed[intent]}/{total[intent]}")
    assert not low, f"intents under {REQUIRED_ACCURACY:.0%}: {low}"
    assert all(total[i] >= 14 for i in NEW_INTENTS), {i: total[i] for i in NEW_INTENTS}


def test_a_window_is_read_only_with_a_day() -> None:
    """Without a day to count from (a tool that has no clock), no window is made up."""
    u = NLU().understand("本月到期的任务")
    assert u.window_start is None and u.window_end is None
