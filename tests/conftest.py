"""Shared fixtures: a fresh database per test, with the shipped plan loaded; and which backend each test runs on.

Backends. DUBAN_TEST_DATABASES lists the configured backends (comma-separated: sqlite, postgresql; by default
sqlite, plus postgresql when DUBAN_TEST_PG_URL is set). PostgreSQL needs DUBAN_TEST_PG_URL (a URL to a database on
a server where we may CREATE DATABASE); `.ci/pg.sh start` starts one and prints it. Each test gets its own
database cloned from a template built once per run and backend, on first use (SQLite: a file copy; PostgreSQL:
CREATE DATABASE ... TEMPLATE), so tests are isolated and fast.

Which test runs where. PostgreSQL runs the storage contract, not the whole suite again:
- a test marked `both_backends` (or every test of a module with `pytestmark = pytest.mark.both_backends`) runs
  once on every configured backend. These are the repositories (test_repositories.py), the migrations
  (test_migrations.py: stairway, models match migrations), the outbox and its senders (test_outbox.py), the
  scheduler service's leader lock and concurrent processes (test_scheduler_service.py), concurrent and repeated
  deliveries (the "twice is handled once" tests of test_reliability_faults.py), plan import and re-import
  (test_plan.py), and the end-to-end smoke: a check-in through the engine resumed by a second process
  (test_smoke_engine.py) and `duban serve` killed mid-check-in (test_reliability_crash.py);
- every other test that uses a database (through the `backend` fixture: `db_url`, `empty_db_url`, `settings`,
  `app`, ...) runs once, on the first configured backend (SQLite unless DUBAN_TEST_DATABASES says otherwise).
- a test marked `postgresql_only` (several `duban serve` processes sharing one database) runs on PostgreSQL alone,
  and is deselected when no PostgreSQL is configured;
`pytest_generate_tests` below chooses the `backend` parameters from the markers. DUBAN_TEST_EVERY_BACKEND=1 runs
every test on every configured backend (the whole matrix, for a change to the storage layer).
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
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from bot.app import App, build_app, seed_database
from config.clock import Clock
from config.settings import Settings
from core.messages import IncomingMessage, Reply, render_plain
from db.engine import make_engine, make_session_factory
from handlers.understanding.nlu import NLU
from tests.databases import scratch_database
from tests.fakes.telegram_api import FakeTelegramAPI

DEFAULT_NOW = dt.datetime(2023, 5, 24, 9, 0)


def _backends() -> list[str]:
    raw = os.environ.get("DUBAN_TEST_DATABASES")
    if raw:
        return [b.strip() for b in raw.split(",") if b.strip()]
    return ["sqlite", "postgresql"] if os.environ.get("DUBAN_TEST_PG_URL") else ["sqlite"]


BACKENDS = _backends()
EVERY_BACKEND = os.environ.get("DUBAN_TEST_EVERY_BACKEND", "").lower() in ("1", "true", "yes")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `backend`: every configured backend for `both_backends` tests, PostgreSQL for
    `postgresql_only` tests, else the first one."""
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("postgresql_only") is not None:
        metafunc.parametrize("backend", ["postgresql"], indirect=True)
        return
    everywhere = EVERY_BACKEND or metafunc.definition.get_closest_marker("both_backends") is not None
    metafunc.parametrize("backend", BACKENDS if everywhere else BACKENDS[:1], indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL configured, `postgresql_only` tests are deselected (what they test does not exist on
    SQLite), rather than skipped."""
    if "postgresql" in BACKENDS:
        return
    keep = [i for i in items if i.get_closest_marker("postgresql_only") is None]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def _pg_admin_url() -> str:
    url = os.environ.get("DUBAN_TEST_PG_URL")
    if not url:
        raise RuntimeError("DUBAN_TEST_PG_URL is not set: run `.ci/pg.sh start` and export the URL it prints")
    return url


def _pg_admin_engine() -> Engine:
    return create_engine(make_url(_pg_admin_url()).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")


TEMPLATE_SEEDED_AT = dt.datetime(2023, 3, 3, 1, 0)  # naive UTC: the plan's issue date, 09:00 in Shanghai


def _build_template(url: str) -> None:
    """Migrate, import the shipped plan and add the demo people (what `duban init --demo` does)."""
    seed_database(url, TEMPLATE_SEEDED_AT)


class Templates:
    """Template databases holding what `duban init --demo` makes (schema, shipped plan, demo people), built once
    per run and backend when a test first needs one."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._built: dict[str, str] = {}

    def get(self, backend: str) -> str:
        """The SQLite template's path, or the PostgreSQL template database's name."""
        if backend not in self._built:
            self._built[backend] = self._build(backend)
        return self._built[backend]

    def _build(self, backend: str) -> str:
        if backend == "sqlite":
            path = self.directory / "template.db"
            _build_template(f"sqlite:///{path}")
            return str(path)
        if backend != "postgresql":
            raise ValueError(f"unknown test backend {backend!r} in DUBAN_TEST_DATABASES")
        name = f"duban_tmpl_{uuid.uuid4().hex[:8]}"
        eng = _pg_admin_engine()
        with eng.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        eng.dispose()
        _build_template(make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False))
        return name

    def drop(self) -> None:
        if "postgresql" in self._built:
            eng = _pg_admin_engine()
            with eng.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self._built.pop("postgresql")}" WITH (FORCE)'))
            eng.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    t = Templates(tmp_path_factory.mktemp("template"))
    yield t
    t.drop()


_counter = itertools.count()


def _pg_database(prefix: str, template: str | None) -> Iterator[str]:
    """A fresh PostgreSQL database (a copy of `template`, or empty) for one test, dropped afterwards."""
    yield from scratch_database(_pg_admin_url(), f"{prefix}_{os.getpid()}_{next(_counter)}", template)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test run: parametrized by `pytest_generate_tests`."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, templates: Templates, tmp_path: Path) -> Iterator[str]:
    """A fresh database holding the shipped plan and the demo people."""
    if backend == "sqlite":
        path = tmp_path / "duban.db"
        shutil.copy(templates.get("sqlite"), path)
        yield f"sqlite:///{path}"
        return
    yield from _pg_database("duban_t", templates.get("postgresql"))


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no schema)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    yield from _pg_database("duban_e", None)


@pytest.fixture(scope="session")
def shipped_nlu(tmp_path_factory: pytest.TempPathFactory) -> NLU:
    """The understanding layer built once from the shipped plan (in a SQLite file of its own), for the tests that
    only read it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('nlu') / 'nlu.db'}"
    _build_template(url)
    return _nlu_of(url)


@pytest.fixture
def nlu(db_url: str) -> NLU:
    """The understanding layer of the test's own database."""
    return _nlu_of(db_url)


def _nlu_of(url: str) -> NLU:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return NLU.from_session(session)
    finally:
        engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, now=DEFAULT_NOW, scheduler_enabled=False)


@pytest.fixture
def clock() -> Clock:
    return Clock("Asia/Shanghai", DEFAULT_NOW, frozen=True)


@pytest.fixture
def view(settings: Settings) -> Iterator[App]:
    """The test's own view of the database, where `duban serve` subprocesses do the work (each has its own)."""
    a = build_app(settings, warm_nlu=False)
    yield a
    a.close()


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


def pass_stranger_quiet_time(app: App) -> None:
    """Move the clock past the quiet time after a stranger's explanation: the next message is answered again."""
    app.clock.set(app.clock.now() + dt.timedelta(minutes=app.settings.stranger_quiet_minutes), frozen=True)
