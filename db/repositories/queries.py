"""Read-only data for questions: the names the understanding layer learns, and who has (not) reported.

Figures about assignments (traffic lights, 序时进度, overdue) come from `progress`; this module only reads
what those do not cover: the vocabulary of a plan (organisations, aliases, groups, item names and keywords)
and reporting activity per organisation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from db.models import (
    EVENT,
    OFFICIAL,
    REPORTABLE_KINDS,
    SUB_INDICATOR,
    Assignment,
    Identity,
    Item,
    OrgAlias,
    Organisation,
    OrgGroup,
    OrgGroupMember,
    Person,
    Plan,
    Report,
)
from db.repositories import orgs


@dataclass(frozen=True)
class OrgEntry:
    id: int
    name: str
    kind: str
    short_name: str | None
    aliases: tuple[str, ...]  # aliases and former / later official names
    parent_id: int | None

    @property
    def label(self) -> str:
        """The name shown on a phone: the short name when there is one."""
        return self.short_name or self.name


@dataclass(frozen=True)
class GroupEntry:
    name: str
    aliases: tuple[str, ...]
    member_ids: tuple[int, ...]


@dataclass(frozen=True)
class ItemEntry:
    id: int
    kind: str
    code: str
    number: int | None
    title: str
    short_name: str | None
    keywords: tuple[str, ...]
    assignee_ids: tuple[int, ...]  # active assignments' organisations

    @property
    def label(self) -> str:
        return self.short_name or self.title


@dataclass(frozen=True)
class Vocabulary:
    """Everything of the database that names something people ask about."""

    plan_id: int | None
    plan_digest: str | None
    orgs: tuple[OrgEntry, ...] = ()
    groups: tuple[GroupEntry, ...] = ()
    items: tuple[ItemEntry, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def vocabulary(session: Session, plan: Plan | None) -> Vocabulary:
    """The organisations, groups and (for `plan`) reportable items with their names and keywords."""
    # Plain columns: this runs at start-up and after every plan import, and entities cost several times more.
    aliases: dict[int, list[str]] = {}
    for org_id, alias in session.execute(select(OrgAlias.organisation_id, OrgAlias.alias).order_by(OrgAlias.id)):
        aliases.setdefault(org_id, []).append(alias)
    orgs = tuple(
        OrgEntry(id=oid, name=name, kind=kind, short_name=short, aliases=tuple(aliases.get(oid, ())), parent_id=parent)
        for oid, name, kind, short, parent in session.execute(
            select(
                Organisation.id, Organisation.name, Organisation.kind, Organisation.short_name, Organisation.parent_id
            ).order_by(Organisation.id)
        )
    )
    members: dict[int, list[int]] = {}
    for gid, oid in session.execute(
        select(OrgGroupMember.group_id, OrgGroupMember.organisation_id).order_by(OrgGroupMember.organisation_id)
    ):
        members.setdefault(gid, []).append(oid)
    groups = tuple(
        GroupEntry(name=name, aliases=tuple(galiases or ()), member_ids=tuple(members.get(gid, ())))
        for gid, name, galiases in session.execute(
            select(OrgGroup.id, OrgGroup.name, OrgGroup.aliases).order_by(OrgGroup.id)
        )
    )
    if plan is None:
        return Vocabulary(plan_id=None, plan_digest=None, orgs=orgs, groups=groups)
    assignees: dict[int, list[int]] = {}
    for item_id, org_id in session.execute(
        select(Assignment.item_id, Assignment.organisation_id)
        .join(Item, Assignment.item_id == Item.id)
        .where(Item.plan_id == plan.id, Assignment.active.is_(True))
        .order_by(Assignment.id)
    ):
        assignees.setdefault(item_id, []).append(org_id)
    items = tuple(
        ItemEntry(
            id=iid,
            kind=kind,
            code=code,
            number=number,
            title=title,
            short_name=short,
            keywords=tuple(str(k) for k in (keywords or ())),
            assignee_ids=tuple(assignees.get(iid, ())),
        )
        for iid, kind, code, number, title, short, keywords in session.execute(
            select(Item.id, Item.kind, Item.code, Item.number, Item.title, Item.short_name, Item.keywords)
            .where(Item.plan_id == plan.id, Item.active.is_(True), Item.kind.in_(REPORTABLE_KINDS))
            .order_by(Item.id)
        )
    )
    return Vocabulary(plan_id=plan.id, plan_digest=plan_stamp(plan), orgs=orgs, groups=groups, items=items)


def plan_stamp(plan: Plan | None) -> str | None:
    """What changes whenever a plan is (re-)imported: the vocabulary is rebuilt when it differs."""
    if plan is None:
        return None
    return f"{plan.id}:{plan.source_digest}"


@dataclass(frozen=True)
class OrgActivity:
    """An organisation with open assignments and when it last reported (naive UTC, None: never)."""

    org_id: int
    org_name: str
    open_assignments: int
    last_report_at: dt.datetime | None


def reporting_activity(session: Session, plan: Plan, org_ids: list[int] | None = None) -> list[OrgActivity]:
    """Organisations that have open (active, not 办结) assignments in `plan`, with their newest report time.

    A unit below another (工布江达县人民政府 under 工布江达县) is counted in its parent's entry (within `org_ids`
    and the units below them, when given): its reports are the parent's reporting."""
    up = orgs.roll_up(session, org_ids)
    if org_ids is not None:
        org_ids = orgs.descendants(session, org_ids)
    open_q = (
        select(Assignment.organisation_id, func.count(Assignment.id))
        .join(Item, Assignment.item_id == Item.id)
        .where(
            Item.plan_id == plan.id,
            Item.active.is_(True),
            Item.kind.in_(REPORTABLE_KINDS),
            Assignment.active.is_(True),
            Assignment.closed.is_(False),
        )
        .group_by(Assignment.organisation_id)
    )
    if org_ids is not None:
        open_q = open_q.where(Assignment.organisation_id.in_(org_ids))
    by_unit = dict(session.execute(open_q).tuples().all())
    if not by_unit:
        return []
    open_counts: dict[int, int] = {}
    for oid, n in by_unit.items():
        open_counts[up.get(oid, oid)] = open_counts.get(up.get(oid, oid), 0) + n
    last_q = (
        select(Assignment.organisation_id, func.max(Report.created_at))
        .join(Report, Report.assignment_id == Assignment.id)
        .join(Item, Assignment.item_id == Item.id)
        .where(Item.plan_id == plan.id, Assignment.organisation_id.in_(list(by_unit) + list(open_counts)))
        .group_by(Assignment.organisation_id)
    )
    last: dict[int, dt.datetime] = {}
    for oid, at in session.execute(last_q).tuples():
        unit = up.get(oid, oid)
        if at is not None and (unit not in last or at > last[unit]):
            last[unit] = at
    names = dict(
        session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(list(open_counts))))
        .tuples()
        .all()
    )
    return [
        OrgActivity(org_id=oid, org_name=names[oid], open_assignments=n, last_report_at=last.get(oid))
        for oid, n in sorted(open_counts.items())
    ]


def reporters_of(session: Session, org_ids: list[int]) -> dict[int, list[str]]:
    """Names of the active officials bound to a chat account, per organisation."""
    if not org_ids:
        return {}
    out: dict[int, list[str]] = {}
    rows = session.execute(
        select(Person.organisation_id, Person.name)
        .where(
            Person.organisation_id.in_(org_ids),
            Person.active.is_(True),
            Person.role == OFFICIAL,
            Person.id.in_(select(Identity.person_id)),
        )
        .order_by(Person.id)
    )
    for org_id, name in rows:
        out.setdefault(org_id, []).append(name)
    return out


def item_with_children(session: Session, item_id: int) -> Item | None:
    """An item with its sub-indicators loaded."""
    return session.execute(
        select(Item).where(Item.id == item_id).options(selectinload(Item.children))
    ).scalar_one_or_none()


def items_by_kind(session: Session, plan: Plan, kind: str) -> list[Item]:
    return list(
        session.execute(
            select(Item)
            .where(Item.plan_id == plan.id, Item.kind == kind, Item.active.is_(True))
            .order_by(Item.number, Item.id)
        ).scalars()
    )


def sub_indicators(session: Session, parent_id: int) -> list[Item]:
    return list(
        session.execute(
            select(Item).where(Item.parent_id == parent_id, Item.kind == SUB_INDICATOR).order_by(Item.id)
        ).scalars()
    )


def org_aliases(session: Session, org_id: int) -> list[tuple[str, str]]:
    """(alias, kind) of one organisation."""
    return list(
        session.execute(
            select(OrgAlias.alias, OrgAlias.kind).where(OrgAlias.organisation_id == org_id).order_by(OrgAlias.id)
        )
        .tuples()
        .all()
    )


def groups_of(session: Session, org_id: int) -> list[str]:
    return [
        g.name
        for g in session.execute(
            select(OrgGroup).options(selectinload(OrgGroup.members)).order_by(OrgGroup.id)
        ).scalars()
        if any(m.id == org_id for m in g.members)
    ]


def decimal_sum(values: list[Decimal | None]) -> Decimal | None:
    """Sum of the known values; None when none is known."""
    known = [Decimal(str(v)) for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def events_with_owners(session: Session, plan: Plan) -> list[tuple[Item, dict[str, int]]]:
    """The plan's dated events, each with {unit name: unit id} of the units assigned to it."""
    events = list(
        session.execute(select(Item).where(Item.plan_id == plan.id, Item.kind == EVENT).order_by(Item.id)).scalars()
    )
    owners: dict[int, dict[str, int]] = {e.id: {} for e in events}
    if events:
        rows = session.execute(
            select(Assignment.item_id, Organisation.name, Organisation.id)
            .join(Organisation, Organisation.id == Assignment.organisation_id)
            .where(Assignment.item_id.in_(list(owners)), Assignment.active.is_(True))
            .order_by(Organisation.id)
        )
        for item_id, name, org_id in rows:
            owners[item_id][name] = org_id
    return [(e, owners[e.id]) for e in events]


def indicator_targets(session: Session, item_ids: list[int]) -> dict[int, str | None]:
    """{indicator id: its target as the plan words it (this year's target first)}."""
    if not item_ids:
        return {}
    rows = session.execute(select(Item.id, Item.target_year_text, Item.target_text).where(Item.id.in_(item_ids)))
    return {i: year or whole for i, year, whole in rows}


@dataclass(frozen=True)
class UnitReports:
    """The reports one unit filed in a time range: how many, by whom, the newest's time (naive UTC)."""

    org_id: int
    org_name: str
    count: int
    people: tuple[str, ...]
    newest_at: dt.datetime


def reports_filed(
    session: Session, plan: Plan, start_utc: dt.datetime, end_utc: dt.datetime, org_ids: list[int]
) -> list[Report]:
    """The reports (every version) filed in [start_utc, end_utc) on the assignments of `org_ids`, newest first,
    with their assignment, item and person loaded."""
    q = (
        select(Report)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .join(Item, Item.id == Assignment.item_id)
        .where(
            Item.plan_id == plan.id,
            Assignment.organisation_id.in_(org_ids),
            Report.created_at >= start_utc,
            Report.created_at < end_utc,
        )
        .options(selectinload(Report.assignment).selectinload(Assignment.item), selectinload(Report.person))
        .order_by(Report.created_at.desc(), Report.id.desc())
    )
    return list(session.execute(q).scalars())


def reports_between(
    session: Session, plan: Plan, start_utc: dt.datetime, end_utc: dt.datetime, org_ids: list[int] | None = None
) -> list[UnitReports]:
    """Per unit, the reports (every version) filed in [start_utc, end_utc) on the plan's assignments, most
    reports first."""
    q = (
        select(Organisation.id, Organisation.name, Report.created_at, Person.name)
        .select_from(Report)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .join(Item, Item.id == Assignment.item_id)
        .join(Organisation, Organisation.id == Assignment.organisation_id)
        .outerjoin(Person, Person.id == Report.person_id)
        .where(Item.plan_id == plan.id, Report.created_at >= start_utc, Report.created_at < end_utc)
    )
    if org_ids is not None:
        q = q.where(Assignment.organisation_id.in_(org_ids))
    units: dict[int, tuple[str, list[dt.datetime], list[str]]] = {}
    for org_id, org_name, at, person in session.execute(q):
        name, times, people = units.setdefault(org_id, (org_name, [], []))
        times.append(at)
        if person and person not in people:
            people.append(person)
    out = [
        UnitReports(org_id, name, len(times), tuple(people), max(times))
        for org_id, (name, times, people) in units.items()
    ]
    return sorted(out, key=lambda r: (-r.count, r.org_id))
