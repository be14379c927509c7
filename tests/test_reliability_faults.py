"""Platform faults, duplicates and hostile callbacks.

- Faults: the fake Telegram and WeCom APIs answer 500s and 429s (WeCom: its rate-limit and busy codes), hang
  until the client times out, and drop connections, for a while; a fault proxy (a TCP relay on 127.0.0.1)
  sits between duban and each fake to hang or drop. Proactive messages in the outbox are delivered once the
  API recovers, none twice; a reply during a short outage reaches the user once.
- Duplicates: the same Telegram update and the same WeCom callback delivered twice (also at the same moment)
  are handled once.
- Hostile WeCom callbacks: seeded random forgeries and mutilations of real encrypted callbacks (bad
  signatures, foreign CorpIDs, truncated, bit-flipped, oversized, entity-expanding bodies) are all refused and
  nothing is stored or sent.

A lost *response* after the platform accepted a message (the request reached it, the answer did not come
back) cannot be told from a lost request by any client of these APIs, which have no idempotency keys; the
proxy therefore drops and hangs connections before the request reaches the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.limits import TelegramRateLimiter
from bot.channels.wecom.channel import WecomChannel
from bot.channels.wecom.client import WecomClient
from config.clock import Clock
from config.settings import Settings
from db.engine import transaction
from db.models import IN_DONE, OFFICIAL, OUT_SENT, Inbox, Outbox, Report
from db.repositories import orgs, people
from db.repositories.outbox import enqueue
from handlers import texts
from scheduler.sender import OutboxSender
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.wait import wait_for
from tests.fakes.wecom_api import FakeWecomApi
from tests.serving import running
from tests.test_wecom import OFFICIAL as WECOM_OFFICIAL
from tests.test_wecom import Server, WeComSim, fake, server, wecom_settings

__all__ = ["fake", "server"]  # fixtures of tests/test_wecom.py used here


# ---- the fault proxy ----------------------------------------------------------------------------------------


class FaultProxy:
    """A TCP relay to `target_port` that can pass, drop or hang connections (also ones already open).

    Modes: "pass" relays; "drop" closes a connection as soon as the client sends (nothing reaches the server);
    "hang" accepts and reads but never relays nor answers, so the client times out.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.port = 0
        self.dropped = 0
        self.hung = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for w in list(self._writers):
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream_w: asyncio.StreamWriter | None = None
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", self.target_port)
            self._writers.add(upstream_w)
            back = asyncio.create_task(self._pipe(upstream_r, writer))
            try:
                while True:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    if self.mode == "drop":
                        self.dropped += 1
                        break
                    if self.mode == "hang":
                        self.hung += 1
                        await wait_for(lambda: self.mode != "hang" or reader.at_eof(), timeout=None)
                        break  # the client gave up; whatever it sent is not relayed
                    upstream_w.write(chunk)
                    await upstream_w.drain()
            finally:
                back.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await back
        except (ConnectionError, OSError):
            pass
        finally:
            for w in (writer, upstream_w):
                if w is not None:
                    self._writers.discard(w)
                    w.close()

    @staticmethod
    async def _pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await r.read(65536):
                w.write(chunk)
                await w.drain()


# ---- helpers -----------------------------------------------------------------------------------------------


def add_people(app: App, channel: str, ids: list[str]) -> list[int]:
    with transaction(app.session_factory) as s:
        org = orgs.require_org(s, "墨脱县")
        return [
            people.add_person(s, f"故障{i}", org, OFFICIAL, app.clock.utcnow(), {channel: ext}).id
            for i, ext in enumerate(ids)
        ]


def queue(app: App, channel: str, chats: list[str], person_ids: list[int], per_chat: int) -> list[tuple[str, str]]:
    """`per_chat` distinct proactive messages for each chat; returns (chat, text) of all of them."""
    out = []
    with transaction(app.session_factory) as s:
        for chat, pid in zip(chats, person_ids, strict=False):
            for k in range(per_chat):
                text = f"【提醒】第{k + 1}条：请及时汇报（{chat}）"
                enqueue(
                    s,
                    f"fault:{channel}:{chat}:{k}",
                    "nudge",
                    channel,
                    chat,
                    text,
                    person_id=pid,
                    now=app.clock.utcnow(),
                )
                out.append((chat, text))
    return out


def outbox_rows(app: App) -> list[Outbox]:
    with app.session_factory() as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


async def deliver(
    sender: OutboxSender, app: App, rounds: int, faults: list[Any], start: int = 0, until_done: bool = False
) -> int:
    """Sender rounds, each at a later moment than the last (so retries fall due); `faults[i]` runs before round
    i; with `until_done`, stop early once nothing is pending. Returns the round number to start the next call at."""
    for i in range(rounds):
        if i < len(faults) and faults[i] is not None:
            faults[i]()
        at = app.clock.utcnow() + dt.timedelta(hours=2 * (start + i + 1))
        await sender.run_once(now=at)
        if until_done and all(r.status == OUT_SENT for r in outbox_rows(app)):
            return start + i + 1
    return start + rounds


def wide_limiter() -> TelegramRateLimiter:
    return TelegramRateLimiter(overall_max_rate=1e6, chat_burst=1e6, chat_per_second=1e6)


# ---- Telegram -----------------------------------------------------------------------------------------------


@pytest.fixture
async def tg() -> AsyncIterator[tuple[FakeTelegramAPI, FaultProxy]]:
    api = FakeTelegramAPI()
    await api.start()
    proxy = await FaultProxy(api.port).start()
    yield api, proxy
    await proxy.stop()
    await api.stop()


@pytest.fixture
def tg_app(settings: Settings, clock: Clock, tg: tuple[FakeTelegramAPI, FaultProxy]) -> Iterator[App]:
    api, proxy = tg
    a = build_app(
        settings.model_copy(update={"telegram_token": api.token, "telegram_base_url": proxy.url}),
        clock=Clock(clock.tz.key, clock.now()),  # running: a reply put back for a second must come due
    )
    yield a
    a.close()


@contextlib.asynccontextmanager
async def telegram_channel(app: App, receive: bool = False) -> AsyncIterator[TelegramChannel]:
    """The channel; with `receive`, with the inbox and sender of a process (it then handles what users send)."""
    channel = TelegramChannel(app.settings, limiter=wide_limiter())
    channel.retry_delays = (0.2, 0.4, 0.8)
    if receive:
        async with running(app, channel):
            yield channel
        return
    await channel.start(app, web.Application())
    try:
        yield channel
    finally:
        await channel.stop()


async def test_telegram_outbox_is_delivered_after_outages_and_nothing_twice(
    tg_app: App, tg: tuple[FakeTelegramAPI, FaultProxy]
) -> None:
    api, proxy = tg
    chats = [str(880001 + i) for i in range(5)]
    pids = add_people(tg_app, "telegram", chats)
    messages = queue(tg_app, "telegram", chats, pids, per_chat=3)

    def mode(m: str) -> Any:
        return lambda: setattr(proxy, "mode", m)

    async with telegram_channel(tg_app) as channel:
        sender = OutboxSender(tg_app, {"telegram": channel}, batch_size=4)
        faults = [
            lambda: api.fail_next("sendMessage", times=2, status=500),
            lambda: api.fail_next("sendMessage", times=2, status=502),
            lambda: api.fail_next("sendMessage", times=2, status=429, retry_after=1),
            mode("drop"),
            mode("hang"),
            mode("pass"),
        ]
        n = await deliver(sender, tg_app, rounds=len(faults), faults=faults)
        assert proxy.dropped and proxy.hung, "the faults did not happen"
        during = len(api.calls_of("sendMessage", ok_only=True))
        # The API has recovered: everything left goes out.
        await deliver(sender, tg_app, rounds=40, faults=[], start=n, until_done=True)
    rows = outbox_rows(tg_app)
    assert [r.status for r in rows] == [OUT_SENT] * len(messages)
    assert any(r.attempts > 0 for r in rows) and during < len(messages)
    for chat, text in messages:
        assert api.texts(chat).count(text) == 1, (chat, text)
    assert len(api.calls_of("sendMessage", ok_only=True)) == len(messages)


async def test_telegram_reply_during_a_short_outage_reaches_the_user_once(
    tg_app: App, tg: tuple[FakeTelegramAPI, FaultProxy]
) -> None:
    api, _proxy = tg
    add_people(tg_app, "telegram", ["880101"])
    async with telegram_channel(tg_app, receive=True) as channel:
        api.fail_next("sendMessage", times=2, status=500)
        api.fail_next("sendMessage", times=1, status=429, retry_after=1)
        api.inject_message(880101, "帮助")
        await api.wait_for(lambda: api.sent(880101), timeout=20)
        await api.wait_for(lambda: channel.updates_done >= 1, timeout=20)
    assert api.texts(880101) == [texts.HELP_OFFICIAL]


@pytest.mark.both_backends  # two copies racing for the processed-message key
async def test_same_telegram_update_twice_is_handled_once(tg_app: App, tg: tuple[FakeTelegramAPI, FaultProxy]) -> None:
    api, _proxy = tg
    chat = 880201
    add_people(tg_app, "telegram", [str(chat)])
    async with telegram_channel(tg_app, receive=True) as channel:

        async def say(text: str, n: int = 1) -> None:
            before = len(api.sent(chat))
            api.inject_message(chat, text)
            await api.wait_for(lambda: len(api.sent(chat)) >= before + n, timeout=20)

        for text, n in [("汇报", 1), ("1", 2), ("已完成", 1), ("方案已印发", 1), ("跳过", 1), ("跳过", 1), ("跳过", 1)]:
            await say(text, n)
        before = len(api.sent(chat))
        update = api.inject_message(chat, "确认")
        api.inject_update({"message": update["message"]})  # Telegram delivers the same message again
        await api.wait_for(lambda: channel.updates_done >= len(api.injected), timeout=20)
        await api.wait_for(lambda: len(api.sent(chat)) >= before + 2, timeout=20)  # 已提交, then 继续下一项吗
        # …and the same button press twice.
        summary = api.sent(chat)[-1]
        assert api.buttons(summary)
        for _ in range(2):
            api.inject_callback(chat, texts.CHOICE_END, summary["message_id"])
        await api.wait_for(lambda: channel.updates_done >= len(api.injected), timeout=20)
    with tg_app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 1
    new = api.texts(chat)[before:]
    assert sum("已提交" in t for t in new) == 1, new
    assert sum(t == texts.END_SESSION for t in new) == 1, new


# ---- WeCom --------------------------------------------------------------------------------------------------


@pytest.fixture
async def wecom_proxy(fake: FakeWecomApi) -> AsyncIterator[FaultProxy]:
    proxy = await FaultProxy(fake.port).start()
    yield proxy
    await proxy.stop()


async def test_wecom_outbox_is_delivered_after_outages_and_nothing_twice(
    app: App, fake: FakeWecomApi, wecom_proxy: FaultProxy, tmp_path: Path
) -> None:
    s = wecom_settings(app.settings, fake, tmp_path, wecom_api_base_url=f"{wecom_proxy.url}/cgi-bin/")
    users = [f"wx-fault-{i}" for i in range(4)]
    pids = add_people(app, "wecom", users)
    messages = queue(app, "wecom", users, pids, per_chat=3)
    # A hung API costs a second here, not the fifteen of production.
    client = WecomClient(str(s.wecom_corp_id), str(s.wecom_secret), s.wecom_api_base_url, timeout=1.0)
    channel = WecomChannel(s, client=client)
    await channel.start(app, web.Application())

    def token_outage() -> None:
        fake.expire_tokens()  # the next call gets 42001 and fetches a token, which fails twice
        fake.fail_http("gettoken", 503, times=2)

    def mode(m: str) -> Any:
        return lambda: setattr(wecom_proxy, "mode", m)

    try:
        sender = OutboxSender(app, {"wecom": channel}, batch_size=4)
        faults = [
            lambda: fake.fail_http("message/send", 500, times=3),
            lambda: fake.fail("message/send", 45009, times=2),  # over the call frequency limit
            lambda: fake.fail("message/send", -1, times=2),  # 系统繁忙
            token_outage,
            mode("drop"),
            mode("hang"),
            mode("pass"),
        ]
        n = await deliver(sender, app, rounds=len(faults), faults=faults)
        assert wecom_proxy.dropped and wecom_proxy.hung, "the faults did not happen"
        await deliver(sender, app, rounds=40, faults=[], start=n, until_done=True)
    finally:
        await channel.stop()
    rows = outbox_rows(app)
    assert [r.status for r in rows] == [OUT_SENT] * len(messages), [(r.status, r.last_error) for r in rows]
    assert any(r.attempts > 0 for r in rows)
    for user, text in messages:
        assert fake.sent_texts(user).count(text) == 1, (user, text)
    assert len(fake.sent_texts()) == len(messages)


@pytest.mark.both_backends  # two copies racing for the processed-message key
async def test_same_wecom_callback_twice_is_handled_once(server: Server) -> None:
    user = WECOM_OFFICIAL
    for text in ["汇报", "1", "已完成", "方案已印发", "跳过", "跳过"]:
        await server.say(user, text)
    summary = await server.say(user, "跳过")
    assert "请核对" in summary
    before = len(server.fake.sent_texts(user))
    query, body = server.sim.encrypt(server.sim.inner(user, "text", "7300000000000000001", Content="确认"))
    # WeCom retries a callback it thinks failed; two copies may arrive at the same moment.
    results = await asyncio.gather(server.sim.post_raw(query, body), server.sim.post_raw(query, body))
    assert results == [(200, ""), (200, "")]
    await server.channel.drain()
    assert await server.sim.post_raw(query, body) == (200, "")
    await server.channel.drain()
    with server.app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 1
    new = server.fake.sent_texts(user)[before:]
    assert sum("已提交" in t for t in new) == 1, new


async def test_hostile_wecom_callbacks_are_refused_and_nothing_is_stored(server: Server) -> None:
    """Seeded random forgeries and mutilations of genuine encrypted callbacks."""
    rng = random.Random(20230524)
    sim = server.sim
    foreign = WeComSim(server.url, corp_id="wwFOREIGNCORP0001")
    other_key = WeComSim(server.url, aes_key="ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut")
    before = server.processed()
    statuses: dict[str, set[int]] = {}
    try:
        for i in range(120):
            inner = sim.inner(WECOM_OFFICIAL, "text", str(7400000000000000000 + i), Content="确认")
            query, body = sim.encrypt(inner)
            kind = rng.choice(
                [
                    "signature",
                    "corp",
                    "key",
                    "truncate",
                    "flip",
                    "oversize",
                    "entity",
                    "garbage",
                    "no-query",
                    "stale-sig",
                ]
            )
            if kind == "signature":
                query = {**query, "msg_signature": "".join(rng.choice("0123456789abcdef") for _ in range(40))}
            elif kind == "corp":
                query, body = foreign.encrypt(foreign.inner(WECOM_OFFICIAL, "text", Content="确认"))
            elif kind == "key":
                query, body = other_key.encrypt(other_key.inner(WECOM_OFFICIAL, "text", Content="确认"))
            elif kind == "truncate":
                body = body[: rng.randrange(1, len(body) - 1)]
            elif kind == "flip":
                start = body.index(b"<Encrypt><![CDATA[") + 18
                pos = rng.randrange(start, body.index(b"]]>", start))
                body = body[:pos] + bytes([body[pos] ^ (1 << rng.randrange(7)) or 65]) + body[pos + 1 :]
            elif kind == "oversize":
                body = body[:-6] + b"<Pad>" + b"A" * rng.randrange(70_000, 400_000) + b"</Pad></xml>"
            elif kind == "entity":
                depth = rng.randrange(2, 6)
                ents = '<!ENTITY e0 "lol">' + "".join(
                    f'<!ENTITY e{k} "{("&e" + str(k - 1) + ";") * 10}">' for k in range(1, depth)
                )
                body = (
                    f'<?xml version="1.0"?><!DOCTYPE xml [{ents}]><xml><Encrypt>&e{depth - 1};</Encrypt></xml>'.encode()
                )
            elif kind == "garbage":
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 2000)))
            elif kind == "no-query":
                query = {}
            elif kind == "stale-sig":
                other_q, _ = sim.encrypt(sim.inner(WECOM_OFFICIAL, "text", Content="帮助"))
                query = {**query, "msg_signature": other_q["msg_signature"]}
            status, _text = await sim.post_raw(query, body)
            statuses.setdefault(kind, set()).add(status)
    finally:
        await foreign.close()
        await other_key.close()
    await server.channel.drain()
    refused = {400, 403, 413}
    for kind, seen in statuses.items():
        assert seen <= refused, (kind, seen)
    assert len(statuses) >= 8
    assert server.processed() == before
    assert server.fake.calls_to("message/send") == []
    with server.app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Inbox).where(Inbox.status == IN_DONE)) == before
        assert s.scalar(select(func.count()).select_from(Report)) == 0
