"""Reading .xlsx sheets, CSV and JSONL files into rows that remember their file, sheet and line."""

from __future__ import annotations

import csv
import difflib
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from core.errors import ImportValidationError, OperatorError

_LIST_SEPARATORS = re.compile(r"[,，、;；|]")
_MOBILE = re.compile(r"1\d{10}")
_LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(-\d{1,6})?")
_YES = {"1", "true", "yes", "y", "是", "在职"}
_NO = {"0", "false", "no", "n", "否", "离职"}


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: ``line`` is the spreadsheet row number (the header row is 1)."""

    source: str
    line: int
    values: Mapping[str, Any]
    unit: str = ""  # "feature " for GeoJSON features, whose position is not a line

    def raw(self, column: str) -> Any:
        """The cell as read (str, int, float, date, time, list …), None when empty or absent."""
        value = self.values.get(column)
        return None if isinstance(value, str) and not value.strip() else value

    def text(self, column: str) -> str:
        """The cell as trimmed text; numbers lose a spurious ``.0`` (codes and phones typed as numbers)."""
        return cell_text(self.values.get(column))

    def where(self, column: str) -> str:
        """``source:line:column`` for a problem message."""
        return f"{self.source}:{self.unit}{self.line}:{column}"


@dataclass(slots=True)
class Table:
    """The rows of one sheet or file, with its normalised header names."""

    source: str
    columns: tuple[str, ...] = ()
    rows: list[Row] = field(default_factory=list)
    readable: bool = True  # False once reading failed (that problem is already reported)

    def require(self, required: Iterable[str], problems: list[str]) -> bool:
        """Report each required column that the header lacks; True when all are there."""
        if not self.readable:
            return False
        if not self.columns:
            problems.append(f"{self.source}: empty, expected a header row")
            return False
        missing = [c for c in required if c not in self.columns]
        for column in missing:
            problems.append(f"{self.source}:1:{column}: missing column (header has: {', '.join(self.columns)})")
        return not missing


def cell_text(value: Any) -> str:
    """Normalise a cell to trimmed text: 13912345678.0 → '13912345678', time → 'HH:MM', date → ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, time):
        return value.strftime("%H:%M") if not value.second else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def cell_date(value: Any) -> date | None:
    """A date from an ISO text or an xlsx date cell; None when empty; ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date {text!r} (use YYYY-MM-DD)") from None


def cell_phone(value: Any) -> str:
    """A mobile (11 digits starting with 1, stored bare) or a landline with its area code; ValueError otherwise."""
    text = re.sub(r"[\s()（）]", "", cell_text(value)).removeprefix("+86")
    if _MOBILE.fullmatch(text.replace("-", "")):
        return text.replace("-", "")
    if _LANDLINE.fullmatch(text):
        return text
    raise ValueError(f"bad phone {cell_text(value)!r} (a mobile is 11 digits starting with 1; "
                     "a landline looks like 0571-87654321)")


def cell_flag(value: Any) -> bool:
    """yes/no, true/false, 1/0, 是/否; ValueError otherwise."""
    text = cell_text(value).lower()
    if text in _YES | _NO:
        return text in _YES
    raise ValueError(f"{cell_text(value)!r} is not yes/no")


def cell_weekdays(value: Any) -> str:
    """A weekday set in the canonical text of core.roster ('1-5', '6-7'); ValueError otherwise."""
    from core.roster import format_weekdays, parse_weekdays

    if isinstance(value, date):  # Excel reads a typed 1-5 as 5 January
        raise ValueError(  # noqa: TRY004 — parse errors are ValueErrors: parsed() reports them at the cell
            "Excel turned this into a date; format the column as text and type e.g. 1-5 again"
        )
    return format_weekdays(parse_weekdays(cell_text(value)))


def split_list(value: Any) -> list[str]:
    """Split on , ， 、 ; ； or |; trim, drop empties and repeats, keep the order."""
    items = value if isinstance(value, list) else _LIST_SEPARATORS.split(cell_text(value))
    seen: dict[str, None] = {}
    for item in items:
        text = cell_text(item)
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _header(cells: Iterable[Any]) -> list[str]:
    return [cell_text(c).lower() for c in cells]


def _table_from(source: str, lines: Iterable[tuple[int, list[Any]]], problems: list[str]) -> Table:
    """Build a table: the first non-blank row is the header, blank rows are skipped."""
    table = Table(source)
    header: list[str] | None = None
    for number, cells in lines:
        if all(cell_text(c) == "" for c in cells):
            continue
        if header is None:
            header = _header(cells)
            duplicated = sorted({h for h in header if h and header.count(h) > 1})
            for name in duplicated:
                problems.append(f"{source}:{number}:{name}: column appears more than once")
            table.columns = tuple(h for h in header if h)
            continue
        values = {h: c for h, c in zip(header, cells) if h}
        table.rows.append(Row(source, number, values))
    return table


def read_csv(path: Path, problems: list[str], source: str | None = None) -> Table:
    """Read a UTF-8 CSV (BOM or not); line numbers count records, header = 1, as a spreadsheet shows them."""
    source = source or str(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            records = list(enumerate(csv.reader(handle), start=1))
    except UnicodeDecodeError:
        problems.append(f"{source}: not UTF-8 text (in Excel choose 'CSV UTF-8'; GBK files are not accepted)")
        return Table(source, readable=False)
    except csv.Error as exc:
        problems.append(f"{source}: not a readable CSV file: {exc}")
        return Table(source, readable=False)
    return _table_from(source, ((n, list(r)) for n, r in records), problems)


def read_xlsx(path: Path, problems: list[str], source: str | None = None) -> dict[str, Table]:
    """Read every sheet of a workbook, keyed by its trimmed lower-case name; sources look like ``f.xlsx/sheet``."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    source = source or str(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ImportValidationError([f"{source}: not a readable .xlsx workbook ({exc})"]) from None
    try:
        tables: dict[str, Table] = {}
        for sheet in book.worksheets:
            name = sheet.title.strip().lower()
            rows = ((n, list(r)) for n, r in enumerate(sheet.iter_rows(values_only=True), start=1))
            tables[name] = _table_from(f"{source}/{name}", rows, problems)
        return tables
    finally:
        book.close()


def read_jsonl(path: Path, problems: list[str], source: str | None = None) -> Table:
    """Read one JSON object per line; blank lines are skipped, a bad line is a problem naming its line."""
    source = source or str(path)
    table = Table(source)
    columns: dict[str, None] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        problems.append(f"{source}: not UTF-8 text")
        table.readable = False
        return table
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{source}:{number}: not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(record, dict):
            problems.append(f"{source}:{number}: expected a JSON object, got {type(record).__name__}")
            continue
        values = {str(k).strip().lower(): v for k, v in record.items()}
        columns.update(dict.fromkeys(values))
        table.rows.append(Row(source, number, values))
    table.columns = tuple(columns)
    return table


def read_table(path: Path, problems: list[str]) -> Table:
    """One table from a .jsonl, .csv or .xlsx file (its first sheet)."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return read_jsonl(path, problems)
    if suffix == ".csv":
        return read_csv(path, problems)
    if suffix in {".xlsx", ".xlsm"}:
        tables = read_xlsx(path, problems)
        return next(iter(tables.values())) if tables else Table(str(path))
    raise OperatorError(f"{path}: unsupported file type {suffix or '(none)'!r} (use .jsonl, .csv or .xlsx)")


def require_exists(path: Path) -> None:
    """Raise an OperatorError naming ``path`` when there is nothing there."""
    if not path.exists():
        raise OperatorError(f"{path}: no such file or folder")


def required_text(row: Row, column: str, problems: list[str], limit: int = 64) -> str:
    """The cell's text; a problem when it is empty or longer than ``limit``."""
    text = row.text(column)
    if not text:
        problems.append(f"{row.where(column)}: missing")
    elif len(text) > limit:
        problems.append(f"{row.where(column)}: longer than {limit} characters")
    return text


def choice(row: Row, column: str, allowed: tuple[str, ...], aliases: Mapping[str, str], problems: list[str]) -> str:
    """The cell as one of ``allowed`` (case-insensitive; ``aliases`` map e.g. Chinese names); '' when bad."""
    text = row.text(column)
    value = aliases.get(text, text.lower())
    if not text:
        problems.append(f"{row.where(column)}: missing")
    elif value not in allowed:
        close = difflib.get_close_matches(value, allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        problems.append(f"{row.where(column)}: unknown {column} {text!r} ({hint}one of {', '.join(allowed)})")
        return ""
    return value


def cell_time(value: Any) -> time:
    """A time from 'HH:MM' text, an xlsx time cell, or a fraction of a day; ValueError otherwise."""
    from core.roster import parse_hhmm

    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1:
        minutes = round(value * 24 * 60)
        return time(minutes // 60 % 24, minutes % 60)
    return parse_hhmm(cell_text(value))


def read_geojson(path: Path, problems: list[str], source: str | None = None) -> list[Row]:
    """The features of a GeoJSON file as rows (``region_code``, ``geometry``) numbered ``feature 1, 2 …``."""
    source = source or str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        problems.append(f"{source}: not UTF-8 text")
        return []
    except json.JSONDecodeError as exc:
        problems.append(f"{source}:{exc.lineno}: not valid JSON: {exc.msg} at column {exc.colno}")
        return []
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = {"type": "FeatureCollection", "features": [data]}
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(
        data.get("features"), list
    ):
        problems.append(f"{source}: expected a GeoJSON FeatureCollection")
        return []
    rows = []
    for number, feature in enumerate(data["features"], start=1):
        feature = feature if isinstance(feature, dict) else {}
        props = feature.get("properties")
        props = props if isinstance(props, dict) else {}
        values = {"region_code": props.get("region_code"), "geometry": feature.get("geometry")}
        rows.append(Row(source, number, values, unit="feature "))
    return rows


def parsed(row: Row, column: str, parse: Callable[[Any], Any], problems: list[str], *, required: bool = True) -> Any:
    """``parse(cell)``; a ValueError becomes a problem at the cell; an empty optional cell is None."""
    value = row.raw(column)
    if value is None:
        if required:
            problems.append(f"{row.where(column)}: missing")
        return None
    try:
        return parse(value)
    except ValueError as exc:
        problems.append(f"{row.where(column)}: {exc}")
        return None


def cell_geometry(value: Any) -> dict[str, Any]:
    """A GeoJSON Polygon/MultiPolygon (dict, Feature, or JSON text) checked with shapely; ValueError otherwise."""
    from shapely.errors import ShapelyError
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    try:
        value = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg}") from None
    value = value.get("geometry") if isinstance(value, dict) and value.get("type") == "Feature" else value
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        kind = value.get("type") if isinstance(value, dict) else type(value).__name__
        raise ValueError(f"a {kind!r} is not a Polygon or MultiPolygon")
    try:
        geom = shape(value)
    except (ShapelyError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise ValueError(f"invalid geometry: {exc}") from None
    if geom.is_empty:
        raise ValueError("empty geometry")
    if not geom.is_valid:
        raise ValueError(f"invalid geometry: {explain_validity(geom)}")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        raise ValueError("coordinates out of range (GeoJSON is longitude first, then latitude)")
    return {"type": value["type"], "coordinates": value["coordinates"]}


def write_workbook(path: Path, sheets: Mapping[str, list[list[Any]]]) -> None:
    """Save one sheet per table (first row the header, frozen); creates the folder."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.worksheets[0])
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
        sheet.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def write_csv(path: Path, rows: list[list[Any]]) -> None:
    """Save rows as UTF-8 CSV with a BOM: Excel shows the Chinese text correctly only with it."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
