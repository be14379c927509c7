"""The inbox worker of one `duban serve` process: stores what the channels receive, and works through it.

- `accept` stores a channel's updates in one committed transaction and only then returns, so the channel
  acknowledges an update to its platform only once it is safe. In the same transaction it takes the lease of
  each idle chat it stored for, and starts that chat's loop at once: the usual message waits for nothing.
- A chat's loop handles the chat's pending rows in order, one at a time: the channel `prepare`s the row (media
  downloads), the engine handles it in one transaction that marks the row handled and queues the replies in
  the outbox already claimed by this process, and the sender delivers them at once (`deliver_now`). A reply
  that cannot go out stays in the outbox, where the sender retries it, in order, after any crash or outage.
  When the chat has nothing left the lease is given back (unless something arrived meanwhile).
- A sweep takes the chats nobody alive works on: at start-up (what was pending when the last process died),
  every `SWEEP_SECONDS`, and on PostgreSQL the chats of processes that stopped beating.
- The heartbeat (`worker` table) says this process is alive. On SQLite one process works the database: the
  process holding the file's worker lock (an flock, gone with its process) declares every earlier worker dead at
  start and takes their claims over at once.
- `stop` stops taking new chats, lets each chat finish the message in hand (up to the grace), gives the leases
  back and leaves; what is still pending is handled at the next start or by another process.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import fcntl
import functools
import logging
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeVar

from sqlalchemy.orm import Session

from bot.app import App
from config.clock import wall_utcnow
from core import metrics
from core.channel import Channel
from core.inbox import Prepared, Preparer, Row, Stored, Update
from core.messages import Reply
from db.repositories import inbox
from db.repositories import outbox as outbox_repo
from handlers import texts
from scheduler.sender import Claimed, OutboxSender

log = logging.getLogger(__name__)

T = TypeVar("T")

SWEEP_SECONDS = 2.0
BEAT_SECONDS = 5.0
BATCH = 20  # rows read per round of a chat's loop

Chat = tuple[str, str]  # (channel, chat_id)


class InboxWorker:
    """Stores incoming updates and handles them, one chat at a time, in order.

    Args:
        app: the assembled application.
        sender: delivers the replies (the outbox sender of this process; its worker id is this worker's).
        max_concurrent: messages handled at once over all chats.
    """

    def __init__(self, app: App, sender: OutboxSender, max_concurrent: int | None = None) -> None:
        self.app = app
        self.sender = sender
        self.worker_id = sender.worker_id
        self.timeout = dt.timedelta(seconds=app.settings.worker_timeout_seconds)
        self.sources: dict[str, Preparer] = {}
        if max_concurrent is None:
            # SQLite has one writer at a time: more messages in hand only queue for its lock, and lengthen the
            # moment between a reply going out and its being recorded as sent (a crash there sends it twice).
            max_concurrent = 16 if self.postgres else 4
        self._slots = asyncio.Semaphore(max_concurrent)
        # Threads of their own: storing (which the platform waits on for its acknowledgement) and the heartbeat
        # must never queue behind handling or a slow platform call in asyncio's shared pool.
        self._intake = ThreadPoolExecutor(max_workers=2, thread_name_prefix="duban-intake")
        self._handling = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="duban-handle")
        self._active: dict[Chat, asyncio.Task[None]] = {}
        self._kicks: collections.Counter[Hashable] = collections.Counter()
        self._stopping = False
        self._wake = asyncio.Event()
        self._background: asyncio.Task[None] | None = None
        self._lock_file: IO[str] | None = None
        # A beat well inside the timeout: a live process is never taken for dead between two beats.
        self.beat_seconds = min(BEAT_SECONDS, app.settings.worker_timeout_seconds / 4)
        self.handled: collections.Counter[str] = collections.Counter()  # rows handled here, per channel
        self._sending: set[asyncio.Task[None]] = set()  # replies of messages handled as they arrived, going out

    @property
    def postgres(self) -> bool:
        return self.app.db.dialect.name == "postgresql"

    def add(self, source: Preparer) -> None:
        """A channel whose updates this worker handles."""
        self.sources[source.name] = source

    # ---- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.sender.attach_loop()
        await asyncio.to_thread(self._register)
        self._background = asyncio.create_task(self._beat_and_sweep(), name="duban-inbox-sweep")

    def _register(self) -> None:
        sole = not self.postgres and self._take_sqlite_lock()
        with self.app.session_factory() as s, s.begin():
            if sole:
                gone = inbox.forget_others(s, self.worker_id)
                if gone:
                    log.info("taking over the inbox of %d earlier process(es)", gone)
            inbox.beat(s, self.worker_id, wall_utcnow())

    def _take_sqlite_lock(self) -> bool:
        """Whether this is the only worker on the SQLite file: it holds the file's worker lock. The kernel lets
        go of the lock when its process ends, however it ends, so a restart after a kill takes over at once,
        while a second process on the same file (or a stop still finishing) is never taken for dead."""
        path = self.app.db.url.database
        if not path or path == ":memory:":
            return False
        self._lock_file = open(f"{path}.workers.lock", "a")  # noqa: SIM115 (held open for the worker's life)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log.warning("another duban process works %s; its chats stay its own until it stops beating", path)
            self._lock_file.close()
            self._lock_file = None
            return False
        return True

    async def stop(self, grace: float) -> None:
        """Finish the message each chat has in hand (up to `grace` seconds), then give the chats back."""
        self._stopping = True
        self._wake.set()
        if self._background is not None:
            self._background.cancel()
        tasks = [*self._active.values(), *self._sending]
        if tasks:
            done, running = await asyncio.wait(tasks, timeout=grace)
            if running:
                log.warning("%d chats still busy after %.1fs; stopping them", len(running), grace)
                for task in running:
                    task.cancel()
                await asyncio.gather(*running, return_exceptions=True)
        try:
            await asyncio.to_thread(self._leave)
        except Exception:
            log.exception("could not give the inbox chats back (they are taken over once this process is silent)")
        if self._lock_file is not None:
            self._lock_file.close()  # and with it the lock
            self._lock_file = None
        for pool in (self._intake, self._handling):
            pool.shutdown(wait=False)

    @staticmethod
    async def _in(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, functools.partial(fn, *args))

    def _leave(self) -> None:
        with self.app.session_factory() as s, s.begin():
            inbox.leave(s, self.worker_id)

    # ---- storing ------------------------------------------------------------------------------------------

    async def accept(
        self, channel: str, updates: Sequence[Update], ready: Sequence[Prepared | None] | None = None
    ) -> list[Stored]:
        """Store `updates` of `channel`, committed, and start work on them. Raises when they were not stored:
        the channel must then not acknowledge them.

        `ready`: each update's message when the channel could make it without calling its platform. Such a message
        of a bound user in a free chat is handled in the transaction that stores it (one commit for storing,
        handling and queueing the replies), and its replies are sent right after the commit.
        """
        if not updates:
            return []
        answered: list[tuple[Chat, list[tuple[Row, Prepared, list[Claimed]]]]] = []
        at_once = None
        if ready is not None and any(r is not None for r in ready) and not self._stopping:
            try:
                at_once = await self._in(self._intake, self._store_and_handle, channel, list(updates), list(ready))
            except Exception:
                # Nothing of the batch was committed: store it the usual way; the chat loops handle it.
                log.exception("%s: handling %d updates as they arrived failed; queueing them", channel, len(updates))
        if at_once is not None:
            stored, claimed, answered = at_once
        else:
            stored, claimed = await self._in(self._intake, self._store, channel, list(updates))
        for s in stored:
            if not s.new:
                metrics.INBOX_DUPLICATES.labels(channel).inc()
            elif s.skipped:
                metrics.INBOX_SKIPPED.labels(channel).inc()
                log.info(
                    "%s: chat %s is an unbound user with a full queue; message %s kept unhandled",
                    channel,
                    s.chat_id,
                    s.message_id,
                )
            else:
                metrics.INBOX_STORED.labels(channel).inc()
        for chat, rows in claimed.items():
            self._run(chat, rows)
        for chat, done in answered:
            self._send_answers(chat, done)
        return stored

    def _store_and_handle(
        self, channel: str, updates: list[Update], ready: list[Prepared | None]
    ) -> tuple[list[Stored], dict[Chat, list[Row]], list[tuple[Chat, list[tuple[Row, Prepared, list[Claimed]]]]]]:
        """One transaction: each update whose message is ready, of a user known to be bound, in a chat that is
        free, is stored handled with its replies queued; the others are stored as usual. Raises (and nothing is
        committed) when a handling fails: the caller then stores them all the usual way."""
        engine = self.app.engine
        wall = wall_utcnow()
        stored: list[Stored] = []
        queued: list[Stored] = []  # stored pending, for the chats' loops
        answered: dict[Chat, list[tuple[Row, Prepared, list[Claimed]]]] = {}
        queued_chats: set[str] = set()  # chats with an update stored pending in this batch: the rest follow it
        waiting: dict[str, bool | None] = {}  # per chat: None not free; else whether replies wait before ours
        bound = self._bound(channel, updates)
        with self.app.session_factory() as s, s.begin():
            for up, prepared in zip(updates, ready, strict=True):
                fast = prepared is not None and up.chat_id not in queued_chats and bound.get(up.user_id, False)
                if fast and up.chat_id not in waiting:
                    waiting[up.chat_id] = inbox.free_chat(s, channel, up.chat_id, wall, tuple(self.sender.delivered))
                behind = waiting.get(up.chat_id)
                if not fast or behind is None or prepared is None:
                    queued_chats.add(up.chat_id)
                    queued += inbox.store(s, channel, [up], wall, self.app.settings.stranger_queue_cap, bound)
                    stored.append(queued[-1])
                    continue
                row_id = inbox.store_handled(s, channel, up, wall)
                if row_id is None:
                    stored.append(Stored(up.message_id, up.chat_id, False, False))
                    continue
                row = Row(row_id, channel, up.message_id, up.chat_id, up.user_id, up.payload, wall, 0)
                claimer = None if behind else self.worker_id
                # The chat's next messages in this batch follow these replies the same way: claimed, they go out
                # after them in the chat's one delivery (`_deliver_answers`); unclaimed, behind them in the outbox.
                replies = engine.answer_stored(s, row, prepared.msg, prepared.replies, claimer, self.app.clock.utcnow())
                stored.append(Stored(up.message_id, up.chat_id, True, False))
                answered.setdefault((channel, up.chat_id), []).append((row, prepared, replies))
            return stored, self._take(s, channel, queued, wall), list(answered.items())

    def _bound(self, channel: str, updates: list[Update]) -> dict[str, bool]:
        """The senders of `updates` the engine knows to be bound (they are never a stranger's flood)."""
        known = self.app.engine.known_users
        return {up.user_id: True for up in updates if known.get((channel, up.user_id))}

    def _send_answers(self, chat: Chat, answered: list[tuple[Row, Prepared, list[Claimed]]]) -> None:
        """Send the replies of messages handled as they arrived, in order, after the commit."""
        for row, _, _ in answered:
            self.handled[row.channel] += 1
            metrics.INBOX_HANDLED.labels(row.channel).inc()
            metrics.HANDLING_SECONDS.labels(row.channel).observe(
                max(0.0, (wall_utcnow() - row.received_at).total_seconds())
            )
        task = asyncio.create_task(self._deliver_answers(answered), name=f"duban-answer-{chat[0]}-{chat[1]}")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver_answers(self, answered: list[tuple[Row, Prepared, list[Claimed]]]) -> None:
        """The replies of one chat's messages, in order: once one has to wait, the rest wait behind it."""
        for row, prepared, replies in answered:
            try:
                if prepared.after is not None and replies:
                    await prepared.after([r.text for r in replies])
            except Exception:
                log.exception("%s: after handling inbox row %s", row.channel, row.id)
        replies = [r for _, _, rs in answered for r in rs]
        if replies:
            await self.sender.deliver_now(replies)
        else:
            self.sender.wake()

    def _store(self, channel: str, updates: list[Update]) -> tuple[list[Stored], dict[Chat, list[Row]]]:
        """Store, and take the chats that are free; with each chat taken, its first rows to handle (read in the
        same transaction: the usual message needs no read of its own)."""
        settings = self.app.settings
        wall = wall_utcnow()
        with self.app.session_factory() as s, s.begin():
            stored = inbox.store(s, channel, updates, wall, settings.stranger_queue_cap, self._bound(channel, updates))
            return stored, self._take(s, channel, stored, wall)

    def _take(self, s: Session, channel: str, stored: list[Stored], wall: dt.datetime) -> dict[Chat, list[Row]]:
        """The chats of the rows just stored pending that are free, taken; with each, its first rows to handle."""
        claimed: dict[Chat, list[Row]] = {}
        if not self._stopping:
            for chat_id in dict.fromkeys(x.chat_id for x in stored if x.new and not x.skipped):
                if inbox.try_claim(s, channel, chat_id, self.worker_id, wall, self.timeout):
                    claimed[(channel, chat_id)] = inbox.pending(s, channel, chat_id, BATCH)
        return claimed

    # ---- working ------------------------------------------------------------------------------------------

    def _run(self, chat: Chat, rows: list[Row] | None = None) -> None:
        """Make sure the loop of a chat whose lease we hold is running (`rows`: its first rows, if read)."""
        self._kicks[chat] += 1
        task = self._active.get(chat)
        if task is not None and not task.done():
            return  # the running loop reads the chat's rows itself
        task = asyncio.create_task(self._work(chat, rows), name=f"duban-inbox-{chat[0]}-{chat[1]}")
        self._active[chat] = task

    async def _work(self, chat: Chat, first: list[Row] | None = None) -> None:
        channel, chat_id = chat
        if channel not in self.sources:  # not claimed that way; a process without the channel lets it go
            await self._in(self._handling, self._let_go, channel, chat_id)
            return
        try:
            while not self._stopping:
                if first:
                    rows, first = first, None
                else:
                    rows = await self._in(self._handling, self._pending, channel, chat_id)
                if not rows:
                    kicks = self._kicks[chat]
                    released = await self._in(self._handling, self._release, channel, chat_id)
                    if released and self._kicks[chat] == kicks:
                        return
                    continue  # more arrived, or `accept` took the chat again for us meanwhile
                for row in rows:
                    if self._stopping:
                        return
                    async with self._slots:
                        await self._one(row)
        except Exception:
            # The lease stays ours; the sweep restarts this chat's loop.
            log.exception("inbox: the loop of %s:%s failed", channel, chat_id)
        finally:
            if self._active.get(chat) is asyncio.current_task():
                del self._active[chat]

    def _pending(self, channel: str, chat_id: str) -> list[Row]:
        with self.app.session_factory() as s:
            return inbox.pending(s, channel, chat_id, BATCH)

    def _let_go(self, channel: str, chat_id: str) -> None:
        with self.app.session_factory() as s, s.begin():
            inbox.let_go(s, channel, chat_id, self.worker_id)

    def _release(self, channel: str, chat_id: str) -> bool:
        with self.app.session_factory() as s, s.begin():
            return inbox.release(s, channel, chat_id, self.worker_id)

    async def _one(self, row: Row) -> None:
        source = self.sources[row.channel]
        try:
            prepared = await source.prepare(row)
        except Exception:
            log.exception("%s: could not prepare inbox row %s", row.channel, row.id)
            metrics.INBOX_FAILED.labels(row.channel).inc()
            prepared = Prepared(None, [Reply(texts.INTERNAL_ERROR)])
        replies, ok = await self._in(
            self._handling, self.app.engine.handle_stored, row, prepared.msg, prepared.replies, self.worker_id
        )
        metrics.INBOX_HANDLED.labels(row.channel).inc()
        metrics.HANDLING_SECONDS.labels(row.channel).observe(
            max(0.0, (wall_utcnow() - row.received_at).total_seconds())
        )
        if not ok:
            metrics.INBOX_FAILED.labels(row.channel).inc()
        if prepared.after is not None and ok and replies:
            try:
                await prepared.after([r.text for r in replies])
            except Exception:
                log.exception("%s: after handling inbox row %s", row.channel, row.id)
        if replies:
            await self.sender.deliver_now(replies)
        else:
            self.sender.wake()  # replies queued behind earlier ones, if any
        self.handled[row.channel] += 1

    # ---- background ---------------------------------------------------------------------------------------

    async def _beat_and_sweep(self) -> None:
        last_beat = 0.0
        while not self._stopping:
            try:
                if time.monotonic() - last_beat >= self.beat_seconds:
                    await self._in(self._intake, self._beat)
                    last_beat = time.monotonic()
                for chat in await self._in(self._intake, self._sweep):
                    self._run(chat)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inbox sweep failed")
            try:
                await asyncio.wait_for(self._wake.wait(), min(SWEEP_SECONDS, self.beat_seconds))
            except TimeoutError:
                pass
            self._wake.clear()

    def _beat(self) -> None:
        with self.app.session_factory() as s, s.begin():
            inbox.beat(s, self.worker_id, wall_utcnow())

    def _sweep(self) -> list[Chat]:
        if not self.sources or self._stopping:
            return []
        with self.app.session_factory() as s, s.begin():
            return inbox.claim_chats(
                s,
                self.worker_id,
                wall_utcnow(),
                self.timeout,
                channels=list(self.sources),
                limit=100,
                exclude=[c for c, t in self._active.items() if not t.done()],
            )

    # ---- inspection (tests, /healthz) ---------------------------------------------------------------------

    @property
    def busy_chats(self) -> int:
        return sum(1 for t in self._active.values() if not t.done()) + len(self._sending)

    async def idle(self, timeout: float = 10.0) -> bool:
        """Wait until no chat loop runs and no reply waits in the outbox (tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.busy_chats or await asyncio.to_thread(self._replies_waiting):
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def _replies_waiting(self) -> bool:
        with self.app.session_factory() as s:
            return outbox_repo.replies_waiting(s, list(self.sources))


class Pipeline:
    """The inbox worker and the outbox sender of one process, set up for `channels` (serve, tests, benchmarks).

    Create it before the channels start (they find the inbox on `app.inbox`), `start` it after them, and `stop`
    it before them (the worker still sends through them while it finishes).
    """

    def __init__(self, app: App, channels: Sequence[Channel]) -> None:
        self.app = app
        self.sender = OutboxSender(app, {c.name: c for c in channels})
        self.worker = InboxWorker(app, self.sender)
        app.inbox = self.worker
        self._stop_sending = asyncio.Event()
        self._sender_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.worker.start()
        self._sender_task = asyncio.create_task(self.sender.run(self._stop_sending), name="duban-outbox-sender")

    async def stop(self, grace: float) -> None:
        """Let each chat finish its message in hand (up to `grace` seconds), then stop sending."""
        await self.worker.stop(grace)
        self._stop_sending.set()
        self.sender.wake()
        if self._sender_task is not None:
            try:
                await asyncio.wait_for(self._sender_task, 1.0)
            except (TimeoutError, asyncio.CancelledError):
                pass  # a send in flight: its row stays claimed and is taken over once this process is gone
            self._sender_task = None
        self.app.inbox = None
