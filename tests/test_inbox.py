"""The durable inbox: storing, chat leases, several workers on one database, dead workers, replies in order.

The workers here are real `InboxWorker`s with real outbox senders over the test's database; the channel is a
stub that records what it is asked to send, and the engine answers each message with its own text, so the
order of what a chat receives is the order in which its messages were handled.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.app import App, build_app
from bot.engine import Engine
from bot.inbox import Pipeline
from config.clock import Clock, wall_utcnow
from config.settings import Settings
from core.inbox import Prepared, Row, Update
from core.messages import IncomingMessage, Reply
from db.engine import transaction
from db.models import (
    IN_DONE,
    IN_PENDING,
    IN_SKIPPED,
    OUT_PENDING,
    OUT_SENT,
    REPLY,
    Inbox,
    Outbox,
    ProcessedMessage,
    Worker,
)
from db.repositories import inbox, people
from db.repositories import outbox as outbox_repo
from scheduler import outbox
from tests.conftest import DEFAULT_NOW
from tests.fakes.wait import wait_for

pytestmark = pytest.mark.both_backends  # leases and SKIP LOCKED are what PostgreSQL adds

TIMEOUT = dt.timedelta(seconds=30)
CHANNEL = "stub"


class Echo(Engine):
    """Answers each message with its own text (and records the order it handled them in)."""

    def __init__(self, app: App) -> None:
        super().__init__(app.session_factory, app.clock, app.settings, app.services)
        self.handled: list[tuple[str, str]] = []

    def respond(self, session: Session, msg: IncomingMessage, now: dt.datetime) -> list[Reply]:
        self.handled.append((msg.chat_id, msg.text))
        return [Reply(f"re:{msg.text}")]


class StubChannel:
    """A channel whose platform is a list: what it sends, per chat, in order."""

    name = CHANNEL

    def __init__(self, sent: dict[str, list[str]], delay: float = 0.0) -> None:
        self.sent = sent
        self.delay = delay

    async def start(self, app: Any, web_app: Any) -> None:
        if app.inbox is not None:
            app.inbox.add(self)

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, reply: Reply) -> None:
        await asyncio.sleep(self.delay)
        self.sent[chat_id].append(reply.text)

    async def prepare(self, row: Row) -> Prepared:
        await asyncio.sleep(self.delay)
        text = str(row.payload["text"])
        return Prepared(IncomingMessage(CHANNEL, row.chat_id, row.user_id, text, message_id=row.message_id))


def running_clock() -> Clock:
    return Clock("Asia/Shanghai", DEFAULT_NOW)


@pytest.fixture
def second_app(app: App, settings: Settings) -> Iterator[App]:
    """Another process on the same database (its own engine, pool and worker id)."""
    a = build_app(settings, migrate=False, clock=running_clock(), warm_nlu=False)
    yield a
    a.close()


class Process:
    """One worker and sender over `app`, with the stub channel."""

    def __init__(self, app: App, sent: dict[str, list[str]], delay: float = 0.0) -> None:
        self.app = app
        app.settings.stranger_queue_cap = 0  # the stub's chats belong to nobody: no cap here
        self.engine = Echo(app)
        app.engine = self.engine
        self.channel = StubChannel(sent, delay)
        self.pipeline = Pipeline(app, [self.channel])  # type: ignore[list-item]

    async def __aenter__(self) -> Process:
        await self.channel.start(self.app, None)
        await self.pipeline.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pipeline.stop(5.0)

    async def receive(self, chat: str, *texts: str, first: int = 0) -> None:
        updates = [Update(f"{chat}:{first + i}", chat, chat, {"text": t}) for i, t in enumerate(texts)]
        await self.pipeline.worker.accept(CHANNEL, updates)


def store(app: App, chat: str, n: int, start: int = 0, user: str | None = None, cap: int = 0) -> list[Any]:
    updates = [Update(f"{chat}:{start + i}", chat, user or chat, {"text": str(start + i)}) for i in range(n)]
    with transaction(app.session_factory) as s:
        return inbox.store(s, CHANNEL, updates, wall_utcnow(), cap)


def statuses(app: App) -> dict[str, int]:
    with app.session_factory() as s:
        return inbox.counts(s)


# ---- the repository ---------------------------------------------------------------------------------------


def test_a_redelivered_update_is_stored_once(app: App) -> None:
    first = store(app, "c1", 3)
    again = store(app, "c1", 3)
    assert [x.new for x in first] == [True] * 3 and [x.new for x in again] == [False] * 3
    assert statuses(app) == {IN_PENDING: 3}


def test_an_unbound_users_queue_is_capped_and_a_bound_users_is_not(app: App) -> None:
    stored = store(app, "stranger", 8, cap=5)
    assert [x.skipped for x in stored] == [False] * 5 + [True] * 3
    with transaction(app.session_factory) as s:
        official = next(p for p in people.list_people(s) if p.name == "墨脱填报人")
        people.bind_identity(s, official, CHANNEL, "bound", app.clock.utcnow())
    assert not any(x.skipped for x in store(app, "bound", 8, cap=5))
    assert statuses(app) == {IN_PENDING: 13, IN_SKIPPED: 3}


def test_a_chat_has_one_holder_and_is_released_only_when_empty(app: App) -> None:
    store(app, "c1", 2)
    now = wall_utcnow()
    with transaction(app.session_factory) as s:
        inbox.beat(s, "w1", now)
        inbox.beat(s, "w2", now)
        assert inbox.try_claim(s, CHANNEL, "c1", "w1", now, TIMEOUT)
        assert not inbox.try_claim(s, CHANNEL, "c1", "w2", now, TIMEOUT)  # w1 is alive
        assert not inbox.release(s, CHANNEL, "c1", "w1")  # rows are waiting: the lease is kept
    with transaction(app.session_factory) as s:
        for row in inbox.pending(s, CHANNEL, "c1"):
            assert inbox.finish(s, row.id, now)
        assert not inbox.finish(s, row.id, now)  # a row is finished once
        assert inbox.release(s, CHANNEL, "c1", "w1")
        assert inbox.try_claim(s, CHANNEL, "c1", "w2", now, TIMEOUT)


def test_the_chats_of_a_dead_worker_are_handed_out(app: App) -> None:
    store(app, "c1", 1)
    store(app, "c2", 1)
    long_ago, now = wall_utcnow() - 2 * TIMEOUT, wall_utcnow()
    with transaction(app.session_factory) as s:
        inbox.beat(s, "dead", long_ago)
        inbox.beat(s, "alive", now)
        assert inbox.try_claim(s, CHANNEL, "c1", "dead", long_ago, TIMEOUT)
        assert inbox.try_claim(s, CHANNEL, "c2", "alive", now, TIMEOUT)
    with transaction(app.session_factory) as s:
        taken = inbox.claim_chats(s, "new", now, TIMEOUT, [CHANNEL], limit=10)
    assert taken == [(CHANNEL, "c1")]  # c2's holder still beats


def test_a_reply_waits_for_the_earlier_replies_of_its_chat(app: App) -> None:
    now = app.clock.utcnow()
    with transaction(app.session_factory) as s:
        ids = outbox_repo.enqueue_replies(
            s, CHANNEL, "m1", "c1", [Reply(f"第{i}条") for i in range(3)], "w-dead", now=now
        )
        [other] = outbox_repo.enqueue_replies(s, CHANNEL, "m2", "c2", [Reply("别的")], "w-dead", now=now)
        # The first reply is put back for later; the others are free to be claimed, but must not overtake it.
        rows = {r.id: r for r in s.execute(select(Outbox)).scalars()}
        rows[ids[0]].status, rows[ids[0]].next_attempt_at = OUT_PENDING, now + dt.timedelta(seconds=5)
        for i in (*ids[1:], other):
            rows[i].status = OUT_PENDING
    with transaction(app.session_factory) as s:
        assert [r.id for r in outbox.claim(s, "w", now)] == [other]
    with transaction(app.session_factory) as s:
        claimed = outbox.claim(s, "w", now + dt.timedelta(seconds=6))
        assert [r.id for r in claimed] == [ids[0]]  # then ids[1], then ids[2], each after the one before


def test_a_claim_from_a_dead_worker_is_taken_over_and_marked(app: App) -> None:
    now = app.clock.utcnow()
    with transaction(app.session_factory) as s:
        inbox.beat(s, "w-dead", wall_utcnow() - 2 * TIMEOUT)
        [row_id] = outbox_repo.enqueue_replies(s, CHANNEL, "m1", "c1", [Reply("答复")], "w-dead", now=now)
    with transaction(app.session_factory) as s:
        assert outbox.claim(s, "w", now) == []  # the lease alone is ten minutes
    with transaction(app.session_factory) as s:
        [row] = outbox.claim(s, "w", now, wall_now=wall_utcnow(), worker_timeout=TIMEOUT)
        assert row.id == row_id and row.payload["taken_over"] == 1


# ---- workers ------------------------------------------------------------------------------------------------


async def test_each_chat_is_handled_in_order_and_answered_once(app: App) -> None:
    app.clock = running_clock()
    sent: dict[str, list[str]] = collections.defaultdict(list)
    async with Process(app, sent) as p:
        for k in range(5):
            for chat in ("a", "b", "c"):
                await p.receive(chat, f"{chat}{k}", first=k)
        await p.receive("a", "a0", first=0)  # a redelivery
        assert await p.pipeline.worker.idle(20)
    for chat in ("a", "b", "c"):
        assert sent[chat] == [f"re:{chat}{k}" for k in range(5)]
    assert statuses(app) == {IN_DONE: 15}


async def test_two_processes_share_the_inbox_and_keep_each_chats_order(app: App, second_app: App) -> None:
    app.clock = running_clock()
    sent: dict[str, list[str]] = collections.defaultdict(list)
    chats = [f"u{i}" for i in range(6)]
    async with Process(app, sent, delay=0.002) as one, Process(second_app, sent, delay=0.002) as two:
        for k in range(12):
            for i, chat in enumerate(chats):
                # A load balancer in front: the same user's messages reach either process.
                await (one if (i + k) % 2 else two).receive(chat, f"{chat}-{k:02d}", first=k)
        await wait_for(lambda: sum(map(len, sent.values())) >= 72, timeout=30)
        assert await one.pipeline.worker.idle(20) and await two.pipeline.worker.idle(20)
    for chat in chats:
        assert sent[chat] == [f"re:{chat}-{k:02d}" for k in range(12)], chat
    assert one.engine.handled and two.engine.handled  # both took part
    assert statuses(app) == {IN_DONE: 72}


async def test_a_stop_leaves_the_rest_for_the_next_start(app: App) -> None:
    app.clock = running_clock()
    sent: dict[str, list[str]] = collections.defaultdict(list)
    async with Process(app, sent, delay=0.05) as p:
        await p.receive("a", *[f"m{k}" for k in range(40)])
        await wait_for(lambda: len(sent["a"]) >= 2, timeout=10)
    handled = len(sent["a"])
    assert 0 < handled < 40 and statuses(app)[IN_PENDING] == 40 - handled
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Worker)) == 0  # it left
    async with Process(app, sent) as p:
        await wait_for(lambda: len(sent["a"]) == 40, timeout=20)
        assert await p.pipeline.worker.idle(20)
    assert sent["a"] == [f"re:m{k}" for k in range(40)]
    with app.session_factory() as s:
        replies = s.execute(select(Outbox.status).where(Outbox.kind == REPLY)).scalars().all()
    assert replies == [OUT_SENT] * 40


async def test_a_reply_that_fails_is_retried_in_order(app: App) -> None:
    app.clock = running_clock()
    sent: dict[str, list[str]] = collections.defaultdict(list)
    failures = {"left": 2}

    class Flaky(StubChannel):
        async def send(self, chat_id: str, reply: Reply) -> None:
            if failures["left"]:
                failures["left"] -= 1
                raise ConnectionError("the platform is down")
            await super().send(chat_id, reply)

    async with Process(app, sent) as p:
        p.channel.__class__ = Flaky
        await p.receive("a", "one", "two", "three")
        await wait_for(lambda: len(sent["a"]) == 3, timeout=20)
    assert sent["a"] == ["re:one", "re:two", "re:three"]
    with app.session_factory() as s:
        rows = list(s.execute(select(Inbox.status)).scalars())
    assert rows == [IN_DONE] * 3


async def test_an_id_used_again_after_its_row_was_pruned_is_a_new_message(app: App) -> None:
    """Telegram picks update ids at random after a week without updates: once the old row is pruned, the same id
    is a new message, and it gets its own answer."""
    app.clock = running_clock()
    sent: dict[str, list[str]] = collections.defaultdict(list)
    async with Process(app, sent) as p:
        await p.receive("a", "first")
        assert await p.pipeline.worker.idle(10)
        with transaction(app.session_factory) as s:
            assert inbox.prune(s, wall_utcnow() + dt.timedelta(seconds=1)) == 1
            s.execute(ProcessedMessage.__table__.delete())
        await p.receive("a", "second")  # the same update id "a:0"
        assert await p.pipeline.worker.idle(10)
    assert sent["a"] == ["re:first", "re:second"]
