"""/healthz and /metrics (bot.health) on a real aiohttp server: a database that takes writes and an inbox that
keeps up answer 200; a backlog, a stalled inbox or a database that cannot be written answer 503 with the
problem; /metrics has the process counters and the depths read from the database."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import health
from bot.app import App
from config.clock import wall_utcnow
from core import metrics
from core.inbox import Update
from db.engine import transaction
from db.models import OUT_FAILED, OUT_SENDING, OUT_SENT, Outbox
from db.repositories import inbox
from db.repositories.outbox import enqueue

TIMEOUT = 0.5  # the database may take this long before /healthz says it cannot write


@dataclass
class FakeChannel:
    name: str


def store(app: App, n: int, received_at: dt.datetime, chat: str = "c1") -> None:
    """`n` pending inbox rows of one chat, received at `received_at` (wall clock)."""
    base = received_at.strftime("%H%M%S%f")
    updates = [Update(f"m-{chat}-{base}-{i}", chat, "u1", {"text": "hi"}) for i in range(n)]
    with transaction(app.session_factory) as s:
        inbox.store(s, "console", updates, received_at, stranger_cap=0)


Client = Callable[..., Any]


@pytest.fixture
async def client(app: App) -> AsyncIterator[Callable[..., Any]]:
    """Start a server with health.install(...) on the app; returns make(extra=None) -> TestClient."""
    clients: list[TestClient[Any, Any]] = []

    async def make(extra: Callable[[], dict[str, Any]] | None = None) -> TestClient[Any, Any]:
        web_app = web.Application()
        health.install(web_app, app, [FakeChannel("console")], extra, timeout=TIMEOUT)  # type: ignore[list-item]
        c: TestClient[Any, Any] = TestClient(TestServer(web_app))
        await c.start_server()
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.close()


async def test_healthy_answers_200_with_the_depths(app: App, client: Client) -> None:
    c = await client(extra=lambda: {"scheduler": {"runs": 3}})
    r = await c.get("/healthz")
    assert r.status == 200
    body = await r.json()
    assert body["ok"] is True and "problems" not in body
    assert body["channels"] == ["console"]
    assert body["now"] == app.clock.now().isoformat()
    assert body["inbox"] == {"pending": 0, "oldest_age_seconds": None}
    assert body["outbox"]["pending"] == 0 and body["outbox"]["failed"] == 0
    assert body["scheduler"] == {"runs": 3}
    # The probe row never outlives its transaction.
    with app.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM worker")).scalar() == 0


async def test_recent_pending_messages_are_healthy(app: App, client: Client) -> None:
    store(app, 3, wall_utcnow() - dt.timedelta(seconds=5))
    r = await (await client()).get("/healthz")
    body = await r.json()
    assert r.status == 200, body
    assert body["inbox"]["pending"] == 3
    assert 4 <= body["inbox"]["oldest_age_seconds"] < 60


async def test_stalled_inbox_answers_503(app: App, client: Client) -> None:
    c = await client()
    store(app, 1, wall_utcnow() - dt.timedelta(seconds=app.settings.health_inbox_age_seconds + 60))
    r = await c.get("/healthz")
    assert r.status == 503
    body = await r.json()
    assert body["ok"] is False
    assert [p for p in body["problems"] if p.startswith("inbox stalled")], body
    assert body["inbox"]["pending"] == 1 and body["inbox"]["oldest_age_seconds"] > 170


async def test_inbox_backlog_answers_503(app: App, client: Client) -> None:
    app.settings.health_inbox_backlog = 2
    store(app, 3, wall_utcnow())
    r = await (await client()).get("/healthz")
    body = await r.json()
    assert r.status == 503
    assert body["problems"] == ["inbox backlog: 3 pending messages (more than 2)"]


async def test_problems_of_the_extra_check_answer_503(client: Client) -> None:
    r = await (await client(extra=lambda: {"problems": ["inbox worker stopped"], "busy_chats": 0})).get("/healthz")
    body = await r.json()
    assert (r.status, body["problems"], body["busy_chats"]) == (503, ["inbox worker stopped"], 0)

    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    r = await (await client(extra=broken)).get("/healthz")
    assert r.status == 503 and (await r.json())["problems"] == ["extra check failed: RuntimeError: boom"]


class WriteLock:
    """Another connection holding the database's write lock, as a stuck writer would."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.release: Callable[[], None] = lambda: None

    def hold(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            conn = sqlite3.connect(str(self.url.database), isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")

            def release_sqlite() -> None:
                conn.execute("ROLLBACK")
                conn.close()

            self.release = release_sqlite
            return
        engine = create_engine(self.url.set(drivername="postgresql+psycopg"))
        pg = engine.connect()
        pg.execute(text("LOCK TABLE worker IN SHARE MODE"))  # no INSERT gets through; reads do

        def release_pg() -> None:
            pg.rollback()
            pg.close()
            engine.dispose()

        self.release = release_pg


async def test_database_that_cannot_be_written_answers_503(app: App, client: Client) -> None:
    c = await client()
    lock = WriteLock(app.settings.sqlalchemy_url)
    lock.hold()
    try:
        r = await c.get("/healthz")
        body = await r.json()
    finally:
        lock.release()
    assert r.status == 503, body
    assert body["ok"] is False
    assert [p for p in body["problems"] if p.startswith("database not writable")], body
    # Writable again: healthy again, and the pooled connections have their normal busy timeout back.
    r = await c.get("/healthz")
    assert r.status == 200, await r.json()
    if app.db.dialect.name == "sqlite":
        with app.db.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_have_the_counters_and_the_database_gauges(app: App, client: Client) -> None:
    c = await client()
    now = app.clock.utcnow()
    store(app, 2, wall_utcnow() - dt.timedelta(seconds=50), chat="c1")
    store(app, 1, wall_utcnow(), chat="c2")
    with transaction(app.session_factory) as s:
        for i, status in enumerate(["pending", "pending", OUT_SENDING, OUT_FAILED, OUT_SENT]):
            row = enqueue(s, f"test:{i}", "nudge", "console", "c1", "text", now=now)
            assert row is not None
            row.status = status
        s.flush()
        assert s.query(Outbox).count() == 5
    metrics.INBOX_STORED.labels("health-test").inc(3)
    stored = metrics.REGISTRY.get_sample_value("duban_inbox_stored_total", {"channel": "health-test"})

    r = await c.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"] == CONTENT_TYPE_LATEST
    got = samples(await r.text())
    assert got[("duban_inbox_pending", ())] == 3
    assert 49 <= got[("duban_inbox_oldest_age_seconds", ())] < 80
    assert got[("duban_outbox_pending", ())] == 3  # pending and sending
    assert got[("duban_outbox_failed", ())] == 1
    assert got[("duban_database_up", ())] == 1
    assert got[("duban_inbox_stored_total", (("channel", "health-test"),))] == stored
    # Histograms and counters not yet observed are there too (HELP and TYPE lines).
    names = {f.name for f in text_string_to_metric_families(await r.text())}
    assert {"duban_handling_seconds", "duban_outbox_sent", "duban_inbox_handled"} <= names
    # /healthz shows the same, the outbox by status.
    body = await (await c.get("/healthz")).json()
    assert body["inbox"]["pending"] == 3
    assert body["outbox"] == {"pending": 2, "sending": 1, "sent": 1, "failed": 1}


async def test_several_installs_in_one_process(app: App, client: Client) -> None:
    """Every install has its own collector registry: no "Duplicated timeseries" for a second app."""
    first, second = await client(), await client()
    for c in (first, second):
        r = await c.get("/metrics")
        assert r.status == 200
        assert samples(await r.text())[("duban_inbox_pending", ())] == 0
