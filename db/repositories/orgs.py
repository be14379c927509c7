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
