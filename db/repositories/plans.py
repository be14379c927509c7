"""Importing a plan document (loaded by `config.plan.files.load_plan_file`) into the database.

Import is idempotent and updates in place: organisations are matched by name, items by (plan, code),
assignments by (item, organisation). Items and assignments that a corrected plan no longer has are
deactivated, never deleted, so the reports already filed are kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from config.plan.schema import Indicator, PlanDocument, Project, SubIndicator, Target
from config.plan.xlsx_cells import number_text
from db.models import (
    EVENT,
    GOAL,
    INDICATOR,
    PROJECT,
    REPORTABLE_KINDS,
    SUB_INDICATOR,
    TASK,
    Assignment,
    Item,
    OrgAlias,
    Organisation,
    OrgGroup,
    Plan,
)

# `Item.extra` of a project: "shares" ({unit name: 万元 as text}) and SHARES_SET, who set them and when
# ({"source": "plan"} or {"source": "coordinator", "by": name, "at": ISO time}).
SHARES_SET = "shares_set"
CENT = Decimal("0.01")


class ShareError(ValueError):
    """Shares a coordinator gave that cannot be stored: `kind` is "unit" (not among the project's units),
    "negative" or "sum" (more than the total); `unit` names the unit concerned, if any."""

    def __init__(self, kind: str, unit: str = "") -> None:
        super().__init__(kind, unit)
        self.kind, self.unit = kind, unit


@dataclass
class ImportResult:
    plan_key: str
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deactivated: dict[str, int] = field(default_factory=dict)
    unchanged: bool = False

    def count(self, bucket: dict[str, int], what: str) -> None:
        bucket[what] = bucket.get(what, 0) + 1


def _digest(doc: PlanDocument) -> str:
    raw = json.dumps(doc.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


def _set(obj: Any, values: dict[str, Any]) -> bool:
    """Assign changed attributes; True when anything changed."""
    changed = False
    for k, v in values.items():
        cur = getattr(obj, k)
        if isinstance(v, Decimal) and cur is not None:
            if Decimal(str(cur)) == v:
                continue
        elif cur == v:
            continue
        setattr(obj, k, v)
        changed = True
    return changed


def import_plan(session: Session, doc: PlanDocument, now: dt.datetime) -> ImportResult:
    """Write `doc` into the database (create or update). The caller commits."""
    result = ImportResult(plan_key=doc.plan.key)
    digest = _digest(doc)
    plan = session.execute(select(Plan).where(Plan.key == doc.plan.key)).scalar_one_or_none()
    if plan is not None and plan.source_digest == digest:
        result.unchanged = True
        return result

    orgs = _import_orgs(session, doc, result)
    groups = _import_groups(session, doc, orgs, result)
    plan = _import_plan_row(session, plan, doc, result)
    plan.source_digest = digest
    plan.imported_at = now

    # Items in the document's order (goals, tasks, projects, indicators, events): new rows get their ids so.
    writer = _ItemWriter(session, plan, orgs, groups, result)
    _import_goals(writer, doc)
    _import_tasks(writer, doc)
    _import_projects(writer, doc)
    _import_indicators(writer, doc)
    _import_events(writer, doc)
    writer.deactivate_unseen()
    session.flush()
    return result


def _import_plan_row(session: Session, plan: Plan | None, doc: PlanDocument, result: ImportResult) -> Plan:
    """The plan's own row, created or updated from the document's `plan:` section."""
    meta = doc.plan
    plan_values = dict(
        title=meta.title,
        year=meta.year,
        start_date=meta.start,
        end_date=meta.end,
        issuer=meta.issuer,
        document_no=meta.document_no,
        summary_due=meta.summary_due,
    )
    if plan is None:
        plan = Plan(key=meta.key, active=True, **plan_values)
        session.add(plan)
        session.flush()
        result.count(result.created, "plan")
    elif _set(plan, plan_values):
        result.count(result.updated, "plan")
    return plan


class _ItemWriter:
    """Creates or updates the items of one plan and their assignments, remembering the codes it wrote so that
    `deactivate_unseen` can retire the items a corrected plan no longer has."""

    def __init__(
        self,
        session: Session,
        plan: Plan,
        orgs: dict[str, Organisation],
        groups: dict[str, list[Organisation]],
        result: ImportResult,
    ) -> None:
        self.session, self.plan, self.orgs, self.groups, self.result = session, plan, orgs, groups, result
        self.existing = {
            i.code: i
            for i in session.execute(
                select(Item).where(Item.plan_id == plan.id).options(selectinload(Item.assignments))
            ).scalars()
        }
        self.seen: set[str] = set()

    def expand(self, names: list[str]) -> list[Organisation]:
        """The organisations named, a group standing for its members; each once, in order."""
        out: list[Organisation] = []
        for n in names:
            for org in self.groups.get(n) or [self.orgs[n]]:
                if org not in out:
                    out.append(org)
        return out

    def upsert(
        self,
        code: str,
        kind: str,
        values: dict[str, Any],
        assignees: list[Organisation],
        lead: Organisation | None = None,
        parent: Item | None = None,
    ) -> Item:
        """Create or update the item `code` and assign it to exactly `assignees` (`lead` in the lead role)."""
        self.seen.add(code)
        values = {**values, "kind": kind, "parent_id": parent.id if parent else None, "active": True}
        item = self.existing.get(code)
        if item is None:
            item = Item(plan_id=self.plan.id, code=code, **values)
            self.session.add(item)
            self.session.flush()
            self.existing[code] = item
            self.result.count(self.result.created, kind)
        elif _set(item, values):
            self.result.count(self.result.updated, kind)
        self._assign(item, assignees, lead)
        return item

    def _assign(self, item: Item, assignees: list[Organisation], lead: Organisation | None) -> None:
        """Assignments of `item`: new ones added, changed roles updated, those no longer wanted deactivated."""
        result = self.result
        by_org = {a.organisation_id: a for a in item.assignments}
        wanted = {o.id for o in assignees}
        for org in assignees:
            role = "lead" if lead is not None and org.id == lead.id else "responsible"
            a = by_org.get(org.id)
            if a is None:
                item.assignments.append(Assignment(organisation_id=org.id, role=role, active=True))
                result.count(result.created, "assignment")
            elif _set(a, {"role": role, "active": True}):
                result.count(result.updated, "assignment")
        for org_id, a in by_org.items():
            if org_id not in wanted and a.active:
                a.active = False
                result.count(result.deactivated, "assignment")

    def deactivate_unseen(self) -> None:
        """Deactivate (never delete: their reports stay) the items not written by this import."""
        for code, item in self.existing.items():
            if code not in self.seen and item.active:
                item.active = False
                self.result.count(self.result.deactivated, item.kind)
                for a in item.assignments:
                    a.active = False


def _targets(ts: list[Target]) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json", exclude_none=True) for t in ts]


def _import_goals(w: _ItemWriter, doc: PlanDocument) -> None:
    for g in doc.goals:
        w.upsert(
            g.code,
            GOAL,
            dict(title=g.title, short_name=None, text=g.text, targets=_targets(g.targets), number=None),
            [],
        )


def _import_tasks(w: _ItemWriter, doc: PlanDocument) -> None:
    for t in doc.tasks:
        w.upsert(
            t.code,
            TASK,
            dict(
                title=t.title,
                short_name=t.short,
                text=t.text,
                section=t.section,
                start_date=t.start,
                due_date=t.due or doc.plan.end,
                keywords=list(t.keywords),
                targets=_targets(t.targets),
                note=t.note,
                extra={
                    "assignees": list(t.assignees),
                    **({"exclude": list(t.exclude)} if t.exclude else {}),
                    **({"due_inferred": True} if t.due_inferred else {}),
                    **({"goal": t.goal} if t.goal else {}),
                },
            ),
            [o for o in w.expand(t.assignees) if o.name not in t.exclude],
        )


def _shares_kept(p: Project, existing: Item | None) -> dict[str, Any]:
    """The `extra` keys of a project's shares after an import: the plan's own shares when it gives some (the plan
    wins), otherwise those a coordinator set (`set_shares`), which survive a re-import; shares an earlier plan
    gave and this one no longer does are dropped."""
    if p.shares:
        return {"shares": {u: number_text(v) for u, v in p.shares.items()}, SHARES_SET: {"source": "plan"}}
    old = (existing.extra or {}) if existing is not None else {}
    if old.get("shares") and (old.get(SHARES_SET) or {}).get("source") == "coordinator":
        return {"shares": old["shares"], SHARES_SET: old[SHARES_SET]}
    return {}


def _import_projects(w: _ItemWriter, doc: PlanDocument) -> None:
    for p in doc.projects:
        lead = w.orgs[p.lead]
        w.upsert(
            f"P{p.number}",
            PROJECT,
            dict(
                number=p.number,
                title=p.name,
                short_name=p.short,
                text=p.content,
                investment_total=p.investment,
                years=p.years,
                due_date=p.due or doc.plan.end,
                keywords=list(p.keywords),
                note=p.note,
                extra={
                    "start_year": p.start_year,
                    "end_year": p.end_year,
                    "lead": p.lead,
                    "assignees": list(p.assignees) or [p.lead],
                    **_shares_kept(p, w.existing.get(f"P{p.number}")),
                },
            ),
            # The lead unit always reports on its project; named implementing units report alongside it.
            [lead, *[o for o in w.expand(p.assignees) if o.id != lead.id]],
            lead=lead,
        )


def _import_indicators(w: _ItemWriter, doc: PlanDocument) -> None:
    for ind in doc.indicators:
        item = w.upsert(
            f"I{ind.number}",
            INDICATOR,
            dict(
                number=ind.number,
                title=ind.name,
                short_name=ind.short,
                text=ind.explanation,
                domain=ind.domain,
                category=ind.category,
                unit=ind.unit,
                target_text=ind.target,
                target_year_text=ind.target_year,
                check_op=ind.check.op if ind.check else None,
                check_value=ind.check.value if ind.check else None,
                due_date=doc.plan.end,
                keywords=list(ind.keywords),
                note=ind.note,
                extra={
                    "responsible": list(ind.responsible),
                    **({"responsible_inferred": True} if ind.responsible_inferred else {}),
                    **({"city_rule": ind.city_rule} if ind.city_rule else {}),
                },
            ),
            w.expand(ind.responsible),
        )
        for sub in ind.sub_indicators:
            _import_sub_indicator(w, ind, sub, item)


def _import_sub_indicator(w: _ItemWriter, ind: Indicator, sub: SubIndicator, parent: Item) -> None:
    """A sub-indicator: an item under its indicator `parent`, with no assignments of its own."""
    w.upsert(
        f"I{sub.key}",
        SUB_INDICATOR,
        dict(
            number=ind.number,
            title=sub.name,
            text=sub.explanation,
            unit=sub.unit,
            target_text=sub.target,
            target_year_text=sub.target_year,
            check_op=sub.check.op if sub.check else None,
            check_value=sub.check.value if sub.check else None,
            note=sub.note,
            extra={"key": sub.key},
        ),
        [],
        parent=parent,
    )


def _import_events(w: _ItemWriter, doc: PlanDocument) -> None:
    for e in doc.events:
        w.upsert(
            e.code,
            EVENT,
            dict(title=e.name, text=e.text, event_month=e.month, event_day=e.day),
            w.expand(e.responsible),
        )


def _import_orgs(session: Session, doc: PlanDocument, result: ImportResult) -> dict[str, Organisation]:
    by_name = {
        o.name: o for o in session.execute(select(Organisation).options(selectinload(Organisation.aliases))).scalars()
    }
    created: set[str] = set()
    for spec in doc.organisations:
        org = by_name.get(spec.name)
        values = dict(kind=spec.kind, short_name=spec.short, note=spec.note)
        if org is None:
            org = Organisation(name=spec.name, **values)
            session.add(org)
            by_name[spec.name] = org
            created.add(spec.name)
            result.count(result.created, "organisation")
        elif _set(org, values):
            result.count(result.updated, "organisation")
    session.flush()
    # Aliases are global: move an alias to its new owner when a corrected plan reassigns it.
    alias_rows = {a.alias: a for a in session.execute(select(OrgAlias)).scalars()}
    for spec in doc.organisations:
        org = by_name[spec.name]
        wanted = [(a, "alias") for a in spec.aliases] + [(a, "former") for a in spec.former_names]
        for alias, kind in wanted:
            if alias == spec.name:
                continue
            row = alias_rows.get(alias)
            if row is None:
                row = OrgAlias(organisation_id=org.id, alias=alias, kind=kind)
                session.add(row)
                alias_rows[alias] = row
            else:
                _set(row, {"organisation_id": org.id, "kind": kind})
    # The hierarchy (工布江达县人民政府 → 工布江达县); a parent a corrected plan no longer gives is cleared.
    for spec in doc.organisations:
        changed = _set(by_name[spec.name], {"parent_id": by_name[spec.parent].id if spec.parent else None})
        if changed and spec.name not in created:  # a new unit's parent is part of creating it
            result.count(result.updated, "organisation")
    session.flush()
    return by_name


def _import_groups(
    session: Session, doc: PlanDocument, orgs: dict[str, Organisation], result: ImportResult
) -> dict[str, list[Organisation]]:
    existing = {g.name: g for g in session.execute(select(OrgGroup).options(selectinload(OrgGroup.members))).scalars()}
    out: dict[str, list[Organisation]] = {}
    for spec in doc.groups:
        members = [orgs[m] for m in spec.members]
        g = existing.get(spec.name)
        if g is None:
            g = OrgGroup(name=spec.name, aliases=list(spec.aliases))
            g.members = members
            session.add(g)
            result.count(result.created, "group")
        else:
            if list(g.aliases or []) != list(spec.aliases):
                g.aliases = list(spec.aliases)
            if [m.id for m in g.members] != [m.id for m in members]:
                g.members = members
                result.count(result.updated, "group")
        out[spec.name] = members
        for a in spec.aliases:
            out[a] = members
    session.flush()
    return out


def active_plan(session: Session, key: str | None = None) -> Plan | None:
    """The plan named `key`, or the newest active plan."""
    q = select(Plan)
    q = q.where(Plan.key == key) if key else q.where(Plan.active.is_(True)).order_by(Plan.year.desc(), Plan.id.desc())
    return session.execute(q.limit(1)).scalar_one_or_none()


@dataclass(frozen=True)
class PlanOverview:
    key: str
    title: str
    counties: int
    departments_with_tasks: int
    organisations: int
    goals: int
    tasks: int
    projects: int
    investment_total: Decimal
    indicators: int
    events: int
    assignments: int  # every active assignment, of every kind (events included)
    # {item kind: active assignments}; those of the reportable kinds (tasks, projects, indicators) are what every
    # query lists and counts (`progress.assignment_views`): `reportable_assignments`.
    assignments_by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def reportable_assignments(self) -> int:
        return sum(n for kind, n in self.assignments_by_kind.items() if kind in REPORTABLE_KINDS)


def overview(session: Session, plan: Plan) -> PlanOverview:
    def count(kind: str) -> int:
        return (
            session.scalar(
                select(func.count())
                .select_from(Item)
                .where(Item.plan_id == plan.id, Item.kind == kind, Item.active.is_(True))
            )
            or 0
        )

    # Departments named by their own name on a task (not only through a group such as 市直成员单位).
    named: set[str] = set()
    for (extra,) in session.execute(
        select(Item.extra).where(Item.plan_id == plan.id, Item.kind == TASK, Item.active.is_(True))
    ):
        named.update((extra or {}).get("assignees", []))
    depts = (
        session.scalar(
            select(func.count())
            .select_from(Organisation)
            .where(Organisation.kind.in_(("department", "office")), Organisation.name.in_(named))
        )
        or 0
    )
    counties = session.scalar(select(func.count()).select_from(Organisation).where(Organisation.kind == "county")) or 0
    invest = session.scalar(
        select(func.coalesce(func.sum(Item.investment_total), 0)).where(
            Item.plan_id == plan.id, Item.kind == PROJECT, Item.active.is_(True)
        )
    )
    by_kind: dict[str, int] = dict(
        session.execute(
            select(Item.kind, func.count())
            .select_from(Assignment)
            .join(Item)
            .where(Item.plan_id == plan.id, Item.active.is_(True), Assignment.active.is_(True))
            .group_by(Item.kind)
        )
        .tuples()
        .all()
    )
    assignments = sum(by_kind.values())
    return PlanOverview(
        key=plan.key,
        title=plan.title,
        counties=counties,
        departments_with_tasks=depts,
        organisations=session.scalar(select(func.count()).select_from(Organisation)) or 0,
        goals=count(GOAL),
        tasks=count(TASK),
        projects=count(PROJECT),
        investment_total=Decimal(str(invest)),
        indicators=count(INDICATOR),
        events=count(EVENT),
        assignments=assignments,
        assignments_by_kind=by_kind,
    )


# ---- shares of a shared project ----------------------------------------------------------------------------


def find_project(session: Session, plan: Plan, number: int) -> Item | None:
    """The active project numbered `number` in `plan`."""
    return session.execute(
        select(Item).where(Item.plan_id == plan.id, Item.kind == PROJECT, Item.number == number, Item.active.is_(True))
    ).scalar_one_or_none()


def project_units(session: Session, item: Item) -> list[str]:
    """The names of the units reporting on project `item` (its active assignments), the lead first."""
    rows = session.execute(
        select(Organisation.name, Assignment.role)
        .join(Assignment, Assignment.organisation_id == Organisation.id)
        .where(Assignment.item_id == item.id, Assignment.active.is_(True))
        .order_by(Assignment.id)
    ).all()
    return [n for n, role in rows if role == "lead"] + [n for n, role in rows if role != "lead"]


def even_shares(total: Decimal, units: list[str]) -> dict[str, Decimal]:
    """`total` split evenly among `units`, each rounded down to 0.01, the remainder on the first (the lead)."""
    if not units:
        return {}
    part = (total / len(units)).quantize(CENT, rounding="ROUND_DOWN")
    out = {u: part for u in units}
    out[units[0]] = total - part * (len(units) - 1)
    return out


def set_shares(
    session: Session, item: Item, shares: dict[str, Decimal] | None, by: str, at: dt.datetime
) -> dict[str, Decimal]:
    """Store a coordinator's shares of project `item` (None clears them); returns what is stored.

    Raises ShareError for a unit that does not report on the project, a negative share, or shares summing to
    more than the total. Shares set here survive a re-import of a plan that gives none for this project."""
    extra = dict(item.extra or {})
    if shares is None:
        extra.pop("shares", None)
        extra.pop(SHARES_SET, None)
        item.extra = extra
        return {}
    units = project_units(session, item)
    for unit, amount in shares.items():
        if unit not in units:
            raise ShareError("unit", unit)
        if amount < 0:
            raise ShareError("negative", unit)
    total = Decimal(str(item.investment_total or 0))
    if sum(shares.values(), Decimal(0)) > total:
        raise ShareError("sum")
    extra["shares"] = {u: number_text(v) for u, v in shares.items()}
    extra[SHARES_SET] = {"source": "coordinator", "by": by, "at": at.isoformat()}
    item.extra = extra
    return dict(shares)
