"""Running duban in tests: a channel with the inbox and the outbox sender of a process, without the rest of
`duban serve` (`running`); and the real `duban serve` as a subprocess, started, killed and stopped at will
(`Serve`, with its environment from `serve_env`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.app import App
from bot.inbox import Pipeline
from config.settings import Settings
from core.channel import Channel
from tests.fakes import free_port
from tests.fakes.wait import wait_for

REPO = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def running(
    app: App, channel: Channel, web_app: web.Application | None = None, port: int | None = None
) -> AsyncIterator[Pipeline]:
    """Start `channel` with an inbox worker and a sender (routes go on `web_app`, served on 127.0.0.1:`port` when
    a port is given); stop them all at the end."""
    web_app = web_app if web_app is not None else web.Application()
    pipeline = Pipeline(app, [channel])
    await channel.start(app, web_app)
    await pipeline.start()
    runner: web.AppRunner | None = None
    if port is not None:
        runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield pipeline
    finally:
        await pipeline.stop(5.0)
        await channel.stop()
        if runner is not None:
            await runner.cleanup()


def serve_env(settings: Settings, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `duban serve` on the database of `settings` (none of the caller's DUBAN_ settings),
    on a free port, with `extra` DUBAN_ settings on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env.update(
        DUBAN_DATABASE_URL=settings.sqlalchemy_url,
        DUBAN_DATA_DIR=str(data_dir),
        DUBAN_HTTP_PORT=str(free_port()),
        DUBAN_SENDER_INTERVAL_SECONDS="0.2",
        DUBAN_LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


class Serve:
    """`duban serve` as a subprocess on the test's database, started, killed and stopped at will."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir
        self.url = f"http://127.0.0.1:{env['DUBAN_HTTP_PORT']}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = self.kills = 0

    async def start(self) -> None:
        """Start and wait until the HTTP server answers (the channels are started before it listens)."""
        self.starts += 1
        with open(self.workdir / f"serve{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        await wait_for(self._listening, timeout=60, what=self.log)

    async def _listening(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, self.log()
        try:
            async with aiohttp.ClientSession() as http, http.get(self.url + "/healthz") as res:
                return res.status > 0
        except aiohttp.ClientError:
            return False

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills += 1

    def terminate(self) -> tuple[int, float]:
        """SIGTERM: (exit status, seconds until the process was gone)."""
        assert self.proc is not None and self.proc.poll() is None, self.log()
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        return code, time.monotonic() - started

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.workdir.glob("serve*.log")))
