"""The fake Bot API server in a process of its own, with a control endpoint for the Telegram benchmark.

`python -m bench.tg_fake` serves tests/fakes/telegram_api.py's `FakeTelegramAPI` (unchanged: the bots see the
same Bot API as in the tests) on a free port of 127.0.0.1, prints `PORT <n>` on stdout and runs until SIGTERM
or SIGINT. The benchmark's driver and the bot under test talk to it over HTTP, JSON in and out:

- `GET /control/state` → `{"ready", "get_updates", "replies", "info"}`: whether the bot said it is set up, how
  many getUpdates calls it made, how many sendMessage calls were answered 200.
- `POST /control/ready` (from the bot, any JSON object: kept as "info") and `POST /control/done` (from a bot
  that knows when it has handled every message of a burst, i.e. duban).
- `POST /control/burst {"messages": [[chat, text], ...], "replies": n | null, "timeout": s}`: queue every
  message at once, then wait until `n` replies have arrived (or, with null, until the bot posts done). Answers
  `{"seconds", "replies"}`: from just before the first message was queued to the arrival of the last reply.
- `POST /control/ask {"chat", "text", "timeout"}`: queue one message and wait for the first reply to that chat.
  Answers `{"seconds", "replies"}`: from just before it was queued to the arrival of that reply.

Every time is taken in this process with `time.perf_counter()`, when the server has the request in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections import Counter
from typing import Any

from aiohttp import web

from tests.fakes.telegram_api import FakeTelegramAPI


class BenchFakeTelegramAPI(FakeTelegramAPI):
    """The fake with a record of when each reply arrived and the control routes of the module docstring."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.reply_times: list[float] = []  # arrival of every sendMessage answered 200, in order
        self.replies_to: Counter[int] = Counter()
        self.chat_reply_times: dict[int, list[float]] = {}  # chat → arrival times of its replies
        self.ready_info: dict[str, Any] | None = None
        self._done = asyncio.Event()
        self._tick = asyncio.Event()

    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get("/control/state", self._c_state)
        app.router.add_post("/control/ready", self._c_ready)
        app.router.add_post("/control/done", self._c_done)
        app.router.add_post("/control/burst", self._c_burst)
        app.router.add_post("/control/ask", self._c_ask)

    async def _m_sendMessage(self, p: dict[str, Any], _f: Any) -> web.Response:
        response = await super()._m_sendMessage(p, _f)
        if response.status == 200:
            at = time.perf_counter()
            chat = int(p["chat_id"])
            self.reply_times.append(at)
            self.replies_to[chat] += 1
            self.chat_reply_times.setdefault(chat, []).append(at)
            self._wake()
        return response

    def _wake(self) -> None:
        old, self._tick = self._tick, asyncio.Event()
        old.set()

    async def _until(self, predicate: Any, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._tick.wait(), remaining)
        return True

    async def _c_state(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "ready": self.ready_info is not None,
                "get_updates": sum(1 for c in self.calls if c.method == "getUpdates"),
                "replies": len(self.reply_times),
                "info": self.ready_info or {},
            }
        )

    async def _c_ready(self, request: web.Request) -> web.Response:
        self.ready_info = dict(await request.json()) if request.can_read_body else {}
        return web.json_response({"ok": True})

    async def _c_done(self, request: web.Request) -> web.Response:
        self._done.set()
        self._wake()
        return web.json_response({"ok": True})

    async def _c_burst(self, request: web.Request) -> web.Response:
        body = await request.json()
        messages: list[list[Any]] = body["messages"]
        expected: int | None = body.get("replies")
        timeout = float(body.get("timeout", 600))
        self._done.clear()
        base = len(self.reply_times)
        t0 = time.perf_counter()
        for chat, text in messages:
            self.inject_message(int(chat), str(text))
        if expected is not None:
            ok = await self._until(lambda: len(self.reply_times) - base >= expected, timeout)
        else:
            ok = await self._until(self._done.is_set, timeout)
        got = len(self.reply_times) - base
        if not ok or got == 0:
            return web.json_response({"error": f"timed out after {timeout:.0f} s", "replies": got}, status=504)
        end = self.reply_times[base + expected - 1] if expected is not None else self.reply_times[-1]
        return web.json_response({"seconds": end - t0, "replies": got})

    async def _c_ask(self, request: web.Request) -> web.Response:
        body = await request.json()
        chat = int(body["chat"])
        timeout = float(body.get("timeout", 30))
        before = self.replies_to[chat]
        t0 = time.perf_counter()
        self.inject_message(chat, str(body["text"]))
        if not await self._until(lambda: self.replies_to[chat] > before, timeout):
            return web.json_response({"error": f"no reply within {timeout:.0f} s"}, status=504)
        return web.json_response(
            {"seconds": self.chat_reply_times[chat][before] - t0, "replies": len(self.reply_times)}
        )


async def _serve() -> None:
    api = BenchFakeTelegramAPI()
    await api.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"PORT {api.port}", flush=True)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await api.stop()


if __name__ == "__main__":
    asyncio.run(_serve())
    sys.exit(0)
