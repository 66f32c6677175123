"""The clockwork on a controllable clock: reminders, escalation up four levels, hand-over, one leader."""

from __future__ import annotations

import threading
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.db import make_session_factory, unit_of_work
from core.jobs import Clockwork, run_tick, tick
from core.lifecycle import CaseStatus
from core.models import Case, CaseEvent
from core.services import cases
from core.services.routing import GridRouter, RouterCache
from core.store import StateStore
from core.taxonomy import load_taxonomy
from tests.factories import Org, make_org, make_place, make_resident, make_shift, make_staff
from tests.fakes import FixedClock, RecordingNotifier

TZ = ZoneInfo("Asia/Shanghai")


def _ctx(notifier: RecordingNotifier) -> Clockwork:
    return Clockwork(taxonomy=load_taxonomy(), tz=TZ, notifier=notifier, routers=RouterCache(tz=TZ))


def _report(db: Session, clock: FixedClock, address: str = "第1网格") -> Case:
    reporter = make_resident(db)
    router = GridRouter.load(db, tz=TZ)
    return cases.open_case(db, cases.OpenCase(category="municipal", description="路灯坏了", reporter_id=reporter.id,
                                              address_text=address),
                           router=router, taxonomy=load_taxonomy(), now=clock(), tz=TZ)


def _org_with_places(db: Session) -> Org:
    org = make_org(db)
    make_place(db, "幸福小区", org.grids[0])
    return org


def _kinds(db: Session, case: Case) -> list[str]:
    return [e.kind for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))]


def test_reminder_before_the_accept_deadline_is_sent_once(db: Session, clock: FixedClock) -> None:
    _org_with_places(db)
    case = _report(db, clock, "幸福小区3栋")
    notifier = RecordingNotifier()
    ctx = _ctx(notifier)
    clock.advance(hours=1)
    assert tick(db, ctx, clock()).reminded == []
    clock.advance(minutes=31)  # municipal: 2 h to accept, reminded in the last quarter
    assert tick(db, ctx, clock()).reminded == [case.number]
    assert tick(db, ctx, clock.advance(minutes=5)).reminded == []
    assert notifier.kinds_for("staff:W01") == ["accept_due_soon"]


def test_ignored_case_climbs_the_ladder_on_time_and_stops_at_the_city(db: Session, clock: FixedClock) -> None:
    org = _org_with_places(db)
    case = _report(db, clock, "幸福小区3栋")
    notifier = RecordingNotifier()
    ctx = _ctx(notifier)
    assert tick(db, ctx, clock.advance(hours=2)).escalated == [case.number]
    assert (case.assignee_id, case.escalation_level) == (org.community_admins[0].id, 1)
    assert notifier.kinds_for("staff:A01") == ["escalated_to_you"]
    assert notifier.kinds_for("staff:SA01") == ["escalation_fyi"]
    assert tick(db, ctx, clock.advance(minutes=30)).escalated == []  # the community has its own fresh clock
    assert tick(db, ctx, clock.advance(hours=1, minutes=30)).escalated == [case.number]
    assert case.assignee_id == org.street_admin.id
    assert tick(db, ctx, clock.advance(hours=2)).escalated == [case.number]
    assert case.assignee_id == org.city_desk.id and case.escalation_level == 3
    assert tick(db, ctx, clock.advance(hours=2)).escalated == [case.number]  # told once: nobody above the city
    assert tick(db, ctx, clock.advance(hours=2)).escalated == []
    assert case.escalation_level == 3 and case.status == CaseStatus.ASSIGNED
    assert notifier.kinds_for("staff:CD01").count("overdue_at_top") == 1
    assert _kinds(db, case).count("escalated") == 3


def test_escalation_skips_a_level_with_nobody_on_duty(db: Session, clock: FixedClock) -> None:
    org = make_org(db, with_shifts=False)
    make_shift(db, org.grids[0], org.workers[0])
    make_shift(db, org.street, org.street_admin)
    make_place(db, "幸福小区", org.grids[0])
    case = _report(db, clock, "幸福小区")
    assert case.assignee_id == org.workers[0].id
    tick(db, _ctx(RecordingNotifier()), clock.advance(hours=2, minutes=1))
    assert case.assignee_id == org.street_admin.id
    assert case.region_id == org.street.id


def test_accepted_case_past_its_resolve_deadline_tells_the_next_level_once(db: Session, clock: FixedClock) -> None:
    _org_with_places(db)
    case = _report(db, clock, "幸福小区")
    cases.accept_case(db, case, actor="staff:W01", now=clock.advance(minutes=10))
    notifier = RecordingNotifier()
    ctx = _ctx(notifier)
    tick(db, ctx, clock.advance(hours=60))
    assert notifier.kinds_for("staff:W01") == ["resolve_due_soon"]
    assert tick(db, ctx, clock.advance(hours=13)).overdue == [case.number]
    assert tick(db, ctx, clock.advance(hours=1)).overdue == []
    assert notifier.kinds_for("staff:A01") == ["resolve_overdue"]
    assert case.status == CaseStatus.ACCEPTED and case.assignee_id is not None


def test_unaccepted_case_moves_to_whoever_is_on_duty_after_the_shift(db: Session, clock: FixedClock) -> None:
    org = make_org(db, with_shifts=False)
    night = make_staff(db, "W11", "夜班网格员", "grid_worker", org.grids[0])
    make_shift(db, org.grids[0], org.workers[0], "1-7", "08:00", "10:30")
    make_shift(db, org.grids[0], night, "1-7", "10:30", "08:00")
    make_place(db, "幸福小区", org.grids[0])
    case = _report(db, clock, "幸福小区")  # 10:00 local: the day worker has it
    assert case.assignee_id == org.workers[0].id
    notifier = RecordingNotifier()
    report = tick(db, _ctx(notifier), clock.advance(minutes=31))
    assert report.handed_over == [case.number]
    assert case.assignee_id == night.id and case.status == CaseStatus.ASSIGNED
    assert notifier.kinds_for("staff:W11") == ["transferred_to_you"]


def test_restart_between_deadline_and_escalation_loses_nothing(fresh_engine: Engine, store: StateStore) -> None:
    clock = FixedClock()
    factory = make_session_factory(fresh_engine)
    with unit_of_work(factory) as session:
        _org_with_places(session)
        number = _report(session, clock, "幸福小区").number
    clock.advance(hours=3)  # the deadline passed while no process was running
    notifier = RecordingNotifier()
    report = run_tick(factory, store, _ctx(notifier), clock())  # a freshly started process
    assert report is not None and report.escalated == [number]
    with factory() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        assert case.escalation_level == 1


def test_two_processes_ticking_at_once_escalate_once(fresh_engine: Engine, store: StateStore) -> None:
    clock = FixedClock()
    factory = make_session_factory(fresh_engine)
    with unit_of_work(factory) as session:
        _org_with_places(session)
        number = _report(session, clock, "幸福小区").number
    clock.advance(hours=2, minutes=5)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def process() -> None:
        barrier.wait()
        results.append(run_tick(factory, store, _ctx(RecordingNotifier()), clock()))

    threads = [threading.Thread(target=process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with factory() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        escalations = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                              CaseEvent.kind == "escalated")).all()
    assert len(escalations) == 1 and case.escalation_level == 1
    assert run_tick(factory, store, _ctx(RecordingNotifier()), clock()).escalated == []  # type: ignore[union-attr]
