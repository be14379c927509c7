"""Where each assignment stands today: the shared kernel of queries, digests, nudges and exports.

One query joins assignments with their item, organisation and newest report; the rest is arithmetic:
- expected progress for today (序时进度): the share of the task's window (start → due) already elapsed;
- 滞后 (lagging): reported % more than `LAG_POINTS` below that;
- 逾期 (overdue): past due and not done;
- traffic light: 🔴 overdue or blocked, 🟡 lagging or due within 7 days, 🟢 otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from db.models import BLOCKED, DONE, IN_PROGRESS, NOT_STARTED, REPORTABLE_KINDS, Assignment, Item, Organisation, Plan, Report

LAG_POINTS = 20
DUE_SOON_DAYS = 7
RED, YELLOW, GREEN = "🔴", "🟡", "🟢"


@dataclass(frozen=True)
class AssignmentView:
    assignment_id: int
    item_id: int
    item_kind: str
    item_code: str
    item_number: int | None
    title: str
    short_name: str | None
    org_id: int
    org_name: str
    start: dt.date
    due: dt.date
    status: str | None  # None: never reported
    percent: Decimal | None
    last_report_id: int | None
    last_report_at: dt.datetime | None  # naive UTC
    review_state: str | None
    problems: str | None
    description: str | None
    investment_total: Decimal | None
    investment_done: Decimal | None
    physical_progress: str | None
    indicator_value: str | None
    closed: bool
    expected: Decimal
    overdue: bool
    lagging: bool
    light: str
    days_left: int  # until due; negative when overdue

    @property
    def label(self) -> str:
        return self.short_name or self.title

    @property
    def done(self) -> bool:
        return self.status == DONE


def expected_percent(start: dt.date, due: dt.date, today: dt.date) -> Decimal:
    """序时进度: the elapsed share of [start, due] at `today`, 0–100."""
    if today <= start:
        return Decimal(0)
    if today >= due or due <= start:
        return Decimal(100)
    return (Decimal((today - start).days) * 100 / Decimal((due - start).days)).quantize(Decimal("0.1"))


def classify(
    status: str | None, percent: Decimal | None, start: dt.date, due: dt.date, today: dt.date
) -> tuple[Decimal, bool, bool, str]:
    """(expected %, overdue, lagging, light) for one assignment."""
    expected = expected_percent(start, due, today)
    done = status == DONE
    overdue = not done and today > due
    pct = Decimal(100) if done else (percent or Decimal(0))
    lagging = not done and pct + LAG_POINTS < expected
    if overdue or status == BLOCKED:
        light = RED
    elif not done and (lagging or (due - today).days <= DUE_SOON_DAYS):
        light = YELLOW
    else:
        light = GREEN
    return expected, overdue, lagging, light


def assignment_views(
    session: Session,
    plan: Plan,
    today: dt.date,
    org_ids: Iterable[int] | None = None,
    item_ids: Iterable[int] | None = None,
    kinds: tuple[str, ...] = REPORTABLE_KINDS,
) -> list[AssignmentView]:
    """Every active assignment of `plan` (optionally of some organisations / items), most urgent first."""
    last = aliased(Report)
    q = (
        select(Assignment, Item, Organisation.name, last)
        .join(Item, Assignment.item_id == Item.id)
        .join(Organisation, Assignment.organisation_id == Organisation.id)
        .outerjoin(last, Assignment.last_report_id == last.id)
        .where(Item.plan_id == plan.id, Item.active.is_(True), Assignment.active.is_(True), Item.kind.in_(kinds))
    )
    if org_ids is not None:
        q = q.where(Assignment.organisation_id.in_(list(org_ids)))
    if item_ids is not None:
        q = q.where(Assignment.item_id.in_(list(item_ids)))
    views: list[AssignmentView] = []
    for a, item, org_name, rep in session.execute(q):
        start = item.start_date or plan.start_date
        due = a.due_date or item.due_date or plan.end_date
        status = rep.status if rep else None
        percent = rep.percent if rep else None
        if status == DONE:
            percent = Decimal(100)
        expected, overdue, lagging, light = classify(status, percent, start, due, today)
        v = AssignmentView(
            assignment_id=a.id,
            item_id=item.id,
            item_kind=item.kind,
            item_code=item.code,
            item_number=item.number,
            title=item.title,
            short_name=item.short_name,
            org_id=a.organisation_id,
            org_name=org_name,
            start=start,
            due=due,
            status=status,
            percent=percent,
            last_report_id=rep.id if rep else None,
            last_report_at=rep.created_at if rep else None,
            review_state=rep.review_state if rep else None,
            problems=rep.problems if rep else None,
            description=rep.description if rep else None,
            investment_total=item.investment_total,
            investment_done=rep.investment_done if rep else None,
            physical_progress=rep.physical_progress if rep else None,
            indicator_value=rep.indicator_value if rep else None,
            closed=a.closed,
            expected=expected,
            overdue=overdue,
            lagging=lagging,
            light=light,
            days_left=(due - today).days,
        )
        views.append(v)
    views.sort(key=urgency_key)
    return views


def urgency_key(v: AssignmentView) -> tuple[int, int, str]:
    """Overdue first (longest overdue first), then blocked, then nearest deadline; done last."""
    if v.done:
        rank = 3
    elif v.overdue:
        rank = 0
    elif v.status == BLOCKED:
        rank = 1
    else:
        rank = 2
    return (rank, v.days_left, v.item_code)


@dataclass(frozen=True)
class Counts:
    total: int
    done: int
    in_progress: int
    not_started: int
    blocked: int
    overdue: int
    lagging: int
    unreported: int
    completion: Decimal  # average % complete over all assignments (done = 100, unreported = 0)


def count(views: list[AssignmentView]) -> Counts:
    status_of = [v.status or NOT_STARTED for v in views]
    total_pct = sum((v.percent or Decimal(0)) for v in views)
    return Counts(
        total=len(views),
        done=status_of.count(DONE),
        in_progress=status_of.count(IN_PROGRESS),
        not_started=status_of.count(NOT_STARTED),
        blocked=status_of.count(BLOCKED),
        overdue=sum(v.overdue for v in views),
        lagging=sum(v.lagging for v in views),
        unreported=sum(v.status is None for v in views),
        completion=(Decimal(total_pct) / len(views)).quantize(Decimal("0.1")) if views else Decimal(0),
    )
