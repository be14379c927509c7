"""The understanding layer's front: `NLU` turns a short Chinese message into an `Understanding`.

`NLU` is built once at start-up (`handlers.queries.install`) and again after a plan import (`refresh`);
`understand` only reads. This module also holds the public helpers on an understanding (`with_choice`) and
re-exports what callers of the layer use, so that they need not know which module holds what.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from db.models import INDICATOR, PROJECT
from db.repositories.queries import Vocabulary
from handlers.gate import Gated
from handlers.understanding.intents import (
    BLOCKED_LIST,
    COUNT,
    DONE_LIST,
    DUE,
    EXPORT,
    HELP,
    INTENTS,
    INVESTMENT,
    LAGGING,
    MY_TASKS,
    MY_UNREPORTED,
    ON_LEAVE,
    OVERDUE,
    PROBLEMS,
    PROGRESS,
    RANKING,
    REPORT,
    REPORTED,
    RETURNED,
    REVIEW_QUEUE,
    UNCHANGED,
    UNDER_WAY,
    UNKNOWN,
    UNMET,
    UNREPORTED,
    URGE,
    URGED,
    WEEKLY,
    interpret,
)
from handlers.understanding.lexicon import GROUP, ITEM, ORG, Lexicon
from handlers.understanding.names import (
    HAS_NUMBER,
    NUMBERED_RE,
    extend_weak,
    fuzzy_spans,
    mask,
    match_names,
    sure_name,
)
from handlers.understanding.report import rank_for_report
from handlers.understanding.result import MAX_CHOICES, Candidate, Understanding
from handlers.understanding.segmentation import add_user_words, tokenizer
from handlers.understanding.text import normalize_for_matching

__all__ = [
    "BLOCKED_LIST",
    "COUNT",
    "DONE_LIST",
    "DUE",
    "EXPORT",
    "LAGGING",
    "MY_UNREPORTED",
    "PROBLEMS",
    "RANKING",
    "REPORTED",
    "RETURNED",
    "REVIEW_QUEUE",
    "UNCHANGED",
    "UNDER_WAY",
    "UNMET",
    "URGE",
    "URGED",
    "WEEKLY",
    "GROUP",
    "HELP",
    "INTENTS",
    "INVESTMENT",
    "ITEM",
    "MAX_CHOICES",
    "MY_TASKS",
    "NLU",
    "ON_LEAVE",
    "ORG",
    "OVERDUE",
    "PROGRESS",
    "REPORT",
    "UNKNOWN",
    "UNREPORTED",
    "Candidate",
    "Lexicon",
    "Understanding",
    "rank_for_report",
    "with_choice",
]


_NUMBERED = Gated(NUMBERED_RE)


class NLU:
    """The understanding layer shared by all handlers. Thread-safe: `understand` reads one lexicon snapshot."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self._lexicon = lexicon or Lexicon.build(Vocabulary(plan_id=None, plan_digest=None))
        self._tok = tokenizer()
        self._freq = self._tok.FREQ
        add_user_words(self._lexicon.user_words)

    @classmethod
    def from_session(cls, session: Any) -> NLU:
        """The understanding layer of the database's active plan."""
        nlu = cls()
        nlu.refresh(session)
        return nlu

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon

    @property
    def stamp(self) -> str | None:
        """The digest of the plan the lexicon was built from: compare with `queries.plan_stamp`."""
        return self._lexicon.stamp

    def refresh(self, session: Any) -> None:
        """Rebuild the lexicon from the database (after a plan import)."""
        from db.repositories import plans, queries

        plan = plans.active_plan(session)
        lex = Lexicon.build(queries.vocabulary(session, plan))
        add_user_words(lex.user_words)
        self._lexicon = lex  # one assignment: readers see the old or the new lexicon, never half of one

    def understand(
        self, text: str, today: dt.date | None = None, own_orgs: Iterable[int] | None = None
    ) -> Understanding:
        """What `text` asks for: normalised and segmented once, names found, then interpreted.

        Args:
            text: the message.
            today: the day time words count from ("本月", "下周"); None: time windows are not read.
            own_orgs: an official's own units (with those below them): an item's name then means one of theirs.
        """
        lex = self._lexicon
        raw = text or ""
        t = normalize_for_matching(raw)
        if not t:
            return Understanding(text=raw, intent=UNKNOWN)
        tokens = self._tok.lcut(t, HMM=False)
        spans = match_names(lex, tokens)
        if any(sp.meaning.weak for sp in spans):
            extend_weak(lex, tokens, spans)
        unknown: list[str] = []
        numbered = list(_NUMBERED.finditer(t)) if HAS_NUMBER.search(t) else []
        # cue words ("审核", "工程项目") are read where only sure names are masked: not a guessed (mistyped)
        # name, not a keyword of an item
        cue_masked = mask(t, [sp for sp in spans if sure_name(sp)])
        spans += fuzzy_spans(lex, tokens, spans, unknown, [(m.start(), m.end()) for m in numbered], self._freq)
        own = frozenset(own_orgs) if own_orgs is not None else None
        return interpret(lex, raw, t, mask(t, spans), spans, unknown, numbered, today, own, cue_masked)


def with_choice(u: Understanding, c: Candidate, lex: Lexicon) -> Understanding:
    """`u` with one ambiguous name resolved to the candidate the user chose."""
    if c.kind == ORG:
        return replace(u, org_ids=(c.id,), org_names=(lex.org_name(c.id),), ambiguous=(), group=None, scope_all=False)
    it = lex.items.get(c.id)
    if it is None:
        return replace(u, ambiguous=())
    return replace(
        u,
        item_id=it.id,
        item_kind=it.kind,
        project=it.number if it.kind == PROJECT else None,
        indicator=it.number if it.kind == INDICATOR else None,
        ambiguous=(),
    )
