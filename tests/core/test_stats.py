"""Statistics: counts per region, the three rates, case lists and timelines, on a handcrafted day of cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from core.errors import CaseNotFound, NotFound
from core.lifecycle import CaseStatus
from core.models import Case
from core.services import cases as svc
from core.services import stats
from core.taxonomy import load_taxonomy
from tests.factories import Org, make_org, make_resident
from tests.fakes import StubRouter

TZ = ZoneInfo("Asia/Shanghai")
TAXONOMY = load_taxonomy()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local moment in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


DAY_START, DAY_END = at(3, 0), at(4, 0)  # Thursday 3 December, local


@dataclass
class Story:
    """The org and the cases of the handcrafted day, by name."""

    org: Org
    c: dict[str, Case]


def _open(db: Session, org: Org, grid: int, when: datetime, category: str = "municipal") -> Case:
    reporter = make_resident(db, phone="13912345678")
    router = StubRouter(org.grids[grid], org.workers[grid])
    return svc.open_case(db, svc.OpenCase(category=category, description="路灯坏了，电话13912345678",
                                          reporter_id=reporter.id, address_text="幸福小区3栋"),
                         router=router, taxonomy=TAXONOMY, now=when, tz=TZ)


def build_story(db: Session) -> Story:
    """Municipal cases (accept 2 h, resolve 72 h) around Thursday 3 December in four grids of two communities."""
    org = make_org(db)
    w = [svc.staff_actor(s) for s in org.workers]
    c: dict[str, Case] = {}
    c["c1"] = _open(db, org, 0, at(3, 9))                      # G01: accepted on time, resolved, rated 5
    svc.accept_case(db, c["c1"], actor=w[0], now=at(3, 9, 30))
    svc.resolve_case(db, c["c1"], actor=w[0], now=at(3, 15), note="换了灯泡")
    svc.rate_case(db, c["c1"], 5, "很好", actor="person:1", now=at(3, 16), taxonomy=TAXONOMY, tz=TZ)
    c["c2"] = _open(db, org, 0, at(3, 10))                     # G01: never accepted, overdue from 12:00
    c["c3"] = _open(db, org, 1, at(3, 11))                     # G02: accepted late (due 13:00), supervised
    svc.accept_case(db, c["c3"], actor=w[1], now=at(3, 14))
    svc.supervise_case(db, c["c3"], actor="staff:A01", now=at(3, 15), note="尽快处理")
    c["c4"] = _open(db, org, 2, at(3, 8))                      # G03: resolved, rated 2 → reopened, due 12:00
    svc.accept_case(db, c["c4"], actor=w[2], now=at(3, 8, 30))
    svc.resolve_case(db, c["c4"], actor=w[2], now=at(3, 9), note="已处理")
    svc.rate_case(db, c["c4"], 2, "没修好", actor="person:4", now=at(3, 10), taxonomy=TAXONOMY, tz=TZ)
    c["c5"] = _open(db, org, 0, at(2, 20))                     # G01: created the day before, accepted on the 3rd
    svc.accept_case(db, c["c5"], actor=w[0], now=at(3, 9))
    c["c6"] = _open(db, org, 3, at(3, 12))                     # G04: cancelled before anyone accepted it
    svc.cancel_case(db, c["c6"], actor="person:6", now=at(3, 12, 30))
    c["c7"] = _open(db, org, 1, at(3, 13))                     # G02: escalated at 15:30, accepted in time after
    svc.escalate_case(db, c["c7"], org.communities[0], org.community_admins[0], actor=svc.SYSTEM,
                      now=at(3, 15, 30), note="accept deadline passed", new_accept_due=at(3, 17, 30))
    svc.accept_case(db, c["c7"], actor="staff:A01", now=at(3, 16))
    c["c8"] = _open(db, org, 3, at(3, 23, 30))                 # G04: accept deadline 01:30 on the 4th
    return Story(org, c)


def _by_code(rows: list[stats.GridStats]) -> dict[str, tuple[int, int, int, int, int]]:
    return {r.code: (r.new, r.accepted, r.resolved, r.overdue, r.supervised) for r in rows}


def test_area_stats_count_per_grid_and_roll_up(db: Session) -> None:
    story = build_story(db)
    rows = stats.area_stats(db, story.org.city.id, DAY_START, DAY_END)
    assert [r.code for r in rows] == ["C01", "S01", "CM01", "G01", "G02", "CM02", "G03", "G04"]
    assert _by_code(rows) == {
        #        new acc res ovd sup
        "G01": (2, 2, 1, 1, 0),
        "G02": (2, 2, 0, 0, 1),
        "G03": (1, 1, 1, 1, 0),
        "G04": (2, 0, 0, 0, 0),
        "CM01": (4, 4, 1, 1, 1),
        "CM02": (3, 1, 1, 1, 0),
        "S01": (7, 5, 2, 2, 1),
        "C01": (7, 5, 2, 2, 1),
    }


def test_community_area_excludes_the_other_community(db: Session) -> None:
    story = build_story(db)
    rows = stats.area_stats(db, story.org.communities[0].id, DAY_START, DAY_END)
    assert _by_code(rows) == {"CM01": (4, 4, 1, 1, 1), "G01": (2, 2, 1, 1, 0), "G02": (2, 2, 0, 0, 1)}


def test_overdue_counts_deadlines_passed_at_the_end_of_the_period(db: Session) -> None:
    story = build_story(db)
    later = stats.area_stats(db, story.org.communities[1].id, DAY_END, at(4, 8, 30))
    assert _by_code(later)["G04"][3] == 1  # c8's accept deadline (01:30) passed by 08:30
    assert _by_code(later)["CM02"] == (0, 0, 0, 2, 0)


def _rates(rows: list[stats.RateRow]) -> dict[str, tuple[float | None, float | None, float | None]]:
    return {r.code: (r.response, r.resolution, r.satisfaction) for r in rows}


def test_rates_per_grid_community_and_street(db: Session) -> None:
    story = build_story(db)
    rows = stats.rates(db, story.org.city.id, DAY_START, DAY_END)
    assert _rates(rows) == {
        #      response   resolution  satisfaction
        "G01": (0.5, 0.5, 1.0),     # c1 on time, c2 late; c1 closed; c1 rated 5
        "G02": (0.0, 0.0, None),    # c3 accepted late, c7 escalated before acceptance; nothing rated
        "G03": (1.0, 0.0, 0.0),     # c4 accepted on time, reopened; rated 2
        "G04": (None, 0.0, None),   # c6 cancelled, c8 still inside its accept deadline
        "CM01": (0.25, 0.25, 1.0),
        "CM02": (1.0, 0.0, 0.0),
        "S01": (0.4, 1 / 6, 0.5),
        "C01": (0.4, 1 / 6, 0.5),
    }
    street = next(r for r in rows if r.code == "S01")
    assert (street.needed_accept, street.accepted_on_time, street.created, street.resolved) == (5, 2, 6, 1)
    assert street.as_dict()["resolution"] == 0.1667


def test_rates_with_nothing_to_measure_are_none_and_shown_as_a_dash(db: Session) -> None:
    story = build_story(db)
    rows = stats.rates(db, story.org.city.id, at(10, 0), at(11, 0))
    assert {(r.response, r.resolution, r.satisfaction) for r in rows} == {(None, None, None)}
    assert stats.format_rate(rows[0].response) == "—"
    assert stats.format_rate(0.25) == "25.0%"
    assert rows[0].as_dict()["satisfaction"] is None


def test_unknown_region_is_not_found(db: Session) -> None:
    with pytest.raises(NotFound):
        stats.area_stats(db, 987654, DAY_START, DAY_END)


def numbers(found: list[Case]) -> list[str]:
    return [x.number for x in found]


def test_list_cases_filters_combine(db: Session) -> None:
    story = build_story(db)
    c = story.c
    assert numbers(stats.list_cases(db, grid_code="G01")) == [c["c2"].number, c["c1"].number, c["c5"].number]
    assert numbers(stats.list_cases(db, grid_code="CM02", status="assigned")) == [c["c8"].number, c["c4"].number]
    assert numbers(stats.list_cases(db, assignee_code="A01")) == [c["c7"].number]
    assert numbers(stats.list_cases(db, since=at(3, 12), until=at(3, 14))) == [c["c7"].number, c["c6"].number]
    assert numbers(stats.list_cases(db, overdue_at=DAY_END)) == [c["c2"].number, c["c4"].number]
    assert numbers(stats.list_cases(db, region_ids={story.org.grids[3].id}, limit=1)) == [c["c8"].number]
    assert stats.list_cases(db, category="noise") == []


def test_list_cases_refuses_unknown_codes(db: Session) -> None:
    build_story(db)
    with pytest.raises(NotFound):
        stats.list_cases(db, grid_code="G99")
    with pytest.raises(NotFound):
        stats.list_cases(db, assignee_code="W99")


def test_overdue_cases_are_longest_overdue_first(db: Session) -> None:
    story = build_story(db)
    shown, total = stats.overdue_cases(db, story.org.city.id, at(4, 8, 30), limit=3)
    assert total == 3
    assert [x.number for x in shown] == [story.c[k].number for k in ("c2", "c4", "c8")]
    assert len(stats.overdue_cases(db, story.org.city.id, at(4, 8, 30), limit=1)[0]) == 1


def test_timeline_lists_every_event_in_order(db: Session) -> None:
    story = build_story(db)
    case, events = stats.timeline(db, f" {story.c['c4'].number} ")
    assert case.status == CaseStatus.ASSIGNED
    assert [e.kind for e in events] == ["created", "assigned", "accepted", "resolved", "rated", "reopened",
                                        "assigned"]
    assert events[-1].at - events[0].at == timedelta(hours=2)
    with pytest.raises(CaseNotFound):
        stats.timeline(db, "20991231-0001")
