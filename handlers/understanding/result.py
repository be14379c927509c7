"""What a message asks for: the `Understanding` the understanding layer returns, and the `Candidate`s of an
ambiguous name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

MAX_CHOICES = 8  # an ambiguous name offers at most this many candidates


@dataclass(frozen=True)
class Candidate:
    """One of several things a name may mean; offered as a numbered choice."""

    kind: str  # ORG | ITEM
    id: int
    label: str


@dataclass(slots=True)
class Understanding:
    """What a message asks for. Treat as read-only (not frozen only because a frozen dataclass of this size
    costs a tenth of the whole understanding to construct).

    `org_ids` empty and no item/group means the whole city. `item_ids` lists the items the text mentions,
    best first (the candidates of a one-line report, or tasks a query names); `item_id` is the one item a
    query is about when it is unambiguous, with `project` / `indicator` its plan number.
    """

    text: str
    intent: str
    org_ids: tuple[int, ...] = ()
    org_names: tuple[str, ...] = ()
    group: str | None = None
    scope_all: bool = False  # "全市", "总体": explicitly the whole city
    own: bool = False  # "我们", "本单位": the sender's organisation
    item_id: int | None = None
    item_kind: str | None = None
    project: int | None = None
    indicator: int | None = None
    item_ids: tuple[int, ...] = ()
    item_scores: tuple[tuple[int, float], ...] = ()
    percent: Decimal | None = None
    status: str | None = None
    amount: Decimal | None = None  # 万元, in a one-line report
    quantity: Decimal | None = None  # an amount done in a unit other than money or % ("8000亩"), in a report
    quantity_unit: str | None = None
    ambiguous: tuple[Candidate, ...] = ()
    unknown_words: tuple[str, ...] = ()
    # What a question lists or counts ("项目", "指标", "活动"): task | project | indicator | event | org; None: any.
    kind: str | None = None
    # The time window a question states ("本月", "8月底前", "最近三天"), first and last day inclusive.
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    # "…前": the window is a deadline bound (from today, or from the year's start when that day is past).
    window_before: bool = False
    count: bool = False  # "多少", "几个": the answer is a number (with the list under it)
    reason: bool = False  # "原因", "为什么": the answer names the reasons reported
    # A line of the check-in list typed as a report ("3 推进中 60"): the item's number in the sender's list.
    item_number: int | None = None

    @property
    def org_id(self) -> int | None:
        """The one organisation meant, if exactly one is."""
        return self.org_ids[0] if len(self.org_ids) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (kept in conversation data while a choice is pending); decimals as strings."""
        data = asdict(self)
        for k in ("percent", "amount", "quantity", "window_start", "window_end"):
            if data[k] is not None:
                data[k] = str(data[k]) if not isinstance(data[k], dt.date) else data[k].isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Understanding:
        """The understanding `to_json` wrote."""
        d = dict(data)
        for k in ("org_ids", "org_names", "item_ids", "unknown_words"):
            d[k] = tuple(d.get(k) or ())
        d["item_scores"] = tuple((int(a), float(b)) for a, b in d.get("item_scores") or ())
        d["ambiguous"] = tuple(Candidate(**c) for c in d.get("ambiguous") or ())
        for k in ("percent", "amount", "quantity"):
            d[k] = Decimal(d[k]) if d.get(k) is not None else None
        for k in ("window_start", "window_end"):
            d[k] = dt.date.fromisoformat(d[k]) if d.get(k) else None
        return cls(**d)
