"""The hot path: what one ordinary message costs the database, the cache of the plan's and the people's tables,
and the message handled in the transaction that stores it.

Statements and commits are counted with SQLAlchemy's engine events on the real engine, so a change that adds a
query to every message fails here. An ordinary message is one a bound official sends in a running check-in (an
answer to its question) or `帮助`: it is stored, handled and answered in one transaction of at most five
statements (the chat's lease, the inbox row, the conversation with the cache's revision, the conversation's
update, the reply), and its delivery is recorded afterwards together with other deliveries.
"""

from __future__ import annotations

import collections
import datetime as dt
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from bot.app import App, build_app
from bot.engine import Engine
from bot.inbox import Pipeline
from config.clock import Clock
from config.settings import Settings
from core.inbox import Prepared, Row, Update
from core.messages import IncomingMessage
from db.cache import QueryCache
from db.engine import transaction
from db.models import IN_DONE, OUT_SENT, Assignment, Inbox, Organisation, Outbox, Person, Report, Revision
from db.repositories import orgs, people
from handlers import texts
from tests.conftest import DEFAULT_NOW

pytestmark = pytest.mark.both_backends  # the lease upsert and the revision are SQL that both must run

CHANNEL = "stub"
STATEMENT_BUDGET = 5


class StubChannel:
    """A channel whose platform is a dict of lists; its text messages are ready as they arrive."""

    name = CHANNEL

    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = collections.defaultdict(list)

    async def start(self, app: Any, web_app: Any) -> None:
        app.inbox.add(self)

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, reply: Any) -> None:
        self.sent[chat_id].append(reply.text)

    @staticmethod
    def message(chat: str, text: str, mid: str) -> IncomingMessage:
        return IncomingMessage(CHANNEL, chat, chat, text, message_id=mid)

    async def prepare(self, row: Row) -> Prepared:
        return Prepared(self.message(row.chat_id, str(row.payload["text"]), row.message_id))


@dataclass
class Counter:
    """Statements (BEGIN aside: SQLite's is ours, PostgreSQL's implicit) and commits on one engine."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0

    def reset(self) -> None:
        self.statements.clear()
        self.commits = 0


@dataclass
class Process:
    app: App
    channel: StubChannel
    pipeline: Pipeline
    counter: Counter
    ids: Iterator[int]

    async def say(self, chat: str, *texts_: str) -> None:
        """Each text as the platform delivers it, one update per batch, waiting for its answer."""
        for text in texts_:
            mid = f"{chat}:{next(self.ids)}"
            update_ = Update(mid, chat, chat, {"text": text})
            await self.pipeline.worker.accept(CHANNEL, [update_], [Prepared(self.channel.message(chat, text, mid))])
            assert await self.pipeline.worker.idle(10)

    async def measured(self, chat: str, text: str) -> Counter:
        """What storing and handling `text` cost, up to its commit (the delivery is recorded after)."""
        mid = f"{chat}:{next(self.ids)}"
        self.counter.reset()
        await self.pipeline.worker.accept(
            CHANNEL, [Update(mid, chat, chat, {"text": text})], [Prepared(self.channel.message(chat, text, mid))]
        )
        spent = Counter(list(self.counter.statements), self.counter.commits)
        assert await self.pipeline.worker.idle(10)
        return spent


def _count(app: App) -> Counter:
    counter = Counter()

    def on_statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            counter.statements.append(statement.split("\n")[0][:100])

    def on_commit(conn: Any) -> None:
        counter.commits += 1

    event.listen(app.db, "before_cursor_execute", on_statement)
    event.listen(app.db, "commit", on_commit)
    return counter


def _bind(app: App, name: str, external: str) -> None:
    with transaction(app.session_factory) as s:
        person = next(p for p in people.list_people(s) if p.name == name)
        people.bind_identity(s, person, CHANNEL, external, app.clock.utcnow())


@pytest.fixture
async def process(app: App) -> Any:
    app.clock = Clock("Asia/Shanghai", DEFAULT_NOW)
    _bind(app, "墨脱填报人", "motuo")
    _bind(app, "协调员", "coord")
    channel = StubChannel()
    pipeline = Pipeline(app, [channel])  # type: ignore[list-item]
    await channel.start(app, None)
    await pipeline.start()
    counter = _count(app)
    yield Process(app, channel, pipeline, counter, iter(range(1, 10**6)))
    await pipeline.stop(5.0)


# ---- the budget ---------------------------------------------------------------------------------------------


async def test_an_ordinary_message_costs_five_statements_and_one_commit(process: Process) -> None:
    await process.say("motuo", "帮助")  # the first message of a user nobody has seen yet goes the long way
    await process.say("motuo", "汇报", "1")  # the check-in list, then its first item
    spent = {}
    for text in ("帮助", "推进中", "60", "完成了林地调查"):
        spent[text] = await process.measured("motuo", text)
    for text, cost in spent.items():
        assert len(cost.statements) <= STATEMENT_BUDGET, (text, cost.statements)
        assert cost.commits == 1, (text, cost.commits)
    sent = process.channel.sent["motuo"]
    # The answers are the dialogue's own: the help with the pending question, then each next question.
    assert sent[-5].startswith(texts.HELP_OFFICIAL.split("\n")[0]) and "当前状态" in sent[-4]
    assert "百分比" in sent[-3] and "做了哪些工作" in sent[-2] and "困难问题" in sent[-1]
    with process.app.session_factory() as s:
        rows = s.execute(select(Inbox.status)).scalars().all()
        assert set(rows) == {IN_DONE}
        assert set(s.execute(select(Outbox.status)).scalars()) == {OUT_SENT}


async def test_a_question_reads_only_what_is_not_cached(process: Process) -> None:
    await process.say("coord", "帮助", "墨脱县进度")
    cost = await process.measured("coord", "墨脱县进度")
    # Who asks, the unit's name and its items come from the cache: what remains are the reports and the 催办.
    reads = [s for s in cost.statements if s.startswith("SELECT") and "revision" not in s]
    assert not any(s.startswith(("SELECT person", "SELECT organisation", "SELECT item")) for s in reads), reads
    assert cost.commits == 1
    assert process.channel.sent["coord"][-1].startswith("【墨脱县】")


async def test_deliveries_are_recorded_together(process: Process, app: App) -> None:
    """A burst from many chats: handled in the batch's one transaction, the deliveries recorded in few."""
    with transaction(app.session_factory) as s:
        officials = [p for p in people.list_people(s) if p.role == "official" and p.organisation_id is not None]
    chats = [f"o{p.id}" for p in officials]
    for p, chat in zip(officials, chats, strict=True):
        _bind(app, p.name, chat)
    for chat in chats:
        await process.say(chat, "帮助")  # each user seen once
    sender = process.pipeline.sender
    before = sender.confirm_commits
    process.counter.reset()
    batch = [Update(f"{c}:burst", c, c, {"text": "帮助"}) for c in chats]
    ready = [Prepared(StubChannel.message(c, "帮助", f"{c}:burst")) for c in chats]
    await process.pipeline.worker.accept(CHANNEL, batch, ready)
    assert process.counter.commits == 1  # stored, handled and queued: one commit for the whole batch
    assert await process.pipeline.worker.idle(10)
    assert all(process.channel.sent[c][-1] == process.channel.sent[chats[0]][-1] for c in chats)
    confirmations = sender.confirm_commits - before
    assert 1 <= confirmations < len(chats) / 2, (confirmations, len(chats))
    with app.session_factory() as s:
        assert set(s.execute(select(Outbox.status)).scalars()) == {OUT_SENT}


# ---- handled at once, or queued -------------------------------------------------------------------------------


class FailingOnce(Engine):
    """Fails the first handling of 帮助 done as the message arrives."""

    def __init__(self, app: App) -> None:
        super().__init__(app.session_factory, app.clock, app.settings, app.services)
        self.failed = 0

    def answer_stored(self, session: Session, row: Row, msg: Any, replies: Any, claimer: Any, now: Any) -> Any:
        if msg is not None and msg.text == "帮助" and not self.failed:
            self.failed += 1
            raise RuntimeError("a handler bug")
        return super().answer_stored(session, row, msg, replies, claimer, now)


async def test_a_failure_while_handling_at_once_leaves_the_message_to_the_queue(app: App) -> None:
    app.clock = Clock("Asia/Shanghai", DEFAULT_NOW)
    _bind(app, "墨脱填报人", "motuo")
    engine = FailingOnce(app)
    app.engine = engine
    engine.known_users[(CHANNEL, "motuo")] = True
    channel = StubChannel()
    pipeline = Pipeline(app, [channel])  # type: ignore[list-item]
    await channel.start(app, None)
    await pipeline.start()
    try:
        proc = Process(app, channel, pipeline, _count(app), iter(range(1, 100)))
        await proc.say("motuo", "帮助")
    finally:
        await pipeline.stop(5.0)
    assert engine.failed == 1
    assert channel.sent["motuo"] == [texts.HELP_OFFICIAL]  # answered once, by the chat's loop
    with app.session_factory() as s:
        assert s.execute(select(Inbox.status)).scalars().all() == [IN_DONE]


async def test_a_message_behind_a_pending_one_waits_its_turn(process: Process, app: App) -> None:
    """A chat with a row still pending (stored while its holder was busy) is not overtaken by a newer message."""
    await process.say("motuo", "帮助")
    with transaction(app.session_factory) as s:
        from db.repositories import inbox

        inbox.store(s, CHANNEL, [Update("motuo:early", "motuo", "motuo", {"text": "汇报"})], dt.datetime.now(), 0)
    await process.say("motuo", "帮助")
    sent = process.channel.sent["motuo"]
    # The list first, then the help inside it (its pending question after it).
    assert sent[-3].startswith("墨脱县待汇报任务") and sent[-2].startswith("我可以帮您"), sent[-3:]


# ---- the cache ------------------------------------------------------------------------------------------------


def _other_process(settings: Settings) -> App:
    return build_app(settings, migrate=False, clock=Clock("Asia/Shanghai", DEFAULT_NOW), warm_nlu=False)


async def test_a_change_made_by_another_process_is_seen_by_the_next_message(
    process: Process, app: App, settings: Settings
) -> None:
    await process.say("motuo", "汇报")
    assert process.channel.sent["motuo"][-1].startswith("墨脱县待汇报任务")
    assert len(process.app.engine.cache) > 0
    other = _other_process(settings)
    try:
        with transaction(other.session_factory) as s:
            org = orgs.require_org(s, "墨脱县")
            org.name = "墨脱县（改）"
            org.short_name = "墨脱（改）"
    finally:
        other.close()
    await process.say("motuo", "取消", "汇报")
    assert "墨脱" in process.channel.sent["motuo"][-1] and "（改）" in process.channel.sent["motuo"][-1]

    other = _other_process(settings)
    try:
        with transaction(other.session_factory) as s:
            s.execute(update(Person).where(Person.name == "墨脱填报人").values(active=False))
    finally:
        other.close()
    await process.say("motuo", "取消", "汇报")
    assert process.channel.sent["motuo"][-1] == texts.UNBOUND


def test_writes_to_the_cached_tables_bump_the_revision_and_others_do_not(app: App) -> None:
    def revision() -> tuple[int, int]:
        with app.session_factory() as s:
            row = s.execute(select(Revision.plan, Revision.people)).one()
            return int(row[0]), int(row[1])

    start = revision()
    with transaction(app.session_factory) as s:  # an ORM change
        s.execute(select(Person).where(Person.name == "协调员")).scalar_one().paused_until = dt.date(2023, 8, 1)
    after_orm = revision()
    with transaction(app.session_factory) as s:  # a bulk statement
        s.execute(update(Assignment).values(due_date=Assignment.due_date))
    after_bulk = revision()
    with transaction(app.session_factory) as s:  # reads only, and a change that sets a value to itself
        person = s.execute(select(Person).where(Person.name == "协调员")).scalar_one()
        person.name = "协调员"
        s.execute(select(Organisation)).all()
    after_reads = revision()
    with transaction(app.session_factory) as s:  # a table nobody caches
        s.execute(update(Report).values(description=Report.description))
    assert after_orm > start and after_bulk > after_orm
    assert after_reads == after_bulk == revision()


def test_cached_rows_are_copies_no_session_can_change(app: App) -> None:
    cache = QueryCache()

    def session() -> Session:
        s = app.session_factory()
        row = s.execute(select(Revision.plan, Revision.people)).one()
        cache.sync(int(row[0]), int(row[1]))
        cache.attach(s)
        return s

    with session() as first:
        org = first.execute(select(Organisation).where(Organisation.name == "墨脱县")).scalar_one()
        assert cache.misses == 1
        org.name = "变了但没保存"  # changed in memory after it was cached, never flushed
        first.rollback()
    with session() as second:
        again = second.execute(select(Organisation).where(Organisation.name == "墨脱县")).scalar_one()
        assert cache.hits == 1
        assert again.name == "墨脱县" and again is not org
        assert second.get(Organisation, again.id) is again  # an ordinary session-bound instance
        second.rollback()


def test_a_cached_session_keeps_what_it_loaded(app: App) -> None:
    """The identity map is weak: without the session holding on, a second get of an instance nobody references
    would be served (merged) again."""
    cache = QueryCache()
    with app.session_factory() as s:
        row = s.execute(select(Revision.plan, Revision.people)).one()
        cache.sync(int(row[0]), int(row[1]))
        cache.attach(s)
        org_id = s.execute(select(Organisation.id).where(Organisation.name == "墨脱县")).scalar_one()
        served = cache.hits + cache.misses
        first = s.get(Organisation, org_id)
        assert first is not None and cache.hits + cache.misses == served + 1
        ident = id(first)
        del first
        gc.collect()
        again = s.get(Organisation, org_id)
        assert again is not None and id(again) == ident
        assert cache.hits + cache.misses == served + 1  # from the identity map, not served again
        s.rollback()


def test_a_session_that_wrote_reads_its_own_writes(app: App) -> None:
    cache = QueryCache()
    with app.session_factory() as s:
        row = s.execute(select(Revision.plan, Revision.people)).one()
        cache.sync(int(row[0]), int(row[1]))
        cache.attach(s)
        name = s.execute(select(Organisation.name).where(Organisation.name == "墨脱县")).scalar_one()
        assert name == "墨脱县" and cache.misses == 1
        s.execute(update(Organisation).where(Organisation.name == "墨脱县").values(name="墨脱县2"))
        assert s.execute(select(Organisation.name).where(Organisation.name == "墨脱县2")).scalar_one() == "墨脱县2"
        assert s.execute(select(Organisation.name).where(Organisation.name == "墨脱县")).scalar_one_or_none() is None
        s.rollback()
    assert cache.hits == 0


def test_a_chat_is_free_behind_replies_already_delivered_and_not_behind_others(app: App) -> None:
    """The free-chat check sees an unsent reply, except one this process delivered and has not recorded yet."""
    from core.messages import Reply
    from db.repositories import inbox
    from db.repositories import outbox as outbox_repo

    now = app.clock.utcnow()
    with transaction(app.session_factory) as s:
        ids = outbox_repo.enqueue_replies(s, CHANNEL, "m1", "c1", [Reply("一"), Reply("二")], "w1", now=now)
        assert all(ids)
    wall = dt.datetime(2023, 5, 24, 1, 0)
    with transaction(app.session_factory) as s:
        assert inbox.free_chat(s, CHANNEL, "c1", wall) is True  # two replies still going out
        assert inbox.free_chat(s, CHANNEL, "c1", wall, [i for i in ids if i]) is False  # both delivered
        assert inbox.free_chat(s, CHANNEL, "c1", wall, [ids[0] or 0]) is True  # one still going out
        assert inbox.free_chat(s, CHANNEL, "other", wall, [1, 2, 3]) is False
        inbox.store(s, CHANNEL, [Update("p1", "c2", "u", {"text": "x"})], wall, 0)
        assert inbox.free_chat(s, CHANNEL, "c2", wall) is None  # a row pending: not free


async def test_a_chat_change_rolled_back_is_written_by_the_next_message(process: Process, app: App) -> None:
    """The engine skips the private-chat check while nothing changed; a change it made in a transaction that was
    rolled back (the start-up warm-up, a failed handling) must not count as made."""
    from db.models import Identity

    await process.say("motuo", "帮助")
    with transaction(app.session_factory) as s:
        s.execute(update(Identity).where(Identity.external_id == "motuo").values(chat_id="elsewhere"))
    with app.session_factory() as s:
        app.engine.respond(s, StubChannel.message("motuo", "帮助", "rolled-back"), app.clock.utcnow())
        s.rollback()
    await process.say("motuo", "帮助")
    with app.session_factory() as s:
        assert s.scalar(select(Identity.chat_id).where(Identity.external_id == "motuo")) == "motuo"
