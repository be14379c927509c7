"""The outbox: every proactive message is a row, created once, claimed by one sender, marked sent once.

- `enqueue` inserts with ON CONFLICT DO NOTHING on the dedupe key, so creating the same message twice (two
  ticks, two processes, a restart half-way) leaves one row.
- `claim` hands due rows to one worker. On PostgreSQL it uses SELECT ... FOR UPDATE SKIP LOCKED, so several
  processes claim disjoint rows without waiting on each other; on SQLite the engine starts every transaction
  with BEGIN IMMEDIATE, which already serialises claimers. A claim is a lease: rows of a worker that died
  while sending are handed out again after `lease` (at-least-once for that one crash window; a row already
  marked sent is never sent again).
- `mark_sent` / `mark_retry` / `mark_failed` only touch a row still claimed by the same worker, so a worker
  whose lease ran out cannot overwrite the outcome of the worker that took the row over.
- `RateLimiter` keeps a process within the platforms' limits (Telegram ~30/s overall, ~1/s per chat; WeCom
  30/min and 1000/hour per member). Each process limits itself; 429 / 45009 answers (RetryLater) cover the rest.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy import exists as sql_exists
from sqlalchemy.orm import Session, aliased

from db.models import OUT_FAILED, OUT_PENDING, OUT_SENDING, OUT_SENT, REPLY, Outbox
from db.repositories import inbox
from db.repositories.outbox import enqueue  # noqa: F401  (re-exported: creating rows lives in the db layer)

log = logging.getLogger(__name__)

DEFAULT_LEASE = dt.timedelta(minutes=10)
BACKOFF_BASE_SECONDS = 30.0
BACKOFF_CAP_SECONDS = 3600.0
# With the cap above, 25 attempts span about a day: a platform outage of a few hours loses nothing.
DEFAULT_MAX_ATTEMPTS = 25
MAX_ERROR_CHARS = 1000
# A reply is retried after 1, 2, 4 … seconds, then every 5 minutes: 60 attempts span about 4 hours of outage.
REPLY_BACKOFF_BASE_SECONDS = 1.0
REPLY_BACKOFF_CAP_SECONDS = 300.0
REPLY_MAX_ATTEMPTS = 60


def exists(session: Session, dedupe_key: str) -> bool:
    return session.execute(select(Outbox.id).where(Outbox.dedupe_key == dedupe_key)).first() is not None


def claim(
    session: Session,
    worker_id: str,
    now: dt.datetime,
    limit: int = 50,
    channels: Iterable[str] | None = None,
    lease: dt.timedelta = DEFAULT_LEASE,
    kinds: Iterable[str] | None = None,
    wall_now: dt.datetime | None = None,
    worker_timeout: dt.timedelta | None = None,
    chat_id: str | None = None,
    undeferred_due: bool = False,
) -> list[Outbox]:
    """Claim up to `limit` due rows for `worker_id`; the caller commits right away, then sends.

    Due rows are pending rows whose time has come, and rows in "sending" whose claim is older than `lease`, or
    (with `wall_now` and `worker_timeout`) whose worker stopped beating: it died. Only rows for `channels` are
    claimed, so a process without, say, WeCom leaves WeCom rows to a process that has it; only rows of `kinds`
    when given (replies go out in quiet hours, nudges do not); only the rows of one chat with `chat_id` (the
    console shows a person the rows queued for their console chat when they open it).

    With `undeferred_due`, a pending row queued to go at once (never deferred: its time is its creation time) is
    due whatever `now` says. The console wants this: every run with `--now` starts at the same pretended instant,
    so a notice an earlier run queued a few minutes into its session lies in the next run's future. Rows queued
    for later (`not_before`, quiet hours) still wait for their time.

    Replies to one chat go out in the order they were queued: a reply is not claimed while an earlier reply to
    the same chat is still waiting or being sent.
    """
    abandoned_claim = Outbox.claimed_at < now - lease
    if wall_now is not None and worker_timeout is not None:
        abandoned_claim = or_(abandoned_claim, inbox.abandoned(Outbox.claimed_by, wall_now, worker_timeout))
    time_has_come = Outbox.next_attempt_at <= now
    if undeferred_due:
        time_has_come = or_(time_has_come, and_(Outbox.attempts == 0, Outbox.next_attempt_at <= Outbox.created_at))
    due = or_(
        and_(Outbox.status == OUT_PENDING, time_has_come),
        and_(Outbox.status == OUT_SENDING, abandoned_claim),
    )
    earlier = aliased(Outbox)
    waits_for_earlier = (
        sql_exists()
        .where(
            earlier.channel == Outbox.channel,
            earlier.chat_id == Outbox.chat_id,
            earlier.status.in_((OUT_PENDING, OUT_SENDING)),
            earlier.kind == REPLY,
            earlier.id < Outbox.id,
        )
        .correlate(Outbox)
    )
    in_order = or_(Outbox.kind != REPLY, ~waits_for_earlier)
    q = select(Outbox).where(due, in_order).order_by(Outbox.next_attempt_at, Outbox.id).limit(limit)
    if channels is not None:
        q = q.where(Outbox.channel.in_(list(channels)))
    if kinds is not None:
        q = q.where(Outbox.kind.in_(list(kinds)))
    if chat_id is not None:
        q = q.where(Outbox.chat_id == chat_id)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    rows = list(session.execute(q).scalars())
    if wall_now is not None and worker_timeout is not None:
        # a claim taken for a dead worker's is checked again by a statement of its own (`inbox.alive_now`)
        within_lease = [
            r for r in rows if r.status == OUT_SENDING and r.claimed_at is not None and r.claimed_at >= now - lease
        ]
        held = inbox.alive_now(session, (r.claimed_by for r in within_lease), wall_now, worker_timeout)
        kept = {r.id for r in within_lease if r.claimed_by in held}
        rows = [r for r in rows if r.id not in kept]
    for row in rows:
        if row.status == OUT_SENDING:
            # Its worker died while sending: the platform may or may not have it. Telegram and WeCom take no
            # idempotency key, so this is the one case a message can arrive twice; it is counted, and logged.
            log.warning("outbox %s taken over from %s, which stopped while sending it", row.id, row.claimed_by)
            row.payload = {**(row.payload or {}), "taken_over": int((row.payload or {}).get("taken_over", 0)) + 1}
        row.status = OUT_SENDING
        row.claimed_by = worker_id
        row.claimed_at = now
    session.flush()
    return rows


def _finish(session: Session, row_id: int, worker_id: str, **values: Any) -> bool:
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.status == OUT_SENDING, Outbox.claimed_by == worker_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    # The statement bypassed the identity map: make a loaded copy of the row re-read its new values.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Outbox) and obj.id == row_id:
            session.expire(obj)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_sent(session: Session, row_id: int, worker_id: str, now: dt.datetime) -> bool:
    """Record delivery. False when the row is no longer this worker's (its lease was taken over)."""
    return _finish(
        session, row_id, worker_id, status=OUT_SENT, sent_at=now, claimed_by=None, claimed_at=None, last_error=None
    )


_MARK_SENT = text(
    "UPDATE outbox SET status = :sent, sent_at = :now, claimed_by = NULL, claimed_at = NULL, last_error = NULL "
    "WHERE id IN :ids AND status = :sending AND claimed_by = :worker RETURNING id"
).bindparams(bindparam("ids", expanding=True), bindparam("now", type_=Outbox.__table__.c.sent_at.type))


def mark_sent_many(session: Session, row_ids: list[int], worker_id: str, now: dt.datetime) -> set[int]:
    """Record the delivery of several rows in one statement (prepared once); the ids still this worker's (the
    others' leases were taken over)."""
    if not row_ids:
        return set()
    params = {"sent": OUT_SENT, "now": now, "ids": list(row_ids), "sending": OUT_SENDING, "worker": worker_id}
    return {int(i) for i in session.execute(_MARK_SENT, params).scalars()}


def backoff_seconds(attempts: int, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Delay before retry number `attempts` (1-based): base, 2×base, 4×base … capped."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def retry_delay(kind: str, attempts: int) -> float:
    """Backoff for one kind of row: a reply is retried within seconds (someone is waiting for it), a nudge can
    wait."""
    if kind == REPLY:
        return backoff_seconds(attempts, REPLY_BACKOFF_BASE_SECONDS, REPLY_BACKOFF_CAP_SECONDS)
    return backoff_seconds(attempts)


def max_attempts_for(kind: str, default: int) -> int:
    return max(default, REPLY_MAX_ATTEMPTS) if kind == REPLY else default


def mark_retry(
    session: Session,
    row: Outbox,
    worker_id: str,
    now: dt.datetime,
    error: str,
    delay: float | None = None,
    count_attempt: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> str:
    """Put a claimed row back for later.

    Args:
        delay: seconds to wait; None for exponential backoff on the attempt count.
        count_attempt: False when the platform only asked us to slow down (429, 45009) or the local rate
            limiter deferred the row: that is not a failed attempt.
        max_attempts: after this many counted failures the row is marked failed.

    Returns:
        The row's new status ("pending" or "failed"), or "" when the row was no longer ours.
    """
    attempts = row.attempts + (1 if count_attempt else 0)
    if count_attempt and attempts >= max_attempts_for(row.kind, max_attempts):
        ok = _finish(
            session,
            row.id,
            worker_id,
            status=OUT_FAILED,
            attempts=attempts,
            claimed_by=None,
            claimed_at=None,
            last_error=error[:MAX_ERROR_CHARS],
        )
        return OUT_FAILED if ok else ""
    wait = retry_delay(row.kind, attempts) if delay is None else max(0.0, delay)
    ok = _finish(
        session,
        row.id,
        worker_id,
        status=OUT_PENDING,
        attempts=attempts,
        next_attempt_at=now + dt.timedelta(seconds=wait),
        claimed_by=None,
        claimed_at=None,
        last_error=error[:MAX_ERROR_CHARS],
    )
    return OUT_PENDING if ok else ""


def mark_failed(session: Session, row: Outbox, worker_id: str, now: dt.datetime, error: str) -> bool:
    """Give up on a row (the platform says it can never be delivered)."""
    return _finish(
        session,
        row.id,
        worker_id,
        status=OUT_FAILED,
        attempts=row.attempts + 1,
        claimed_by=None,
        claimed_at=None,
        last_error=error[:MAX_ERROR_CHARS],
    )


def counts(session: Session) -> dict[str, int]:
    """Rows per status (for /healthz, tick output and tests)."""
    from sqlalchemy import func

    return {s: n for s, n in session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))}


# ---- rate limits -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """At most `count` sends per `period` seconds, over the whole channel or per chat."""

    count: int
    period: float
    per_chat: bool


# The platforms' documented limits, kept slightly under so that clock skew does not earn a 429.
CHANNEL_LIMITS: dict[str, tuple[Limit, ...]] = {
    "telegram": (Limit(30, 1.0, per_chat=False), Limit(1, 1.0, per_chat=True)),
    # WeCom: 30 messages a minute and 1000 an hour to one member ("每应用对同一个成员不可超过30次/分，超过部分会被
    # 丢弃不下发"); a sliding window lets a reply of several messages go at once, then paces.
    "wecom": (Limit(30, 60.0, per_chat=True), Limit(1000, 3600.0, per_chat=True)),
}


class RateLimiter:
    """Sliding-window limits for one channel, within one process.

    `wait(chat_id)` says how long to wait before the next send to that chat; `record(chat_id)` counts a send.
    """

    def __init__(self, limits: Iterable[Limit], clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = tuple(limits)
        self.clock = clock
        self._sent: dict[tuple[int, str], collections.deque[float]] = {}

    @classmethod
    def for_channel(cls, channel: str, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        return cls(CHANNEL_LIMITS.get(channel, ()), clock)

    def _window(self, index: int, limit: Limit, chat_id: str) -> collections.deque[float]:
        key = (index, chat_id if limit.per_chat else "")
        q = self._sent.get(key)
        if q is None:
            q = self._sent[key] = collections.deque()
        now = self.clock()
        while q and q[0] <= now - limit.period:
            q.popleft()
        return q

    def wait(self, chat_id: str) -> float:
        """Seconds until a send to `chat_id` is within every limit (0 when it may go now)."""
        now = self.clock()
        longest = 0.0
        for i, limit in enumerate(self.limits):
            q = self._window(i, limit, chat_id)
            if len(q) >= limit.count:
                longest = max(longest, q[len(q) - limit.count] + limit.period - now)
        return max(0.0, longest)

    def record(self, chat_id: str) -> None:
        now = self.clock()
        for i, limit in enumerate(self.limits):
            self._window(i, limit, chat_id).append(now)
        # Forget idle chats so that a long-running process does not keep one deque per chat ever seen.
        if len(self._sent) > 10000:
            for key in [k for k, q in self._sent.items() if not q]:
                del self._sent[key]


# Replies are not paced here on Telegram: a private chat takes a reply of several messages at once, and
# python-telegram-bot's AIORateLimiter in the channel keeps the overall and group limits (its 429s become
# RetryLater). WeCom drops what exceeds 30 a minute to one member, so replies count there like everything else.
REPLIES_UNPACED = frozenset({"telegram"})


def is_final(status: str) -> bool:
    return status in (OUT_SENT, OUT_FAILED)
