"""Test doubles for collaborators that are not ours to run for real (or that tests need to steer)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from core.models import Region, Staff


@dataclass
class StubDecision:
    grid: Region | None
    region: Region | None
    assignee: Staff | None
    reason: str


class StubRouter:
    """Routes every case to one grid and one person, as a test says."""

    def __init__(self, grid: Region | None, assignee: Staff | None, reason: str = "stub") -> None:
        self.decision = StubDecision(grid, grid, assignee, reason)
        self.calls: list[tuple[str | None, tuple[float, float] | None, datetime, str | None]] = []

    def route(self, address: str | None, location: tuple[float, float] | None, at: datetime, *,
              category: str | None = None, home_grid_id: int | None = None) -> StubDecision:
        self.calls.append((address, location, at, category))
        return self.decision


class FixedClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Friday

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


class RecordingNotifier:
    """Collects notices instead of queueing them, so a test can read who was told what."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, int | None]] = []  # (recipient, kind, case_id)
        self.notices: list[object] = []

    def to_staff(self, session: object, staff: Staff, notice: object) -> None:
        self.sent.append((f"staff:{staff.staff_code}", str(notice.kind), notice.case_id))  # type: ignore[attr-defined]
        self.notices.append(notice)

    def to_person(self, session: object, person_id: int, notice: object) -> None:
        self.sent.append((f"person:{person_id}", str(notice.kind), notice.case_id))  # type: ignore[attr-defined]
        self.notices.append(notice)

    def kinds_for(self, recipient: str) -> list[str]:
        return [kind for who, kind, _ in self.sent if who == recipient]


def wait_until(check: Callable[[], bool], seconds: float = 10.0, what: str = "condition") -> None:
    """Poll ``check`` until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {seconds}s")
