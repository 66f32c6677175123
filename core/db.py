"""Engines, sessions, the unit of work and migrations. Only the unit of work commits."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import ConfigError, ServiceUnavailable

logger = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _normalise(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; an embedded SQLite file gets its folder, WAL and foreign keys."""
    try:
        parsed = make_url(_normalise(url))
    except ArgumentError:
        raise ConfigError(f"GRIDBOT_DATABASE_URL {safe_url(url)!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=40, max_overflow=10)


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    # pysqlite's own transaction handling emits no BEGIN before the first write and none before a SAVEPOINT,
    # which breaks savepoints and rollbacks; we take over and begin transactions ourselves (SQLAlchemy recipe).
    dbapi_conn.isolation_level = None  # type: ignore[attr-defined]
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine) -> SessionFactory:
    """Sessions that keep loaded objects usable after the commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: SessionFactory) -> Iterator[Session]:
    """One transaction: commit once at the end, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ping(engine: Engine) -> None:
    """Raise ServiceUnavailable naming the URL when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise ServiceUnavailable(
            f"cannot reach the database at {safe_url(engine.url.render_as_string(hide_password=False))}: "
            f"{reason} — start it or fix GRIDBOT_DATABASE_URL"
        ) from None


def alembic_config(engine: Engine) -> "object":
    """An Alembic config pointing at our migrations, bound to ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    from alembic import command

    ping(engine)
    command.upgrade(alembic_config(engine), revision)  # type: ignore[arg-type]


def require_current(engine: Engine) -> None:
    """Raise OperatorError unless the schema is at the newest migration (operators run ``gridbot db upgrade``)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from core.errors import OperatorError

    ping(engine)
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()  # type: ignore[arg-type]
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise OperatorError(f"the database at {safe_url(engine.url.render_as_string(hide_password=False))} is at "
                            f"schema {current or 'none'}, not {head}: run gridbot db upgrade")
