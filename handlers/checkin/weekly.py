"""The light weekly check-in: what an official types in the task list to report in a line.

- `全部无变化` (or `其余无变化`, `无变化` alone) confirms, after one question, that nothing changed on every task not
  yet reported this week; `1-5 无变化` / `2,4 无变化` does it for those at once. Each confirmation files a new
  version carrying the last values forward, marked `no_change` (the history shows it).
- `3 推进中 60`, `5 完成`, `7 受阻 资金未到位`, `4 8000亩` reports one task in a line. Only what is missing is
  asked: a reason for 受阻, evidence for 已完成, the investment of a project, the value of an indicator, a
  percentage for 推进中. Then the version is filed and the list is back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from core.messages import Choice, Reply
from db.bounds import OutOfBounds
from db.models import (
    APPROVED,
    BLOCKED,
    DONE,
    IN_PROGRESS,
    INDICATOR,
    NOT_APPLICABLE,
    NOT_STARTED,
    PROJECT,
    RETURNED,
    Assignment,
    Item,
)
from db.repositories.reports import checked_values
from handlers import texts, vocabulary
from handlers.checkin import drafts, listing
from handlers.checkin.listing import own_open_assignments, reported_this_week
from handlers.checkin.model import (
    CheckinData,
    CheckinState,
    Draft,
    Fields,
    Step,
    carried_forward,
    fields_of,
    newest_report,
    save,
    settle_percent,
)
from handlers.checkin.questions import MAX_TEXT, bounds_error, rounded, steps_for
from handlers.checkin.summary import file_report, shown_percent
from handlers.checkin.targets import measure
from handlers.context import Context, Replies
from handlers.understanding.numbers import fmt_number, parse_amount, parse_quantity, read_percent, read_value
from handlers.understanding.text import normalize

S = CheckinState
SHOWN = 8  # items named in a message before "…等N项"

# "3 推进中 60", "第3项：完成", "1-5 无变化", "2,4,6 无变化", "3受阻 资金未到位"
_NUMS = r"\d{1,3}(?:\s*(?:-|~|～|—|到|至)\s*\d{1,3})?"
LINE_RE = re.compile(rf"^第?({_NUMS}(?:\s*[,，、]\s*{_NUMS})*)\s*(?:项|条|号)?(?:\s*[:：.、]\s*|\s+|(?=\D))(.+)$")
_RANGE_RE = re.compile(r"(\d{1,3})\s*(?:(?:-|~|～|—|到|至)\s*(\d{1,3}))?")
_SPLIT_RE = re.compile(r"[\s,，;；。]+")
_INVEST_RE = re.compile(
    r"(?:投资|完成投资|累计投资|资金)\s*[:：]?\s*([0-9.一二三四五六七八九十百千万亿两零〇]+\s*(?:亿元|亿|万元|万|元)?)"
)


def unreported(ctx: Context, options: list[int]) -> list[int]:
    done = reported_this_week(ctx, options)
    return [aid for aid in options if aid not in done]


# ---- reading a line of the list --------------------------------------------------------------------------------


def positions(spec: str, n: int) -> list[int] | None:
    """The 1-based list positions of "1-5", "2,4", "3"; None if any is outside 1..n."""
    out: list[int] = []
    for m in _RANGE_RE.finditer(spec):
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if lo > hi:
            lo, hi = hi, lo
        if lo < 1 or hi > n:
            return None
        out += [i for i in range(lo, hi + 1) if i not in out]
    return out


_IDS_RE = re.compile(r"#(\d{1,9})")


def _place(options: list[int], assignment_id: int) -> str | None:
    return str(options.index(assignment_id) + 1) if assignment_id in options else None


def handle(ctx: Context, data: CheckinData, text: str) -> Replies | None:
    """A quick command typed in the list, or None when `text` is none (a pick, paging ...)."""
    t = normalize(text)
    if vocabulary.ALL_NO_CHANGE_RE.match(t) or vocabulary.NO_CHANGE_RE.match(t):
        return ask_all(ctx, data)
    # Items chosen on a card ("#17,#18 无变化", from tapping several at once) are named by their place in the list.
    t = _IDS_RE.sub(lambda m: _place(data.options, int(m.group(1))) or m.group(0), t)
    m = LINE_RE.match(t)
    if m is None:
        named = _named_line(ctx, data.options, t)  # "两山实施方案 八成": the task by its name, then the line
        if named is None:
            return None
        position, rest = named
        if vocabulary.NO_CHANGE_RE.match(rest):
            return _no_change_now(ctx, data, [data.options[position - 1]])  # "规划长效机制 无变化"
        return _taking_line(ctx, data, data.options[position - 1], position, rest)
    rest = m.group(2).strip()
    if not rest or vocabulary.MORE_RE.match(rest):
        return None
    where = positions(m.group(1), len(data.options))
    if where is None:
        return [Reply(texts.QUICK_OUT_OF_RANGE.format(spec=m.group(1), n=len(data.options)))]
    aids = [data.options[i - 1] for i in where]
    if vocabulary.NO_CHANGE_RE.match(rest):
        return _no_change_now(ctx, data, aids)
    if len(aids) > 1:
        return [Reply(texts.QUICK_ONE_AT_A_TIME)]
    return _taking_line(ctx, data, aids[0], where[0], rest)


def _taking_line(ctx: Context, data: CheckinData, aid: int, position: int, rest: str) -> Replies:
    """A line for one task. When it is taken, a draft parked for the task is dropped (the line says what the task
    stands at now) and the person told: `file_quick` does so when it files; here, when the line asks what it
    lacks first."""
    replies = quick_line(ctx, data, aid, position, rest)
    if ctx.state != S.PICK:
        replies = _replacing_parked(ctx, aid, replies)
    return replies


def _replacing_parked(ctx: Context, aid: int, replies: Replies) -> Replies:
    """`replies` with a note after the first one when a draft parked for task `aid` was dropped."""
    if not drafts.discard(ctx, aid):
        return replies
    note = Reply(texts.QUICK_DRAFT_REPLACED.format(label=_label(ctx, aid)))
    return [*replies[:1], note, *replies[1:]]  # after what was filed or is asked, before the rest


# A line typed with the task's name instead of its number ends with what it states ("两山实施方案 八成").
_NAMED_REST_MAX = 16


def _named_line(ctx: Context, options: list[int], t: str) -> tuple[int, str] | None:
    """(list position, the rest) of "<a task's name> <status or figures>": the name must be a task's own words
    (its name or a keyword, not a guess), the rest must state a status or a figure."""
    if not options or len(t) < 4:
        return None
    cuts = sorted({i for i in range(2, len(t) - 1) if len(t) - i <= _NAMED_REST_MAX}, reverse=True)
    candidates = [(t[:i].strip(), t[i:].strip()) for i in cuts]
    candidates = [(name, rest) for name, rest in candidates if len(name) >= 2 and rest and _states(rest)]
    if not candidates:
        return None
    items = {a.id: a.item for a in ctx.session.execute(select(Assignment).where(Assignment.id.in_(options))).scalars()}
    if any(listing.name_score(t, item) >= NAMED_MIN_SCORE for item in items.values()):
        return None  # the whole of it is a task's words ("加快推进…建设"): a pick, not a line
    for name, rest in candidates:  # the longest name first
        scored = sorted(((listing.name_score(name, items[aid]), aid) for aid in options), reverse=True)
        if not scored or scored[0][0] < NAMED_MIN_SCORE or (len(scored) > 1 and scored[1][0] == scored[0][0]):
            continue
        aid = scored[0][1]
        if rest in items[aid].title:
            continue  # the rest is more of the task's own title
        if vocabulary.NO_CHANGE_RE.match(rest) or _stated(read_line(items[aid], rest)):
            return options.index(aid) + 1, rest
    return None


NAMED_MIN_SCORE = 100  # listing.name_score: the name, or words of the title or a keyword (not a fuzzy guess)


def states_alone(t: str) -> bool:
    """Whether `t` (normalised) is only a status or a percentage, with no task ("八成", "推进中", "完成了")."""
    return not t.isdigit() and _states(t)


def _states(rest: str) -> bool:
    """Whether `rest` may state a status, a percentage, an investment or an amount (a cheap test before any task
    is looked up)."""
    short_word = len(rest) <= 4 and vocabulary.parse_status(rest) is not None  # "完成", "推进中", "受阻"
    if short_word or vocabulary.NO_CHANGE_RE.match(rest) or vocabulary.stated_status(rest) is not None:
        return True
    if _INVEST_RE.search(rest):
        return True
    return read_percent(rest, bare_number=True) is not None or parse_quantity(rest) is not None


# ---- no change -------------------------------------------------------------------------------------------------


def ask_all(ctx: Context, data: CheckinData) -> Replies:
    """`全部无变化`: say what will be filed and what cannot be (never reported, returned), and ask to confirm."""
    todo = unreported(ctx, data.options)
    if not todo:
        return [Reply(texts.QUICK_ALL_DONE_ALREADY.format(n=len(data.options)))]
    able, never, returned = _sort_out(ctx, todo)
    if not able:
        return [Reply(texts.NO_CHANGE_NONE_ABLE), *_exceptions(ctx, data.options, never, returned)]
    data.pending = able
    save(ctx, S.NO_CHANGE, data)
    lines = [texts.NO_CHANGE_ASK.format(n=len(able))]
    lines += [r.text for r in _exceptions(ctx, data.options, never, returned)]
    choices = [Choice(texts.CHOICE_CONFIRM, texts.CHOICE_CONFIRM), Choice(texts.CHOICE_CANCEL, texts.CHOICE_CANCEL)]
    return [Reply("\n".join(lines), choices=choices)]


def on_confirm_all(ctx: Context, text: str, data: CheckinData) -> Replies:
    t = normalize(text)
    if t not in vocabulary.CONFIRM_WORDS:
        save(ctx, S.PICK, CheckinData(org_id=data.org_id, options=data.options, page=data.page))
        return [Reply(texts.NO_CHANGE_NOT_FILED)]
    filed, never, returned = file_no_change(ctx, data.pending)
    save(ctx, S.PICK, CheckinData(org_id=data.org_id, options=data.options, page=data.page))
    head = Reply(texts.NO_CHANGE_FILED.format(n=len(filed)))
    return [head, *_exceptions(ctx, data.options, never, returned), _progress(ctx, data.options)]


def _no_change_now(ctx: Context, data: CheckinData, aids: list[int]) -> Replies:
    filed, never, returned = file_no_change(ctx, aids)
    replies = []
    if filed:
        names = "、".join(_label(ctx, aid) for aid in filed)
        replies.append(Reply(texts.NO_CHANGE_FILED_SOME.format(n=len(filed), names=names)))
    replies += _exceptions(ctx, data.options, never, returned)
    save(ctx, S.PICK, data)
    return [*replies, _progress(ctx, data.options)]


def _sort_out(ctx: Context, aids: list[int]) -> tuple[list[int], list[int], list[int]]:
    """(can be confirmed, never reported, newest version returned)."""
    able, never, returned = [], [], []
    for aid in aids:
        last = newest_report(ctx, aid)
        if last is None:
            never.append(aid)
        elif last.review_state == RETURNED:
            returned.append(aid)
        else:
            able.append(aid)
    return able, never, returned


def file_no_change(ctx: Context, aids: list[int]) -> tuple[list[int], list[int], list[int]]:
    """File "no change" on each task that has a version to carry forward and is not returned.

    Returns (filed, never reported, returned). A confirmation of an approved version stays approved: nothing
    changed that a coordinator has not seen; one of a version waiting for review waits too.
    """
    able, never, returned = _sort_out(ctx, aids)
    filed = []
    for aid in able:
        last = newest_report(ctx, aid)
        a = ctx.session.get(Assignment, aid)
        if last is None or a is None:
            continue
        fields = fields_of(last)
        fields.no_change = True
        report = file_report(ctx, a, fields)
        if report is None:
            continue
        if last.review_state == APPROVED:
            report.review_state = APPROVED
            report.reviewed_by_id = last.reviewed_by_id
            report.reviewed_at = last.reviewed_at
            report.review_comment = last.review_comment
            a.closed = last.status == DONE and a.closed
        filed.append(aid)
    return filed, never, returned


def _exceptions(ctx: Context, options: list[int], never: list[int], returned: list[int]) -> Replies:
    out = []
    if len(never) > SHOWN:
        out.append(Reply(texts.NO_CHANGE_NEVER_MANY.format(n=len(never), items=_numbered(ctx, options, never[:SHOWN]))))
    elif never:
        out.append(Reply(texts.NO_CHANGE_NEVER.format(items=_numbered(ctx, options, never))))
    if returned:
        out.append(Reply(texts.NO_CHANGE_RETURNED.format(items=_numbered(ctx, options, returned))))
    return out


def _numbered(ctx: Context, options: list[int], aids: list[int]) -> str:
    return "、".join(f"{options.index(aid) + 1}.{_label(ctx, aid)}" for aid in aids)


def _progress(ctx: Context, options: list[int]) -> Reply:
    a = ctx.session.get(Assignment, options[0]) if options else None
    if a is not None:  # what is still open (a task approved as done meanwhile has left the list)
        still = {v.assignment_id for v in own_open_assignments(ctx, a.organisation_id)}
        options = [aid for aid in options if aid in still]
    left = unreported(ctx, options)
    if not left:
        ctx.reset()
        return Reply(texts.WEEK_ALL_REPORTED.format(n=len(options)))
    return Reply(texts.WEEK_LEFT.format(done=len(options) - len(left), n=len(options), left=len(left)))


# ---- one task in a line ------------------------------------------------------------------------------------------


@dataclass
class _Read:
    status: str | None = None
    percent: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    fraction: bool = False
    quantity: Decimal | None = None
    quantity_unit: str | None = None
    investment: Decimal | None = None
    indicator: str | None = None
    indicator_number: Decimal | None = None
    note: str = ""
    understood: bool = False
    problem: str | None = None  # a figure that must be refused rather than misread ("1e309", "5-6", "2023-02-30")


def read_line(item: Item, rest: str) -> _Read:
    """The status, figures and words of the part of a line after the task's number."""
    r = _Read()
    m = _INVEST_RE.search(rest)
    if m and item.kind == PROJECT:
        r.investment = parse_amount(m.group(1))
        rest = (rest[: m.start()] + " " + rest[m.end() :]).strip()
        r.understood = r.investment is not None
    words: list[str] = []
    for token in [t for x in _SPLIT_RE.split(rest) if x for t in _apart(x)]:
        if not _read_token(item, token, r):
            words.append(token)
    if r.status is None and words:
        r.status = vocabulary.stated_status(" ".join(words))
        r.understood = r.understood or r.status is not None
    if r.status == DONE and r.percent is not None and r.percent < 100:
        r.status = IN_PROGRESS  # "完成 60", "完成60%": 60 % done, not finished
    r.note = " ".join(words)
    return r


# "推进中60", "受阻30%": a status word and its figure typed without a space between them.
_STATUS_FIGURE_RE = re.compile(r"(\D+?)(约?\d+(?:\.\d+)?%?)")


def _apart(token: str) -> list[str]:
    """A token as the words it is made of: a status word glued to its figure is two ("推进中60" → 推进中, 60)."""
    m = _STATUS_FIGURE_RE.fullmatch(token)
    if m is None or vocabulary.parse_status(m.group(1)) is None:
        return [token]
    return [m.group(1), m.group(2)]


def _read_token(item: Item, token: str, r: _Read) -> bool:
    """Take what `token` says into `r`; False if it is just words."""
    said = False
    status = vocabulary.parse_status(token) if r.status is None else None
    qty = parse_quantity(token)
    if qty is not None and qty.unit not in ("%",):
        r.quantity, r.quantity_unit = qty.value, qty.unit
        said = True
        if status == DONE:
            status = None  # "已完成8000亩": an amount done so far, not the whole task
    if status is not None:
        r.status = status
        said = True
    if item.kind == INDICATOR and qty is None:
        value = read_value(token) if re.search(r"\d", token) or "%" in token or "百分" in token else None
        if value is not None and value.problem is not None:
            r.problem = r.problem or value.problem
            return True
        number = value.number if value is not None else None
        if number is not None and r.indicator is None:
            r.indicator, r.indicator_number = token, number
            said = True
    elif qty is None and r.percent is None and not (status is not None and not re.search(r"\d|成|半|百分", token)):
        reading = read_percent(token, bare_number=True)
        if reading is not None:
            r.percent, r.low, r.high, r.fraction = reading.value, reading.low, reading.high, reading.maybe_fraction
            said = True
            if r.status == DONE and status is not None and reading.value < 100:
                r.status = IN_PROGRESS  # "完成了70%": 70 % done, not finished
    r.understood = r.understood or said
    return said


# "3 推进中 60": a line of the list, its number apart from the rest (not "80%", "3成", "12月31日").
_APART_RE = re.compile(r"^第?\d{1,3}\s*(?:项|条|号)?(?:\s+|\s*[:：.、]\s*)\S")
# ... or glued to it, when what follows starts with a status ("8完成", "3推进中60").
_GLUED_STATUS_RE = re.compile(
    r"^(?:推进中|进行中|在推进|已完成|完成|已办结|受阻|未启动|未开始|尚未开始|没开始|不适用|无变化|没有变化)"
)


@dataclass
class _Line:
    """A line of the list for one task, typed where a question waits: its number as typed, its place, the rest."""

    spec: str
    position: int
    rest: str
    assignment: Assignment


def _one_task_line(ctx: Context, options: list[int], text: str) -> _Line | None:
    """`text` as a line of the list for one task, its number apart from the rest or glued to a status ("3 推进中
    60", "8完成"); None for "80%", "3成", "12月31日", "2个乡镇已完成" (answers) and for ranges."""
    t = normalize(text)
    m = LINE_RE.match(t)
    if m is None or not (_APART_RE.match(t) or _GLUED_STATUS_RE.match(m.group(2))):
        return None
    where = positions(m.group(1), len(options))
    if where is None or len(where) != 1:
        return None
    a = ctx.session.get(Assignment, options[where[0] - 1])
    return _Line(m.group(1).strip(), where[0], m.group(2).strip(), a) if a is not None else None


def _stated(r: _Read) -> bool:
    """Whether a line's rest, as read, states a status or a figure (and nothing refused)."""
    stated = (r.status, r.percent, r.indicator, r.quantity, r.investment)
    return r.understood and r.problem is None and any(x is not None for x in stated)


def line_for_another(ctx: Context, data: CheckinData, text: str) -> bool:
    """Whether `text`, typed while a line's missing detail is asked, is a line of the list for another task
    ("3 差不多一半" while 2's percentage is asked): it states a status or a figure of that task in words, so it is
    no answer to this question."""
    if data.draft is None or not data.draft.quick or not data.options:
        return False
    line = _one_task_line(ctx, data.options, text)
    if line is None or line.assignment.id == data.draft.assignment_id:
        return False
    if vocabulary.NO_CHANGE_RE.match(line.rest):
        return True  # "3 无变化"
    if data.step in FREE_TEXT_STEPS:
        # a sentence may start with a number ("2 个乡镇资金没到位"): a line only when a status or a figure
        # comes first ("8 完成", "3 差不多一半")
        first = _SPLIT_RE.split(line.rest, maxsplit=1)[0]
        if not (_GLUED_STATUS_RE.match(first) or read_percent(first, bare_number=True) is not None):
            return False
    r = read_line(line.assignment.item, line.rest)
    return r.understood and r.problem is None and (r.status is not None or bool(re.search(r"[^\d\s.%]", line.rest)))


def line_at_status(ctx: Context, data: CheckinData, text: str) -> bool:
    """Whether `text`, typed at the first question of a task opened from the list, is a line of the list
    ("5 推进中 60", "7 受阻 资金未到位") rather than the answer: a list position, then a status or a figure that is
    not just the name of the choice with that number ("2 推进中" answers 2. 推进中)."""
    if data.draft is None or data.draft.quick or data.draft.answered or not data.options:
        return False
    line = _one_task_line(ctx, data.options, text)
    if line is None:
        return False
    if line.spec in vocabulary.STATUS_BY_NUMBER and len(line.rest) <= 4:
        if vocabulary.parse_status(line.rest) == vocabulary.STATUS_BY_NUMBER[line.spec]:
            return False  # the choice's number with its label
    return bool(vocabulary.NO_CHANGE_RE.match(line.rest)) or _stated(read_line(line.assignment.item, line.rest))


# The questions answered in words: a number may start an answer there.
FREE_TEXT_STEPS = frozenset({Step.PHYSICAL, Step.INDICATOR, Step.DESCRIPTION, Step.PROBLEMS, Step.NEXT_STEP})


def quick_line(ctx: Context, data: CheckinData, aid: int, position: int, rest: str) -> Replies:
    a = ctx.session.get(Assignment, aid)
    assert a is not None
    item = a.item
    r = read_line(item, rest)
    if not r.understood:
        return [Reply(texts.QUICK_NOT_UNDERSTOOD.format(text=f"{position} {rest}"))]
    previous = carried_forward(newest_report(ctx, aid))
    fields, error = _fields(item, r, previous)
    if error:
        return [Reply(error)]
    draft = Draft(assignment_id=aid, fields=fields, quick=True, previous=previous)
    steps = steps_for(item.kind, fields.status)
    missing = _missing(item, fields, r)
    draft.answered = [s for s in steps if s not in missing]
    if r.fraction and fields.status == IN_PROGRESS:
        data.draft, data.fraction, data.step = draft, r.percent, Step.PERCENT
        save(ctx, S.FRACTION, data)
        return [fraction_question(r.percent or Decimal(0))]
    if not missing:
        return file_quick(ctx, data, draft)
    data.draft, data.step = draft, missing[0]
    save(ctx, S.ASK, data)  # the caller asks the question of this state
    return [Reply(texts.QUICK_NEEDS.format(label=item.label))]


def fraction_question(value: Decimal) -> Reply:
    pct = fmt_number(value * 100)
    choices = [
        Choice(texts.FRACTION_YES.format(pct=pct), "yes"),
        Choice(texts.FRACTION_NO.format(value=fmt_number(value, 2)), "no"),
    ]
    return Reply(texts.Q_FRACTION.format(value=fmt_number(value, 2), pct=pct), choices=choices)


def _fields(item: Item, r: _Read, previous: Fields | None) -> tuple[Fields, str | None]:
    """The fields a line gives (with last time's details kept), or why it is refused: a figure misread, or a value
    that does not fit where it would be stored (the same refusal on SQLite and PostgreSQL)."""
    f, error = _line_fields(item, r, previous)
    if error is None and r.problem is not None:
        error = texts.E_VALUE_PROBLEMS[r.problem]
    if error is None:
        try:
            checked_values(f.report_values())
        except OutOfBounds as e:
            error = bounds_error(e)
    return f, error


def _line_fields(item: Item, r: _Read, previous: Fields | None) -> tuple[Fields, str | None]:
    f = Fields()
    status = r.status
    pct = r.percent
    if r.quantity is not None:
        measured = measure(item, r.quantity, r.quantity_unit or "")
        if isinstance(measured, str):
            return f, measured
        f.quantity, f.quantity_unit = measured.value, measured.unit
        pct = measured.percent if pct is None else pct
    if pct is not None and not r.fraction and not 0 <= pct <= 100:
        return f, texts.E_PERCENT_RANGE.format(value=fmt_number(pct))
    if status is None:
        status = DONE if pct is not None and pct >= 100 else (IN_PROGRESS if pct is not None or r.quantity else None)
    if status is None and (r.indicator is not None or r.investment is not None):
        status = previous.status if previous and previous.status else IN_PROGRESS
    if status is None:
        status = BLOCKED if r.note and previous and previous.status == BLOCKED else None
    if status is None:
        return f, texts.QUICK_NEED_STATUS
    f.status = status
    if not settle_percent(f):
        if pct is not None:
            f.percent = rounded(pct, 1) if not r.fraction else pct
            f.percent_low, f.percent_high = r.low, r.high
        elif status == BLOCKED and previous is not None:
            f.percent = previous.percent
    if r.investment is not None:
        f.investment = r.investment
    if r.indicator is not None:
        f.indicator, f.indicator_number = r.indicator, r.indicator_number
    note = r.note[:MAX_TEXT] if r.note else None
    if status == BLOCKED:
        f.problems = note
    else:
        f.description = note
    if previous is not None:
        f.next_step = previous.next_step if status != DONE else None
        f.physical = previous.physical
        f.expected = previous.expected if status not in (DONE, NOT_STARTED) else None
        if status != BLOCKED:
            f.problems = previous.problems if status == IN_PROGRESS else None
    return f, None


def _missing(item: Item, f: Fields, r: _Read) -> list[Step]:
    """The details a line did not give that its status or the item requires, in the order they are asked."""
    out = []
    if f.status == IN_PROGRESS and f.percent is None and item.kind != INDICATOR:
        out.append(Step.PERCENT)
    if item.kind == PROJECT and f.investment is None and f.status not in (NOT_STARTED, NOT_APPLICABLE):
        out.append(Step.INVESTMENT)
    if item.kind == INDICATOR and f.indicator is None and f.status not in (NOT_STARTED, NOT_APPLICABLE):
        out.append(Step.INDICATOR)
    if f.status == BLOCKED and not f.problems:
        out.append(Step.PROBLEMS)
    if f.status == NOT_APPLICABLE and not f.description:
        out.append(Step.DESCRIPTION)  # the reason: a coordinator reviews it
    if f.status == DONE:
        out.append(Step.EVIDENCE)
    return out


def file_quick(ctx: Context, data: CheckinData, draft: Draft) -> Replies:
    """File a line's report and go back to the list (the progress line after it unless lines wait in `later`)."""
    a = ctx.session.get(Assignment, draft.assignment_id)
    assert a is not None
    fields = draft.fields
    report = file_report(ctx, a, fields, attachment_ids=list(draft.attachments))
    options = data.options or [draft.assignment_id]
    later = list(data.later)  # lines for other tasks typed meanwhile: the caller goes on with them
    save(ctx, S.PICK, CheckinData(org_id=a.organisation_id, options=options, page=data.page, later=later))
    if report is None:
        return [Reply(texts.NOT_ALLOWED)]
    pos = options.index(a.id) + 1 if a.id in options else 0
    filed = Reply(texts.QUICK_FILED.format(n=pos, label=a.item.label, what=describe(fields)))
    # a draft parked for the task said something older (as `summary.submit` drops one when it files)
    return _replacing_parked(ctx, a.id, [filed] if later else [filed, _progress(ctx, options)])


def describe(f: Fields) -> str:
    """A filed report in a few words: "推进中 60%（约，55–65%）", "受阻：资金未到位"."""
    parts = [texts.STATUS_LABELS.get(f.status or "", "")]
    if f.percent is not None and f.status not in (DONE, NOT_STARTED):
        parts.append(shown_percent(f))
    if f.quantity is not None:
        parts.append(f"{fmt_number(f.quantity, 4)}{f.quantity_unit or ''}")
    if f.investment is not None:
        parts.append(texts.QUICK_INVESTMENT.format(value=fmt_number(f.investment, 2)))
    if f.indicator:
        parts.append(f.indicator)
    out = " ".join(p for p in parts if p)
    if f.status == BLOCKED and f.problems:
        out += f"：{f.problems}"
    return out


def _label(ctx: Context, aid: int) -> str:
    a = ctx.session.get(Assignment, aid)
    return a.item.label if a is not None else str(aid)
