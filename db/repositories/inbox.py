"""The inbox: incoming updates stored before they are acknowledged, and the leases that keep each chat's
messages in order across processes.

- `store` inserts a batch of updates with ON CONFLICT DO NOTHING on (channel, message_id): a redelivery of a
  stored update changes nothing. The caller commits before it acknowledges the update to the platform.
- A chat's rows are handled by whoever holds the chat's lease (`inbox_chat`). `claim_chats` hands out chats that
  have pending rows and no live holder; on PostgreSQL with FOR UPDATE SKIP LOCKED, so several processes take
  disjoint chats without waiting on each other; on SQLite every transaction starts with BEGIN IMMEDIATE, which
  serialises claimers. `try_claim` takes one chat for the process that just stored its update, so the common
  case (the chat is idle) needs no polling.
- Liveness is per process (`worker`): a process beats every few seconds; chats and outbox rows claimed by a
  worker whose beat is older than the timeout are handed out again. Wall-clock time, not the plan's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from core.inbox import Row, Stored, Update
from db.models import (
    IN_DONE,
    IN_FAILED,
    IN_PENDING,
    IN_SKIPPED,
    OUT_PENDING,
    OUT_SENDING,
    REPLY,
    Identity,
    Inbox,
    InboxChat,
    Person,
    Worker,
)

MAX_ERROR_CHARS = 1000


# ---- workers --------------------------------------------------------------------------------------------------


def beat(session: Session, worker_id: str, wall_now: dt.datetime) -> None:
    """Record that `worker_id` is alive (registers it on the first beat)."""
    done = session.execute(update(Worker).where(Worker.id == worker_id).values(seen_at=wall_now)).rowcount  # type: ignore[attr-defined]
    if not done:
        session.add(Worker(id=worker_id, started_at=wall_now, seen_at=wall_now))
        session.flush()


def forget_others(session: Session, worker_id: str) -> int:
    """Declare every other worker dead (SQLite: one process works the database, so whoever was before is gone)."""
    return int(session.execute(delete(Worker).where(Worker.id != worker_id)).rowcount)  # type: ignore[attr-defined]


def leave(session: Session, worker_id: str) -> None:
    """A clean stop: give back this worker's chats and forget it."""
    session.execute(update(InboxChat).where(InboxChat.claimed_by == worker_id).values(claimed_by=None, claimed_at=None))
    session.execute(delete(Worker).where(Worker.id == worker_id))


def live_workers(wall_now: dt.datetime, timeout: dt.timedelta) -> Any:
    """A subquery of the ids of workers that beat within `timeout`."""
    return select(Worker.id).where(Worker.seen_at >= wall_now - timeout).scalar_subquery()


def abandoned(claimed_by: Any, wall_now: dt.datetime, timeout: dt.timedelta) -> ColumnElement[bool]:
    """True where a claim is held by nobody or by a dead worker."""
    return or_(claimed_by.is_(None), claimed_by.not_in(live_workers(wall_now, timeout)))


def alive_now(
    session: Session, worker_ids: Iterable[str | None], wall_now: dt.datetime, timeout: dt.timedelta
) -> set[str]:
    """Which of `worker_ids` beat within `timeout`, read by a statement of its own.

    A claim that takes over a dead worker's rows must ask again after it locked them: on PostgreSQL a row that
    another process claimed and committed while the claiming statement ran is re-checked against the worker
    list of the statement's older snapshot, where a worker that registered meanwhile is missing (it looks
    dead). Under READ COMMITTED this second statement sees the present."""
    ids = {w for w in worker_ids if w}
    if not ids:
        return set()
    q = select(Worker.id).where(Worker.id.in_(ids), Worker.seen_at >= wall_now - timeout)
    return set(session.execute(q).scalars())


# ---- storing --------------------------------------------------------------------------------------------------


def _bound(session: Session, channel: str, user_id: str) -> bool:
    return (
        session.execute(
            select(Identity.id)
            .join(Person, Person.id == Identity.person_id)
            .where(Identity.channel == channel, Identity.external_id == user_id, Person.active.is_(True))
            .limit(1)
        ).first()
        is not None
    )


def _pending_count(session: Session, channel: str, chat_id: str, up_to: int) -> int:
    """Pending rows of a chat, counted up to `up_to` (the count stops there: a flood costs no more to count)."""
    ids = (
        select(Inbox.id)
        .where(Inbox.channel == channel, Inbox.chat_id == chat_id, Inbox.status == IN_PENDING)
        .limit(up_to)
        .subquery()
    )
    return int(session.execute(select(func.count()).select_from(ids)).scalar_one())


# The per-message statements, prepared once: the dialects' INSERT … ON CONFLICT constructs are never cached by
# SQLAlchemy (it compiles them anew for every execution, ~1 ms each), while a text() statement is compiled once.
# The SQL is the same on SQLite (3.35+) and PostgreSQL.
_FREE_CHAT = text(
    "INSERT INTO inbox_chat (channel, chat_id) VALUES (:channel, :chat_id) "
    "ON CONFLICT (channel, chat_id) DO UPDATE SET claimed_at = NULL "
    "WHERE inbox_chat.claimed_by IS NULL AND NOT EXISTS ("
    "SELECT 1 FROM inbox WHERE inbox.channel = :channel AND inbox.chat_id = :chat_id AND inbox.status = :pending) "
    "RETURNING EXISTS ("
    "SELECT 1 FROM outbox WHERE outbox.channel = :channel AND outbox.chat_id = :chat_id AND outbox.kind = :reply "
    "AND outbox.status IN (:out_pending, :out_sending) AND outbox.id NOT IN :delivered)"
).bindparams(bindparam("delivered", expanding=True))

_ENSURE_CHAT = text(
    "INSERT INTO inbox_chat (channel, chat_id) VALUES (:channel, :chat_id) ON CONFLICT (channel, chat_id) DO NOTHING"
)

_STORE = text(
    "INSERT INTO inbox (channel, message_id, chat_id, user_id, payload, status, received_at, handled_at, attempts) "
    "VALUES (:channel, :message_id, :chat_id, :user_id, :payload, :status, :received_at, :handled_at, 0) "
    "ON CONFLICT (channel, message_id) DO NOTHING RETURNING id"
).bindparams(
    bindparam("payload", type_=Inbox.__table__.c.payload.type),
    bindparam("received_at", type_=Inbox.__table__.c.received_at.type),
    bindparam("handled_at", type_=Inbox.__table__.c.handled_at.type),
)


def free_chat(
    session: Session, channel: str, chat_id: str, wall_now: dt.datetime, delivered: Sequence[int] = ()
) -> bool | None:
    """Whether a message arriving in this chat may be handled at once, in the transaction storing it: nobody holds
    the chat's lease and none of its rows is pending. One statement, which also creates the chat's lease row (left
    free) and locks it until the caller commits, so no other process takes the chat meanwhile.

    Returns:
        None when the chat is not free; else whether an earlier reply to the chat is still waiting to go out (not
        counting `delivered`: replies sent whose confirmation is not written yet): then the new replies queue
        behind it instead of being sent at once.
    """
    row = session.execute(
        _FREE_CHAT,
        {
            "channel": channel,
            "chat_id": chat_id,
            "pending": IN_PENDING,
            "reply": REPLY,
            "out_pending": OUT_PENDING,
            "out_sending": OUT_SENDING,
            "delivered": list(delivered),
        },
    ).first()
    return None if row is None else bool(row[0])


def _store_one(session: Session, channel: str, update: Update, status: str, wall_now: dt.datetime) -> int | None:
    """Insert one update unless stored before; its id, or None."""
    new_id = session.execute(
        _STORE,
        {
            "channel": channel,
            "message_id": update.message_id,
            "chat_id": update.chat_id,
            "user_id": update.user_id,
            "payload": update.payload,
            "status": status,
            "received_at": wall_now,
            "handled_at": None if status == IN_PENDING else wall_now,
        },
    ).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def store_handled(session: Session, channel: str, update: Update, wall_now: dt.datetime) -> int | None:
    """Store an update handled in this same transaction (its chat is free: `free_chat`). Its id, or None when it
    was stored before (a redelivery: nothing to handle)."""
    return _store_one(session, channel, update, IN_DONE, wall_now)


def store(
    session: Session,
    channel: str,
    updates: Sequence[Update],
    wall_now: dt.datetime,
    stranger_cap: int,
    bound: dict[str, bool] | None = None,
) -> list[Stored]:
    """Insert `updates` (in their order) unless already stored. The caller commits, then acknowledges.

    An update from a user who is not bound (no active person) whose chat already has `stranger_cap` pending rows
    is stored as skipped: it is kept, and acknowledged, but never handled, so a stranger's flood costs a row each.
    """
    result: list[Stored] = []
    waiting: dict[str, int] = {}  # pending rows per chat, counted up to the cap
    bound = dict(bound or {})  # users known to be bound (the caller's cache) need no count
    for up in updates:
        skipped = False
        if stranger_cap > 0 and not bound.get(up.user_id):
            if up.chat_id not in waiting:
                waiting[up.chat_id] = _pending_count(session, channel, up.chat_id, stranger_cap)
            if waiting[up.chat_id] >= stranger_cap:
                if up.user_id not in bound:
                    bound[up.user_id] = _bound(session, channel, up.user_id)
                skipped = not bound[up.user_id]
        new = _store_one(session, channel, up, IN_SKIPPED if skipped else IN_PENDING, wall_now) is not None
        result.append(Stored(up.message_id, up.chat_id, new, skipped and new))
        if new and not skipped:
            waiting[up.chat_id] = waiting.get(up.chat_id, 0) + 1
            session.execute(_ENSURE_CHAT, {"channel": channel, "chat_id": up.chat_id})
    return result


# ---- leases ---------------------------------------------------------------------------------------------------


def _has_pending() -> ColumnElement[bool]:
    return exists().where(
        Inbox.channel == InboxChat.channel, Inbox.chat_id == InboxChat.chat_id, Inbox.status == IN_PENDING
    )


def try_claim(
    session: Session, channel: str, chat_id: str, worker_id: str, wall_now: dt.datetime, timeout: dt.timedelta
) -> bool:
    """Take the lease on one chat if it is free or abandoned (or already ours). True when we hold it.

    On PostgreSQL this waits for a holder that is releasing the chat at this moment (`release` locks the row):
    either the holder sees our row and keeps going, or it has let go and we take the chat.
    """
    q = select(InboxChat).where(InboxChat.channel == channel, InboxChat.chat_id == chat_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()
    chat = session.execute(q).scalar_one_or_none()
    if chat is None:
        return False
    if chat.claimed_by == worker_id:
        return True
    if chat.claimed_by is not None:
        alive = session.execute(
            select(Worker.id).where(Worker.id == chat.claimed_by, Worker.seen_at >= wall_now - timeout)
        ).first()
        if alive is not None:
            return False
    chat.claimed_by, chat.claimed_at = worker_id, wall_now
    session.flush()
    return True


def claim_chats(
    session: Session,
    worker_id: str,
    wall_now: dt.datetime,
    timeout: dt.timedelta,
    channels: Iterable[str],
    limit: int,
    exclude: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """Take the leases of up to `limit` chats with pending rows and no live holder, oldest waiting first."""
    oldest = (
        select(func.min(Inbox.id))
        .where(Inbox.channel == InboxChat.channel, Inbox.chat_id == InboxChat.chat_id, Inbox.status == IN_PENDING)
        .scalar_subquery()
    )
    q = (
        select(InboxChat)
        .where(
            InboxChat.channel.in_(list(channels)),
            _has_pending(),
            # our own chats too: a loop that failed is started again
            or_(InboxChat.claimed_by == worker_id, abandoned(InboxChat.claimed_by, wall_now, timeout)),
        )
        .order_by(oldest)
        .limit(limit)
    )
    skip = list(exclude)
    if skip:
        q = q.where(~or_(*[and_(InboxChat.channel == c, InboxChat.chat_id == k) for c, k in skip]))
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=InboxChat)
    chats = list(session.execute(q).scalars())
    held = alive_now(session, (c.claimed_by for c in chats if c.claimed_by != worker_id), wall_now, timeout)
    chats = [c for c in chats if c.claimed_by not in held]
    for chat in chats:
        chat.claimed_by, chat.claimed_at = worker_id, wall_now
    session.flush()
    return [(c.channel, c.chat_id) for c in chats]


def release(session: Session, channel: str, chat_id: str, worker_id: str) -> bool:
    """Give the lease back unless rows arrived meanwhile. True when released; False when there is more to do
    (the lease is kept) or the lease was no longer ours."""
    q = select(InboxChat).where(InboxChat.channel == channel, InboxChat.chat_id == chat_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update()  # a concurrent `store` of this chat waits for us, then sees the lease free
    chat = session.execute(q).scalar_one_or_none()
    if chat is None or chat.claimed_by != worker_id:
        return True
    if pending(session, channel, chat_id, limit=1):
        return False
    chat.claimed_by, chat.claimed_at = None, None
    session.flush()
    return True


def let_go(session: Session, channel: str, chat_id: str, worker_id: str) -> None:
    """Give the lease back whatever is pending (a process that cannot handle the chat's channel)."""
    session.execute(
        update(InboxChat)
        .where(InboxChat.channel == channel, InboxChat.chat_id == chat_id, InboxChat.claimed_by == worker_id)
        .values(claimed_by=None, claimed_at=None)
    )


# ---- handling -------------------------------------------------------------------------------------------------


def pending(session: Session, channel: str, chat_id: str, limit: int = 20) -> list[Row]:
    """The chat's pending rows, oldest first."""
    rows = session.execute(
        select(Inbox)
        .where(Inbox.channel == channel, Inbox.chat_id == chat_id, Inbox.status == IN_PENDING)
        .order_by(Inbox.id)
        .limit(limit)
    ).scalars()
    return [
        Row(r.id, r.channel, r.message_id, r.chat_id, r.user_id, dict(r.payload or {}), r.received_at, r.attempts)
        for r in rows
    ]


def finish(session: Session, row_id: int, wall_now: dt.datetime, status: str = IN_DONE) -> bool:
    """Mark a pending row handled (in the transaction that did the handling). False when it was not pending:
    someone else handled it, and this transaction must be rolled back."""
    done = session.execute(
        update(Inbox)
        .where(Inbox.id == row_id, Inbox.status == IN_PENDING)
        .values(status=status, handled_at=wall_now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return bool(done)


def failed_attempt(session: Session, row_id: int, wall_now: dt.datetime, error: str, max_attempts: int) -> str:
    """Count a failed handling; after `max_attempts` the row is given up on. Returns the row's new status."""
    row = session.get(Inbox, row_id)
    if row is None or row.status != IN_PENDING:
        return row.status if row is not None else IN_FAILED
    row.attempts += 1
    row.last_error = error[:MAX_ERROR_CHARS]
    if row.attempts >= max_attempts:
        row.status, row.handled_at = IN_FAILED, wall_now
    session.flush()
    return row.status


# ---- health and housekeeping ----------------------------------------------------------------------------------


def depth(session: Session) -> tuple[int, dt.datetime | None]:
    """(pending rows, when the oldest pending row arrived)."""
    n, oldest = session.execute(
        select(func.count(), func.min(Inbox.received_at)).where(Inbox.status == IN_PENDING)
    ).one()
    return int(n), oldest


def counts(session: Session) -> dict[str, int]:
    return {s: n for s, n in session.execute(select(Inbox.status, func.count()).group_by(Inbox.status))}


def prune(session: Session, before: dt.datetime, batch: int = 1000) -> int:
    """Delete up to `batch` handled rows received before `before`. Returns how many were deleted."""
    ids = select(Inbox.id).where(Inbox.status != IN_PENDING, Inbox.received_at < before).limit(batch)
    return int(
        session.execute(delete(Inbox).where(Inbox.id.in_(ids)).execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
    )
