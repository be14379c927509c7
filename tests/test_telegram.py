"""The Telegram channel end to end: the real python-telegram-bot Application, pointed by
DUBAN_TELEGRAM_BASE_URL at a fake Bot API server on 127.0.0.1, driving whole conversations through the
engine on every database backend: onboarding by deep link, queries, a check-in with inline buttons and typed
answers, photos as evidence, 429s and server errors in the middle, webhook mode, group chats, long replies,
proactive sends for the outbox, and `duban serve` as a subprocess with nothing but a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram.error import RetryAfter

from bot import serve as bot_serve
from bot.app import App, build_app
from bot.channels.telegram.channel import TelegramChannel, api_urls, webhook_secret
from bot.channels.telegram.inbound import command_to_text
from bot.channels.telegram.limits import TRY_ONCE, TelegramRateLimiter
from bot.engine import Engine
from bot.serve import enabled_channels as real_enabled_channels
from bot.serve import serve
from config.clock import Clock
from config.settings import Settings
from core.channel import PermanentFailure, RetryLater
from core.messages import Choice, IncomingMessage, OutAttachment, Reply, choice_token, parse_choice_token, render_plain
from db.engine import transaction
from db.models import OFFICIAL, Identity, Inbox, Report
from db.repositories import orgs, people
from handlers import texts
from tests.fakes import free_port
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.serving import running

REPO = Path(__file__).resolve().parent.parent
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # not a real image; the bytes must arrive unchanged


# ---- fixtures and helpers -----------------------------------------------------------------------------------


@pytest.fixture
def tg_settings(settings: Settings, api: FakeTelegramAPI) -> Settings:
    return settings.model_copy(update={"telegram_token": api.token, "telegram_base_url": api.url, "http_port": 0})


@pytest.fixture
def tg_app(tg_settings: Settings, clock: Clock) -> Iterator[App]:
    # A running clock: a reply put back for a second (a 429) must come due.
    a = build_app(tg_settings, clock=Clock(clock.tz.key, clock.now()))
    yield a
    a.close()


class Tg:
    """A running Telegram channel and the fake API it talks to; sends as users and waits for the answers."""

    def __init__(self, api: FakeTelegramAPI, channel: TelegramChannel) -> None:
        self.api, self.channel = api, channel

    async def _answers(self, chat_id: int, act: Callable[[], Any], timeout: float = 10) -> str:
        before = len(self.api.sent(chat_id))
        act()
        await self.idle(timeout)
        return "\n".join(self.api.texts(chat_id)[before:])

    async def say(self, chat_id: int, text: str | None, timeout: float = 10, **kw: Any) -> str:
        """Send a message as a user; returns the text of all the bot's replies to it."""
        return await self._answers(chat_id, lambda: self.api.inject_message(chat_id, text, **kw), timeout=timeout)

    async def press(self, chat_id: int, label_part: str, timeout: float = 10) -> str:
        """Press the newest button whose label contains `label_part`; returns the text of the replies."""
        return await self._answers(chat_id, lambda: self.api.press(chat_id, label_part), timeout=timeout)

    async def idle(self, timeout: float = 10) -> None:
        """Wait until every update injected so far is handled completely (all replies sent)."""
        await self.api.wait_for(lambda: self.channel.updates_done >= len(self.api.injected), timeout)
        assert await self.channel.inbox.idle(timeout)


@contextlib.asynccontextmanager
async def serving(app: App, api: FakeTelegramAPI, limiter: TelegramRateLimiter | None = None) -> AsyncIterator[Tg]:
    """Run `serve()` (HTTP server, channels) until the block ends.

    The per-chat flood limit is raised (unless `limiter` is given): a test types faster than a person, and
    1/s per chat would make every dialogue test wait; the limiter has its own test.
    """
    channels: list[Any] = []

    def capture(a: App) -> list[Any]:
        channels.extend(real_enabled_channels(a))
        for ch in channels:
            if isinstance(ch, TelegramChannel):
                ch.limiter = limiter or fast_limiter()
        return channels

    stop, ready = asyncio.Event(), asyncio.Event()
    with mock.patch.object(bot_serve, "enabled_channels", capture):
        task = asyncio.create_task(serve(app, stop, ready))
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait({task, waiter}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            waiter.cancel()
            task.result()  # serve() ended early: raise its error
        assert ready.is_set(), "serve() did not become ready"
        try:
            yield Tg(api, channels[0])
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)


@contextlib.asynccontextmanager
async def channel_running(
    app: App, port: int = 0, limiter: TelegramRateLimiter | None = None
) -> AsyncIterator[TelegramChannel]:
    """The channel alone on its own aiohttp server, for tests that need the channel object."""
    channel = TelegramChannel(app.settings, limiter=limiter or fast_limiter())
    async with running(app, channel, port=port):
        yield channel


def fast_limiter() -> TelegramRateLimiter:
    return TelegramRateLimiter(chat_burst=20, chat_per_second=50)


def bind_user(app: App, tg_id: int, org: str = "墨脱县", role: str = OFFICIAL, name: str | None = None) -> None:
    with transaction(app.session_factory) as s:
        people.add_person(
            s, name or f"tg{tg_id}", orgs.require_org(s, org), role, app.clock.utcnow(), {"telegram": str(tg_id)}
        )


class ScriptedEngine(Engine):
    """The engine with scripted answers, where a test is about the channel's mechanics, not about what duban
    says. Everything around the answer (the inbox, duplicates, the outbox) is the real engine's."""

    def __init__(self, app: App, script: Callable[[IncomingMessage], list[Reply]]) -> None:
        super().__init__(app.session_factory, app.clock, app.settings, app.services)
        self.script = script
        self.seen: list[IncomingMessage] = []

    def _dispatch(
        self, session: Session, msg: IncomingMessage, now: dt.datetime, resend: bool = False, dedupe: bool = True
    ) -> list[Reply]:
        self.seen.append(msg)  # duplicates too: whether the channel passes them on is what some tests check
        return super()._dispatch(session, msg, now, resend, dedupe)

    def respond(self, session: Session, msg: IncomingMessage, now: dt.datetime) -> list[Reply]:
        return self.script(msg)


def ask(question_id: str, choices: list[Choice]) -> list[Choice]:
    """The choices as the engine sends them with the question it waits for: each stamped with a token."""
    return [Choice(c.label, c.value, choice_token(question_id, i)) for i, c in enumerate(choices)]


def answer_of(text: str, choices: list[Choice]) -> str:
    """What the engine makes of a press: the value of the choice its token names."""
    token = parse_choice_token(text)
    return choices[token[1]].value if token else text


# ---- start-up, onboarding, queries --------------------------------------------------------------------------


async def test_deep_link_onboarding_binds_the_user(tg_app: App, api: FakeTelegramAPI) -> None:
    with transaction(tg_app.session_factory) as s:
        code = people.new_invite(
            s, orgs.require_org(s, "墨脱县"), OFFICIAL, tg_app.clock.utcnow(), dt.timedelta(days=7)
        ).code
    async with serving(tg_app, api) as tg:
        # Start-up: identity, the command menu, polling (after removing any webhook).
        assert [c.method for c in api.calls[:2]] == ["getMe", "setMyCommands"]
        assert [c["command"] for c in api.commands] == ["report", "progress", "overdue", "mytasks", "help", "cancel"]
        descriptions = " ".join(c["description"] for c in api.commands)
        for word in ("汇报", "进度", "逾期", "我的任务", "帮助", "取消"):
            assert word in descriptions
        assert api.calls_of("deleteWebhook")

        assert "绑定" in await tg.say(5001, "/start", first_name="卓玛")  # a stranger without a code
        reply = await tg.say(5001, f"/start {code}", first_name="卓玛")
        assert "绑定成功" in reply and "墨脱县" in reply
        assert "已被使用" in await tg.say(5002, f"/start {code}")  # one-time code
    with tg_app.session_factory() as s:
        person = people.find_by_identity(s, "telegram", "5001")
        assert person is not None and person.name == "卓玛" and person.organisation.name == "墨脱县"
        ident = s.execute(select(Identity).where(Identity.external_id == "5001")).scalar_one()
        assert ident.chat_id == "5001"  # where proactive messages will go
        assert people.find_by_identity(s, "telegram", "5002") is None


async def test_queries_and_commands(tg_app: App, api: FakeTelegramAPI) -> None:
    bind_user(tg_app, 6001, "市委生态文明办", "coordinator")
    async with serving(tg_app, api) as tg:
        assert await tg.say(6001, "帮助") == texts.HELP_COORDINATOR
        assert await tg.say(6001, "/cancel") == texts.NOTHING_TO_CANCEL
        assert await tg.say(6001, "/help") == texts.HELP_COORDINATOR
        assert await tg.say(6001, "/help@duban_test_bot") == texts.HELP_COORDINATOR
        assert (await tg.say(6001, "墨脱县进度")).strip()
        assert (await tg.say(6001, "/progress 墨脱县")).strip()
    assert all(c.status == 200 for c in api.calls_of("sendMessage"))


def test_commands_map_to_the_words_the_engine_knows() -> None:
    assert command_to_text("/report") == "汇报"
    assert command_to_text("/report@duban_test_bot") == "汇报"
    assert command_to_text("/progress") == "进度"
    assert command_to_text("/progress 墨脱县") == "墨脱县进度"
    assert command_to_text("/overdue 市林草局") == "市林草局逾期"
    assert command_to_text("/mytasks") == "我的任务"
    assert command_to_text("/cancel") == "取消"
    assert command_to_text("/start AB12CD34") == "/start AB12CD34"
    assert command_to_text("/continue") == "/continue"
    assert command_to_text("墨脱县进度") == "墨脱县进度"


def test_base_url_takes_the_server_root(tmp_path: Path) -> None:
    def urls(**kw: Any) -> tuple[str, str]:
        return api_urls(Settings(data_dir=tmp_path, telegram_token="1:x", **kw))

    assert urls() == ("https://api.telegram.org/bot", "https://api.telegram.org/file/bot")
    assert urls(telegram_base_url="http://127.0.0.1:8081") == (
        "http://127.0.0.1:8081/bot",
        "http://127.0.0.1:8081/file/bot",
    )
    assert urls(telegram_base_url="http://tg.local:8081/") == (
        "http://tg.local:8081/bot",
        "http://tg.local:8081/file/bot",
    )
    assert urls(telegram_base_url="http://tg.local/bot") == ("http://tg.local/bot", "http://tg.local/file/bot")
    assert urls(telegram_base_url="http://a", telegram_base_file_url="http://files") == (
        "http://a/bot",
        "http://files/file/bot",
    )


# ---- the check-in dialogue (behaviour of handlers/checkin.py: adjust here when the dialogue changes) ---------


async def test_checkin_with_buttons_typed_answers_and_a_photo(tg_app: App, api: FakeTelegramAPI) -> None:
    chat = 7001
    bind_user(tg_app, chat, "墨脱县", OFFICIAL, name="墨脱县填报人甲")
    async with serving(tg_app, api) as tg:
        await tg.say(chat, "/report")
        tasks = api.last_keyboard_message(chat)
        assert tasks is not None and len(api.buttons(tasks)) >= 2  # the task list as buttons
        first_label = api.buttons(tasks)[0][0]

        status_question = await tg.press(chat, first_label)
        pressed = api.sent(chat)[api.sent(chat).index(tasks)]
        assert not api.buttons(pressed), "the pressed keyboard must be gone"
        assert texts.TG_CHOSEN.format(label=first_label) in pressed["text"]
        assert status_question
        labels = [b[0] for b in api.buttons(api.sent(chat)[-1])]
        assert set(texts.STATUS_LABELS.values()) <= set(labels)  # 未启动/推进中/已完成/受阻

        await tg.press(chat, texts.STATUS_LABELS["in_progress"])
        await tg.say(chat, "60%")  # typed answers
        await tg.say(chat, "完成污水管网铺设两公里")
        await tg.press(chat, texts.CHOICE_SKIP)  # problems
        await tg.press(chat, texts.CHOICE_SKIP)  # next step
        evidence_prompt = await tg.say(chat, "6月30日")
        assert "佐证" in evidence_prompt
        await tg.say(chat, None, photo=PNG)
        await tg.press(chat, texts.CHOICE_DONE)
        summary = api.texts(chat)[-1]
        assert "60%" in summary
        done = await tg.press(chat, texts.CHOICE_CONFIRM)
        assert "已提交" in done

        # Every button press was answered.
        answered = set(api.answered_callbacks)
        pressed_ids = {u["callback_query"]["id"] for u in api.injected if "callback_query" in u}
        assert pressed_ids and pressed_ids <= answered

        # 取消 ends a new check-in.
        await tg.say(chat, "汇报")
        await tg.say(chat, "取消")
        state, _ = tg_app.engine.conversation_state("telegram", str(chat), str(chat))
        assert not state.startswith("checkin.")

    with tg_app.session_factory() as s:
        report = s.execute(select(Report).order_by(Report.id.desc())).scalars().first()
        assert report is not None
        atts = list(report.attachments)
        assert len(atts) == 1 and atts[0].kind == "photo" and atts[0].channel == "telegram"
        stored = Path(atts[0].path)
        assert stored.parent == (tg_app.settings.data_dir / "evidence" / "telegram").resolve()
        assert stored.read_bytes() == PNG


# ---- buttons, files, long replies (the channel's mechanics, with a scripted engine) --------------------------


async def test_checkin_by_presses_each_pressed_message_edited_and_an_old_press_refused(
    tg_app: App, api: FakeTelegramAPI
) -> None:
    """Telegram's side of the cards: a check-in by button presses (only the work done is typed), every pressed
    message edited to show the choice with its keyboard gone, so the chat reads as a record; a press on an old
    question's button that is still on screen is refused and its message says it has expired."""
    chat = 7002
    bind_user(tg_app, chat, "墨脱县", OFFICIAL, name="墨脱县填报人乙")
    async with serving(tg_app, api) as tg:
        await tg.say(chat, "汇报")
        tasks = api.last_keyboard_message(chat)
        assert tasks is not None
        await tg.press(chat, api.buttons(tasks)[0][0])
        await tg.press(chat, texts.STATUS_LABELS["in_progress"])
        bands = api.last_keyboard_message(chat)
        assert bands is not None and [b[0] for b in api.buttons(bands)] == [x for x, _ in texts.PERCENT_BANDS]
        await tg.press(chat, "约75%")
        await tg.say(chat, "完成污水管网铺设两公里")  # the work done: written
        problems = api.last_keyboard_message(chat)
        assert problems is not None
        await tg.say(chat, texts.CHOICE_SKIP)  # typed: the problems question's buttons stay on screen
        stale = await tg._answers(
            chat, lambda: api.inject_callback(chat, api.buttons(problems)[0][1], problems["message_id"])
        )
        assert stale.startswith(texts.K_STALE), stale
        for label in (texts.CHOICE_SKIP, texts.CHOICE_SKIP, texts.CHOICE_SKIP):  # 下一步, 预计完成, 佐证
            await tg.press(chat, label)
        done = await tg.press(chat, texts.CHOICE_CONFIRM)
        assert "已提交" in done
        edited = {m["message_id"]: m for m in api.sent(chat)}
        assert texts.TG_EXPIRED_MARK in edited[problems["message_id"]]["text"]
        assert not api.buttons(edited[problems["message_id"]])
        pressed = {u["callback_query"]["message"]["message_id"] for u in api.injected if "callback_query" in u}
        for mid in pressed:  # every pressed message: no keyboard left, the choice (or the expiry) written in
            assert not api.buttons(edited[mid]), edited[mid]
            assert "✅ 已选择：" in edited[mid]["text"] or texts.TG_EXPIRED_MARK in edited[mid]["text"]
        assert "✅ 已选择：约75%" in edited[bands["message_id"]]["text"]
    with tg_app.session_factory() as s:
        report = s.execute(select(Report).order_by(Report.id.desc())).scalars().first()
        assert report is not None and (report.status, report.percent) == ("in_progress", 75)


async def test_inline_buttons_callback_values_and_double_presses(tg_app: App, api: FakeTelegramAPI) -> None:
    long_value = "选择:" + "很长的选项值" * 10  # > 64 bytes: only the choice's token fits in a button
    choices = ask(
        "q8001",
        [
            Choice("推进中", "status:in_progress"),
            Choice("一个很长的选项", long_value),
            Choice("受阻", "status:blocked"),
        ],
    )

    def respond(msg: IncomingMessage) -> list[Reply]:
        if msg.is_choice:
            return [Reply(f"收到：{answer_of(msg.text, choices)}")]
        return [Reply("请选择状态：", choices=choices)]

    engine = ScriptedEngine(tg_app, respond)
    tg_app.engine = engine  # type: ignore[assignment]
    async with serving(tg_app, api) as tg:
        await tg.say(8001, "开始")
        keyboard = api.last_keyboard_message(8001)
        assert keyboard is not None
        data = [d for _, d in api.buttons(keyboard)]
        assert data == [c.token for c in choices] and all(len(d.encode()) <= 64 for d in data)

        assert await tg.press(8001, "一个很长") == f"收到：{long_value}"
        seen = engine.seen[-1]
        assert seen.is_choice and seen.text == choices[1].token and seen.chat_id == "8001" and seen.user_id == "8001"

        # A second press on the same keyboard is the same choice: the inbox keeps one row for the keyboard, the
        # engine never sees the second press, and its button stops spinning.
        answered = len(api.texts(8001))
        api.inject_callback(8001, data[2], keyboard["message_id"])
        await api.wait_for(lambda: len(api.answered_callbacks) == 2)
        assert len(engine.seen) == 2 and len(api.texts(8001)) == answered
        with tg_app.session_factory() as s:
            keys = s.scalars(select(Inbox.message_id).where(Inbox.message_id.like("cb:%"))).all()
        assert keys == [f"cb:8001:{keyboard['message_id']}"]

        # A button of an earlier release (a hash that release mapped in memory) is answered with a notice, never
        # left spinning.
        api.inject_callback(8001, "~00000000000000000000000000000000", keyboard["message_id"])
        await api.wait_for(lambda: len(api.answered_callbacks) == 3)
        expired = list(api.answered_callbacks.values())[-1]
        assert expired.get("text") == texts.TG_BUTTON_EXPIRED
        assert len(engine.seen) == 2
        # Every press was answered.
        assert len(api.calls_of("answerCallbackQuery")) == 3


async def test_a_button_means_the_same_after_a_restart(tg_app: App, api: FakeTelegramAPI) -> None:
    """Callback data is the choice's payload and nothing is kept in memory: a new channel object (a restart, or
    another process) hands the engine exactly what the button carries."""
    choices = ask("r8201", [Choice("推进中", "status:in_progress"), Choice("受阻", "status:blocked")])
    engine = ScriptedEngine(
        tg_app, lambda m: [Reply("收到")] if m.is_choice else [Reply("请选择状态：", choices=choices)]
    )
    tg_app.engine = engine  # type: ignore[assignment]
    async with channel_running(tg_app) as first:
        api.inject_message(8201, "开始")
        await api.wait_for(lambda: api.last_keyboard_message(8201) is not None)
        await first.inbox.idle(10)
    keyboard = api.last_keyboard_message(8201)
    assert keyboard is not None and [d for _, d in api.buttons(keyboard)] == [c.token for c in choices]
    async with channel_running(tg_app) as second:
        assert second is not first
        api.press(8201, "受阻")
        await api.wait_for(lambda: any(m.is_choice for m in engine.seen))
        await api.wait_for(lambda: "收到" in api.texts(8201))
    pressed = [m for m in engine.seen if m.is_choice]
    assert [(m.text, m.chat_id, m.user_id) for m in pressed] == [(choices[1].token, "8201", "8201")]


async def test_a_choice_too_long_for_a_button_is_listed_in_the_text(tg_app: App, api: FakeTelegramAPI) -> None:
    """A proactive message's choice sends its value; a value over 64 bytes cannot be a button, and nothing is
    kept in memory to stand for it: it gets no button, and the text lists every choice."""
    long_value = "选择:" + "很长的选项值" * 10
    reply = Reply("本周汇报？", choices=[Choice("开始汇报", "汇报"), Choice("另一件事", long_value)])
    async with channel_running(tg_app) as channel:
        await channel.send("13101", reply)
        await channel.send("13102", Reply("只有长选项", choices=[Choice("另一件事", long_value)]))
    (sent,) = api.sent(13101)
    assert api.buttons(sent) == [("开始汇报", "汇报")]
    assert sent["text"] == render_plain(reply) == "本周汇报？\n\n1. 开始汇报\n2. 另一件事"
    (only_long,) = api.sent(13102)
    assert not api.buttons(only_long) and only_long["text"] == "只有长选项\n\n1. 另一件事"


async def test_callback_answered_even_when_the_engine_fails(tg_app: App, api: FakeTelegramAPI) -> None:
    def respond(msg: IncomingMessage) -> list[Reply]:
        if msg.is_choice:
            raise RuntimeError("engine exploded")
        return [Reply("选一个", choices=[Choice("甲", "a")])]

    tg_app.engine = ScriptedEngine(tg_app, respond)  # type: ignore[assignment]
    async with serving(tg_app, api) as tg:
        await tg.say(8101, "开始")
        reply = await tg.press(8101, "甲")
        assert reply == texts.INTERNAL_ERROR
        assert len(api.answered_callbacks) == 1
        # The keyboard stays after a failure, so the user can press again.
        assert api.last_keyboard_message(8101) is not None
        assert await tg.say(8101, "还在吗") == "选一个"  # and the process carries on


async def test_photos_and_documents_become_evidence(tg_app: App, api: FakeTelegramAPI) -> None:
    engine = ScriptedEngine(tg_app, lambda msg: [Reply(f"收到{len(msg.attachments)}个附件")])
    tg_app.engine = engine  # type: ignore[assignment]
    evidence = tg_app.settings.data_dir / "evidence" / "telegram"
    async with serving(tg_app, api):
        before = len(api.sent(9001))
        api.inject_message(9001, photo=PNG, caption="现场照片")
        api.inject_message(9001, document=("验收报告.pdf", b"%PDF-1.4 fake", "application/pdf"))
        api.inject_message(9001, "你好")
        await api.wait_for(lambda: len(api.sent(9001)) >= before + 3)
        assert api.texts(9001)[-3:] == ["收到1个附件", "收到1个附件", "收到0个附件"]  # in order

    photo_msg, doc_msg = engine.seen[0], engine.seen[1]
    assert photo_msg.text == "现场照片"
    (photo,) = photo_msg.attachments
    assert photo.kind == "photo" and photo.mime_type == "image/jpeg" and photo.size == len(PNG)
    assert Path(photo.local_path).parent == evidence.resolve() and Path(photo.local_path).read_bytes() == PNG
    (doc,) = doc_msg.attachments
    assert doc.kind == "file" and doc.file_name == "验收报告.pdf" and doc.mime_type == "application/pdf"
    assert doc.local_path.endswith(".pdf") and Path(doc.local_path).read_bytes() == b"%PDF-1.4 fake"
    # The largest size of the photo was downloaded, not the thumbnail.
    assert sorted(p.name for p in evidence.iterdir()) == sorted(
        [Path(photo.local_path).name, Path(doc.local_path).name]
    )


async def test_failed_download_apologises_and_the_user_can_continue(tg_app: App, api: FakeTelegramAPI) -> None:
    engine = ScriptedEngine(tg_app, lambda msg: [Reply("好的")])
    tg_app.engine = engine  # type: ignore[assignment]
    api.fail_next("getFile", times=10, status=500)
    async with serving(tg_app, api) as tg:
        tg.channel.retry_delays = (0.05, 0.1, 0.2)
        assert await tg.say(9101, None, photo=PNG) == texts.TG_MEDIA_FAILED
        assert engine.seen == []  # nothing half-received reached the engine
        assert await tg.say(9101, "再试一次") == "好的"
    assert len(api.calls_of("getFile")) == 4  # one try and three retries


async def test_unsupported_message_gets_a_hint(tg_app: App, api: FakeTelegramAPI) -> None:
    async with serving(tg_app, api):
        before = len(api.sent(9201))
        api.inject_update(
            {
                "message": {
                    "message_id": 99999,
                    "date": 0,
                    "chat": {"id": 9201, "type": "private"},
                    "from": {"id": 9201, "is_bot": False, "first_name": "x"},
                    "sticker": {
                        "file_id": "s",
                        "file_unique_id": "s",
                        "width": 1,
                        "height": 1,
                        "is_animated": False,
                        "is_video": False,
                        "type": "regular",
                    },
                }
            }
        )
        await api.wait_for(lambda: len(api.sent(9201)) > before)
        assert api.texts(9201)[-1] == texts.TG_UNSUPPORTED


async def test_long_reply_is_split_cleanly(tg_app: App, api: FakeTelegramAPI) -> None:
    lines = [f"{i:04d} 墨脱县某项任务的进展说明，内容较长以便测试拆分。" for i in range(400)]
    long_text = "\n".join(lines)
    assert len(long_text) > 2 * 4096
    tg_app.engine = ScriptedEngine(tg_app, lambda msg: [Reply(long_text, choices=[Choice("下一页", "next")])])  # type: ignore[assignment]
    async with serving(tg_app, api) as tg:
        await tg.say(9301, "全市进度", timeout=15)
    parts = api.sent(9301)
    assert all(len(m["text"]) <= 4096 for m in parts)
    assert "\n".join(m["text"] for m in parts) == long_text  # split at line breaks, nothing lost
    assert [bool(api.buttons(m)) for m in parts] == [False] * (len(parts) - 1) + [True]  # keyboard on the last


# ---- failures: 429, server errors, per-chat independence ----------------------------------------------------


async def test_429_in_the_middle_is_waited_out(tg_app: App, api: FakeTelegramAPI) -> None:
    bind_user(tg_app, 10001)
    async with serving(tg_app, api) as tg:
        api.fail_next("sendMessage", times=1, status=429, retry_after=1)
        assert await tg.say(10001, "帮助") == texts.HELP_OFFICIAL
        # Told to wait, waited (how long: test_flood_limiter_waits_out_a_429_in_that_chat_only), sent once.
        assert [c.status for c in api.calls_of("sendMessage")] == [429, 200]

        tg.channel.retry_delays = (0.05, 0.1, 0.2)
        api.fail_next("sendMessage", times=2, status=500)  # a flaky server: retried with backoff
        assert await tg.say(10001, "帮助") == texts.HELP_OFFICIAL
        api.fail_next("getUpdates", times=2, status=502)  # polling survives server errors
        assert await tg.say(10001, "帮助", timeout=20) == texts.HELP_OFFICIAL


async def test_a_wait_in_one_chat_does_not_hold_up_another(tg_app: App, api: FakeTelegramAPI) -> None:
    bind_user(tg_app, 10101)
    bind_user(tg_app, 10102)
    async with serving(tg_app, api) as tg:
        api.fail_next("sendMessage", times=1, status=429, retry_after=1)
        api.inject_message(10101, "帮助")
        await api.wait_for(lambda: api.calls_of("sendMessage"))  # chat 10101 got the 429 and waits
        api.inject_message(10102, "帮助")
        await api.wait_for(lambda: api.sent(10102))
        assert api.texts(10102) == [texts.HELP_OFFICIAL]
        assert not api.sent(10101)
        await tg.idle()
        assert api.texts(10101) == [texts.HELP_OFFICIAL]


class LoopClock:
    """The running event loop's clock, stopped, and moved only by the test: whatever waits on it (asyncio.sleep,
    call_later, the rate limiters' leaky buckets) resumes exactly when the test has moved it far enough."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        await settle()


async def settle(turns: int = 50) -> None:
    """Let every task that can go on, go on (nothing timed fires while the clock stands still)."""
    for _ in range(turns):
        await asyncio.sleep(0)


@pytest.fixture
async def loop_clock(monkeypatch: pytest.MonkeyPatch) -> LoopClock:
    loop = asyncio.get_running_loop()
    clock = LoopClock(loop.time())
    monkeypatch.setattr(loop, "time", clock)
    return clock


def limited(
    limiter: TelegramRateLimiter, chat: int, callback: Callable[[], Any] | None = None, tries: Any = None
) -> asyncio.Task[Any]:
    """Send one message to `chat` through the limiter, as a task."""

    async def ok() -> bool:
        return True

    return asyncio.create_task(limiter.process_request(callback or ok, (), {}, "sendMessage", {"chat_id": chat}, tries))


async def test_flood_limiter_spaces_messages_per_chat(loop_clock: LoopClock) -> None:
    limiter = TelegramRateLimiter(overall_max_rate=1000, chat_burst=2)  # a burst of 2, then 1/s
    other_chats = [limited(limiter, chat) for chat in range(1, 6)]
    await settle()
    assert all(t.done() for t in other_chats)  # different chats: nobody waits, the clock has not moved
    one_chat = [limited(limiter, 99) for _ in range(3)]
    await settle()
    assert [t.done() for t in one_chat] == [True, True, False]  # the burst goes at once, the third waits
    await loop_clock.advance(0.9)
    assert not one_chat[2].done()
    await loop_clock.advance(0.2)
    assert one_chat[2].done()  # about a second after the burst


async def test_rate_limiter_waits_out_a_429_for_its_chat_only(loop_clock: LoopClock) -> None:
    limiter = TelegramRateLimiter(overall_max_rate=1000, chat_burst=100, chat_per_second=100)
    flooded = 0
    wait = dt.timedelta(seconds=1)

    async def flood() -> bool:
        nonlocal flooded
        flooded += 1
        raise RetryAfter(wait)

    # Tried once: the caller (the outbox) reschedules the message itself.
    once = limited(limiter, 1, flood, TRY_ONCE)
    await settle()
    assert once.done() and isinstance(once.exception(), RetryAfter) and flooded == 1
    other = limited(limiter, 2)
    await settle()
    assert other.done()  # another chat goes on at once
    same = limited(limiter, 1)
    await settle()
    assert not same.done()
    await loop_clock.advance(0.9)
    assert not same.done()
    await loop_clock.advance(0.2)
    assert same.done() and same.result() is True  # the chat the 429 was for waits out its second
    # By default a 429 is retried (three times), then raised.
    wait = dt.timedelta(seconds=0.1)
    retried = limited(limiter, 3, flood)
    for _ in range(10):
        await loop_clock.advance(0.2)
    assert retried.done() and isinstance(retried.exception(), RetryAfter)
    assert flooded == 1 + 4


# ---- webhook mode -------------------------------------------------------------------------------------------


async def test_webhook_checks_the_secret(tg_settings: Settings, clock: Clock, api: FakeTelegramAPI) -> None:
    port = free_port()
    path = tg_settings.telegram_webhook_path
    s = tg_settings.model_copy(update={"http_port": port, "telegram_webhook_url": f"http://127.0.0.1:{port}{path}"})
    app = build_app(s, clock=clock)
    bind_user(app, 11001)
    try:
        async with serving(app, api) as tg:
            assert api.webhook is not None and api.webhook["url"].endswith(path)
            secret = api.webhook["secret_token"]
            assert secret == webhook_secret(s) and len(secret) >= 32
            assert not api.calls_of("getUpdates")  # no polling in webhook mode

            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 11001, "type": "private"},
                    "from": {"id": 11001, "is_bot": False, "first_name": "x"},
                    "text": "帮助",
                },
            }
            assert await api.push_webhook(update, secret=None) == 403
            assert await api.push_webhook(update, secret="wrong") == 403
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    health = await resp.json()
            assert health["ok"] and health["channels"] == ["telegram"]
            assert tg.channel.updates_done == 0 and not api.sent(11001)  # nothing was handled

            # Telegram pushes with the secret it was given: handled and answered.
            api.inject_message(11001, "帮助")
            await api.wait_for(lambda: api.sent(11001))
            assert api.texts(11001) == [texts.HELP_OFFICIAL]
            assert api.webhook_deliveries[-1][1] == 200
    finally:
        app.close()


# ---- groups -------------------------------------------------------------------------------------------------


async def test_group_chat_answers_only_when_addressed(tg_app: App, api: FakeTelegramAPI) -> None:
    group = -100555
    bind_user(tg_app, 12001, "市委生态文明办", "coordinator")
    async with serving(tg_app, api) as tg:
        kw: dict[str, Any] = {"user_id": 12001, "chat_type": "supergroup"}
        api.inject_message(group, "墨脱县进度", **kw)  # not addressed: ignored
        api.inject_message(group, "/report@some_other_bot", **kw)  # another bot's command: ignored
        reply = await tg.say(group, "@duban_test_bot 帮助", **kw)
        assert reply == texts.HELP_COORDINATOR
        assert len(api.sent(group)) == 1  # the two earlier messages got nothing (a chat's updates run in order)

        assert await tg.say(group, "/report@duban_test_bot", **kw) == texts.GROUP_PRIVATE_ONLY
        assert await tg.say(group, "汇报 @duban_test_bot", **kw) == texts.GROUP_PRIVATE_ONLY
        bot_message = api.sent(group)[-1]["message_id"]
        assert (await tg.say(group, "墨脱县进度", reply_to_message_id=bot_message, **kw)).strip()

        # A photo in a group is not downloaded: evidence belongs to a private check-in.
        api.inject_message(group, None, photo=PNG, **kw)
        await tg.say(group, "/help", **kw)
        assert not api.calls_of("getFile")
    with tg_app.session_factory() as s:
        ident = s.execute(select(Identity).where(Identity.external_id == "12001")).scalar_one()
        assert ident.chat_id == "12001"  # a group never becomes the person's private chat


async def test_the_workbook_asked_in_the_chat_arrives_as_a_document(tg_app: App, api: FakeTelegramAPI) -> None:
    """ "导出" over the real PTB and the fake Bot API: the text, then the workbook as a document that opens."""
    bind_user(tg_app, 14001, "墨脱县", OFFICIAL)
    async with serving(tg_app, api) as tg:
        answer = await tg.say(14001, "导出")
        assert answer.startswith("墨脱县完成情况汇总表")
        await api.wait_for(lambda: any("document" in m for m in api.sent(14001)))
    (doc,) = [m["document"] for m in api.sent(14001) if "document" in m]
    assert doc["file_name"].startswith("完成情况汇总-墨脱县-") and doc["file_name"].endswith(".xlsx")
    book = load_workbook(io.BytesIO(api.file_content(doc["file_id"])))
    assert texts.EXPORT_SHEET_TASKS in book.sheetnames and "墨脱县" in str(book.worksheets[0]["A1"].value)


# ---- proactive sends (the outbox sender calls these) ----------------------------------------------------------


async def test_send_for_the_outbox(tg_app: App, api: FakeTelegramAPI, tmp_path: Path) -> None:
    photo = tmp_path / "chart.png"
    photo.write_bytes(PNG)
    report = tmp_path / "周报.xlsx"
    report.write_bytes(b"PK fake xlsx")
    async with channel_running(tg_app) as channel:
        reply = Reply(
            "本周督办周报",
            choices=[Choice("开始汇报", "汇报")],
            attachments=[OutAttachment("photo", str(photo)), OutAttachment("file", str(report), "周报.xlsx")],
        )
        await channel.send("13001", reply)
        sent = api.sent(13001)
        assert [("text" in m, "photo" in m, "document" in m) for m in sent] == [
            (True, False, False),
            (False, True, False),
            (False, False, True),
        ]
        assert api.buttons(sent[0]) == [("开始汇报", "汇报")]
        assert sent[2]["document"]["file_name"] == "周报.xlsx"
        await channel.send("-100777", Reply("督办周报（群）"))  # a digest to a group
        assert api.texts(-100777) == ["督办周报（群）"]

        # 429: no waiting inside send(); the outbox reschedules after retry_after.
        api.fail_next("sendMessage", times=1, status=429, retry_after=7)
        with pytest.raises(RetryLater) as wait:
            await channel.send("13009", Reply("提醒"))
        assert wait.value.seconds == 7
        assert api.calls_of("sendMessage")[-1].status == 429 and len(api.calls_of("sendMessage")) == 3  # tried once

        api.block(13002)
        with pytest.raises(PermanentFailure):
            await channel.send("13002", Reply("提醒"))
        api.forget_chat(13003)
        with pytest.raises(PermanentFailure):
            await channel.send("13003", Reply("提醒"))

        # Once the first part of a long message went out, later parts are waited out, never duplicated.
        api.fail_next("sendMessage", times=1, status=429, retry_after=1)
        before = len(api.sent(13001))
        long_text = "\n".join(["周报内容" * 100] * 30)
        with pytest.raises(RetryLater):
            await channel.send("13001", Reply(long_text))
        assert len(api.sent(13001)) == before
        await channel.send("13001", Reply(long_text))
        parts = api.texts(13001)[before:]
        assert "\n".join(parts) == long_text


async def test_unreachable_api_at_start_does_not_crash(
    tg_settings: Settings, clock: Clock, api: FakeTelegramAPI
) -> None:
    api.fail_next("getMe", times=1, status=502)
    app = build_app(tg_settings, clock=clock)
    bind_user(app, 14001)
    try:
        async with channel_running(app) as channel:
            tg = Tg(api, channel)
            assert not channel.connected.is_set()
            with pytest.raises(RetryLater):
                await channel.send("14001", Reply("提醒"))
            await asyncio.wait_for(channel.connected.wait(), 10)  # connects in the background
            assert await tg.say(14001, "帮助") == texts.HELP_OFFICIAL
    finally:
        app.close()


# ---- `duban serve` with nothing but a token -----------------------------------------------------------------


async def test_duban_serve_with_only_a_token(api: FakeTelegramAPI, tmp_path: Path) -> None:
    """SQLite in the data directory, long polling, no other setting; SIGTERM ends it cleanly."""
    data_dir = tmp_path / "duban-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update(
        {
            "DUBAN_DATA_DIR": str(data_dir),
            "DUBAN_TELEGRAM_TOKEN": api.token,
            "DUBAN_TELEGRAM_BASE_URL": api.url,
            # Not configuration but a shared test machine: port 8080 may be taken by someone else.
            "DUBAN_HTTP_PORT": "0",
            "PYTHONPATH": str(REPO),
        }
    )
    init = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "init",
        "--demo",
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(init.communicate(), 120)
    assert init.returncode == 0, err.decode()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        await api.wait_for(lambda: api.calls_of("getUpdates"), 60)
        api.inject_message(15001, "帮助")
        await api.wait_for(lambda: api.sent(15001), 30)
        assert api.texts(15001) == [texts.UNBOUND]
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-3000:]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert (data_dir / "duban.db").exists()
    assert "Traceback" not in err.decode()
