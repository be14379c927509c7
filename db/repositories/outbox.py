"""Creating outbox rows: every proactive message is a row with a unique dedupe key; creating it twice
does nothing (INSERT ... ON CONFLICT DO NOTHING on both SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.models import OUT_PENDING, Identity, Outbox, Person


def enqueue(
    session: Session,
    dedupe_key: str,
    kind: str,
    channel: str,
    chat_id: str,
    text: str,
    now: dt.datetime,
    person_id: int | None = None,
    payload: dict[str, Any] | None = None,
    not_before: dt.datetime | None = None,
) -> Outbox | None:
    """Queue a message; returns the new row, or None when one with this key exists already."""
    values = dict(
        dedupe_key=dedupe_key, kind=kind, channel=channel, chat_id=chat_id, text=text, person_id=person_id,
        payload=payload or {}, status=OUT_PENDING, attempts=0, next_attempt_at=not_before or now, created_at=now,
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Outbox).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = session.execute(stmt)
    if not result.rowcount:
        return None
    return session.execute(select(Outbox).where(Outbox.dedupe_key == dedupe_key)).scalar_one()


def preferred_identity(person: Person) -> Identity | None:
    """Where a person gets proactive messages: the channel they wrote from most recently
    (identities keep their chat id up to date), Telegram/WeCom before the console."""
    idents = sorted(person.identities, key=lambda i: (i.channel == "console", -(i.id or 0)))
    return idents[0] if idents else None


def notify_person(
    session: Session, person: Person, occasion: str, kind: str, text: str, now: dt.datetime,
    payload: dict[str, Any] | None = None, not_before: dt.datetime | None = None,
) -> Outbox | None:
    ident = preferred_identity(person)
    if ident is None:
        return None
    key = f"{occasion}:p{person.id}"
    return enqueue(session, key, kind, ident.channel, ident.chat_id or ident.external_id, text, now,
                   person_id=person.id, payload=payload, not_before=not_before)
