"""The admins' cron notices: the 08:30 daily digest and the Monday 09:00 weekly summary of the three rates.

The scheduler calls these at the times below (tests call them directly). Each notice has a key per recipient and
period, so a job run twice sends once (the notifier dedupes on the key); inside one run each key is built once and
the figures of a region are computed once however many admins share it. Data are plain JSON values; the bot layer
renders the Chinese text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import SessionFactory, unit_of_work
from core.models import Region, Staff
from core.notify import Notice, NoticeKind, Notifier
from core.permissions import ADMIN_ROLES
from core.services.stats import LEVELS, area_stats, overdue_cases, rates

logger = logging.getLogger(__name__)

DAILY_DIGEST_AT = time(8, 30)          # local time, every day
WEEKLY_SUMMARY_AT = (1, time(9, 0))    # ISO weekday (Monday) and local time
OVERDUE_SHOWN = 10
DAILY_DEPTH = 1                        # the area's own row and its children
WEEKLY_DEPTH = 2                       # down to grids for community and street admins; to communities for the city

T = TypeVar("T")


def _midnight(day: date, tz: tzinfo) -> datetime:
    """The start of a local day as an aware datetime."""
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def _admins(session: Session) -> list[Staff]:
    """Active community, street and city admins, in a stable order."""
    return list(session.scalars(select(Staff).where(Staff.active.is_(True), Staff.role.in_(sorted(ADMIN_ROLES)))
                                .order_by(Staff.staff_code)))


def _within(rows: list[T], level_of: Callable[[T], str], depth: int) -> list[T]:
    """Rows of the area down to ``depth`` levels below its own (the first row)."""
    top = LEVELS.index(level_of(rows[0])) if rows and level_of(rows[0]) in LEVELS else 0
    return [r for r in rows if level_of(r) not in LEVELS or LEVELS.index(level_of(r)) - top <= depth]


def _each_admin(session: Session, notifier: Notifier, build: Callable[[Region], dict[str, Any]],
                kind: NoticeKind, key_of: Callable[[Staff], str]) -> list[str]:
    """Send one notice per admin, building each region's data once; returns the keys sent."""
    cache: dict[int, dict[str, Any]] = {}
    sent: dict[str, None] = {}
    for staff in _admins(session):
        key = key_of(staff)
        if key in sent:
            continue
        if staff.region_id not in cache:
            cache[staff.region_id] = build(staff.region)
        notifier.to_staff(session, staff, Notice(kind, key, None, dict(cache[staff.region_id])))
        sent[key] = None
    logger.info("sent %s to %d admins", kind, len(sent))
    return list(sent)


def daily_digest(session: Session, notifier: Notifier, now: datetime, tz: tzinfo) -> list[str]:
    """Tell every active admin yesterday's figures for their area and the open overdue cases; returns keys sent.

    data = {"date": "YYYY-MM-DD" (yesterday, local), "region": {code, name, level}, "totals": {new, accepted,
    resolved, overdue, supervised}, "rows": the same per region (the area and its children), "overdue_total":
    cases of the area overdue now, "overdue_cases": their numbers, longest overdue first (up to 10)}.
    Key: ``digest:{staff_code}:{date}``.
    """
    today = now.astimezone(tz).date()
    day = today - timedelta(days=1)
    start, end = _midnight(day, tz), _midnight(today, tz)

    def build(region: Region) -> dict[str, Any]:
        rows = area_stats(session, region.id, start, end)
        shown, total = overdue_cases(session, region.id, now, OVERDUE_SHOWN)
        totals = {k: v for k, v in rows[0].as_dict().items() if k not in ("code", "name", "level")}
        return {"date": day.isoformat(), "region": _region(region), "totals": totals,
                "rows": [r.as_dict() for r in _within(rows, lambda r: r.level, DAILY_DEPTH)],
                "overdue_total": total, "overdue_cases": [c.number for c in shown]}

    return _each_admin(session, notifier, build, NoticeKind.DAILY_DIGEST,
                       lambda staff: f"digest:{staff.staff_code}:{day.isoformat()}")


def weekly_summary(session: Session, notifier: Notifier, now: datetime, tz: tzinfo) -> list[str]:
    """Tell every active admin last Monday–Sunday's three rates for their area; returns the keys sent.

    data = {"week": "YYYY-Www", "start": Monday, "end": Sunday (local dates), "region": {code, name, level},
    "rows": [{code, name, level, response, resolution, satisfaction (0..1 or None when nothing to measure),
    and the counts behind them}] for the area down to two levels below its own}. Key: ``weekly:{staff_code}:{week}``.
    """
    today = now.astimezone(tz).date()
    monday = today - timedelta(days=today.isoweekday() - 1 + 7)
    start, end = _midnight(monday, tz), _midnight(monday + timedelta(days=7), tz)
    year, week, _ = monday.isocalendar()
    label = f"{year}-W{week:02d}"

    def build(region: Region) -> dict[str, Any]:
        rows = rates(session, region.id, start, end)
        return {"week": label, "start": monday.isoformat(), "end": (monday + timedelta(days=6)).isoformat(),
                "region": _region(region),
                "rows": [r.as_dict() for r in _within(rows, lambda r: r.level, WEEKLY_DEPTH)]}

    return _each_admin(session, notifier, build, NoticeKind.WEEKLY_SUMMARY,
                       lambda staff: f"weekly:{staff.staff_code}:{label}")


def _region(region: Region) -> dict[str, str]:
    return {"code": region.code, "name": region.name, "level": region.level}


def due_now(now: datetime, tz: tzinfo) -> list[str]:
    """Which digests fall due in the local minute of ``now``: "daily", "weekly", both or none."""
    local = now.astimezone(tz)
    minute = local.time().replace(second=0, microsecond=0)
    due = ["daily"] if minute == DAILY_DIGEST_AT else []
    weekday, at = WEEKLY_SUMMARY_AT
    return due + (["weekly"] if local.isoweekday() == weekday and minute == at else [])


def run_due(factory: SessionFactory, notifier: Notifier, now: datetime, tz: tzinfo) -> list[str]:
    """For a once-a-minute leader tick: send the digests due in this minute in one unit of work; keys sent."""
    due = due_now(now, tz)
    if not due:
        return []
    with unit_of_work(factory) as session:
        keys = daily_digest(session, notifier, now, tz) if "daily" in due else []
        return keys + (weekly_summary(session, notifier, now, tz) if "weekly" in due else [])
