"""The staff side as whole stories: bind, get the push, accept, resolve with a photo, the reporter rates;
transfer, 督办, 我的任务, 今日统计 — and every refusal for someone who may not."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.lifecycle import CaseStatus
from core.models import AuditRecord, Case, OutboxMessage
from core.services.binding import create_invite
from core.settings import Settings
from core.store import StateStore
from tests.dialog import Dialog, World, build_world
from tests.fakes import FixedClock

REPORT = "幸福小区3栋门口的路灯坏了好几天了，电话13912345678"


@pytest.fixture
def world(session_factory: sessionmaker[Session], store: StateStore, settings: Settings, clock: FixedClock) -> World:
    return build_world(session_factory, store, settings, clock)


def _bound(world: World, session_factory: sessionmaker[Session], staff_code: str, user_key: str) -> Dialog:
    with session_factory() as db:
        code = create_invite(db, staff_code, now=world.deps.clock())
        db.commit()
    dialog = world.dialog(user_key)
    assert "绑定成功" in dialog.say(f"绑定 {code}")[0].text
    return dialog


def _file(world: World) -> str:
    resident = world.dialog("resident-1")
    resident.say(REPORT)
    resident.say("跳过")
    answer = resident.say("确认")[0].text
    assert "工单号" in answer, resident.show()
    return answer.split("工单号：")[1][:13]


def _outbox(session_factory: sessionmaker[Session], recipient: str) -> list[OutboxMessage]:
    with session_factory() as db:
        return list(db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)
                               .order_by(OutboxMessage.id)))


def _case(session_factory: sessionmaker[Session], number: str) -> Case:
    with session_factory() as db:
        return db.scalars(select(Case).where(Case.number == number)).one()


def test_report_to_rating_with_everyone_told(world: World, session_factory: sessionmaker[Session]) -> None:
    worker = _bound(world, session_factory, "W01", "worker-1")
    number = _file(world)
    push = _outbox(session_factory, "worker-1")[-1]
    assert number in push.payload["text"] and "幸福小区3栋" in push.payload["text"]
    assert ["接单", f"task:accept:{number}"] in push.payload["buttons"]

    assert "已接单" in worker.press(f"task:accept:{number}")[0].text
    assert number in _outbox(session_factory, "resident-1")[-1].payload["text"]  # the reporter hears of it

    assert "处理结果" not in worker.say(f"办结 {number} 已更换灯泡")[0].text
    assert "已办结" in worker.send_photo("after-1")[0].text
    case = _case(session_factory, number)
    assert case.status == CaseStatus.RESOLVED and case.resolution_note == "已更换灯泡"
    told = _outbox(session_factory, "resident-1")[-1].payload
    assert "已更换灯泡" in told["text"] and ["5 非常满意", "score:5"] in told["buttons"]

    resident = world.dialog("resident-1")
    resident.press("score:5")
    assert "感谢" in resident.say("跳过")[0].text
    assert _case(session_factory, number).status == CaseStatus.CLOSED


def test_dissatisfied_reporter_sends_the_case_back_to_the_worker(world: World,
                                                                 session_factory: sessionmaker[Session]) -> None:
    worker = _bound(world, session_factory, "W01", "worker-1")
    number = _file(world)
    worker.say(f"接单 {number}")
    worker.say(f"办结 {number} 已修好")
    worker.say("跳过")
    world.dialog("resident-1").say("不满意，灯还是不亮")
    assert _case(session_factory, number).status == CaseStatus.ASSIGNED
    assert "重新办理" in _outbox(session_factory, "worker-1")[-1].payload["text"]


def test_another_worker_cannot_touch_the_task_and_is_audited(world: World,
                                                             session_factory: sessionmaker[Session]) -> None:
    _bound(world, session_factory, "W01", "worker-1")
    intruder = _bound(world, session_factory, "W02", "worker-2")
    number = _file(world)
    for command in (f"接单 {number}", f"详情 {number}", f"办结 {number} 修好了"):
        assert "没有权限" in intruder.say(command)[0].text
    assert _case(session_factory, number).status == CaseStatus.ASSIGNED
    with session_factory() as db:
        denials = db.scalars(select(AuditRecord).where(AuditRecord.allowed.is_(False))).all()
    assert [(d.actor, d.action) for d in denials] == [("staff:W02", "accept"), ("staff:W02", "view"),
                                                      ("staff:W02", "resolve")]


def test_a_resident_cannot_use_staff_commands(world: World, session_factory: sessionmaker[Session]) -> None:
    number = _file(world)
    other = world.dialog("resident-2")
    assert "还没有绑定工作人员身份" in other.say(f"接单 {number}")[0].text
    assert "没有找到" in other.say(f"查一下 {number}")[0].text


def test_transfer_to_a_named_grid_tells_the_new_worker_and_the_reporter(
        world: World, session_factory: sessionmaker[Session]) -> None:
    worker = _bound(world, session_factory, "W01", "worker-1")
    _bound(world, session_factory, "W02", "worker-2")
    number = _file(world)
    assert "原因" in worker.say(f"转派 {number}")[0].text
    assert "第2网格" in worker.say("不在我们网格，转第2网格")[0].text
    case = _case(session_factory, number)
    assert case.assignee_id == world.org.workers[1].id and case.status == CaseStatus.ASSIGNED
    assert "转派" in _outbox(session_factory, "worker-2")[-1].payload["text"]
    assert "转交" in _outbox(session_factory, "resident-1")[-1].payload["text"]


def test_supervision_by_the_community_admin(world: World, session_factory: sessionmaker[Session]) -> None:
    _bound(world, session_factory, "W01", "worker-1")
    admin = _bound(world, session_factory, "A01", "admin-1")
    street = _bound(world, session_factory, "SA01", "street-1")
    other_admin = _bound(world, session_factory, "A02", "admin-2")
    number = _file(world)
    assert "没有权限" in other_admin.say(f"督办 {number} 快点")[0].text
    assert "已督办" in admin.say(f"督办 {number} 请今天内修好")[0].text
    assert _case(session_factory, number).supervised
    assert "请今天内修好" in _outbox(session_factory, "worker-1")[-1].payload["text"]
    assert "请今天内修好" in _outbox(session_factory, "street-1")[-1].payload["text"]
    assert "督办" in street.say(f"详情 {number}")[0].text  # the timeline shows it


def test_my_tasks_and_today_stats(world: World, session_factory: sessionmaker[Session], clock: FixedClock) -> None:
    worker = _bound(world, session_factory, "W01", "worker-1")
    admin = _bound(world, session_factory, "A01", "admin-1")
    first = _file(world)
    clock.advance(hours=3)  # the first one is now past its accept deadline
    second = _file(world)
    tasks = worker.say("我的任务")[0].text
    assert tasks.index(first) < tasks.index(second) and "【超时】" in tasks
    assert "这是管理员的功能" in worker.say("今日统计")[0].text
    clock.advance(minutes=1)
    stats = admin.say("今日统计")[0].text
    assert "幸福社区" in stats and "第1网格｜2｜0｜0｜1" in stats


def test_wrong_binding_codes_are_refused_then_locked(world: World) -> None:
    guesser = world.dialog("guesser")
    for _ in range(5):
        assert "无效" in guesser.say("绑定 ABCD2345")[0].text
    assert "尝试次数过多" in guesser.say("绑定 ABCD2345")[0].text
