"""The outbox and its sender: created once, delivered once, retried after outages and 429s, rate limited,
safe across restarts and across several senders sharing one database."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from config.clock import Clock
from config.settings import Settings
from core.channel import PermanentFailure, RetryLater
from core.messages import Reply
from db.engine import transaction
from db.models import OUT_FAILED, OUT_PENDING, OUT_SENDING, OUT_SENT, Outbox
from scheduler import outbox
from scheduler.outbox import Limit, RateLimiter
from scheduler.sender import OutboxSender

T0 = dt.datetime(2023, 5, 24, 1, 0)  # naive UTC = 09:00 in Asia/Shanghai, the clock fixture's moment

pytestmark = pytest.mark.both_backends  # the outbox repository and concurrent senders (PostgreSQL: SKIP LOCKED)


class FakeChannel:
    """Records deliveries; `fail` is a list of exceptions raised by the next sends, in order."""

    def __init__(self, name: str = "console") -> None:
        self.name = name
        self.sent: list[tuple[str, Reply]] = []
        self.fail: list[BaseException] = []
        self.calls = 0
        self.gate: asyncio.Event | None = None  # set once this channel has delivered (see GatedChannel)

    async def start(self, app: Any, web_app: Any) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.calls += 1
        await asyncio.sleep(0)  # let other senders interleave
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((chat_id, reply))
        if self.gate is not None:
            self.gate.set()


def put(app: App, n: int, channel: str = "console", prefix: str = "k", **kw: Any) -> list[int]:
    ids = []
    with transaction(app.session_factory) as s:
        for i in range(n):
            row = outbox.enqueue(
                s, f"{prefix}{i}", "test", channel, f"chat{i % 7}", f"消息 {i}", now=app.clock.utcnow(), **kw
            )
            assert row is not None
            ids.append(row.id)
    return ids


def rows(app: App) -> dict[int, Outbox]:
    with app.session_factory() as s:
        return {r.id: r for r in s.execute(select(Outbox)).scalars()}


def advance(app: App, **delta: float) -> None:
    app.clock.set(app.clock.now() + dt.timedelta(**delta), frozen=True)


# ---- creation --------------------------------------------------------------------------------------------


def test_enqueue_twice_creates_one_row(app: App) -> None:
    with transaction(app.session_factory) as s:
        first = outbox.enqueue(
            s,
            "nudge:1:2023-05-24:x",
            "nudge",
            "console",
            "墨脱填报人",
            "提醒",
            person_id=None,
            payload={"choices": [["开始汇报", "汇报"]]},
            now=T0,
        )
        second = outbox.enqueue(s, "nudge:1:2023-05-24:x", "nudge", "console", "墨脱填报人", "另一条", now=T0)
    assert first is not None and second is None
    with transaction(app.session_factory) as s:
        assert outbox.enqueue(s, "nudge:1:2023-05-24:x", "nudge", "console", "x", "again", now=T0) is None
        assert outbox.exists(s, "nudge:1:2023-05-24:x")
        only = s.execute(select(Outbox)).scalars().all()
    assert len(only) == 1
    assert only[0].text == "提醒" and only[0].status == OUT_PENDING and only[0].next_attempt_at == T0
    assert only[0].payload == {"choices": [["开始汇报", "汇报"]]}


def test_concurrent_enqueue_of_one_key_from_many_threads_creates_one_row(app: App) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        barrier.wait()
        with transaction(app.session_factory) as s:
            results.append(outbox.enqueue(s, "same-key", "test", "console", "c", f"from {i}", now=T0) is not None)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 1


# ---- claiming and marking ----------------------------------------------------------------------------------


def test_claim_takes_due_rows_once_and_reclaims_after_the_lease(app: App) -> None:
    put(app, 3)
    with transaction(app.session_factory) as s:
        outbox.enqueue(s, "later", "test", "console", "c", "later", now=T0, not_before=T0 + dt.timedelta(hours=1))
        outbox.enqueue(s, "tg", "test", "telegram", "1", "tg", now=T0)
    lease = dt.timedelta(minutes=10)
    with transaction(app.session_factory) as s:
        got = outbox.claim(s, "w1", T0, channels=["console"], lease=lease)
        assert sorted(r.dedupe_key for r in got) == ["k0", "k1", "k2"]
    with transaction(app.session_factory) as s:
        assert outbox.claim(s, "w2", T0 + dt.timedelta(minutes=5), channels=["console"], lease=lease) == []
    with transaction(app.session_factory) as s:
        assert outbox.mark_sent(s, got[0].id, "w1", T0)
        assert not outbox.mark_sent(s, got[1].id, "someone-else", T0)  # not theirs
    # w1 died with k1, k2 claimed: after the lease another worker takes them (and the due "later" row).
    with transaction(app.session_factory) as s:
        again = outbox.claim(s, "w2", T0 + dt.timedelta(hours=1), channels=["console"], lease=lease)
        assert sorted(r.dedupe_key for r in again) == ["k1", "k2", "later"]
    with transaction(app.session_factory) as s:
        assert not outbox.mark_sent(s, got[1].id, "w1", T0)  # the old owner can no longer finish it
        assert outbox.mark_sent(s, got[1].id, "w2", T0)
        assert outbox.counts(s) == {OUT_SENT: 2, OUT_SENDING: 2, OUT_PENDING: 1}


def test_mark_retry_backs_off_exponentially_then_fails(app: App) -> None:
    [rid] = put(app, 1)
    now = T0
    delays = []
    for _ in range(4):
        with transaction(app.session_factory) as s:
            [row] = outbox.claim(s, "w", now)
            assert outbox.mark_retry(s, row, "w", now, "boom", max_attempts=5) == OUT_PENDING
            nxt = s.get(Outbox, rid).next_attempt_at
        delays.append((nxt - now).total_seconds())
        now = nxt
    assert delays == [30, 60, 120, 240]
    with transaction(app.session_factory) as s:
        [row] = outbox.claim(s, "w", now)
        assert outbox.mark_retry(s, row, "w", now, "boom", max_attempts=5) == OUT_FAILED
    r = rows(app)[rid]
    assert r.status == OUT_FAILED and r.attempts == 5 and r.last_error == "boom"
    assert outbox.backoff_seconds(30) == outbox.BACKOFF_CAP_SECONDS


# ---- the sender ------------------------------------------------------------------------------------------


async def test_sender_delivers_each_row_once_with_payload(app: App, tmp_path: Any) -> None:
    chart = tmp_path / "c.png"
    chart.write_bytes(b"\x89PNG")
    with transaction(app.session_factory) as s:
        outbox.enqueue(
            s,
            "a",
            "digest",
            "console",
            "协调员",
            "周报",
            now=T0,
            payload={
                "markdown": "**周报**",
                "choices": [["开始汇报", "汇报"]],
                "attachments": [["photo", str(chart), "图.png"], ["file", str(tmp_path / "gone.xlsx"), "x"]],
            },
        )
    ch = FakeChannel()
    sender = OutboxSender(app, {"console": ch})
    stats = await sender.run_once()
    assert stats.sent == 1
    [(chat, reply)] = ch.sent
    assert chat == "协调员" and reply.text == "周报" and reply.markdown == "**周报**"
    assert [c.value for c in reply.choices] == ["汇报"]
    assert [a.file_name for a in reply.attachments] == ["图.png"]  # the missing file is left out, the text goes
    assert (await sender.run_once()).claimed == 0
    assert len(ch.sent) == 1
    assert all(r.status == OUT_SENT and r.sent_at == T0 for r in rows(app).values())


async def test_outage_rows_wait_and_are_delivered_once_when_the_platform_is_back(app: App) -> None:
    ids = put(app, 5)
    ch = FakeChannel()
    ch.fail = [ConnectionError("platform down")] * 3
    sender = OutboxSender(app, {"console": ch})
    s1 = await sender.run_once()
    # The first failure holds the channel for this round: no row is lost, none is sent.
    assert s1.sent == 0 and s1.retried == 1 and s1.deferred == 4
    assert all(r.status == OUT_PENDING for r in rows(app).values())
    assert (await sender.run_once()).claimed == 0  # nothing due before the backoff ends
    for _ in range(10):
        advance(app, minutes=5)
        await sender.run_once()
    assert sorted(c for c, _ in ch.sent) == sorted(f"chat{i % 7}" for i in range(5))
    assert collections.Counter(r.text for _, r in ch.sent) == {f"消息 {i}": 1 for i in range(5)}
    final = rows(app)
    assert all(final[i].status == OUT_SENT for i in ids)
    assert max(r.attempts for r in final.values()) >= 1


async def test_429_waits_the_seconds_asked_without_counting_an_attempt(app: App) -> None:
    [rid] = put(app, 1, channel="telegram")
    ch = FakeChannel("telegram")
    ch.fail = [RetryLater(7, "429 Too Many Requests")]
    sender = OutboxSender(app, {"telegram": ch})
    stats = await sender.run_once()
    assert stats.retried == 1 and not ch.sent
    r = rows(app)[rid]
    assert r.status == OUT_PENDING and r.attempts == 0
    assert r.next_attempt_at == T0 + dt.timedelta(seconds=7)
    advance(app, seconds=3)
    assert (await sender.run_once()).claimed == 0
    advance(app, seconds=5)
    assert (await sender.run_once()).sent == 1
    assert len(ch.sent) == 1 and rows(app)[rid].status == OUT_SENT


async def test_permanent_failure_is_marked_failed_and_not_retried(app: App) -> None:
    [rid] = put(app, 1)
    ch = FakeChannel()
    ch.fail = [PermanentFailure("bot was blocked by the user")]
    sender = OutboxSender(app, {"console": ch})
    assert (await sender.run_once()).failed == 1
    advance(app, hours=2)
    assert (await sender.run_once()).claimed == 0
    r = rows(app)[rid]
    assert r.status == OUT_FAILED and "blocked" in (r.last_error or "") and ch.calls == 1


async def test_rows_for_a_channel_this_process_lacks_are_left_for_another(app: App) -> None:
    put(app, 2, channel="wecom", prefix="w")
    put(app, 1, channel="console", prefix="c")
    ch = FakeChannel()
    stats = await OutboxSender(app, {"console": ch}).run_once()
    assert stats.sent == 1
    with app.session_factory() as s:
        assert outbox.counts(s) == {OUT_SENT: 1, OUT_PENDING: 2}


async def test_nothing_is_sent_in_quiet_hours(app: App) -> None:
    put(app, 1)
    app.clock.set(dt.datetime(2023, 5, 24, 22, 0), frozen=True)
    ch = FakeChannel()
    sender = OutboxSender(app, {"console": ch})
    assert (await sender.run_once()).claimed == 0
    app.clock.set(dt.datetime(2023, 5, 25, 8, 0), frozen=True)
    assert (await sender.run_once()).sent == 1


async def test_no_double_send_across_a_restart(settings: Settings, app: App) -> None:
    ids = put(app, 6)
    ch = FakeChannel()
    first = OutboxSender(app, {"console": ch}, batch_size=2)
    assert (await first.run_once()).sent == 2
    # The first process claims two more rows and dies before sending them.
    with transaction(app.session_factory) as s:
        died_with = [r.id for r in outbox.claim(s, first.worker_id, app.clock.utcnow(), limit=2)]
    app.close()

    clock = Clock("Asia/Shanghai", app.clock.now(), frozen=True)
    app2 = build_app(settings, clock=clock, warm_nlu=False)
    try:
        second = OutboxSender(app2, {"console": ch})
        stats = await second.run_once()
        assert stats.sent == 2  # only the rows nobody had claimed
        clock.set(clock.now() + outbox.DEFAULT_LEASE + dt.timedelta(seconds=1), frozen=True)
        stats = await second.run_once()
        assert stats.sent == 2 and stats.claimed == 2  # the dead worker's rows, after its lease
        assert (await second.run_once()).claimed == 0
        final = rows(app2)
    finally:
        app2.close()
    assert collections.Counter(r.text for _, r in ch.sent) == {f"消息 {i}": 1 for i in range(6)}
    assert all(final[i].status == OUT_SENT for i in ids)
    assert all(final[i].claimed_by is None for i in died_with)


@pytest.fixture
def second_app(settings: Settings, clock: Clock) -> Iterator[App]:
    a = build_app(settings, clock=clock, migrate=False, warm_nlu=False)
    yield a
    a.close()


async def test_two_senders_on_one_database_send_each_row_exactly_once(app: App, second_app: App) -> None:
    """200 rows, two senders with their own engines claiming concurrently (PostgreSQL: SKIP LOCKED)."""
    put(app, 200)
    ch_a, ch_b = GatedChannel(), FakeChannel()
    ch_b.gate = ch_a.opened  # A's sends wait until B has delivered once: B's claims cannot starve behind A's
    a = OutboxSender(app, {"console": ch_a}, batch_size=10)
    b = OutboxSender(second_app, {"console": ch_b}, batch_size=10)
    await asyncio.gather(a.drain(max_batches=100), b.drain(max_batches=100))
    texts = [r.text for _, r in ch_a.sent + ch_b.sent]
    assert len(texts) == 200
    assert collections.Counter(texts) == {f"消息 {i}": 1 for i in range(200)}
    with app.session_factory() as s:
        assert outbox.counts(s) == {OUT_SENT: 200}
    # Both took part: while A's first batch waits at the gate, B claims rows A did not take.
    assert ch_a.sent and ch_b.sent


class GatedChannel(FakeChannel):
    """A FakeChannel whose sends wait (at most 30 s) until another channel opens `gate` by delivering once."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = asyncio.Event()
        self.gate = self.opened

    async def send(self, chat_id: str, reply: Reply) -> None:
        await asyncio.wait_for(self.opened.wait(), 30)
        await super().send(chat_id, reply)


# ---- rate limits -------------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_rate_limiter_windows() -> None:
    ft = FakeTime()
    tg = RateLimiter.for_channel("telegram", ft)
    assert tg.wait("1") == 0
    tg.record("1")
    assert tg.wait("1") == pytest.approx(1.0)  # one per second per chat
    assert tg.wait("2") == 0
    for i in range(29):
        tg.record(f"c{i}")
    assert tg.wait("new") == pytest.approx(1.0)  # thirty per second overall
    ft.t += 1.0
    assert tg.wait("1") == 0 and tg.wait("new") == 0

    wc = RateLimiter.for_channel("wecom", ft)
    for _ in range(30):
        assert wc.wait("zhangsan") == 0
        wc.record("zhangsan")
        ft.t += 0.1
    assert wc.wait("zhangsan") == pytest.approx(60 - 3.0)  # thirty per minute per member
    assert wc.wait("lisi") == 0
    hourly = RateLimiter([Limit(2, 3600, per_chat=True)], ft)
    hourly.record("a")
    hourly.record("a")
    assert hourly.wait("a") == pytest.approx(3600)
    assert RateLimiter.for_channel("console", ft).wait("x") == 0


async def test_sender_paces_one_chat_and_defers_long_waits(app: App) -> None:
    with transaction(app.session_factory) as s:
        for i in range(3):
            outbox.enqueue(s, f"t{i}", "test", "telegram", "42", f"第{i}条", now=T0)
        for i in range(31):
            outbox.enqueue(s, f"w{i}", "test", "wecom", "zhangsan", f"企微{i}", now=T0)
    ft = FakeTime()
    tg, wc = FakeChannel("telegram"), FakeChannel("wecom")
    sender = OutboxSender(app, {"telegram": tg, "wecom": wc}, sleep=ft.sleep, monotonic=ft, batch_size=100)
    stats = await sender.run_once()
    assert [r.text for _, r in tg.sent] == ["第0条", "第1条", "第2条"]
    assert ft.slept and sum(ft.slept) == pytest.approx(2.0, abs=0.01)  # 1 s apart in one chat
    assert len(wc.sent) == 30 and stats.deferred == 1  # the 31st within a minute waits in the outbox
    with app.session_factory() as s:
        waiting = s.execute(select(Outbox).where(Outbox.status == OUT_PENDING)).scalars().all()
    assert len(waiting) == 1 and waiting[0].attempts == 0 and waiting[0].next_attempt_at > T0


@pytest.mark.both_backends
def test_a_live_workers_claim_is_not_taken_over_on_a_stale_view(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a claiming statement can judge a row another process claimed meanwhile against the worker
    list of its own older snapshot, where that worker, registered meanwhile, looks dead. Played here by making
    every holder look dead to the claiming statement: the second read (`inbox.alive_now`) keeps the live
    worker's rows and chats."""
    import sqlalchemy

    from db.models import Inbox, InboxChat
    from db.repositories import inbox

    put(app, 1)
    wall = dt.datetime(2026, 1, 1, 12, 0)
    timeout = dt.timedelta(seconds=30)
    now = app.clock.utcnow()
    with transaction(app.session_factory) as s:
        inbox.beat(s, "A", wall)
        assert len(outbox.claim(s, "A", now, wall_now=wall, worker_timeout=timeout)) == 1
        s.add(InboxChat(channel="console", chat_id="c1", claimed_by="A", claimed_at=wall))
        s.add(Inbox(channel="console", message_id="m1", chat_id="c1", user_id="u1", payload={}, received_at=wall))
    monkeypatch.setattr(inbox, "abandoned", lambda *_a, **_k: sqlalchemy.true())
    with transaction(app.session_factory) as s:
        inbox.beat(s, "B", wall)
        assert outbox.claim(s, "B", now, wall_now=wall, worker_timeout=timeout) == []
        assert inbox.claim_chats(s, "B", wall, timeout, ["console"], 10) == []
    # a worker really dead (no beat for longer than the timeout) still loses them
    later = wall + timeout + dt.timedelta(seconds=1)
    with transaction(app.session_factory) as s:
        inbox.beat(s, "B", later)
        assert len(outbox.claim(s, "B", now, wall_now=later, worker_timeout=timeout)) == 1
