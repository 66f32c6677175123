"""The engine's one error boundary, its unit of work, and the conversation kept in the state store."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.engine import Engine
from bot.messages import Inbound, InboundKind, Platform
from bot.session import Conversation, SessionStore
from core.models import Case, ChannelIdentity, Person
from core.services.cases import Router
from core.settings import Settings
from core.store import StateStore
from handlers import texts
from tests.dialog import Dialog, World, build_world
from tests.fakes import FixedClock

REPORT = "幸福小区3栋门口的路灯坏了好几天了，电话13912345678"


@pytest.fixture
def world(session_factory: sessionmaker[Session], store: StateStore, settings: Settings,
          clock: FixedClock) -> World:
    return build_world(session_factory, store, settings, clock)


def broken_router(session: Session) -> Router:
    raise RuntimeError("injected bug")


def test_a_bug_gives_an_apology_with_the_menu_and_commits_nothing(
        world: World, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture) -> None:
    dialog = Dialog(Engine(replace(world.deps, routers=broken_router)), "bug-victim")
    dialog.expect([(REPORT, "照片"), ("跳过", "请核对")])
    with caplog.at_level(logging.INFO):
        replies = dialog.say("确认")
    assert replies[0].text == texts.SORRY and [b.payload for b in replies[0].buttons] == [
        "report", "policy", "progress", "human"]
    with session_factory() as db:
        assert db.scalars(select(Case)).all() == []
        assert db.scalars(select(Person.phone)).all() == [None]
    assert "injected bug" in caplog.text and "13912345678" not in caplog.text
    assert world.deps.store.get_json(SessionStore.key(Platform.CONSOLE, "bug-victim")) is None


def test_a_bug_on_first_contact_leaves_no_person_behind(world: World, session_factory) -> None:
    dialog = Dialog(Engine(replace(world.deps, routers=broken_router)), "newcomer")
    dialog.say("转人工 13912345678")
    assert dialog.last.startswith(texts.SORRY)
    with session_factory() as db:
        assert db.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == "newcomer")).all() == []


def test_conversation_is_stored_versioned_under_its_key(world: World) -> None:
    world.dialog("u-42").say("小区门口路灯坏了")
    stored = world.deps.store.get_json("conv:console:u-42")
    assert stored is not None
    assert (stored["version"], stored["flow"], stored["state"]) == (1, "report_issue", "location")
    assert stored["draft"]["category"] == "municipal"


def test_state_from_another_version_starts_afresh(world: World) -> None:
    world.deps.store.set_json("conv:console:u-7", {"version": 0, "flow": "report_issue"}, 60)
    assert SessionStore(world.deps.store, 60).load(Platform.CONSOLE, "u-7") == Conversation()
    world.dialog("u-7").expect([("确认", "没太明白")])


def test_unsupported_message_kind_gets_an_answer(world: World) -> None:
    replies = world.engine.handle(Inbound(Platform.WECHAT, "w1", "w1", "m1", InboundKind.VOICE))
    assert "文字、图片和位置" in replies[0].text


def test_same_person_across_turns_and_platform_identity(world: World, session_factory) -> None:
    for n in range(2):
        world.engine.handle(Inbound(Platform.TELEGRAM, "777", "777", f"t{n}", InboundKind.TEXT, text="你好"))
    with session_factory() as db:
        [identity] = db.scalars(select(ChannelIdentity).where(ChannelIdentity.platform == "telegram")).all()
        assert identity.external_id == "777"
