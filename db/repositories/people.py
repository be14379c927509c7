"""People, their channel identities, and invite codes."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from db.bounds import check_text, fit_text
from db.models import ADMIN, COORDINATOR, LEADER, OFFICIAL, ROLES, Identity, InviteCode, Organisation, Person
from db.repositories import orgs

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones


def find_by_identity(session: Session, channel: str, external_id: str) -> Person | None:
    return session.execute(
        select(Person)
        .join(Identity)
        .where(Identity.channel == channel, Identity.external_id == external_id, Person.active.is_(True))
    ).scalar_one_or_none()


def bound_accounts(session: Session) -> list[tuple[str, str]]:
    """(channel, external id) of every account of an active person."""
    q = select(Identity.channel, Identity.external_id).join(Person).where(Person.active.is_(True))
    return [(str(c), str(e)) for c, e in session.execute(q)]


def remember_chat(session: Session, person: Person, channel: str, external_id: str, chat_id: str) -> bool:
    """Keep the private chat id where proactive messages reach this person. True when it changed."""
    changed = False
    for ident in person.identities:
        if ident.channel == channel and ident.external_id == external_id and ident.chat_id != chat_id:
            ident.chat_id = chat_id
            changed = True
    return changed


def add_person(
    session: Session,
    name: str,
    organisation: Organisation | None,
    role: str,
    now: dt.datetime,
    identities: dict[str, str] | None = None,
) -> Person:
    """Create a person with identities {channel: external id}. Raises ValueError on a taken identity."""
    if role not in ROLES:
        raise ValueError(f"未知角色“{role}”，应为 {'/'.join(ROLES)}")
    # A name given by a platform (a display name) is cut to the column rather than failing the binding.
    person = Person(name=fit_text(Person.name, name), organisation=organisation, role=role, active=True, created_at=now)
    session.add(person)
    for channel, external_id in (identities or {}).items():
        bind_identity(session, person, channel, external_id, now)
    session.flush()
    return person


def bind_identity(
    session: Session, person: Person, channel: str, external_id: str, now: dt.datetime, chat_id: str | None = None
) -> Identity:
    taken = session.execute(
        select(Identity).where(Identity.channel == channel, Identity.external_id == external_id)
    ).scalar_one_or_none()
    if taken is not None and taken.person_id != person.id:
        raise ValueError(f"{channel} 账号 {external_id} 已绑定给他人")
    if taken is not None:
        return taken
    ident = Identity(
        person=person, channel=channel, external_id=external_id, chat_id=chat_id or external_id, created_at=now
    )
    session.add(ident)
    return ident


def list_people(session: Session) -> list[Person]:
    return list(
        session.execute(
            select(Person)
            .options(selectinload(Person.identities), selectinload(Person.organisation))
            .order_by(Person.id)
        ).scalars()
    )


def people_of_org(session: Session, org_id: int, roles: tuple[str, ...] | None = None) -> list[Person]:
    q = select(Person).where(Person.organisation_id == org_id, Person.active.is_(True))
    if roles:
        q = q.where(Person.role.in_(roles))
    return list(session.execute(q.order_by(Person.id)).scalars())


def people_with_roles(session: Session, roles: tuple[str, ...]) -> list[Person]:
    return list(
        session.execute(
            select(Person).where(Person.role.in_(roles), Person.active.is_(True)).order_by(Person.id)
        ).scalars()
    )


def on_leave(session: Session, today: dt.date, org_ids: list[int] | None = None) -> list[Person]:
    """Active people paused through `today` or later (of `org_ids`; None: everyone), by organisation and name."""
    q = (
        select(Person)
        .where(Person.active.is_(True), Person.paused_until.is_not(None), Person.paused_until >= today)
        .options(selectinload(Person.organisation))
    )
    if org_ids is not None:
        q = q.where(Person.organisation_id.in_(org_ids))
    return sorted(session.execute(q).scalars(), key=lambda p: (p.organisation_id or 0, p.name, p.id))


def present(session: Session, org_id: int, role: str, today: dt.date, besides: Person | None = None) -> list[Person]:
    """Active people of `org_id` with `role` who are not paused today (other than `besides`)."""
    return [
        p
        for p in people_of_org(session, org_id, (role,))
        if (p.paused_until is None or p.paused_until < today) and (besides is None or p.id != besides.id)
    ]


def new_invite(
    session: Session,
    organisation: Organisation,
    role: str,
    now: dt.datetime,
    ttl: dt.timedelta,
    person_name: str | None = None,
) -> InviteCode:
    if role not in ROLES:
        raise ValueError(f"未知角色“{role}”，应为 {'/'.join(ROLES)}")
    if person_name is not None:
        person_name = check_text(InviteCode.person_name, person_name.strip())  # OutOfBounds when too long
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    invite = InviteCode(
        code=code, organisation=organisation, role=role, person_name=person_name, created_at=now, expires_at=now + ttl
    )
    session.add(invite)
    session.flush()
    return invite


def get_invite(session: Session, code: str, lock: bool = False) -> InviteCode | None:
    q = select(InviteCode).where(InviteCode.code == code.strip().upper())
    if lock:
        q = q.with_for_update()
    return session.execute(q).scalar_one_or_none()


DEMO_COORDINATOR_ORG = "市委生态文明办"


def add_demo_people(session: Session, now: dt.datetime) -> int:
    """Demo people on the console channel: 协调员, 管理员 and 分管领导 (a leader) at 市委生态文明办, and one official
    per organisation named "<short name>填报人". People already there are kept. Returns how many were added."""
    added = 0
    existing = {p.name for p in list_people(session)}
    coord_org = orgs.find_org(session, DEMO_COORDINATOR_ORG)
    wanted = [("协调员", coord_org, COORDINATOR), ("管理员", coord_org, ADMIN), ("分管领导", coord_org, LEADER)]
    wanted += [(f"{org.short_name or org.name}填报人", org, OFFICIAL) for org in orgs.all_orgs(session)]
    for name, org, role in wanted:
        if name not in existing:
            add_person(session, name, org, role, now, {"console": name})
            added += 1
    return added
