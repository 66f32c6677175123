"""Duty rosters: parse weekday sets and HH:MM times, and tell whether a shift covers a local moment (pure, no I/O)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import date, datetime, time, timedelta

ALL_DAYS: frozenset[int] = frozenset(range(1, 8))

_NAMED_SETS: dict[str, frozenset[int]] = {
    **dict.fromkeys(("每天", "每日", "全周", "全天", "daily", "everyday", "every day", "*"), ALL_DAYS),
    **dict.fromkeys(("工作日", "weekdays"), frozenset(range(1, 6))),
    **dict.fromkeys(("周末", "weekend", "weekends"), frozenset({6, 7})),
}
_DAY_NAMES: dict[str, int] = {
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "日": 7, "天": 7, "七": 7,
    "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7,
}
_DAY_PREFIX = re.compile(r"^(?:星期|礼拜|周)")
_RANGE = re.compile(r"\s*(?:-|~|–|—|至|到)\s*")
_SEPARATORS = re.compile(r"[,、;/\s]+")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::(00))?$")
_HINT = "use ISO day numbers 1=Mon..7=Sun such as '1-5', '6,7', '1-3,5' or 'daily'"


def _normalise(text: str) -> str:
    """Full-width to half-width (，→, ：→: －→-), trimmed and lower-cased."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def _day(token: str, original: str) -> int:
    """One day token: '1'..'7', '周一', '星期日', 'mon'."""
    bare = _DAY_PREFIX.sub("", token)
    if bare.isdigit() and len(bare) == 1 and 1 <= int(bare) <= 7:
        return int(bare)
    if bare in _DAY_NAMES:
        return _DAY_NAMES[bare]
    raise ValueError(f"bad weekdays {original!r}: {token!r} is not a day; {_HINT}")


def parse_weekdays(text: str) -> frozenset[int]:
    """Parse a weekday set such as '1-5', '6,7', '1-3,5', '1，2', '周一至周五' or 'daily' into ISO days."""
    norm = _normalise(text)
    if not norm:
        raise ValueError(f"bad weekdays {text!r}: empty; {_HINT}")
    if norm in _NAMED_SETS:
        return _NAMED_SETS[norm]
    days: set[int] = set()
    for part in _SEPARATORS.split(_RANGE.sub("-", norm)):
        if not part:
            continue
        bounds = part.split("-")
        if len(bounds) == 1:
            days.add(_day(part, text))
            continue
        if len(bounds) != 2 or not all(bounds):
            raise ValueError(f"bad weekdays {text!r}: {part!r} is not a range like '1-5'; {_HINT}")
        first, last = _day(bounds[0], text), _day(bounds[1], text)
        if first > last:
            raise ValueError(f"bad weekdays {text!r}: range {part!r} runs backwards; write e.g. '5-7,1'")
        days.update(range(first, last + 1))
    if not days:
        raise ValueError(f"bad weekdays {text!r}: no days given; {_HINT}")
    return frozenset(days)


def format_weekdays(days: Collection[int]) -> str:
    """The compact text form of a weekday set, e.g. {1,2,3,5} → '1-3,5' (the inverse of parse_weekdays)."""
    ordered = sorted(set(days))
    if not ordered or ordered[0] < 1 or ordered[-1] > 7:
        raise ValueError(f"weekdays must be ISO days 1..7, got {ordered!r}")
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def parse_hhmm(text: str) -> time:
    """Parse 'HH:MM' ('08:00', '8:30', '８：３０', '08:00:00'); '24:00' is midnight at the end of the day.

    '24:00' comes back as 00:00: as a shift end that already means "until midnight" (an end at or before the
    start runs past midnight, and 00:00–00:00 is the whole day), so the database never needs a 24:00 value.
    """
    match = _HHMM.match(_normalise(text))
    if match is None:
        raise ValueError(f"bad time {text!r}: use HH:MM on a 24-hour clock, e.g. '08:00' or '22:30'")
    hour, minute = int(match.group(1)), int(match.group(2))
    if (hour, minute) == (24, 0):
        return time(0, 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"bad time {text!r}: hours run 00-23 (or 24:00) and minutes 00-59")
    return time(hour, minute)


def _runs_on(day: date, weekdays: Collection[int], valid_from: date | None, valid_to: date | None) -> bool:
    """Whether a shift has an occurrence starting on ``day``."""
    if day.isoweekday() not in weekdays:
        return False
    return (valid_from is None or day >= valid_from) and (valid_to is None or day <= valid_to)


def shift_started_at(
    weekdays: Collection[int] | str,
    start: time,
    end: time,
    valid_from: date | None,
    valid_to: date | None,
    local_dt: datetime,
) -> datetime | None:
    """When the occurrence of the shift that covers ``local_dt`` started (local wall time), or None if off duty.

    A shift whose end is at or before its start runs past midnight and belongs to the day it starts on
    (start == end is 24 hours); weekdays and the validity dates apply to that start day. Start is inclusive,
    end exclusive. ``local_dt`` is read as wall-clock time in the deployment zone.
    """
    days = parse_weekdays(weekdays) if isinstance(weekdays, str) else weekdays
    moment, today = local_dt.time(), local_dt.date()
    overnight = end <= start
    if moment >= start and (overnight or moment < end) and _runs_on(today, days, valid_from, valid_to):
        return datetime.combine(today, start, tzinfo=local_dt.tzinfo)
    yesterday = today - timedelta(days=1)
    if overnight and moment < end and _runs_on(yesterday, days, valid_from, valid_to):
        return datetime.combine(yesterday, start, tzinfo=local_dt.tzinfo)
    return None


def covers(
    weekdays: Collection[int] | str,
    start: time,
    end: time,
    valid_from: date | None,
    valid_to: date | None,
    local_dt: datetime,
) -> bool:
    """Whether the shift is on duty at the local moment ``local_dt`` (see ``shift_started_at`` for the rules)."""
    return shift_started_at(weekdays, start, end, valid_from, valid_to, local_dt) is not None
