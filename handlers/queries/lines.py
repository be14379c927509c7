"""One assignment as one short line of an answer: its traffic light, label, state (% or status), flags (逾期,
受阻, 滞后, due soon) and the day of its newest report; and the order answers list them in, most urgent first.
"""

from __future__ import annotations

import datetime as dt

from db.models import BLOCKED, INDICATOR, PROJECT
from db.repositories import progress
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context

LIGHT_ORDER = {progress.RED: 0, progress.YELLOW: 1, progress.WHITE: 2, progress.GREEN: 3}


def report_day(ctx: Context, stored: dt.datetime | None) -> str:
    """The local day of a stored report time (5月24日), "" without one."""
    return fmt.stored_day(stored, ctx.clock.tz)


def state(v: AssignmentView) -> str:
    """The reported percentage, or the status when there is none; marked when the newest report was returned
    (the figures are then those of the version before it)."""
    shown = fmt.status_label(v.status, never=texts.Q_NEVER) if v.percent is None else fmt.percent(v.percent)
    return shown + texts.RETURNED_MARK if v.returned else shown


def review_note(state: str | None) -> str:
    """The review's state after a line ("（待审核）"); "" for none."""
    return texts.Q_DONE_REVIEW.format(state=fmt.review_label(state)) if state else ""


def flags(v: AssignmentView, after_state: bool = True) -> str:
    """What needs attention: overdue, blocked, lagging, due today or soon ("" for none). After `state`, blocked
    is not said twice when the state already is the status 受阻 (no percentage)."""
    if v.done:
        return ""
    if v.overdue:
        return texts.Q_FLAG_OVERDUE.format(days=-v.days_left)
    if v.status == BLOCKED:
        return texts.Q_FLAG_BLOCKED if v.percent is not None or not after_state else ""
    if v.lagging:
        return texts.Q_FLAG_LAGGING
    if v.days_left == 0:
        return texts.Q_FLAG_DUE_TODAY
    if 0 < v.days_left <= progress.DUE_SOON_DAYS:
        return texts.Q_FLAG_DUE_SOON.format(days=v.days_left)
    return ""


def item_label(v: AssignmentView) -> str:
    """The item's short name, marked as a project or an indicator when it is one."""
    if v.item_kind == PROJECT:
        return texts.Q_PROJECT_PREFIX + v.label
    if v.item_kind == INDICATOR:
        return texts.Q_INDICATOR_PREFIX + v.label
    return v.label


def task_line(ctx: Context, v: AssignmentView, label: str) -> str:
    """One assignment as a line headed by `label` (the item's or the organisation's name)."""
    date = report_day(ctx, v.last_report_at)
    return texts.Q_LINE.format(
        light=v.light,
        label=label,
        state=state(v),
        flags=flags(v),
        date=texts.Q_DATE.format(date=date) if date else "",
    )


def urgent_first(views: list[AssignmentView]) -> list[AssignmentView]:
    """Red before yellow before green, then by urgency (overdue, blocked, nearest deadline; done last)."""
    # the organisation last: a stable order on every backend (PostgreSQL returns rows in no particular order)
    return sorted(views, key=lambda v: (LIGHT_ORDER.get(v.light, 3), progress.urgency_key(v), v.org_id))
