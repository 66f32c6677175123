"""Engines, sessions, the unit of work and migrations. Only the unit of work commits."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from core.errors import ConfigError, ServiceUnavailable

logger = logging.getLogger(__name__)

SessionFactory = sessionmaker[Session]

# A pool at least as large as the threads that may hold a connection at once (anyio's default of 40 for the web
# process): past pool_size, every checkout opens a PostgreSQL connection (a forked backend) and closes it again on
# return, which cost more CPU than the turns themselves under load.
POOL_SIZE, MAX_OVERFLOW = 40, 10
# Ping a pooled connection before use only when it sat idle this long: a dropped connection (server restart,
# idle timeout) is caught there, while a busy pool does not pay a round trip on every checkout.
PING_AFTER_IDLE = 10.0


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _normalise(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith(("postgresql://", "postgres://")):
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
    engine = create_engine(parsed, echo=echo, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle(engine))
    return engine


def _note_checkin(_dbapi_conn: object, record: ConnectionPoolEntry) -> None:
    """Note when a connection went back to the pool (``_ping_if_idle`` reads it)."""
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(engine: Engine) -> Callable[[Any, ConnectionPoolEntry, Any], None]:
    """A checkout hook that pings a connection idle for PING_AFTER_IDLE (pool_pre_ping pings every checkout)."""
    dialect = engine.dialect

    def ping_idle(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", float("inf")) < PING_AFTER_IDLE:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("stale pooled connection") from exc  # the pool retries with a fresh one

    return ping_idle


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
    # IMMEDIATE takes the write lock up front: concurrent writers then queue on the busy timeout instead of
    # failing with "database is locked" when a read transaction tries to become a write one (WAL snapshots).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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


def alembic_config(engine: Engine) -> object:
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
