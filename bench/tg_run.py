"""The Telegram benchmark's processes, seen from the driver: the fake Bot API server and one bot under test,
each started fresh for every run and stopped after it, and aiogram's own virtual environment.

The driver only queues messages and reads the clock of the fake server (bench/tg_fake.py); it runs no bot code.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.tg_control import get, post
from tests.fakes.telegram_api import DEFAULT_TOKEN

REPO = Path(__file__).resolve().parent.parent
AIOGRAM_VENV = REPO / "build" / "bench-venv-aiogram"
AIOGRAM_REQUIREMENT = "aiogram>=3.20,<4"
TOKEN = DEFAULT_TOKEN
READY_TIMEOUT = 120.0


class BotFailed(RuntimeError):
    """A process under test died or never got ready; the message ends with the tail of its log."""


def _env() -> dict[str, str]:
    """The environment of a child: this tree's code first on the path (not whatever is installed)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def _tail(path: Path, lines: int = 12) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _stop(proc: subprocess.Popen[Any], grace: float = 20.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def fake_server(log: Path) -> Iterator[str]:
    """A fresh fake Bot API server process; yields its base URL."""
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.tg_fake"],
            cwd=REPO,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        if not line.startswith("PORT "):
            raise BotFailed(f"the fake Bot API server did not start: {line!r}\n{_tail(log)}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        _stop(proc, 5.0)
        if proc.stdout is not None:
            proc.stdout.close()


@dataclass
class Started:
    """A bot process that is polling: what it told the fake when ready (e.g. its HTTP transport)."""

    info: dict[str, Any]
    process: subprocess.Popen[Any]


@contextlib.contextmanager
def bot(argv: list[str], base_url: str, log: Path) -> Iterator[Started]:
    """Start a bot process and wait until it said it is ready and has made its first getUpdates call."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, cwd=REPO, env=_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise BotFailed(f"{' '.join(argv[1:3])} exited with {proc.returncode}: {_tail(log)}")
            state = get(base_url, "state")
            if state["ready"] and state["get_updates"] >= 1:
                break
            if time.monotonic() > deadline:
                raise BotFailed(f"not ready after {READY_TIMEOUT:.0f} s: {_tail(log)}")
            time.sleep(0.05)
        yield Started(state["info"], proc)
    finally:
        _stop(proc)


def burst(
    base_url: str, messages: list[tuple[int, str]], replies: int | None, timeout: float = 900
) -> tuple[float, int]:
    """Queue every message at once; (seconds until the last expected reply arrived, replies that arrived).
    `replies` None: the bot posts done itself (duban)."""
    answer = post(
        base_url, "burst", {"messages": messages, "replies": replies, "timeout": timeout}, timeout=timeout + 30
    )
    return float(answer["seconds"]), int(answer["replies"])


def ask(base_url: str, chat: int, text: str) -> float:
    """Queue one message; seconds until its first reply arrived."""
    return float(post(base_url, "ask", {"chat": chat, "text": text, "timeout": 30}, timeout=60)["seconds"])


def aiogram_python(log: Path) -> tuple[Path | None, str]:
    """The interpreter of aiogram's own virtual environment (build/bench-venv-aiogram, made on first use:
    aiogram 3 pins a pydantic older than duban's); (None, why) when it cannot be made, e.g. no package index."""
    python = AIOGRAM_VENV / "bin" / "python"
    check = [str(python), "-I", "-c", "import aiogram; print(aiogram.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    with log.open("ab") as out:
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(AIOGRAM_VENV)],
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", AIOGRAM_REQUIREMENT],
        ]
        for step in steps:
            try:
                done = subprocess.run(step, stdout=out, stderr=out, timeout=600)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return None, f"{' '.join(step[:3])}: {type(exc).__name__}"
            if done.returncode != 0:
                why = _tail(log, 1)[:160] or f"exit code {done.returncode}"
                return None, f"could not install {AIOGRAM_REQUIREMENT} ({why})"
    if subprocess.run(check, capture_output=True).returncode != 0:
        return None, "aiogram installed but does not import"
    return python, ""
