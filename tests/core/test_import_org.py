"""Org workbook import/export: examples, idempotent upserts, every class of bad row, round trips and the CLI."""

from __future__ import annotations

import json
import shutil
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.errors import ImportValidationError
from core.importing.org import export_org, import_org
from core.importing.tabular import write_workbook
from core.models import DutyShift, GridBoundary, Place, Region, Staff
from gridbot.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_COUNTS = {"regions": 8, "staff": 14, "duty": 16, "places": 14, "boundaries": 4}
EMPTY = dict.fromkeys(EXAMPLE_COUNTS, 0)
MODELS = {"regions": Region, "staff": Staff, "duty": DutyShift, "places": Place, "boundaries": GridBoundary}


def counts(db: Session) -> dict[str, int]:
    return {kind: db.scalar(select(func.count()).select_from(model)) or 0 for kind, model in MODELS.items()}


def snapshot(db: Session) -> dict[str, list[Any]]:
    """Everything imported, by natural keys (ids differ between databases)."""
    code = {r.id: r.code for r in db.scalars(select(Region))}
    staff = {s.id: s.staff_code for s in db.scalars(select(Staff))}
    return {
        "regions": sorted((r.code, r.name, r.level, code.get(r.parent_id or 0)) for r in db.scalars(select(Region))),
        "staff": sorted((s.staff_code, s.name, s.phone, s.role, code[s.region_id], s.active)
                        for s in db.scalars(select(Staff))),
        "duty": sorted(((staff[d.staff_id], code[d.region_id], d.weekdays, d.start, d.end, d.valid_from, d.valid_to)
                        for d in db.scalars(select(DutyShift))), key=repr),
        "places": sorted((p.name, tuple(p.aliases), code[p.region_id]) for p in db.scalars(select(Place))),
        "boundaries": sorted((code[b.region_id], json.dumps(b.geometry, sort_keys=True))
                             for b in db.scalars(select(GridBoundary))),
    }


def wipe(db: Session) -> None:
    """Delete every org row, children first, so the next import starts from an empty database."""
    for model in (DutyShift, Place, GridBoundary, Staff):
        db.execute(delete(model))
    for level in ("grid", "community", "street", "city"):
        db.execute(delete(Region).where(Region.level == level))
    db.expunge_all()


@pytest.fixture
def org_dir(tmp_path: Path) -> Path:
    """A private copy of examples/org to break on purpose."""
    return Path(shutil.copytree(EXAMPLES / "org", tmp_path / "org"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems_of(db: Session, path: Path) -> list[str]:
    with pytest.raises(ImportValidationError) as info:
        import_org(db, path)
    assert counts(db) == EMPTY
    return info.value.problems


def test_example_workbook_imports_the_demo_city(db: Session) -> None:
    summary = import_org(db, EXAMPLES / "org.xlsx")
    assert counts(db) == EXAMPLE_COUNTS
    assert summary.counts["regions"].new == 8
    assert summary.line().startswith("imported ")
    assert "8 regions (8 new, 0 updated), 14 staff (14 new, 0 updated)" in summary.line()
    staff = {s.staff_code: s for s in db.scalars(select(Staff))}
    assert staff["W01"].phone == "13900000001"  # a number cell in the workbook
    assert staff["CD01"].phone == "0571-80000000"
    assert staff["H01"].role == "helper" and staff["H01"].region.code == "CM01"
    night = db.scalars(select(DutyShift).where(DutyShift.staff_id == staff["SA02"].id)).one()
    assert (night.weekdays, night.start, night.end) == ("1-7", time(20, 0), time(8, 0))
    winter = db.scalars(select(DutyShift).where(DutyShift.weekdays == "6")).one()
    assert (winter.valid_from, winter.valid_to) == (date(2026, 12, 1), date(2027, 2, 28))
    place = db.scalars(select(Place).where(Place.name == "幸福小区")).one()
    assert place.aliases == ["幸福里", "幸福花园小区"]
    assert db.scalars(select(Region).where(Region.code == "G01")).one().parent.code == "CM01"  # type: ignore[union-attr]


def test_example_folder_holds_the_same_data_as_the_workbook(db: Session) -> None:
    import_org(db, EXAMPLES / "org.xlsx")
    summary = import_org(db, EXAMPLES / "org")
    assert all((c.new, c.updated, c.removed) == (0, 0, 0) for c in summary.counts.values())
    assert counts(db) == EXAMPLE_COUNTS


def test_reimport_changes_nothing(db: Session) -> None:
    import_org(db, EXAMPLES / "org")
    before = snapshot(db)
    ids = sorted(db.scalars(select(DutyShift.id)))
    summary = import_org(db, EXAMPLES / "org")
    assert snapshot(db) == before
    assert sorted(db.scalars(select(DutyShift.id))) == ids
    assert summary.counts["staff"].unchanged == 14


def test_reimport_applies_a_changed_name_without_duplicating(db: Session, org_dir: Path) -> None:
    import_org(db, org_dir)
    edit(org_dir / "staff.csv", "W01,李明,", "W01,李明明,")
    edit(org_dir / "regions.csv", "G01,幸福社区第一网格", "G01,幸福一网格")
    summary = import_org(db, org_dir)
    assert (summary.counts["staff"].updated, summary.counts["regions"].updated) == (1, 1)
    assert counts(db) == EXAMPLE_COUNTS
    assert db.scalars(select(Staff.name).where(Staff.staff_code == "W01")).one() == "李明明"


def test_duty_is_replaced_only_for_staff_listed_in_the_file(db: Session, org_dir: Path) -> None:
    import_org(db, org_dir)
    (org_dir / "duty.csv").write_text("region_code,staff_id,weekdays,start,end\nG01,W01,1-3,07:00,15:00\n",
                                      encoding="utf-8")
    summary = import_org(db, org_dir)
    assert (summary.counts["duty shifts"].new, summary.counts["duty shifts"].removed) == (1, 1)
    assert counts(db)["duty"] == 16
    w01 = db.scalars(select(Staff).where(Staff.staff_code == "W01")).one()
    mine = db.scalars(select(DutyShift).where(DutyShift.staff_id == w01.id)).all()
    assert [(s.weekdays, s.start, s.end) for s in mine] == [("1-3", time(7, 0), time(15, 0))]


def test_staff_absent_from_the_file_are_kept_active(db: Session, org_dir: Path) -> None:
    import_org(db, org_dir)
    (org_dir / "staff.csv").write_text("staff_id,name,phone,role,region_code,active\nW01,李明,,grid_worker,G01,no\n",
                                       encoding="utf-8")
    import_org(db, org_dir)
    active = dict(db.execute(select(Staff.staff_code, Staff.active)).tuples().all())
    assert len(active) == 14
    assert active["W01"] is False and active["W02"] is True


BAD_ROWS = [
    ("regions.csv", "G04,和平社区第二网格,grid,CM02", "G04,和平社区第二网格,town,CM02",
     "regions.csv:9:level: unknown level 'town'"),
    ("regions.csv", "G04,和平社区第二网格,grid,CM02", "G04,和平社区第二网格,grid,S01",
     "regions.csv:9:parent_code: parent 'S01' is a street; a grid sits under a community"),
    ("regions.csv", "G04,和平社区第二网格,grid,CM02", "G04,和平社区第二网格,grid,CM09",
     "regions.csv:9:parent_code: unknown region 'CM09'"),
    ("regions.csv", "G04,和平社区第二网格,grid,CM02", "G04,和平社区第二网格,grid,",
     "regions.csv:9:parent_code: missing (a grid sits under a community)"),
    ("regions.csv", "CM02,和平社区,community,S01", "CM02,和平社区,community,CM02",
     "regions.csv:5:parent_code: region 'CM02' cannot be its own parent"),
    ("regions.csv", "C01,滨海市,city,", "C01,滨海市,city,S01", "regions.csv:2:parent_code: a city has no parent"),
    ("regions.csv", "G04,和平社区第二网格", "G01,和平社区第二网格",
     "regions.csv:9:code: duplicate code 'G01' (first on line 6)"),
    ("regions.csv", "G04,和平社区第二网格,", "G04,,", "regions.csv:9:name: missing"),
    ("staff.csv", "W01,李明,13900000001,grid_worker", "W01,李明,13900000001,gridworker",
     "staff.csv:2:role: unknown role 'gridworker' (did you mean grid_worker? one of grid_worker, helper,"),
    ("staff.csv", "grid_worker,G01,yes", "grid_worker,G09,yes", "staff.csv:2:region_code: unknown region 'G09'"),
    ("staff.csv", "grid_worker,G01,yes", "grid_worker,CM01,yes",
     "staff.csv:2:region_code: region 'CM01' is a community; a grid_worker belongs to a grid"),
    ("staff.csv", "13900000001", "1390000001", "staff.csv:2:phone: bad phone '1390000001'"),
    ("staff.csv", "W02,王芳", "W01,王芳", "staff.csv:3:staff_id: duplicate staff_id 'W01' (first on line 2)"),
    ("staff.csv", "W01,李明,", "W01,,", "staff.csv:2:name: missing"),
    ("staff.csv", "grid_worker,G01,yes", "grid_worker,G01,maybe", "staff.csv:2:active: 'maybe' is not yes/no"),
    ("duty.csv", "G01,W01,1-5", "G01,W01,1-8", "duty.csv:2:weekdays: bad weekdays '1-8'"),
    ("duty.csv", "G01,W01,1-5,08:30", "G01,W01,1-5,25:00", "duty.csv:2:start: bad time '25:00'"),
    ("duty.csv", "G01,W01,1-5,08:30,17:30", "G01,W01,1-5,08:30,", "duty.csv:2:end: missing"),
    ("duty.csv", "G01,W01", "G01,W99", "duty.csv:2:staff_id: unknown staff 'W99'"),
    ("duty.csv", "G01,W01", "G09,W01", "duty.csv:2:region_code: unknown region 'G09'"),
    ("duty.csv", "2026-12-01,2027-02-28", "2027-12-01,2027-02-28",
     "duty.csv:4:valid_to: 2027-02-28 is before valid_from 2027-12-01"),
    ("duty.csv", "2026-12-01", "2026-12-41", "duty.csv:4:valid_from: not a date '2026-12-41'"),
    ("places.csv", "幸福路,幸福大道,G01", "幸福路,幸福大道,G09", "places.csv:3:region_code: unknown region 'G09'"),
    ("places.csv", "幸福路,幸福大道,G01", "幸福路,幸福大道,S01",
     "places.csv:3:region_code: region 'S01' is a street; a place belongs to a grid or community"),
    ("places.csv", "幸福路,幸福大道,G01", "幸福小区,,G01",
     "places.csv:3:name: duplicate place '幸福小区' in 'G01' (first on line 2)"),
    ("staff.csv", "staff_id,name,phone,role", "staff_id,name,phone,position",
     "staff.csv:1:role: missing column (header has: staff_id, name, phone, position, region_code, active)"),
    ("boundaries.geojson", '"region_code": "G04"', '"region_code": "G09"',
     "boundaries.geojson:feature 4:region_code: unknown region 'G09'"),
    ("boundaries.geojson", '"region_code": "G04"', '"region_code": "CM02"',
     "boundaries.geojson:feature 4:region_code: region 'CM02' is a community; a boundary belongs to a grid"),
    ("boundaries.geojson", "[[[120.15, 30.27], [120.155, 30.27], [120.155, 30.275], [120.15, 30.275]",
     "[[[120.15, 30.27], [120.155, 30.275], [120.155, 30.27], [120.15, 30.275]",
     "boundaries.geojson:feature 1:geometry: invalid geometry: Self-intersection"),
    ("boundaries.geojson", '"type": "Polygon", "coordinates": [[[120.15, 30.27]',
     '"type": "LineString", "coordinates": [[[120.15, 30.27]',
     "boundaries.geojson:feature 1:geometry: a 'LineString' is not a Polygon or MultiPolygon"),
    ("boundaries.geojson", "[[[120.15, 30.27], [120.155, 30.27], [120.155, 30.275], [120.15, 30.275], [120.15, 30.27]]]",
     "[[[30.27, 120.15], [30.27, 120.155], [30.275, 120.155], [30.275, 120.15], [30.27, 120.15]]]",
     "boundaries.geojson:feature 1:geometry: coordinates out of range (GeoJSON is longitude first"),
    ("boundaries.geojson", "[[[120.15, 30.27], [120.155, 30.27], [120.155, 30.275], [120.15, 30.275], [120.15, 30.27]]]",
     "[[[120.15, 30.27], [120.155, 30.27]]]", "boundaries.geojson:feature 1:geometry: invalid geometry: "),
    ("boundaries.geojson", '{"type": "FeatureCollection", "features": [', '{"type": "FeatureCollection", "features": [,',
     "boundaries.geojson:1: not valid JSON: Expecting value"),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), BAD_ROWS, ids=[c[3].split(": ")[0] for c in BAD_ROWS])
def test_bad_row_is_reported_at_its_cell_and_nothing_is_written(
    db: Session, org_dir: Path, name: str, old: str, new: str, expected: str
) -> None:
    edit(org_dir / name, old, new)
    problems = problems_of(db, org_dir)
    assert any(p.startswith(f"{org_dir / expected}") for p in problems), problems


def test_every_problem_is_reported_together(db: Session, org_dir: Path) -> None:
    edit(org_dir / "regions.csv", "G04,和平社区第二网格,grid", "G04,和平社区第二网格,grids")
    edit(org_dir / "staff.csv", "13900000002", "12345")
    edit(org_dir / "duty.csv", "G03,W03,1-5,08:30", "G03,W03,8,08:30")
    edit(org_dir / "places.csv", "文化路,文化街,G04", "文化路,文化街,G44")
    problems = problems_of(db, org_dir)
    assert [p.split(": ")[0].removeprefix(f"{org_dir}/") for p in problems] == [
        "regions.csv:9:level", "staff.csv:3:phone", "duty.csv:5:weekdays", "places.csv:12:region_code",
    ]


def test_existing_region_cannot_change_level(db: Session, org_dir: Path) -> None:
    import_org(db, org_dir)
    edit(org_dir / "regions.csv", "CM02,和平社区,community,S01", "CM02,和平社区,street,C01")
    with pytest.raises(ImportValidationError) as info:
        import_org(db, org_dir)
    assert f"{org_dir}/regions.csv:5:level: region 'CM02' is a community already" in info.value.problems[0]


def workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """An operator's workbook, written the way the export writes one."""
    write_workbook(path, sheets)
    return path


REGIONS = [["Code ", " NAME", "level", "parent_code"], [1, "滨海市", "市", None], [11, "东湖街道", "street", 1],
           [111, "幸福社区", "community", 11.0], [1111, "第一网格", "grid", 111]]


def test_xlsx_numbers_times_and_chinese_levels_are_normalised(db: Session, tmp_path: Path) -> None:
    path = workbook(tmp_path / "org.xlsx", {
        "Regions": REGIONS,
        "staff": [["staff_id", "name", "phone", "role", "region_code"], [7, "李明", 13900000001, "网格员", 1111],
                  [8, "王芳", 13900000002.0, "grid_worker", 1111]],
        "duty": [["region_code", "staff_id", "weekdays", "start", "end"], [1111, 7, "1-5", time(8, 30), 0.75],
                 [1111, 8, 6, "8:00", "24:00"]],
        "places": [["name", "aliases", "region_code"], ["幸福小区", "幸福里，幸福花园; 幸福里|老幸福", 1111]],
    })
    import_org(db, path)
    staff = {s.staff_code: s for s in db.scalars(select(Staff))}
    assert (staff["7"].phone, staff["7"].role, staff["8"].phone) == ("13900000001", "grid_worker", "13900000002")
    assert staff["7"].region.code == "1111" and staff["7"].region.parent.code == "111"  # type: ignore[union-attr]
    shifts = sorted((s.weekdays, s.start, s.end) for s in db.scalars(select(DutyShift)))
    assert shifts == [("1-5", time(8, 30), time(18, 0)), ("6", time(8, 0), time(0, 0))]
    assert db.scalars(select(Place.aliases)).one() == ["幸福里", "幸福花园", "老幸福"]


def test_xlsx_problems_name_the_sheet(db: Session, tmp_path: Path) -> None:
    path = workbook(tmp_path / "org.xlsx", {
        "regions": REGIONS,
        "staff": [["staff_id", "name", "phone", "role", "region_code"], [7, "李明", 13900000001, "gridworker", 1111]],
        "duty": [["region_code", "staff_id", "weekdays", "start", "end"], [1111, 7, date(2026, 1, 5), "8:00", "9:00"]],
    })
    problems = problems_of(db, path)
    assert problems[0].startswith(f"{path}/staff:2:role: unknown role 'gridworker'")
    assert problems[1].startswith(f"{path}/duty:2:weekdays: Excel turned this into a date")


def test_csv_with_bom_and_messy_headers_imports(db: Session, tmp_path: Path) -> None:
    folder = tmp_path / "bom"
    folder.mkdir()
    (folder / "regions.csv").write_text(" CODE ,Name,LEVEL,Parent_Code\r\nC01,滨海市,city,\r\n", encoding="utf-8-sig")
    summary = import_org(db, folder)
    assert summary.line() == f"imported {folder}: 1 regions (1 new, 0 updated)"
    assert db.scalars(select(Region.name)).one() == "滨海市"


def test_csv_not_in_utf8_is_refused(db: Session, tmp_path: Path) -> None:
    folder = tmp_path / "gbk"
    folder.mkdir()
    (folder / "regions.csv").write_bytes("code,name,level,parent_code\nC01,滨海市,city,\n".encode("gbk"))
    expected = f"{folder}/regions.csv: not UTF-8 text (in Excel choose 'CSV UTF-8'; GBK files are not accepted)"
    assert problems_of(db, folder) == [expected]


@pytest.mark.parametrize("target", ["out.xlsx", "out"])
def test_export_then_import_into_an_empty_database_gives_the_same_data(
    db: Session, tmp_path: Path, target: str
) -> None:
    import_org(db, EXAMPLES / "org.xlsx")
    before = snapshot(db)
    exported = export_org(db, tmp_path / target)
    assert exported == EXAMPLE_COUNTS
    wipe(db)
    assert counts(db) == EMPTY
    import_org(db, tmp_path / target)
    assert snapshot(db) == before


def test_export_writes_the_boundaries_sidecar_next_to_the_workbook(db: Session, tmp_path: Path) -> None:
    import_org(db, EXAMPLES / "org")
    export_org(db, tmp_path / "city.xlsx")
    features = json.loads((tmp_path / "city.boundaries.geojson").read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["region_code"] for f in features] == ["G01", "G02", "G03", "G04"]


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the CLI at a fresh embedded database."""
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    return tmp_path


def test_cli_import_of_a_missing_file_names_it_in_one_line(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "import", str(cli_db / "missing.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"gridbot: {cli_db / 'missing.xlsx'}: no such file or folder"]


def test_cli_imports_and_exports_the_example(cli_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["org", "import", str(EXAMPLES / "org.xlsx")]) == 0
    assert "8 regions (8 new, 0 updated), 14 staff (14 new, 0 updated)" in capsys.readouterr().out
    assert main(["org", "export", str(cli_db / "out")]) == 0
    assert capsys.readouterr().out.strip() == (
        f"exported {cli_db / 'out'}: 8 regions, 14 staff, 16 duty, 14 places, 4 boundaries")
    assert (cli_db / "out" / "staff.csv").read_text(encoding="utf-8-sig").startswith("staff_id,name,phone,role")


def test_cli_reports_bad_rows_without_a_traceback(
    cli_db: Path, org_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(org_dir / "staff.csv", "grid_worker,G01", "gridworker,G01")
    assert main(["org", "import", str(org_dir)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{org_dir}/staff.csv:2:role: unknown role 'gridworker'" in err


def test_boundaries_in_both_a_sheet_and_a_sidecar_are_refused(db: Session, tmp_path: Path) -> None:
    workbook = Path(shutil.copy(EXAMPLES / "org.xlsx", tmp_path / "org.xlsx"))
    shutil.copy(EXAMPLES / "org" / "boundaries.geojson", tmp_path / "org.boundaries.geojson")
    assert problems_of(db, workbook) == [
        f"{tmp_path}/org.boundaries.geojson: boundaries are also in {workbook}/boundaries; keep only one of them"]
