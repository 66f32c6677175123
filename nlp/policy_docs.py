"""Policy records and the alias file: what the knowledge base is built from, read from JSONL, CSV or XLSX.

A bad record raises ValueError naming the file, the line and the field, so an operator can fix it.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Final

SynonymGroups = tuple[tuple[str, ...], ...]

AUDIENCES: Final = frozenset({"enterprise", "resident", "all"})
_AUDIENCE_NAMES: Final = {
    "企业": "enterprise",
    "居民": "resident",
    "个人": "resident",
    "全部": "all",
    "通用": "all",
}
_SYNONYM_FILE: Final = "policy_synonyms.txt"
_TAG_SPLIT: Final = re.compile(r"[,，、;；]")


@dataclass(frozen=True, slots=True)
class PolicyDoc:
    """One policy: the text people are answered from, who it is for, where and when it applies."""

    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    audience: str = "all"
    region: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    source_url: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> PolicyDoc:
        """Build a policy from a JSONL object or a CSV/XLSX row; raises ValueError naming the bad field."""
        missing = [k for k in ("id", "title", "body") if not _text(record.get(k))]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        audience = _text(record.get("audience")) or "all"
        audience = _AUDIENCE_NAMES.get(audience, audience).lower()
        if audience not in AUDIENCES:
            raise ValueError(f"audience must be one of enterprise, resident, all (got {audience!r})")
        return cls(
            id=_text(record["id"]),
            title=_text(record["title"]),
            body=_text(record["body"]),
            tags=_tags(record.get("tags")),
            audience=audience,
            region=_text(record.get("region")) or None,
            valid_from=_date(record.get("valid_from"), "valid_from"),
            valid_to=_date(record.get("valid_to"), "valid_to"),
            source_url=_text(record.get("source_url")) or None,
        )

    def is_expired(self, today: date) -> bool:
        """True once the policy's last valid day has passed."""
        return self.valid_to is not None and self.valid_to < today


def _text(value: object) -> str:
    """A cell or JSON value as stripped text ('' for None)."""
    return "" if value is None else str(value).strip()


def _tags(value: object) -> tuple[str, ...]:
    """Tags from a JSON list, a JSON-list string, or text split on , ， 、 ; ；."""
    if isinstance(value, str) and value.strip().startswith("["):
        value = json.loads(value)
    items: Iterable[object] = value if isinstance(value, (list, tuple)) else _TAG_SPLIT.split(_text(value))
    return tuple(t for t in (_text(item) for item in items) if t)


def _date(value: object, name: str) -> date | None:
    """An ISO date (or a date/datetime cell) or None; raises ValueError naming the field."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value if type(value) is date else value.date()  # type: ignore[attr-defined]
    try:
        return date.fromisoformat(_text(value)[:10])
    except ValueError:
        raise ValueError(f"{name} must be an ISO date such as 2026-12-31 (got {value!r})") from None


def load_policies(path: str | Path) -> list[PolicyDoc]:
    """Read policies from a .jsonl, .csv or .xlsx file (columns id,title,body,tags + optional fields)."""
    path = Path(path)
    rows: list[Mapping[str, object]]
    if path.suffix.lower() == ".jsonl":
        lines = path.read_text("utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
    elif path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    elif path.suffix.lower() == ".xlsx":
        rows = _xlsx_rows(path)
    else:
        raise ValueError(f"{path.name}: policies must be .jsonl, .csv or .xlsx")
    docs: list[PolicyDoc] = []
    for number, row in enumerate(rows, start=1 if path.suffix.lower() == ".jsonl" else 2):
        try:
            docs.append(PolicyDoc.from_record(row))
        except ValueError as exc:
            raise ValueError(f"{path.name}:{number}: {exc}") from None
    return docs


def _xlsx_rows(path: Path) -> list[Mapping[str, object]]:
    """The first sheet's rows as dicts keyed by the header row."""
    from openpyxl import load_workbook  # only deployers importing workbooks pay for it

    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = [_text(cell) for cell in rows[0]] if rows else []
    return [dict(zip(header, row)) for row in rows[1:] if any(cell is not None for cell in row)]


def load_synonyms(path: str | Path | None = None, *, include_packaged: bool = True) -> SynonymGroups:
    """The alias groups of the packaged file, extended by a deployer's file of the same format when given."""
    texts = (
        [resources.files("nlp.data").joinpath(_SYNONYM_FILE).read_text("utf-8")] if include_packaged else []
    )
    if path is not None:
        texts.append(Path(path).read_text("utf-8"))
    groups: list[tuple[str, ...]] = []
    for text in texts:
        for line in text.splitlines():
            words = tuple(dict.fromkeys(line.split()))
            if words and not line.lstrip().startswith("#"):
                groups.append(words)
    return tuple(groups)
