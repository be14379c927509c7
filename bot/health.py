"""`/healthz` and `/metrics` of `duban serve`.

`/healthz` tells the truth about what users depend on: it writes to the database (a probe row inserted and
deleted in one committed transaction, so the database must take a write lock and write its log), and reads how
many incoming messages wait and for how long. It answers 200 with `ok: true`, or 503 with `ok: false` and the
`problems`: the database cannot be written (or read) within a few seconds, the inbox holds more pending messages
than `health_inbox_backlog`, or the oldest pending message waits longer than `health_inbox_age_seconds`.

`/metrics` answers the Prometheus text format: the process's counters and histograms (`core.metrics.REGISTRY`)
followed by gauges read from the database at scrape time (`DepthCollector`), so every process answers the same
depths. The collector lives in a registry of its own per `install`, never in a global one: several apps in one
process (tests) each have theirs.

Database work runs in worker threads, bounded by a timeout both in the database (SQLite's busy timeout,
PostgreSQL's lock and statement timeouts) and around the thread, so a wedged database makes the probe fail,
not hang.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, delete, insert, text
from sqlalchemy.orm import Session

from config.clock import wall_utcnow
from core.channel import Channel, Runtime
from core.metrics import REGISTRY as PROCESS_REGISTRY
from db.models import OUT_FAILED, OUT_PENDING, OUT_SENDING, OUT_SENT, Worker
from db.repositories import inbox
from scheduler import outbox

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TIMEOUT = 3.0  # seconds the write probe and the reads may take
PROBE_PREFIX = "healthz:"  # worker ids of probe rows; a probe row never outlives its transaction


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:300]


# ---- database -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Depths:
    """What waits in the database at one moment."""

    inbox_pending: int
    inbox_oldest_age_seconds: float | None  # None when nothing is pending
    outbox: dict[str, int]

    @property
    def outbox_pending(self) -> int:
        """Rows still to be delivered: waiting, or being sent."""
        return self.outbox.get(OUT_PENDING, 0) + self.outbox.get(OUT_SENDING, 0)


@contextmanager
def bounded_connection(engine: Engine, timeout: float) -> Iterator[Connection]:
    """A connection whose waits for locks end after `timeout` seconds with an error.

    SQLite: the connection's busy timeout (every transaction of duban starts with BEGIN IMMEDIATE, which waits
    for the write lock), put back afterwards. PostgreSQL: lock and statement timeouts, set per transaction by
    `_limit_transaction`.
    """
    ms = max(1, int(timeout * 1000))
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            yield conn
            return
        raw: Any = conn.connection.driver_connection
        before = raw.execute("PRAGMA busy_timeout").fetchone()[0]
        raw.execute(f"PRAGMA busy_timeout={ms}")
        try:
            yield conn
        finally:
            try:
                raw.execute(f"PRAGMA busy_timeout={int(before)}")
            except Exception:
                conn.invalidate()  # never hand the pool a connection with our short timeout


def _limit_transaction(conn: Connection, timeout: float) -> None:
    if conn.dialect.name == "postgresql":
        ms = max(1, int(timeout * 1000))
        conn.execute(text(f"SET LOCAL lock_timeout = {ms}"))
        conn.execute(text(f"SET LOCAL statement_timeout = {ms}"))


def write_probe(engine: Engine, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Commit a real write: insert a probe row into `worker` and delete it in the same transaction.

    Nobody else ever sees the row (it is gone at commit), so heartbeats, leases and claims are undisturbed, yet
    the database has to grant the write lock and write (and on PostgreSQL flush) its log.

    Raises:
        Exception: whatever the database says when it cannot write within `timeout`.
    """
    probe = PROBE_PREFIX + uuid.uuid4().hex
    now = wall_utcnow()
    with bounded_connection(engine, timeout) as conn, conn.begin():
        _limit_transaction(conn, timeout)
        conn.execute(insert(Worker).values(id=probe, started_at=now, seen_at=now))
        conn.execute(delete(Worker).where(Worker.id == probe))


def read_depths(engine: Engine, timeout: float = DEFAULT_TIMEOUT) -> Depths:
    """The inbox's pending count and oldest pending age (wall clock), and the outbox's rows per status."""
    with bounded_connection(engine, timeout) as conn, Session(bind=conn) as session:
        _limit_transaction(conn, timeout)
        pending, oldest = inbox.depth(session)
        by_status = outbox.counts(session)
    age = None if oldest is None else max(0.0, (wall_utcnow() - oldest).total_seconds())
    out = {s: int(by_status.get(s, 0)) for s in (OUT_PENDING, OUT_SENDING, OUT_SENT, OUT_FAILED)}
    out.update({s: int(n) for s, n in by_status.items() if s not in out})
    return Depths(pending, age, out)


class DepthCollector(Collector):
    """Gauges read from the database when scraped: what waits in the inbox and the outbox."""

    def __init__(self, engine: Engine, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.engine = engine
        self.timeout = timeout

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families(None)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        try:
            depths: Depths | None = read_depths(self.engine, self.timeout)
        except Exception as exc:
            log.warning("metrics: cannot read the depths from the database: %s", _reason(exc))
            depths = None
        return self._families(depths, describing=False)

    @staticmethod
    def _families(depths: Depths | None, describing: bool = True) -> list[GaugeMetricFamily]:
        up = GaugeMetricFamily("duban_database_up", "1 when the database answered this scrape, else 0")
        families = [
            GaugeMetricFamily("duban_inbox_pending", "Incoming messages stored and not handled yet"),
            GaugeMetricFamily(
                "duban_inbox_oldest_age_seconds", "How long the oldest pending incoming message waits (0: none)"
            ),
            GaugeMetricFamily("duban_outbox_pending", "Outbox rows not delivered yet (pending or being sent)"),
            GaugeMetricFamily("duban_outbox_failed", "Outbox rows given up on"),
        ]
        if describing:
            return [up, *families]
        up.add_metric([], 0.0 if depths is None else 1.0)
        if depths is None:
            return [up]  # no numbers rather than wrong ones
        values = (
            depths.inbox_pending,
            depths.inbox_oldest_age_seconds or 0.0,
            depths.outbox_pending,
            depths.outbox.get(OUT_FAILED, 0),
        )
        for family, value in zip(families, values, strict=True):
            family.add_metric([], float(value))
        return [up, *families]


# ---- HTTP -----------------------------------------------------------------------------------------------------


@dataclass
class Health:
    """What the handlers need, stored on the aiohttp application under `HEALTH_KEY`."""

    app: Runtime
    channels: Sequence[Channel]
    extra: Callable[[], dict[str, Any]] | None = None
    timeout: float = DEFAULT_TIMEOUT
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)


HEALTH_KEY: web.AppKey[Health] = web.AppKey("duban_health", Health)


async def _in_thread(fn: Callable[..., T], *args: Any, timeout: float) -> T:
    # The database ends its own waits after `timeout`; this is the backstop for a connection that hangs.
    return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout + 2.0)


async def healthz(request: web.Request) -> web.Response:
    """200 `{ok: true, ...}` when the database takes writes and the inbox keeps up; else 503 with `problems`."""
    h = request.app[HEALTH_KEY]
    settings = h.app.settings
    wrote, read = await asyncio.gather(
        _in_thread(write_probe, h.app.db, h.timeout, timeout=h.timeout),
        _in_thread(read_depths, h.app.db, h.timeout, timeout=h.timeout),
        return_exceptions=True,
    )
    problems: list[str] = []
    if isinstance(wrote, BaseException):
        problems.append(f"database not writable: {_reason(wrote)}")
    body: dict[str, Any] = {"ok": False, "channels": [c.name for c in h.channels], "now": h.app.clock.now().isoformat()}
    if isinstance(read, BaseException):
        problems.append(f"database not readable: {_reason(read)}")
    else:
        depths = read
        age = depths.inbox_oldest_age_seconds
        body["inbox"] = {"pending": depths.inbox_pending, "oldest_age_seconds": None if age is None else round(age, 1)}
        body["outbox"] = dict(depths.outbox)  # rows per status: pending, sending, sent, failed
        if depths.inbox_pending > settings.health_inbox_backlog:
            problems.append(
                f"inbox backlog: {depths.inbox_pending} pending messages (more than {settings.health_inbox_backlog})"
            )
        if age is not None and age > settings.health_inbox_age_seconds:
            problems.append(
                f"inbox stalled: the oldest pending message waits {age:.0f} s "
                f"(more than {settings.health_inbox_age_seconds:.0f} s)"
            )
    if h.extra is not None:
        try:
            more = dict(h.extra())
        except Exception as exc:
            log.exception("healthz: the extra check failed")
            more = {"problems": [f"extra check failed: {_reason(exc)}"]}
        problems.extend(str(p) for p in more.pop("problems", None) or [])
        body.update({k: v for k, v in more.items() if k not in ("ok", "problems")})
    body["ok"] = not problems
    if problems:
        body["problems"] = problems
        log.warning("healthz: %s", "; ".join(problems))
    return web.json_response(body, status=200 if not problems else 503)


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text format: the process's counters, then the database gauges read now."""
    h = request.app[HEALTH_KEY]

    def render() -> bytes:
        return generate_latest(PROCESS_REGISTRY) + generate_latest(h.registry)

    body = await asyncio.to_thread(render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def install(
    web_app: web.Application,
    app: Runtime,
    channels: Sequence[Channel],
    extra: Callable[[], dict[str, Any]] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Health:
    """Register GET /healthz and GET /metrics on `web_app`.

    Args:
        app: the running app (settings, clock, database).
        channels: the channels served (their names are listed by /healthz; the list is read at each request).
        extra: called at each /healthz; its keys are added to the answer, and a `problems` list it returns makes
            the answer 503 (e.g. the inbox worker's or the scheduler's own state).
        timeout: seconds the database may take to write or answer before /healthz says it cannot.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DepthCollector(app.db, timeout))
    health = Health(app=app, channels=channels, extra=extra, timeout=timeout, registry=registry)
    web_app[HEALTH_KEY] = health
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    return health
