"""Alembic's stairway: every migration upgrades, downgrades and upgrades again, on every backend;
and the migrated schema matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from db.engine import make_engine
from db.migrate import alembic_config, downgrade, upgrade
from db.models import Base

pytestmark = pytest.mark.both_backends


def test_stairway(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        script = ScriptDirectory.from_config(alembic_config(engine))
        revisions = list(reversed(list(script.walk_revisions())))
        assert revisions, "no migrations found"
        for rev in revisions:
            upgrade(engine, rev.revision)
            downgrade(engine, rev.down_revision or "base")
            upgrade(engine, rev.revision)
        tables = set(inspect(engine).get_table_names())
        assert {"plan", "organisation", "item", "assignment", "report", "outbox", "conversation"} <= tables
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_match_models(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == [], diff
    finally:
        engine.dispose()
