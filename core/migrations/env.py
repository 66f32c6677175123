"""Alembic environment: runs on the engine handed in by ``core.db.upgrade`` (or GRIDBOT_DATABASE_URL)."""

from __future__ import annotations

from alembic import context

from core.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on a live connection; SQLite uses batch mode for ALTERs."""
    engine = config.attributes.get("engine")
    if engine is None:
        from core.db import make_engine
        from core.settings import get_settings

        engine = make_engine(get_settings().database_url)
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
