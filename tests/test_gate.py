"""The character gates in front of slow patterns (`handlers.gate`): the characters they require are read from the
pattern soundly, so a gated search finds exactly what the pattern finds, on our case files and on strings made to
match each pattern."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import vocabulary
from handlers.gate import Gated, required_chars
from handlers.understanding import cues, intents, report
from handlers.understanding.names import NUMBERED_RE
from handlers.understanding.text import normalize_for_matching

HERE = Path(__file__).resolve().parent
GATED = [
    cues.URGE_RE,
    cues.UNMET_RE,
    cues.REPORTED_RE,
    cues.OWN_START_RE,
    cues.MY_UNREPORTED_RE,
    cues.RANKING_RE,
    cues.HOW_TO_RE,
    cues.COUNTIES_RE,
    intents.UNREPORTED_RE,
    intents.OVERDUE_RE,
    intents.ON_LEAVE_RE,
    intents.ASKS_FOR_HELP,
    report.PERCENT_HINT,
    report.NUMBERED,
    Gated(vocabulary.DONE_RE),
    Gated(vocabulary.UNFINISHED_RE),
    Gated(report.QUANTITY_AFTER_VERB),
    Gated(NUMBERED_RE),
]


def test_required_chars_reads_the_pattern() -> None:
    assert required_chars(re.compile("滞后|落后")) == frozenset("滞落")  # a branch: one of each alternative
    assert required_chars(re.compile("(谁|哪个)汇报了")) == frozenset("汇")  # a sequence: its rarest part
    assert required_chars(re.compile("[0-9]+天")) == frozenset("天")
    assert required_chars(re.compile("(没)?报")) == frozenset("报")  # an optional part requires nothing
    assert required_chars(re.compile("a|.b")) == frozenset("ab")
    assert required_chars(re.compile(".*")) is None  # nothing can be named
    assert required_chars(re.compile("[^a]")) is None
    assert required_chars(re.compile("x", re.IGNORECASE)) is None


def _case_texts() -> list[str]:
    texts = []
    for name in ("nlu_cases_extra.yaml", "nlu_cases_v2_extra.yaml", "nlu_cases_heldout.yaml"):
        texts += [normalize_for_matching(c["text"]) for c in yaml.safe_load((HERE / name).read_text("utf-8"))]
    return texts


def test_a_gate_finds_what_its_pattern_finds_on_every_case() -> None:
    for text in _case_texts():
        for g in GATED:
            assert bool(g.search(text)) == bool(g.pattern.search(text)), (g.pattern.pattern, text)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.data())
def test_a_gate_never_hides_a_match(data: st.DataObject) -> None:
    """Strings made to match a pattern (hypothesis reads the regex) pass its gate."""
    g = data.draw(st.sampled_from([g for g in GATED if "(?<" not in g.pattern.pattern]))
    text = data.draw(st.from_regex(g.pattern, fullmatch=False))
    if g.pattern.search(text):
        assert g.search(text)
