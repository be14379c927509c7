"""Where each assignment stands today: the shared kernel of queries, digests, nudges and exports.

One query joins assignments with their item, organisation and newest report; the rest is arithmetic:
- expected progress for today (序时进度): the share of the item's window (its start, else the plan's issue date →
  its deadline) already elapsed;
- 滞后 (lagging): reported % more than `lag_points` below that (never reported is 未汇报, not 滞后);
- 逾期 (overdue): past due and not done;
- traffic light (`classify`): 🔴 overdue or blocked, 🟡 lagging or never reported past the grace period, ⚪ never
  reported within it, 🟢 otherwise;
- a project's completed investment (`project_investments`: the sum of its units' own parts) and an indicator's verdict (`verdicts`, `judge`).

A newest version a coordinator returned (退回) is not counted: the figures are those of the newest earlier version
that was not returned (none: as if never reported), and the view says it was returned, why, by whom and when.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Row, Select, bindparam, or_, select
from sqlalchemy.orm import Session, aliased

from db.models import (
    BLOCKED,
    DONE,
    FINISHED,
    IN_PROGRESS,
    INDICATOR,
    NOT_APPLICABLE,
    NOT_STARTED,
    PROJECT,
    REPORTABLE_KINDS,
    RETURNED,
    Assignment,
    Item,
    Judgement,
    Organisation,
    Person,
    Plan,
    Report,
)
from db.repositories import orgs

LAG_POINTS = 10  # default of the setting `lag_points`
GRACE_DAYS = 14  # default of the setting `unreported_grace_days`
DUE_SOON_DAYS = 7
RED, YELLOW, GREEN, WHITE = "🔴", "🟡", "🟢", "⚪"


@dataclass
class Thresholds:
    """The margins of the lights, set once from the settings (`configure`) at start-up.

    lag_points: 滞后 when the reported % is more than this many points below 序时进度;
    grace_days: a never-reported item is ⚪ (not yet due to report) this many days after its start, 🟡 after.
    """

    lag_points: int = LAG_POINTS
    grace_days: int = GRACE_DAYS


THRESHOLDS = Thresholds()


def configure(lag_points: int | None = None, grace_days: int | None = None) -> None:
    """Set the margins of the lights from the settings (`DUBAN_LAG_POINTS`, `DUBAN_UNREPORTED_GRACE_DAYS`)."""
    if lag_points is not None:
        THRESHOLDS.lag_points = lag_points
    if grace_days is not None:
        THRESHOLDS.grace_days = grace_days


@dataclass(frozen=True, slots=True)  # slots: a national plan holds ~100k of them, twice in a digest
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
    indicator_number: Decimal | None = None  # numeric indicator value of the newest report
    # The newest version was returned (退回): the figures above are those of `counted_report_id` (the newest
    # version not returned; None: none, as if never reported), `last_report_*` and `review_state` the newest's.
    returned: bool = False
    return_reason: str | None = None
    returned_by: str | None = None
    returned_at: dt.datetime | None = None  # naive UTC
    counted_report_id: int | None = None  # the version the figures come from (None: no figures)
    counted_report_at: dt.datetime | None = None  # naive UTC

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
    """(expected %, overdue, lagging, light) for one assignment: the one rule of chat, digest, export, plan show.

    - 逾期 (overdue): past due and not done;
    - 滞后 (lagging): not done, and the reported % (未启动: 0) more than `lag_points` below 序时进度; a
      never-reported item is 未汇报, and a report stating no % (an indicator's value) is not 滞后;
    - light: 🔴 overdue or 受阻; 🟡 lagging, or never reported `grace_days` after its start; ⚪ never reported
      within that grace period; 🟢 otherwise (on track, or done).
    """
    expected = expected_percent(start, due, today)
    done = status in FINISHED  # 不适用, approved or not, is not late
    overdue = not done and today > due
    reported = status is not None
    # the progress reported: a report without a percentage (an indicator's value, 推进中 alone) states none
    pct = (
        Decimal(100) if done else (percent if percent is not None else (Decimal(0) if status == NOT_STARTED else None))
    )
    lagging = pct is not None and not done and pct + THRESHOLDS.lag_points < expected
    if overdue or status == BLOCKED:
        light = RED
    elif lagging:
        light = YELLOW
    elif not reported:
        light = YELLOW if (today - start).days > THRESHOLDS.grace_days else WHITE
    else:
        light = GREEN
    return expected, overdue, lagging, light


WHOLE_PLAN_BATCH = 5000  # rows fetched at a time by a listing of a whole plan


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a listing is built: tens of thousands of new rows and views, none of
    them in a reference cycle, made the collector walk the whole heap again and again (a third of a national
    digest's time). Collection resumes afterwards (unless it was off already: nesting is harmless)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@functools.cache
def _views_query() -> Select[Any]:
    """The listing query, built once: constructing it (aliases, joins) cost more than running it."""
    # Plain columns, not ORM entities: building three objects per row made a whole-city listing ~4x slower.
    last = aliased(Report)
    return (
        select(
            Assignment.id,
            Assignment.item_id,
            Assignment.organisation_id,
            Assignment.due_date,
            Assignment.closed,
            Item.kind,
            Item.code,
            Item.number,
            Item.title,
            Item.short_name,
            Item.start_date,
            Item.due_date,
            Item.investment_total,
            Organisation.name,
            last.id,
            last.created_at,
            last.status,
            last.percent,
            last.review_state,
            last.problems,
            last.description,
            last.investment_done,
            last.physical_progress,
            last.indicator_value,
            last.indicator_number,
            last.review_comment,
            last.reviewed_at,
            last.reviewed_by_id,
        )
        .join(Item, Assignment.item_id == Item.id)
        .join(Organisation, Assignment.organisation_id == Organisation.id)
        .outerjoin(last, Assignment.last_report_id == last.id)
        .where(Item.active.is_(True), Assignment.active.is_(True))
    )


@functools.cache
def _views_statement(by_org: bool, by_item: bool, open_only: bool = False) -> Select[Any]:
    """The listing query with bound parameters: one statement object per shape, so SQLAlchemy computes its
    cache key once instead of on every call (half the time of a one-organisation listing).

    `open_only` leaves out, in SQL, the rows that cannot give an open view (`AssignmentView.done` or `closed`):
    closed assignments and those whose newest report is 已完成 and not returned. A returned newest version is
    kept whatever its status: the counted version (`_returned_context`) decides, in Python, as for every view."""
    q = _views_query().where(Item.plan_id == bindparam("plan_id"), Item.kind.in_(bindparam("kinds", expanding=True)))
    if by_org:
        q = q.where(Assignment.organisation_id.in_(bindparam("org_ids", expanding=True)))
    if by_item:
        q = q.where(Assignment.item_id.in_(bindparam("item_ids", expanding=True)))
    if open_only:
        # the newest report's status and review state, as `_views_query` selects them (its aliased report)
        status, state = q.selected_columns[_REPORT_AT + 2], q.selected_columns[_REPORT_AT + 4]
        q = q.where(Assignment.closed.is_(False), or_(status.is_(None), status != DONE, state == RETURNED))
    return q


def assignment_views(
    session: Session,
    plan: Plan,
    today: dt.date,
    org_ids: Iterable[int] | None = None,
    item_ids: Iterable[int] | None = None,
    kinds: tuple[str, ...] = REPORTABLE_KINDS,
    with_children: bool = True,
    open_only: bool = False,
) -> list[AssignmentView]:
    """Every active assignment of `plan` (optionally of some organisations / items), most urgent first.

    `org_ids` covers the units below them too (工布江达县 covers 工布江达县人民政府: `orgs.descendants`) unless
    `with_children` is False; each view keeps the unit it is assigned to (`org_id`). `open_only`: only the
    open ones (neither done nor closed), what the day's nudge scan looks at; the others are not read at all."""
    params: dict[str, Any] = {"plan_id": plan.id, "kinds": list(kinds)}
    if org_ids is not None:
        params["org_ids"] = orgs.descendants(session, list(org_ids)) if with_children else list(org_ids)
    if item_ids is not None:
        params["item_ids"] = list(item_ids)
    q = _views_statement(org_ids is not None, item_ids is not None, open_only)
    start, end = plan.start_date, plan.end_date
    # A whole plan's listing (the scheduler's, the digest's, the export's) is fetched in batches: the driver's
    # copy of 100k rows need not sit beside the rows and the views (PostgreSQL: a server-side cursor).
    options = {"yield_per": WHOLE_PLAN_BATCH} if org_ids is None and item_ids is None else {}
    with gc_paused():
        rows = list(session.execute(q, params, execution_options=options))
        returned = _returned_context(session, rows)
        shared: dict[Any, Any] = {}  # one object per distinct item and organisation text, not one per row
        views = [_view(row, start, end, today, returned, shared) for row in rows]
        del rows
    if open_only:
        views = [v for v in views if not v.done and not v.closed]  # a returned version's counted one may be done
    views.sort(key=urgency_key)
    return views


# A version's columns that `as_counted` reads (and its review state), in `_views_query`'s order: what a returned
# newest version is replaced with, and what `scheduler.history` replays.
FIGURE_COLUMNS = (
    Report.id,
    Report.created_at,
    Report.status,
    Report.percent,
    Report.review_state,
    Report.problems,
    Report.description,
    Report.investment_done,
    Report.physical_progress,
    Report.indicator_value,
    Report.indicator_number,
)
# Where the report's columns start in a row of `_views_query`, and where the figures replaced end.
_REPORT_AT, _FIGURES_END = 14, 25


@dataclass(frozen=True)
class _Returned:
    """What replaces a returned newest version: the counted version's columns (None: none) and the reviewer."""

    figures: tuple[Any, ...] | None
    reviewer: str | None


def _returned_context(session: Session, rows: list[Row[Any]]) -> dict[int, _Returned]:
    """{assignment id: its replacement} for the rows whose newest version was returned (one query each for the
    counted versions and the reviewers' names, only when some were returned)."""
    hit = [r for r in rows if r[_REPORT_AT + 4] == RETURNED]
    if not hit:
        return {}
    ids = [r[0] for r in hit]
    counted: dict[int, tuple[Any, ...]] = {}
    for row in session.execute(
        select(Report.assignment_id, *FIGURE_COLUMNS)
        .where(Report.assignment_id.in_(ids), Report.review_state != RETURNED)
        .order_by(Report.assignment_id, Report.created_at.desc(), Report.id.desc())
    ):
        counted.setdefault(row[0], tuple(row[1:]))
    reviewer_ids = {r[-1] for r in hit if r[-1] is not None}
    names: dict[int, str] = (
        dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(reviewer_ids))).tuples().all())
        if reviewer_ids
        else {}
    )
    return {r[0]: _Returned(counted.get(r[0]), names.get(r[-1])) for r in hit}


def _view(
    row: Row[Any],
    plan_start: dt.date,
    plan_end: dt.date,
    today: dt.date,
    returned: dict[int, _Returned],
    shared: dict[Any, Any],
) -> AssignmentView:
    """One row of `_views_statement` as a view, judged as of `today` (the plan's dates stand in for missing
    ones); a returned newest version's figures replaced from `returned`. `shared` keeps one copy of each item
    and organisation text across the rows (an item is assigned to hundreds of units at national scale)."""
    # The columns in the query's order: the assignment, its item and organisation, then the newest report. One
    # unpacking of the whole row (kept on three lines by hand): this runs once per assignment of the plan.
    # fmt: off
    (a_id, item_id, org_id, a_due, closed, kind, code, number, title, short_name, i_start, i_due, invest_total,
     org_name, rep_id, rep_at, status, percent, review_state, problems, description, invest_done, physical,
     ind_value, ind_number, comment, reviewed_at, _reviewer_id) = row
    # fmt: on
    same = shared.setdefault
    code, title, short_name, org_name = (
        same(code, code),
        same(title, title),
        same(short_name, short_name),
        same(org_name, org_name),
    )
    counted_id, counted_at = rep_id, rep_at
    back = returned.get(a_id)
    if back is not None:
        figures = back.figures or (None,) * (_FIGURES_END - _REPORT_AT)
        # the counted version's figures; the newest version's id, time and review state stay
        (counted_id, counted_at, status, percent, _state, problems, description, invest_done, physical, ind_value,
         ind_number) = figures  # fmt: skip
    start = i_start or plan_start
    due = a_due or i_due or plan_end
    if status == DONE:
        percent = Decimal(100)
    expected, overdue, lagging, light = classify(status, percent, start, due, today)
    return AssignmentView(
        assignment_id=a_id,
        item_id=item_id,
        item_kind=kind,
        item_code=code,
        item_number=number,
        title=title,
        short_name=short_name,
        org_id=org_id,
        org_name=org_name,
        start=start,
        due=due,
        status=status,
        percent=percent,
        last_report_id=rep_id,
        last_report_at=rep_at,
        review_state=review_state,
        problems=problems,
        description=description,
        investment_total=invest_total,
        investment_done=invest_done,
        physical_progress=physical,
        indicator_value=ind_value,
        closed=bool(closed),
        expected=expected,
        overdue=overdue,
        lagging=lagging,
        light=light,
        days_left=(due - today).days,
        indicator_number=ind_number,
        returned=back is not None,
        return_reason=comment if back is not None else None,
        returned_by=back.reviewer if back is not None else None,
        returned_at=reviewed_at if back is not None else None,
        counted_report_id=counted_id,
        counted_report_at=counted_at,
    )


class CountedVersion(Protocol):
    """What `as_counted` reads of a report version: a `Report`, or a row of its columns under the same names."""

    @property
    def id(self) -> int: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def percent(self) -> Decimal | None: ...
    @property
    def problems(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def investment_done(self) -> Decimal | None: ...
    @property
    def physical_progress(self) -> str | None: ...
    @property
    def indicator_value(self) -> str | None: ...
    @property
    def indicator_number(self) -> Decimal | None: ...


def as_counted(v: AssignmentView, r: CountedVersion | None, today: dt.date, **rest: Any) -> AssignmentView:
    """`v` with the figures of version `r` counted instead (None: as if never reported), judged as of `today`: the
    one way a view is rebuilt from another version (a day in the past, the approved versions only). `rest` sets
    the other fields (which version is the newest, its review) as the caller knows them. `r` may be a `Report`
    or a row of the same columns (`scheduler.history` reads plain columns)."""
    status = r.status if r else None
    percent = Decimal(100) if status == DONE else (r.percent if r else None)
    expected, overdue, lagging, light = classify(status, percent, v.start, v.due, today)
    return _replaced(
        v,
        status=status,
        percent=percent,
        problems=r.problems if r else None,
        description=r.description if r else None,
        investment_done=r.investment_done if r else None,
        physical_progress=r.physical_progress if r else None,
        indicator_value=r.indicator_value if r else None,
        indicator_number=r.indicator_number if r else None,
        counted_report_id=r.id if r else None,
        counted_report_at=r.created_at if r else None,
        expected=expected,
        overdue=overdue,
        lagging=lagging,
        light=light,
        **rest,
    )


def judged_at(v: AssignmentView, today: dt.date) -> AssignmentView:
    """`v` judged as of `today` (序时进度, 逾期, 滞后, light, days left): the view `assignment_views` gives for that
    day from the same rows, without reading them again."""
    expected, overdue, lagging, light = classify(v.status, v.percent, v.start, v.due, today)
    return _replaced(
        v, expected=expected, overdue=overdue, lagging=lagging, light=light, days_left=(v.due - today).days
    )


_VIEW_FIELDS = tuple(f.name for f in fields(AssignmentView))
_VIEW_VALUES = operator.attrgetter(*_VIEW_FIELDS)  # every field of a view, in order, in one call
# The slots' own setters: a frozen dataclass refuses `setattr`, and `dataclasses.replace` goes through `__init__`.
_VIEW_SETTERS = {name: getattr(AssignmentView, name).__set__ for name in _VIEW_FIELDS}
_VIEW_SETTER_LIST = tuple(_VIEW_SETTERS.values())


def _replaced(v: AssignmentView, **changes: Any) -> AssignmentView:
    """`dataclasses.replace(v, **changes)` for a view (no `__post_init__`, no init-only fields) without its
    per-call field inspection: the digest rebuilds a view per assignment of the plan."""
    if not changes.keys() <= _VIEW_SETTERS.keys():
        raise TypeError(f"AssignmentView has no field {sorted(changes.keys() - _VIEW_SETTERS.keys())}")
    new = object.__new__(AssignmentView)
    for set_slot, value in zip(_VIEW_SETTER_LIST, _VIEW_VALUES(v), strict=True):
        set_slot(new, value)
    for name, value in changes.items():
        _VIEW_SETTERS[name](new, value)
    return new


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
    applicable = [v for v in views if v.status != NOT_APPLICABLE]  # 不适用 is not part of the completion
    total_pct = sum((v.percent or Decimal(0)) for v in applicable)
    return Counts(
        total=len(views),
        done=status_of.count(DONE),
        in_progress=status_of.count(IN_PROGRESS),
        not_started=status_of.count(NOT_STARTED),
        blocked=status_of.count(BLOCKED),
        overdue=sum(v.overdue for v in views),
        lagging=sum(v.lagging for v in views),
        unreported=sum(v.status is None for v in views),
        completion=(Decimal(total_pct) / len(applicable)).quantize(Decimal("0.1")) if applicable else Decimal(0),
    )


def unit_light(views: list[AssignmentView], counts: Counts | None = None) -> str:
    """A unit's light, its worst item's: 🔴 anything overdue or blocked, 🟡 anything lagging or unreported past the
    grace period, 🟢 otherwise (⚪ items count as 🟢). The chat's tables, the digest and the board show this one."""
    c = counts if counts is not None else count(views)
    if c.overdue or c.blocked:
        return RED
    return YELLOW if any(v.light == YELLOW for v in views) else GREEN


# ---- investment ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitInvestment:
    """One unit's own part of a project: its share of the total where the plan gives one (None: unknown) and
    its own completed investment as of its newest counted report (None: not reported)."""

    view: AssignmentView
    lead: bool
    share: Decimal | None
    done: Decimal | None

    @property
    def org_name(self) -> str:
        return self.view.org_name


@dataclass(frozen=True)
class ProjectInvestment:
    """One project's investment, the one figure chat, digest, export and `plan show` give for it.

    `planned` is the project's total (`Item.investment_total`); `done` the sum over its units of each unit's
    own newest counted completed investment (a returned version is not counted: `AssignmentView` already
    carries the figures of the newest version that was not returned), each unit counted once; None when no
    unit has reported one. `units` are the units the figure was computed over (all of the project's units
    unless the views were limited to some organisations).
    """

    item_id: int
    number: int | None
    label: str
    planned: Decimal
    done: Decimal | None
    physical_progress: str | None
    units: tuple[UnitInvestment, ...]

    @property
    def shared(self) -> bool:
        return len(self.units) > 1

    @property
    def ratio(self) -> Decimal | None:
        """Completed / planned in %, one decimal; None without a figure or a total."""
        if self.done is None or not self.planned:
            return None
        return (self.done * 100 / self.planned).quantize(Decimal("0.1"))


def unit_investment(views: Iterable[AssignmentView]) -> Decimal | None:
    """The sum of the units' own completed investment, one figure per assignment (never double counted);
    None when none is known."""
    by_assignment = {v.assignment_id: v.investment_done for v in views}
    known = [Decimal(str(x)) for x in by_assignment.values() if x is not None]
    return sum(known, Decimal(0)) if known else None


def project_investments(session: Session, views: list[AssignmentView]) -> list[ProjectInvestment]:
    """One `ProjectInvestment` per project among `views`, by plan number.

    The plan may give a unit's share of the total in the item's `extra["shares"]` ({unit name: 万元}); without
    it a unit's share is unknown (shown as "—").
    """
    by_item: dict[int, list[AssignmentView]] = defaultdict(list)
    for v in views:
        if v.item_kind == PROJECT:
            by_item[v.item_id].append(v)
    if not by_item:
        return []
    roles: dict[int, str] = {
        aid: role
        for aid, role in session.execute(
            select(Assignment.id, Assignment.role).where(Assignment.item_id.in_(list(by_item)))
        )
    }
    extras: dict[int, dict[str, Any]] = {
        iid: extra or {}
        for iid, extra in session.execute(select(Item.id, Item.extra).where(Item.id.in_(list(by_item))))
    }
    out: list[ProjectInvestment] = []
    for item_id, vs in by_item.items():
        shares = extras.get(item_id, {}).get("shares") or {}
        unique = list({v.assignment_id: v for v in vs}.values())
        unique.sort(key=lambda v: (roles.get(v.assignment_id) != "lead", v.org_name))
        units = tuple(
            UnitInvestment(
                view=v,
                lead=roles.get(v.assignment_id) == "lead",
                share=Decimal(str(shares[v.org_name])) if v.org_name in shares else None,
                done=v.investment_done,
            )
            for v in unique
        )
        newest = newest_report(v for v in unique if v.physical_progress)
        first = unique[0]
        out.append(
            ProjectInvestment(
                item_id=item_id,
                number=first.item_number,
                label=first.label,
                planned=Decimal(str(first.investment_total or 0)),
                done=unit_investment(unique),
                physical_progress=newest.physical_progress if newest else None,
                units=units,
            )
        )
    out.sort(key=lambda p: (p.number or 0, p.item_id))
    return out


def city_investment(projects: Iterable[ProjectInvestment]) -> tuple[Decimal, Decimal]:
    """(planned, completed) over `projects`: the sums of the projects' own figures."""
    ps = list(projects)
    return sum((p.planned for p in ps), Decimal(0)), sum((p.done or Decimal(0) for p in ps), Decimal(0))


# Verdicts of an indicator against its target
MET, NOT_MET, UNJUDGED, UNREPORTED = "met", "not_met", "unjudged", "unreported"


def newest_report(views: Iterable[AssignmentView]) -> AssignmentView | None:
    """The view whose counted report was filed last (the latest filing time, then the latest report); None when
    none of `views` has a counted report (a returned one is not). An indicator's value and verdict are those of
    this report, in chat and export."""
    reported = [v for v in views if v.counted_report_at is not None]
    return max(reported, key=lambda v: (v.counted_report_at, v.counted_report_id or 0), default=None)


# ---- verdicts ----------------------------------------------------------------------------------------------
# The kinds of rule an indicator's target gives (`rule_of`), judged by `judge`:
# - numeric: ">=", ">", "<=", "<", "=" against the target number;
# - action: a text target naming something to do (开展, 建立, 实施, 编制, 全面实施, 有效开展…): met by a
#   recognised equivalent answer (已开展, 是, 已完成… or a report with the status 已完成), not met by a negative one
#   (未开展, 否…), otherwise 待判定;
# - trend: 不降低 / 不减少 (the value ≥ the previous one), 逐步下降 (<), 不明显 (≤): judged against the unit's
#   previous value where one exists, otherwise 待判定;
# - manual: any other text target (完成上级规定的考核任务…): 待判定 until a coordinator judges it.
# A coordinator's judgement (`判定 指标N 达标|未达标`) stands over every rule for the reports filed before it.
NUMERIC, ACTION, TREND, MANUAL = "numeric", "action", "trend", "manual"
TREND_OPS = {"不降低": ">=", "不减少": ">=", "逐步下降": "<", "下降": "<", "不明显": "<="}
ACTION_VERBS = (
    "全面实施",
    "有效开展",
    "建立并实施",
    "制定实施",
    "贯彻落实",
    "开展",
    "建立",
    "实施",
    "编制",
    "制定",
    "落实",
)
YES_WORDS = frozenset({"是", "有", "已完成", "完成", "达标", "已达标", "已经完成", "已落实"})
NO_PREFIXES = ("未", "没", "否", "不", "尚未", "暂未", "无")
_ACTION_TARGET_RE = re.compile(r"[\u4e00-\u9fff]{2,8}")  # one short phrase: not "①实施；②≥95"
_ANSWER_STRIP = " \t\n，。、；;,.!！"


@dataclass(frozen=True)
class Rule:
    kind: str  # NUMERIC | ACTION | TREND | MANUAL
    op: str | None  # the comparison (numeric, trend)
    value: Decimal | None  # the target number (numeric)
    target: str  # the target's text


def rule_of(check_op: str | None, check_value: Decimal | None, target: str | None) -> Rule:
    """The rule an indicator's check and target text give (the table above)."""
    text = (target or "").strip()
    if check_op not in (None, "text") and check_value is not None:
        return Rule(NUMERIC, check_op, Decimal(str(check_value)), text)
    if text in TREND_OPS:
        return Rule(TREND, TREND_OPS[text], None, text)
    if _ACTION_TARGET_RE.fullmatch(text) and any(v in text for v in ACTION_VERBS):
        return Rule(ACTION, None, None, text)
    return Rule(MANUAL, None, None, text)


def item_rule(item: Any) -> Rule:
    """The rule of a plan item (an indicator or sub-indicator): its check and its 2023 target (else its target)."""
    return rule_of(item.check_op, item.check_value, item.target_year_text or item.target_text)


def _compare(op: str | None, v: Decimal, target: Decimal) -> bool | None:
    return {">=": v >= target, ">": v > target, "<=": v <= target, "<": v < target, "=": v == target}.get(op or "")


def _answer_verdict(rule: Rule, text: str | None, status: str | None) -> str | None:
    """MET / NOT_MET from a recognised text answer; None when the answer says neither."""
    a = (text or "").strip(_ANSWER_STRIP).replace("已经", "已")
    if a:
        if a in YES_WORDS or a == rule.target or a == "已" + rule.target:
            return MET
        verbs = [w for w in ACTION_VERBS if w in rule.target]
        if any(a in (w, "已" + w) for w in verbs):
            return MET
        if a.startswith(NO_PREFIXES) and (a[1:] in YES_WORDS or any(w in a for w in verbs) or len(a) <= 2):
            return NOT_MET
    if status == DONE and rule.kind == ACTION:
        return MET  # reported 已完成: the equivalent of 已开展 / 已建立
    return None


def judge(
    rule: Rule,
    number: Decimal | None,
    text: str | None,
    status: str | None,
    previous: Decimal | None = None,
    judged: str | None = None,
) -> str:
    """The verdict (MET / NOT_MET / UNJUDGED / UNREPORTED) of one report against `rule` (the table above).

    Args:
        previous: the unit's previous value (trend rules).
        judged: a coordinator's verdict standing for this report (overrides the rule).
    """
    if judged in (MET, NOT_MET):
        return judged
    if status is None and number is None and not text:
        return UNREPORTED
    if rule.kind == NUMERIC:
        if number is None:
            return UNJUDGED
        ok = _compare(rule.op, Decimal(str(number)), rule.value or Decimal(0))
        return UNJUDGED if ok is None else (MET if ok else NOT_MET)
    if rule.kind == TREND:
        if number is not None and previous is not None:
            return MET if _compare(rule.op, Decimal(str(number)), Decimal(str(previous))) else NOT_MET
        return MET if (text or "").strip(_ANSWER_STRIP) == rule.target else UNJUDGED
    if rule.kind == ACTION:
        return _answer_verdict(rule, text, status) or UNJUDGED
    return UNJUDGED


def indicator_verdict(
    check_op: str | None,
    check_value: Decimal | None,
    number: Decimal | None,
    status: str | None,
    text: str | None = None,
    target: str | None = None,
    previous: Decimal | None = None,
) -> str:
    """`judge` with the rule of a check and target (for a report not stored yet, as the check-in summary shows it)."""
    return judge(rule_of(check_op, check_value, target), number, text, status, previous)


@dataclass(frozen=True)
class Verdict:
    """An indicator's verdict for one unit's counted report, and who judged it when a coordinator did."""

    code: str
    judged_by: str | None = None
    reason: str | None = None
    judged_at: dt.datetime | None = None  # naive UTC


def verdicts(session: Session, item: Any, views: Iterable[AssignmentView]) -> dict[int, Verdict]:
    """{assignment id: verdict} of `item` (an indicator) for each of `views`: the one verdict of chat, digest,
    export and plan show. Loads the units' previous values (trend rules) and the coordinators' judgements."""
    vs = list(views)
    rule = item_rule(item)
    previous: dict[int, Decimal] = {}
    if rule.kind == TREND:
        previous = _previous_numbers(session, [v for v in vs if v.counted_report_id is not None])
    rows = list(
        session.execute(
            select(Judgement, Person.name)
            .outerjoin(Person, Judgement.judged_by_id == Person.id)
            .where(Judgement.item_id == item.id)
            .order_by(Judgement.created_at.desc(), Judgement.id.desc())
        ).tuples()
    )
    out: dict[int, Verdict] = {}
    for v in vs:
        standing = next(
            (
                (j, name)
                for j, name in rows
                # a unit's own judgement stands even without a report; one of every unit judges the reports in hand
                if (
                    j.organisation_id == v.org_id
                    and (v.counted_report_at is None or v.counted_report_at <= j.created_at)
                )
                or (
                    j.organisation_id is None
                    and v.counted_report_at is not None
                    and v.counted_report_at <= j.created_at
                )
            ),
            None,
        )
        code = judge(
            rule,
            v.indicator_number,
            v.indicator_value,
            v.status if v.counted_report_id is not None else None,
            previous.get(v.assignment_id),
            standing[0].verdict if standing else None,
        )
        if standing is not None:
            j, name = standing
            out[v.assignment_id] = Verdict(code, name or "", j.reason, j.created_at)
        else:
            out[v.assignment_id] = Verdict(code)
    return out


def judge_indicator(
    session: Session,
    item: Any,
    verdict: str,
    at: dt.datetime,
    person_id: int | None,
    org_id: int | None = None,
    reason: str | None = None,
) -> Judgement:
    """Store a coordinator's verdict on `item` (for one unit, or every unit when `org_id` is None)."""
    if verdict not in (MET, NOT_MET):
        raise ValueError(f"a judgement is met or not_met, not {verdict!r}")
    j = Judgement(
        item_id=item.id,
        organisation_id=org_id,
        verdict=verdict,
        reason=(reason or None) and reason[:200],
        judged_by_id=person_id,
        created_at=at,
    )
    session.add(j)
    session.flush()
    return j


@dataclass(frozen=True)
class IndicatorFigure:
    """One indicator over some units' views (`indicator_figures`)."""

    item: Item
    latest: AssignmentView | None  # its newest counted report's view
    verdict: Verdict  # the city's for an indicator owned by several units, else its one unit's
    city: CityFigure  # the city's figure (`indicator_city`); a shared one's value is what lists show


def indicator_figures(session: Session, plan: Plan, views: Iterable[AssignmentView]) -> dict[int, IndicatorFigure]:
    """{indicator id: its figure} for every active indicator of `plan` with views among `views`: the verdict is
    the city's (`indicator_city`) for an indicator owned by several units, else its one unit's; what chat, the
    digest and the export say of it."""
    by_item: dict[int, list[AssignmentView]] = defaultdict(list)
    for v in views:
        if v.item_kind == INDICATOR:
            by_item[v.item_id].append(v)
    if not by_item:
        return {}
    items = session.execute(select(Item).where(Item.id.in_(list(by_item)), Item.plan_id == plan.id)).scalars()
    out: dict[int, IndicatorFigure] = {}
    for item in items:
        latest = newest_report(by_item[item.id])
        city = indicator_city(session, item, by_item[item.id])
        if city.shared:
            verdict = Verdict(city.verdict)
        else:
            verdict = verdict_of(session, item, latest) if latest else Verdict(UNREPORTED)
        out[item.id] = IndicatorFigure(item, latest, verdict, city)
    return out


def indicator_verdicts(
    session: Session, plan: Plan, views: Iterable[AssignmentView]
) -> dict[int, tuple[AssignmentView | None, Verdict]]:
    """{indicator id: (its newest counted report's view or None, the indicator's verdict)}: `indicator_figures`
    without the figures."""
    return {k: (f.latest, f.verdict) for k, f in indicator_figures(session, plan, views).items()}


def verdict_of(session: Session, item: Any, view: AssignmentView) -> Verdict:
    """The verdict of one unit's counted report on `item` (`verdicts` for one view)."""
    return verdicts(session, item, [view])[view.assignment_id]


def _previous_numbers(session: Session, views: list[AssignmentView]) -> dict[int, Decimal]:
    """{assignment id: the newest value reported before its counted report} (versions returned not counted)."""
    if not views:
        return {}
    counted = {v.assignment_id: (v.counted_report_at, v.counted_report_id or 0) for v in views}
    out: dict[int, Decimal] = {}
    for aid, at, rid, number in session.execute(
        select(Report.assignment_id, Report.created_at, Report.id, Report.indicator_number)
        .where(
            Report.assignment_id.in_(list(counted)),
            Report.indicator_number.is_not(None),
            Report.review_state != RETURNED,
        )
        .order_by(Report.assignment_id, Report.created_at.desc(), Report.id.desc())
    ):
        if aid not in out and (at, rid) < counted[aid]:
            out[aid] = number
    return out


# ---- the city's figure of a shared indicator ---------------------------------------------------------------
# An indicator owned by several units has a value per unit; the city's figure follows the indicator's rule
# (`Item.extra["city_rule"]`, from the plan's `city_rule`), else the default (`city_rule`):
# - all: the city 达标 iff every responsible unit 达标 (未达标 if any unit is, else 待判定; a unit that has not
#   reported makes it 待判定); the city's value is the number of units 达标;
# - min / mean / sum: the units' newest counted numeric values combined, judged by the indicator's rule.
CITY_ALL, CITY_MIN, CITY_MEAN, CITY_SUM = "all", "min", "mean", "sum"
CITY_RULES = (CITY_ALL, CITY_MIN, CITY_MEAN, CITY_SUM)
# Units of a count: a numeric indicator in one of them adds up over the units by default.
COUNT_UNITS = frozenset({"个", "家", "处", "次", "项", "座", "人", "人次", "户", "村", "场", "件"})


def city_rule(item: Any) -> str:
    """The rule giving `item`'s city figure: the plan's `city_rule`, else `sum` for a numeric count (its unit
    one of COUNT_UNITS), else `all` (a rate, a percentage, a text target: every unit must 达标)."""
    stated = (item.extra or {}).get("city_rule")
    if stated in CITY_RULES:
        return str(stated)
    if item_rule(item).kind == NUMERIC and (item.unit or "").strip() in COUNT_UNITS:
        return CITY_SUM
    return CITY_ALL


@dataclass(frozen=True)
class UnitFigure:
    """One responsible unit's figure of an indicator: its view, newest counted number and verdict."""

    view: AssignmentView
    number: Decimal | None  # None: no numeric value counted
    verdict: Verdict

    @property
    def reported(self) -> bool:
        return self.view.counted_report_id is not None


@dataclass(frozen=True)
class CityFigure:
    """An indicator's figure for the whole city (`indicator_city`)."""

    rule: str  # CITY_RULES
    value: Decimal | None  # min/mean/sum: the combined value; all: the number of units 达标
    verdict: str  # MET / NOT_MET / UNJUDGED / UNREPORTED
    units: list[UnitFigure]  # plan order (by unit id)

    @property
    def shared(self) -> bool:
        return len(self.units) > 1

    @property
    def counts(self) -> dict[str, int]:
        """{verdict code: units} over the responsible units (never reported: UNREPORTED)."""
        out = {code: 0 for code in (MET, NOT_MET, UNJUDGED, UNREPORTED)}
        for u in self.units:
            out[u.verdict.code] += 1
        return out


def combine(rule: str, numbers: Iterable[Decimal]) -> Decimal | None:
    """The city's value of the units' `numbers` by `rule` (min, mean, sum); None without numbers or for `all`."""
    ns = [Decimal(str(n)) for n in numbers]
    if not ns or rule == CITY_ALL:
        return None
    if rule == CITY_MIN:
        return min(ns)
    if rule == CITY_SUM:
        return sum(ns, Decimal(0))
    return (sum(ns, Decimal(0)) / len(ns)).quantize(Decimal("0.01"))


def city_verdict(rule: str, item_rule_: Rule, units: list[tuple[Decimal | None, str]]) -> tuple[Decimal | None, str]:
    """(the city's value, its verdict) from each unit's (number, verdict code) by `rule` (the table above)."""
    codes = [code for _, code in units]
    if rule == CITY_ALL:
        met = codes.count(MET)
        if NOT_MET in codes:
            return Decimal(met), NOT_MET
        if codes and all(c == MET for c in codes):
            return Decimal(met), MET
        if codes and all(c == UNREPORTED for c in codes):
            return Decimal(met), UNREPORTED
        return Decimal(met), UNJUDGED
    value = combine(rule, [n for n, code in units if n is not None and code != UNREPORTED])
    if value is None:
        return None, UNREPORTED if all(c == UNREPORTED for c in codes) else UNJUDGED
    return value, judge(item_rule_, value, None, IN_PROGRESS)


def indicator_city(session: Session, item: Any, views: Iterable[AssignmentView]) -> CityFigure:
    """`item`'s (an indicator) figure for the city over its units' `views`: the value and verdict by its
    `city_rule`, and each unit's number and verdict (`verdicts`); the one city figure of chat, digest, export
    and plan show. An indicator owned by one unit: that unit's number and verdict."""
    vs = sorted(views, key=lambda v: (v.org_id, v.assignment_id))
    judged = verdicts(session, item, vs)
    units = [
        UnitFigure(
            v,
            v.indicator_number if v.counted_report_id is not None else None,
            judged[v.assignment_id] if v.counted_report_id is not None else Verdict(UNREPORTED),
        )
        for v in vs
    ]
    rule = city_rule(item)
    if len(units) == 1:
        return CityFigure(rule, units[0].number, units[0].verdict.code, units)
    value, code = city_verdict(rule, item_rule(item), [(u.number, u.verdict.code) for u in units])
    return CityFigure(rule, value, code, units)
