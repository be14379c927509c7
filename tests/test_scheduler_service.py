"""The scheduler service of `duban serve`: it runs the due jobs and the sender; with several processes on one
PostgreSQL database only one runs the jobs (advisory lock), and another takes over when it dies."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.app import App, build_app
from config.clock import Clock
from config.settings import Settings
from core.messages import Reply
from db.engine import make_engine
from db.models import OUT_SENT, Assignment, Item, Outbox
from db.repositories import reports
from scheduler import outbox
from scheduler.service import LeaderLock, SchedulerService, run_due
from tests.fakes.wait import wait_for

pytestmark = pytest.mark.both_backends  # leader election and several processes on one database


class Recorder:
    name = "console"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def start(self, app: Any, web_app: Any) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.sent.append((chat_id, reply))


@pytest.fixture
def app(app: App) -> App:
    """The scenario of these tests has nothing overdue on 5月24日: the one task due earlier, 选取两山创建主体
    (C3-4-03, its deadline inferred as 4月30日), was done by the border counties on 4月28日."""
    when = dt.datetime(2023, 4, 28, 1, 0)  # naive UTC
    with app.session_factory() as s, s.begin():
        for a in s.execute(select(Assignment).join(Item).where(Item.code == "C3-4-03")).scalars():
            reports.add_report(s, a, None, "console", when, {"status": "done", "percent": 100})
    return app


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sender_interval_seconds": 0.05})


def make_app(s: Settings) -> App:
    return build_app(
        s, clock=Clock("Asia/Shanghai", dt.datetime(2023, 5, 24, 9, 0), frozen=True), migrate=False, warm_nlu=False
    )


@pytest.fixture
def two_apps(app: App, fast_settings: Settings) -> Iterator[tuple[App, App]]:
    a, b = make_app(fast_settings), make_app(fast_settings)
    yield a, b
    a.close()
    b.close()


def outbox_counts(app: App) -> dict[str, int]:
    with app.session_factory() as s:
        return outbox.counts(s)


async def test_service_runs_the_due_jobs_and_delivers(two_apps: tuple[App, App]) -> None:
    app = two_apps[0]
    rec = Recorder()
    svc = SchedulerService(app, {"console": rec})
    await svc.start()
    try:
        await wait_for(lambda: len(rec.sent) >= 4)
        assert svc.scheduler is not None
        jobs = {j.id for j in svc.scheduler.get_jobs()}
        assert {"tick", "weekly_prompt", "weekly_digest", "leader"} <= jobs
        assert str(svc.scheduler.get_job("weekly_prompt").trigger).startswith(
            "cron[day_of_week='mon', hour='9', minute='30'"
        )
        assert await svc.run_jobs() == 0  # a second run at the same moment queues nothing
        # The APScheduler job itself runs the jobs (forced to fire now rather than at the next 5 minutes).
        runs = svc.runs
        svc.scheduler.get_job("tick").modify(next_run_time=dt.datetime.now(dt.UTC))
        await wait_for(lambda: svc.runs > runs)
    finally:
        await svc.stop()
    assert sorted(chat for chat, _ in rec.sent) == ["墨脱填报人", "察隅填报人", "朗县填报人", "米林填报人"]
    assert all("两山实施方案" in r.text and r.choices for _, r in rec.sent)
    with app.session_factory() as s:
        assert outbox.counts(s) == {OUT_SENT: 4}


async def test_two_processes_queue_and_send_each_message_once(two_apps: tuple[App, App]) -> None:
    a, b = two_apps
    ra, rb = Recorder(), Recorder()
    sa, sb = SchedulerService(a, {"console": ra}), SchedulerService(b, {"console": rb})
    await asyncio.gather(sa.start(), sb.start())
    try:
        await wait_for(lambda: len(ra.sent) + len(rb.sent) >= 4)
        await asyncio.gather(sa.run_jobs(), sb.run_jobs(), sa.run_jobs())
        # Whatever the second round queued has gone out once the outbox holds nothing but sent rows.
        await wait_for(lambda: set(outbox_counts(a)) == {OUT_SENT}, what=lambda: str(outbox_counts(a)))
    finally:
        await asyncio.gather(sa.stop(), sb.stop())
    assert outbox_counts(a) == {OUT_SENT: 4}
    chats = collections.Counter(chat for chat, _ in ra.sent + rb.sent)
    assert chats == {"米林填报人": 1, "朗县填报人": 1, "察隅填报人": 1, "墨脱填报人": 1}
    if a.db.dialect.name == "postgresql":
        assert (sa.runs == 0) != (sb.runs == 0)  # exactly one of them ran the jobs


async def test_a_new_moment_is_picked_up_by_the_running_service(two_apps: tuple[App, App]) -> None:
    app = two_apps[0]
    rec = Recorder()
    svc = SchedulerService(app, {"console": rec})
    await svc.start()
    try:
        await wait_for(lambda: len(rec.sent) == 4)
        app.clock.set(dt.datetime(2023, 5, 29, 9, 0), frozen=True)  # Monday: d-3 nudges, the 6·5 event
        await svc.run_jobs()
        await wait_for(lambda: len(rec.sent) == 4 + 4 + 2)
    finally:
        await svc.stop()
    assert sum("6·5世界环境日" in r.text for _, r in rec.sent) == 2


async def test_leader_lock_is_taken_over_when_its_holder_dies(app: App, db_url: str) -> None:
    e1, e2, admin = make_engine(db_url), make_engine(db_url), make_engine(db_url)
    try:
        first, second = LeaderLock(e1, key=4242), LeaderLock(e2, key=4242)
        assert first.acquire()
        if e1.dialect.name != "postgresql":
            assert second.acquire()  # SQLite: one process by design, always its own leader
            return
        assert not second.acquire() and not second.held
        assert first.acquire()  # confirming keeps it
        # The holder's process dies: its database session ends (terminated here from outside).
        pid = first.conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
        with admin.connect() as c:
            c.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        # The server ends a terminated session asynchronously: retry as the service does (briefly, here).
        await wait_for(second.acquire, timeout=5, what="the second process never took over the lock")
        assert second.held
        assert not first.acquire()  # it notices the loss and finds the lock taken
        second.release()
        assert first.acquire()
        first.release()
    finally:
        for e in (e1, e2, admin):
            e.dispose()


async def test_stopping_the_leader_lets_the_other_process_run_the_jobs(two_apps: tuple[App, App]) -> None:
    a, b = two_apps
    sa, sb = SchedulerService(a, {"console": Recorder()}), SchedulerService(b, {"console": Recorder()})
    assert await sa._try_lead()
    postgres = a.db.dialect.name == "postgresql"
    assert (await sb._try_lead()) is (not postgres)
    await asyncio.to_thread(sa.lock.release)
    assert await sb._try_lead()
    assert await sb.run_jobs() == 4
    with b.session_factory() as s:
        assert len(s.execute(select(Outbox)).scalars().all()) == 4
    await asyncio.to_thread(sb.lock.release)


def test_run_due_without_a_plan_does_nothing(empty_db_url: str, tmp_path: Any) -> None:
    s = Settings(data_dir=tmp_path / "d", database_url=empty_db_url, scheduler_enabled=False)
    a = build_app(s, clock=Clock("Asia/Shanghai", dt.datetime(2023, 5, 24, 9), frozen=True), warm_nlu=False)
    try:
        assert run_due(a) == 0
    finally:
        a.close()
