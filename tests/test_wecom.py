"""The WeCom channel: published crypto vectors, the callback over HTTP, the API client against a fake WeCom
server on 127.0.0.1, and `duban serve` as a subprocess.

Messages are encrypted with wechatpy exactly as WeCom encrypts them and POSTed to the callback of the real
`serve()`; replies are read from what the fake API server received.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import xmltodict
from aiohttp import web
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from yarl import URL

import bot.serve
from bot.app import App, build_app
from bot.channels.edge import TextLimit, Unit, split
from bot.channels.wecom import callback
from bot.channels.wecom.callback import BadRequest, CallbackCrypto, inbound_from_xml, parse_xml
from bot.channels.wecom.channel import WecomChannel
from bot.channels.wecom.client import (
    MARKDOWN_LIMIT,
    PUBLIC_BASE_URL,
    TEXT_LIMIT,
    WecomApiError,
    WecomClient,
    normalize_base_url,
)
from bot.channels.wecom.robot import ROBOT_CHAT_ID, WecomRobotChannel, send_group_robot
from bot.engine import Engine
from config.clock import Clock, wall_utcnow
from config.settings import Settings
from core.channel import PermanentFailure, RetryLater
from core.messages import Choice, IncomingMessage, OutAttachment, Reply
from db.engine import transaction
from db.models import IN_DONE, IN_PROGRESS, Inbox, Report, Worker
from db.repositories import orgs, people
from handlers import texts
from tests.conftest import DEFAULT_NOW
from tests.fakes import free_port
from tests.fakes.wait import wait_for
from tests.fakes.wecom_api import FakeWecomApi
from tests.serving import running

REPO = Path(__file__).resolve().parent.parent

# Our test application's credentials (made up; the AES key is 43 characters like a real EncodingAESKey).
CORP_ID = "ww0123456789abcdef"
AGENT_ID = "1000002"
SECRET = "test-secret-0123456789abcdefghijklmnopqrstuv"
TOKEN = "duban-test-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

OFFICIAL = "motuo-zhang"  # WeCom userid bound to the demo person 墨脱填报人
COORDINATOR = "coord-li"  # WeCom userid bound to the demo person 协调员

# ---- published sample vectors ---------------------------------------------------------------------------------

# WeCom's official Python callback sample: github.com/sbzhu/weworkapi_python, callback/Sample.py
# (the same values as the WXBizMsgCrypt3 / callback_python3 sample).
OFFICIAL_SAMPLE = {
    "token": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "aes_key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
    "corp_id": "ww1436e0e65a779aee",
    "verify": {
        "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
        "timestamp": "1476416373",
        "nonce": "47744683",
        "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
    },
    "message": {
        "msg_signature": "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
        "timestamp": "1476422779",
        "nonce": "1597212914",
        "body": (
            "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA["
            "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2"
            "AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8"
            "KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQ"
            "DCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n"
            "<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
        ),
    },
}

# wechatpy's own tests: github.com/wechatpy/wechatpy, tests/test_crypto.py (CryptoTestCase, WeCom crypto).
WECHATPY_SAMPLE = {
    "token": "123456",
    "aes_key": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
    "corp_id": "wx49f0ab532d5d035a",
    "verify": {
        "msg_signature": "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
        "timestamp": "1411443780",
        "nonce": "437374425",
        "echostr": "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==",
    },
    "message": {
        "msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
        "timestamp": "1411525903",
        "nonce": "461056294",
        "body": (
            "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<Encrypt><![CDATA["
            "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283d"
            "Gymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwB"
            "iT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54S"
            "NdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91"
            "eBdCRxthuL0=]]></Encrypt>\n<AgentID><![CDATA[1]]></AgentID>\n</xml>"
        ),
    },
}


def test_official_sample_vectors_verify_and_decrypt() -> None:
    s = OFFICIAL_SAMPLE
    crypto = WeChatCrypto(s["token"], s["aes_key"], s["corp_id"])
    v = s["verify"]
    assert crypto.check_signature(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"]) == "1288432023552776189"
    m = s["message"]
    inner = crypto.decrypt_message(m["body"], m["msg_signature"], m["timestamp"], m["nonce"])
    inbound = inbound_from_xml(parse_xml(inner))
    assert inbound is not None
    assert (inbound.user_id, inbound.msg_type, inbound.text, inbound.message_id) == (
        "ChenJiaShun",
        "text",
        "你好",
        "1456453720",
    )
    with pytest.raises(InvalidSignatureException):
        crypto.decrypt_message(m["body"], m["msg_signature"].replace("0c", "0d", 1), m["timestamp"], m["nonce"])


def test_wechatpy_sample_vectors_verify_and_decrypt() -> None:
    s = WECHATPY_SAMPLE
    crypto = WeChatCrypto(s["token"], s["aes_key"], s["corp_id"])
    v = s["verify"]
    assert crypto.check_signature(v["msg_signature"], v["timestamp"], v["nonce"], v["echostr"]) == "5927782489442352469"
    with pytest.raises(InvalidSignatureException):  # wechatpy's test: a different nonce must fail
        crypto.check_signature(v["msg_signature"], v["timestamp"], "437374424", v["echostr"])
    m = s["message"]
    inbound = inbound_from_xml(
        parse_xml(crypto.decrypt_message(m["body"], m["msg_signature"], m["timestamp"], m["nonce"]))
    )
    assert inbound is not None and (inbound.user_id, inbound.text) == ("messense", "test")


# ---- a stub engine, for channel behaviour that must not depend on the dialogue --------------------------------


class StubEngine(Engine):
    """The engine with scripted answers (one list per message, in order; then none); the inbox, duplicates and
    the outbox around it are the real engine's."""

    def __init__(self, app: App) -> None:
        super().__init__(app.session_factory, app.clock, app.settings, app.services)
        self.replies: list[list[Reply]] = []
        self.received: list[IncomingMessage] = []

    def respond(self, session: Session, msg: IncomingMessage, now: dt.datetime) -> list[Reply]:
        self.received.append(msg)
        return self.replies.pop(0) if self.replies else []


@contextlib.asynccontextmanager
async def channel_alone(settings: Settings) -> AsyncIterator[tuple[WecomChannel, StubEngine, str]]:
    """The WeCom channel with a stub engine on its own aiohttp server: (channel, engine, callback URL)."""
    app = build_app(settings, clock=Clock("Asia/Shanghai", DEFAULT_NOW), warm_nlu=False)
    engine = StubEngine(app)
    app.engine = engine
    channel = WecomChannel(settings)
    port = free_port()
    try:
        async with running(app, channel, web.Application(client_max_size=64 * 1024), port):
            yield channel, engine, f"http://127.0.0.1:{port}/wecom/callback"
    finally:
        app.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeWecomApi]:
    api = await FakeWecomApi(corp_id=CORP_ID, secret=SECRET).start()
    yield api
    await api.stop()


def wecom_settings(base: Settings | None, fake: FakeWecomApi, tmp_path: Path, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "wecom_corp_id": CORP_ID,
        "wecom_agent_id": AGENT_ID,
        "wecom_secret": SECRET,
        "wecom_token": TOKEN,
        "wecom_aes_key": AES_KEY,
        "wecom_api_base_url": fake.base_url,
        "wecom_group_webhook": fake.webhook_url,
        "http_port": free_port(),
        # The numbered-text path (a deployment without template cards); tests/test_wecom_cards.py has the cards.
        "wecom_cards": "off",
        **over,
    }
    if base is None:
        return Settings(data_dir=tmp_path / "data", scheduler_enabled=False, **values)
    return base.model_copy(update=values)


class WeComSim:
    """Plays WeCom: encrypts callbacks with wechatpy as WeCom does and POSTs them to our callback URL."""

    def __init__(self, url: str, token: str = TOKEN, aes_key: str = AES_KEY, corp_id: str = CORP_ID) -> None:
        self.url = url
        self.corp_id = corp_id
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.http = aiohttp.ClientSession()
        self._ids = iter(range(7_000_000_000_000_000_001, 8_000_000_000_000_000_000))
        self.create_time = 1684890000

    async def close(self) -> None:
        await self.http.close()

    def inner(self, user: str, msg_type: str, msg_id: str | None = None, **fields: str) -> str:
        self.create_time += 1
        parts = [
            f"<ToUserName><![CDATA[{self.corp_id}]]></ToUserName>",
            f"<FromUserName><![CDATA[{user}]]></FromUserName>",
            f"<CreateTime>{self.create_time}</CreateTime>",
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
        ]
        parts += [f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()]
        if msg_type != "event":
            parts.append(f"<MsgId>{msg_id or next(self._ids)}</MsgId>")
        parts.append(f"<AgentID>{AGENT_ID}</AgentID>")
        return "<xml>" + "".join(parts) + "</xml>"

    def encrypt(self, inner_xml: str, timestamp: str | None = None) -> tuple[dict[str, str], bytes]:
        """(query, body) of the POST WeCom makes for `inner_xml`, sent now or at `timestamp`."""
        nonce, timestamp = uuid.uuid4().hex[:10], timestamp or str(int(time.time()))
        out = xmltodict.parse(self.crypto.encrypt_message(inner_xml, nonce, timestamp))["xml"]
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[{out['Encrypt']}]]></Encrypt>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>"
        )
        return {"msg_signature": out["MsgSignature"], "timestamp": timestamp, "nonce": nonce}, body.encode()

    async def post_raw(self, query: dict[str, str], body: bytes, **kw: Any) -> tuple[int, str]:
        async with self.http.post(self.url, params=query, data=body, **kw) as res:
            return res.status, await res.text()

    async def post(self, inner_xml: str) -> tuple[int, str]:
        return await self.post_raw(*self.encrypt(inner_xml))

    async def text(self, user: str, content: str, msg_id: str | None = None) -> None:
        status, body = await self.post(self.inner(user, "text", msg_id, Content=content))
        assert (status, body) == (200, "")


# ---- the channel on the real serve() --------------------------------------------------------------------------


@dataclass
class Server:
    app: App
    channel: WecomChannel
    fake: FakeWecomApi
    sim: WeComSim
    url: str

    async def say(self, user: str, text: str) -> str:
        """Send one text as `user`, wait until it is handled, return what duban answered (joined)."""
        before = len(self.fake.sent_texts(user))
        await self.sim.text(user, text)
        await self.channel.drain()
        return "\n".join(self.fake.sent_texts(user)[before:])

    def processed(self) -> int:
        with self.app.session_factory() as s:
            return int(s.scalar(select(func.count()).select_from(Inbox).where(Inbox.status == IN_DONE)) or 0)


@contextlib.asynccontextmanager
async def serving_wecom(
    settings: Settings, clock: Clock, fake: FakeWecomApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **over: Any
) -> AsyncIterator[Server]:
    """The real `serve()` with the WeCom channel against the fake API (settings `over` changed), the demo
    official and coordinator bound to WeCom accounts."""
    s = wecom_settings(settings, fake, tmp_path, **over)
    app = build_app(s, clock=Clock(clock.tz.key, clock.now()))  # running: a reply put back must come due
    now = clock.utcnow()
    with transaction(app.session_factory) as sess:
        by_name = {p.name: p for p in people.list_people(sess)}
        people.bind_identity(sess, by_name["墨脱填报人"], "wecom", OFFICIAL, now)
        people.bind_identity(sess, by_name["协调员"], "wecom", COORDINATOR, now)
    captured: list[WecomChannel] = []
    real_enabled = bot.serve.enabled_channels

    def enabled(a: App) -> list[Any]:
        chans = real_enabled(a)
        captured.extend(c for c in chans if isinstance(c, WecomChannel))
        return chans

    monkeypatch.setattr(bot.serve, "enabled_channels", enabled)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(bot.serve.serve(app, stop, ready))
    await asyncio.wait_for(ready.wait(), 15)
    url = f"http://127.0.0.1:{s.http_port}{s.wecom_callback_path}"
    sim = WeComSim(url)
    try:
        yield Server(app, captured[0], fake, sim, url)
    finally:
        await sim.close()
        stop.set()
        await asyncio.wait_for(task, 20)
        app.close()


@pytest.fixture
async def server(
    settings: Settings, clock: Clock, fake: FakeWecomApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Server]:
    async with serving_wecom(settings, clock, fake, tmp_path, monkeypatch) as served:
        yield served


async def test_url_verification(server: Server) -> None:
    echo = PrpCrypto(server.sim.crypto.key).encrypt("4387519203846127", CORP_ID).decode()
    ts, nonce = "1684890000", "9876"
    sig = _get_signature(TOKEN, ts, nonce, echo)
    async with aiohttp.ClientSession() as http:
        async with http.get(
            server.url, params={"msg_signature": sig, "timestamp": ts, "nonce": nonce, "echostr": echo}
        ) as r:
            assert (r.status, await r.text()) == (200, "4387519203846127")
        bad = {"msg_signature": sig, "timestamp": ts, "nonce": "9877", "echostr": echo}
        async with http.get(server.url, params=bad) as r:
            assert r.status == 403
        async with http.get(server.url, params={"timestamp": ts}) as r:
            assert r.status == 400
        # A proxy that leaves the base64 '+' unescaped must not break verification.
        plus = next(
            e
            for e in (PrpCrypto(server.sim.crypto.key).encrypt("77", CORP_ID).decode() for _ in range(200))
            if "+" in e
        )
        raw = f"{server.url}?msg_signature={_get_signature(TOKEN, ts, nonce, plus)}&timestamp={ts}&nonce={nonce}&echostr={plus}"
        async with http.get(URL(raw, encoded=True)) as r:
            assert (r.status, await r.text()) == (200, "77")
        other = PrpCrypto(server.sim.crypto.key).encrypt("1", "wwOTHERCORP").decode()
        params = {
            "msg_signature": _get_signature(TOKEN, ts, nonce, other),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": other,
        }
        async with http.get(server.url, params=params) as r:
            assert r.status == 403


async def test_help_and_query_are_answered_through_the_send_api(server: Server) -> None:
    out = await server.say(OFFICIAL, "帮助")
    assert out == texts.HELP_OFFICIAL
    out = await server.say(COORDINATOR, "墨脱县进度")
    assert out.strip()
    send = server.fake.calls_to("message/send")
    assert all(c.body["agentid"] == int(AGENT_ID) and c.body["msgtype"] in ("text", "markdown") for c in send)
    assert [c.body["touser"] for c in send[:1]] == [OFFICIAL]
    # One token for both messages: it is cached.
    assert len(server.fake.calls_to("gettoken")) == 1
    assert server.fake.calls_to("gettoken")[0].query == {"corpid": CORP_ID, "corpsecret": SECRET}


async def test_stranger_gets_binding_explanation_and_can_bind_by_code(server: Server) -> None:
    out = await server.say("new-user", "帮助")
    assert out == texts.UNBOUND
    with transaction(server.app.session_factory) as s:
        org = orgs.require_org(s, "巴宜区")
        code = people.new_invite(s, org, "official", server.app.clock.utcnow(), dt.timedelta(days=7)).code
    out = await server.say("new-user", f"绑定 {code}")
    assert "绑定成功" in out
    assert await server.say("new-user", "帮助") == texts.HELP_OFFICIAL
    with server.app.session_factory() as s:
        person = people.find_by_identity(s, "wecom", "new-user")
        assert person is not None and person.organisation is not None and "巴宜" in person.organisation.name


async def test_enter_and_subscribe_events_get_a_welcome_once(server: Server) -> None:
    status, _ = await server.sim.post(server.sim.inner(OFFICIAL, "event", Event="enter_agent", EventKey=""))
    assert status == 200
    await server.channel.drain()
    assert server.fake.sent_texts(OFFICIAL) == [texts.WELCOME_BOUND.format(name="墨脱填报人")]
    # Opening the app again soon after does not greet again.
    await server.sim.post(server.sim.inner(OFFICIAL, "event", Event="enter_agent", EventKey=""))
    await server.channel.drain()
    assert len(server.fake.sent_texts(OFFICIAL)) == 1
    await server.sim.post(server.sim.inner("stranger-9", "event", Event="subscribe"))
    await server.channel.drain()
    assert server.fake.sent_texts("stranger-9") == [texts.UNBOUND]


async def test_checkin_by_numbered_answers(server: Server) -> None:
    """A whole check-in typed on a phone: numbers for choices, a photo as evidence. The dialogue-specific
    assertions live here only: adjust them when the check-in dialogue changes."""
    say = server.say
    out = await say(OFFICIAL, "汇报")
    assert re.search(r"^1\. ", out, re.MULTILINE) and re.search(r"^2\. ", out, re.MULTILINE), out
    first_task = re.search(r"^1\. \W*(\w+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    out = await say(OFFICIAL, "1")
    assert first_task in out and "状态" in out and re.search(r"^2\. 推进中", out, re.MULTILINE), out
    out = await say(OFFICIAL, "2")  # 推进中
    assert "百分比" in out, out
    await say(OFFICIAL, "60")  # no list is open: a plain number, the percentage
    await say(OFFICIAL, "编制实施方案初稿")
    await say(OFFICIAL, "跳过")
    await say(OFFICIAL, "跳过")
    out = await say(OFFICIAL, "1")  # 跳过 the expected date, by number
    assert "佐证材料" in out, out
    photo = b"\xff\xd8\xff\xe0" + os.urandom(2000) + b"\xff\xd9"
    media_id = server.fake.add_media(photo, "image/jpeg", "现场.jpg")
    await server.sim.post(server.sim.inner(OFFICIAL, "image", MediaId=media_id, PicUrl="http://example.invalid/p.jpg"))
    await server.channel.drain()
    out = await say(OFFICIAL, "完成")
    assert "60%" in out and "编制实施方案初稿" in out and "确认" in out, out
    out = await say(OFFICIAL, "1")  # 确认
    with server.app.session_factory() as s:
        report = s.execute(select(Report).where(Report.channel == "wecom")).scalar_one()
        assert (report.status, report.percent, report.description) == (IN_PROGRESS, 60, "编制实施方案初稿")
        assert [a.size for a in report.attachments] == [len(photo)]
        assert Path(report.attachments[0].path).read_bytes() == photo
    # And a way out: 取消 ends a started check-in.
    await say(OFFICIAL, "汇报")
    out = await say(OFFICIAL, "取消")
    assert "取消" in out or "退出" in out
    state, _ = server.app.engine.conversation_state("wecom", OFFICIAL, OFFICIAL)
    assert not state.startswith("checkin.")


async def test_image_is_fetched_and_stored_as_evidence(server: Server) -> None:
    await server.say(OFFICIAL, "汇报")
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(3000) + b"\xff\xd9"
    media_id = server.fake.add_media(jpeg, "image/jpeg", "现场照片.jpg")
    before = len(server.fake.sent_texts(OFFICIAL))
    status, _ = await server.sim.post(
        server.sim.inner(
            OFFICIAL, "image", "7100000000000000001", PicUrl="http://example.invalid/x.jpg", MediaId=media_id
        )
    )
    assert status == 200
    await server.channel.drain()
    gets = server.fake.calls_to("media/get")
    assert [c.query["media_id"] for c in gets] == [media_id]
    stored = list((server.app.settings.data_dir / "evidence" / "wecom").iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".jpg" and stored[0].read_bytes() == jpeg
    assert len(server.fake.sent_texts(OFFICIAL)) > before  # the engine answered the photo
    with server.app.session_factory() as s:
        handled = select(Inbox.status).where(Inbox.channel == "wecom", Inbox.message_id == "7100000000000000001")
        assert s.scalar(handled) == IN_DONE


async def test_media_failure_tells_the_user(server: Server) -> None:
    status, _ = await server.sim.post(server.sim.inner(OFFICIAL, "image", MediaId="NO_SUCH_MEDIA"))
    assert status == 200
    await server.channel.drain()
    assert server.fake.sent_texts(OFFICIAL) == [texts.WECOM_MEDIA_FAILED]
    status, _ = await server.sim.post(server.sim.inner(OFFICIAL, "location", Location_X="29.3", Location_Y="95.3"))
    await server.channel.drain()
    assert server.fake.sent_texts(OFFICIAL)[-1] == texts.WECOM_UNSUPPORTED


async def test_retried_callback_is_handled_once(server: Server) -> None:
    query, body = server.sim.encrypt(server.sim.inner(OFFICIAL, "text", "7200000000000000001", Content="帮助"))
    before = server.processed()
    for _ in range(3):  # WeCom retries the identical request
        assert await server.sim.post_raw(query, body) == (200, "")
    await server.channel.drain()
    assert await server.sim.post_raw(query, body) == (200, "")
    await server.channel.drain()
    assert server.fake.sent_texts(OFFICIAL) == [texts.HELP_OFFICIAL]
    assert server.processed() == before + 1


async def test_forged_and_foreign_callbacks_are_refused_and_change_nothing(server: Server) -> None:
    before = server.processed()
    sim = server.sim
    query, body = sim.encrypt(sim.inner(OFFICIAL, "text", Content="帮助"))
    forged = {**query, "msg_signature": "0" * 40}
    assert (await sim.post_raw(forged, body))[0] == 403
    # Right key and token but encrypted for another CorpID.
    foreign = WeComSim(server.url, corp_id="wwOTHERCORP00000")
    try:
        assert (await foreign.post_raw(*foreign.encrypt(foreign.inner(OFFICIAL, "text", Content="帮助"))))[0] == 403
    finally:
        await foreign.close()
    # Another application's key.
    other_key = WeComSim(server.url, aes_key="ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut")
    try:
        q2, b2 = other_key.encrypt(other_key.inner(OFFICIAL, "text", Content="帮助"))
        # Signed with our token, so the signature passes; the plaintext is garbage and cannot be decrypted.
        assert (await sim.post_raw(q2, b2))[0] == 400
    finally:
        await other_key.close()
    await server.channel.drain()
    assert server.processed() == before
    assert server.fake.calls_to("message/send") == []


async def test_callbacks_far_from_the_real_time_are_refused(stub_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A signed callback replayed more than a day after it was sent (or dated more than a day ahead) is refused
    with 403; WeCom's own retries, seconds later with the same timestamp, are not."""
    channel, engine, sim = stub_server
    now = time.time()
    sent = str(int(now) - 60)
    query, body = sim.encrypt(sim.inner("u1", "text", "7300000000000000001", Content="一"), timestamp=sent)
    assert await sim.post_raw(query, body) == (200, "")
    monkeypatch.setattr(callback, "wall_seconds", lambda: now + 30)  # WeCom's retry
    assert await sim.post_raw(query, body) == (200, "")
    # The same request replayed two days later.
    monkeypatch.setattr(callback, "wall_seconds", lambda: now + 2 * 86400)
    assert (await sim.post_raw(query, body))[0] == 403
    monkeypatch.setattr(callback, "wall_seconds", time.time)
    # Signed, but dated more than a day ago or ahead: 403. At the window's edge: accepted.
    for offset, status in ((-86400 - 120, 403), (86400 + 120, 403), (-86400 + 120, 200)):
        q, b = sim.encrypt(sim.inner("u1", "text", Content="二"), timestamp=str(int(now) + offset))
        assert (await sim.post_raw(q, b))[0] == status, offset
    # Signed over a timestamp that is not a number of seconds: 400.
    for junk in ("yesterday", "1.7e9", "-5"):
        q, b = sim.encrypt(sim.inner("u1", "text", Content="三"), timestamp=junk)
        assert (await sim.post_raw(q, b))[0] == 400, junk
    # A bad signature is still a 403, whatever the timestamp says.
    q, b = sim.encrypt(sim.inner("u1", "text", Content="四"), timestamp="yesterday")
    assert (await sim.post_raw({**q, "msg_signature": "0" * 40}, b))[0] == 403
    await channel.drain()
    assert [(m.text, m.message_id) for m in engine.received] == [
        ("一", "7300000000000000001"),
        ("二", engine.received[1].message_id),
    ]


def test_the_window_is_the_constructor_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback, "wall_seconds", lambda: 1_700_000_000.0)
    strict = CallbackCrypto(TOKEN, AES_KEY, CORP_ID, window_seconds=60)
    strict.check_timestamp("1699999950")
    with pytest.raises(BadRequest) as refused:
        strict.check_timestamp("1699999930")
    assert refused.value.status == 403 and "70 s old" in str(refused.value)
    CallbackCrypto(TOKEN, AES_KEY, CORP_ID).check_timestamp("1699920000")  # default: a day
    CallbackCrypto(TOKEN, AES_KEY, CORP_ID, window_seconds=None).check_timestamp("1476422779")  # no limit
    with pytest.raises(BadRequest) as bad:
        CallbackCrypto(TOKEN, AES_KEY, CORP_ID, window_seconds=None).check_timestamp("")
    assert bad.value.status == 400


async def test_malformed_oversized_and_entity_xml_are_refused(server: Server) -> None:
    before = server.processed()
    sim = server.sim
    query, body = sim.encrypt(sim.inner(OFFICIAL, "text", Content="帮助"))
    assert (await sim.post_raw(query, b"<xml><Encrypt>abc"))[0] == 400
    assert (await sim.post_raw(query, b"not xml at all"))[0] == 400
    assert (await sim.post_raw(query, b"<xml><ToUserName>x</ToUserName></xml>"))[0] == 400
    assert (await sim.post_raw({}, body))[0] == 400  # no signature parameters
    # Oversized: with a Content-Length, and streamed without one.
    big = body[:-6] + b"<Pad>" + b"A" * (80 * 1024) + b"</Pad></xml>"
    assert (await sim.post_raw(query, big))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"<!-- " + b"B" * 8192 + b" -->"

    assert (await sim.post_raw(query, chunks()))[0] == 413  # type: ignore[arg-type]
    # Entity expansion ("billion laughs") in the outer XML ...
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Encrypt>&c;</Encrypt></xml>'
    )
    assert (await sim.post_raw(query, bomb))[0] == 400
    # ... and inside a correctly encrypted and signed message.
    inner_bomb = '<!DOCTYPE xml [<!ENTITY a "x">]>' + sim.inner(OFFICIAL, "text", Content="&a;")
    assert (await sim.post(inner_bomb))[0] == 400
    # A valid signature over something that is not ciphertext.
    junk = "bm90IGNpcGhlcnRleHQ="
    ts, nonce = "1684890000", "1"
    jq = {"msg_signature": _get_signature(TOKEN, ts, nonce, junk), "timestamp": ts, "nonce": nonce}
    assert (await sim.post_raw(jq, f"<xml><Encrypt><![CDATA[{junk}]]></Encrypt></xml>".encode()))[0] in (400, 403)
    await server.channel.drain()
    assert server.processed() == before
    assert server.fake.calls_to("message/send") == []


async def test_expired_token_is_refreshed_and_the_message_delivered(server: Server) -> None:
    assert await server.say(OFFICIAL, "帮助") == texts.HELP_OFFICIAL
    server.fake.expire_tokens()
    assert await server.say(OFFICIAL, "帮助") == texts.HELP_OFFICIAL
    assert len(server.fake.calls_to("gettoken")) == 2
    sends = server.fake.calls_to("message/send")
    assert [c.ok for c in sends] == [True, False, True]
    assert sends[1].query["access_token"] != sends[2].query["access_token"]


async def test_token_that_keeps_failing_gives_up(
    fake: FakeWecomApi, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    channel = WecomChannel(wecom_settings(None, fake, tmp_path))
    fake.fail("message/send", 42001, times=1000)
    with caplog.at_level(logging.ERROR, logger="bot.channels.wecom"):
        with pytest.raises(WecomApiError) as err:
            await asyncio.wait_for(channel.send("someone", Reply("hi")), 20)
    assert err.value.errcode == 42001
    assert len(fake.calls_to("message/send")) == 3  # first try + 2 refreshes
    assert len(fake.calls_to("gettoken")) == 3
    assert [r.message for r in caplog.records if "giving up" in r.message] and len(caplog.records) == 1
    # gettoken itself refusing (a wrong secret) does not loop either.
    bad = WecomChannel(wecom_settings(None, fake, tmp_path, wecom_secret="wrong-secret"))
    n = len(fake.calls_to("gettoken"))
    with pytest.raises(WecomApiError):
        await bad.send("someone", Reply("hi"))
    assert len(fake.calls_to("gettoken")) - n == 3


async def test_send_maps_errors_for_the_outbox(fake: FakeWecomApi, tmp_path: Path) -> None:
    channel = WecomChannel(wecom_settings(None, fake, tmp_path))
    fake.fail("message/send", 45009)
    with pytest.raises(RetryLater):
        await channel.send("u1", Reply("hi"))
    fake.fail("message/send", 45033)
    with pytest.raises(RetryLater):
        await channel.send("u1", Reply("hi"))
    for code in (60111, 81013):
        fake.fail("message/send", code)
        with pytest.raises(PermanentFailure):
            await channel.send("u1", Reply("hi"))
    fake.fail_http("message/send", 500)
    with pytest.raises(WecomApiError) as err:
        await channel.send("u1", Reply("hi"))
    assert not isinstance(err.value, (RetryLater, PermanentFailure))
    await channel.send("u1", Reply("终于"))
    assert fake.sent_texts("u1") == ["终于"]


async def test_long_markdown_and_attachment_replies(fake: FakeWecomApi, tmp_path: Path) -> None:
    channel = WecomChannel(wecom_settings(None, fake, tmp_path))
    long_text = "\n".join(
        f"第{i}项：林芝市生态文明建设示范区创建任务进展顺利，已完成年度目标的百分之八十。" for i in range(120)
    )
    await channel.send("u1", Reply(long_text))
    parts = fake.sent_texts("u1")
    assert len(parts) > 1 and all(len(p.encode()) <= TEXT_LIMIT.size for p in parts)
    assert "\n".join(parts) == long_text
    await channel.send("u2", Reply("周报", markdown="## 周报\n> 墨脱县 **3** 项逾期"))
    md = fake.calls_to("message/send")[-1].body
    assert md["msgtype"] == "markdown" and md["markdown"]["content"].startswith("## 周报")
    await channel.send("u3", Reply("请选择", choices=[Choice("是", "y"), Choice("否", "n")], markdown="**请选择**"))
    assert fake.sent_texts("u3") == ["请选择\n\n1. 是\n2. 否"]
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    await channel.send("u4", Reply("图表", attachments=[OutAttachment("photo", str(chart), "chart.png")]))
    assert fake.calls_to("media/upload")[-1].query["type"] == "image"
    last = fake.calls_to("message/send")[-1]
    assert last.ok and last.body["msgtype"] == "image" and last.body["image"]["media_id"].startswith("UP_")


async def test_every_url_follows_the_base_url(fake: FakeWecomApi) -> None:
    client = WecomClient(CORP_ID, SECRET, fake.base_url)
    media_id = fake.add_media(b"hello", "text/plain", "a.txt")

    def run() -> None:
        assert client.media.get_url("M").startswith(fake.base_url + "media/get?")
        assert client.media.get_jssdk_url("M").startswith(fake.base_url + "media/get/jssdk?")
        assert client.material.get_url("M").startswith(fake.base_url + "material/get?")
        assert client.media.download(media_id).content == b"hello"  # wechatpy's own download, redirected
        assert client.download_media(media_id)[0] == b"hello"
        # A URL wechatpy hard-codes for the public service is sent to the configured base instead.
        res = client._http.get(PUBLIC_BASE_URL + "gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET})
        assert res.json()["errcode"] == 0

    await asyncio.to_thread(run)
    assert fake.calls_to("gettoken") and fake.calls_to("media/get")
    assert normalize_base_url("https://zwwx.example.gov.cn") == "https://zwwx.example.gov.cn/cgi-bin/"
    assert normalize_base_url("http://127.0.0.1:9/cgi-bin") == "http://127.0.0.1:9/cgi-bin/"
    with pytest.raises(ValueError):
        normalize_base_url("zwwx.example.gov.cn")


async def test_group_robot(fake: FakeWecomApi, tmp_path: Path) -> None:
    await send_group_robot(fake.webhook_url, "周报正文", "## 周报\n正文")
    call = fake.calls_to("webhook/send")[-1]
    assert call.ok and call.body == {"msgtype": "markdown", "markdown": {"content": "## 周报\n正文"}}
    fake.fail("webhook/send", 45009)
    with pytest.raises(RetryLater):
        await send_group_robot(fake.webhook_url, "x")
    with pytest.raises(PermanentFailure):
        await send_group_robot(fake.webhook_url.replace("test-robot-key", "wrong"), "x")
    channel = WecomChannel(wecom_settings(None, fake, tmp_path))
    try:
        await channel.send(ROBOT_CHAT_ID, Reply("纯文本周报"))
    finally:
        await channel.stop()
    assert fake.calls_to("webhook/send")[-1].body == {"msgtype": "text", "text": {"content": "纯文本周报"}}


# ---- channel behaviour with a stub engine ---------------------------------------------------------------------


@pytest.fixture
async def stub_server(
    settings: Settings, fake: FakeWecomApi, tmp_path: Path
) -> AsyncIterator[tuple[WecomChannel, StubEngine, WeComSim]]:
    async with channel_alone(wecom_settings(settings, fake, tmp_path)) as (channel, engine, url):
        sim = WeComSim(url)
        yield channel, engine, sim
        await sim.close()


async def test_a_typed_number_goes_to_the_engine_as_typed(stub_server: Any, fake: FakeWecomApi) -> None:
    """Choices are shown numbered; a number typed back is the engine's to map (to the question it stored with
    the conversation), so the channel keeps no list of its own: the same after a restart and on any process."""
    channel, engine, sim = stub_server
    engine.replies = [
        [Reply("选哪项？", choices=[Choice("污水处理", "task:17", "~q1.0"), Choice("垃圾分类", "task:18", "~q1.1")])]
    ]
    for text in ("汇报", "２", "2"):
        await sim.text("u1", text)
        await channel.drain()
    assert [(m.text, m.is_choice) for m in engine.received] == [("汇报", False), ("２", False), ("2", False)]
    assert fake.sent_texts("u1") == ["选哪项？\n\n1. 污水处理\n2. 垃圾分类"]
    # A proactive prompt's choices are numbered too; the number still goes as typed.
    await channel.send("u2", Reply("本周汇报？", choices=[Choice("开始汇报", "汇报"), Choice("稍后", "later")]))
    assert fake.sent_texts("u2") == ["本周汇报？\n\n1. 开始汇报\n2. 稍后"]
    await sim.text("u2", "1")
    await channel.drain()
    assert (engine.received[-1].text, engine.received[-1].is_choice) == ("1", False)


async def test_a_full_width_number_answers_the_pending_question(server: Server) -> None:
    """A number typed on a phone keyboard (full-width or not) picks the numbered choice of the question asked."""
    out = await server.say(OFFICIAL, "汇报")
    assert re.search(r"^1\. ", out, re.MULTILINE), out
    out = await server.say(OFFICIAL, "1")
    assert "状态" in out and re.search(r"^2\. 推进中", out, re.MULTILINE), out
    out = await server.say(OFFICIAL, "２")  # 推进中
    assert "百分比" in out, out


async def test_official_sample_message_through_the_callback(
    fake: FakeWecomApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WeCom's published sample request, POSTed as is, reaches the engine as 你好 from ChenJiaShun."""
    s = OFFICIAL_SAMPLE
    # The sample was made in October 2016: receive it a minute after it was sent.
    monkeypatch.setattr(callback, "wall_seconds", lambda: int(s["message"]["timestamp"]) + 60.0)
    settings = wecom_settings(
        None, fake, tmp_path, wecom_token=s["token"], wecom_aes_key=s["aes_key"], wecom_corp_id=s["corp_id"]
    )
    async with channel_alone(settings) as (channel, engine, url):
        async with aiohttp.ClientSession() as http:
            async with http.get(url, params=s["verify"]) as r:
                assert (r.status, await r.text()) == (200, "1288432023552776189")
            m = s["message"]
            q = {k: m[k] for k in ("msg_signature", "timestamp", "nonce")}
            async with http.post(url, params=q, data=m["body"].encode()) as r:
                assert (r.status, await r.text()) == (200, "")
        await channel.drain()
        assert [(x.user_id, x.text, x.message_id, x.channel) for x in engine.received] == [
            ("ChenJiaShun", "你好", "1456453720", "wecom")
        ]


# ---- splitting ------------------------------------------------------------------------------------------------


@hsettings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("汇报进度ab1\n🌲")), max_size=3000),
    st.sampled_from([16, 64, TEXT_LIMIT.size, MARKDOWN_LIMIT.size]),
)
def test_split_utf8_respects_the_byte_limit(text: str, limit: int) -> None:
    parts = split(text, TextLimit(limit, Unit.UTF8))
    assert all(len(p.encode()) <= limit for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


# ---- duban serve as a subprocess ------------------------------------------------------------------------------


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture
def serve_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update({"DUBAN_DATA_DIR": str(tmp_path / "data"), "DUBAN_NOW": "2023-05-24T09:00", "PYTHONPATH": str(REPO)})
    yield env


async def test_duban_serve_subprocess_end_to_end(fake: FakeWecomApi, serve_env: dict[str, str]) -> None:
    env = serve_env
    r = await asyncio.to_thread(_cli, ["init", "--demo"], env)
    assert r.returncode == 0, r.stderr
    r = await asyncio.to_thread(
        _cli, ["person", "add", "张三", "--org", "墨脱县", "--role", "official", "--wecom-userid", "zhangsan"], env
    )
    assert r.returncode == 0, r.stderr
    port = free_port()
    env.update(
        {
            "DUBAN_WECOM_CORP_ID": CORP_ID,
            "DUBAN_WECOM_AGENT_ID": AGENT_ID,
            "DUBAN_WECOM_SECRET": SECRET,
            "DUBAN_WECOM_TOKEN": TOKEN,
            "DUBAN_WECOM_AES_KEY": AES_KEY,
            "DUBAN_WECOM_API_BASE_URL": fake.base_url,
            "DUBAN_HTTP_PORT": str(port),
            "DUBAN_SCHEDULER_ENABLED": "false",
        }
    )
    log_path = Path(env["DUBAN_DATA_DIR"]) / "serve.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:

                async def wecom_is_served() -> bool:
                    assert proc.poll() is None, log_path.read_text()
                    try:
                        async with http.get(base + "/healthz") as res:
                            return res.status == 200 and "wecom" in (await res.json())["channels"]
                    except aiohttp.ClientError:
                        return False

                await wait_for(wecom_is_served, timeout=60, what=log_path.read_text)
            sim = WeComSim(base + "/wecom/callback")
            try:
                await sim.text("zhangsan", "帮助")
                sent = await fake.wait_sent(1, "zhangsan", timeout=30)
            finally:
                await sim.close()
            assert sent == [texts.HELP_OFFICIAL]
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 30)
    assert code == 0, log_path.read_text()


def test_parse_xml_refuses_any_dtd() -> None:
    assert parse_xml(b"<xml><A><![CDATA[1]]></A></xml>") == {"A": "1"}
    for doc in (
        b"<!DOCTYPE xml><xml><A>1</A></xml>",  # harmless by itself, but WeCom never sends one
        b'<!doctype xml [<!entity x SYSTEM "file:///etc/passwd">]><xml><A>&x;</A></xml>',
        b"<xml><A>1</A></xml><!ENTITY y 'z'>",
    ):
        with pytest.raises(BadRequest) as err:
            parse_xml(doc)
        assert err.value.status == 400


async def test_group_robot_only_channel_sends_digests_and_refuses_users(tmp_path):
    """With only DUBAN_WECOM_GROUP_WEBHOOK set, serve still delivers group digests."""
    from config.settings import Settings
    from core.channel import PermanentFailure
    from core.messages import Reply
    from tests.fakes.wecom_api import FakeWecomApi

    fake = FakeWecomApi(corp_id="wwrobot", secret="s")
    await fake.start()
    try:
        ch = WecomRobotChannel(Settings(data_dir=tmp_path, wecom_group_webhook=fake.webhook_url))
        await ch.send(ROBOT_CHAT_ID, Reply("本周周报", markdown="**本周周报**"))
        assert [c.content for c in fake.calls_to("webhook/send")] == ["**本周周报**"]
        try:
            await ch.send("zhangsan", Reply("你好"))
        except PermanentFailure:
            pass
        else:
            raise AssertionError("a user message must not be sent without the WeCom app")
    finally:
        await fake.stop()


class HangingWecom(FakeWecomApi):
    """message/send takes the message, then answers only after `hang` seconds (a WeCom API in trouble)."""

    hang = 6.0

    async def _message_send(self, request: web.Request) -> web.Response:
        response = await super()._message_send(request)
        await asyncio.sleep(self.hang)
        return response


async def test_a_hanging_wecom_api_does_not_hold_up_the_callbacks_or_the_heartbeat(
    settings: Settings, tmp_path: Path
) -> None:
    """Sends block a thread each while WeCom hangs; the callback must still be stored and answered well within
    WeCom's 5 seconds, and the process must keep beating, or WeCom gives the message up and other processes
    take this one for dead."""
    fake = await HangingWecom(corp_id=CORP_ID, secret=SECRET).start()
    # asyncio's shared pool as small as the handling it may have to serve (a small machine, many chats at once).
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=3))
    try:
        async with channel_alone(wecom_settings(settings, fake, tmp_path)) as (channel, engine, url):
            engine.replies = [[Reply("收到")] for _ in range(40)]
            sim = WeComSim(url)
            try:
                await asyncio.gather(*(sim.text(f"wx-hang-{i}", "汇报") for i in range(12)))
                await wait_for(lambda: len(fake.calls_to("message/send")) >= 8, timeout=10)
                # Now many sends hang at once. New callbacks must still be answered at once.
                took: list[float] = []
                for i in range(4):
                    t0 = time.monotonic()
                    await sim.text(f"wx-late-{i}", "汇报")
                    took.append(time.monotonic() - t0)
                assert max(took) < 1.0, took
                beat_age = await asyncio.to_thread(_heartbeat_age, engine)
                assert beat_age < 3 * channel.settings.worker_timeout_seconds / 4, beat_age
            finally:
                await sim.close()
    finally:
        await fake.stop()


def _heartbeat_age(engine: Engine) -> float:
    with engine.session_factory() as s:
        newest = s.scalar(select(func.max(Worker.seen_at)))
    assert newest is not None
    return (wall_utcnow() - newest).total_seconds()
