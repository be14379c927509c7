"""What each page of the board shows, as plain values for the templates.

Every figure comes from the functions the chat, the digest and the export call: `scheduler.digest.build_digest`
(a unit's completion, its change against the week before, its light), `progress.assignment_views` (an item's
status, %, 序时进度, 逾期, 滞后, light), `scheduler.export`'s tables (the 工程项目 and 指标 sheets with their 合计) and
`handlers.review.decide` (a decision). Nothing here computes a figure of its own; it selects, sorts and labels.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from config.settings import Settings
from db.models import (
    BLOCKED,
    DONE,
    INDICATOR,
    PROJECT,
    RETURNED,
    Assignment,
    Attachment,
    Item,
    Organisation,
    Person,
    Plan,
    Report,
)
from db.repositories import orgs, progress, reports
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from handlers.context import coordinates
from handlers.queries import access
from handlers.understanding.text import normalize_for_matching
from handlers.understanding.windows import find_window
from scheduler import export
from scheduler.digest import Chased, Digest, OrgLine, build_digest, chased

COUNTY, DEPARTMENT = "county", "department"
URGES_SHOWN = 10


# ---- who is looking --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """The signed-in person and what the chat's rules let them see: every unit (coordinators, leaders, admins,
    or everyone with `open_queries`), else their own unit and the units below it."""

    person_id: int
    name: str
    org_id: int | None
    org_ids: frozenset[int] | None  # None: every unit
    may_review: bool

    @property
    def sees_all(self) -> bool:
        return self.org_ids is None

    def sees(self, org_id: int) -> bool:
        return self.org_ids is None or org_id in self.org_ids


def viewer_of(session: Session, person: Person, settings: Settings) -> Viewer:
    sees_all = access.sees_everyone(person, settings)
    org_ids: frozenset[int] | None = None
    if not sees_all:
        own = [person.organisation_id] if person.organisation_id is not None else []
        org_ids = frozenset(orgs.descendants(session, own)) if own else frozenset()
    return Viewer(
        person.id,
        person.name,
        person.organisation_id,
        org_ids,
        may_review=coordinates(person),
    )


# ---- filters -------------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _window(words: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days `words` name ("本周到期", "下月到期"), read as the chat reads "本月到期的" (`find_window`)."""
    found = find_window(normalize_for_matching(words), today)
    assert found is not None, words
    return found.start, found.end


def _due_in(words: str) -> Callable[[AssignmentView, dt.date], bool]:
    """Open items whose deadline falls in the window `words` name."""

    def test(v: AssignmentView, today: dt.date) -> bool:
        start, end = _window(words, today)
        return not v.done and not v.closed and start <= v.due <= end

    return test


# key → (label, test). The item-level conditions are the views' own flags.
FILTERS: dict[str, tuple[str, Callable[[AssignmentView, dt.date], bool]]] = {
    "overdue": (texts.BOARD_F_OVERDUE, lambda v, _: v.overdue),
    "lagging": (texts.BOARD_F_LAGGING, lambda v, _: v.lagging),
    "blocked": (texts.BOARD_F_BLOCKED, lambda v, _: v.status == BLOCKED),
    "unreported": (texts.BOARD_F_UNREPORTED, lambda v, _: v.status is None),
    "returned": (texts.BOARD_F_RETURNED, lambda v, _: v.returned),
    "week": (texts.BOARD_F_THIS_WEEK, _due_in(texts.BOARD_F_THIS_WEEK)),
    "next_week": (texts.BOARD_F_NEXT_WEEK, _due_in(texts.BOARD_F_NEXT_WEEK)),
    "month": (texts.BOARD_F_THIS_MONTH, _due_in(texts.BOARD_F_THIS_MONTH)),
    "next_month": (texts.BOARD_F_NEXT_MONTH, _due_in(texts.BOARD_F_NEXT_MONTH)),
}


# ---- 总览 ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitRow:
    org_id: int
    name: str
    light: str
    completion: Decimal
    delta: Decimal
    counts: progress.Counts
    last_report: dt.date | None
    matches: int  # items matching the filter (0 without one)


@dataclass(frozen=True)
class Group:
    title: str
    rows: list[UnitRow]


@dataclass
class Overview:
    digest: Digest
    groups: list[Group]
    filter_key: str | None
    filter_label: str | None
    items: list[AssignmentView]  # the items matching the filter, most urgent first
    sort: str
    descending: bool
    pending_reviews: int = 0
    filter_counts: dict[str, int] = field(default_factory=dict)

    @property
    def delta(self) -> Decimal:
        return self.digest.overall.completion - self.digest.overall_before


SORTS: dict[str, Callable[[UnitRow], Any]] = {
    "name": lambda r: r.name,
    "completion": lambda r: r.completion,
    "delta": lambda r: r.delta,
    "overdue": lambda r: r.counts.overdue,
    "lagging": lambda r: r.counts.lagging,
    "blocked": lambda r: r.counts.blocked,
    "unreported": lambda r: r.counts.unreported,
    "last": lambda r: r.last_report or dt.date.min,
    "matches": lambda r: r.matches,
}
DEFAULT_DESCENDING = {"completion", "delta", "overdue", "lagging", "blocked", "unreported", "last", "matches"}


def _last_report(views: Iterable[AssignmentView], tz: dt.tzinfo) -> dt.date | None:
    newest = progress.newest_report(views)
    return fmt.local_date(newest.last_report_at, tz) if newest and newest.last_report_at else None


def _unit_row(line: OrgLine, tz: dt.tzinfo, test: Callable[[AssignmentView], bool] | None) -> UnitRow:
    return UnitRow(
        org_id=line.org_id,
        name=line.name,
        light=line.light,
        completion=line.completion,
        delta=line.delta,
        counts=line.counts,
        last_report=_last_report(line.views, tz),
        matches=sum(1 for v in line.views if test(v)) if test else 0,
    )


def overview(
    session: Session,
    plan: Plan,
    now: dt.datetime,
    viewer: Viewer,
    filter_key: str | None = None,
    sort: str | None = None,
    descending: bool | None = None,
) -> Overview:
    """Every unit the viewer sees, grouped 县（区）/ 市直部门 / 其他, with the digest's figures; a filter keeps the
    units with a matching item and lists those items."""
    org_ids = sorted(viewer.org_ids) if viewer.org_ids is not None else None
    digest = build_digest(session, plan, now, org_ids=org_ids)
    today = now.date()
    filt = FILTERS.get(filter_key or "")
    test = (lambda v: filt[1](v, today)) if filt else None
    kinds = {o.id: o.kind for o in orgs.all_orgs(session)}
    tz = now.tzinfo or dt.UTC
    rows = [_unit_row(line, tz, test) for line in digest.orgs]
    if test is not None:
        rows = [r for r in rows if r.matches]
    sort = sort if sort in SORTS else "completion"
    desc = descending if descending is not None else sort in DEFAULT_DESCENDING
    rows.sort(key=lambda r: r.name)
    rows.sort(key=SORTS[sort], reverse=desc)
    groups = [
        Group(texts.BOARD_GROUP_COUNTIES, [r for r in rows if kinds.get(r.org_id) == COUNTY]),
        Group(texts.BOARD_GROUP_DEPARTMENTS, [r for r in rows if kinds.get(r.org_id) == DEPARTMENT]),
        Group(texts.BOARD_GROUP_OTHERS, [r for r in rows if kinds.get(r.org_id) not in (COUNTY, DEPARTMENT)]),
    ]
    views = [v for line in digest.orgs for v in line.views]
    items = sorted((v for v in views if test(v)), key=progress.urgency_key) if test is not None else []
    counts = {key: sum(1 for v in views if t(v, today)) for key, (_, t) in FILTERS.items()}
    return Overview(
        digest=digest,
        groups=[g for g in groups if g.rows],
        filter_key=filter_key if filt else None,
        filter_label=filt[0] if filt else None,
        items=items,
        sort=sort,
        descending=desc,
        pending_reviews=reports.pending_count(session) if viewer.may_review else 0,
        filter_counts=counts,
    )


# ---- 单位 ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    name: str
    role: str
    org: str
    on_leave_until: dt.date | None
    channels: str


@dataclass(frozen=True)
class UnitItem:
    view: AssignmentView
    child_org: str | None  # the unit below this one it belongs to
    reviewer: str | None
    review: str


@dataclass
class UnitPage:
    org: Organisation
    line: OrgLine | None
    items: list[UnitItem]
    members: list[Member]
    chases: list[Chased]  # newest first
    last_report: dt.date | None
    filter_key: str | None = None
    filter_label: str | None = None
    filter_counts: dict[str, int] = field(default_factory=dict)


def _reviewers(session: Session, report_ids: list[int]) -> dict[int, str]:
    """{report id: the reviewer's name} for the decided ones among `report_ids`."""
    if not report_ids:
        return {}
    rows = session.execute(
        select(Report.id, Person.name).join(Person, Person.id == Report.reviewed_by_id).where(Report.id.in_(report_ids))
    )
    return {rid: name for rid, name in rows}


def unit(session: Session, plan: Plan, now: dt.datetime, org: Organisation, filter_key: str | None = None) -> UnitPage:
    """One unit (with the units below it): the digest's line, its items (those matching the filter, when one is
    given), people and 催办 record."""
    digest = build_digest(session, plan, now, org_ids=[org.id], org_filter=org.name)
    line = next((ol for ol in digest.orgs if ol.org_id == org.id), digest.orgs[0] if digest.orgs else None)
    today = now.date()
    every = sorted(line.views if line else (), key=progress.urgency_key)
    filt = FILTERS.get(filter_key or "")
    views = [v for v in every if filt[1](v, today)] if filt else every
    who = _reviewers(session, [v.last_report_id for v in views if v.last_report_id is not None])
    items = [
        UnitItem(
            v,
            v.org_name if v.org_id != org.id else None,
            who.get(v.last_report_id) if v.last_report_id is not None else None,
            fmt.review_label(v.review_state) if v.last_report_id is not None else "",
        )
        for v in views
    ]
    tz = now.tzinfo or dt.UTC
    unit_ids = orgs.descendants(session, [org.id])
    counts = {key: sum(1 for v in every if t(v, today)) for key, (_, t) in FILTERS.items()}
    people = session.scalars(
        select(Person)
        .where(Person.organisation_id.in_(unit_ids), Person.active.is_(True))
        .options(selectinload(Person.identities), selectinload(Person.organisation))
        .order_by(Person.organisation_id, Person.id)
    ).all()
    members = [
        Member(
            p.name,
            texts.ROLE_NAMES.get(p.role, p.role),
            p.organisation.name if p.organisation is not None else fmt.DASH,
            p.paused_until if p.paused_until is not None and p.paused_until >= today else None,
            "、".join(sorted({texts.CHANNEL_NAMES.get(i.channel, i.channel) for i in p.identities})) or fmt.DASH,
        )
        for p in people
    ]
    plan_start = dt.datetime.combine(plan.start_date, dt.time.min, tzinfo=tz)
    chases = chased(session, plan_start, now, [org.id])[::-1][:URGES_SHOWN]
    return UnitPage(
        org,
        line,
        items,
        members,
        chases,
        _last_report(every, tz),
        filter_key if filt else None,
        filt[0] if filt else None,
        counts,
    )


# ---- 事项 (一事一档) ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    report: Report
    number: int  # 第N版, oldest first
    person: str
    channel: str
    at: dt.datetime  # aware local
    reviewer: str | None
    reviewed_at: dt.datetime | None
    photos: list[Attachment]
    files: list[Attachment]
    counted: bool  # the version the figures count


@dataclass(frozen=True)
class Point:
    day: dt.date
    value: Decimal


@dataclass
class ItemPage:
    assignment: Assignment
    item: Item
    org: Organisation
    view: AssignmentView
    versions: list[Version]
    series: list[Point]
    series_label: str
    target: Decimal | None
    verdict: str | None
    siblings: list[AssignmentView]  # the same item's other units the viewer may see


def item(session: Session, plan: Plan, now: dt.datetime, viewer: Viewer, assignment: Assignment) -> ItemPage:
    today = now.date()
    tz = now.tzinfo or dt.UTC
    all_views = progress.assignment_views(session, plan, today, item_ids=[assignment.item_id])
    view = next(v for v in all_views if v.assignment_id == assignment.id)
    siblings = [v for v in all_views if v.assignment_id != assignment.id and viewer.sees(v.org_id)]
    history = session.scalars(
        select(Report)
        .where(Report.assignment_id == assignment.id)
        .options(selectinload(Report.attachments), selectinload(Report.person))
        .order_by(Report.created_at, Report.id)
    ).all()
    reviewers = _reviewers(session, [r.id for r in history if r.reviewed_by_id is not None])
    versions = [
        Version(
            report=r,
            number=i,
            person=r.person.name if r.person is not None else fmt.DASH,
            channel=texts.CHANNEL_NAMES.get(r.channel, r.channel),
            at=fmt.local(r.created_at, tz),
            reviewer=reviewers.get(r.id),
            reviewed_at=fmt.local(r.reviewed_at, tz) if r.reviewed_at is not None else None,
            photos=photos_of(r),
            files=files_of(r),
            counted=r.id == view.counted_report_id,
        )
        for i, r in enumerate(history, 1)
    ]
    versions.reverse()  # newest first
    item_ = assignment.item
    if item_.kind == INDICATOR:
        series = [
            Point(fmt.local_date(r.created_at, tz), r.indicator_number)
            for r in history
            if r.indicator_number is not None and r.review_state != RETURNED
        ]
        label, target = texts.BOARD_CHART_INDICATOR.format(unit=item_.unit or ""), item_.check_value
        verdict = progress.verdict_of(session, item_, view)
        verdict_text: str | None = (
            fmt.verdict_text(verdict.code, verdict.judged_by, verdict.reason)
            if view.counted_report_id is not None
            else None
        )
    elif item_.kind == PROJECT:
        series = [
            Point(fmt.local_date(r.created_at, tz), r.investment_done)
            for r in history
            if r.investment_done is not None and r.review_state != RETURNED
        ]
        label, target, verdict_text = texts.BOARD_CHART_INVESTMENT, None, None
    else:
        series = [
            Point(fmt.local_date(r.created_at, tz), pct)
            for r in history
            if r.review_state != RETURNED and (pct := Decimal(100) if r.status == DONE else r.percent) is not None
        ]
        label, target, verdict_text = texts.BOARD_CHART_PERCENT, Decimal(100), None
    return ItemPage(
        assignment, item_, assignment.organisation, view, versions, series, label, target, verdict_text, siblings
    )


IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def is_image(a: Attachment) -> bool:
    return a.kind == "photo" or (a.mime_type or "") in IMAGE_TYPES


def photos_of(r: Report) -> list[Attachment]:
    return [a for a in r.attachments if is_image(a)]


def files_of(r: Report) -> list[Attachment]:
    return [a for a in r.attachments if not is_image(a)]


# ---- 工程项目 / 指标 -----------------------------------------------------------------------------------------------


def scoped_views(session: Session, plan: Plan, today: dt.date, viewer: Viewer) -> list[AssignmentView]:
    org_ids = sorted(viewer.org_ids) if viewer.org_ids is not None else None
    return progress.assignment_views(session, plan, today, org_ids=org_ids, with_children=False)


def projects(session: Session, plan: Plan, now: dt.datetime, viewer: Viewer) -> export.Table:
    """The workbook's 年度工程清单 sheet, for the units the viewer sees (a unit's own figures, as in its own
    workbook)."""
    views = scoped_views(session, plan, now.date(), viewer)
    return export.project_table(session, plan, views, own=not viewer.sees_all)


def indicators(session: Session, plan: Plan, now: dt.datetime, viewer: Viewer) -> export.Table:
    views = scoped_views(session, plan, now.date(), viewer)
    return export.indicator_table(session, plan, views, now.tzinfo or dt.UTC, all_items=viewer.sees_all)


# ---- 审核 ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    report: Report
    assignment: Assignment
    person: str
    at: dt.datetime
    photos: list[Attachment]
    files: list[Attachment]
    correction: bool  # it supersedes an earlier version


def review_queue(session: Session, now: dt.datetime, limit: int = 50) -> list[Waiting]:
    """The reports waiting for a decision, oldest first, as `待审核` lists them."""
    tz = now.tzinfo or dt.UTC
    out = []
    for r in reports.pending_reviews(session, limit=limit):
        out.append(
            Waiting(
                r,
                r.assignment,
                r.person.name if r.person is not None else fmt.DASH,
                fmt.local(r.created_at, tz),
                photos_of(r),
                files_of(r),
                r.supersedes_id is not None,
            )
        )
    return out
