"""One-line reports ("污水处理设施建设完成80%", "两山基地实施方案已印发"): the figures they state and the sender's
tasks they may be about.
"""

from __future__ import annotations

import re
from decimal import Decimal

from db.models import DONE
from db.repositories.queries import ItemEntry
from handlers.gate import Gated
from handlers.understanding.names import NUMBERED_RE
from handlers.understanding.numbers import parse_amount, parse_percent, parse_quantity
from handlers.understanding.result import MAX_CHOICES, Understanding
from handlers.understanding.text import normalize_for_matching
from handlers.vocabulary import stated_status

PERCENT_HINT = Gated(re.compile(r"[0-9]|百分|分之|[一二两三四五六七八九十]成|半"))
NUMBERED = Gated(NUMBERED_RE)  # plan numbers ("项目2"), not figures
PERCENT_AFTER_VERB = re.compile(
    r"(?:完成|进度|达到|推进到|做到|到了|推进中|进行中|实施中|建设中)(?:了)?[\s、,:]*(\d{1,3}(?:\.\d+)?)(?![\d.万亿元个项号%])"
)
AMOUNT_RE = re.compile(
    r"(?:投资|资金|到位)[^0-9零〇一二两三四五六七八九十百千万亿]{0,6}([0-9.]+|[零〇一二两三四五六七八九十百千]+)\s*(亿元|亿|万元|万|元)"
)


# A quantity counts as reported only after a verb of doing ("完成8000亩", "新增3个"): "边境3个县进度" asks.
QUANTITY_AFTER_VERB = re.compile(
    r"(?:完成|建成|新增|种植|造林|治理|修复|实施|完工|改造|建设|达到|累计|共)了?\s*((?:约|近|超过)?[0-9.零〇一二两三四五六七八九十百千万]+\S{0,3})"
)
QUANTITY = Gated(QUANTITY_AFTER_VERB)
MONEY_UNITS = frozenset({"元", "万元", "亿元", "%"})


def report_quantity(t: str) -> tuple[Decimal, str] | None:
    """A quantity done that a one-line report states ("国土绿化完成8000亩"): (value, unit); money and % are not."""
    if not QUANTITY.may_match(t):
        return None  # no verb of doing: nothing reported done (and plan numbers need not be taken out)
    m = QUANTITY_AFTER_VERB.search(NUMBERED.sub("", t))
    q = parse_quantity(m.group(1)) if m else None
    if q is None or q.unit in MONEY_UNITS or q.value <= 0:
        return None
    return q.value, q.unit


def report_figures(t: str) -> tuple[Decimal | None, str | None, Decimal | None]:
    """(percent, status, amount in 万元) stated in a one-line report."""
    percent: Decimal | None = None
    if PERCENT_HINT.search(t):
        body = NUMBERED.sub("", t)
        body = AMOUNT_RE.sub("", body)
        percent = parse_percent(body, bare_number=False)
        if percent is None:
            m = PERCENT_AFTER_VERB.search(body)
            if m:
                percent = Decimal(m.group(1))
        if percent is not None and not (0 <= percent <= 100):
            percent = None
    amount = None
    m = AMOUNT_RE.search(t)
    if m:
        amount = parse_amount(m.group(1) + m.group(2))
    status = stated_status(t)
    if percent is not None:
        if percent >= 100:
            status = DONE
        elif status == DONE:
            # "完成了一半": 完成 here reports an amount of progress, not completion
            status = None
    return percent, status, amount


# ---- ranking one-line reports against the sender's own tasks ----------------------------------------------------


def _bigrams(s: str) -> set[str]:
    """Every two consecutive characters of `s`: how much a report's words overlap a task's."""
    return {s[i : i + 2] for i in range(len(s) - 1)}


_REPORT_NOISE = re.compile(
    r"[0-9.%]+|百分之[零〇一二两三四五六七八九十百点]+|[一二两三四五六七八九十]成|一半|完成了?|已经?|了|的|目前|现在|进度|正在|推进中?|已印发|印发|还没|没有|没"
)


def rank_for_report(u: Understanding, candidates: list[tuple[int, ItemEntry]], limit: int = MAX_CHOICES) -> list[int]:
    """The sender's open assignments that a one-line report may be about, best first.

    Args:
        u: the understood report.
        candidates: (assignment id, its item) of the sender's organisation's open assignments.
    Returns:
        assignment ids; empty when nothing in the text points at any of them.
    """
    scores = dict(u.item_scores)
    body = _REPORT_NOISE.sub("", normalize_for_matching(u.text))
    grams = _bigrams(body)
    scored: list[tuple[float, int]] = []
    for aid, it in candidates:
        s = scores.get(it.id, 0.0)
        words = normalize_for_matching(" ".join([it.title, it.short_name or "", *it.keywords]))
        overlap = len(grams & _bigrams(words))
        s += 0.5 * overlap
        if s >= 1.5:
            scored.append((s, aid))
    if not scored:
        return []
    scored.sort(key=lambda x: (-x[0], x[1]))
    top = scored[0][0]
    return [aid for s, aid in scored if s >= top * 0.6][:limit]
