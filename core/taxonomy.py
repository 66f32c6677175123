"""The taxonomy of intents and report categories, with their clocks and departments: a data file, not code."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from importlib import resources
from pathlib import Path

from core.errors import ConfigError
from core.workcalendar import add_working_days


@dataclass(frozen=True, slots=True)
class Category:
    """A report category: its Chinese name, what belongs in it, its clocks and who handles it."""

    code: str
    name: str
    description: str
    accept_hours: float
    resolve_hours: float
    department: str
    resolve_working_days: int | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    """Something a person may want from the bot."""

    code: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Intents, categories and the priority factors that shorten the clocks."""

    intents: dict[str, Intent]
    categories: dict[str, Category]
    priority_factor: dict[str, float]

    def category(self, code: str | None) -> Category:
        """The category with ``code``, or ``other`` when unknown."""
        return self.categories.get(code or "other") or self.categories["other"]

    def deadlines(self, code: str, priority: str, start: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
        """Accept and resolve deadlines for a case of this category and priority opened at ``start``.

        Hours run on the wall clock; ``resolve_working_days`` counts Chinese working days (holidays and 调休).
        """
        cat = self.category(code)
        factor = self.priority_factor.get(priority, 1.0)
        accept = start + timedelta(hours=cat.accept_hours * factor)
        if cat.resolve_working_days is not None and factor >= 1.0:
            return accept, add_working_days(start, cat.resolve_working_days, tz)
        return accept, start + timedelta(hours=cat.resolve_hours * factor)


def parse_taxonomy(raw: str, source: str) -> Taxonomy:
    """Build a taxonomy from the JSON text of ``source``; ConfigError names the file and field on mistakes."""
    try:
        data = json.loads(raw)
        intents = {i["code"]: Intent(i["code"], i["name"], i.get("description", "")) for i in data["intents"]}
        categories = {
            c["code"]: Category(c["code"], c["name"], c.get("description", ""), float(c["accept_hours"]),
                                float(c["resolve_hours"]), c.get("department", ""),
                                int(c["resolve_working_days"]) if c.get("resolve_working_days") else None)
            for c in data["categories"]
        }
        factors = {k: float(v) for k, v in data.get("priority_factor", {"normal": 1.0}).items()}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: taxonomy entry is missing or has a bad field: {exc}") from None
    if "other" not in categories:
        raise ConfigError(f"{source}: the categories must include 'other'")
    return Taxonomy(intents, categories, factors)


@lru_cache(maxsize=4)
def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The deployer's taxonomy file when given, else the packaged default."""
    if path is None:
        return parse_taxonomy(resources.files("core.data").joinpath("taxonomy.json").read_text("utf-8"),
                              "core/data/taxonomy.json")
    try:
        return parse_taxonomy(Path(path).read_text("utf-8"), str(path))
    except FileNotFoundError:
        raise ConfigError(f"taxonomy file {path} does not exist (GRIDBOT_TAXONOMY_FILE)") from None
