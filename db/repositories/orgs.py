"""Organisations, their aliases and groups: lookups by any name people use."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from db.models import OrgAlias, Organisation, OrgGroup


@dataclass(frozen=True)
class NameIndex:
    """Every name (full, short, alias, former/later) → organisation id; group names → member ids."""

    orgs: dict[str, int]
    groups: dict[str, tuple[int, ...]]
    names_by_id: dict[int, str]

    def closest(self, text: str, n: int = 3) -> list[str]:
        """Full names of the organisations whose names are closest to `text`."""
        matches = difflib.get_close_matches(text, list(self.orgs), n=n * 3, cutoff=0.3)
        out: list[str] = []
        for m in matches:
            full = self.names_by_id[self.orgs[m]]
            if full not in out:
                out.append(full)
        return out[:n]


def all_orgs(session: Session) -> list[Organisation]:
    return list(
        session.execute(
            select(Organisation).options(selectinload(Organisation.aliases)).order_by(Organisation.id)
        ).scalars()
    )


def name_index(session: Session) -> NameIndex:
    orgs: dict[str, int] = {}
    names_by_id: dict[int, str] = {}
    for org in all_orgs(session):
        names_by_id[org.id] = org.name
        orgs[org.name] = org.id
        if org.short_name:
            orgs.setdefault(org.short_name, org.id)
        for a in org.aliases:
            orgs.setdefault(a.alias, org.id)
    groups: dict[str, tuple[int, ...]] = {}
    for g in session.execute(select(OrgGroup).options(selectinload(OrgGroup.members))).scalars():
        ids = tuple(m.id for m in g.members)
        for n in [g.name, *(g.aliases or [])]:
            groups[n] = ids
    return NameIndex(orgs=orgs, groups=groups, names_by_id=names_by_id)


def find_org(session: Session, name: str) -> Organisation | None:
    """The organisation called `name` (full name, short name or any alias), or None."""
    name = name.strip()
    org = session.execute(select(Organisation).where(Organisation.name == name)).scalar_one_or_none()
    if org is None:
        org = session.execute(select(Organisation).where(Organisation.short_name == name)).scalars().first()
    if org is None:
        alias = session.execute(select(OrgAlias).where(OrgAlias.alias == name)).scalar_one_or_none()
        org = alias.organisation if alias else None
    return org


class UnknownOrganisation(LookupError):
    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name, self.suggestions = name, suggestions
        hint = f"，是否指：{'、'.join(suggestions)}" if suggestions else ""
        super().__init__(f"未知单位“{name}”{hint}")


def require_org(session: Session, name: str) -> Organisation:
    """Like find_org, but raises UnknownOrganisation with the closest names."""
    org = find_org(session, name)
    if org is None:
        raise UnknownOrganisation(name, name_index(session).closest(name))
    return org


# ---- the unit hierarchy ----------------------------------------------------------------------------------------
# A unit may belong to a parent (工布江达县人民政府 → 工布江达县, a 分局 → its 局: `Organisation.parent_id`, from the
# plan's `parent`). A parent's views include its children's items; an official of the parent may report for them;
# a child's official sees only the child's own.


def parent_map(session: Session) -> dict[int, int]:
    """{organisation id: its parent's id} for every organisation that has a parent."""
    return {
        oid: pid
        for oid, pid in session.execute(
            select(Organisation.id, Organisation.parent_id).where(Organisation.parent_id.is_not(None))
        ).tuples()
        if pid is not None
    }


def descendants(session: Session, org_ids: list[int] | tuple[int, ...]) -> list[int]:
    """`org_ids` followed by every unit below them (children, their children ...), each once, in order."""
    parents = parent_map(session)
    if not parents:
        return list(dict.fromkeys(org_ids))
    children: dict[int, list[int]] = {}
    for child, parent in sorted(parents.items()):
        children.setdefault(parent, []).append(child)
    out = list(dict.fromkeys(org_ids))
    seen = set(out)
    i = 0
    while i < len(out):
        for c in children.get(out[i], []):
            if c not in seen:
                seen.add(c)
                out.append(c)
        i += 1
    return out


def top_unit(parents: dict[int, int], org_id: int) -> int:
    """The unit `org_id` rolls up to: its topmost ancestor (itself without a parent). `parents`: `parent_map`."""
    seen = {org_id}
    while org_id in parents and parents[org_id] not in seen:
        org_id = parents[org_id]
        seen.add(org_id)
    return org_id


def covers(session: Session, own_org_id: int | None, org_id: int) -> bool:
    """Whether a person of `own_org_id` may act for `org_id`: the same unit or one below it."""
    if own_org_id is None:
        return False
    if own_org_id == org_id:
        return True
    return org_id in descendants(session, [own_org_id])


def names_of(session: Session, org_ids: list[int]) -> dict[int, str]:
    """{organisation id: full name} of `org_ids`."""
    if not org_ids:
        return {}
    return dict(
        session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(org_ids))).tuples().all()
    )


def roll_up(session: Session, org_ids: list[int] | None = None) -> dict[int, int]:
    """{unit: the unit its items are counted under}: its topmost ancestor within `org_ids` and the units below
    them (None: any ancestor), for the units that have one; a per-unit table groups by `.get(id, id)`."""
    parents = parent_map(session)
    if org_ids is not None:
        wanted = set(descendants(session, org_ids))
        parents = {c: p for c, p in parents.items() if p in wanted}
    return {c: top_unit(parents, c) for c in parents}
