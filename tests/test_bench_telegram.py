"""The Telegram benchmark's machinery (bench/telegram.py, bench/tg_fake.py, bench/tg_run.py): the fake server's
clock, the bot processes, the copies of the seeded database, and ratios taken pair by pair within a round."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench import telegram as tg
from bench import tg_run
from bench.__main__ import KNOWN_CAUSES
from bench.common import SQLITE, database_copy
from bench.tg_fake import BenchFakeTelegramAPI
from tests.fakes.telegram_api import DEFAULT_TOKEN

Reply = Callable[[aiohttp.ClientSession, str, int, str], Awaitable[None]]


@contextlib.asynccontextmanager
async def fake_with_bot(reply: Reply) -> AsyncIterator[tuple[BenchFakeTelegramAPI, aiohttp.ClientSession]]:
    """The bench's fake server and a minimal bot polling it: every message is passed to `reply`."""
    api = BenchFakeTelegramAPI()
    await api.start()
    session = aiohttp.ClientSession()
    base = f"{api.url}/bot{api.token}"

    async def poll() -> None:
        offset = 0
        while True:
            async with session.post(f"{base}/getUpdates", json={"offset": offset, "timeout": 5}) as resp:
                updates = (await resp.json())["result"]
            for u in updates:
                offset = u["update_id"] + 1
                m = u["message"]
                asyncio.create_task(reply(session, api.url, m["chat"]["id"], m["text"]))

    poller = asyncio.create_task(poll())
    try:
        yield api, session
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await session.close()
        await api.stop()


async def send(session: aiohttp.ClientSession, url: str, chat: int, text: str) -> None:
    async with session.post(f"{url}/bot{DEFAULT_TOKEN}/sendMessage", json={"chat_id": chat, "text": text}) as r:
        assert r.status == 200


async def control(session: aiohttp.ClientSession, url: str, op: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(f"{url}/control/{op}", json=body) as resp:
        out: dict[str, Any] = await resp.json()
        return out


async def test_a_burst_is_timed_to_the_arrival_of_the_last_expected_reply() -> None:
    async def reply(session: aiohttp.ClientSession, url: str, chat: int, text: str) -> None:
        if text == "slow":
            await asyncio.sleep(0.2)
        await send(session, url, chat, text)

    async with fake_with_bot(reply) as (api, session):
        messages = [[1, "a"], [2, "b"], [3, "slow"], [4, "c"]]
        t0 = time.perf_counter()
        answer = await control(session, api.url, "burst", {"messages": messages, "replies": 4, "timeout": 10})
        wall = time.perf_counter() - t0
        assert answer["replies"] == 4
        assert 0.2 <= answer["seconds"] <= wall
        assert api.texts(3) == ["slow"]


async def test_a_burst_without_a_count_waits_for_done_and_stops_at_the_last_reply() -> None:
    async def reply(session: aiohttp.ClientSession, url: str, chat: int, text: str) -> None:
        await send(session, url, chat, text)
        await asyncio.sleep(0.1)
        await send(session, url, chat, text + " again")  # two replies to a message, as duban sometimes sends
        if text == "last":
            await asyncio.sleep(0.3)  # the clock must not run while the bot takes its time to say done
            await control(session, url, "done", {})

    async with fake_with_bot(reply) as (api, session):
        t0 = time.perf_counter()
        answer = await control(
            session, api.url, "burst", {"messages": [[1, "x"], [2, "last"]], "replies": None, "timeout": 10}
        )
        wall = time.perf_counter() - t0
        assert answer["replies"] == 4
        assert 0.1 <= answer["seconds"] <= wall - 0.25


async def test_a_burst_that_gets_no_reply_times_out_as_an_error() -> None:
    async def silent(session: aiohttp.ClientSession, url: str, chat: int, text: str) -> None:
        return None

    async with fake_with_bot(silent) as (api, session):
        async with session.post(
            f"{api.url}/control/burst", json={"messages": [[1, "x"]], "replies": 1, "timeout": 0.2}
        ) as resp:
            assert resp.status == 504


async def test_ask_times_the_first_reply_to_the_asking_chat_only() -> None:
    async def reply(session: aiohttp.ClientSession, url: str, chat: int, text: str) -> None:
        await send(session, url, 999, "to someone else")  # must not stop the clock
        await asyncio.sleep(0.15)
        await send(session, url, chat, text)

    async with fake_with_bot(reply) as (api, session):
        answer = await control(session, api.url, "ask", {"chat": 7, "text": "hi", "timeout": 10})
        assert 0.15 <= answer["seconds"] < 5
        state = await (await session.get(f"{api.url}/control/state")).json()
        assert state["replies"] == 2 and state["get_updates"] >= 1 and not state["ready"]


def test_a_ptb_echo_bot_in_its_own_process_answers_every_message_of_a_burst(tmp_path: Path) -> None:
    messages = [(60001 + i % 3, f"消息 {i}") for i in range(12)]
    with tg_run.fake_server(tmp_path / "fake.log") as base_url:
        argv = [sys.executable, "-m", "bench.echo_ptb", "--base-url", base_url, "--token", tg_run.TOKEN]
        with tg_run.bot(argv, base_url, tmp_path / "echo.log") as started:
            seconds, replies = tg_run.burst(base_url, messages, len(messages), timeout=60)
            assert started.info["transport"] == "HTTPXRequest"
            assert replies == len(messages) and seconds > 0
            assert tg_run.ask(base_url, 60001, "你好") > 0
        assert started.process.poll() is not None  # stopped when the block ended


def test_a_bot_process_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    with tg_run.fake_server(tmp_path / "fake.log") as base_url:
        argv = [sys.executable, "-c", "import sys; print('no such bot'); sys.exit(3)"]
        with pytest.raises(tg_run.BotFailed, match="no such bot"), tg_run.bot(argv, base_url, tmp_path / "x.log"):
            pass


def test_a_database_copy_is_independent_of_its_template_and_removed_after(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    with sqlite3.connect(template) as c:
        c.execute("CREATE TABLE t (x INTEGER)")
        c.execute("INSERT INTO t VALUES (1)")
    c.close()
    with database_copy(SQLITE, f"sqlite:///{template}", tmp_path, "copy") as url:
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as c:
            c.execute("INSERT INTO t VALUES (2)")
            assert c.execute("SELECT count(*) FROM t").fetchone() == (2,)
        c.close()
    assert not Path(path).exists()
    with sqlite3.connect(template) as c:
        assert c.execute("SELECT count(*) FROM t").fetchone() == (1,)
    c.close()


def _contender(key: str, rates: dict[int, float], backend: str | None = None, skipped: str = "") -> tg.Contender:
    c = tg.Contender(key, key, backend=backend, skipped=skipped)
    c.runs = {r: tg.Figures(100, 100 / rate, 100) for r, rate in rates.items()}
    return c


def test_ratios_are_taken_pair_by_pair_within_a_round_and_judged_on_the_sqlite_median() -> None:
    contenders = [
        _contender(tg.ECHO_DEFAULT, {0: 100, 1: 200, 2: 100}),
        _contender(tg.ECHO_OURS, {}, skipped="not run: no transport"),
        _contender(tg.AIOGRAM, {0: 400, 1: 400, 2: 400}),
        _contender(tg._duban(SQLITE), {0: 50, 1: 200}, backend=SQLITE),  # round 2 missing: no pair
    ]
    rows = tg._rows(contenders, 3, [(1, "x")] * 100, [(1, "org")], {}, [], {}, 200)
    by = {r.measure: r for r in rows}
    ratio = by[tg.M_RATIO_DEFAULT]
    assert ratio.values[SQLITE] == "0.50x / 0.75x / 1.00x"  # 50/100 and 200/200, not min/max of each side
    assert ratio.met is False
    assert "no transport" in by[tg.M_RATIO_OURS].values[SQLITE] and by[tg.M_RATIO_OURS].met is None
    assert by[tg.M_RATIO_AIOGRAM].values[SQLITE] == "0.12x / 0.31x / 0.50x"
    assert by[tg.M_ECHO_DEFAULT].values["all"] == "100 / 100 / 200"
    assert by[tg.M_LATENCY].met is False  # no sample is no pass


def test_every_telegram_target_has_a_known_cause_keyed_by_its_measure() -> None:
    for measure in (tg.M_RATIO_DEFAULT, tg.M_RATIO_OURS, tg.M_LATENCY):
        assert measure in KNOWN_CAUSES
