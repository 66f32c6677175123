"""``gridbot policy search``: the JSON contract of PRODUCT.md, and clear answers to operator mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gridbot.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", f"sqlite:///{tmp_path}/policy.db")
    monkeypatch.delenv("GRIDBOT_POLICY_SYNONYMS_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_search_prints_the_json_contract_best_first(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "import", str(EXAMPLES / "policies.jsonl")]) == 0
    capsys.readouterr()
    assert main(["policy", "search", "娃儿刚生下来，有没得啥子补贴", "--top", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [set(row) for row in rows] == [{"id", "title", "score", "summary"}] * 3
    assert rows[0]["id"] == "childcare-subsidy"
    assert rows[0]["score"] >= rows[1]["score"] >= rows[2]["score"]


def test_a_deployer_alias_file_changes_the_ranking(sqlite_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "import", str(EXAMPLES / "policies.jsonl")]) == 0
    aliases = sqlite_env / "aliases.txt"
    aliases.write_text("# our own words\n职业技能 叉车证 电工证\n", encoding="utf-8")
    monkeypatch.setenv("GRIDBOT_POLICY_SYNONYMS_FILE", str(aliases))
    capsys.readouterr()
    assert main(["policy", "search", "考个叉车证政府给钱不", "--top", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == "vocational-training-subsidy"


def test_search_before_any_import_says_so(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "search", "房租减免"]) == 0
    assert "no policies imported yet" in capsys.readouterr().out


def test_bad_top_is_one_clear_line(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "search", "房租", "--top", "0"]) == 2
    assert capsys.readouterr().err.strip() == "gridbot: --top must be at least 1"


def test_a_database_behind_the_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import text

    from core.db import make_engine, upgrade
    from tests.conftest import PG_URL

    schema = "gridbot_behind_test"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = PG_URL + f"?options=-csearch_path%3D{schema}"
    try:
        upgrade(make_engine(url), "0001")
        monkeypatch.setenv("GRIDBOT_DATABASE_URL", url)
        assert main(["policy", "search", "房租"]) == 2
        assert "run gridbot db upgrade" in capsys.readouterr().err
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
