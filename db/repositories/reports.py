"""Reports: append-only versions of progress on an assignment, and their review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from db.bounds import check_number, check_text, fit_file_name, fit_text
from db.models import APPROVED, FINISHED, PENDING, RETURNED, Assignment, Attachment, Item, Person, Report

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
# Number fields of a report, and whether a negative value means something (an indicator may fall below zero).
NUMBER_FIELDS = {
    "percent": False,
    "investment_done": False,
    "indicator_number": True,
    "quantity": False,
    "percent_low": False,
    "percent_high": False,
}
# Bounded text fields of a report (the others are Text, unbounded).
TEXT_FIELDS = ("status", "indicator_value", "quantity_unit")


def checked_values(fields: dict[str, Any]) -> dict[str, Any]:
    """A report's values as they will be stored: numbers finite, within their columns and rounded half up to
    their scale; bounded texts within their length. Raises `db.bounds.OutOfBounds` for the first that is not,
    identically on SQLite and PostgreSQL."""
    values = {k: fields.get(k) for k in REPORT_FIELDS}
    values["no_change"] = bool(values["no_change"])
    for k, negative in NUMBER_FIELDS.items():
        if values[k] is not None:
            values[k] = check_number(getattr(Report, k), values[k], negative=negative)
    for k in TEXT_FIELDS:
        if values[k] is not None:
            values[k] = check_text(getattr(Report, k), str(values[k]))
    expected = values["expected_date"]
    if isinstance(expected, str):
        values["expected_date"] = dt.date.fromisoformat(expected)
    return values


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
    """File a new report version and make it the assignment's latest.

    Raises `db.bounds.OutOfBounds` (before anything is stored) when a value does not fit its column.
    """
    values = checked_values(fields)
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
    """Store an evidence file's record. A file name longer than the column is shortened (its extension kept) and a
    platform's MIME type cut to fit; a path that does not fit raises `db.bounds.OutOfBounds`."""
    att = Attachment(
        kind=kind,
        path=check_text(Attachment.path, path),
        channel=channel,
        created_at=now,
        file_name=fit_file_name(Attachment.file_name, file_name) if file_name is not None else None,
        mime_type=fit_text(Attachment.mime_type, mime_type) if mime_type is not None else None,
        size=size,
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


def pending_count(session: Session) -> int:
    """How many newest versions await review (what `pending_reviews` lists, counted)."""
    q = (
        select(func.count(Report.id))
        .join(Assignment, Assignment.last_report_id == Report.id)
        .where(Report.review_state == PENDING)
    )
    return int(session.execute(q).scalar_one())


# Why a decision was refused
SUPERSEDED, DECIDED = "superseded", "decided"


@dataclass(frozen=True)
class ReviewOutcome:
    """What `review` did.

    Attributes:
        report: the report (as stored after the decision, or as found when refused).
        closed: the decision closed the task (an approved 已完成 newest version).
        refused: None when decided; SUPERSEDED (not the newest version) or DECIDED (already decided by someone
            else, or by the same reviewer the same way): nothing changed.
        decided_by: for DECIDED, the name of who decided; decided_state and decided_at what and when (naive UTC).
    """

    report: Report
    closed: bool
    refused: str | None = None
    decided_by: str | None = None
    decided_state: str | None = None
    decided_at: dt.datetime | None = None

    @property
    def done(self) -> bool:
        return self.refused is None


def review(
    session: Session, report: Report, reviewer: Person, approve: bool, now: dt.datetime, comment: str | None = None
) -> ReviewOutcome:
    """Approve or return `report`, when it is its assignment's newest version and nobody else decided it.

    A reviewer may change their own decision while no newer version was filed; another reviewer's decision is
    never overridden (the outcome says who decided what and when). The assignment and the report are locked
    (`SELECT ... FOR UPDATE` on PostgreSQL) and the update is conditional on the state read, so two reviewers
    deciding at the same moment cannot both win.
    """
    assignment = session.execute(
        select(Assignment)
        .where(Assignment.id == report.assignment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    current = session.execute(
        select(Report).where(Report.id == report.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
    if assignment.last_report_id != current.id:
        return ReviewOutcome(report=current, closed=False, refused=SUPERSEDED)
    state = APPROVED if approve else RETURNED
    previous_state, previous_by = current.review_state, current.reviewed_by_id
    if previous_state != PENDING and (previous_by != reviewer.id or previous_state == state):
        by = session.get(Person, previous_by) if previous_by is not None else None
        return ReviewOutcome(
            report=current,
            closed=False,
            refused=DECIDED,
            decided_by=by.name if by is not None else None,
            decided_state=previous_state,
            decided_at=current.reviewed_at,
        )
    # Conditional on what was read: under concurrency only the first of two deciders matches.
    matched = session.execute(
        update(Report)
        .where(
            Report.id == current.id,
            Report.review_state == previous_state,
            Report.reviewed_by_id.is_(None) if previous_by is None else Report.reviewed_by_id == previous_by,
        )
        .values(review_state=state, reviewed_by_id=reviewer.id, reviewed_at=now, review_comment=comment)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.refresh(current)
    if matched != 1:
        by = session.get(Person, current.reviewed_by_id) if current.reviewed_by_id is not None else None
        return ReviewOutcome(
            report=current,
            closed=False,
            refused=DECIDED,
            decided_by=by.name if by is not None else None,
            decided_state=current.review_state,
            decided_at=current.reviewed_at,
        )
    closed = approve and current.status in FINISHED
    assignment.closed = closed
    session.flush()
    return ReviewOutcome(report=current, closed=closed)


def item_of(session: Session, report: Report) -> Item:
    """The plan item a report is about."""
    return session.execute(
        select(Item).join(Assignment, Assignment.item_id == Item.id).where(Assignment.id == report.assignment_id)
    ).scalar_one()
