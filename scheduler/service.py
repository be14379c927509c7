"""The scheduler inside `duban serve`: APScheduler runs the due jobs, and the outbox sender delivers.

Every few minutes (and at the configured weekly times) the service plans what is due at the clock's "now" and
queues it; the plan is idempotent (dedupe keys and reminder_log), so an extra or repeated run does nothing.
With several processes on one PostgreSQL database, only the holder of a PostgreSQL advisory lock plans; the
lock lives on a dedicated connection, so it goes when its process dies, and the others retry taking it every
`LEADER_RETRY_SECONDS`. Every process runs a sender (claims are safe across processes). On SQLite one process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import zlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, text

from db.engine import transaction
from db.repositories import plans, progress
from scheduler import housekeeping, jobs
from scheduler.calendar import CalendarRangeError
from scheduler.messages import queue
from scheduler.sender import OutboxSender
from scheduler.weekly import parse_weekly

if TYPE_CHECKING:
    from core.channel import Channel
    from core.channel import Runtime as App

log = logging.getLogger(__name__)

TICK_MINUTES = 5
LEADER_RETRY_SECONDS = 30
STOP_WAIT = 1.0  # seconds a stop waits for a job run or a send in flight (a run is idempotent: redone next start)
# One 64-bit advisory lock key for "the duban scheduler"; any constant works as long as it is shared.
LOCK_KEY = zlib.crc32(b"duban.scheduler") + (0x6475 << 32)


class LeaderLock:
    """Leadership among processes sharing a database. On SQLite there is one process: always the leader."""

    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self.conn: Connection | None = None
        self.postgres = engine.dialect.name == "postgresql"
        # acquire() runs in worker threads (the leader job and a job run may overlap): one at a time.
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self.conn is not None if self.postgres else True

    def acquire(self) -> bool:
        """Take (or confirm) leadership; False when another process holds it. Never blocks on the lock."""
        if not self.postgres:
            return True
        with self._mutex:
            return self._acquire()

    def _acquire(self) -> bool:
        if self.conn is not None:
            try:
                self.conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("lost the scheduler lock connection; trying to take the lock again")
                self._drop()
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self.conn = conn
        log.info("this process now runs the scheduler jobs")
        return True

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.invalidate()  # the server ends the session and with it the lock
            except Exception:
                pass
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def release(self) -> None:
        with self._mutex:
            if self.conn is not None:
                try:
                    self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                except Exception:
                    pass
                self._drop()


def run_due(app: App, now: dt.datetime | None = None) -> int:
    """Plan and queue everything due at `now` (default the clock's now). Returns the rows queued."""
    from scheduler.commands import digest_files_dir

    now = now or app.clock.now()
    with transaction(app.session_factory) as s:
        plan = plans.active_plan(s)
        if plan is None:
            return 0
        with progress.gc_paused():  # the views, decisions and lines of a whole plan: none in a reference cycle
            messages = jobs.due_messages(s, plan, now, app.settings, files_dir=digest_files_dir(app))
        created = queue(s, messages, now.astimezone(dt.UTC).replace(tzinfo=None))
    if created:
        log.info("queued %d proactive messages", len(created))
    return len(created)


class SchedulerService:
    """The jobs and the sender of one `duban serve` process.

    Args:
        app: the assembled application.
        channels: the started channels by name; rows for these are delivered by this process.
        sender: the process's running outbox sender, woken when a run queued messages; without one the service
            runs its own.
    """

    def __init__(self, app: App, channels: dict[str, Channel], sender: OutboxSender | None = None) -> None:
        self.app = app
        self.channels = channels
        self.own_sender = sender is None
        self.sender = sender or OutboxSender(app, channels)
        self.lock = LeaderLock(app.db)
        self.scheduler: Any = None
        self._stop = asyncio.Event()
        self._sender_task: asyncio.Task[None] | None = None
        self._run_lock = asyncio.Lock()
        self._initial: asyncio.Task[int] | None = None
        self.runs = 0  # completed job runs (for tests and /healthz)

    async def start(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        s = self.app.settings
        # Validate the schedule now, so a typo stops `serve` at start rather than failing every tick.
        prompt_day, prompt_at = parse_weekly(s.weekly_prompt)
        digest_day, digest_at = parse_weekly(s.weekly_digest)
        self.scheduler = AsyncIOScheduler(timezone=s.timezone)
        common = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}
        self.scheduler.add_job(
            self.run_jobs, CronTrigger(minute=f"*/{TICK_MINUTES}", timezone=s.timezone), id="tick", **common
        )
        days = "mon,tue,wed,thu,fri,sat,sun".split(",")
        for job_id, day, at in (("weekly_prompt", prompt_day, prompt_at), ("weekly_digest", digest_day, digest_at)):
            # A run exactly at the configured time (the 5-minute tick would also catch it, a little later).
            self.scheduler.add_job(
                self.run_jobs,
                CronTrigger(day_of_week=days[day], hour=at.hour, minute=at.minute, timezone=s.timezone),
                id=job_id,
                **common,
            )
        self.scheduler.add_job(self._try_lead, IntervalTrigger(seconds=LEADER_RETRY_SECONDS), id="leader", **common)
        # Pruning handled inbox rows and old message ids, in the small hours, by the leader only.
        self.scheduler.add_job(
            self.housekeeping, CronTrigger(hour=3, minute=17, timezone=s.timezone), id="housekeeping", **common
        )
        self.scheduler.start()
        self._stop.clear()
        if self.own_sender:
            self._sender_task = asyncio.create_task(self.sender.run(self._stop), name="duban-outbox-sender")
        # Catch up at once on what fell due while no process was running.
        self._initial = asyncio.create_task(self.run_jobs(), name="duban-scheduler-first-run")

    async def _try_lead(self) -> bool:
        try:
            return await asyncio.to_thread(self.lock.acquire)
        except Exception:
            log.exception("cannot take the scheduler lock")
            return False

    async def run_jobs(self) -> int:
        """One scheduler run, if this process leads. Safe to call at any time."""
        async with self._run_lock:
            if not await self._try_lead():
                return 0
            try:
                n = await asyncio.to_thread(run_due, self.app)
            except CalendarRangeError as exc:
                log.error("%s", exc)
                return 0
            except Exception:
                log.exception("scheduler run failed")
                return 0
            self.runs += 1
            if n:
                self.sender.wake()
            return n

    async def housekeeping(self) -> dict[str, int]:
        """Prune what is kept only for a while (see `scheduler.housekeeping`), if this process leads."""
        if not await self._try_lead():
            return {}
        try:
            return await asyncio.to_thread(housekeeping.prune_now, self.app)
        except Exception:
            log.exception("housekeeping failed")
            return {}

    async def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        self._stop.set()
        if self._initial is not None:
            try:
                # A run is idempotent: cut short, the next start does it again.
                await asyncio.wait_for(self._initial, STOP_WAIT)
            except (TimeoutError, asyncio.CancelledError):
                self._initial.cancel()
            self._initial = None
        if self._sender_task is not None:
            try:
                await asyncio.wait_for(self._sender_task, STOP_WAIT)
            except (TimeoutError, asyncio.CancelledError):
                self._sender_task.cancel()
            self._sender_task = None
        await asyncio.to_thread(self.lock.release)
