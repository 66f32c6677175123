"""Operator-facing behaviour of ``gridbot``: clear one-line errors, migrations, the demo seed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import make_engine, make_session_factory
from core.models import Policy, Region, Staff
from gridbot.cli import main


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db_file = tmp_path / "cli.db"
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", f"sqlite:///{db_file}")
    monkeypatch.delenv("GRIDBOT_REDIS_URL", raising=False)
    monkeypatch.setenv("GRIDBOT_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return db_file


def test_db_upgrade_creates_the_schema(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0  # idempotent
    with make_session_factory(make_engine(f"sqlite:///{sqlite_env}"))() as session:
        assert session.scalar(select(func.count()).select_from(Region)) == 0
    assert "up to date" in capsys.readouterr().out


def test_unreachable_database_is_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", "postgresql://postgres:hunter2@127.0.0.1:1/nowhere")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "127.0.0.1:1" in err and "hunter2" not in err and "Traceback" not in err


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRIDBOT_TIMEZONE", "Mars/Olympus")
    assert main(["db", "upgrade"]) == 2
    assert "GRIDBOT_TIMEZONE" in capsys.readouterr().err


def test_unknown_command_exits_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_demo_seeds_the_city_and_is_idempotent(sqlite_env: Path) -> None:
    assert main(["demo"]) == 0
    assert main(["demo"]) == 0
    with make_session_factory(make_engine(f"sqlite:///{sqlite_env}"))() as session:
        levels = session.scalars(select(Region.level)).all()
        assert sorted(set(levels)) == ["city", "community", "grid", "street"]
        assert levels.count("grid") == 4 and levels.count("community") == 2 and levels.count("street") == 1
        assert session.scalar(select(func.count()).select_from(Staff)) >= 6
        assert session.scalar(select(func.count()).select_from(Policy)) >= 10
