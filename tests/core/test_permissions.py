"""一级一权限: who sees and does what; every denial is refused and audited."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import PermissionDenied
from core.models import AuditRecord, Case, Region, Staff
from core.permissions import Act, Viewer, allowed, require
from core.services import cases
from core.taxonomy import load_taxonomy
from tests.factories import make_org, make_resident
from tests.fakes import FixedClock, StubRouter

TZ = ZoneInfo("Asia/Shanghai")


def _case(db: Session, clock: FixedClock, grid: Region, worker: Staff, reporter_id: int) -> Case:
    return cases.open_case(db, cases.OpenCase(category="noise", description="楼上装修太吵", reporter_id=reporter_id),
                           router=StubRouter(grid, worker), taxonomy=load_taxonomy(), now=clock(), tz=TZ)


@pytest.fixture
def world(db: Session, clock: FixedClock) -> dict[str, object]:
    org = make_org(db)
    alice, bob = make_resident(db, "爱丽丝"), make_resident(db, "鲍勃", "13800000000")
    case = _case(db, clock, org.grids[0], org.workers[0], alice.id)  # grid G01 in community CM01
    return {"org": org, "alice": alice, "bob": bob, "case": case}


@pytest.mark.parametrize(("who", "act", "expected"), [
    ("reporter", Act.VIEW, True), ("reporter", Act.RATE, True), ("reporter", Act.ACCEPT, False),
    ("other_resident", Act.VIEW, False), ("other_resident", Act.RATE, False),
    ("assignee", Act.VIEW, True), ("assignee", Act.ACCEPT, True), ("assignee", Act.RESOLVE, True),
    ("assignee", Act.SUPERVISE, False),
    ("other_worker", Act.VIEW, False), ("other_worker", Act.RESOLVE, False), ("other_worker", Act.ACCEPT, False),
    ("own_community_admin", Act.VIEW, True), ("own_community_admin", Act.SUPERVISE, True),
    ("own_community_admin", Act.RESOLVE, False),
    ("other_community_admin", Act.VIEW, False), ("other_community_admin", Act.STATS, False),
    ("street_admin", Act.VIEW, True), ("street_admin", Act.SUPERVISE, True),
    ("city_desk", Act.VIEW, True), ("city_desk", Act.TRANSFER, True),
])
def test_who_may_do_what(db: Session, world: dict[str, object], who: str, act: Act, expected: bool) -> None:
    org = world["org"]
    viewers = {
        "reporter": Viewer(world["alice"].id), "other_resident": Viewer(world["bob"].id),  # type: ignore[attr-defined]
        "assignee": Viewer(None, org.workers[0]), "other_worker": Viewer(None, org.workers[1]),  # type: ignore[attr-defined]
        "own_community_admin": Viewer(None, org.community_admins[0]),  # type: ignore[attr-defined]
        "other_community_admin": Viewer(None, org.community_admins[1]),  # type: ignore[attr-defined]
        "street_admin": Viewer(None, org.street_admin), "city_desk": Viewer(None, org.city_desk),  # type: ignore[attr-defined]
    }
    assert allowed(db, viewers[who], act, world["case"]) is expected  # type: ignore[arg-type]


def test_denial_raises_and_is_audited(db: Session, clock: FixedClock, world: dict[str, object]) -> None:
    intruder = Viewer(None, world["org"].workers[1])  # type: ignore[attr-defined]
    case = world["case"]
    with pytest.raises(PermissionDenied):
        require(db, intruder, Act.RESOLVE, case, clock())  # type: ignore[arg-type]
    record = db.scalars(select(AuditRecord).where(AuditRecord.allowed.is_(False))).one()
    assert record.actor == "staff:W02" and record.action == "resolve" and record.target == case.number  # type: ignore[attr-defined]


def test_allowed_action_writes_no_audit(db: Session, clock: FixedClock, world: dict[str, object]) -> None:
    require(db, Viewer(None, world["org"].workers[0]), Act.ACCEPT, world["case"], clock())  # type: ignore[arg-type, attr-defined]
    assert db.scalars(select(AuditRecord)).all() == []
