"""Telegram overhead: duban's whole Telegram path against a bare python-telegram-bot echo bot.

Both run the real python-telegram-bot against the same kind of local fake Bot API server
(tests/fakes/telegram_api.py, long polling), get the same messages from the same chats, and are timed from the
moment the messages are queued on the server until every one is handled and answered. duban's path is the
real `TelegramChannel` + durable inbox + engine + outbox + database (every update committed before the polling
offset moves past it, every reply a row in the outbox), with the demo officials bound to Telegram accounts
doing the engine benchmark's rounds (questions and complete check-ins, typed).

The inbox's own cost is measured apart, per message and without the network, side by side in the same run: the
engine handling a message directly (one transaction) against the inbox path of the same message (store and
take the chat; handle, mark handled and queue the replies; mark the replies sent; let the chat go). The echo bot answers each message with
its text, with the same number of updates in flight (64). duban's flood limiter is opened wide for the run:
Telegram's own limits (30 messages/s per bot) are a policy, not an overhead, and would cap both.

Target: duban's throughput at least 0.5x the echo bot's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import NO_PG, POSTGRES, Row, backends, fresh_database, ms, percentile, ratio, seed_database
from bench.engine import round_script
from bot.app import build_app
from config.clock import Clock
from config.settings import Settings
from core.messages import IncomingMessage
from db.engine import transaction
from db.models import Identity
from db.repositories import people

TARGET = 0.5
FIRST_CHAT = 50001


@dataclass
class Figures:
    messages: int
    seconds: float
    replies: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def _script(users: list[tuple[int, str]], rounds: int) -> list[tuple[int, str]]:
    """(chat id, text) in the order users send them: round by round, message by message, users interleaved."""
    out: list[tuple[int, str]] = []
    for r in range(rounds):
        scripts = {chat: round_script(org, 1 + r % 3) for chat, org in users}
        for i in range(len(next(iter(scripts.values())))):
            for chat, _org in users:
                out.append((chat, scripts[chat][i]))
    return out


def _bind_officials(url: str) -> list[tuple[int, str]]:
    """Give every demo official a Telegram account; returns (chat id, organisation short name)."""
    from db.engine import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        out: list[tuple[int, str]] = []
        with transaction(factory) as s:
            officials = [p for p in people.list_people(s) if p.role == "official" and p.organisation is not None]
            now = dt.datetime(2023, 5, 24, 1, 0)
            for i, p in enumerate(officials):
                chat = FIRST_CHAT + i
                s.add(Identity(person=p, channel="telegram", external_id=str(chat), chat_id=str(chat), created_at=now))
                org = p.organisation
                assert org is not None
                out.append((chat, org.short_name or org.name))
        return out
    finally:
        engine.dispose()


async def _duban(url: str, work: Path, messages: list[tuple[int, str]]) -> Figures:
    from aiohttp import web

    from bot.channels.telegram.channel import TelegramChannel
    from bot.channels.telegram.limits import TelegramRateLimiter
    from bot.inbox import Pipeline
    from tests.fakes.telegram_api import FakeTelegramAPI

    api = FakeTelegramAPI()
    await api.start()
    settings = Settings(
        data_dir=work / "tg-data",
        database_url=url,
        scheduler_enabled=False,
        telegram_token=api.token,
        telegram_base_url=api.url,
    )
    app = build_app(settings, migrate=False, clock=Clock("Asia/Shanghai", dt.datetime(2023, 5, 24, 9)))
    channel = TelegramChannel(
        settings, limiter=TelegramRateLimiter(overall_max_rate=1e6, chat_burst=1e6, chat_per_second=1e6)
    )
    pipeline = Pipeline(app, [channel])
    try:
        await channel.start(app, web.Application())
        await pipeline.start()
        await api.wait_for_call("getUpdates", 1, timeout=20, ok_only=False)
        t0 = time.perf_counter()
        for chat, text in messages:
            api.inject_message(chat, text)
        await api.wait_for(lambda: channel.updates_done >= len(messages), timeout=600)
        assert await pipeline.worker.idle(600)
        seconds = time.perf_counter() - t0
        replies = len(api.calls_of("sendMessage", ok_only=True))
        return Figures(len(messages), seconds, replies)
    finally:
        await pipeline.stop(10.0)
        await channel.stop()
        app.close()
        await api.stop()


async def _echo(messages: list[tuple[int, str]]) -> Figures:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    from tests.fakes.telegram_api import FakeTelegramAPI

    api = FakeTelegramAPI()
    await api.start()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    application: Any = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(f"{api.url}/bot")
        .base_file_url(f"{api.url}/file/bot")
        .concurrent_updates(64)
        .connection_pool_size(64)
        .job_queue(None)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    try:
        await application.initialize()
        await application.start()
        await application.updater.start_polling(timeout=30)
        await api.wait_for_call("getUpdates", 1, timeout=20, ok_only=False)
        t0 = time.perf_counter()
        for chat, text in messages:
            api.inject_message(chat, text)
        await api.wait_for(lambda: len(api.calls_of("sendMessage", ok_only=True)) >= len(messages), timeout=600)
        seconds = time.perf_counter() - t0
        return Figures(len(messages), seconds, len(api.calls_of("sendMessage", ok_only=True)))
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()
        await api.stop()


@dataclass
class Latency:
    direct: list[float]
    inbox: list[float]

    @property
    def added_ms(self) -> float:
        return (percentile(self.inbox, 50) - percentile(self.direct, 50)) * 1000


def _latencies(url_direct: str, url_inbox: str, work: Path, messages: list[tuple[int, str]]) -> Latency:
    """Seconds per message, directly and along the inbox path (no network), message by message in turn, each
    path on its own copy of the database (see the module docstring)."""
    from bot.inbox import InboxWorker
    from core.inbox import Update as InboxUpdate
    from scheduler.sender import OutboxSender

    def app_on(url: str, name: str) -> Any:
        settings = Settings(data_dir=work / name, database_url=url, scheduler_enabled=False)
        clock = Clock("Asia/Shanghai", dt.datetime(2023, 5, 24, 9), frozen=True)
        return build_app(settings, migrate=False, clock=clock)

    direct_app, inbox_app = app_on(url_direct, "lat-direct"), app_on(url_inbox, "lat-inbox")
    # The worker's own steps, called one after another in this thread (no event loop, no network).
    sender = OutboxSender(inbox_app, {})
    worker = InboxWorker(inbox_app, sender)
    out = Latency([], [])

    def through_inbox(n: int, chat: str, text: str) -> None:
        _stored, claimed = worker._store("telegram", [InboxUpdate(f"u:{n}", chat, chat, {})])
        [row] = claimed[("telegram", chat)]
        replies, _ok = inbox_app.engine.handle_stored(row, _message(int(chat), text, n), [], worker.worker_id)
        for reply in replies:
            sender._sent(reply)
        worker._release("telegram", chat)

    try:
        for n, (chat, text) in enumerate(messages):
            t0 = time.perf_counter()
            direct_app.engine.handle(_message(chat, text, n))
            t1 = time.perf_counter()
            through_inbox(n, str(chat), text)
            out.direct.append(t1 - t0)
            out.inbox.append(time.perf_counter() - t1)
    finally:
        direct_app.close()
        inbox_app.close()
    return out


def _message(chat: int, text: str, n: int) -> IncomingMessage:
    return IncomingMessage(channel="telegram", chat_id=str(chat), user_id=str(chat), text=text, message_id=f"m:{n}")


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    rounds = 1 if quick else 3
    duban: dict[str, Figures] = {}
    latency: dict[str, Latency] = {}
    messages: list[tuple[int, str]] = []
    for backend in backends():
        with fresh_database(backend, work, "telegram") as url:
            seed_database(url)
            users = _bind_officials(url)
            messages = _script(users, rounds)
            duban[backend] = asyncio.run(_duban(url, work, messages))
        log(
            f"telegram: duban on {backend}: {duban[backend].rate:.0f} msg/s ({duban[backend].messages} messages, "
            f"{duban[backend].replies} replies)"
        )
        sample = messages[: 60 if quick else 400]
        with (
            fresh_database(backend, work, "latency-direct") as url_a,
            fresh_database(backend, work, "latency-inbox") as url_b,
        ):
            for url in (url_a, url_b):
                seed_database(url)
                _bind_officials(url)
            latency[backend] = _latencies(url_a, url_b, work, sample)
        log(f"telegram: the inbox adds {latency[backend].added_ms:.1f} ms per message on {backend} (median)")
    echo = asyncio.run(_echo(messages))
    log(f"telegram: bare echo bot: {echo.rate:.0f} msg/s")
    note = (
        f"{len(messages)} messages from {len({c for c, _ in messages})} chats, all queued at once on the fake "
        "Bot API server; long polling; 64 updates in flight"
    )

    def vals(fn: Callable[[Figures], str]) -> dict[str, str]:
        v = {b: fn(f) for b, f in duban.items()}
        v.setdefault(POSTGRES, NO_PG)
        return v

    def lat(fn: Callable[[Latency], str]) -> dict[str, str]:
        v = {b: fn(f) for b, f in latency.items()}
        v.setdefault(POSTGRES, NO_PG)
        return v

    return [
        Row(
            "Telegram",
            "engine alone, per message (median / p95)",
            lat(lambda x: f"{ms(percentile(x.direct, 50))} / {ms(percentile(x.direct, 95))}"),
            note="the same messages handled directly, then along the inbox path, one after another, no network",
        ),
        Row(
            "Telegram",
            "inbox path, per message (median / p95)",
            lat(lambda x: f"{ms(percentile(x.inbox, 50))} / {ms(percentile(x.inbox, 95))}"),
        ),
        Row("Telegram", "added by the inbox, per message (median)", lat(lambda x: f"{x.added_ms:.1f} ms")),
        Row("Telegram", "bare PTB echo bot throughput", {"all": f"{echo.rate:.0f} msg/s"}, note=note),
        Row(
            "Telegram",
            "duban (PTB + engine + database) throughput",
            vals(lambda f: f"{f.rate:.0f} msg/s ({f.replies} replies sent)"),
        ),
        Row(
            "Telegram",
            "duban ÷ echo bot",
            vals(lambda f: ratio(f.rate / echo.rate)),
            f"≥ {TARGET}x",
            all(f.rate / echo.rate >= TARGET for f in duban.values()),
        ),
    ]
