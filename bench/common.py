"""What every benchmark shares: result rows, timing and percentiles, fresh databases on both backends, and a
description of the machine.

A benchmark is not a test: PostgreSQL is measured when DUBAN_TEST_PG_URL names a server where we may
CREATE DATABASE, and is reported as "n/a (no PostgreSQL)" otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.databases import scratch_database

SQLITE, POSTGRES = "sqlite", "postgresql"
NO_PG = "n/a (no PostgreSQL)"
PG_ENV = "DUBAN_TEST_PG_URL"


@dataclass
class Row:
    """One line of the table: a measure, its value per backend, the target and whether it is met.

    Attributes:
        section: the subject (Engine, Telegram, Understanding, Scale, Start-up).
        measure: what was measured, with its unit.
        values: backend ("sqlite" / "postgresql") → formatted value; "all" for a figure without a database.
        target: the target as text ("" when there is none).
        met: True / False when there is a target, None otherwise.
        note: how it was measured or why a target is missed (short).
    """

    section: str
    measure: str
    values: dict[str, str] = field(default_factory=dict)
    target: str = ""
    met: bool | None = None
    note: str = ""


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def median_time(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> float:
    """Median seconds of `repeat` calls after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    samples = [timed(fn)[0] for _ in range(max(1, repeat))]
    return statistics.median(samples)


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (0–100) by linear interpolation; samples need not be sorted."""
    if not samples:
        return float("nan")
    s = sorted(samples)
    k = (len(s) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def ms(seconds: float) -> str:
    """Seconds as milliseconds with sensible precision."""
    v = seconds * 1000
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def ratio(x: float) -> str:
    return f"{x:.2f}x"


def pg_admin_url() -> str | None:
    """The PostgreSQL URL to create benchmark databases with, or None."""
    url = os.environ.get(PG_ENV)
    return url or None


def backends() -> list[str]:
    return [SQLITE, POSTGRES] if pg_admin_url() else [SQLITE]


@contextlib.contextmanager
def fresh_database(backend: str, workdir: Path, name: str) -> Iterator[str]:
    """A new empty database for one benchmark; dropped (PostgreSQL) or left in `workdir` (SQLite) afterwards."""
    if backend == SQLITE:
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        return
    admin_url = pg_admin_url()
    if admin_url is None:
        raise RuntimeError(f"{PG_ENV} is not set")
    yield from _pg_database(admin_url, name)


def _pg_database(admin_url: str, name: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of `template`, else empty), dropped afterwards; its URL."""
    yield from scratch_database(admin_url, f"duban_bench_{name}_{os.getpid()}_{uuid.uuid4().hex[:6]}", template)


@contextlib.contextmanager
def workdir(prefix: str = "duban-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def seed_database(url: str) -> None:
    """Migrate, import the shipped plan and add the demo people (what `duban init --demo` does)."""
    from bot.app import seed_database as seed

    seed(url, dt.datetime(2023, 3, 3, 1, 0))


# ---- the machine ------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_gib() -> str:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def postgres_version() -> str:
    url = pg_admin_url()
    if not url:
        return NO_PG
    try:
        eng = create_engine(make_url(url).set(drivername="postgresql+psycopg"))
        with eng.connect() as c:
            v = str(c.execute(text("SHOW server_version")).scalar())
        eng.dispose()
        return f"PostgreSQL {v}"
    except Exception as exc:  # the bench still reports what it can
        return f"unreachable ({type(exc).__name__})"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    import sqlalchemy
    import telegram

    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": _ram_gib(),
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": postgres_version(),
        "SQLAlchemy": sqlalchemy.__version__,
        "python-telegram-bot": telegram.__version__,
    }


# ---- copies of a seeded database (the Telegram benchmark gives every bot process a fresh one) ----------------


@contextlib.contextmanager
def database_copy(backend: str, template_url: str, workdir: Path, name: str) -> Iterator[str]:
    """A copy of the database at `template_url` (nothing may be connected to it): a file copy on SQLite, a
    `CREATE DATABASE ... TEMPLATE` on PostgreSQL; removed afterwards."""
    if backend == SQLITE:
        src = Path(make_url(template_url).database or "")
        dst = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{dst}{suffix}").unlink(missing_ok=True)
            if Path(f"{src}{suffix}").exists():
                shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")
        try:
            yield f"sqlite:///{dst}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{dst}{suffix}").unlink(missing_ok=True)
        return
    yield from _pg_database(pg_admin_url() or template_url, name, make_url(template_url).database)
