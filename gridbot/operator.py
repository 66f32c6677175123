"""What every operator command shares: one unit of work on the configured database, ready for use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from core.db import make_engine, make_session_factory, require_current, unit_of_work, upgrade
from core.settings import get_settings


@contextmanager
def operator_session() -> Iterator[Session]:
    """One unit of work; an embedded database is migrated, another must be at the newest schema already."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        if settings.is_embedded_db:
            upgrade(engine)
        else:
            require_current(engine)
        with unit_of_work(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
