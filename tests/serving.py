"""A channel running with the inbox and the outbox sender of a process, without the rest of `duban serve`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from bot.app import App
from bot.inbox import Pipeline
from core.channel import Channel


@contextlib.asynccontextmanager
async def running(app: App, channel: Channel, web_app: web.Application | None = None) -> AsyncIterator[Pipeline]:
    """Start `channel` with an inbox worker and a sender (routes go on `web_app`); stop both at the end."""
    pipeline = Pipeline(app, [channel])
    await channel.start(app, web_app if web_app is not None else web.Application())
    await pipeline.start()
    try:
        yield pipeline
    finally:
        await pipeline.stop(5.0)
        await channel.stop()
