"""duban as `duban serve` runs it, in a process of its own, for the Telegram benchmark.

`python -m bench.tg_duban --url DB --data-dir DIR --base-url URL --token TOKEN [--expect N]`: the real
`TelegramChannel` (long polling, whatever HTTP transport it is built with), the durable inbox and its worker,
the engine and the outbox sender, on a database already migrated and seeded (bench/telegram.py copies a
seeded template for every run). What `duban serve` adds and the benchmark leaves out: the scheduler (off), the
health HTTP server, and Telegram's flood limits (opened wide: they are a policy, not an overhead, and would cap
every bot alike). Tells the fake server it is ready once polling and the worker have started; with `--expect N`
it posts done once N updates are completely handled and the worker is idle (the fake then stops the clock at the
arrival of the last reply). Stops on SIGTERM or SIGINT as `duban serve` does.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
from pathlib import Path

from bench.tg_control import post

# The engine benchmark's moment: a Wednesday morning of the demo plan (deadlines and overdue tasks exist).
NOW = dt.datetime(2023, 5, 24, 9)


async def main(url: str, data_dir: Path, base_url: str, token: str, expect: int) -> None:
    from aiohttp import web

    from bot.app import build_app
    from bot.channels.telegram.channel import TelegramChannel
    from bot.channels.telegram.limits import TelegramRateLimiter
    from bot.inbox import Pipeline
    from config.clock import Clock
    from config.settings import Settings
    from tests.fakes.wait import wait_for

    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        scheduler_enabled=False,
        telegram_token=token,
        telegram_base_url=base_url,
    )
    app = build_app(settings, migrate=False, clock=Clock("Asia/Shanghai", NOW))
    channel = TelegramChannel(
        settings, limiter=TelegramRateLimiter(overall_max_rate=1e6, chat_burst=1e6, chat_per_second=1e6)
    )
    pipeline = Pipeline(app, [channel])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def report_done() -> None:
        await wait_for(lambda: channel.updates_done >= expect, timeout=None)
        await pipeline.worker.idle(600)
        await asyncio.to_thread(post, base_url, "done")

    watcher: asyncio.Task[None] | None = None
    try:
        await channel.start(app, web.Application())
        await pipeline.start()
        if expect:
            watcher = asyncio.create_task(report_done())
        await asyncio.to_thread(post, base_url, "ready", {"transport": type(channel.bot.request).__name__})
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await pipeline.stop(10.0)
        await channel.stop()
        app.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--base-url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--expect", type=int, default=0, help="updates in the burst (0: do not post done)")
    a = p.parse_args()
    asyncio.run(main(a.url, a.data_dir, a.base_url, a.token, a.expect))
