"""A bare python-telegram-bot echo bot, one of the Telegram benchmark's references, in a process of its own.

`python -m bench.echo_ptb --base-url URL --token TOKEN [--transport default|ours] [--concurrency 64]`: long
polling against the fake Bot API server of bench/tg_fake.py, every text message answered with its text, with
`concurrency` updates in flight. `--transport default` is PTB's own HTTP client (HTTPXRequest, connection pool
of `concurrency`); `--transport ours` is duban's (bot.channels.telegram.transport.AiohttpRequest) for every
call, getUpdates included. Tells the fake it is ready once polling has started; stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from bench.tg_control import post


async def main(base_url: str, token: str, transport: str, concurrency: int) -> None:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    builder: Any = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{base_url}/bot")
        .base_file_url(f"{base_url}/file/bot")
        .concurrent_updates(concurrency)
        .job_queue(None)
    )
    if transport == "ours":
        from bot.channels.telegram.transport import AiohttpRequest

        builder = builder.request(AiohttpRequest(connection_pool_size=concurrency)).get_updates_request(
            AiohttpRequest(connection_pool_size=1)
        )
    else:
        builder = builder.connection_pool_size(concurrency)
    application = builder.build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await application.initialize()
    await application.start()
    await application.updater.start_polling(timeout=30)
    await asyncio.to_thread(post, base_url, "ready", {"transport": type(application.bot.request).__name__})
    try:
        await stop.wait()
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--base-url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--transport", choices=("default", "ours"), default="default")
    p.add_argument("--concurrency", type=int, default=64)
    a = p.parse_args()
    asyncio.run(main(a.base_url, a.token, a.transport, a.concurrency))
