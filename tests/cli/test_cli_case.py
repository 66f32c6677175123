"""``gridbot case show`` and ``gridbot case list`` against a seeded SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.db import make_engine, make_session_factory, unit_of_work, upgrade
from gridbot.cli import main
from tests.core.test_stats import build_story


@pytest.fixture
def numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A migrated SQLite file holding the handcrafted day of cases; returns their numbers by name."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", url)
    monkeypatch.setenv("GRIDBOT_TIMEZONE", "Asia/Shanghai")
    monkeypatch.delenv("GRIDBOT_REDIS_URL", raising=False)
    monkeypatch.delenv("GRIDBOT_TAXONOMY_FILE", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        story = build_story(session)
        found = {name: case.number for name, case in story.c.items()}
    engine.dispose()
    return found


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_show_prints_the_case_and_its_timeline_in_local_time(numbers: dict[str, str],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "show", numbers["c1"]]) == 0
    out = capsys.readouterr().out
    assert numbers["c1"] in out and "市政设施 (municipal)" in out and "closed" in out
    assert "G01 第1网格" in out and "W01 网格员1" in out
    assert "accept by:   2026-12-03 11:00" in out and "resolve by:  2026-12-06 09:00" in out
    timeline = out.split("timeline (Asia/Shanghai):")[1].splitlines()
    assert [line.split()[2] for line in timeline if line.strip()] == [
        "created", "assigned", "accepted", "resolved", "rated", "closed"]
    assert "2026-12-03 09:30  accepted  staff:W01  assigned → accepted" in out
    assert "2026-12-03 16:00  rated" in out and "很好" in out


def test_show_masks_the_reporters_phone_everywhere(numbers: dict[str, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "show", numbers["c2"]]) == 0
    out = capsys.readouterr().out
    assert "phone 139****5678" in out
    assert "电话139****5678" in out  # a number written into the description too
    assert "13912345678" not in out


def test_show_unknown_case_is_one_line_and_exit_2(numbers: dict[str, str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "show", "20991231-0001"]) == 2
    assert "20991231-0001" in _one_line_error(capsys)


def test_list_filters_by_grid_and_status(numbers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "list", "--grid", "G01", "--status", "accepted"]) == 0
    out = capsys.readouterr().out
    assert numbers["c5"] in out and numbers["c1"] not in out and numbers["c2"] not in out
    assert "1 case(s)" in out


def test_list_as_json_lines(numbers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "list", "--since", "2026-12-03", "--until", "2026-12-03", "--category", "市政设施",
                 "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["number"] for r in records} == {numbers[k] for k in ("c1", "c2", "c3", "c4", "c6", "c7", "c8")}
    first = records[0]
    assert first["number"] == numbers["c8"] and first["category_name"] == "市政设施"
    assert first["created_at"] == "2026-12-03 23:30" and first["due_at"] == "2026-12-04 01:30"
    assert "13912345678" not in json.dumps(records)


def test_list_by_assignee_and_open_status(numbers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "list", "--assignee", "W01", "--status", "open", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["number"] for r in records] == [numbers["c2"], numbers["c5"]]


def test_list_overdue_shows_open_cases_past_a_deadline(numbers: dict[str, str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "list", "--overdue", "--json"]) == 0
    shown = {json.loads(line)["number"] for line in capsys.readouterr().out.splitlines()}
    assert {numbers["c2"], numbers["c4"], numbers["c8"]} <= shown
    assert numbers["c1"] not in shown and numbers["c6"] not in shown


def test_list_with_no_match_says_so(numbers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "list", "--category", "noise"]) == 0
    assert capsys.readouterr().out.strip() == "no cases match"


@pytest.mark.parametrize(("argv", "named"), [
    (["--status", "bogus"], "--status"),
    (["--category", "流浪猫"], "--category"),
    (["--since", "2026-13-01"], "--since"),
    (["--until", "yesterday"], "--until"),
    (["--grid", "G99"], "--grid"),
    (["--assignee", "W99"], "--assignee"),
    (["--limit", "0"], "--limit"),
])
def test_bad_option_values_are_one_line_naming_the_option(numbers: dict[str, str], argv: list[str], named: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["case", "list", *argv]) == 2
    assert _one_line_error(capsys).startswith(f"gridbot: {named}:")
