"""Guessing invite codes is throttled per user and per chat, and a stranger is told how to bind once, then left
unanswered for a while (except for invite codes)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import App, build_app
from core.messages import IncomingMessage, Reply
from db.engine import make_engine, make_session_factory, transaction
from db.models import AuthFailure, Conversation, InviteCode
from db.repositories import conversations, orgs, people, throttle
from handlers import binding, texts
from handlers.context import IDLE, Context
from tests.conftest import Chat, pass_stranger_quiet_time

NOW = dt.datetime(2023, 5, 24, 1, 0)  # naive UTC
WINDOW = dt.timedelta(minutes=15)
MINUTE = dt.timedelta(minutes=1)


def wait_text(minutes: int) -> str:
    return texts.BIND_LOCKED.format(minutes=minutes)


def invite(app: App, org: str = "波密县") -> str:
    with transaction(app.session_factory) as s:
        return people.new_invite(s, orgs.require_org(s, org), "official", app.clock.utcnow(), dt.timedelta(days=7)).code


def bound(app: App, channel: str, user_id: str) -> bool:
    with app.session_factory() as s:
        return people.find_by_identity(s, channel, user_id) is not None


def failures(app: App, key: str) -> int:
    with app.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(AuthFailure).where(AuthFailure.key == key)) or 0)


def advance(app: App, delta: dt.timedelta) -> None:
    app.clock.set(app.clock.now() + delta, frozen=True)


# ---- the repository -------------------------------------------------------------------------------------------


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine: Engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.mark.both_backends
def test_a_key_is_locked_until_its_fifth_newest_failure_leaves_the_window(factory: sessionmaker[Session]) -> None:
    user, chat = "user:telegram:1", "chat:telegram:1"
    with transaction(factory) as s:
        for minutes_ago in (16, 14, 12, 10, 8):
            throttle.record_failure(s, [user], NOW - minutes_ago * MINUTE)
        assert throttle.locked_for(s, [user], NOW, 5, WINDOW) is None  # the one 16 minutes ago is out
        throttle.record_failure(s, [user, chat], NOW - 6 * MINUTE)
        assert throttle.locked_for(s, [user], NOW, 5, WINDOW) == MINUTE  # until the one 14 minutes ago is out
        throttle.record_failure(s, [user, chat], NOW - 2 * MINUTE)
        # Six within the window: locked until the fifth newest (12 minutes ago) is 15 minutes old.
        assert throttle.locked_for(s, [user], NOW, 5, WINDOW) == 3 * MINUTE
        assert throttle.locks(s, [chat, user], NOW, 5, WINDOW) == {user: 3 * MINUTE}
        assert throttle.locked_for(s, ["user:telegram:2", chat], NOW, 5, WINDOW) is None
        assert throttle.locked_for(s, [chat], NOW, 2, WINDOW) == 9 * MINUTE
        assert throttle.locked_for(s, [user], NOW + 3 * MINUTE, 5, WINDOW) is None
        assert throttle.locked_for(s, [user], NOW, 7, WINDOW) is None
        assert throttle.locked_for(s, [user], NOW, 0, WINDOW) is None  # the limit turned off


@pytest.mark.both_backends
def test_prune_deletes_old_failures_in_batches(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        for minutes_ago in range(10):
            throttle.record_failure(s, ["user:wecom:a"], NOW - minutes_ago * MINUTE)
    with transaction(factory) as s:
        assert throttle.prune(s, NOW - 4 * MINUTE, batch=3) == 3
    with transaction(factory) as s:
        assert throttle.prune(s, NOW - 4 * MINUTE, batch=3) == 2
        assert throttle.prune(s, NOW - 4 * MINUTE, batch=3) == 0
    with factory() as s:
        left = sorted(s.execute(select(AuthFailure.at)).scalars())
    assert left == [NOW - m * MINUTE for m in range(4, -1, -1)]


# ---- invite codes through the engine --------------------------------------------------------------------------


def test_twenty_wrong_codes_lock_the_user_and_a_right_code_binds_only_after_the_lock(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    code = invite(app)
    c = Chat(app, "tg-guess", channel="telegram")
    caplog.set_level(logging.WARNING, logger="handlers.binding")
    replies = [c.send(f"/start ZZZZ{i:04d}") for i in range(1, 21)]
    assert all("不存在" in r and texts.BIND_LOCKED[:8] not in r for r in replies[:4]), replies[:4]
    assert "不存在" in replies[4] and wait_text(15) in replies[4]  # the fifth: wrong, and now wait
    assert replies[5:] == [wait_text(15)] * 15
    # Refused attempts are not looked up, and not counted: the lock ends when promised.
    assert failures(app, "user:telegram:tg-guess") == 5
    assert failures(app, "chat:telegram:tg-guess") == 5
    assert not bound(app, "telegram", "tg-guess")

    advance(app, MINUTE)
    assert c.send(f"/start {code}") == wait_text(14)  # the right code, during the lock
    assert not bound(app, "telegram", "tg-guess")
    with app.session_factory() as s:
        row = s.get(InviteCode, code)
        assert row is not None and row.used_at is None

    refusals = [r for r in caplog.records if r.name == "handlers.binding" and r.levelno == logging.WARNING]
    assert len(refusals) == 16
    for r in refusals:
        line = r.getMessage()
        assert "channel=telegram" in line and "user=tg-guess" in line and ":telegram:tg-guess" in line
        assert "ZZZZ" not in line and code not in line

    advance(app, WINDOW - MINUTE)
    assert "绑定成功" in c.send(f"/start {code}")
    assert bound(app, "telegram", "tg-guess")


def test_two_users_in_one_group_chat_share_the_chat_lock(app: App) -> None:
    """The router answers a code sent in a group with "私聊" before `binding.bind` runs, so a group's chat key only
    counts through `bind` itself: it is called here as the router would for a chat that several users share."""
    code = invite(app)
    for i in range(3):
        assert "不存在" in bind_in_group(app, "alice", f"ZZZZ{i:04d}")
    assert "不存在" in bind_in_group(app, "bob", "YYYY0001")
    last = bind_in_group(app, "bob", "YYYY0002")
    assert "不存在" in last and wait_text(15) in last  # the chat's fifth failure: the chat is locked
    assert failures(app, "user:wecom:alice") == 3 and failures(app, "user:wecom:bob") == 2
    assert bind_in_group(app, "carol", code) == wait_text(15)  # a third user, a right code: not looked up
    assert not bound(app, "wecom", "carol")
    advance(app, WINDOW)
    assert "绑定成功" in bind_in_group(app, "carol", code)


def bind_in_group(app: App, user_id: str, code: str) -> str:
    msg = IncomingMessage(channel="wecom", chat_id="group-7", user_id=user_id, text=f"绑定 {code}", is_group=True)
    with transaction(app.session_factory) as s:
        ctx = Context(
            session=s,
            clock=app.clock,
            settings=app.settings,
            msg=msg,
            conversation=conversations.get_or_create(s, "wecom", "group-7", user_id, IDLE, app.clock.utcnow()),
            person=people.find_by_identity(s, "wecom", user_id),
        )
        replies: list[Reply] = binding.bind(ctx, code)
    return "\n".join(r.text for r in replies)


def test_a_code_sent_in_a_group_is_not_looked_up_or_counted(app: App) -> None:
    c = Chat(app, "wx-g", channel="wecom", chat_id="group-8")
    for i in range(6):
        assert c.send(f"绑定 ZZZZ{i:04d}", is_group=True) == texts.GROUP_PRIVATE_ONLY
    assert failures(app, "chat:wecom:group-8") == 0


# ---- strangers ------------------------------------------------------------------------------------------------


def test_a_stranger_is_told_once_then_ignored_for_the_quiet_time(app: App) -> None:
    c = Chat(app, "tg-s", channel="telegram")
    assert c.send("你好") == texts.UNBOUND
    for text in ["在吗", "汇报", "帮助", "墨脱县进度", "/start", "绑定", ""]:
        assert c.send(text) == "", text
        assert c.last == []
    advance(app, dt.timedelta(minutes=app.settings.stranger_quiet_minutes) - dt.timedelta(seconds=1))
    assert c.send("还在吗") == ""
    # A code is always answered, and does not start the quiet time over.
    assert "不存在" in c.send("绑定 ZZZZ0001")
    assert c.send("怎么绑定") == ""
    # The quiet time holds on another process too: it is stored with the conversation.
    other = build_app(app.settings, migrate=False, clock=app.clock, warm_nlu=False)
    try:
        assert Chat(other, "tg-s", channel="telegram").send("喂") == ""
    finally:
        other.close()
    advance(app, dt.timedelta(seconds=1))
    assert c.send("喂") == texts.UNBOUND
    assert c.send("喂") == ""
    with app.session_factory() as s:
        conv = s.get(Conversation, ("telegram", "tg-s", "tg-s"))
        assert conv is not None and conv.state == IDLE and set(conv.data) == {binding.EXPLAINED_AT}


def test_a_stranger_binds_during_the_quiet_time_and_is_answered_at_once(app: App) -> None:
    code = invite(app)
    c = Chat(app, "wx-new", channel="wecom")
    assert c.send("你好") == texts.UNBOUND
    assert c.send("帮助") == ""
    assert "绑定成功" in c.send(f"绑定 {code}")
    assert "汇报" in c.send("帮助")


def test_quiet_time_is_per_stranger(app: App) -> None:
    a, b = Chat(app, "tg-a", channel="telegram"), Chat(app, "tg-b", channel="telegram")
    assert a.send("你好") == texts.UNBOUND
    assert b.send("你好") == texts.UNBOUND
    assert a.send("你好") == ""
    pass_stranger_quiet_time(app)
    assert a.send("你好") == texts.UNBOUND
