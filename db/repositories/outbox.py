"""Creating outbox rows: every proactive message is a row with a unique dedupe key; creating it twice
does nothing (INSERT ... ON CONFLICT DO NOTHING on both SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.messages import Reply
from db.models import OUT_PENDING, OUT_SENDING, REPLY, Identity, Outbox, Person


def _insert_for(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert
    if dialect == "sqlite":
        return sqlite_insert
    raise NotImplementedError(f"outbox needs PostgreSQL or SQLite, not {dialect}")


def _insert(session: Session, **values: Any) -> int | None:
    """Insert one outbox row unless its dedupe key exists (ON CONFLICT DO NOTHING); its id, or None."""
    stmt = (
        _insert_for(session)(Outbox)
        .values(attempts=0, **values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Outbox.id)
    )
    new_id: int | None = session.execute(stmt).scalar_one_or_none()
    return new_id


def enqueue(
    session: Session,
    dedupe_key: str,
    kind: str,
    channel: str,
    chat_id: str,
    text: str,
    person_id: int | None = None,
    payload: dict[str, Any] | None = None,
    *,
    now: dt.datetime,
    not_before: dt.datetime | None = None,
) -> Outbox | None:
    """Queue one message unless a row with `dedupe_key` exists.

    Args:
        now: naive UTC creation time.
        not_before: naive UTC; the row is not sent before this (quiet hours). Defaults to `now`.

    Returns:
        The new row, or None when the key was already queued (by this or any other process).
    """
    new_id = _insert(
        session,
        dedupe_key=dedupe_key,
        kind=kind,
        channel=channel,
        chat_id=str(chat_id),
        person_id=person_id,
        text=text,
        payload=payload or {},
        status=OUT_PENDING,
        next_attempt_at=not_before or now,
        created_at=now,
    )
    if new_id is None:
        return None
    return session.get(Outbox, new_id)


_REPLY_COLUMNS = (
    "dedupe_key, kind, channel, chat_id, text, payload, status, attempts, next_attempt_at, claimed_by, claimed_at, "
    "created_at"
)
_reply_inserts: dict[int, Any] = {}  # replies per message → its prepared statement


def _reply_insert(n: int) -> Any:
    """INSERT … ON CONFLICT DO NOTHING of `n` replies as a text() statement, compiled once (SQLAlchemy never
    caches the dialects' ON CONFLICT constructs); the same SQL on SQLite and PostgreSQL."""
    stmt = _reply_inserts.get(n)
    if stmt is None:
        rows = ", ".join(
            f"(:k{i}, :kind, :channel, :chat_id, :t{i}, :p{i}, :status, 0, :now, :claimed_by, :claimed_at, :now)"
            for i in range(n)
        )
        payload, when = Outbox.__table__.c.payload.type, Outbox.__table__.c.created_at.type
        stmt = text(
            f"INSERT INTO outbox ({_REPLY_COLUMNS}) VALUES {rows} "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key"
        ).bindparams(
            *(bindparam(f"p{i}", type_=payload) for i in range(n)),
            bindparam("now", type_=when),
            bindparam("claimed_at", type_=when),
        )
        _reply_inserts[n] = stmt
    return stmt


def enqueue_replies(
    session: Session,
    channel: str,
    message_id: str,
    chat_id: str,
    replies: list[Reply],
    worker_id: str | None,
    *,
    now: dt.datetime,
) -> list[int | None]:
    """Queue the replies to one incoming message, in one statement: already claimed by `worker_id` so that the
    worker that handled the message sends them at once (if that worker dies, the claims are handed out again);
    with no worker, unclaimed, for the sender to send after the chat's earlier replies.

    Returns:
        The rows' ids in order (None for a reply queued before).
    """
    if not replies:
        return []
    keys = [f"reply:{channel}:{message_id}:{i}" for i in range(len(replies))]
    params: dict[str, Any] = {
        "kind": REPLY,
        "channel": channel,
        "chat_id": str(chat_id),
        "status": OUT_SENDING if worker_id else OUT_PENDING,
        "now": now,
        "claimed_by": worker_id,
        "claimed_at": now if worker_id else None,
    }
    for i, (key, reply) in enumerate(zip(keys, replies, strict=True)):
        params[f"k{i}"], params[f"t{i}"], params[f"p{i}"] = key, reply.text, {"reply": reply.to_json()}
    ids = {str(key): int(row_id) for row_id, key in session.execute(_reply_insert(len(replies)), params)}
    return [ids.get(key) for key in keys]


def replies_waiting_in_chat(session: Session, channel: str, chat_id: str) -> bool:
    """Whether an earlier reply to this chat is not sent yet: a new one must then queue behind it."""
    q = select(Outbox.id).where(
        Outbox.channel == channel,
        Outbox.chat_id == chat_id,
        Outbox.status.in_((OUT_PENDING, OUT_SENDING)),
        Outbox.kind == REPLY,
    )
    return session.execute(q.limit(1)).first() is not None


def replies_waiting(session: Session, channels: list[str]) -> bool:
    """Whether a reply on one of `channels` is not sent (or given up on) yet."""
    q = select(Outbox.id).where(
        Outbox.kind == REPLY, Outbox.status.in_((OUT_PENDING, OUT_SENDING)), Outbox.channel.in_(channels)
    )
    return session.execute(q.limit(1)).first() is not None


def preferred_identity(person: Person) -> Identity | None:
    """Where a person gets proactive messages: the channel they wrote from most recently
    (identities keep their chat id up to date), Telegram/WeCom before the console."""
    idents = sorted(person.identities, key=lambda i: (i.channel == "console", -(i.id or 0)))
    return idents[0] if idents else None


def notify_person(
    session: Session,
    person: Person,
    occasion: str,
    kind: str,
    text: str,
    now: dt.datetime,
    payload: dict[str, Any] | None = None,
    not_before: dt.datetime | None = None,
) -> Outbox | None:
    ident = preferred_identity(person)
    if ident is None:
        return None
    key = f"{occasion}:p{person.id}"
    return enqueue(
        session,
        key,
        kind,
        ident.channel,
        ident.chat_id or ident.external_id,
        text,
        person_id=person.id,
        payload=payload,
        now=now,
        not_before=not_before,
    )
