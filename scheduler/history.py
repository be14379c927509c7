"""The report history replayed: assignment views as they stood at a past moment.

For a moment in the past (the change since last week in the digest, `duban digest --week`, `duban export --at`)
each assignment is taken with its newest report filed up to that moment; the rest of the view (item,
organisation, window) is today's, and the traffic light is recomputed with `progress.classify`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from db.models import APPROVED, DONE, REPORTABLE_KINDS, RETURNED, Assignment, Item, Plan, Report
from db.repositories import progress
from db.repositories.progress import AssignmentView


def to_utc(local: dt.datetime) -> dt.datetime:
    """Aware local → naive UTC (the stored form)."""
    return local.astimezone(dt.UTC).replace(tzinfo=None)


STREAM_ROWS = 5000  # rows fetched at a time from a whole plan's result (PostgreSQL: a server-side cursor)

# The columns of a report the replay reads (`progress.as_counted` and the review), selected as plain columns: a
# row per assignment, so loading them as ORM objects cost more than the query at national scale.
_REPORT_COLUMNS = (
    Report.assignment_id,
    *progress.FIGURE_COLUMNS,  # the figures the replay counts: the same columns as the views' own
    Report.review_comment,
    Report.reviewed_at,
)


def reports_at(
    session: Session, plan: Plan, cutoff_utc: dt.datetime, kinds: tuple[str, ...] = REPORTABLE_KINDS
) -> dict[int, Row[Any]]:
    """{assignment id: its newest report filed at or before `cutoff_utc`} for the plan's assignments, as rows
    of `_REPORT_COLUMNS` (attributes named as `Report`'s).

    The newest version per assignment is picked in SQL, one index lookup per assignment on (assignment,
    created_at) (ties: the highest id), so the work grows with the assignments, not with the history.
    """
    newest = (
        select(Report.id)
        .where(Report.assignment_id == Assignment.id, Report.created_at <= cutoff_utc)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(1)
        .correlate(Assignment)
        .scalar_subquery()
    )
    rows = session.execute(
        select(*_REPORT_COLUMNS)
        .select_from(Assignment)
        .join(Item, Assignment.item_id == Item.id)
        .join(Report, Report.id == newest)
        .where(Item.plan_id == plan.id, Item.kind.in_(kinds)),
        execution_options={"yield_per": STREAM_ROWS},  # the driver's copy of the rows a batch at a time
    )
    return {r.assignment_id: r for r in rows}


def _returned_by(r: Row[Any], cutoff_utc: dt.datetime) -> bool:
    """`r` had been returned (退回) by `cutoff_utc`."""
    return bool(r.review_state == RETURNED and r.reviewed_at is not None and r.reviewed_at <= cutoff_utc)


def _counted_at(session: Session, returned: list[Row[Any]], cutoff_utc: dt.datetime) -> dict[int, Row[Any]]:
    """{assignment id: the newest version filed before each of `returned` that was not returned by the cutoff}."""
    if not returned:
        return {}
    out: dict[int, Row[Any]] = {}
    newest = {r.assignment_id: r for r in returned}
    for r in session.execute(
        select(*_REPORT_COLUMNS)
        .where(Report.assignment_id.in_(list(newest)), Report.created_at <= cutoff_utc)
        .order_by(Report.assignment_id, Report.created_at.desc(), Report.id.desc())
    ):
        if r.assignment_id not in out and r.id != newest[r.assignment_id].id and not _returned_by(r, cutoff_utc):
            out[r.assignment_id] = r
    return out


def views_at(
    session: Session,
    plan: Plan,
    at: dt.datetime,
    org_ids: list[int] | None = None,
    kinds: tuple[str, ...] = REPORTABLE_KINDS,
    current: list[AssignmentView] | None = None,
) -> list[AssignmentView]:
    """Assignment views as they stood at `at` (aware local): reports filed after it are ignored.

    Built on `progress.assignment_views` (items, organisations, windows) with the report fields replaced by
    those of the newest report up to `at`, and the traffic light recomputed with `progress.classify`.

    Args:
        current: `progress.assignment_views` of the same plan, organisations and kinds, as of any day (the
            digest's of today), to start from instead of reading them again; judged again as of `at`'s day.
    """
    today = at.date()
    rejudge = current is not None  # each view judged again as of `today` as it is used (no second list)
    if current is None:
        current = progress.assignment_views(session, plan, today, org_ids=org_ids, kinds=kinds)
    cutoff = to_utc(at)
    with progress.gc_paused():
        history = reports_at(session, plan, cutoff, kinds)
        return _replayed(session, current, history, today, cutoff, rejudge)


def _replayed(
    session: Session,
    current: list[AssignmentView],
    history: dict[int, Row[Any]],
    today: dt.date,
    cutoff: dt.datetime,
    rejudge: bool,
) -> list[AssignmentView]:
    """`views_at`'s replay of `current` with `history` (the newest version of each assignment up to `cutoff`)."""
    out: list[AssignmentView] = []
    counted = _counted_at(session, [r for r in history.values() if _returned_by(r, cutoff)], cutoff)
    for v in current:
        newest = history.pop(v.assignment_id, None)  # popped: the rows go as the views are built
        if (newest.id if newest else None) == v.last_report_id and (
            newest is None or newest.reviewed_at is None or newest.reviewed_at <= cutoff
        ):
            # nothing filed or decided since: the current view is the view at `at`
            out.append(progress.judged_at(v, today) if rejudge else v)
            continue
        # a version returned by then is not counted: the newest one before it that was not (progress.py's rule)
        returned = newest is not None and _returned_by(newest, cutoff)
        r = counted.get(v.assignment_id) if returned else newest
        closed = bool(
            r
            and r.status == DONE
            and r.review_state == APPROVED
            and r.reviewed_at is not None
            and r.reviewed_at <= cutoff
        )
        out.append(
            progress.as_counted(
                v,
                r,
                today,
                last_report_id=newest.id if newest else None,
                last_report_at=newest.created_at if newest else None,
                review_state=newest.review_state if newest else None,
                closed=closed,
                returned=returned,
                return_reason=newest.review_comment if returned and newest else None,
                returned_by=v.returned_by
                if returned and newest is not None and newest.id == v.last_report_id
                else None,
                returned_at=newest.reviewed_at if returned and newest else None,
                days_left=(v.due - today).days,  # as_counted judges the rest as of `today`
            )
        )
    out.sort(key=progress.urgency_key)
    return out
