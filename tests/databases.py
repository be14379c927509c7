"""Scratch PostgreSQL databases for the tests and the benchmarks: made for one use, dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def scratch_database(admin_url: str, name: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database `name` (a copy of `template`, else empty) for the caller to use, dropped with
    every connection to it afterwards; yields its URL. A generator for `yield from` in a fixture or a context
    manager."""
    admin = make_url(admin_url).set(drivername="postgresql+psycopg")
    eng = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with eng.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with eng.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        eng.dispose()
