"""An aiogram 3 echo bot, the Telegram benchmark's third reference, in a process of its own.

Run with the interpreter of aiogram's own virtual environment (bench/tg_run.py makes it: aiogram pins a
pydantic duban does not use), in isolated mode so that nothing of the repository is imported:
`python -I bench/echo_aiogram.py --base-url URL --token TOKEN [--concurrency 64]`. Long polling against the
fake Bot API server of bench/tg_fake.py, every text message answered with its text, at most `concurrency`
updates handled at once (aiogram's own default has no limit). Stops on SIGTERM or SIGINT.
"""

import argparse
import asyncio
import json
import urllib.request


def post(base_url, op, body):
    req = urllib.request.Request(
        f"{base_url}/control/{op}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


async def main(base_url, token, concurrency):
    import aiogram
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import Message

    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @dp.startup()
    async def ready() -> None:
        # Called just before the first getUpdates; the driver also waits for that call.
        await asyncio.to_thread(post, base_url, "ready", {"transport": f"aiogram {aiogram.__version__} AiohttpSession"})

    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    await dp.start_polling(bot, polling_timeout=30, handle_signals=True, tasks_concurrency_limit=concurrency)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--base-url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--concurrency", type=int, default=64)
    a = p.parse_args()
    asyncio.run(main(a.base_url, a.token, a.concurrency))
