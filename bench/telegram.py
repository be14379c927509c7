"""Telegram: duban's whole Telegram path against echo bots a user might pick instead, on the same fake Bot API.

Every run is two fresh processes: the fake Bot API server (bench/tg_fake.py, the tests' FakeTelegramAPI with a
control endpoint) and the bot under test, long polling it. The driver (this process) queues the same messages
on the server all at once; the clock runs in the fake server's process, from just before the first message is
queued to the arrival of the last reply (sendMessage answered 200). The contenders:

- a bare python-telegram-bot echo bot on PTB's default HTTP transport (HTTPXRequest), and the same bot on
  duban's transport (bot.channels.telegram.transport.AiohttpRequest), both with 64 updates in flight
  (bench/echo_ptb.py); every message answered with its text;
- an aiogram 3 echo bot (bench/echo_aiogram.py, at most 64 updates handled at once), run from its own virtual
  environment made on first use (build/bench-venv-aiogram: aiogram pins an older pydantic); not in --quick;
- duban on SQLite and, when DUBAN_TEST_PG_URL is set, on PostgreSQL (bench/tg_duban.py): the real
  `TelegramChannel` + durable inbox + engine + outbox, each run on a fresh copy of a database seeded with the
  shipped plan and its demo people, the demo officials bound to Telegram accounts and doing the engine
  benchmark's rounds (questions and complete check-ins, typed). duban's flood limiter is opened wide: Telegram's
  own limits (30 messages/s per bot) are a policy, not an overhead, and would cap every bot alike. duban's
  clock stops at the arrival of its last reply (it answers some messages with more than one message).

Round r runs every contender once, in an order rotated by one each round; the ratios are taken pair by pair
within a round (the machine's load drifts between rounds), then summarised as min / median / max. A target is
judged on the median ratio on SQLite; PostgreSQL is reported beside it.

Latency: one question at a time (queue one, wait for its first reply, queue the next), questions from the demo
officials in turn, against duban in its own process and against the PTB echo bot (the floor: polling, HTTP and
PTB, nothing else), the first few questions after start not counted.

The inbox's own cost is also measured apart, per message and without the network, in this process: the engine
handling a message directly (one transaction) against the inbox path of the same message as `duban serve` takes
it for a text from a bound user in a free chat (stored, handled and its replies queued in one transaction; then
the replies' delivery recorded).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import statistics
import sys
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import tg_run
from bench.common import (
    NO_PG,
    POSTGRES,
    SQLITE,
    Row,
    backends,
    database_copy,
    fresh_database,
    ms,
    percentile,
    seed_database,
)
from bench.engine import round_script
from bench.tg_control import get as tg_get
from bot.app import build_app
from config.clock import Clock
from config.settings import Settings
from core.messages import IncomingMessage
from db.engine import transaction
from db.models import Identity
from db.repositories import people

FIRST_CHAT = 50001
CONCURRENCY = 64  # updates in flight in the echo bots (duban's inbox worker has its own limit)
TARGET_DEFAULT = 1.0  # duban ÷ PTB echo bot on PTB's own transport
TARGET_OURS = 0.5  # duban ÷ PTB echo bot on duban's transport
TARGET_LATENCY = 0.003  # one question, injected → first reply, median, SQLite
WARMUP_QUESTIONS = 5

ECHO_DEFAULT, ECHO_OURS, AIOGRAM = "echo-default", "echo-ours", "aiogram"

M_ECHO_DEFAULT = "PTB echo bot, PTB's transport (HTTPXRequest): msg/s min / median / max"
M_ECHO_OURS = "PTB echo bot, duban's transport (AiohttpRequest): msg/s min / median / max"
M_AIOGRAM = "aiogram 3 echo bot: msg/s min / median / max"
M_DUBAN = "duban (channel + inbox + engine + outbox + database): msg/s min / median / max"
M_RATIO_DEFAULT = "duban ÷ PTB echo bot (PTB's transport), pair by pair: min / median / max"
M_RATIO_OURS = "duban ÷ PTB echo bot (duban's transport), pair by pair: min / median / max"
M_RATIO_AIOGRAM = "duban ÷ aiogram echo bot, pair by pair: min / median / max"
M_LATENCY = "one question, injected → first reply at the fake, duban: median / p90"
M_LATENCY_ECHO = "one question, injected → first reply at the fake, PTB echo bot (floor): median / p90"


@dataclass
class Figures:
    messages: int
    seconds: float
    replies: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


@dataclass
class Contender:
    key: str
    label: str
    backend: str | None = None  # duban's database; None for an echo bot
    runs: dict[int, Figures] = field(default_factory=dict)  # round → figures
    skipped: str = ""  # why it did not run (or stopped running)
    transport: str = ""  # the HTTP transport it reported when ready


def _duban(backend: str) -> str:
    return f"duban-{backend}"


def _script(users: list[tuple[int, str]], rounds: int) -> list[tuple[int, str]]:
    """(chat id, text) in the order users send them: round by round, message by message, users interleaved."""
    out: list[tuple[int, str]] = []
    for r in range(rounds):
        scripts = {chat: round_script(org, 1 + r % 3) for chat, org in users}
        for i in range(len(next(iter(scripts.values())))):
            for chat, _org in users:
                out.append((chat, scripts[chat][i]))
    return out


def _questions(users: list[tuple[int, str]], n: int) -> list[tuple[int, str]]:
    """n questions, the officials in turn, each asking about their organisation's progress, then what is overdue."""
    out = []
    for i in range(n):
        chat, org = users[i % len(users)]
        out.append((chat, f"{org}进度" if (i // len(users)) % 2 == 0 else "我们有逾期的吗"))
    return out


def _bind_officials(url: str) -> list[tuple[int, str]]:
    """Give every demo official a Telegram account; returns (chat id, organisation short name)."""
    from db.engine import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        out: list[tuple[int, str]] = []
        with transaction(factory) as s:
            officials = [p for p in people.list_people(s) if p.role == "official" and p.organisation is not None]
            now = dt.datetime(2023, 5, 24, 1, 0)
            for i, p in enumerate(officials):
                chat = FIRST_CHAT + i
                s.add(Identity(person=p, channel="telegram", external_id=str(chat), chat_id=str(chat), created_at=now))
                org = p.organisation
                assert org is not None
                out.append((chat, org.short_name or org.name))
        return out
    finally:
        engine.dispose()


@dataclass
class Latency:
    direct: list[float]
    inbox: list[float]

    @property
    def added_ms(self) -> float:
        return (percentile(self.inbox, 50) - percentile(self.direct, 50)) * 1000


def _latencies(url_direct: str, url_inbox: str, work: Path, messages: list[tuple[int, str]]) -> Latency:
    """Seconds per message, directly and along the inbox path (no network), message by message in turn, each
    path on its own copy of the database (see the module docstring)."""
    from bot.inbox import InboxWorker
    from core.inbox import Prepared
    from core.inbox import Update as InboxUpdate
    from scheduler.sender import OutboxSender

    def app_on(url: str, name: str) -> Any:
        settings = Settings(data_dir=work / name, database_url=url, scheduler_enabled=False)
        clock = Clock("Asia/Shanghai", dt.datetime(2023, 5, 24, 9), frozen=True)
        return build_app(settings, migrate=False, clock=clock)

    direct_app, inbox_app = app_on(url_direct, "lat-direct"), app_on(url_inbox, "lat-inbox")
    # The worker's own steps, called one after another in this thread (no event loop, no network).
    sender = OutboxSender(inbox_app, {})
    worker = InboxWorker(inbox_app, sender)
    out = Latency([], [])

    def through_inbox(n: int, chat: str, text: str) -> None:
        # What a text from a bound user in a free chat costs: stored, handled and its replies queued in one
        # transaction, then their delivery recorded (one transaction here; several deliveries share one in serve).
        msg = _message(int(chat), text, n)
        update = InboxUpdate(msg.message_id, chat, chat, {})
        _stored, claimed, answered = worker._store_and_handle("telegram", [update], [Prepared(msg)])
        assert not claimed, "the message was queued, not handled as it arrived"
        for _chat, done in answered:
            for _row, _prepared, replies in done:
                sender._sent([r.id for r in replies])

    try:
        for n, (chat, text) in enumerate(messages):
            t0 = time.perf_counter()
            direct_app.engine.handle(_message(chat, text, n))
            t1 = time.perf_counter()
            through_inbox(n, str(chat), text)
            out.direct.append(t1 - t0)
            out.inbox.append(time.perf_counter() - t1)
    finally:
        direct_app.close()
        inbox_app.close()
    return out


def _message(chat: int, text: str, n: int) -> IncomingMessage:
    return IncomingMessage(channel="telegram", chat_id=str(chat), user_id=str(chat), text=text, message_id=f"m:{n}")


@dataclass
class Setup:
    work: Path
    templates: dict[str, str]  # backend → URL of the seeded database every duban run copies
    aiogram: Path | None  # the interpreter of aiogram's virtual environment


def _argv(c: Contender, setup: Setup, base_url: str, db_url: str, data_dir: Path, expect: int) -> list[str]:
    common = ["--base-url", base_url, "--token", tg_run.TOKEN]
    if c.key in (ECHO_DEFAULT, ECHO_OURS):
        transport = "default" if c.key == ECHO_DEFAULT else "ours"
        return [sys.executable, "-m", "bench.echo_ptb", *common, "--transport", transport]
    if c.key == AIOGRAM:
        assert setup.aiogram is not None
        script = tg_run.REPO / "bench" / "echo_aiogram.py"
        return [str(setup.aiogram), "-I", str(script), *common, "--concurrency", str(CONCURRENCY)]
    argv = [sys.executable, "-m", "bench.tg_duban", *common, "--url", db_url, "--data-dir", str(data_dir)]
    return argv + ["--expect", str(expect)]


@contextlib.contextmanager
def _running(c: Contender, setup: Setup, tag: str, expect: int) -> Any:
    """A fresh fake server and a fresh process of the contender (on a fresh copy of the database for duban),
    polling; yields the server's base URL."""
    logs = setup.work / "tg-logs"
    logs.mkdir(exist_ok=True)
    with tg_run.fake_server(logs / f"fake-{c.key}-{tag}.log") as base_url, contextlib.ExitStack() as stack:
        db_url = ""
        if c.backend is not None:
            db_url = stack.enter_context(
                database_copy(c.backend, setup.templates[c.backend], setup.work, f"tg_{c.backend}_{tag}")
            )
        argv = _argv(c, setup, base_url, db_url, setup.work / f"tg-data-{c.key}-{tag}", expect)
        started = stack.enter_context(tg_run.bot(argv, base_url, logs / f"{c.key}-{tag}.log"))
        c.transport = str(started.info.get("transport", ""))
        yield base_url


def _burst(c: Contender, setup: Setup, tag: str, messages: list[tuple[int, str]]) -> Figures:
    with _running(c, setup, tag, len(messages)) as base_url:
        # An echo bot answers every message once; duban says itself when it has handled them all.
        seconds, replies = tg_run.burst(base_url, messages, None if c.backend else len(messages))
    return Figures(len(messages), seconds, replies)


def _latency(c: Contender, setup: Setup, questions: list[tuple[int, str]]) -> tuple[list[float], int]:
    """Seconds from queueing each question to its first reply (the warm-up ones left out), and the replies sent
    in all (more than the questions: some answer had two messages, the next question overlapped its second)."""
    with _running(c, setup, "latency", 0) as base_url:
        samples = [tg_run.ask(base_url, chat, text) for chat, text in questions]
        replies = int(tg_get(base_url, "state")["replies"])
    return samples[WARMUP_QUESTIONS:], replies


def _mmm(values: list[float], fmt: Callable[[float], str]) -> str:
    if not values:
        return "n/a"
    return f"{fmt(min(values))} / {fmt(statistics.median(values))} / {fmt(max(values))}"


def _rate(x: float) -> str:
    return f"{x:.0f}"


def _ratio(x: float) -> str:
    return f"{x:.2f}x"


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    script_rounds = 1 if quick else 3
    quick_users = 8  # --quick: the first officials only (CI's smoke run)
    rounds = 2 if quick else 5
    n_questions = 30 if quick else 200
    bes = backends()
    contenders = [
        Contender(ECHO_DEFAULT, "PTB echo bot, PTB's transport"),
        Contender(ECHO_OURS, "PTB echo bot, duban's transport"),
        Contender(AIOGRAM, "aiogram echo bot"),
        *(Contender(_duban(b), f"duban on {b}", backend=b) for b in bes),
    ]
    by_key = {c.key: c for c in contenders}
    aiogram: Path | None = None
    if quick:
        by_key[AIOGRAM].skipped = "not run in --quick (its own virtual environment, made by a full run)"
    else:
        aiogram, why = tg_run.aiogram_python(work / "aiogram-venv.log")
        by_key[AIOGRAM].skipped = why
        log(f"telegram: aiogram: {aiogram or why}")
    if not (tg_run.REPO / "bot" / "channels" / "telegram" / "transport.py").exists():
        by_key[ECHO_OURS].skipped = "not run: bot/channels/telegram/transport.py does not exist in this tree"

    templates: dict[str, str] = {}
    users: list[tuple[int, str]] = []
    with contextlib.ExitStack() as stack:
        for b in bes:
            url = stack.enter_context(fresh_database(b, work, "telegram-template"))
            seed_database(url)
            users = _bind_officials(url)
            templates[b] = url
        if quick:
            users = users[:quick_users]
        setup = Setup(work, templates, aiogram)
        messages = _script(users, script_rounds)
        log(f"telegram: {len(messages)} messages from {len(users)} chats per run, {rounds} rounds")

        # Throughput, interleaved: round r runs every contender once, the order rotated by r.
        for r in range(rounds):
            active = [c for c in contenders if not c.skipped]
            shift = r % len(active)
            for c in active[shift:] + active[:shift]:
                try:
                    fig = _burst(c, setup, f"r{r}", messages)
                except (tg_run.BotFailed, urllib.error.URLError, OSError) as exc:
                    if c.backend is not None or c.key == ECHO_DEFAULT:
                        raise  # duban itself, or the first reference, failing is the benchmark failing
                    c.skipped = f"failed: {str(exc).splitlines()[0][:120]}"
                    log(f"telegram: {c.label}: {c.skipped}")
                    continue
                c.runs[r] = fig
                log(
                    f"telegram: round {r + 1}/{rounds}: {c.label}: {fig.rate:.0f} msg/s "
                    f"({fig.messages} messages, {fig.replies} replies, {fig.seconds:.2f} s)"
                )

        # Latency: one question in flight at a time.
        questions = _questions(users, n_questions + WARMUP_QUESTIONS)
        latency: dict[str, list[float]] = {}
        latency_notes: list[str] = []
        for c in contenders:
            if c.key == ECHO_DEFAULT or c.backend is not None:
                latency[c.key], replies = _latency(c, setup, questions)
                if replies != len(questions):
                    latency_notes.append(f"{c.label}: {replies} replies to {len(questions)} questions")
                log(
                    f"telegram: {c.label}: one question at a time: median {ms(percentile(latency[c.key], 50))}, "
                    f"p90 {ms(percentile(latency[c.key], 90))}"
                )

    # The inbox's own cost, per message, no network (in this process).
    inbox: dict[str, Latency | str] = {}
    sample = messages[: 60 if quick else 400]
    for b in bes:
        try:
            with (
                fresh_database(b, work, "latency-direct") as url_a,
                fresh_database(b, work, "latency-inbox") as url_b,
            ):
                for url in (url_a, url_b):
                    seed_database(url)
                    _bind_officials(url)
                lat = _latencies(url_a, url_b, work, sample)
            inbox[b] = lat
            log(f"telegram: the inbox adds {lat.added_ms:.1f} ms per message on {b} (median)")
        except (AttributeError, TypeError, ValueError) as exc:  # the worker's internals moved: say so
            inbox[b] = f"n/a ({type(exc).__name__}: the inbox internals this row calls changed)"
            log(f"telegram: inbox row on {b}: {exc}")

    return _rows(contenders, rounds, messages, users, latency, latency_notes, inbox, n_questions)


def _rows(
    contenders: list[Contender],
    rounds: int,
    messages: list[tuple[int, str]],
    users: list[tuple[int, str]],
    latency: dict[str, list[float]],
    latency_notes: list[str],
    inbox: dict[str, Latency | str],
    n_questions: int,
) -> list[Row]:
    by_key = {c.key: c for c in contenders}
    dubans = [c for c in contenders if c.backend is not None]

    def per_backend(fn: Callable[[Contender], str]) -> dict[str, str]:
        v = {c.backend or "": fn(c) for c in dubans}
        v.setdefault(POSTGRES, NO_PG)
        return v

    def echo_row(key: str, measure: str, note: str = "") -> Row:
        c = by_key[key]
        value = _mmm([f.rate for f in c.runs.values()], _rate) if c.runs else c.skipped
        if c.runs and c.skipped:
            value += f" ({c.skipped})"
        return Row("Telegram", measure, {"all": value}, note=note)

    def ratios(duban: Contender, ref: Contender) -> list[float]:
        return [duban.runs[r].rate / ref.runs[r].rate for r in sorted(duban.runs) if r in ref.runs]

    def ratio_row(key: str, measure: str, target: float | None) -> Row:
        ref = by_key[key]
        values = per_backend(
            lambda d: _mmm(ratios(d, ref), _ratio) if ratios(d, ref) else f"n/a ({ref.label}: {ref.skipped})"
        )
        met: bool | None = None
        target_text = ""
        if target is not None:
            target_text = f"median ≥ {target}x on SQLite"
            sqlite = next((d for d in dubans if d.backend == SQLITE), None)
            if sqlite is not None and ratios(sqlite, ref):
                met = statistics.median(ratios(sqlite, ref)) >= target
        return Row("Telegram", measure, values, target_text, met)

    def replies(d: Contender) -> str:
        counts = sorted({f.replies for f in d.runs.values()})
        return "–".join(str(n) for n in counts)

    method = (
        f"{len(messages)} messages from {len(users)} chats per run (questions and complete check-ins), all queued at "
        f"once on a fake Bot API server of its own; long polling; {rounds} rounds, every contender once a round in a "
        "fresh process, the order rotated each round; timed in the fake server's process from just before the first "
        "message is queued to the arrival of the last reply"
    )
    transports = ", ".join(f"{c.label}: {c.transport}" for c in contenders if c.transport)
    duban_lat = by_key[_duban(SQLITE)]
    rows = [
        echo_row(ECHO_DEFAULT, M_ECHO_DEFAULT, method + f"; HTTP transports as reported by each process: {transports}"),
        echo_row(ECHO_OURS, M_ECHO_OURS),
        echo_row(AIOGRAM, M_AIOGRAM),
        Row(
            "Telegram",
            M_DUBAN,
            per_backend(lambda d: f"{_mmm([f.rate for f in d.runs.values()], _rate)} ({replies(d)} replies a run)"),
            note="the same messages; duban's clock stops at the arrival of its last reply",
        ),
        ratio_row(ECHO_DEFAULT, M_RATIO_DEFAULT, TARGET_DEFAULT),
        ratio_row(ECHO_OURS, M_RATIO_OURS, TARGET_OURS),
        ratio_row(AIOGRAM, M_RATIO_AIOGRAM, None),
    ]
    lat_note = (
        f"{n_questions} questions ({WARMUP_QUESTIONS} more before them not counted), one in flight at a time, the "
        f"{len(users)} officials in turn; timed in the fake server's process from just before the question is "
        "queued to the arrival of the first reply to that chat" + "".join(f"; {n}" for n in latency_notes)
    )
    sqlite_lat = latency.get(duban_lat.key, [])
    rows.append(
        Row(
            "Telegram",
            M_LATENCY,
            per_backend(
                lambda d: (
                    f"{ms(percentile(latency[d.key], 50))} / {ms(percentile(latency[d.key], 90))}"
                    if latency.get(d.key)
                    else "n/a"
                )
            ),
            f"median ≤ {TARGET_LATENCY * 1000:.0f} ms on SQLite",
            bool(sqlite_lat) and percentile(sqlite_lat, 50) <= TARGET_LATENCY,
            note=lat_note,
        )
    )
    echo_lat = latency.get(ECHO_DEFAULT, [])
    rows.append(
        Row(
            "Telegram",
            M_LATENCY_ECHO,
            {"all": f"{ms(percentile(echo_lat, 50))} / {ms(percentile(echo_lat, 90))}" if echo_lat else "n/a"},
            note="the same questions; PTB's default transport",
        )
    )

    def lat(fn: Callable[[Latency], str]) -> dict[str, str]:
        v = {b: (fn(x) if isinstance(x, Latency) else x) for b, x in inbox.items()}
        v.setdefault(POSTGRES, NO_PG)
        return v

    rows += [
        Row(
            "Telegram",
            "engine alone, per message, no network (median / p95)",
            lat(lambda x: f"{ms(percentile(x.direct, 50))} / {ms(percentile(x.direct, 95))}"),
            note="in the benchmark's own process: the same messages handled directly, then along the inbox path, "
            "one after another",
        ),
        Row(
            "Telegram",
            "inbox path, per message, no network (median / p95)",
            lat(lambda x: f"{ms(percentile(x.inbox, 50))} / {ms(percentile(x.inbox, 95))}"),
        ),
        Row("Telegram", "added by the inbox, per message (median)", lat(lambda x: f"{x.added_ms:.1f} ms")),
    ]
    return rows
