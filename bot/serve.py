"""`duban serve`: the long-running process. One HTTP server (/healthz, Telegram webhook, WeCom callback, the board),
the enabled channels, the inbox worker, the outbox sender and the scheduler jobs.

Before the channels start, `warm_up` answers a question and a check-in's first step without keeping anything, so
that the first user's message does not pay for what any first message costs.

A stop (SIGTERM, SIGINT) finishes within about `stop_grace_seconds` plus a second or two, whatever is queued:
each chat finishes the message in hand, the rest stays in the inbox for the next start or another process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import health
from bot.app import App
from bot.board import app as board_app
from bot.inbox import Pipeline
from core.channel import Channel
from core.messages import IncomingMessage
from db.models import ADMIN, COORDINATOR, LEADER, OFFICIAL, Identity, Organisation, Person

log = logging.getLogger(__name__)

WARM_UP_CHECKIN = "汇报"  # an official's first step of a check-in: the list of his tasks
WARM_UP_QUESTION = "{org}进度"  # a coordinator's question: the progress of a county


def warm_up(app: App) -> int:
    """Pay at start what a process's first messages would: a coordinator's progress question and an official's
    "汇报" go through the engine (`Engine.respond`: conversation, person, handlers, understanding, the answer's
    queries), each inside a transaction that is rolled back. The first question after a start otherwise costs
    several times a later one: SQLAlchemy compiles and caches each statement on its first use, and handlers
    build some tables and import some modules lazily.

    Nothing is kept and nothing is sent: the replies are dropped, the transaction is rolled back, and the
    channels have not started. People without an identity are skipped (a new installation warms nothing).
    Never fails the start: an error is logged. Returns how many messages were answered.
    """
    t0 = time.perf_counter()
    answered = 0
    for roles, text in (((COORDINATOR, LEADER, ADMIN), WARM_UP_QUESTION), ((OFFICIAL,), WARM_UP_CHECKIN)):
        try:
            with app.session_factory() as session:
                try:
                    msg = _warm_up_message(session, roles, text)
                    if msg is None:
                        continue
                    app.engine.respond(session, msg, app.clock.utcnow())
                    answered += 1
                finally:
                    session.rollback()
        except Exception:
            log.warning("warm-up with %r failed (the first message will be slower)", text, exc_info=True)
    log.info("warmed up with %d message(s) in %.0f ms", answered, (time.perf_counter() - t0) * 1000)
    return answered


def _warm_up_message(session: Session, roles: tuple[str, ...], text: str) -> IncomingMessage | None:
    """`text` from the first active person with one of `roles` and an identity (None: nobody), about a county."""
    ident = session.scalars(
        select(Identity)
        .join(Person)
        .where(Person.role.in_(roles), Person.active.is_(True))
        .order_by(Identity.id)
        .limit(1)
    ).first()
    if ident is None:
        return None
    county = session.scalars(select(Organisation).where(Organisation.kind == "county").limit(1)).first()
    name = (county.short_name or county.name) if county is not None else ""
    return IncomingMessage(
        channel=ident.channel,
        chat_id=ident.chat_id or ident.external_id,
        user_id=ident.external_id,
        text=text.format(org=name),
    )


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
    board_app.install(web_app, app)
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
    await asyncio.to_thread(warm_up, app)
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
