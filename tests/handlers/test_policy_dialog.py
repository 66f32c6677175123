"""Policy answers, and 帮我申请 turning one into an enterprise-service case with the profile asked once."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.models import Case, Enterprise
from core.settings import Settings
from core.store import StateStore
from tests.dialog import World, build_world
from tests.fakes import FixedClock

RENT = "我们是小微企业，房租能减免吗？"
GOOD_CODE = "91350100M000100Y43"


@pytest.fixture
def world(session_factory: sessionmaker[Session], store: StateStore, settings: Settings,
          clock: FixedClock) -> World:
    return build_world(session_factory, store, settings, clock)


def test_policy_question_gets_key_sentence_title_and_source(world: World) -> None:
    dialog = world.dialog()
    dialog.say(RENT)
    assert "小微企业和个体工商户国有房屋租金减免" in dialog.last
    assert "减免3个月租金" in dialog.last and "https://zwfw.example.gov.cn/zc/sme-rent-relief.html" in dialog.last
    assert "帮我申请" in dialog.last


def test_no_good_answer_says_so_and_offers_a_helper(world: World) -> None:
    dialog = world.dialog()
    dialog.say("请问申请火星移民签证有什么政策")
    assert "没有找到" in dialog.last and "帮办员" in dialog.last


def test_apply_asks_profile_once_then_reuses_it(world: World, session_factory: sessionmaker[Session]) -> None:
    dialog = world.dialog("enterprise-1")
    dialog.expect([
        (RENT, "租金减免"),
        ("帮我申请", "企业名称"),
        ("滨海小面馆有限公司", "信用代码"),
        ("91350100M000100Y44", "校验不通过"),
        (GOOD_CODE, "行业"),
        ("餐饮", "规模"),
        ("2", "地址"),
        ("幸福小区8号商铺", "工单号"),
    ])
    assert "帮办员小李" in dialog.last
    dialog.expect([(RENT, "租金减免"), ("帮我申请", "已为滨海小面馆有限公司提交帮办申请")])
    with session_factory() as db:
        cases = db.scalars(select(Case).order_by(Case.id)).all()
        [enterprise] = db.scalars(select(Enterprise)).all()
    assert [(c.kind, c.category, c.assignee_id) for c in cases] == [
        ("enterprise_service", "enterprise", world.helper.id)] * 2
    assert (enterprise.credit_code, enterprise.industry, enterprise.size) == (GOOD_CODE, "餐饮", "small")
    assert all(c.enterprise_id == enterprise.id for c in cases)


def test_cancel_while_giving_the_profile_files_nothing(world: World, session_factory) -> None:
    dialog = world.dialog()
    dialog.expect([(RENT, "租金减免"), ("帮我申请", "企业名称"), ("取消", "已取消")])
    with session_factory() as db:
        assert db.scalars(select(Case)).all() == []
