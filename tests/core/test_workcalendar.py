"""Working-day deadlines follow the Chinese calendar: holidays and make-up working days (调休)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from core.taxonomy import load_taxonomy
from core.workcalendar import add_working_days, is_working_day

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 12, 4), True),    # an ordinary Friday
    (date(2026, 12, 5), False),   # Saturday
    (date(2026, 10, 1), False),   # National Day
    (date(2026, 10, 8), True),    # Thursday after the National Day week
    (date(2026, 2, 14), True),    # Saturday made a working day for the Spring Festival (调休)
    (date(2026, 2, 17), False),   # Spring Festival
    (date(2031, 3, 3), True),     # a Monday beyond the calendar's data: Monday–Friday rule
    (date(2031, 3, 2), False),
])
def test_working_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(("start", "days", "due"), [
    (datetime(2026, 12, 4, 10, 0, tzinfo=TZ), 1, datetime(2026, 12, 7, 10, 0, tzinfo=TZ)),   # Fri → Mon
    (datetime(2026, 12, 5, 15, 0, tzinfo=TZ), 1, datetime(2026, 12, 8, 0, 0, tzinfo=TZ)),    # Sat → end of Mon
    (datetime(2026, 9, 30, 9, 0, tzinfo=TZ), 1, datetime(2026, 10, 8, 9, 0, tzinfo=TZ)),     # over National Day
    (datetime(2026, 12, 4, 10, 0, tzinfo=TZ), 0, datetime(2026, 12, 4, 10, 0, tzinfo=TZ)),
])
def test_add_working_days(start: datetime, days: int, due: datetime) -> None:
    assert add_working_days(start, days, TZ) == due


def test_categories_with_working_days_skip_holidays() -> None:
    start = datetime(2026, 9, 30, 9, 0, tzinfo=TZ)
    _, resolve = load_taxonomy().deadlines("illegal_building", "normal", start, TZ)
    # 5 working days after National Day eve: 10/8, 10/9, 10/10 (a make-up Saturday), 10/12, 10/13
    assert resolve == datetime(2026, 10, 13, 9, 0, tzinfo=TZ)
