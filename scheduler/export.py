"""`duban export`: the completion workbook for the 11月20日 summary (年度完成情况总结).

Three sheets, as the plan asks the report to be organised:
- 重点工作任务: each task × responsible organisation: status, %, latest description, problems;
- 年度工程清单: each project: total and completed investment, 形象进度;
- 指标分工任务: each indicator: target, its newest report, 达标? (`progress.verdicts`, as in chat).
Formatted for printing: bold shaded header row repeated on every page and frozen on screen, column widths,
wrapped long text, landscape A4 fitted to the page width.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import DONE, INDICATOR, PROJECT, TASK, Item, Plan
from db.repositories import progress
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from scheduler.history import views_at
from scheduler.sheets import format_sheet


def _num(v: Decimal | None) -> float | None:
    return float(v) if v is not None else None


def _local_date(stored: dt.datetime | None, tz: dt.tzinfo) -> dt.date | None:
    return fmt.local_date(stored, tz) if stored is not None else None


def build_workbook(session: Session, plan: Plan, at: dt.datetime, current: bool = True) -> Workbook:
    """The completion workbook as of `at` (aware local).

    Args:
        current: `at` is now: use the stored newest reports; False replays the history up to `at`.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    views = progress.assignment_views(session, plan, at.date()) if current else views_at(session, plan, at)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    _task_sheet(ws, session, plan, views, at.tzinfo)
    _project_sheet(wb.create_sheet(texts.EXPORT_SHEET_PROJECTS), session, plan, views)
    _indicator_sheet(wb.create_sheet(texts.EXPORT_SHEET_INDICATORS), session, plan, views, at.tzinfo)
    return wb


def _task_sheet(ws: Worksheet, session: Session, plan: Plan, views: list[AssignmentView], tz: dt.tzinfo) -> None:
    """重点工作任务: each task × responsible organisation."""
    ws.title = texts.EXPORT_SHEET_TASKS
    ws.append(list(texts.EXPORT_TASK_HEADERS))
    tasks = sorted((v for v in views if v.item_kind == TASK), key=lambda v: (v.item_code, v.org_name))
    sections: dict[int, str | None] = {
        i: sec
        for i, sec in session.execute(select(Item.id, Item.section).where(Item.plan_id == plan.id, Item.kind == TASK))
    }
    for i, v in enumerate(tasks, 1):
        ws.append(
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
            ]
        )
    format_sheet(ws, [6, 10, 22, 40, 16, 12, 9, 9, 40, 30, 12, 9], wrap_columns=(3, 4, 9, 10))


def _project_sheet(ws: Worksheet, session: Session, plan: Plan, views: list[AssignmentView]) -> None:
    """年度工程清单: each project's planned and completed investment, 形象进度 and status."""
    ws.append(list(texts.EXPORT_PROJECT_HEADERS))
    items = {
        i.id: i for i in session.execute(select(Item).where(Item.plan_id == plan.id, Item.kind == PROJECT)).scalars()
    }
    project_views: dict[int, list[AssignmentView]] = defaultdict(list)
    for v in views:
        if v.item_kind == PROJECT:
            project_views[v.item_id].append(v)
    for p in progress.project_lines(session, views):
        item = items[p.item_id]
        vs = project_views[p.item_id]
        all_done = bool(vs) and {v.status for v in vs} == {DONE}
        ratio = (p.done * 100 / p.planned).quantize(Decimal("0.1")) if p.done is not None and p.planned else None
        newest = max(vs, key=lambda v: v.last_report_at or dt.datetime.min)
        ws.append(
            [
                p.number,
                item.title,
                (item.extra or {}).get("lead") or "",
                item.years or "",
                _num(p.planned),
                _num(p.done),
                _num(ratio),
                p.physical_progress or "",
                fmt.status_label(DONE if all_done else newest.status),
            ]
        )
    format_sheet(ws, [6, 40, 16, 12, 12, 12, 10, 40, 9], wrap_columns=(2, 8))
    for row in ws.iter_rows(min_row=2, min_col=5, max_col=6):
        for cell in row:
            cell.number_format = "#,##0.00"


def _indicator_sheet(ws: Worksheet, session: Session, plan: Plan, views: list[AssignmentView], tz: dt.tzinfo) -> None:
    """指标分工任务: each indicator's target, its newest report and the verdict chat gives for it."""
    ws.append(list(texts.EXPORT_INDICATOR_HEADERS))
    ind_views: dict[int, list[AssignmentView]] = defaultdict(list)
    for v in views:
        if v.item_kind == INDICATOR:
            ind_views[v.item_id].append(v)
    indicators = session.execute(
        select(Item)
        .where(Item.plan_id == plan.id, Item.kind == INDICATOR, Item.active.is_(True))
        .order_by(Item.number, Item.id)
    ).scalars()
    for item in indicators:
        vs = ind_views.get(item.id, [])
        latest = progress.newest_report(vs)
        responsible = "、".join((item.extra or {}).get("responsible", [])) or "、".join(
            sorted({v.org_name for v in vs})
        )
        if latest is None:
            value, verdict = "", texts.SCHED_NEVER_REPORTED
        else:
            value = latest.indicator_value or ""
            judged = progress.verdict_of(session, item, latest)
            verdict = fmt.verdict_text(judged.code, judged.judged_by, judged.reason)
        ws.append(
            [
                item.number,
                item.domain or "",
                item.category or "",
                item.title,
                item.unit or "",
                item.target_text or "",
                responsible,
                value,
                latest.org_name if latest else "",
                _local_date(latest.counted_report_at, tz) if latest else None,
                verdict,
            ]
        )
    format_sheet(ws, [6, 10, 20, 30, 8, 14, 30, 14, 16, 12, 9], wrap_columns=(3, 4, 6, 7))


def export_workbook(session: Session, plan: Plan, path: Path, at: dt.datetime, current: bool = True) -> Path:
    """Write the completion workbook as of `at` to `path`."""
    wb = build_workbook(session, plan, at, current)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
