"""Roster parsing and the on-duty rule: weekday sets, HH:MM times, overnight shifts and validity dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.roster import covers, format_weekdays, parse_hhmm, parse_weekdays, shift_started_at

SH = ZoneInfo("Asia/Shanghai")
FRI = date(2026, 12, 4)  # a Friday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in the week of Monday 30 November 2026 (day 1) … Sunday 6 December (day 7)."""
    return datetime(2026, 11, 30, tzinfo=SH) + timedelta(days=day - 1, hours=hour, minutes=minute)


def test_helper_at_maps_iso_days() -> None:
    assert [at(d, 0).isoweekday() for d in range(1, 8)] == list(range(1, 8))


@pytest.mark.parametrize(("text", "days"), [
    ("1-5", {1, 2, 3, 4, 5}),
    ("6,7", {6, 7}),
    ("1-3,5", {1, 2, 3, 5}),
    ("1，2", {1, 2}),
    (" 1 - 3 ， 7 ", {1, 2, 3, 7}),
    ("１－５", {1, 2, 3, 4, 5}),
    ("1、3、5", {1, 3, 5}),
    ("7", {7}),
    ("1-7", set(range(1, 8))),
    ("每天", set(range(1, 8))),
    ("daily", set(range(1, 8))),
    ("Daily", set(range(1, 8))),
    ("工作日", {1, 2, 3, 4, 5}),
    ("周末", {6, 7}),
    ("周一至周五", {1, 2, 3, 4, 5}),
    ("周一至五", {1, 2, 3, 4, 5}),
    ("星期六,星期日", {6, 7}),
    ("礼拜天", {7}),
    ("mon-fri", {1, 2, 3, 4, 5}),
    ("1,1,2", {1, 2}),
])
def test_parse_weekdays_accepts_the_documented_forms(text: str, days: set[int]) -> None:
    assert parse_weekdays(text) == frozenset(days)


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("   ", "empty"),
    ("0", "not a day"),
    ("8", "not a day"),
    ("1-8", "not a day"),
    ("10", "not a day"),
    ("5-1", "runs backwards"),
    ("1-", "not a range"),
    ("-5", "not a range"),
    ("1-3-5", "not a range"),
    ("mon-funday", "not a day"),
    ("周八", "not a day"),
    ("weekly", "not a day"),
    (",", "no days"),
])
def test_parse_weekdays_rejects_bad_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_weekdays(text)


@pytest.mark.parametrize(("days", "text"), [
    ({1, 2, 3, 4, 5}, "1-5"), ({6, 7}, "6-7"), ({1, 2, 3, 5}, "1-3,5"), ({7}, "7"), ({1, 3, 5}, "1,3,5"),
])
def test_format_weekdays_round_trips(days: set[int], text: str) -> None:
    assert format_weekdays(days) == text
    assert parse_weekdays(text) == frozenset(days)


@pytest.mark.parametrize("days", [set(), {0}, {8}])
def test_format_weekdays_rejects_non_iso_days(days: set[int]) -> None:
    with pytest.raises(ValueError, match="ISO days"):
        format_weekdays(days)


@pytest.mark.parametrize(("text", "value"), [
    ("08:00", time(8, 0)),
    ("8:30", time(8, 30)),
    ("00:00", time(0, 0)),
    ("23:59", time(23, 59)),
    ("24:00", time(0, 0)),
    ("８：３０", time(8, 30)),
    (" 22:15 ", time(22, 15)),
    ("08:00:00", time(8, 0)),
])
def test_parse_hhmm_accepts_clock_times(text: str, value: time) -> None:
    assert parse_hhmm(text) == value


@pytest.mark.parametrize("text", ["", "8", "800", "0800", "8:5", "24:01", "25:00", "12:60", "ab:cd", "08:00:30",
                                  "-1:00", "8.30", "08:00 am"])
def test_parse_hhmm_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="bad time"):
        parse_hhmm(text)


OVERNIGHT = (time(22, 0), time(6, 0))


@pytest.mark.parametrize(("weekdays", "moment", "expected"), [
    ("5", at(6, 3), True),  # Friday's night shift covers early Saturday
    ("6", at(6, 3), False),  # Saturday's night shift starts Saturday 22:00, not before
    ("6", at(6, 22), True),
    ("6", at(7, 5, 59), True),
    ("6", at(7, 6), False),  # end is exclusive
    ("5", at(5, 21, 59), False),
    ("5", at(5, 22), True),  # start is inclusive
    ("1-5", at(1, 3), False),  # Sunday night is not in a Monday–Friday roster
    ("1-5", at(6, 3), True),
    ("7", at(1, 3), True),  # Sunday night runs into Monday, across the week boundary
])
def test_overnight_shift_belongs_to_the_day_it_starts(weekdays: str, moment: datetime, expected: bool) -> None:
    assert covers(weekdays, *OVERNIGHT, None, None, moment) is expected


@pytest.mark.parametrize(("moment", "expected"), [
    (at(3, 8), True), (at(3, 17, 59), True), (at(3, 18), False), (at(3, 7, 59), False),
    (at(7, 10), False), (at(6, 10), False), (at(1, 10), True),
])
def test_day_shift_on_weekdays_only(moment: datetime, expected: bool) -> None:
    assert covers(frozenset(range(1, 6)), time(8), time(18), None, None, moment) is expected


@pytest.mark.parametrize(("start", "moment", "expected_start"), [
    (time(0), at(3, 0), datetime(2026, 12, 2, 0, 0, tzinfo=SH)),
    (time(0), at(3, 23, 59), datetime(2026, 12, 2, 0, 0, tzinfo=SH)),
    (time(8), at(3, 7, 59), datetime(2026, 12, 1, 8, 0, tzinfo=SH)),  # a 24-hour shift from 08:00 yesterday
    (time(8), at(3, 8), datetime(2026, 12, 2, 8, 0, tzinfo=SH)),
])
def test_start_equal_to_end_is_a_whole_day(start: time, moment: datetime, expected_start: datetime) -> None:
    assert shift_started_at("1-7", start, start, None, None, moment) == expected_start


def test_until_24_00_means_until_midnight() -> None:
    start, end = parse_hhmm("08:00"), parse_hhmm("24:00")
    assert covers("1-7", start, end, None, None, at(3, 23, 59))
    assert not covers("1-7", start, end, None, None, at(4, 0, 0))
    assert not covers("1-7", start, end, None, None, at(4, 7, 59))


@pytest.mark.parametrize(("valid_from", "valid_to", "moment", "expected"), [
    (FRI, None, at(5, 23), True),
    (date(2026, 12, 5), None, at(5, 23), False),
    (None, FRI, at(5, 23), True),
    (None, date(2026, 12, 3), at(5, 23), False),
    (None, FRI, at(6, 3), True),  # the dates apply to the start day: Friday's night shift still runs on Saturday
    (date(2026, 12, 5), None, at(6, 3), False),  # and a shift valid from Saturday has no Friday night
])
def test_validity_dates_apply_to_the_start_day(
    valid_from: date | None, valid_to: date | None, moment: datetime, expected: bool
) -> None:
    assert covers("1-7", *OVERNIGHT, valid_from, valid_to, moment) is expected


def test_overnight_start_is_reported_on_the_previous_day() -> None:
    assert shift_started_at("5", *OVERNIGHT, None, None, at(6, 3)) == datetime(2026, 12, 4, 22, 0, tzinfo=SH)
    assert shift_started_at("5", *OVERNIGHT, None, None, at(6, 7)) is None
