"""Working days by the Chinese calendar: statutory holidays and make-up working days (调休) included."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import chinese_calendar

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    """True on a working day; years the calendar does not cover yet fall back to Monday–Friday."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        logger.warning("no holiday data for %s yet: counting Monday-Friday as working days", day.year)
        return day.weekday() < 5


def add_working_days(start: datetime, days: int, tz: tzinfo) -> datetime:
    """The same local time ``days`` working days after ``start``.

    A start on a day off counts as 00:00 of the next working day, so a case filed on Saturday with one working
    day is due at the end of Monday.
    """
    local = start.astimezone(tz)
    day, clock = local.date(), local.time()
    if not is_working_day(day):
        while not is_working_day(day):
            day += timedelta(days=1)
        clock = time(0, 0)
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return datetime.combine(day, clock, tzinfo=tz)
