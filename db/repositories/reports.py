"""Reports: append-only versions of progress on an assignment, and their review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from db.models import APPROVED, DONE, PENDING, RETURNED, Assignment, Attachment, Item, Person, Report

REPORT_FIELDS = (
    "status",
    "percent",
    "investment_done",
    "physical_progress",
    "indicator_value",
    "indicator_number",
    "description",
    "problems",
    "next_step",
    "expected_date",
    "no_change",
    "quantity",
    "quantity_unit",
    "percent_low",
    "percent_high",
)


def add_report(
    session: Session,
    assignment: Assignment,
    person: Person | None,
    channel: str,
    now: dt.datetime,
    fields: dict[str, Any],
    supersedes: Report | None = None,
    attachment_ids: list[int] | None = None,
) -> Report:
    """File a new report version and make it the assignment's latest."""
    values = {k: fields.get(k) for k in REPORT_FIELDS}
    values["no_change"] = bool(values["no_change"])
    for k in ("percent", "investment_done", "indicator_number", "quantity", "percent_low", "percent_high"):
        if values[k] is not None:
            values[k] = Decimal(str(values[k]))
    expected = values["expected_date"]
    if isinstance(expected, str):
        values["expected_date"] = dt.date.fromisoformat(expected)
    report = Report(
        assignment_id=assignment.id,
        person_id=person.id if person else None,
        supersedes_id=supersedes.id if supersedes else None,
        channel=channel,
        created_at=now,
        review_state=PENDING,
        **values,
    )
    session.add(report)
    session.flush()
    for att_id in attachment_ids or []:
        att = session.get(Attachment, att_id)
        if att is not None and att.report_id is None:
            att.report_id = report.id
    assignment.last_report_id = report.id
    # A new version reopens the task until a coordinator approves a 已完成 report again.
    assignment.closed = False
    session.flush()
    return report


def add_attachment(
    session: Session,
    kind: str,
    path: str,
    channel: str,
    now: dt.datetime,
    file_name: str | None = None,
    mime_type: str | None = None,
    size: int | None = None,
) -> Attachment:
    att = Attachment(
        kind=kind, path=path, channel=channel, created_at=now, file_name=file_name, mime_type=mime_type, size=size
    )
    session.add(att)
    session.flush()
    return att


def history(session: Session, assignment_id: int) -> list[Report]:
    return list(
        session.execute(
            select(Report).where(Report.assignment_id == assignment_id).order_by(Report.created_at, Report.id)
        ).scalars()
    )


def last_report_by(session: Session, person: Person) -> Report | None:
    return session.execute(
        select(Report)
        .where(Report.person_id == person.id)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def pending_reviews(session: Session, limit: int = 50) -> list[Report]:
    """Newest versions awaiting review, oldest first."""
    return list(
        session.execute(
            select(Report)
            .join(Assignment, Assignment.last_report_id == Report.id)
            .where(Report.review_state == PENDING)
            .options(
                selectinload(Report.assignment).selectinload(Assignment.item),
                selectinload(Report.assignment).selectinload(Assignment.organisation),
                selectinload(Report.person),
                selectinload(Report.attachments),
            )
            .order_by(Report.created_at, Report.id)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class ReviewOutcome:
    report: Report
    closed: bool


def review(
    session: Session, report: Report, reviewer: Person, approve: bool, now: dt.datetime, comment: str | None = None
) -> ReviewOutcome:
    report.review_state = APPROVED if approve else RETURNED
    report.reviewed_by_id = reviewer.id
    report.reviewed_at = now
    report.review_comment = comment
    assignment = session.get(Assignment, report.assignment_id)
    closed = bool(
        approve and report.status == DONE and assignment is not None and assignment.last_report_id == report.id
    )
    if assignment is not None and assignment.last_report_id == report.id:
        assignment.closed = closed
    session.flush()
    return ReviewOutcome(report=report, closed=closed)


def item_of(session: Session, report: Report) -> Item:
    """The plan item a report is about."""
    return session.execute(
        select(Item).join(Assignment, Assignment.item_id == Item.id).where(Assignment.id == report.assignment_id)
    ).scalar_one()
