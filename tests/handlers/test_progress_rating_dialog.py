"""Progress shows only the user's own cases; rating after resolution closes or (不满意) reopens."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.lifecycle import CaseStatus
from core.models import Case
from core.services.cases import accept_case, resolve_case
from core.settings import Settings
from core.store import StateStore
from tests.dialog import Dialog, World, build_world
from tests.fakes import FixedClock

REPORT = "幸福小区3栋门口的路灯坏了好几天了，电话13912345678"


@pytest.fixture
def world(session_factory: sessionmaker[Session], store: StateStore, settings: Settings,
          clock: FixedClock) -> World:
    return build_world(session_factory, store, settings, clock)


def file_report(dialog: Dialog) -> str:
    dialog.expect([(REPORT, "照片"), ("跳过", "请核对"), ("确认", "工单号")])
    return dialog.last.split("工单号：")[1][:13]


def resolve(session_factory: sessionmaker[Session], number: str, clock: FixedClock) -> None:
    with session_factory() as db:
        case = db.scalars(select(Case).where(Case.number == number)).one()
        accept_case(db, case, actor="staff:W01", now=clock.now)
        resolve_case(db, case, actor="staff:W01", now=clock.now, note="已更换灯泡")
        db.commit()


def status_of(session_factory: sessionmaker[Session], number: str) -> str:
    with session_factory() as db:
        return db.scalars(select(Case.status).where(Case.number == number)).one()


def test_progress_lists_own_cases_with_status_and_handler(world: World) -> None:
    dialog = world.dialog()
    number = file_report(dialog)
    dialog.expect([("查一下进度", number)])
    assert "市政设施" in dialog.last and "已派单" in dialog.last and "网格员1" in dialog.last


def test_case_number_shows_that_case_only_to_its_reporter(world: World) -> None:
    owner, other = world.dialog("owner"), world.dialog("someone-else")
    number = file_report(owner)
    owner.expect([(f"查询{number}", "路灯坏了")])
    other.say(f"查询{number}")
    stranger_view = other.last
    other.say("查询20261204-9999")
    assert stranger_view == other.last.replace("20261204-9999", number)
    assert "没有找到" in stranger_view and "路灯" not in stranger_view


def test_progress_without_cases_says_so(world: World) -> None:
    dialog = world.dialog()
    dialog.expect([("查一下进度", "还没有提交过")])


def test_rating_satisfied_closes_the_case(world: World, session_factory, clock: FixedClock) -> None:
    dialog = world.dialog()
    number = file_report(dialog)
    resolve(session_factory, number, clock)
    dialog.expect([("满意", "还有什么想说的"), ("跳过", "感谢您的评价")])
    assert status_of(session_factory, number) == CaseStatus.CLOSED


def test_dissatisfied_with_comment_reopens_the_case(world: World, session_factory, clock: FixedClock) -> None:
    dialog = world.dialog()
    number = file_report(dialog)
    resolve(session_factory, number, clock)
    dialog.expect([("不满意，路灯晚上还是不亮", "重新交给工作人员")])
    assert status_of(session_factory, number) == CaseStatus.ASSIGNED
    with session_factory() as db:
        case = db.scalars(select(Case).where(Case.number == number)).one()
        assert (case.rating, case.rating_comment) == (2, "不满意，路灯晚上还是不亮")


def test_rating_by_button_number(world: World, session_factory, clock: FixedClock) -> None:
    dialog = world.dialog()
    number = file_report(dialog)
    resolve(session_factory, number, clock)
    dialog.press(f"rate:{number}")
    assert "打分" in dialog.last
    dialog.expect([("3", "还有什么想说的"), ("师傅很负责", "感谢")])
    with session_factory() as db:
        assert db.scalars(select(Case.rating)).one() == 3


def test_rating_an_unresolved_case_is_refused_clearly(world: World) -> None:
    dialog = world.dialog()
    number = file_report(dialog)
    dialog.expect([(f"评价{number} 满意", "还没有办结")])


def test_rating_someone_elses_case_finds_nothing(world: World, session_factory, clock: FixedClock) -> None:
    owner, other = world.dialog("owner"), world.dialog("someone-else")
    number = file_report(owner)
    resolve(session_factory, number, clock)
    other.expect([(f"评价{number} 满意", "没有待评价")])
    assert status_of(session_factory, number) == CaseStatus.RESOLVED
