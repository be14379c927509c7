"""催办: a coordinator's reminders to a unit (`handlers.urge`). One row per unit chased: who, when (and the local
day, for the once-a-day rule), how many people were reached, the counts named and the text sent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from db.models import Urge


def record(
    session: Session,
    org_id: int,
    urged_by_id: int | None,
    now: dt.datetime,
    local_day: dt.date,
    *,
    recipients: int,
    overdue: int,
    unreported: int,
    text: str,
) -> Urge:
    """Store one 催办 of `org_id` (now: naive UTC; local_day: the day in the configured zone); flushed, so its id
    is set."""
    urge = Urge(
        organisation_id=org_id,
        urged_by_id=urged_by_id,
        created_at=now,
        local_day=local_day,
        recipients=recipients,
        overdue=overdue,
        unreported=unreported,
        text=text,
    )
    session.add(urge)
    session.flush()
    return urge


def on_day(session: Session, org_id: int, local_day: dt.date) -> list[Urge]:
    """The unit's urges on one local day, oldest first."""
    q = (
        select(Urge)
        .where(Urge.organisation_id == org_id, Urge.local_day == local_day)
        .order_by(Urge.created_at, Urge.id)
        .options(selectinload(Urge.urged_by))
    )
    return list(session.execute(q).scalars())


def recent(session: Session, org_id: int, since: dt.datetime) -> list[Urge]:
    """The unit's urges created at or after `since` (naive UTC), newest first."""
    q = (
        select(Urge)
        .where(Urge.organisation_id == org_id, Urge.created_at >= since)
        .order_by(Urge.created_at.desc(), Urge.id.desc())
        .options(selectinload(Urge.urged_by))
    )
    return list(session.execute(q).scalars())


def count_since(session: Session, org_id: int, since: dt.datetime) -> int:
    """How many times the unit was chased at or after `since` (naive UTC)."""
    q = select(func.count(Urge.id)).where(Urge.organisation_id == org_id, Urge.created_at >= since)
    return int(session.execute(q).scalar_one())


def between(session: Session, start: dt.datetime, end: dt.datetime, org_ids: list[int] | None = None) -> list[Urge]:
    """Urges created in [start, end) (naive UTC), of `org_ids` when given, oldest first (for the digest)."""
    q = (
        select(Urge)
        .where(Urge.created_at >= start, Urge.created_at < end)
        .order_by(Urge.created_at, Urge.id)
        .options(selectinload(Urge.urged_by), selectinload(Urge.organisation))
    )
    if org_ids is not None:
        q = q.where(Urge.organisation_id.in_(org_ids))
    return list(session.execute(q).scalars())
