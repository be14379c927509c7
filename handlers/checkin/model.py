"""The check-in dialogue's named states and its typed data: the draft of one report, numbers as numbers.

The kernel stores a state's value and the data's JSON with the conversation; `load` and `save` are the only
way this dialogue reads and writes them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer

from db.models import DONE, NOT_APPLICABLE, NOT_STARTED, RETURNED, Assignment, Report
from handlers.context import Context


class CheckinState(StrEnum):
    PROMPTED = "checkin.prompted"  # armed by the weekly prompt: a short yes starts the check-in
    PICK = "checkin.pick"  # the numbered list of open tasks
    ASK = "checkin.ask"  # one question of the draft (`CheckinData.step`)
    OVER = "checkin.over"  # the investment entered is above the project's total: confirm or re-enter
    CONFIRM = "checkin.confirm"  # the summary: 确认 / 修改 <item> / 取消
    MODIFY = "checkin.modify"  # which item to change
    NEXT = "checkin.next"  # after submitting: offer the next open task
    ONELINER = "checkin.oneliner"  # a one-line report matched several tasks: pick one
    NO_CHANGE = "checkin.no_change"  # 全部无变化: confirm filing "no change" for the listed tasks
    FRACTION = "checkin.fraction"  # a percent typed as 0.8: is it 80 %?
    DRAFTS = "checkin.drafts"  # several parked drafts: which one to resume or discard


class Step(StrEnum):
    """The questions of a draft, in the order they are asked."""

    STATUS = "status"
    PERCENT = "percent"
    INVESTMENT = "investment"
    PHYSICAL = "physical"
    INDICATOR = "indicator"
    DESCRIPTION = "description"
    PROBLEMS = "problems"
    NEXT_STEP = "next_step"
    EXPECTED = "expected"
    EVIDENCE = "evidence"


def _json_number(d: Decimal) -> int | float:
    return int(d) if d == d.to_integral_value() else float(d)


# A decimal in memory, a JSON number in the stored draft.
Num = Annotated[Decimal, PlainSerializer(_json_number, when_used="json")]


class Fields(BaseModel):
    """The answers of a draft."""

    status: str | None = None
    percent: Num | None = None
    investment: Num | None = None
    physical: str | None = None
    indicator: str | None = None
    indicator_number: Num | None = None
    description: str | None = None
    problems: str | None = None
    next_step: str | None = None
    expected: dt.date | None = None
    no_change: bool = False
    quantity: Num | None = None  # done so far, in the target's unit
    quantity_unit: str | None = None
    percent_low: Num | None = None  # the range of an approximate percent ("七八成": 70–80)
    percent_high: Num | None = None

    def report_values(self) -> dict[str, Any]:
        """The report's columns for these answers."""
        return {
            "status": self.status,
            "percent": self.percent,
            "investment_done": self.investment,
            "physical_progress": self.physical,
            "indicator_value": self.indicator,
            "indicator_number": self.indicator_number,
            "description": self.description,
            "problems": self.problems,
            "next_step": self.next_step,
            "expected_date": self.expected,
            "no_change": self.no_change,
            "quantity": self.quantity,
            "quantity_unit": self.quantity_unit,
            "percent_low": self.percent_low,
            "percent_high": self.percent_high,
        }


class Draft(BaseModel):
    """One report being written."""

    assignment_id: int
    fields: Fields = Field(default_factory=Fields)
    attachments: list[int] = Field(default_factory=list)
    supersedes: int | None = None  # the report this one corrects (修改上次汇报)
    editing: bool = False  # answering one item of the summary again (修改)
    answered: list[Step] = Field(default_factory=list)
    quick: bool = False  # from a line of the list ("3 受阻"): filed as soon as its missing details are given
    previous: Fields | None = None  # the last version's answers: "同上" keeps one
    returned_reason: str | None = None  # re-reporting a returned version: the coordinator's reason


class CheckinData(BaseModel):
    """What the dialogue remembers between messages."""

    org_id: int | None = None
    options: list[int] = Field(default_factory=list)  # assignment ids offered in the list, or by a one-liner
    page: int = 0
    step: Step | None = None
    queue: list[int] = Field(default_factory=list)  # the tasks still to report in this sitting
    draft: Draft | None = None
    oneliner: Fields | None = None  # the figures of a one-line report waiting for its task
    pending: list[int] = Field(default_factory=list)  # tasks waiting for a confirmation (全部无变化)
    fraction: Num | None = None  # a percent typed as a fraction (0.8), waiting for "是指80%吗"
    drafts_discard: bool = False  # the drafts listed are to be discarded, not resumed
    later: list[str] = Field(default_factory=list)  # lines for other tasks typed while a line's detail was asked


KEEP = "keep_checkin"  # an older release's single parked draft: read as one of DRAFTS
DRAFTS = "keep_drafts"  # parked drafts, one per task: {assignment id: {"state": ..., "data": CheckinData}}


def load(ctx: Context) -> CheckinData:
    raw = {k: v for k, v in (ctx.data or {}).items() if not k.startswith("keep_")}
    return CheckinData.model_validate(raw)


def save(ctx: Context, state: CheckinState, data: CheckinData) -> None:
    """Move to `state` with `data` (a parked draft survives)."""
    ctx.go(state, **data.model_dump(mode="json", exclude_defaults=True))


def draft_of(data: CheckinData) -> Draft:
    if data.draft is None:
        raise LookupError("this check-in state has no draft")
    return data.draft


def fields_of(report: Report) -> Fields:
    """The answers a filed version holds (to carry forward, correct or re-report it)."""
    return Fields(
        status=report.status,
        percent=report.percent,
        investment=report.investment_done,
        physical=report.physical_progress,
        indicator=report.indicator_value,
        indicator_number=report.indicator_number,
        description=report.description,
        problems=report.problems,
        next_step=report.next_step,
        expected=report.expected_date,
        quantity=report.quantity,
        quantity_unit=report.quantity_unit,
        percent_low=report.percent_low,
        percent_high=report.percent_high,
    )


def newest_report(ctx: Context, aid: int) -> Report | None:
    """The newest version filed on assignment `aid`, if any."""
    a = ctx.session.get(Assignment, aid)
    return ctx.session.get(Report, a.last_report_id) if a is not None and a.last_report_id else None


def carried_forward(report: Report | None) -> Fields | None:
    """Last time's answers, to keep ("同上", a line's unchanged details): none from a returned version."""
    return fields_of(report) if report is not None and report.review_state != RETURNED else None


# The statuses that settle the percentage: 已完成 is 100, 未启动 0, 不适用 none.
SETTLED_PERCENT: dict[str, Decimal | None] = {DONE: Decimal(100), NOT_STARTED: Decimal(0), NOT_APPLICABLE: None}


def settle_percent(fields: Fields) -> bool:
    """Set the percentage `fields.status` settles (and drop a range typed before); False if it settles none."""
    if fields.status not in SETTLED_PERCENT:
        return False
    fields.percent = SETTLED_PERCENT[fields.status]
    fields.percent_low = fields.percent_high = None
    return True
