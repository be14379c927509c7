"""The board's sign-in: one-time links (`看板` in the chat) and the browser sessions they open.

Only SHA-256 digests of the secrets are stored: a copy of the database opens no board. A link works once,
within `TOKEN_TTL`; a session lasts `session_ttl` after its last use unless signed out. Every check runs in the
caller's transaction, so several `duban serve` processes on one database agree (a link redeemed twice at once:
the second UPDATE finds it used).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from db.models import BoardSession, BoardToken, Person

TOKEN_TTL = dt.timedelta(minutes=10)
SESSION_TTL = dt.timedelta(hours=12)

# Why a link opened nothing.
UNKNOWN, USED, EXPIRED, INACTIVE = "unknown", "used", "expired", "inactive"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(session: Session, person: Person, now: dt.datetime) -> str:
    """A new one-time sign-in token for `person` (now: naive UTC); only its digest is stored."""
    raw = secrets.token_urlsafe(24)
    session.add(BoardToken(token_hash=digest(raw), person_id=person.id, created_at=now, expires_at=now + TOKEN_TTL))
    session.flush()
    return raw


@dataclass(frozen=True)
class Checked:
    """A token's state: whose it is (None: refused) and, when refused, why."""

    person: Person | None
    refused: str | None = None


def check_token(session: Session, raw: str, now: dt.datetime) -> Checked:
    """Whether `raw` would open a session now, without using it up."""
    row = session.get(BoardToken, digest(raw)) if raw else None
    if row is None:
        return Checked(None, UNKNOWN)
    if row.used_at is not None:
        return Checked(None, USED)
    if row.expires_at <= now:
        return Checked(None, EXPIRED)
    person = session.get(Person, row.person_id)
    if person is None or not person.active:
        return Checked(None, INACTIVE)
    return Checked(person)


def redeem_token(session: Session, raw: str, now: dt.datetime) -> Checked:
    """Use `raw` up: the person it opens for, or why not. The token is marked used by a conditional UPDATE, so
    of two requests racing with one link only one wins."""
    checked = check_token(session, raw, now)
    if checked.person is None:
        return checked
    won = session.execute(
        update(BoardToken)
        .where(BoardToken.token_hash == digest(raw), BoardToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if won != 1:
        return Checked(None, USED)
    return checked


@dataclass(frozen=True)
class Opened:
    """A new session's cookie value and CSRF token (the raw secrets, shown once)."""

    cookie: str
    csrf: str


def open_session(session: Session, person: Person, now: dt.datetime, ttl: dt.timedelta = SESSION_TTL) -> Opened:
    raw, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(BoardSession(id_hash=digest(raw), person_id=person.id, csrf=csrf, created_at=now, expires_at=now + ttl))
    session.flush()
    return Opened(raw, csrf)


def find_session(
    session: Session, raw: str | None, now: dt.datetime, ttl: dt.timedelta = SESSION_TTL
) -> BoardSession | None:
    """The live session of cookie `raw` (its person active), its end pushed to `now + ttl`; None otherwise."""
    if not raw:
        return None
    row = session.get(BoardSession, digest(raw))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    if not row.person.active:
        return None
    if row.expires_at < now + ttl - dt.timedelta(minutes=5):  # not a write on every page
        row.expires_at = now + ttl
    return row


def end_session(session: Session, row: BoardSession, now: dt.datetime) -> None:
    row.ended_at = now


def prune(session: Session, before: dt.datetime, batch: int) -> int:
    """Drop up to `batch` links and up to `batch` sessions that ended before `before` (naive UTC); how many rows
    went (under `batch` only when both tables are done)."""
    tokens = select(BoardToken.token_hash).where(BoardToken.expires_at < before).limit(batch)
    ended = (
        select(BoardSession.id_hash)
        .where(or_(BoardSession.expires_at < before, BoardSession.ended_at < before))
        .limit(batch)
    )
    n = session.execute(
        delete(BoardToken).where(BoardToken.token_hash.in_(tokens)).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    m = session.execute(
        delete(BoardSession).where(BoardSession.id_hash.in_(ended)).execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return int(n) + int(m)
