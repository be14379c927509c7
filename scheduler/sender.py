"""The outbox sender: claims due rows and delivers them through the channels, with retries and rate limits.

A row is marked sent only after the channel's `send()` returned, in its own transaction right after.
`RetryLater` (Telegram 429, WeCom 45009, an outage the channel recognises) puts the row back after the
seconds asked for, without counting a failed attempt; `PermanentFailure` (blocked, unknown chat) marks it
failed; any other error is retried with exponential backoff up to `max_attempts`. Nothing is sent in quiet
hours. Database work runs in a thread so that the event loop (webhooks, other channels) never waits on it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.clock import wall_utcnow
from core import metrics
from core.channel import PermanentFailure, RetryLater
from core.messages import Choice, OutAttachment, Reply
from db.models import REPLY, Outbox
from db.repositories import inbox
from scheduler import outbox
from scheduler.calendar import QuietHours

if TYPE_CHECKING:
    from core.channel import Channel
    from core.channel import Runtime as App

log = logging.getLogger(__name__)

# Waits shorter than this are slept through (Telegram's 1/s per chat); longer ones put the row back.
MAX_LOCAL_WAIT = 2.0
SEND_TIMEOUT = 60.0
WAKE_WITHIN = 120.0  # a row put back for at most this long wakes the sender when it is due (not at a tick)


def new_worker_id() -> str:
    """Unique per process and start, so a restarted process never mistakes its predecessor's claims for its own."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Claimed:
    """A claimed row, detached from its session (sending happens outside any transaction)."""

    id: int
    kind: str
    channel: str
    chat_id: str
    text: str
    payload: dict[str, Any]
    attempts: int
    claimed_at: dt.datetime

    @classmethod
    def of(cls, row: Outbox) -> Claimed:
        assert row.claimed_at is not None
        return cls(
            row.id, row.kind, row.channel, row.chat_id, row.text, dict(row.payload or {}), row.attempts, row.claimed_at
        )


@dataclass
class SendStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


def reply_of(row: Claimed) -> Reply:
    """The Reply a row stands for: its text plus the payload's markdown, choices and (existing) attachments."""
    p = row.payload
    if "reply" in p:  # an answer to an incoming message: the engine's Reply as it was
        reply = Reply.from_json(p["reply"])
        kept = [a for a in reply.attachments if Path(a.path).exists()]
        if len(kept) < len(reply.attachments):
            log.warning("outbox row %s: an attachment is gone, sending the rest", row.id)
        return replace(reply, attachments=kept)
    attachments: list[OutAttachment] = []
    for kind, path, name in p.get("attachments", []):
        if Path(path).exists():
            attachments.append(OutAttachment(kind, path, name))
        else:
            log.warning("outbox row %s: attachment %s is gone, sending the text without it", row.id, path)
    return Reply(
        text=row.text,
        choices=[Choice(label, value) for label, value in p.get("choices", [])],
        attachments=attachments,
        markdown=p.get("markdown"),
    )


class OutboxSender:
    """Delivers outbox rows through `channels` (keyed by channel name, e.g. "telegram", "wecom", "console").

    Args:
        app: the assembled application (session factory, clock, settings).
        channels: the channels this process can send through; rows for other channels are left to others.
        worker_id: this sender's claim name; unique per process by default.
        batch_size: rows claimed at once.
        max_attempts: counted failures before a row is marked failed.
        lease: after this long a claim is considered abandoned and the row is handed out again.
        sleep: the coroutine used to wait (tests pass a fake).
        monotonic: the clock of the rate limiters (tests pass a fake).
    """

    def __init__(
        self,
        app: App,
        channels: dict[str, Channel],
        worker_id: str | None = None,
        batch_size: int = 50,
        max_attempts: int = outbox.DEFAULT_MAX_ATTEMPTS,
        lease: dt.timedelta = outbox.DEFAULT_LEASE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.channels = dict(channels)
        self.worker_id = worker_id or new_worker_id()
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.lease = lease
        self.sleep = sleep
        self.limiters = {name: outbox.RateLimiter.for_channel(name, monotonic) for name in self.channels}
        self.quiet = QuietHours(app.settings.quiet_hours)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unconfirmed: list[tuple[int, asyncio.Future[bool]]] = []
        self._confirming: asyncio.Task[None] | None = None
        self.delivered: set[int] = set()  # sent, the confirmation not written yet
        self.confirm_commits = 0  # transactions that recorded deliveries (tests, benchmarks)

    # ---- database steps (run in a worker thread) ----------------------------------------------------------

    def _claim(self, now: dt.datetime, kinds: list[str] | None = None) -> list[Claimed]:
        wall = wall_utcnow()
        with self.app.session_factory() as s, s.begin():
            inbox.beat(s, self.worker_id, wall)
            rows = outbox.claim(
                s,
                self.worker_id,
                now,
                self.batch_size,
                channels=list(self.channels),
                lease=self.lease,
                kinds=kinds,
                wall_now=wall,
                worker_timeout=dt.timedelta(seconds=self.app.settings.worker_timeout_seconds),
            )
            return [Claimed.of(r) for r in rows]

    def _sent(self, rows: list[int]) -> set[int]:
        with self.app.session_factory() as s, s.begin():
            return outbox.mark_sent_many(s, rows, self.worker_id, self.app.clock.utcnow())

    async def _confirm(self, row: Claimed) -> bool:
        """Record that `row` went out. Confirmations are written together (group commit): the first one starts a
        transaction at once, those arriving meanwhile wait for the next; each caller waits for its own, so a
        chat's next reply still goes out only after the previous one is recorded. False when the row's claim had
        been taken over."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._unconfirmed.append((row.id, done))
        self.delivered.add(row.id)
        if self._confirming is None or self._confirming.done():
            self._confirming = asyncio.create_task(self._write_confirmations(), name="duban-outbox-confirm")
        return await done

    async def _write_confirmations(self) -> None:
        while self._unconfirmed:
            batch, self._unconfirmed = self._unconfirmed, []
            ids = [i for i, _ in batch]
            try:
                mine = await asyncio.to_thread(self._sent, ids)
            except Exception as exc:
                log.exception("could not record %d sent replies (their claims are taken over later)", len(ids))
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                mine = set()
            else:
                for i, fut in batch:
                    if not fut.done():
                        fut.set_result(i in mine)
            self.delivered.difference_update(ids)
            self.confirm_commits += 1

    def _retry(self, row: Claimed, error: str, delay: float | None, count: bool) -> str:
        """Put a row back for later (see `outbox.mark_retry`); the sender is woken when it is due again soon."""
        status = self._put_back(row, error, delay, count)
        wait = delay if delay is not None else outbox.retry_delay(row.kind, row.attempts + (1 if count else 0))
        if status == "pending" and wait <= WAKE_WITHIN and self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.call_later, wait + 0.01, self.wake)
        return status

    def _put_back(self, row: Claimed, error: str, delay: float | None, count: bool) -> str:
        with self.app.session_factory() as s, s.begin():
            current = s.get(Outbox, row.id)
            if current is None:
                return ""
            return outbox.mark_retry(
                s,
                current,
                self.worker_id,
                self.app.clock.utcnow(),
                error,
                delay=delay,
                count_attempt=count,
                max_attempts=self.max_attempts,
            )

    def _failed(self, row: Claimed, error: str) -> bool:
        with self.app.session_factory() as s, s.begin():
            current = s.get(Outbox, row.id)
            return current is not None and outbox.mark_failed(
                s, current, self.worker_id, self.app.clock.utcnow(), error
            )

    # ---- delivery -----------------------------------------------------------------------------------------

    def in_quiet_hours(self) -> bool:
        return self.quiet.contains(self.app.clock.now())

    async def run_once(self, now: dt.datetime | None = None) -> SendStats:
        """Claim one batch of due rows and deliver it.

        Args:
            now: naive UTC instant to claim at (default: the clock's now). `duban tick --at` passes its moment.
        """
        stats = SendStats()
        if not self.channels:
            return stats
        kinds: list[str] | None = None
        if now is None:
            if self.in_quiet_hours():
                kinds = [REPLY]  # someone wrote and waits for the answer; nudges wait for the morning
            now = self.app.clock.utcnow()
        rows = await asyncio.to_thread(self._claim, now, kinds)
        stats.claimed = len(rows)
        # A channel that asked us to wait (429) or failed is not tried again in this batch.
        held: dict[str, tuple[float | None, str]] = {}
        started = time.monotonic()
        chats: dict[tuple[str, str], list[Claimed]] = {}
        for row in rows:
            chats.setdefault((row.channel, row.chat_id), []).append(row)

        async def one_chat(queue: list[Claimed]) -> None:
            for row in queue:  # a chat's rows in order; the chats side by side
                if time.monotonic() - started > self.lease.total_seconds() / 2:
                    # Our claim is ageing: hand the rest back rather than risk another worker taking them over.
                    await asyncio.to_thread(self._retry, row, "claim released", 0.0, False)
                    stats.deferred += 1
                    continue
                hold = held.get(row.channel) or held.get(f"{row.channel}:{row.chat_id}")
                if hold is not None:
                    delay, reason = hold
                    await asyncio.to_thread(
                        self._retry, row, reason, delay if delay is not None else outbox.retry_delay(row.kind, 1), False
                    )
                    stats.deferred += 1
                    continue
                await self._deliver(row, stats, held)

        queues = list(chats.values())
        if queues:
            # One row first: a channel that is down holds the batch after one failed attempt, not one per chat.
            first, queues[0] = queues[0][:1], queues[0][1:]
            await one_chat(first)
            await asyncio.gather(*(one_chat(queue) for queue in queues if queue))
        return stats

    async def _deliver(self, row: Claimed, stats: SendStats, held: dict[str, tuple[float | None, str]]) -> None:
        channel = self.channels[row.channel]
        limiter = self.limiters[row.channel]
        paced = not (row.kind == REPLY and row.channel in outbox.REPLIES_UNPACED)
        wait = limiter.wait(row.chat_id) if paced else 0.0
        if wait > MAX_LOCAL_WAIT:
            await asyncio.to_thread(self._retry, row, "rate limited locally", wait, False)
            held[f"{row.channel}:{row.chat_id}"] = (wait, "rate limited locally")  # the chat's next rows wait too
            stats.deferred += 1
            return
        for _ in range(5):  # other chats' rows go out meanwhile: look again after the wait (a few times at most)
            if wait <= 0:
                break
            await self.sleep(wait)
            wait = min(limiter.wait(row.chat_id), MAX_LOCAL_WAIT) if paced else 0.0
        if paced:
            limiter.record(row.chat_id)
        try:
            await asyncio.wait_for(channel.send(row.chat_id, reply_of(row)), SEND_TIMEOUT)
        except RetryLater as exc:
            log.info("outbox %s: %s asked to retry after %.0fs", row.id, row.channel, exc.seconds)
            held[row.channel] = (exc.seconds, f"retry later: {exc}")
            await asyncio.to_thread(self._retry, row, f"retry later: {exc}", exc.seconds, False)
            stats.retried += 1
            metrics.OUTBOX_RETRIED.labels(row.channel).inc()
            return
        except PermanentFailure as exc:
            log.warning("outbox %s to %s:%s failed for good: %s", row.id, row.channel, row.chat_id, exc)
            await asyncio.to_thread(self._failed, row, f"permanent: {exc}")
            stats.failed += 1
            metrics.OUTBOX_FAILED.labels(row.channel).inc()
            return
        except Exception as exc:  # any other error: the platform or network may recover
            error = f"{type(exc).__name__}: {exc}"
            log.warning("outbox %s to %s failed (attempt %d): %s", row.id, row.channel, row.attempts + 1, error)
            status = await asyncio.to_thread(self._retry, row, error, None, True)
            held[row.channel] = (None, error)
            stats.errors.append(error)
            if status == "failed":
                stats.failed += 1
                metrics.OUTBOX_FAILED.labels(row.channel).inc()
            else:
                stats.retried += 1
                metrics.OUTBOX_RETRIED.labels(row.channel).inc()
            return
        if not await self._confirm(row):
            log.warning("outbox %s was sent but its claim had been taken over", row.id)
        stats.sent += 1
        metrics.OUTBOX_SENT.labels(row.channel, row.kind).inc()

    async def deliver_now(self, rows: list[Claimed]) -> SendStats:
        """Send rows this worker queued already claimed (the replies to a message it just handled), in order.

        What cannot go out now is put back for the background sender, which keeps each chat's replies in order.
        """
        stats = SendStats(claimed=len(rows))
        held: dict[str, tuple[float | None, str]] = {}
        for row in rows:
            if held:  # one chat's replies: once one has to wait, the rest wait behind it
                await asyncio.to_thread(self._retry, row, "after an earlier reply", 0.0, False)
                stats.deferred += 1
            else:
                await self._deliver(row, stats, held)
        if stats.sent < stats.claimed:
            self.wake()
        return stats

    async def drain(self, now: dt.datetime | None = None, max_batches: int = 100) -> SendStats:
        """Deliver batches until nothing due is left (or a batch makes no progress)."""
        total = SendStats()
        for _ in range(max_batches):
            s = await self.run_once(now)
            for f in ("claimed", "sent", "retried", "failed", "deferred"):
                setattr(total, f, getattr(total, f) + getattr(s, f))
            total.errors += s.errors
            if s.claimed == 0 or s.sent == 0:
                break
        return total

    def wake(self) -> None:
        """Deliver now instead of at the next interval (after a job queued rows)."""
        self._wake.set()

    def attach_loop(self) -> None:
        """Remember the running event loop, so that a row put back from a worker thread can wake the sender."""
        self._loop = asyncio.get_running_loop()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, every `sender_interval_seconds` or when woken."""
        interval = max(0.01, float(self.app.settings.sender_interval_seconds))
        self.attach_loop()
        while not stop.is_set():
            try:
                stats = await self.run_once()
                busy = stats.sent > 0  # more may be due right away (the next reply of a chat, a full batch)
            except Exception:
                log.exception("outbox sender round failed")
                busy = False
            if busy:
                continue  # more may be due right away
            self._wake.clear()
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({stopper, waker}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (stopper, waker):
                    t.cancel()
