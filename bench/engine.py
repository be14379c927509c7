"""Engine throughput and latency: a realistic mix of questions and check-in answers through `Engine.handle`,
on SQLite and on PostgreSQL, with the shipped plan and its demo people.

Every official of the demo plan does rounds of: two questions (their organisation's progress, what is
overdue) and one complete check-in (汇报 → pick → status → % → description → three skips → evidence skipped
→ 确认 → 结束), 13 messages a round. Latency is measured per message, one user at a time; throughput also
with several threads at once (the engine is thread-safe; SQLite serialises the writers).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import NO_PG, POSTGRES, Row, backends, fresh_database, ms, percentile, seed_database
from bot.app import App, build_app
from config.clock import Clock
from config.settings import Settings
from core.messages import IncomingMessage
from db.repositories import people

NOW = dt.datetime(2023, 5, 24, 9, 0)
THREADS = 4


def officials(app: App) -> list[tuple[str, str]]:
    """(console user, organisation short name) of every demo official."""
    with app.session_factory() as s:
        out = []
        for p in people.list_people(s):
            if p.role == "official" and p.organisation is not None:
                console = next((i.external_id for i in p.identities if i.channel == "console"), None)
                if console:
                    out.append((console, p.organisation.short_name or p.organisation.name))
        return out


def round_script(org: str, pick: int) -> list[str]:
    """One round of a user: two questions and one complete check-in of task number `pick` in their list."""
    return [
        f"{org}进度",
        "我们有逾期的吗",
        "汇报",
        str(pick),
        "推进中",
        "60",
        "完成了方案初稿并征求意见",
        "跳过",
        "跳过",
        "跳过",
        "跳过",
        "确认",
        "结束",
    ]


@dataclass
class Figures:
    messages: int
    seq_rate: float
    p50: float
    p99: float
    par_rate: float
    errors: int


def _run_user(app: App, user: str, script: list[str], latencies: list[float], errors: list[str]) -> None:
    for text in script:
        msg = IncomingMessage(channel="console", chat_id=user, user_id=user, text=text, message_id=uuid.uuid4().hex)
        t0 = time.perf_counter()
        replies = app.engine.handle(msg)
        latencies.append(time.perf_counter() - t0)
        if not replies:
            errors.append(f"{user}: no reply to {text!r}")


def measure(url: str, work: Path, rounds: int) -> Figures:
    seed_database(url)
    settings = Settings(data_dir=work / "engine-data", database_url=url, scheduler_enabled=False)
    app = build_app(settings, migrate=False, clock=Clock("Asia/Shanghai", NOW, frozen=True))
    try:
        users = officials(app)
        errors: list[str] = []
        # Sequential: per-message latency without contention.
        seq: list[float] = []
        t0 = time.perf_counter()
        for r in range(rounds):
            for user, org in users:
                _run_user(app, user, round_script(org, 1 + r % 3), seq, errors)
        seq_rate = len(seq) / (time.perf_counter() - t0)
        # Concurrent: THREADS users at once, each with its own rounds.
        par: list[float] = []
        lock = threading.Lock()

        def worker(chunk: list[tuple[str, str]]) -> None:
            local: list[float] = []
            for r in range(rounds):
                for user, org in chunk:
                    _run_user(app, user, round_script(org, 4 + r % 3), local, errors)
            with lock:
                par.extend(local)

        chunks = [users[i::THREADS] for i in range(THREADS)]
        threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        par_rate = len(par) / (time.perf_counter() - t0)
        return Figures(len(seq), seq_rate, percentile(seq, 50), percentile(seq, 99), par_rate, len(errors))
    finally:
        app.close()


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    rounds = 1 if quick else 4
    figs: dict[str, Figures] = {}
    for backend in backends():
        with fresh_database(backend, work, "engine") as url:
            figs[backend] = measure(url, work, rounds)
        f = figs[backend]
        log(f"engine on {backend}: {f.messages} messages, {f.seq_rate:.0f} msg/s, p50 {ms(f.p50)}, p99 {ms(f.p99)}")

    def vals(fn: Callable[[Figures], str]) -> dict[str, str]:
        v = {b: fn(f) for b, f in figs.items()}
        v.setdefault(POSTGRES, NO_PG)
        return v

    n = next(iter(figs.values())).messages
    note = f"{n} messages per run: 2 questions + 1 complete check-in (13 messages) per official per round"
    return [
        Row("Engine", "throughput, 1 user at a time", vals(lambda f: f"{f.seq_rate:.0f} msg/s"), note=note),
        Row("Engine", f"throughput, {THREADS} threads", vals(lambda f: f"{f.par_rate:.0f} msg/s")),
        Row("Engine", "latency per message p50 / p99", vals(lambda f: f"{ms(f.p50)} / {ms(f.p99)}")),
        Row(
            "Engine",
            "messages without a reply",
            vals(lambda f: str(f.errors)),
            "0",
            all(f.errors == 0 for f in figs.values()),
        ),
    ]
