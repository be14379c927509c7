"""`db.migrate.upgrade` to head checks without alembic whether there is anything to do (issue 18: alembic and what
it imports are ~10 MB of every process, and every start calls `upgrade`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from db import migrate

REPO = Path(__file__).resolve().parent.parent


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(create_engine("sqlite://")))
    assert migrate.script_head() == script.get_current_head()


def test_a_database_at_head_is_not_migrated_and_alembic_not_imported(db_url: str) -> None:
    code = (
        "import sys\n"
        "from db.engine import make_engine\n"
        "from db.migrate import at_head, upgrade\n"
        f"engine = make_engine({db_url!r})\n"
        "upgrade(engine)\n"
        "print(at_head(engine), 'alembic' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_a_database_behind_is_migrated(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        assert not migrate.at_head(engine)  # no version table at all
        migrate.upgrade(engine, "0006")
        assert not migrate.at_head(engine)
        migrate.upgrade(engine)
        assert migrate.at_head(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migrate.script_head()
        assert "urge" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
