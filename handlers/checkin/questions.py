"""The questions of a draft: which are asked for a kind of item, how each is put, and how an answer is read.

`read_answer` turns a text into a change of the draft's fields, or an error that says what was expected; it does
not store anything, so the kernel can also ask it whether a text is an answer at all (`fits`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.messages import Choice, Reply
from db.bounds import NEGATIVE, NOT_A_NUMBER, TOO_LARGE, TOO_LONG, OutOfBounds, bound, check_number
from db.models import (
    BLOCKED,
    DONE,
    IN_PROGRESS,
    INDICATOR,
    NOT_APPLICABLE,
    NOT_STARTED,
    PROJECT,
    Assignment,
    Item,
    Report,
)
from handlers import formatting as fmt
from handlers import texts, vocabulary
from handlers.checkin import targets
from handlers.checkin.model import Draft, Fields, Step, settle_percent
from handlers.context import Context
from handlers.kernel import Fit
from handlers.understanding.numbers import (
    fmt_number,
    parse_amount,
    parse_date,
    parse_quantity,
    read_percent,
    read_value,
    to_number,
)
from handlers.understanding.text import clean, normalize

MAX_TEXT = 500
MAX_INDICATOR_TEXT = 100
SKIPPABLE = {Step.PROBLEMS, Step.NEXT_STEP, Step.EXPECTED, Step.EVIDENCE}
FREE_TEXT = {Step.PHYSICAL, Step.DESCRIPTION, Step.PROBLEMS, Step.NEXT_STEP}

FIELD_NAMES = {
    Step.STATUS: texts.F_STATUS,
    Step.PERCENT: texts.F_PERCENT,
    Step.INVESTMENT: texts.F_INVESTMENT,
    Step.PHYSICAL: texts.F_PHYSICAL,
    Step.INDICATOR: texts.F_INDICATOR,
    Step.DESCRIPTION: texts.F_DESCRIPTION,
    Step.PROBLEMS: texts.F_PROBLEMS,
    Step.NEXT_STEP: texts.F_NEXT,
    Step.EXPECTED: texts.F_EXPECTED,
    Step.EVIDENCE: texts.F_EVIDENCE,
}
ERRORS = {
    Step.STATUS: texts.E_STATUS,
    Step.PERCENT: texts.E_PERCENT,
    Step.INVESTMENT: texts.E_INVESTMENT,
    Step.INDICATOR: texts.E_INDICATOR,
    Step.EXPECTED: texts.E_DATE,
}


def steps_for(kind: str, status: str | None) -> list[Step]:
    """The questions for an item of `kind`, given the status chosen so far."""
    s = Step
    if kind == PROJECT:
        steps = [s.STATUS, s.PERCENT, s.INVESTMENT, s.PHYSICAL, s.DESCRIPTION, s.PROBLEMS, s.NEXT_STEP, s.EXPECTED]
    elif kind == INDICATOR:
        steps = [s.STATUS, s.INDICATOR, s.DESCRIPTION, s.PROBLEMS, s.NEXT_STEP]
    else:
        steps = [s.STATUS, s.PERCENT, s.DESCRIPTION, s.PROBLEMS, s.NEXT_STEP, s.EXPECTED]
    steps.append(s.EVIDENCE)
    if status == NOT_APPLICABLE:
        return [s.STATUS, s.DESCRIPTION, s.EVIDENCE]  # the reason, and evidence of it
    if status in (DONE, NOT_STARTED):
        steps = [x for x in steps if x not in (s.PERCENT, s.EXPECTED)]
    return steps


def skippable(step: Step, kind: str, status: str | None) -> bool:
    if step in SKIPPABLE:
        return True
    if step == Step.DESCRIPTION:
        return status != NOT_APPLICABLE and (kind != "task" or status == NOT_STARTED)
    return step == Step.PHYSICAL and status == NOT_STARTED


def unit(item: Item) -> str:
    return "" if not item.unit or item.unit in ("-", "—") else item.unit


def header(ctx: Context, a: Assignment) -> Reply:
    """The item's title, owner, deadline and target, shown before its first question."""
    item = a.item
    due = a.due_date or item.due_date or item.plan.end_date
    target = ""
    if item.kind == INDICATOR and item.target_year_text:
        target = texts.CHECKIN_TARGET.format(target=f"{item.target_year_text}{unit(item)}")
    elif item.kind == PROJECT and item.investment_total is not None:
        target = texts.CHECKIN_TARGET.format(target=f"总投资{fmt_number(item.investment_total, 2)}万元")
    elif item.targets:
        t = item.targets[0]
        said = f"{fmt_number(t['value'], 4)}{t.get('unit', '')}" if t.get("value") is not None else ""
        target = texts.CHECKIN_TARGET.format(target=public_note(t.get("text") or "") or said)
    return Reply(
        texts.CHECKIN_HEADER.format(
            label=item.label, org=a.organisation.name, title=item.title, due=fmt.day_or_dash(due), target=target
        )
    )


_NOTE_RE = re.compile(r"[（(][^（）()]*[A-Za-z][^（）()]*[）)]")


def public_note(text: str) -> str:
    """A target's wording without the plan's internal notes: "（即12000亩；value 以万亩计）" is for the importer."""
    return _NOTE_RE.sub("", text).strip()


def question_for(step: Step, item: Item, draft: Draft) -> Reply:
    """The question for `step` of `draft`: numbered by its place among the item's questions, with last time's
    answer to keep ("同上") when there is one."""
    own = next((a for a in item.assignments if a.id == draft.assignment_id), None)
    reply = question(step, item, draft.fields.status, own.organisation.name if own is not None else None)
    steps = steps_for(item.kind, draft.fields.status)
    number = texts.QUESTION_NUMBERS[steps.index(step)] if step in steps and not draft.quick else ""
    before = previous_value(step, draft)
    hint = texts.Q_PREVIOUS.format(value=before) if before is not None and not draft.quick else ""
    choices = list(reply.choices)
    if step == Step.STATUS and draft.previous is not None and not draft.quick:
        hint += texts.Q_NO_CHANGE_HINT
        choices.append(Choice(texts.CHOICE_NO_CHANGE, texts.CHOICE_NO_CHANGE))  # a tap files last time's again
    return Reply(number + reply.text + hint, choices=choices, listed=reply.listed)


def previous_value(step: Step, draft: Draft) -> str | None:
    """Last time's answer to `step`, as shown, if there was one."""
    f = draft.previous
    if f is None or step in (Step.EVIDENCE,):
        return None
    if step == Step.STATUS:
        if f.status is None:
            return None
        pct = f" {fmt_number(f.percent)}%" if f.percent is not None and f.status == IN_PROGRESS else ""
        return texts.STATUS_LABELS[f.status] + pct
    if step == Step.PERCENT:
        return f"{fmt_number(f.percent)}%" if f.percent is not None else None
    if step == Step.INVESTMENT:
        return texts.QUICK_INVESTMENT.format(value=fmt_number(f.investment, 2)) if f.investment is not None else None
    if step == Step.EXPECTED:
        return f.expected.isoformat() if f.expected else None
    value = getattr(f, step.value)
    return str(value) if value else None


def keep_previous(step: Step, draft: Draft) -> None:
    """Answer `step` with last time's answer ("同上")."""
    f, prev = draft.fields, draft.previous
    assert prev is not None
    if step == Step.STATUS:
        f.status = prev.status
        f.percent = prev.percent
    elif step == Step.INDICATOR:
        f.indicator, f.indicator_number = prev.indicator, prev.indicator_number
    elif step == Step.PERCENT:
        f.percent, f.percent_low, f.percent_high = prev.percent, prev.percent_low, prev.percent_high
    else:
        setattr(f, step.value, getattr(prev, step.value))


def question(step: Step, item: Item, status: str | None, org_name: str | None = None) -> Reply:
    """The question for `step` of a draft on `item` by the unit `org_name` (a shared project's investment
    question names the unit's share when it is known)."""
    if step == Step.EVIDENCE:
        choices = [Choice(texts.CHOICE_DONE, texts.CHOICE_DONE), Choice(texts.CHOICE_SKIP, texts.CHOICE_SKIP)]
        return Reply(texts.Q_EVIDENCE, choices=choices)
    prompts = {
        Step.STATUS: texts.Q_STATUS,
        Step.PERCENT: texts.Q_PERCENT,
        Step.PHYSICAL: texts.Q_PHYSICAL,
        Step.DESCRIPTION: texts.Q_NA_REASON if status == NOT_APPLICABLE else texts.Q_DESCRIPTION,
        Step.PROBLEMS: texts.Q_PROBLEMS_BLOCKED if status == BLOCKED else texts.Q_PROBLEMS,
        Step.NEXT_STEP: texts.Q_NEXT_STEP,
        Step.EXPECTED: texts.Q_EXPECTED,
    }
    if step == Step.PERCENT and targets.target(item) is not None:
        value, goal_unit = targets.target(item) or (Decimal(0), "")
        half = value / 2 if value < 2 else Decimal(int(value / 2))
        q = texts.Q_PERCENT + texts.Q_PERCENT_QUANTITY.format(
            target=f"{fmt_number(value, 4)}{goal_unit}", example=f"{fmt_number(half, 4)}{goal_unit}"
        )
    elif step == Step.INVESTMENT:
        n = sum(1 for x in item.assignments if x.active)  # a shared project: the unit reports its own part
        shared = texts.Q_INVESTMENT_SHARED.format(n=n) if n > 1 else ""
        share = ((item.extra or {}).get("shares") or {}).get(org_name) if n > 1 and org_name else None
        if share is not None:
            shared += texts.Q_INVESTMENT_OWN_SHARE.format(share=fmt_number(Decimal(str(share)), 2))
        q = texts.Q_INVESTMENT.format(total=fmt_number(item.investment_total, 2), shared=shared)
    elif step == Step.INDICATOR:
        q = texts.Q_INDICATOR.format(target=item.target_year_text or item.target_text or "—", unit=unit(item))
    else:
        q = prompts[step]
    choices = [Choice(label, label) for label in texts.STATUS_LABELS.values()] if step == Step.STATUS else []
    # The percentage: bands to tap where there are buttons. The text already says what may be typed, so text
    # channels list no numbers, and a number typed stays a percentage ("listed": not read as a choice's number).
    bands = step == Step.PERCENT
    if bands:
        choices = [Choice(label, value) for label, value in texts.PERCENT_BANDS]
    skip = texts.SKIP_HINT if skippable(step, item.kind, status) else ""
    if skip:
        choices.append(Choice(texts.CHOICE_SKIP, texts.CHOICE_SKIP))
    return Reply(q + skip, choices=choices, listed=bands)


# ---- reading answers --------------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What an answer does to the draft: new fields, or an error to show with the question again."""

    fields: Fields | None = None
    error: str | None = None
    over_total: bool = False  # the investment is above the project's total: ask to confirm
    fraction: bool = False  # a percentage typed as 0.8: ask whether it means 80 %
    percent_given: bool = False  # the status came with its percentage ("推进中 60%"): not asked again


def read_answer(ctx: Context, step: Step, draft: Draft, item: Item, text: str) -> Answer:
    """Read `text` as the answer to `step` (the evidence step is read elsewhere: it takes files)."""
    t = normalize(text)
    fields = draft.fields.model_copy()
    if not t:
        return Answer(error=ERRORS.get(step, texts.E_TEXT_SHORT))
    if vocabulary.is_skip(t) and skippable(step, item.kind, fields.status):
        setattr(fields, step.value, None)
        return Answer(fields)
    if step == Step.STATUS:
        return _status(t, fields)
    if step == Step.PERCENT:
        return _percent(t, fields, item)
    if step == Step.INVESTMENT:
        return _investment(t, fields, item)
    if step == Step.INDICATOR:
        return _indicator(ctx, t, fields)
    if len(t) < 2:
        return Answer(error=texts.E_TEXT_SHORT)
    n = max(len(t), len(clean(ctx.msg.text)))  # the stored form may be longer than the normalised one
    if n > MAX_TEXT:
        return Answer(error=texts.E_TEXT_LONG.format(n=n, limit=MAX_TEXT))
    if step == Step.EXPECTED:
        return _expected(ctx, t, fields)
    # Store what was typed (full-width punctuation included, direction controls removed), not the normalised form.
    setattr(fields, step.value, clean(ctx.msg.text) or t)
    return Answer(fields)


def _status(t: str, fields: Fields) -> Answer:
    status = vocabulary.parse_status(t)
    reading = read_percent(t, bare_number=False)
    pct = reading.value if reading is not None else None
    if status is None and pct is not None:
        status = DONE if pct >= 100 else IN_PROGRESS
    if status is None:
        return Answer(error=texts.E_STATUS)
    fields.status = status
    if settle_percent(fields):
        return Answer(fields)
    if reading is not None and pct is not None and 0 <= pct < 100:
        fields.percent = rounded(pct, 1)
        fields.percent_low, fields.percent_high = reading.low, reading.high
        return Answer(fields, percent_given=status == IN_PROGRESS)
    elif fields.percent in (Decimal(100), Decimal(0)):
        fields.percent = None
    return Answer(fields)


def _percent(t: str, fields: Fields, item: Item) -> Answer:
    reading = read_percent(t, bare_number=True)
    quantity = parse_quantity(t) if reading is None and targets.target(item) is not None else None
    if quantity is not None:
        measured = targets.measure(item, quantity.value, quantity.unit)
        if isinstance(measured, str) or measured.percent is None:
            return Answer(error=measured if isinstance(measured, str) else texts.E_PERCENT)
        pct, done_unit = measured.percent, measured.unit
        try:
            done = check_number(Report.quantity, measured.value)
        except OutOfBounds as e:
            return Answer(error=bounds_error(e))
        fields.quantity, fields.quantity_unit = done, done_unit
        fields.percent = rounded(pct, 1)
        return Answer(fields)
    if reading is None:
        number = to_number(t.rstrip("%").strip())
        if number is not None and number < 0:  # minus five, never five: and no progress is below zero
            return Answer(error=bounds_error(OutOfBounds("percent", NEGATIVE, None, number)))
        return Answer(error=texts.E_PERCENT)
    pct = reading.value
    if reading.maybe_fraction:
        fields.percent = pct
        return Answer(fields, fraction=True)
    if not 0 <= pct <= 100:
        return Answer(error=texts.E_PERCENT_RANGE.format(value=fmt_number(pct)))
    fields.percent = rounded(pct, 1)
    fields.percent_low, fields.percent_high = reading.low, reading.high
    if pct == 100 and fields.status == IN_PROGRESS:
        fields.status = DONE
    return Answer(fields)


def _investment(t: str, fields: Fields, item: Item) -> Answer:
    amount = parse_amount(t)
    if amount is None:
        return Answer(error=texts.E_INVESTMENT)
    try:
        amount = check_number(Report.investment_done, amount)
    except OutOfBounds as e:
        return Answer(error=bounds_error(e))
    fields.investment = rounded(amount, 2)
    total = item.investment_total
    return Answer(fields, over_total=total is not None and amount > Decimal(str(total)))


def _indicator(ctx: Context, t: str, fields: Fields) -> Answer:
    said = clean(ctx.msg.text) or t  # what is stored and shown: as typed, in the column's length
    limit = bound(Report.indicator_value).length or MAX_INDICATOR_TEXT
    if len(said) > limit:
        return Answer(error=texts.E_TEXT_LONG.format(n=len(said), limit=limit))
    reading = read_value(t)
    if reading.problem is not None:
        return Answer(error=texts.E_VALUE_PROBLEMS[reading.problem])
    number = reading.number
    if number is not None:
        try:
            number = check_number(Report.indicator_number, number, negative=True)
        except OutOfBounds as e:
            return Answer(error=bounds_error(e))
    fields.indicator = said
    fields.indicator_number = rounded(number, 4) if number is not None else None
    return Answer(fields)


def _expected(ctx: Context, t: str, fields: Fields) -> Answer:
    today = ctx.clock.today()
    d = parse_date(t, today)
    if d is None:
        return Answer(error=texts.E_DATE)
    if d < today:
        return Answer(error=texts.E_DATE_PAST.format(date=d.isoformat(), today=today.isoformat()))
    fields.expected = d
    return Answer(fields)


def bounds_error(e: OutOfBounds) -> str:
    """What to tell the user about a value that does not fit where it would be stored."""
    name = texts.BOUND_FIELD_NAMES.get(e.field, e.field)
    if e.reason == NEGATIVE:
        return texts.E_BOUND_NEGATIVE.format(field=name)
    if e.reason == TOO_LARGE:
        unit = texts.BOUND_FIELD_UNITS.get(e.field, "")
        return texts.E_BOUND_TOO_LARGE.format(field=name, limit=fmt_number(e.limit, 4), unit=unit)
    if e.reason == TOO_LONG:
        return texts.E_TEXT_LONG.format(n=len(str(e.value)), limit=e.limit)
    return texts.E_VALUE_PROBLEMS[NOT_A_NUMBER]


def rounded(value: Decimal, places: int) -> Decimal:
    """The value as it is shown and stored (80 not 80.0; at most `places` decimals, rounded half up as the
    repositories round before storing: the same on SQLite and PostgreSQL)."""
    return Decimal(fmt_number(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), places))


def fits(ctx: Context, step: Step, draft: Draft, item: Item, text: str) -> Fit:
    """How `text` fits the question of `step`: free text takes anything; the others must parse."""
    if step == Step.EVIDENCE:
        t = normalize(text)
        return Fit.YES if ctx.msg.attachments or t in vocabulary.DONE_WORDS or vocabulary.is_skip(t) else Fit.NO
    if step in FREE_TEXT:
        return Fit.FREE
    answer = read_answer(ctx, step, draft, item, text)
    if answer.error or answer.fields is None:
        return Fit.NO
    if step == Step.INDICATOR and answer.fields.indicator_number is None:
        return Fit.FREE  # a value in words ("已建立"): free text
    return Fit.YES
