"""The report flow as transcripts: all at once, step by step, corrections, cancels, out-of-order answers."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Case, Person
from core.settings import Settings
from core.store import StateStore
from tests.dialog import World, build_world
from tests.fakes import FixedClock

ALL_IN_ONE = "幸福小区3栋门口的路灯坏了好几天了，电话13912345678"


@pytest.fixture
def world(session_factory: sessionmaker[Session], store: StateStore, settings: Settings,
          clock: FixedClock) -> World:
    return build_world(session_factory, store, settings, clock)


def cases(session_factory: sessionmaker[Session]) -> list[Case]:
    with session_factory() as db:
        return list(db.scalars(select(Case).order_by(Case.id)))


def test_report_in_one_message_is_filed_after_photo_skip_and_confirm(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([
        (ALL_IN_ONE, "照片"),
        ("跳过", "请核对"),
    ])
    assert "市政设施" in dialog.last and "幸福小区3栋" in dialog.last and "139****5678" in dialog.last
    dialog.expect([("确认", "工单号：20261204-0001")])
    assert "第1网格的网格员1（139****0001）" in dialog.last
    [case] = cases(session_factory)
    assert (case.category, case.address_text, case.contact_phone) == ("municipal", "幸福小区3栋", "13912345678")
    assert case.grid_id == world.org.grids[0].id and case.assignee_id == world.org.workers[0].id


def test_report_step_by_step_asks_only_for_what_is_missing(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([
        ("我要报修", "什么问题"),
        ("楼下广场舞太吵了", "在哪里"),
        ("和平里5号楼", "照片"),
    ])
    dialog.send_photo("photo-123")
    assert "电话" in dialog.last
    dialog.expect([
        ("13812345678", "请核对"),
        ("1", "工单号"),  # WeChat users type the number of the button
    ])
    [case] = cases(session_factory)
    assert (case.category, case.media, case.grid_id) == ("noise", ["photo-123"], world.org.grids[2].id)


def test_known_phone_is_offered_masked(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([(ALL_IN_ONE, "照片"), ("跳过", "请核对"), ("确认", "工单号")])
    dialog.expect([("小区门口路灯坏了", "在哪里"), ("幸福小区2栋", "照片"), ("跳过", "用 139****5678 吗")])
    dialog.expect([("用这个号码", "请核对"), ("确认", "20261204-0002")])


def test_phone_given_when_address_asked_is_kept_and_address_asked_again(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([
        ("小区门口路灯坏了", "在哪里"),
        ("13912345678", "已记下电话 139****5678"),
    ])
    assert "位置" in dialog.last
    dialog.expect([("幸福小区3栋", "照片"), ("跳过", "请核对")])


def test_location_instead_of_address(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.say("小区门口路灯坏了")
    dialog.share_location(36.1, 120.3, "幸福小区北门")
    assert "已收到位置" in dialog.last and "照片" in dialog.last
    dialog.expect([("跳过", "电话"), ("不留电话", "幸福小区北门"), ("确认", "工单号")])
    [case] = cases(session_factory)
    assert (case.lat, case.lon, case.contact_phone) == (36.1, 120.3, None)


def test_photo_first_starts_a_report(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.send_photo("photo-9")
    assert "已收到照片" in dialog.last and "什么问题" in dialog.last
    dialog.expect([("垃圾堆在路边没人清理", "在哪里"), ("幸福小区3栋", "电话")])
    dialog.expect([("13912345678", "照片：1 张"), ("确认", "工单号")])
    [case] = cases(session_factory)
    assert (case.category, case.media) == ("sanitation", ["photo-9"])


def test_unsure_category_is_confirmed_with_buttons(world: World) -> None:
    dialog = world.dialog()
    replies = dialog.say("我家楼上漏水")
    assert "请选择" in dialog.last or "方面的问题吗" in dialog.last
    assert any(b.payload.startswith("cat:") for b in replies[0].buttons)
    dialog.press("cat:property")
    assert "在哪里" in dialog.last


def test_edit_address_from_summary_goes_back_to_that_field(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([(ALL_IN_ONE, "照片"), ("跳过", "请核对"), ("修改", "要修改哪一项"), ("地点", "在哪里"),
                   ("和平里5号楼", "请核对")])
    assert "和平里5号楼" in dialog.last
    dialog.expect([("确认", "工单号")])
    assert cases(session_factory)[0].address_text == "和平里5号楼"


def test_typed_correction_and_new_phone_on_summary(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([(ALL_IN_ONE, "照片"), ("跳过", "请核对"),
                   ("地址改成幸福小区5栋", "已记下地点：幸福小区5栋"),
                   ("电话换成13812345678吧", "138****5678"), ("确认", "工单号")])
    [case] = cases(session_factory)
    assert (case.address_text, case.contact_phone) == ("幸福小区5栋", "13812345678")


@pytest.mark.parametrize("answers", [
    ["我要报修"],
    ["小区门口路灯坏了"],
    ["小区门口路灯坏了", "幸福小区3栋"],
    ["小区门口路灯坏了", "幸福小区3栋", "跳过"],
    [ALL_IN_ONE, "跳过"],
    [ALL_IN_ONE, "跳过", "修改"],
])
def test_cancel_at_any_step_files_nothing(world: World, session_factory, answers: list[str]) -> None:
    dialog = world.dialog()
    for answer in answers:
        dialog.say(answer)
    dialog.expect([("取消", "已取消")])
    dialog.expect([("确认", "没太明白")])
    assert cases(session_factory) == []


def test_first_phone_is_remembered_on_the_person(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([(ALL_IN_ONE, "照片"), ("跳过", "请核对"), ("确认", "工单号")])
    with session_factory() as db:
        assert db.scalars(select(Person.phone)).all() == ["13912345678"]


def test_the_answer_names_the_level_that_took_the_case(world: World,
                                                       session_factory: sessionmaker[Session]) -> None:
    from sqlalchemy import delete

    from core.models import DutyShift

    with session_factory() as db:  # nobody on duty in grid G01 tonight: the community desk takes it
        db.execute(delete(DutyShift).where(DutyShift.region_id == world.org.grids[0].id))
        db.commit()
    dialog = world.dialog("night-owl")
    dialog.say("幸福小区3栋门口的路灯坏了，电话13912345678")
    dialog.say("跳过")
    filed = dialog.say("确认")[0].text
    assert "由幸福社区的社区管理员1" in filed, dialog.show()
