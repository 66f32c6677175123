"""The case lifecycle: every legal transition writes its event; every illegal one is refused and changes nothing."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import IllegalTransition
from core.lifecycle import ALLOWED, TRANSITIONS, CaseAction, CaseStatus, next_status
from core.models import Case, CaseEvent, Staff
from core.services import cases
from core.taxonomy import load_taxonomy
from tests.factories import make_org, make_resident
from tests.fakes import FixedClock, StubRouter

TZ = ZoneInfo("Asia/Shanghai")
ALL_PAIRS = [(status, action) for status in CaseStatus for action in CaseAction]
ILLEGAL = [(s, a) for s, a in ALL_PAIRS if s not in TRANSITIONS[a][0]]
LEGAL = [(s, a) for s, a in ALL_PAIRS if s in TRANSITIONS[a][0]]


def _event_count(db: Session, case: Case) -> int:
    return db.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) or 0


def _case_in(db: Session, status: CaseStatus, clock: FixedClock) -> Case:
    org = make_org(db)
    reporter = make_resident(db)
    case = cases.open_case(
        db, cases.OpenCase(category="municipal", description="路灯坏了", reporter_id=reporter.id),
        router=StubRouter(org.grids[0], org.workers[0]), taxonomy=load_taxonomy(), now=clock(), tz=TZ,
    )
    case.status = str(status)  # put the case straight into the state under test
    db.flush()
    return case


def _perform(db: Session, case: Case, action: CaseAction, clock: FixedClock) -> None:
    now = clock.advance(minutes=1)
    other = db.scalars(select(Staff).where(Staff.staff_code == "W02")).one()
    region = other.region
    actions = {
        CaseAction.ASSIGN: lambda: cases.assign_case(db, case, other, actor="system", now=now),
        CaseAction.ACCEPT: lambda: cases.accept_case(db, case, actor="staff:W01", now=now),
        CaseAction.TRANSFER: lambda: cases.transfer_case(db, case, other, actor="staff:W01", now=now, reason="不归我管"),
        CaseAction.ESCALATE: lambda: cases.escalate_case(db, case, region, other, actor="system", now=now, note="超时"),
        CaseAction.RESOLVE: lambda: cases.resolve_case(db, case, actor="staff:W01", now=now, note="已修好"),
        CaseAction.REOPEN: lambda: cases.reopen_case(db, case, actor="person:1", now=now, note="没修好"),
        CaseAction.CLOSE: lambda: cases.close_case(db, case, actor="system", now=now),
        CaseAction.CANCEL: lambda: cases.cancel_case(db, case, actor="person:1", now=now),
    }
    actions[action]()


def test_allowed_table_is_the_transitions_read_backwards() -> None:
    for status, targets in ALLOWED.items():
        expected = {to for froms, to in TRANSITIONS.values() if status in froms}
        assert targets == expected
    assert ALLOWED[CaseStatus.CLOSED] == {CaseStatus.REOPENED}
    assert ALLOWED[CaseStatus.CANCELLED] == frozenset()


def test_main_path_is_allowed() -> None:
    path = [CaseAction.ASSIGN, CaseAction.ACCEPT, CaseAction.RESOLVE, CaseAction.CLOSE]
    status = CaseStatus.SUBMITTED
    for action in path:
        status = next_status("X", status, action)
    assert status is CaseStatus.CLOSED


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=[f"{a}-while-{s}" for s, a in ILLEGAL])
def test_illegal_transition_is_refused_and_writes_nothing(
    db: Session, clock: FixedClock, status: CaseStatus, action: CaseAction
) -> None:
    case = _case_in(db, status, clock)
    events_before = _event_count(db, case)
    with pytest.raises(IllegalTransition) as err:
        _perform(db, case, action, clock)
    assert err.value.status == status and err.value.action == action
    assert case.status == status
    assert _event_count(db, case) == events_before


@pytest.mark.parametrize(("status", "action"), LEGAL, ids=[f"{a}-from-{s}" for s, a in LEGAL])
def test_legal_transition_writes_its_event(
    db: Session, clock: FixedClock, status: CaseStatus, action: CaseAction
) -> None:
    case = _case_in(db, status, clock)
    _perform(db, case, action, clock)
    events = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    mine = [e for e in events if e.kind == str(action)]
    assert mine[-1].from_status == status
    assert mine[-1].to_status == TRANSITIONS[action][1]
    assert mine[-1].at == clock()
