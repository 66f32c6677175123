"""Opening cases: numbers, routing, clocks, ratings and the timeline."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.lifecycle import CaseStatus
from core.models import CaseEvent
from core.services import cases
from core.taxonomy import load_taxonomy
from tests.factories import Org, make_org, make_resident
from tests.fakes import FixedClock, StubRouter

TZ = ZoneInfo("Asia/Shanghai")


def _open(db: Session, org: Org, clock: FixedClock, *, assignee: bool = True, category: str = "municipal",
          priority: str = "normal") -> cases.Case:
    reporter = make_resident(db)
    router = StubRouter(org.grids[0], org.workers[0] if assignee else None, reason="gazetteer 幸福小区 → G01")
    return cases.open_case(
        db, cases.OpenCase(category=category, description="小区门口路灯坏了", reporter_id=reporter.id,
                           address_text="幸福小区3栋", priority=priority),
        router=router, taxonomy=load_taxonomy(), now=clock(), tz=TZ,
    )


def test_case_numbers_follow_the_local_day_and_count_up(db: Session, clock: FixedClock) -> None:
    org = make_org(db)
    first, second = _open(db, org, clock), _open(db, org, clock)
    assert first.number == "20261204-0001"
    assert second.number == "20261204-0002"
    clock.advance(hours=14)  # 00:00 on 5 December in Shanghai, still 4 December in UTC
    assert _open(db, org, clock).number == "20261205-0001"


def test_routed_case_is_assigned_with_the_reason_in_its_timeline(db: Session, clock: FixedClock) -> None:
    org = make_org(db)
    case = _open(db, org, clock)
    assert case.status == CaseStatus.ASSIGNED
    assert case.assignee_id == org.workers[0].id
    events = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    assert [e.kind for e in events] == ["created", "assigned"]
    assert events[1].note == "gazetteer 幸福小区 → G01"
    assert case.routing_note == "gazetteer 幸福小区 → G01"


def test_unrouted_case_stays_submitted(db: Session, clock: FixedClock) -> None:
    case = _open(db, make_org(db), clock, assignee=False)
    assert case.status == CaseStatus.SUBMITTED and case.assignee_id is None


def test_clocks_come_from_the_taxonomy_and_priority(db: Session, clock: FixedClock) -> None:
    org = make_org(db)
    normal = _open(db, org, clock, category="municipal")
    urgent = _open(db, org, clock, category="municipal", priority="urgent")
    assert normal.accept_due_at == clock() + timedelta(hours=2)
    assert normal.resolve_due_at == clock() + timedelta(hours=72)
    assert urgent.accept_due_at == clock() + timedelta(hours=0.5)


def test_dissatisfied_rating_reopens_and_goes_back_to_the_handler(db: Session, clock: FixedClock) -> None:
    org = make_org(db)
    case = _open(db, org, clock)
    cases.accept_case(db, case, actor="staff:W01", now=clock.advance(minutes=5))
    cases.resolve_case(db, case, actor="staff:W01", now=clock.advance(hours=1), note="换了灯泡")
    cases.rate_case(db, case, 1, "还是不亮", actor=f"person:{case.reporter_id}", now=clock.advance(hours=2),
                    taxonomy=load_taxonomy())
    assert case.status == CaseStatus.ASSIGNED
    assert case.assignee_id == org.workers[0].id
    assert case.resolved_at is None and case.rating == 1
    kinds = [e.kind for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                        .order_by(CaseEvent.id))]
    assert kinds[-3:] == ["rated", "reopened", "assigned"]


def test_good_rating_closes(db: Session, clock: FixedClock) -> None:
    case = _open(db, make_org(db), clock)
    cases.accept_case(db, case, actor="staff:W01", now=clock())
    cases.resolve_case(db, case, actor="staff:W01", now=clock(), note="已修复")
    cases.rate_case(db, case, 5, None, actor="person:1", now=clock.advance(hours=1))
    assert case.status == CaseStatus.CLOSED and case.closed_at == clock()


@pytest.mark.parametrize("rating", [0, 6, -1])
def test_rating_out_of_range_is_refused(db: Session, clock: FixedClock, rating: int) -> None:
    case = _open(db, make_org(db), clock)
    cases.accept_case(db, case, actor="staff:W01", now=clock())
    cases.resolve_case(db, case, actor="staff:W01", now=clock(), note="已修复")
    with pytest.raises(DomainError):
        cases.rate_case(db, case, rating, None, actor="person:1", now=clock())
    assert case.status == CaseStatus.RESOLVED and case.rating is None


def test_rating_before_resolution_is_refused(db: Session, clock: FixedClock) -> None:
    case = _open(db, make_org(db), clock)
    with pytest.raises(DomainError):
        cases.rate_case(db, case, 5, None, actor="person:1", now=clock())


def test_transfer_needs_a_reason_and_records_both_sides(db: Session, clock: FixedClock) -> None:
    org = make_org(db)
    case = _open(db, org, clock)
    with pytest.raises(DomainError):
        cases.transfer_case(db, case, org.workers[1], actor="staff:W01", now=clock(), reason="  ")
    event = cases.transfer_case(db, case, org.workers[1], actor="staff:W01", now=clock(), reason="属于第二网格")
    assert event.data == {"from": "W01", "to": "W02"}
    assert case.assignee_id == org.workers[1].id and case.status == CaseStatus.ASSIGNED


def test_escalation_climbs_a_level_and_counts(db: Session, clock: FixedClock) -> None:
    org = make_org(db)
    case = _open(db, org, clock)
    cases.escalate_case(db, case, org.communities[0], org.community_admins[0], actor="system", now=clock(),
                        note="接单超时")
    assert case.escalation_level == 1
    assert case.region_id == org.communities[0].id
    assert case.assignee_id == org.community_admins[0].id


def test_supervise_and_remind_keep_the_status(db: Session, clock: FixedClock) -> None:
    case = _open(db, make_org(db), clock)
    cases.supervise_case(db, case, actor="staff:SA01", now=clock(), note="请尽快处理")
    cases.remind_case(db, case, actor="system", now=clock(), note="接单即将超时")
    assert case.status == CaseStatus.ASSIGNED and case.supervised
    kinds = [e.kind for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))]
    assert "supervised" in kinds and "reminded" in kinds
