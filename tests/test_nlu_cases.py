"""The understanding layer against our own examples (nlu_cases_extra.yaml).

Each case is compared as tests/nlu_cases.py says (intent, organisations, project, indicator, percent, status, and
where a case gives them the task, group, ambiguity choices and "own organisation"). At least 95% must pass; the
accuracy and every failure are printed. The public examples beside the repository are checked
the same way by `.ci/check_shared.py`.
"""

from __future__ import annotations

from pathlib import Path

from handlers.understanding.nlu import NLU
from tests.nlu_cases import REQUIRED_ACCURACY, load_cases, run_cases

EXTRA_CASES = Path(__file__).resolve().parent / "nlu_cases_extra.yaml"


def test_extra_cases(nlu: NLU) -> None:
    cases = load_cases(EXTRA_CASES)
    assert len(cases) >= 60
    accuracy = run_cases(nlu, cases, "tests/nlu_cases_extra.yaml")
    assert accuracy >= REQUIRED_ACCURACY


def test_extra_cases_cover_every_intent() -> None:
    intents = {c["intent"] for c in load_cases(EXTRA_CASES)}
    assert {"progress", "overdue", "unreported", "investment", "my_tasks", "help", "report", "unknown"} <= intents
