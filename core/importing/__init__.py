"""Importing the deployer's data files (org workbook, policies) and what an import reports back."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Counts:
    """How many records of one kind an import created, changed, left alone or removed."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    @property
    def total(self) -> int:
        """Records of this kind now present from the file."""
        return self.new + self.updated + self.unchanged


@dataclass(slots=True)
class ImportSummary:
    """The outcome of one import: the file and the counts per kind, in file order."""

    source: str
    counts: dict[str, Counts] = field(default_factory=dict)

    def kind(self, label: str) -> Counts:
        """The counts for ``label`` (e.g. ``"regions"``), created on first use."""
        return self.counts.setdefault(label, Counts())

    def line(self) -> str:
        """One English line for the operator, e.g. ``imported org.xlsx: 7 regions (7 new, 0 updated), …``."""
        parts = []
        for label, c in self.counts.items():
            extra = f", {c.removed} removed" if c.removed else ""
            parts.append(f"{c.total} {label} ({c.new} new, {c.updated} updated{extra})")
        return f"imported {self.source}: " + (", ".join(parts) if parts else "nothing")
