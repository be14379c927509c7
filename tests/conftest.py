"""Shared fixtures: a fresh database per test on every configured backend, with the shipped plan loaded.

Backends come from DUBAN_TEST_DATABASES (comma-separated: sqlite, postgresql). PostgreSQL needs
DUBAN_TEST_PG_URL (a URL to a database on a server where we may CREATE DATABASE); `.ci/pg.sh start`
starts one and prints it. Each test gets its own database cloned from a template built once per run
(SQLite: a file copy; PostgreSQL: CREATE DATABASE ... TEMPLATE), so tests are isolated and fast.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app import App, build_app, seed_database
from config.clock import Clock
from config.settings import Settings
from core.messages import IncomingMessage, Reply, render_plain
from tests.fakes.telegram_api import FakeTelegramAPI

DEFAULT_NOW = dt.datetime(2023, 5, 24, 9, 0)


def _backends() -> list[str]:
    raw = os.environ.get("DUBAN_TEST_DATABASES")
    if raw:
        return [b.strip() for b in raw.split(",") if b.strip()]
    return ["sqlite", "postgresql"] if os.environ.get("DUBAN_TEST_PG_URL") else ["sqlite"]


BACKENDS = _backends()


def _pg_admin_url() -> str:
    url = os.environ.get("DUBAN_TEST_PG_URL")
    if not url:
        raise RuntimeError("DUBAN_TEST_PG_URL is not set: run `.ci/pg.sh start` and export the URL it prints")
    return url


TEMPLATE_SEEDED_AT = dt.datetime(2023, 3, 3, 1, 0)  # naive UTC: the plan's issue date, 09:00 in Shanghai


def _build_template(url: str) -> None:
    """Migrate, import the shipped plan and add the demo people (what `duban init --demo` does)."""
    seed_database(url, TEMPLATE_SEEDED_AT)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    out: dict[str, str] = {}
    created_pg: list[str] = []
    if "sqlite" in BACKENDS:
        path = tmp_path_factory.mktemp("template") / "template.db"
        _build_template(f"sqlite:///{path}")
        out["sqlite"] = str(path)
    if "postgresql" in BACKENDS:
        admin = make_url(_pg_admin_url())
        name = f"duban_tmpl_{uuid.uuid4().hex[:8]}"
        eng = create_engine(admin.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        _build_template(admin.set(database=name).render_as_string(hide_password=False))
        out["postgresql"] = name
        created_pg.append(name)
    yield out
    if created_pg:
        eng = create_engine(
            make_url(_pg_admin_url()).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with eng.connect() as c:
            for name in created_pg:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


_counter = itertools.count()


def _pg_database(prefix: str, template: str | None) -> Iterator[str]:
    """A fresh PostgreSQL database (a copy of `template`, or empty) for one test, dropped afterwards."""
    admin = make_url(_pg_admin_url()).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        c.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, templates: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A fresh database holding the shipped plan and the demo people."""
    if backend == "sqlite":
        path = tmp_path / "duban.db"
        shutil.copy(templates["sqlite"], path)
        yield f"sqlite:///{path}"
        return
    yield from _pg_database("duban_t", templates["postgresql"])


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    yield from _pg_database("duban_e", None)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, now=DEFAULT_NOW, scheduler_enabled=False)


@pytest.fixture
def clock() -> Clock:
    return Clock("Asia/Shanghai", DEFAULT_NOW, frozen=True)


@pytest.fixture
def app(settings: Settings, clock: Clock) -> Iterator[App]:
    a = build_app(settings, clock=clock)
    yield a
    a.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    """The fake Telegram Bot API server on 127.0.0.1."""
    fake = FakeTelegramAPI()
    await fake.start()
    yield fake
    await fake.stop()


class Chat:
    """Talk to the engine as one user on one channel, as a test would through a real channel."""

    def __init__(self, app: App, user_id: str, channel: str = "console", chat_id: str | None = None) -> None:
        self.app, self.user_id, self.channel = app, user_id, channel
        self.chat_id = chat_id or user_id
        self.last: list[Reply] = []
        self._ids = itertools.count(1)

    def send(self, text: str = "", **kw: Any) -> str:
        msg = IncomingMessage(
            channel=self.channel,
            chat_id=self.chat_id,
            user_id=self.user_id,
            text=text,
            message_id=f"{self.user_id}-{uuid.uuid4().hex[:6]}-{next(self._ids)}",
            **kw,
        )
        self.last = self.app.engine.handle(msg)
        return "\n".join(render_plain(r) for r in self.last)

    def pick(self, label_part: str) -> str:
        """Press the button whose label contains `label_part`."""
        for r in self.last:
            for c in r.choices:
                if label_part in c.label:
                    return self.send(c.payload, is_choice=True)
        raise AssertionError(
            f"no choice containing {label_part!r} in {[c.label for r in self.last for c in r.choices]}"
        )

    @property
    def choices(self) -> list[str]:
        return [c.label for r in self.last for c in r.choices]


@pytest.fixture
def chat(app: App) -> Any:
    """chat("协调员") → a Chat as the demo person with that console name."""

    def make(user: str, channel: str = "console") -> Chat:
        return Chat(app, user, channel)

    return make
