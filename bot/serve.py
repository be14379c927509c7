"""`duban serve`: the long-running process. One HTTP server (/healthz, Telegram webhook, WeCom callback),
the enabled channels, the inbox worker, the outbox sender and the scheduler jobs.

A stop (SIGTERM, SIGINT) finishes within about `stop_grace_seconds` plus a second or two, whatever is queued:
each chat finishes the message in hand, the rest stays in the inbox for the next start or another process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiohttp import web

from bot import health
from bot.app import App
from bot.inbox import Pipeline
from core.channel import Channel

log = logging.getLogger(__name__)


def enabled_channels(app: App) -> list[Channel]:
    s = app.settings
    channels: list[Channel] = []
    if s.telegram_enabled:
        from bot.channels.telegram.channel import TelegramChannel

        channels.append(TelegramChannel(s))
    if s.wecom_enabled:
        from bot.channels.wecom.channel import WecomChannel

        channels.append(WecomChannel(s))
    elif s.wecom_group_webhook:
        from bot.channels.wecom.robot import WecomRobotChannel

        channels.append(WecomRobotChannel(s))
    return channels


async def serve(app: App, stop: asyncio.Event | None = None, ready: asyncio.Event | None = None) -> None:
    """Run until `stop` is set (or SIGINT/SIGTERM)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    channels = enabled_channels(app)
    web_app = web.Application(client_max_size=64 * 1024)
    started: list[Channel] = []
    scheduler: Any = None
    pipeline = Pipeline(app, channels)
    health.install(web_app, app, channels, extra=lambda: {"busy_chats": pipeline.worker.busy_chats})
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
    try:
        for ch in channels:
            await ch.start(app, web_app)
            started.append(ch)
        await pipeline.start()
        await runner.setup()
        site = web.TCPSite(runner, app.settings.http_host, app.settings.http_port)
        await site.start()
        log.info(
            "duban serving on %s:%s with channels %s",
            app.settings.http_host,
            app.settings.http_port,
            [c.name for c in channels] or "none",
        )
        if not channels:
            log.warning("no channel configured: set DUBAN_TELEGRAM_TOKEN or the DUBAN_WECOM_* settings")
        if app.settings.scheduler_enabled:
            from scheduler.service import SchedulerService

            scheduler = SchedulerService(app, {c.name: c for c in channels}, pipeline.sender)
            await scheduler.start()
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
    finally:
        if scheduler is not None:
            await scheduler.stop()
        await pipeline.stop(app.settings.stop_grace_seconds)
        for ch in reversed(started):
            try:
                await ch.stop()
            except Exception:
                log.exception("stopping channel %s", ch.name)
        await runner.cleanup()
        log.info("stopped")
