"""Start-up time and memory of `duban serve`: the real command as a subprocess, with the shipped plan and the
demo people in a SQLite database, Telegram pointed at a local fake Bot API server.

A user's message ("帮助") waits on the server before the process starts; the time is from spawning the process
to the server receiving duban's answer (imports, migrations check, plan vocabulary and jieba, scheduler start,
Telegram connect, first poll, engine, reply). Memory is the process's resident set right after that answer
(VmRSS) and its peak (VmHWM), from /proc.

Targets: < 3 s to the first message handled, < 200 MB resident.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete

from bench.common import SQLITE, Row, fresh_database, secs, seed_database
from db.engine import make_engine, make_session_factory, transaction
from db.models import Identity, Inbox, ProcessedMessage
from db.repositories import people

REPO = Path(__file__).resolve().parent.parent
CHAT = 60001
TARGET_S, TARGET_MB = 3.0, 200.0


@dataclass
class Figures:
    seconds: float
    rss_mb: float
    peak_mb: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mem(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def _bind(url: str) -> None:
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            official = next(p for p in people.list_people(s) if p.role == "official")
            s.add(
                Identity(
                    person=official,
                    channel="telegram",
                    external_id=str(CHAT),
                    chat_id=str(CHAT),
                    created_at=dt.datetime(2023, 5, 24, 1),
                )
            )
    finally:
        engine.dispose()


def _forget_messages(url: str) -> None:
    """Each run's fake server numbers its updates and messages from the start again: forget the ids the inbox and
    the engine have seen, or they would rightly take the new "帮助" for a redelivery of the last run's."""
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            s.execute(delete(ProcessedMessage))
            s.execute(delete(Inbox))
    finally:
        engine.dispose()


async def _once(url: str, data_dir: Path) -> Figures:
    from tests.fakes.telegram_api import FakeTelegramAPI

    api = FakeTelegramAPI()
    await api.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")},
        "DUBAN_DATABASE_URL": url,
        "DUBAN_DATA_DIR": str(data_dir),
        "DUBAN_TELEGRAM_TOKEN": api.token,
        "DUBAN_TELEGRAM_BASE_URL": api.url,
        "DUBAN_HTTP_PORT": str(_free_port()),
        "DUBAN_NOW": "2023-05-24T10:00:00",
        "DUBAN_LOG_LEVEL": "INFO",
    }
    api.inject_message(CHAT, "帮助")
    t0 = time.perf_counter()
    log_path = data_dir / "serve.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "wb")  # a file, not a pipe: an unread pipe that fills up would stall the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log_file
    )
    try:
        await api.wait_for(lambda: api.sent(CHAT) or proc.poll() is not None, timeout=60)
        seconds = time.perf_counter() - t0
        if proc.poll() is not None:
            err = log_path.read_text(errors="replace")
            raise RuntimeError(f"duban serve exited with {proc.returncode}: {err[-2000:]}")
        rss, peak = _mem(proc.pid)
        return Figures(seconds, rss, peak)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log_file.close()
        await api.stop()


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    runs = 1 if quick else 5
    figs: list[Figures] = []
    with fresh_database(SQLITE, work, "startup") as url:
        seed_database(url)
        _bind(url)
        for i in range(runs):
            _forget_messages(url)
            figs.append(asyncio.run(_once(url, work / "startup-data")))
            log(f"startup: run {i + 1}: {secs(figs[-1].seconds)} to first reply, RSS {figs[-1].rss_mb:.0f} MB")
    seconds = statistics.median(f.seconds for f in figs)
    rss = statistics.median(f.rss_mb for f in figs)
    peak = max(f.peak_mb for f in figs)
    note = f"median of {runs} start(s); `duban serve` with Telegram (polling) and the scheduler on, SQLite"
    return [
        Row(
            "Start-up",
            "`duban serve` to the first message handled",
            {"all": secs(seconds)},
            f"< {TARGET_S:.0f} s",
            seconds < TARGET_S,
            note,
        ),
        Row(
            "Start-up",
            "resident memory after it (peak)",
            {"all": f"{rss:.0f} MB ({peak:.0f} MB)"},
            f"< {TARGET_MB:.0f} MB",
            rss < TARGET_MB,
        ),
    ]
