"""Greeting, unknown input, human handoff and staff commands from residents: never a dead end."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.messages import InboundKind
from core.models import Case, CaseEvent
from core.settings import Settings
from core.store import StateStore
from tests.dialog import World, build_world
from tests.fakes import FixedClock

MENU = ("报事", "政策", "进度", "人工")


@pytest.fixture
def world(session_factory: sessionmaker[Session], store: StateStore, settings: Settings,
          clock: FixedClock) -> World:
    return build_world(session_factory, store, settings, clock)


def test_greeting_shows_the_menu(world: World) -> None:
    replies = world.dialog().say("你好")
    assert tuple(b.label for b in replies[0].buttons) == MENU


def test_unknown_input_answers_with_the_menu(world: World) -> None:
    replies = world.dialog().say("阿斯顿发")
    assert "没太明白" in replies[0].text
    assert tuple(b.label for b in replies[0].buttons) == MENU


def test_menu_number_starts_that_flow(world: World) -> None:
    dialog = world.dialog()
    dialog.expect([("你好", "报事"), ("1", "什么问题"), ("路灯坏了", "在哪里")])


def test_menu_button_in_the_middle_of_a_report_switches(world: World) -> None:
    dialog = world.dialog()
    dialog.say("小区门口路灯坏了")
    dialog.press("progress")
    assert "还没有提交过" in dialog.last


def test_human_handoff_asks_phone_and_files_a_callback(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([("转人工", "请留一个电话"), ("13912345678", "会尽快给您回电")])
    with session_factory() as db:
        [case] = db.scalars(select(Case)).all()
    assert (case.kind, case.contact_phone) == ("callback", "13912345678")


def test_human_handoff_with_an_open_case_notes_it_on_the_case(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([("幸福小区3栋门口的路灯坏了好几天了，电话13912345678", "照片"), ("跳过", "请核对"), ("确认", "工单号"),
                   ("转人工", "已通知工单")])
    with session_factory() as db:
        notes = db.scalars(select(CaseEvent.note).where(CaseEvent.kind == "commented")).all()
        assert notes == ["用户请求人工回电：13912345678"]
        assert len(db.scalars(select(Case)).all()) == 1


def test_staff_command_from_a_resident_is_politely_refused(world: World) -> None:
    dialog = world.dialog()
    dialog.expect([("我要接单", "还没有绑定工作人员身份")])


def test_a_grid_qr_code_ties_the_user_to_that_grid_for_reports(world: World) -> None:
    dialog = world.dialog("qr-user")
    greeting = dialog.send(InboundKind.SUBSCRIBE, "<follow via QR G03>", payload="qrscene_G03")[0].text
    assert "第3网格" in greeting
    dialog.say("楼道里堆满了杂物，堵住了消防通道")
    dialog.say("就在我家楼下")
    dialog.say("跳过")
    dialog.say("不留电话")
    filed = dialog.say("确认")[0].text
    assert "工单号" in filed and "网格员3" in filed, dialog.show()


def test_following_again_in_the_middle_of_a_report_greets_afresh(world: World) -> None:
    dialog = world.dialog("restarter")
    assert "在哪里" in dialog.say("小区门口路灯坏了")[0].text
    assert "您好" in dialog.send(InboundKind.SUBSCRIBE, "</start>")[0].text
    assert "您还没有提交过事项" in dialog.say("查一下进度")[0].text  # the abandoned draft did not linger
