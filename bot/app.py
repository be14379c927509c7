"""Assembly of duban: settings → clock, database, engine and the services handlers share."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine as DbEngine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine
from config.clock import Clock
from config.plan.files import load_plan_file
from config.settings import DEFAULT_PLAN, Settings
from core.inbox import Inbox
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.repositories import progress
from handlers.queries import weekly, workbook

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    clock: Clock
    db: DbEngine
    session_factory: sessionmaker[Session]
    engine: Engine
    services: dict[str, Any] = field(default_factory=dict)
    inbox: Inbox | None = None  # set by `duban serve`

    def close(self) -> None:
        self.db.dispose()


def make_clock(settings: Settings, frozen: bool = False) -> Clock:
    return Clock(settings.timezone, settings.now, frozen=frozen)


def _build_workbook(*args: Any, **kwargs: Any) -> Any:
    """ "导出" in the chat: the export's workbook (openpyxl is imported on the first one, not at start-up)."""
    from scheduler import export

    return export.build_workbook(*args, **kwargs)


def _build_digest(*args: Any, **kwargs: Any) -> Any:
    """ "周报" in the chat: the scheduler's weekly digest."""
    from scheduler import digest

    return digest.build_digest(*args, **kwargs)


def build_app(settings: Settings, migrate: bool = True, clock: Clock | None = None, warm_nlu: bool = True) -> App:
    """Build everything a process needs.

    Args:
        settings: duban's settings.
        migrate: bring the schema up to date first (alembic upgrade head).
        clock: a clock to use instead of one built from the settings (tests).
        warm_nlu: build the understanding layer now (jieba and its dictionary) rather than on the first message.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    progress.configure(lag_points=settings.lag_points, grace_days=settings.unreported_grace_days)
    db = make_engine(settings.sqlalchemy_url)
    if migrate:
        upgrade(db)
    factory = make_session_factory(db)
    clock = clock or make_clock(settings)
    services: dict[str, Any] = {workbook.SERVICE: _build_workbook, weekly.SERVICE: _build_digest}
    engine = Engine(factory, clock, settings, services)
    app = App(settings=settings, clock=clock, db=db, session_factory=factory, engine=engine, services=services)
    if warm_nlu:
        from handlers import queries

        queries.install(app.services, factory)
        try:
            engine.warm()
        except DBAPIError:  # no schema yet (a tool that does not migrate): the first messages take the long way
            log.warning("engine started without the bound accounts", exc_info=True)
    return app


def seed_database(url: str, now: dt.datetime, plan_file: Path = DEFAULT_PLAN, demo: bool = True) -> None:
    """What `duban init [--demo]` does to a database, without an app: migrate, import the plan, add the
    demo people. Used to prepare test and benchmark databases.

    Args:
        url: the database URL.
        now: naive UTC time recorded for the import and the people.
        plan_file: the plan to import.
        demo: also add the demo people.
    """
    from db.engine import transaction
    from db.repositories import people, plans

    db = make_engine(url)
    try:
        upgrade(db)
        doc = load_plan_file(plan_file)
        with transaction(make_session_factory(db)) as s:
            plans.import_plan(s, doc, now)
            if demo:
                people.add_demo_people(s, now)
    finally:
        db.dispose()


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "apscheduler.executors.default", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
