"""Start-up time, the first question and memory of `duban serve`: the real command as a subprocess, with the shipped
plan and the demo people in a SQLite database, Telegram (polling) pointed at a local fake Bot API server, the
scheduler on.

Each start (a fresh process, ≥ 5 of them) goes through the life of a process:

1. start: a user's "帮助" waits on the server before the process starts; the time is from spawning the process to
   the server receiving duban's answer (imports, migrations check, plan vocabulary and jieba, warm-up, scheduler
   start, Telegram connect, first poll, engine, reply). The process then settles for two seconds and until no
   chat got anything for a while (the scheduler's start-up catch-up runs and sends meanwhile); its memory is read.
2. the first question: the demo coordinator (bound to Telegram) asks "墨脱县进度"; the time is from injecting it
   at the server to the server receiving the answer (the first reply naming 墨脱). A second question ("朗县进度")
   right after shows what the first one paid for being first.
3. a complete check-in by an official (汇报 → task 1 → status → % → description → three skips → evidence skipped →
   确认 → 结束, as bench/engine.py's rounds), each message answered before the next; the report is checked in the
   database afterwards.
4. the weekly digest, in the process itself: the command runs with a small wrapper (`PROBE`) whose only addition
   is a SIGUSR1 handler that moves the process's clock (the `--now` clock) to the digest's time and runs the
   scheduler's own job run (`SchedulerService.run_jobs`, what the digest's cron trigger runs); the step ends when
   the digest's workbook reaches the coordinator's chat. The digest's chart is drawn in a child process
   (scheduler/apart.py): the wrapper has it write down its own peak (VmHWM), reported on its own row.

Memory is the process's resident set (VmRSS, from /proc/<pid>/status) after each step, and its peak (VmHWM) at
the end. Figures are min / median / max over the starts.

Targets: < 3 s to the first message handled; first question ≤ 30 ms; < 200 MB resident after the question, the
check-in and the digest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import Row, ms, secs, seed_database
from bench.engine import round_script
from db.engine import make_engine, make_session_factory, transaction
from db.models import Identity, Report
from db.repositories import people

REPO = Path(__file__).resolve().parent.parent
COORDINATOR_CHAT, OFFICIAL_CHAT = 60001, 60002
NOW = "2023-05-24T10:00:00"  # a Wednesday of the shipped plan's year
DIGEST_AT = "2023-05-26T17:00:00"  # that week's digest (fri 17:00, the default `weekly_digest`)
FIRST_QUESTION, SECOND_QUESTION = "墨脱县进度", "朗县进度"
SETTLE_S = 2.0  # after the first answer: the scheduler's start-up catch-up runs meanwhile
QUIET_S = 1.2  # a message is answered when its chat got a reply and then nothing for this long (> 1 s: see _quiet)
TARGET_S, TARGET_MB, TARGET_FIRST_MS = 3.0, 200.0, 30.0

# `duban serve` itself, plus a SIGUSR1 handler that runs the scheduler's jobs at DUBAN_BENCH_DIGEST_AT (the digest's
# time) inside the process: the same `run_jobs` its cron triggers run, on the process's own clock moved forward.
PROBE = r"""
import asyncio, datetime as dt, os, signal, sys
from bot import cli
from scheduler.service import SchedulerService

_start, _tasks = SchedulerService.start, set()

async def _digest(service):
    service.app.clock.set(dt.datetime.fromisoformat(os.environ["DUBAN_BENCH_DIGEST_AT"]))
    n = await service.run_jobs()
    print(f"bench: digest run queued {n} messages", file=sys.stderr, flush=True)

async def start(self):
    await _start(self)
    def run():
        task = asyncio.ensure_future(_digest(self))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, run)

SchedulerService.start = start
try:  # a child process (the digest's chart) writes down its own peak (VmHWM, kB)
    from scheduler import apart
    apart._CHILD += (
        "import os\n"
        "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]\n"
        "open(os.environ['DUBAN_BENCH_CHILD_PEAK'], 'a').write(peak + '\\n')\n"
    )
except ImportError:  # a tree without it (an A/B comparison with an older one)
    pass
sys.exit(cli.main(["serve"]))
"""


@dataclass
class Figures:
    """One start of the process."""

    seconds: float  # spawn → first answer
    first_ms: float
    second_ms: float
    rss: dict[str, float] = field(default_factory=dict)  # step → VmRSS MB
    peak_mb: float = float("nan")
    children_mb: float = float("nan")  # the largest child process's peak (the digest's chart)


STEPS = ("start", "question", "check-in", "digest")


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


def _bind(url: str) -> int:
    """Bind the demo coordinator and the first official to Telegram; returns the official's person id."""
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as s:
            everyone = people.list_people(s)
            coordinator = next(p for p in everyone if p.role == "coordinator")
            official = next(p for p in everyone if p.role == "official")
            for person, chat in ((coordinator, COORDINATOR_CHAT), (official, OFFICIAL_CHAT)):
                s.add(
                    Identity(
                        person=person,
                        channel="telegram",
                        external_id=str(chat),
                        chat_id=str(chat),
                        created_at=dt.datetime(2023, 5, 24, 1),
                    )
                )
            s.flush()
            return int(official.id)
    finally:
        engine.dispose()


def _reports(url: str, person_id: int) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as s:
            return int(s.scalar(select(func.count()).select_from(Report).where(Report.person_id == person_id)) or 0)
    finally:
        engine.dispose()


def _replies(api: Any, chat: int, since: float, methods: tuple[str, ...] = ("sendMessage",)) -> list[Any]:
    return [c for c in api.calls if c.method in methods and c.params.get("chat_id") == chat and c.at >= since]


async def _quiet(api: Any, chat: int | None, since: float) -> None:
    """Wait until `chat` (None: every chat) got nothing for QUIET_S: the rest of an answer (a message may have two
    replies, a second later: Telegram's 1 message a second per chat, which duban's sender keeps)."""
    seen = -1
    while True:
        now = len(
            [
                c
                for c in api.calls
                if c.method.startswith("send") and c.at >= since and (chat is None or c.params.get("chat_id") == chat)
            ]
        )
        if now == seen:
            return
        seen = now
        await asyncio.sleep(QUIET_S)


async def _ask(api: Any, chat: int, text: str, expect: str = "") -> float:
    """Inject `text`; seconds from injection to the server receiving the first reply containing `expect` (a
    proactive message to the same chat is not the answer), then waits for quiet."""
    t0 = time.monotonic()
    api.inject_message(chat, text)
    answers = await api.wait_for(
        lambda: [c for c in _replies(api, chat, t0) if expect in str(c.params.get("text", ""))], timeout=30
    )
    await _quiet(api, chat, t0)
    return float(answers[0].at - t0)


async def _once(url: str, data_dir: Path, official_id: int, repo: Path = REPO) -> Figures:
    """One start of `duban serve` from the source tree `repo` (another checkout: an A/B comparison)."""
    from tests.fakes.telegram_api import FakeTelegramAPI

    api = FakeTelegramAPI()
    await api.start()
    data_dir.mkdir(parents=True, exist_ok=True)
    child_peak = data_dir / "child-peak.txt"
    child_peak.unlink(missing_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DUBAN_") and k != "PYTHONPATH"},
        "DUBAN_DATABASE_URL": url,
        "DUBAN_DATA_DIR": str(data_dir),
        "DUBAN_TELEGRAM_TOKEN": api.token,
        "DUBAN_TELEGRAM_BASE_URL": api.url,
        "DUBAN_HTTP_PORT": str(_free_port()),
        "DUBAN_NOW": NOW,
        "DUBAN_LOG_LEVEL": "INFO",
        "DUBAN_BENCH_DIGEST_AT": DIGEST_AT,
        "DUBAN_BENCH_CHILD_PEAK": str(child_peak),
    }
    api.inject_message(OFFICIAL_CHAT, "帮助")
    t0 = time.perf_counter()
    log_path = data_dir / "serve.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "wb")  # a file, not a pipe: an unread pipe that fills up would stall the process
    proc = subprocess.Popen(
        [sys.executable, "-c", PROBE], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=log_file
    )

    def failed(what: str) -> RuntimeError:
        err = log_path.read_text(errors="replace")
        return RuntimeError(f"duban serve: {what} (exit code {proc.poll()}): {err[-3000:]}")

    try:
        await api.wait_for(lambda: api.sent(OFFICIAL_CHAT) or proc.poll() is not None, timeout=60)
        seconds = time.perf_counter() - t0
        if proc.poll() is not None:
            raise failed("exited")
        await asyncio.sleep(SETTLE_S)
        await _quiet(api, None, 0.0)  # nothing sent for a while: the catch-up's messages are out, no chat is held
        fig = Figures(seconds, 0.0, 0.0)
        fig.rss["start"] = _mem(proc.pid)[0]

        fig.first_ms = await _ask(api, COORDINATOR_CHAT, FIRST_QUESTION, FIRST_QUESTION[:2]) * 1000
        fig.second_ms = await _ask(api, COORDINATOR_CHAT, SECOND_QUESTION, SECOND_QUESTION[:2]) * 1000
        fig.rss["question"] = _mem(proc.pid)[0]

        before = _reports(url, official_id)
        for text in round_script("", 1)[2:]:  # the check-in part of a round: 汇报 … 结束
            await _ask(api, OFFICIAL_CHAT, text)
        if _reports(url, official_id) != before + 1:
            raise failed(f"the check-in did not store one report: {api.texts(OFFICIAL_CHAT)[-6:]}")
        fig.rss["check-in"] = _mem(proc.pid)[0]

        t_digest = time.monotonic()
        proc.send_signal(signal.SIGUSR1)
        await api.wait_for(
            lambda: _replies(api, COORDINATOR_CHAT, t_digest, ("sendDocument",)) or proc.poll() is not None, timeout=120
        )
        if proc.poll() is not None:
            raise failed("exited during the digest")
        fig.rss["digest"], fig.peak_mb = _mem(proc.pid)
        peaks = child_peak.read_text().split() if child_peak.exists() else []
        fig.children_mb = max((int(p) / 1024 for p in peaks), default=float("nan"))
        return fig
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


def spread(values: list[float], fmt: Callable[[float], str]) -> str:
    """min / median / max."""
    return " / ".join(fmt(v) for v in (min(values), statistics.median(values), max(values)))


def _mb(v: float) -> str:
    return f"{v:.0f} MB"


def prepare(work: Path) -> tuple[Path, int]:
    """A SQLite database with the shipped plan, the demo people and two Telegram bindings, to copy for each start;
    (its file, the official's person id)."""
    template = work / "startup-template.db"
    template.unlink(missing_ok=True)
    url = f"sqlite:///{template}"
    seed_database(url)
    return template, _bind(url)


def start_once(template: Path, official_id: int, work: Path, repo: Path = REPO) -> Figures:
    """One start on a fresh copy of the prepared database (each start sends the same week's digest)."""
    db = work / "startup.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, db)
    return asyncio.run(_once(f"sqlite:///{db}", work / "startup-data", official_id, repo))


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    runs = 1 if quick else 5
    figs: list[Figures] = []
    template, official_id = prepare(work)
    for i in range(runs):
        f = start_once(template, official_id, work)
        figs.append(f)
        log(
            f"startup: run {i + 1}: {secs(f.seconds)} to first reply, first question {ms(f.first_ms / 1000)}, "
            f"second {ms(f.second_ms / 1000)}, RSS "
            + ", ".join(f"{k} {v:.0f}" for k, v in f.rss.items())
            + f" MB, peak {f.peak_mb:.0f} MB, the digest's child {f.children_mb:.0f} MB"
        )
    note = (
        f"min / median / max of {runs} start(s) in fresh processes; `duban serve` with Telegram (polling, fake Bot "
        "API server) and the scheduler on, SQLite, shipped plan"
    )
    worst = max(max(f.rss[s] for s in STEPS[1:]) for f in figs)
    rows = [
        Row(
            "Start-up",
            "`duban serve` to the first message handled",
            {"all": spread([f.seconds for f in figs], secs)},
            f"< {TARGET_S:.0f} s",
            statistics.median(f.seconds for f in figs) < TARGET_S,
            note,
        ),
        Row(
            "Start-up",
            "first question after start, injected → answer at the server",
            {"all": spread([f.first_ms / 1000 for f in figs], ms)},
            f"≤ {TARGET_FIRST_MS:.0f} ms",
            statistics.median(f.first_ms for f in figs) <= TARGET_FIRST_MS,
            f"the coordinator's {FIRST_QUESTION!r}, asked a second after the first answer",
        ),
        Row(
            "Start-up",
            "second question right after it",
            {"all": spread([f.second_ms / 1000 for f in figs], ms)},
            note=f"{SECOND_QUESTION!r}: the same work, nothing left to warm",
        ),
    ]
    for step, label in (
        ("start", "resident memory after start"),
        ("question", "resident memory after the questions"),
        ("check-in", "resident memory after a check-in"),
        ("digest", "resident memory after the weekly digest"),
    ):
        target = step != "start"
        rows.append(
            Row(
                "Start-up",
                label,
                {"all": spread([f.rss[step] for f in figs], _mb)},
                f"< {TARGET_MB:.0f} MB" if target else "",
                max(f.rss[step] for f in figs) < TARGET_MB if target else None,
            )
        )
    rows.append(
        Row(
            "Start-up",
            "peak resident memory (VmHWM) over all of it",
            {"all": spread([f.peak_mb for f in figs], _mb)},
            note=f"largest resident set after any step: {worst:.0f} MB",
        )
    )
    rows.append(
        Row(
            "Start-up",
            "peak of the digest's child process (its chart)",
            {"all": spread([f.children_mb for f in figs], _mb)},
            note="scheduler/apart.py draws the chart in a child process: matplotlib never enters duban serve",
        )
    )
    return rows
