"""`duban export`: the completion workbook for the 11月20日 summary (年度完成情况总结).

Three sheets, as the plan asks the report to be organised, each under a title row with the plan's name and the
截至 date and ending with a 合计 row:
- 重点工作任务: each task × responsible organisation: status, %, latest description, problems, 审核, 逾期;
- 年度工程清单: each project: total and completed investment (`progress.project_investments`, the figure chat,
  digest and `plan show` give: the sum of the units' own parts), 形象进度, 逾期, 审核; under a shared project
  one row per unit with its own share (where the plan gives one) and its own figure;
- 指标分工任务: each indicator: target, its newest report, 达标? (`progress.verdicts`, as in chat); under
  an indicator owned by several units one row per unit with its own value and verdict.
Options: only approved versions counted (`approved_only`), one unit's own workbook (`org_ids`, its children
included). Formatted for printing: bold shaded header row repeated on every page (with the title) and frozen on
screen, column widths, wrapped long text, landscape A4 fitted to the page width.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import APPROVED, DONE, INDICATOR, PROJECT, TASK, Assignment, Item, Plan, Report
from db.repositories import progress
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from scheduler.history import to_utc, views_at
from scheduler.sheets import format_sheet

HEADER_ROW = 2  # row 1 is the title


def _num(v: Decimal | None) -> float | None:
    return float(v) if v is not None else None


def _local_date(stored: dt.datetime | None, tz: dt.tzinfo) -> dt.date | None:
    return fmt.local_date(stored, tz) if stored is not None else None


def _overdue(v: AssignmentView) -> str:
    return texts.EXPORT_OVERDUE_YES.format(days=-v.days_left) if v.overdue else ""


def build_workbook(
    session: Session,
    plan: Plan,
    at: dt.datetime,
    current: bool = True,
    approved_only: bool = False,
    org_ids: Sequence[int] | None = None,
    org_label: str | None = None,
) -> Workbook:
    """The completion workbook as of `at` (aware local).

    Args:
        current: `at` is now: use the stored newest reports; False replays the history up to `at`.
        approved_only: count only versions a coordinator approved by `at` (the newest such per assignment).
        org_ids: one unit's own workbook: only the items of these organisations, with their own figures.
        org_label: the unit's name for the title.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    ids = list(org_ids) if org_ids is not None else None
    if current:
        views = progress.assignment_views(session, plan, at.date(), org_ids=ids)
    else:
        views = views_at(session, plan, at, org_ids=ids)
    if approved_only:
        views = approved_views(session, views, at)
    day = texts.FMT_DAY_YEAR.format(y=at.year, m=at.month, d=at.day)
    if org_label:
        title = texts.EXPORT_TITLE_ORG.format(plan=plan.title, org=org_label, date=day)
    else:
        title = texts.EXPORT_TITLE.format(plan=plan.title, date=day)
    if approved_only:
        title += texts.EXPORT_TITLE_APPROVED
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = texts.EXPORT_SHEET_TASKS
    _task_sheet(ws, session, plan, views, at.tzinfo)
    _project_sheet(wb.create_sheet(texts.EXPORT_SHEET_PROJECTS), session, plan, views, own=ids is not None)
    _indicator_sheet(
        wb.create_sheet(texts.EXPORT_SHEET_INDICATORS), session, plan, views, at.tzinfo, all_items=ids is None
    )
    for sheet in wb.worksheets:
        _title_row(sheet, title)
    return wb


def approved_views(session: Session, views: list[AssignmentView], at: dt.datetime) -> list[AssignmentView]:
    """`views` with each assignment's figures those of its newest version approved by `at` (none: as if never
    reported); the light, 逾期 and 滞后 recomputed as of `at`'s day."""
    cutoff = to_utc(at)
    ids = [v.assignment_id for v in views]
    approved: dict[int, Report] = {}
    if ids:
        for rep in session.execute(
            select(Report)
            .join(Assignment, Report.assignment_id == Assignment.id)
            .where(
                Assignment.item_id.in_({v.item_id for v in views}),
                Report.review_state == APPROVED,
                Report.created_at <= cutoff,
                Report.reviewed_at <= cutoff,
            )
            .order_by(Report.assignment_id, Report.created_at.desc(), Report.id.desc())
        ).scalars():
            approved.setdefault(rep.assignment_id, rep)
    out: list[AssignmentView] = []
    for v in views:
        r = approved.get(v.assignment_id)
        newest = {
            "last_report_id": r.id if r else None,
            "last_report_at": r.created_at if r else None,
            "review_state": r.review_state if r else None,
        }
        unreturned = {"returned": False, "return_reason": None, "returned_by": None, "returned_at": None}
        out.append(progress.as_counted(v, r, at.date(), **newest, **unreturned))
    out.sort(key=progress.urgency_key)
    return out


def _title_row(ws: Worksheet, title: str) -> None:
    """Row 1: the plan's name and the 截至 date across the table's width (printed on every page with the header)."""
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(ws.max_column, 1))
    cell = ws.cell(row=1, column=1)
    cell.value = title
    cell.font = Font(bold=True, size=14)
    cell.alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 28


def _total_row(ws: Worksheet, values: list[Any]) -> None:
    ws.append(values)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)


@dataclass(frozen=True)
class Table:
    """One sheet of the workbook as values: the board shows the same rows and 合计 as the workbook."""

    headers: list[str]
    rows: list[list[Any]]
    total: list[Any]
    unit_rows: frozenset[int] = frozenset()  # indexes of the rows that are one unit's part of a shared item


def _write(ws: Worksheet, table: Table) -> None:
    ws.append([])  # the title row, filled in last
    ws.append(table.headers)
    for row in table.rows:
        ws.append(row)
    _total_row(ws, table.total)


def task_table(session: Session, plan: Plan, views: list[AssignmentView], tz: dt.tzinfo) -> Table:
    """重点工作任务: each task × responsible organisation, then the 合计 row."""
    tasks = sorted((v for v in views if v.item_kind == TASK), key=lambda v: (v.item_code, v.org_name))
    sections: dict[int, str | None] = {
        i: sec
        for i, sec in session.execute(select(Item.id, Item.section).where(Item.plan_id == plan.id, Item.kind == TASK))
    }
    rows = [
        [
            i,
            v.item_code,
            sections.get(v.item_id) or "",
            v.title,
            v.org_name,
            v.due,
            fmt.status_label(v.status),
            _num(v.percent),
            v.description or "",
            v.problems or "",
            _local_date(v.last_report_at, tz),
            fmt.review_label(v.review_state),
            _overdue(v),
        ]
        for i, v in enumerate(tasks, 1)
    ]
    c = progress.count(tasks)
    total = (
        [texts.EXPORT_TOTAL, None, None, texts.EXPORT_TOTAL_TASKS.format(n=c.total, done=c.done, overdue=c.overdue)]
        + [None] * 3
        + [_num(c.completion)]
    )
    return Table(list(texts.EXPORT_TASK_HEADERS), rows, total)


def _task_sheet(ws: Worksheet, session: Session, plan: Plan, views: list[AssignmentView], tz: dt.tzinfo) -> None:
    _write(ws, task_table(session, plan, views, tz))
    format_sheet(
        ws, [6, 10, 22, 40, 16, 12, 9, 9, 40, 30, 12, 9, 10], wrap_columns=(3, 4, 9, 10), header_row=HEADER_ROW
    )


def _ratio(done: Decimal | None, planned: Decimal | None) -> Decimal | None:
    """Completed / planned in %, one decimal, not capped (a unit over its share shows over 100)."""
    return (done * 100 / planned).quantize(Decimal("0.1")) if done is not None and planned else None


def _own_planned(p: progress.ProjectInvestment, units_of_item: int) -> Decimal | None:
    """A unit's own workbook: the planned figure of project `p` for the units shown, the sum of their shares when
    the project has other units too (None when a share is unknown); the whole total when the units shown are all
    of the project's units."""
    if units_of_item <= len(p.units):
        return p.planned
    if any(u.share is None for u in p.units):
        return None
    return sum((u.share for u in p.units if u.share is not None), Decimal(0))


def project_table(session: Session, plan: Plan, views: list[AssignmentView], *, own: bool = False) -> Table:
    """年度工程清单: each project's planned and completed investment, 形象进度 and status; a row per unit under a
    shared project; the 合计 row. In a unit's own workbook (`own`) the planned figure of a project the unit
    shares with others is its share ("—" when unknown), and the 合计 sums those."""
    rows: list[list[Any]] = []
    unit_rows: set[int] = set()
    items = {
        i.id: i for i in session.execute(select(Item).where(Item.plan_id == plan.id, Item.kind == PROJECT)).scalars()
    }
    figures = progress.project_investments(session, views)
    unit_counts: dict[int, int] = defaultdict(int)
    if own and figures:
        for (item_id,) in session.execute(
            select(Assignment.item_id).where(
                Assignment.item_id.in_([p.item_id for p in figures]), Assignment.active.is_(True)
            )
        ):
            unit_counts[item_id] += 1
    planned_of = {p.item_id: _own_planned(p, unit_counts[p.item_id]) if own else p.planned for p in figures}
    for p in figures:
        item = items[p.item_id]
        vs = [u.view for u in p.units]
        all_done = bool(vs) and {v.status for v in vs} == {DONE}
        newest = max(vs, key=lambda v: v.last_report_at or dt.datetime.min)
        late = max(vs, key=lambda v: (v.overdue, -v.days_left))
        rows.append(
            [
                p.number,
                item.title,
                (item.extra or {}).get("lead") or "",
                item.years or "",
                _num(planned_of[p.item_id]) if planned_of[p.item_id] is not None else texts.EXPORT_SHARE_UNKNOWN,
                _num(p.done),
                _num(_ratio(p.done, planned_of[p.item_id])),
                p.physical_progress or "",
                fmt.status_label(DONE if all_done else newest.status),
                _overdue(late),
                fmt.review_label(newest.review_state) if not p.shared else "",
            ]
        )
        if not p.shared:
            continue
        for u in p.units:
            v = u.view
            ratio = _ratio(u.done, u.share)
            unit_rows.add(len(rows))
            rows.append(
                [
                    None,
                    texts.EXPORT_UNIT_ROW.format(org=v.org_name),
                    v.org_name + (texts.EXPORT_UNIT_LEAD if u.lead else ""),
                    "",
                    _num(u.share) if u.share is not None else texts.EXPORT_SHARE_UNKNOWN,
                    _num(u.done),
                    _num(ratio),
                    v.physical_progress or "",
                    fmt.status_label(v.status),
                    _overdue(v),
                    fmt.review_label(v.review_state),
                ]
            )
    planned, done = progress.city_investment(figures)
    if own:
        planned = sum((x for x in planned_of.values() if x is not None), Decimal(0))
    total = [
        texts.EXPORT_TOTAL,
        texts.EXPORT_TOTAL_PROJECTS.format(n=len(figures), reported=sum(p.done is not None for p in figures)),
        None,
        None,
        _num(planned),
        _num(done),
        _num((done * 100 / planned).quantize(Decimal("0.1")) if planned else None),
    ]
    return Table(list(texts.EXPORT_PROJECT_HEADERS), rows, total, frozenset(unit_rows))


def _project_sheet(
    ws: Worksheet, session: Session, plan: Plan, views: list[AssignmentView], *, own: bool = False
) -> None:
    """年度工程清单 (`project_table`), formatted for printing."""
    _write(ws, project_table(session, plan, views, own=own))
    format_sheet(ws, [6, 40, 16, 12, 12, 12, 10, 40, 9, 10, 9], wrap_columns=(2, 8), header_row=HEADER_ROW)
    for row in ws.iter_rows(min_row=HEADER_ROW + 1, min_col=5, max_col=6):
        for cell in row:
            cell.number_format = "#,##0.00"


def indicator_table(
    session: Session, plan: Plan, views: list[AssignmentView], tz: dt.tzinfo, all_items: bool = True
) -> Table:
    """指标分工任务: each indicator's target, its newest report and the verdict chat gives for it; for an
    indicator owned by several units the city's figure and verdict (`progress.indicator_city`, its rule in the
    last column) and a row per unit under it; the 合计 row. Without `all_items`, only the indicators among
    `views`."""
    rows: list[list[Any]] = []
    unit_rows: set[int] = set()
    ind_views: dict[int, list[AssignmentView]] = defaultdict(list)
    for v in views:
        if v.item_kind == INDICATOR:
            ind_views[v.item_id].append(v)
    indicators = [
        item
        for item in session.execute(
            select(Item)
            .where(Item.plan_id == plan.id, Item.kind == INDICATOR, Item.active.is_(True))
            .order_by(Item.number, Item.id)
        ).scalars()
        if all_items or item.id in ind_views
    ]
    met = 0
    for item in indicators:
        vs = ind_views.get(item.id, [])
        latest = progress.newest_report(vs)
        responsible = "、".join((item.extra or {}).get("responsible", [])) or "、".join(
            sorted({v.org_name for v in vs})
        )
        city = progress.indicator_city(session, item, vs) if len(vs) > 1 else None
        if city is not None:
            # several units: the city's figure by the indicator's rule (as chat, digest and plan show give it)
            value = fmt.city_figure(city.rule, city.value, city.counts, item.unit)
            met += city.verdict == progress.MET
            verdict = (
                texts.SCHED_NEVER_REPORTED if city.verdict == progress.UNREPORTED else fmt.verdict_label(city.verdict)
            )
        elif latest is None:
            value, verdict = "", texts.SCHED_NEVER_REPORTED
        else:
            value = latest.indicator_value or ""
            judged = progress.verdict_of(session, item, latest)
            met += judged.code == progress.MET
            verdict = fmt.verdict_text(judged.code, judged.judged_by, judged.reason)
        late = max(vs, key=lambda v: (v.overdue, -v.days_left)) if vs else None
        rows.append(
            [
                item.number,
                item.domain or "",
                item.category or "",
                item.title,
                item.unit or "",
                item.target_text or "",
                responsible,
                value,
                texts.EXPORT_CITY_ORG if city is not None else latest.org_name if latest else "",
                _local_date(latest.counted_report_at, tz) if latest else None,
                verdict,
                _overdue(late) if late else "",
                fmt.review_label(latest.review_state) if latest and len(vs) == 1 else "",
                fmt.city_rule_label(city.rule, len(city.units)) if city is not None else "",
            ]
        )
        if len(vs) < 2:
            continue
        for v in sorted(vs, key=lambda x: x.org_name):
            reported = v.counted_report_at is not None
            own = progress.verdict_of(session, item, v) if reported else None
            unit_rows.add(len(rows))
            rows.append(
                [
                    None,
                    "",
                    "",
                    texts.EXPORT_UNIT_ROW.format(org=v.org_name),
                    "",
                    "",
                    v.org_name,
                    v.indicator_value or "",
                    v.org_name if reported else "",
                    _local_date(v.counted_report_at, tz),
                    fmt.verdict_text(own.code, own.judged_by, own.reason) if own else texts.SCHED_NEVER_REPORTED,
                    _overdue(v),
                    fmt.review_label(v.review_state),
                    "",
                ]
            )
    total = [texts.EXPORT_TOTAL, None, None, texts.EXPORT_TOTAL_INDICATORS.format(n=len(indicators), met=met)]
    headers = [*texts.EXPORT_INDICATOR_HEADERS, texts.EXPORT_CITY_RULE_HEADER]
    return Table(headers, rows, total, frozenset(unit_rows))


def _indicator_sheet(
    ws: Worksheet, session: Session, plan: Plan, views: list[AssignmentView], tz: dt.tzinfo, all_items: bool = True
) -> None:
    """指标分工任务 (`indicator_table`), formatted for printing."""
    _write(ws, indicator_table(session, plan, views, tz, all_items))
    format_sheet(
        ws, [6, 10, 20, 30, 8, 14, 30, 14, 16, 12, 9, 10, 9, 14], wrap_columns=(3, 4, 6, 7), header_row=HEADER_ROW
    )


def export_workbook(
    session: Session,
    plan: Plan,
    path: Path,
    at: dt.datetime,
    current: bool = True,
    approved_only: bool = False,
    org_ids: Sequence[int] | None = None,
    org_label: str | None = None,
) -> Path:
    """Write the completion workbook as of `at` to `path` (see `build_workbook`)."""
    wb = build_workbook(session, plan, at, current, approved_only=approved_only, org_ids=org_ids, org_label=org_label)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
