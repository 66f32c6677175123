"""Build examples/org.xlsx from the CSV files in examples/org/ (run once after editing them).

The workbook holds the same data typed the way Excel users leave it: mobile phones as numbers, shift times as
time cells, validity dates as date cells, and the grid boundaries as a ``boundaries`` sheet with GeoJSON text.
"""

from __future__ import annotations

import csv
import json
from datetime import date, time
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "org"
TARGET = HERE / "org.xlsx"


def excel_value(column: str, text: str) -> object:
    """The cell value an Excel user would end up with for ``text`` in ``column``."""
    if not text:
        return None
    if column == "phone" and text.isdigit():
        return int(text)
    if column in ("start", "end"):
        return time.fromisoformat(text)
    if column in ("valid_from", "valid_to"):
        return date.fromisoformat(text)
    return text


def main() -> None:
    """Write org.xlsx next to this script."""
    book = Workbook()
    book.remove(book.worksheets[0])
    for name in ("regions", "staff", "duty", "places"):
        with (SOURCE / f"{name}.csv").open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        sheet = book.create_sheet(name)
        sheet.append(rows[0])
        for row in rows[1:]:
            sheet.append([excel_value(col, text) for col, text in zip(rows[0], row)])
        for cell in sheet[1]:
            if cell.value in ("start", "end"):
                for (value_cell,) in sheet.iter_rows(min_row=2, min_col=cell.column, max_col=cell.column):
                    value_cell.number_format = "hh:mm"
        sheet.freeze_panes = "A2"
    features = json.loads((SOURCE / "boundaries.geojson").read_text(encoding="utf-8"))["features"]
    sheet = book.create_sheet("boundaries")
    sheet.append(["region_code", "geometry"])
    for feature in features:
        sheet.append([feature["properties"]["region_code"], json.dumps(feature["geometry"])])
    book.save(TARGET)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
