"""Policy import from JSONL, CSV and XLSX: tags in both forms, bad rows at their cell, idempotent by id, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import ImportValidationError
from core.importing.policies import import_policies
from core.models import Policy
from gridbot.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "policies.jsonl"
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
GOOD = {"id": "p1", "title": "小微企业房租减免", "body": "减免3个月租金。", "tags": ["房租", "减免"],
        "audience": "enterprise", "region": None, "valid_from": "2026-01-01", "valid_to": "2026-12-31",
        "source_url": "https://example.gov.cn/p1"}


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Policy)) or 0


def jsonl(path: Path, *records: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in records), encoding="utf-8")
    return path


def problems_of(db: Session, path: Path) -> list[str]:
    with pytest.raises(ImportValidationError) as info:
        import_policies(db, path, now=NOW)
    assert count(db) == 0
    return info.value.problems


def test_example_file_imports_and_reimport_changes_nothing(db: Session) -> None:
    lines = [line for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    first = import_policies(db, EXAMPLE, now=NOW)
    assert first.counts["policies"].new == len(lines) >= 24
    again = import_policies(db, EXAMPLE, now=NOW + timedelta(days=1))
    assert (again.counts["policies"].new, again.counts["policies"].updated) == (0, 0)
    assert count(db) == len(lines)
    assert set(db.scalars(select(Policy.updated_at))) == {NOW}


def test_jsonl_fields_are_stored(db: Session, tmp_path: Path) -> None:
    import_policies(db, jsonl(tmp_path / "p.jsonl", GOOD), now=NOW)
    policy = db.get(Policy, "p1")
    assert policy is not None
    assert (policy.title, policy.tags, policy.audience, policy.region_code) == ("小微企业房租减免", ["房租", "减免"],
                                                                                "enterprise", None)
    assert (policy.valid_from, policy.valid_to, policy.updated_at) == (date(2026, 1, 1), date(2026, 12, 31), NOW)


def test_reimport_updates_a_changed_title_and_its_timestamp(db: Session, tmp_path: Path) -> None:
    import_policies(db, jsonl(tmp_path / "p.jsonl", GOOD, {**GOOD, "id": "p2"}), now=NOW)
    later = NOW + timedelta(hours=1)
    summary = import_policies(db, jsonl(tmp_path / "p.jsonl", {**GOOD, "title": "新标题"}, {**GOOD, "id": "p2"}),
                              now=later)
    assert (summary.counts["policies"].updated, summary.counts["policies"].unchanged) == (1, 1)
    assert summary.line() == f"imported {tmp_path / 'p.jsonl'}: 2 policies (0 new, 1 updated)"
    assert {p.id: (p.title, p.updated_at) for p in db.scalars(select(Policy))} == {
        "p1": ("新标题", later), "p2": ("小微企业房租减免", NOW)}


def test_csv_accepts_tags_as_text_or_json_list_and_defaults(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('\ufeffID,Title,Body,Tags\np1,标题一,正文,"房租，减免、小微; 房租"\np2,标题二,正文,"[""社保"", ""补贴""]"\n',
                    encoding="utf-8")
    import_policies(db, path, now=NOW)
    assert {p.id: (p.tags, p.audience, p.valid_from) for p in db.scalars(select(Policy))} == {
        "p1": (["房租", "减免", "小微"], "all", None), "p2": (["社保", "补贴"], "all", None)}


def test_xlsx_first_sheet_with_date_cells(db: Session, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(["id", "title", "body", "tags", "audience", "valid_from", "valid_to", "region"])
    sheet.append([101, "稳岗返还", "符合条件的企业可申请。", "稳岗,社保", "企业", date(2026, 1, 1), datetime(2026, 6, 30), 1111])
    book.create_sheet("notes").append(["ignored"])
    book.save(tmp_path / "p.xlsx")
    import_policies(db, tmp_path / "p.xlsx", now=NOW)
    policy = db.get(Policy, "101")
    assert policy is not None
    assert (policy.tags, policy.audience, policy.valid_to, policy.region_code) == (
        ["稳岗", "社保"], "enterprise", date(2026, 6, 30), "1111")


BAD = [
    ('{"id": "p1", "title": ', "p.jsonl:1: not valid JSON: Expecting value"),
    ('["p1"]', "p.jsonl:1: expected a JSON object, got list"),
    ({**GOOD, "title": ""}, "p.jsonl:1:title: missing"),
    ({k: v for k, v in GOOD.items() if k != "tags"}, "p.jsonl:1:tags: missing"),
    ({**GOOD, "body": None}, "p.jsonl:1:body: missing"),
    ({**GOOD, "valid_from": "2026-13-01"}, "p.jsonl:1:valid_from: not a date '2026-13-01' (use YYYY-MM-DD)"),
    ({**GOOD, "valid_to": "2025-01-01"}, "p.jsonl:1:valid_to: 2025-01-01 is before valid_from 2026-01-01"),
    ({**GOOD, "audience": "students"}, "p.jsonl:1:audience: unknown audience 'students'"),
    ({**GOOD, "tags": [{"a": 1}]}, "p.jsonl:1:tags: must be a list of texts"),
    ({**GOOD, "source_url": "example.gov.cn"}, "p.jsonl:1:source_url: not an http(s) URL"),
    ({**GOOD, "id": "x" * 65}, "p.jsonl:1:id: longer than 64 characters"),
]


@pytest.mark.parametrize(("record", "expected"), BAD, ids=[e.split(": ")[0] + e[-12:] for _, e in BAD])
def test_bad_line_is_reported_and_nothing_is_written(
    db: Session, tmp_path: Path, record: object, expected: str
) -> None:
    path = jsonl(tmp_path / "p.jsonl", record, {**GOOD, "id": "ok"})
    problems = problems_of(db, path)
    assert any(p.startswith(f"{tmp_path / expected}") for p in problems), problems


def test_problems_of_several_lines_come_together(db: Session, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "p.jsonl", GOOD, "{oops", "", {**GOOD, "id": "p2", "title": " "}, GOOD)
    assert [p.removeprefix(f"{tmp_path}/") for p in problems_of(db, path)] == [
        "p.jsonl:2: not valid JSON: Expecting property name enclosed in double quotes at column 2",
        "p.jsonl:4:title: missing",
        "p.jsonl:5:id: duplicate id 'p1' (first on line 1)",
    ]


def test_csv_without_a_required_column_is_refused(db: Session, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,title,body\np1,标题,正文\n", encoding="utf-8")
    assert problems_of(db, path) == [f"{path}:1:tags: missing column (header has: id, title, body)"]


def test_cli_imports_policies_and_names_a_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    assert main(["policy", "import", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.startswith(f"imported {EXAMPLE}: ")
    assert main(["policy", "import", str(tmp_path / "nope.jsonl")]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [f"gridbot: {tmp_path / 'nope.jsonl'}: no such file or folder"]
    assert "Traceback" not in captured.err


def test_another_module_can_add_an_action_to_the_policy_group() -> None:
    import argparse

    from gridbot import cli_data

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli_data.command_group(sub, "policy").add_parser("search").add_argument("query")
    cli_data.register(sub)
    assert parser.parse_args(["policy", "search", "房租"]).query == "房租"
    assert parser.parse_args(["policy", "import", "p.jsonl"]).func is cli_data.cmd_policy_import
