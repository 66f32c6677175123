"""Fixtures: every database test runs on the embedded stack (SQLite + in-process store) and on the production
stack (PostgreSQL + Redis). The production services must be reachable: a missing server fails, never skips."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.db import make_engine, upgrade
from core.settings import Settings, get_settings
from core.store import RedisStore, StateStore, make_store
from tests.fakes import FixedClock

PG_URL = os.environ.get("GRIDBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GRIDBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = [b for b in os.environ.get("GRIDBOT_TEST_BACKENDS", "embedded,production").split(",") if b]


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    """One migrated engine per backend; PostgreSQL gets a private schema so parallel runs don't collide."""
    engines: dict[str, Engine] = {}
    schema = f"gridbot_test_{uuid.uuid4().hex[:10]}"
    if "embedded" in BACKENDS:
        db_file = tmp_path_factory.mktemp("db") / "test.db"
        engines["embedded"] = make_engine(f"sqlite:///{db_file}")
        upgrade(engines["embedded"])
    if "production" in BACKENDS:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        pg = make_engine(PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}")
        upgrade(pg)
        engines["production"] = pg
    yield engines
    for engine in engines.values():
        engine.dispose()
    if "production" in BACKENDS:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """'embedded' (SQLite + in-process store) or 'production' (PostgreSQL + Redis)."""
    return str(request.param)


@pytest.fixture
def engine(_engines: dict[str, Engine], backend: str) -> Engine:
    return _engines[backend]


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions inside one outer transaction that is rolled back after the test (commits become savepoints)."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    yield factory
    outer.rollback()
    connection.close()


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for the test; nothing it writes outlives the test."""
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def store(backend: str) -> Iterator[StateStore]:
    """The state store of the backend, isolated by a random key prefix."""
    prefix = f"gridbot-test:{uuid.uuid4().hex[:8]}:"
    st = make_store(REDIS_URL if backend == "production" else None, prefix=prefix)
    st.ping()
    yield st
    if isinstance(st, RedisStore):
        st.purge()
    st.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated from the developer's environment and .env."""
    return get_settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/unused.db", media_dir=tmp_path / "media")


@pytest.fixture
def fresh_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database of the backend that tests may commit to (for multi-connection stories)."""
    if backend == "embedded":
        engine = make_engine(f"sqlite:///{tmp_path}/fresh.db")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"gridbot_fresh_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL + ("&" if "?" in PG_URL else "?") + f"options=-csearch_path%3D{schema}")
    upgrade(engine)
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
