"""Alembic environment: uses the engine handed over by db.migrate (or DUBAN_DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        from config.settings import load_settings
        from db.engine import make_engine

        engine = make_engine(load_settings().sqlalchemy_url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
