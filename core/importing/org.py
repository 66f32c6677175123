"""Import and export of the org workbook: regions, staff, duty rosters, places and grid boundaries."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ImportValidationError, OperatorError
from core.importing import ImportSummary
from core.importing.tabular import (
    Row,
    Table,
    cell_date,
    cell_flag,
    cell_geometry,
    cell_phone,
    cell_time,
    cell_weekdays,
    choice,
    parsed,
    read_csv,
    read_geojson,
    read_xlsx,
    require_exists,
    required_text,
    split_list,
    write_csv,
    write_workbook,
)
from core.models import DutyShift, GridBoundary, Place, Region, Staff

LEVELS = ("city", "street", "community", "grid")
ROLES = ("grid_worker", "helper", "community_admin", "street_admin", "city_admin", "department")
LEVEL_ALIASES = {"市": "city", "街道": "street", "乡镇": "street", "社区": "community", "村": "community", "网格": "grid"}
ROLE_ALIASES = {"网格员": "grid_worker", "帮办员": "helper", "社区管理员": "community_admin",
                "街道管理员": "street_admin", "市管理员": "city_admin", "部门": "department"}
# Where each role may sit; a department (城管, 供电 …) may be attached at any level.
ROLE_LEVELS: dict[str, tuple[str, ...]] = {
    "grid_worker": ("grid",), "helper": ("grid", "community"), "community_admin": ("community",),
    "street_admin": ("street",), "city_admin": ("city",), "department": LEVELS,
}
COLUMNS = {
    "regions": ("code", "name", "level", "parent_code"),
    "staff": ("staff_id", "name", "phone", "role", "region_code", "active"),
    "duty": ("region_code", "staff_id", "weekdays", "start", "end", "valid_from", "valid_to"),
    "places": ("name", "aliases", "region_code"),
    "boundaries": ("region_code", "geometry"),
}
OPTIONAL = {"active", "valid_from", "valid_to"}
BOUNDARIES_FILE = "boundaries.geojson"

Shift = tuple[str, str, time, time, date | None, date | None]  # region code, weekdays, start, end, from, to


@dataclass(slots=True)
class _Org:
    """What a valid file says, keyed by natural keys, plus what validation needs to know."""

    problems: list[str]
    levels: dict[str, str]  # region code → level: the database overlaid with the file
    staff_codes: set[str]
    file_regions: set[str] = field(default_factory=set)
    regions: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # code → name, level, parent
    staff: dict[str, tuple[str, str | None, str, str, bool]] = field(default_factory=dict)
    shifts: dict[str, dict[Shift, int]] = field(default_factory=dict)  # staff code → shift → line
    places: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    boundaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_line: dict[tuple[str, str], int] = field(default_factory=dict)
    kinds: list[str] = field(default_factory=list)

    def duplicate(self, row: Row, column: str, key: str, shown: str) -> bool:
        """Report ``key`` seen before in this sheet; True when it is a repeat."""
        first = self.first_line.setdefault((row.source, key), row.line)
        if first != row.line:
            self.problems.append(f"{row.where(column)}: duplicate {shown} (first on line {first})")
        return first != row.line


def import_org(session: Session, path: Path) -> ImportSummary:
    """Validate the whole workbook or CSV folder, then upsert it; raise ImportValidationError and write nothing."""
    require_exists(path)
    problems: list[str] = []
    tables, boundary_rows = _read(path, problems)
    org = _Org(problems, dict(session.execute(select(Region.code, Region.level)).tuples().all()),
               set(session.scalars(select(Staff.staff_code))))
    checks = {"regions": _check_region, "staff": _check_staff, "duty": _check_shift, "places": _check_place}
    for name, check in checks.items():
        table = tables.get(name)
        if table is not None and table.require([c for c in COLUMNS[name] if c not in OPTIONAL], problems):
            org.kinds.append(name)
            for row in table.rows:
                check(row, org)
            if name == "regions":
                for row in table.rows:
                    _check_parent(row, org)
    if boundary_rows is not None:
        org.kinds.append("boundaries")
        for row in boundary_rows:
            _check_boundary(row, org)
    if problems:
        raise ImportValidationError(problems)
    return _write(session, org, ImportSummary(str(path)))


def _read(path: Path, problems: list[str]) -> tuple[dict[str, Table], list[Row] | None]:
    """The sheets (or CSV files) found, and the boundary features if any source of them exists."""
    boundary_rows: list[Row] | None = None
    if path.is_dir():
        tables = {n: read_csv(path / f"{n}.csv", problems) for n in COLUMNS if (path / f"{n}.csv").exists()}
        sidecars = [path / BOUNDARIES_FILE]
    elif path.suffix.lower() == ".xlsx":
        tables = read_xlsx(path, problems)
        sidecars = [path.with_name(f"{path.stem}.{BOUNDARIES_FILE}"), path.with_name(BOUNDARIES_FILE)]
    else:
        raise OperatorError(f"{path}: expected an .xlsx workbook or a folder of CSV files")
    if "boundaries" in tables and tables["boundaries"].require(COLUMNS["boundaries"], problems):
        boundary_rows = tables["boundaries"].rows
    sidecar = next((p for p in sidecars if p.is_file()), None)
    if sidecar is not None and "boundaries" in tables:
        problems.append(f"{sidecar}: boundaries are also in {tables['boundaries'].source}; keep only one of them")
    elif sidecar is not None:
        boundary_rows = read_geojson(sidecar, problems)
    if boundary_rows is None and not any(n in tables for n in COLUMNS):
        problems.append(f"{path}: found none of the sheets/files {', '.join(COLUMNS)}")
    return tables, boundary_rows


def _region_ref(row: Row, org: _Org, allowed: tuple[str, ...] = LEVELS, what: str = "") -> str:
    """A ``region_code`` known to the file or the database, of an allowed level."""
    code = required_text(row, "region_code", org.problems)
    level = org.levels.get(code)
    if code and level is None and code not in org.file_regions:
        org.problems.append(f"{row.where('region_code')}: unknown region {code!r}")
    elif level is not None and level not in allowed:
        org.problems.append(f"{row.where('region_code')}: region {code!r} is a {level}; "
                            f"{what} belongs to a {' or '.join(allowed)}")
    return code


def _check_region(row: Row, org: _Org) -> None:
    """Collect one region; its parent is checked once the whole sheet is known."""
    code = required_text(row, "code", org.problems)
    name = required_text(row, "name", org.problems, 128)
    level = choice(row, "level", LEVELS, LEVEL_ALIASES, org.problems)
    if not code or org.duplicate(row, "code", code, f"code {code!r}"):
        return
    org.file_regions.add(code)
    was = org.levels.get(code)
    if level and was and was != level:
        org.problems.append(f"{row.where('level')}: region {code!r} is a {was} already and cannot become a "
                            f"{level} (give the new region a new code)")
    elif level:
        org.levels[code] = level
    org.regions[code] = (name, level, row.text("parent_code"))


def _check_parent(row: Row, org: _Org) -> None:
    """The parent exists and is exactly one level up (so cycles cannot happen); a city has none."""
    code, parent = row.text("code"), row.text("parent_code")
    level = org.levels.get(code) if code in org.regions else None
    if level is None or org.first_line.get((row.source, code)) != row.line:
        return
    where = row.where("parent_code")
    want = LEVELS[LEVELS.index(level) - 1] if level != "city" else None
    if want is None:
        if parent:
            org.problems.append(f"{where}: a city has no parent (remove {parent!r})")
    elif not parent:
        org.problems.append(f"{where}: missing (a {level} sits under a {want})")
    elif parent == code:
        org.problems.append(f"{where}: region {code!r} cannot be its own parent")
    elif parent not in org.levels and parent not in org.file_regions:
        org.problems.append(f"{where}: unknown region {parent!r}")
    elif parent in org.levels and org.levels[parent] != want:
        org.problems.append(f"{where}: parent {parent!r} is a {org.levels[parent]}; a {level} sits under a {want}")


def _check_staff(row: Row, org: _Org) -> None:
    """Collect one staff member: role, region of the right level, phone, active flag."""
    code = required_text(row, "staff_id", org.problems)
    name = required_text(row, "name", org.problems)
    role = choice(row, "role", ROLES, ROLE_ALIASES, org.problems)
    region = _region_ref(row, org, ROLE_LEVELS.get(role, LEVELS), f"a {role}")
    phone = parsed(row, "phone", cell_phone, org.problems, required=False)
    active = parsed(row, "active", cell_flag, org.problems, required=False)
    if code and not org.duplicate(row, "staff_id", code, f"staff_id {code!r}"):
        org.staff_codes.add(code)
        org.staff[code] = (name, phone, role, region, active is not False)


def _check_shift(row: Row, org: _Org) -> None:
    """Collect one duty shift; weekdays and times are read by core.roster."""
    region = _region_ref(row, org)
    staff = required_text(row, "staff_id", org.problems)
    if staff and staff not in org.staff_codes:
        org.problems.append(f"{row.where('staff_id')}: unknown staff {staff!r} (not in the staff sheet or the database)")
    days = parsed(row, "weekdays", cell_weekdays, org.problems)
    start = parsed(row, "start", cell_time, org.problems)
    end = parsed(row, "end", cell_time, org.problems)
    valid_from = parsed(row, "valid_from", cell_date, org.problems, required=False)
    valid_to = parsed(row, "valid_to", cell_date, org.problems, required=False)
    if valid_from and valid_to and valid_to < valid_from:
        org.problems.append(f"{row.where('valid_to')}: {valid_to} is before valid_from {valid_from}")
    if days is None or start is None or end is None or not staff:
        return
    shift: Shift = (region, days, start, end, valid_from, valid_to)
    first = org.shifts.setdefault(staff, {}).setdefault(shift, row.line)
    if first != row.line:
        org.problems.append(f"{row.where('staff_id')}: the same shift as line {first}")


def _check_place(row: Row, org: _Org) -> None:
    """Collect one place of a grid or community; aliases split on , ， 、 ; or |."""
    name = required_text(row, "name", org.problems, 128)
    region = _region_ref(row, org, ("grid", "community"), "a place")
    aliases = [a for a in split_list(row.raw("aliases")) if a != name]
    if name and region and not org.duplicate(row, "name", f"{name}\0{region}", f"place {name!r} in {region!r}"):
        org.places[(name, region)] = aliases


def _check_boundary(row: Row, org: _Org) -> None:
    """Collect one grid boundary: a valid Polygon or MultiPolygon in WGS84 longitude/latitude."""
    code = _region_ref(row, org, ("grid",), "a boundary")
    geometry = parsed(row, "geometry", cell_geometry, org.problems)
    if code and geometry and not org.duplicate(row, "region_code", f"geo\0{code}", f"boundary of {code!r}"):
        org.boundaries[code] = geometry


def _write(session: Session, org: _Org, summary: ImportSummary) -> ImportSummary:
    """Upsert everything by natural key, in dependency order; the caller's unit of work commits."""
    regions = _write_regions(session, org, summary) if "regions" in org.kinds else _by_code(session)
    staff: dict[str, Staff] = {s.staff_code: s for s in session.scalars(select(Staff))}
    if "staff" in org.kinds:
        _write_staff(session, org, regions, staff, summary)
    if "duty" in org.kinds:
        _write_shifts(session, org, regions, staff, summary)
    if "places" in org.kinds:
        counts = summary.kind("places")
        places = {(p.name, p.region_id): p for p in session.scalars(select(Place))}
        for (name, code), aliases in org.places.items():
            place = places.get((name, regions[code].id))
            if place is None:
                session.add(Place(name=name, aliases=aliases, region_id=regions[code].id))
                counts.new += 1
            elif place.aliases != aliases:
                place.aliases = aliases
                counts.updated += 1
            else:
                counts.unchanged += 1
    if "boundaries" in org.kinds:
        counts = summary.kind("boundaries")
        existing = {b.region_id: b for b in session.scalars(select(GridBoundary))}
        for code, geometry in org.boundaries.items():
            boundary = existing.get(regions[code].id)
            if boundary is None:
                session.add(GridBoundary(region_id=regions[code].id, geometry=geometry))
                counts.new += 1
            elif boundary.geometry != geometry:
                boundary.geometry = geometry
                counts.updated += 1
            else:
                counts.unchanged += 1
    session.flush()
    return summary


def _by_code(session: Session) -> dict[str, Region]:
    return {r.code: r for r in session.scalars(select(Region))}


def _write_regions(session: Session, org: _Org, summary: ImportSummary) -> dict[str, Region]:
    """Upsert regions level by level so every parent has an id before its children."""
    counts, regions = summary.kind("regions"), _by_code(session)
    for level in LEVELS:
        for code, (name, lvl, parent_code) in org.regions.items():
            if lvl != level:
                continue
            parent = regions[parent_code] if parent_code else None
            region = regions.get(code)
            if region is None:
                regions[code] = Region(code=code, name=name, level=level, parent=parent)
                session.add(regions[code])
                counts.new += 1
            elif (region.name, region.parent_id) != (name, parent.id if parent else None):
                region.name, region.parent = name, parent
                counts.updated += 1
            else:
                counts.unchanged += 1
        session.flush()
    return regions


def _write_staff(
    session: Session, org: _Org, regions: dict[str, Region], staff: dict[str, Staff], summary: ImportSummary
) -> None:
    """Upsert staff by staff_id; people missing from the file are left as they are."""
    counts = summary.kind("staff")
    for code, (name, phone, role, region_code, active) in org.staff.items():
        region, person = regions[region_code], staff.get(code)
        if person is None:
            staff[code] = Staff(staff_code=code, name=name, phone=phone, role=role, region=region, active=active)
            session.add(staff[code])
            counts.new += 1
        elif (person.name, person.phone, person.role, person.region_id, person.active) != (
            name, phone, role, region.id, active
        ):
            person.name, person.phone, person.role, person.region, person.active = name, phone, role, region, active
            counts.updated += 1
        else:
            counts.unchanged += 1
    session.flush()


def _write_shifts(
    session: Session, org: _Org, regions: dict[str, Region], staff: dict[str, Staff], summary: ImportSummary
) -> None:
    """Make each listed person's shifts exactly the file's: keep identical rows, delete the rest, add new ones."""
    counts = summary.kind("duty shifts")
    ids = [staff[code].id for code in org.shifts]
    current: dict[int, list[DutyShift]] = {i: [] for i in ids}
    for shift in session.scalars(select(DutyShift).where(DutyShift.staff_id.in_(ids)).order_by(DutyShift.id)):
        current[shift.staff_id].append(shift)
    for code, shifts in org.shifts.items():
        person = staff[code]
        wanted = Counter((regions[r].id, d, s, e, f, t) for (r, d, s, e, f, t) in shifts)
        for old in current[person.id]:
            key = (old.region_id, old.weekdays, old.start, old.end, old.valid_from, old.valid_to)
            if wanted[key] > 0:
                wanted[key] -= 1
                counts.unchanged += 1
            else:
                session.delete(old)
                counts.removed += 1
        for (region_id, days, start, end, valid_from, valid_to), n in wanted.items():
            for _ in range(n):
                session.add(DutyShift(region_id=region_id, staff_id=person.id, weekdays=days, start=start,
                                      end=end, valid_from=valid_from, valid_to=valid_to))
                counts.new += 1


def export_org(session: Session, path: Path) -> dict[str, int]:
    """Write the org data as an .xlsx workbook (boundaries in ``<stem>.boundaries.geojson``) or a CSV folder."""
    regions = sorted(session.scalars(select(Region)), key=lambda r: (LEVELS.index(r.level), r.code))
    code_of = {r.id: r.code for r in regions}
    people = list(session.scalars(select(Staff).order_by(Staff.staff_code)))
    staff_of = {s.id: s.staff_code for s in people}
    shifts = sorted(session.scalars(select(DutyShift).order_by(DutyShift.id)), key=lambda d: staff_of[d.staff_id])
    places = sorted(session.scalars(select(Place)), key=lambda p: (code_of[p.region_id], p.name))
    sheets: dict[str, list[list[str]]] = {
        "regions": [[r.code, r.name, r.level, code_of.get(r.parent_id or 0, "")] for r in regions],
        "staff": [[s.staff_code, s.name, s.phone or "", s.role, code_of[s.region_id], "yes" if s.active else "no"]
                  for s in people],
        "duty": [[code_of[d.region_id], staff_of[d.staff_id], d.weekdays, f"{d.start:%H:%M}", f"{d.end:%H:%M}",
                  d.valid_from.isoformat() if d.valid_from else "", d.valid_to.isoformat() if d.valid_to else ""]
                 for d in shifts],
        "places": [[p.name, "、".join(p.aliases), code_of[p.region_id]] for p in places],
    }
    features = [{"type": "Feature", "properties": {"region_code": code_of[b.region_id]}, "geometry": b.geometry}
                for b in sorted(session.scalars(select(GridBoundary)), key=lambda b: code_of[b.region_id])]
    if path.suffix.lower() == ".xlsx":
        write_workbook(path, {name: [list(COLUMNS[name]), *rows] for name, rows in sheets.items()})
        geo_path = path.with_name(f"{path.stem}.{BOUNDARIES_FILE}")
    else:
        if path.exists() and not path.is_dir():
            raise OperatorError(f"{path}: exists and is not a folder (give a folder, or a name ending in .xlsx)")
        path.mkdir(parents=True, exist_ok=True)
        for name, rows in sheets.items():
            write_csv(path / f"{name}.csv", [list(COLUMNS[name]), *rows])
        geo_path = path / BOUNDARIES_FILE
    if features:
        collection = {"type": "FeatureCollection", "features": features}
        geo_path.write_text(json.dumps(collection, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {**{name: len(rows) for name, rows in sheets.items()}, "boundaries": len(features)}
