"""The same dialogues over WeChat (plaintext, through ``/wechat``) and Telegram (through ``/telegram``).

Each channel is driven as its users drive it: WeChat users type the number shown next to a choice, Telegram
users press the inline button. Both channels run in one app around one outbox worker.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Protocol

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.db import SessionFactory
from core.lifecycle import CaseStatus
from core.models import Case
from core.services.cases import accept_case, resolve_case
from core.settings import Settings
from core.store import StateStore
from tests.dialog import World, build_world
from tests.fakes import FixedClock, wait_until
from tests.handlers.test_report_issue_dialog import ALL_IN_ONE
from tests.telegram_fake import (
    FakeTelegram,
    drained,
    fake_telegram,
    post_update,
    press,
    running_app,
    telegram_settings,
    text_update,
)
from tests.wechat_fake import (
    FakeWeChat,
    crypto_for,
    fake_wechat,
    live_factory,
    reply_fields,
    sample,
    signed_request,
    wechat_settings,
    with_fields,
)

__all__ = ["fake_telegram", "fake_wechat", "live_factory"]
_msg_ids = itertools.count(880_000)


class User(Protocol):
    """A resident on some channel: says things, picks offered choices, and sees every reply."""

    def say(self, text: str) -> str:
        """Send a text; the replies it caused, as one text."""

    def choose(self, label: str) -> str:
        """Pick the offered choice shown as ``label``; the replies it caused."""


class WeChatUser:
    """Talks to ``/wechat`` in plaintext mode; replies are the passive one plus any that followed via 客服."""

    def __init__(self, client: TestClient, fake: FakeWeChat, factory: SessionFactory) -> None:
        self.client, self.fake, self.factory = client, fake, factory
        self.openid, self.last = "oParity_7c1d", ""

    def say(self, text: str) -> str:
        msg_id = str(next(_msg_ids))
        xml = with_fields(sample("text"), FromUserName=self.openid, ToUserName="gh_gridbot", MsgId=msg_id,
                          Content=text)
        before = len(self._custom())
        query, body = signed_request(xml, "plaintext", crypto_for(self.fake))
        response = self.client.post("/wechat", params=query, content=body)
        assert response.status_code == 200
        passive = [] if response.text == "success" else [
            str(reply_fields(response.text, "plaintext", crypto_for(self.fake))["Content"])]
        wait_until(drained(self.factory, f"wechat:reply:{msg_id}:"), what="the 客服 replies")
        self.last = "\n".join([*passive, *self._custom()[before:]])
        return self.last

    def choose(self, label: str) -> str:
        match = re.search(rf"(\d+)\. {re.escape(label)}$", self.last, re.MULTILINE)
        assert match, f"no choice {label!r} in:\n{self.last}"
        return self.say(match.group(1))

    def _custom(self) -> list[str]:
        return [str(c.body["text"]["content"]) for c in self.fake.calls_to("message/custom/send")
                if c.body and c.body["touser"] == self.openid]


class TelegramUser:
    """Talks to ``/telegram``; replies are the messages the outbox delivered to the chat."""

    def __init__(self, client: TestClient, fake: FakeTelegram, factory: SessionFactory) -> None:
        self.client, self.fake, self.factory, self.chat = client, fake, factory, 3333333

    def say(self, text: str) -> str:
        return self._send(text_update(self.chat, text))

    def choose(self, label: str) -> str:
        return self._send(press(self.fake, self.chat, label))

    def _send(self, update: dict[str, object]) -> str:
        before = len(self.fake.sent_to(self.chat))
        assert post_update(self.client, update) == 200
        wait_until(drained(self.factory, f"telegram:reply:{update['update_id']}:"), what="the replies")
        return "\n".join(m["text"] for m in self.fake.sent_to(self.chat)[before:])


@pytest.fixture
def world(live_factory: SessionFactory, store: StateStore, settings: Settings, clock: FixedClock) -> World:
    return build_world(live_factory, store, settings, clock)


@pytest.fixture(params=["wechat", "telegram"])
def user(request: pytest.FixtureRequest, settings: Settings, engine: Engine, live_factory: SessionFactory,
         store: StateStore, fake_wechat: FakeWeChat, fake_telegram: FakeTelegram, world: World) -> Iterator[User]:
    config = telegram_settings(wechat_settings(settings, fake_wechat), fake_telegram)
    with running_app(config, engine, live_factory, store, world.engine) as (client, _):
        if request.param == "wechat":
            yield WeChatUser(client, fake_wechat, live_factory)
        else:
            yield TelegramUser(client, fake_telegram, live_factory)


def file_report(user: User) -> str:
    """The all-in-one report: skip the photo, confirm; returns the case number."""
    assert "照片" in user.say(ALL_IN_ONE)
    assert "请核对" in user.choose("跳过")
    filed = user.choose("确认")
    assert "工单号：" in filed
    return filed.split("工单号：")[1][:13]


def case(factory: SessionFactory, number: str) -> Case:
    with factory() as session:
        return session.scalars(select(Case).where(Case.number == number)).one()


def test_report_in_one_message_is_filed_after_photo_skip_and_confirm(user: User, world: World,
                                                                     live_factory: SessionFactory) -> None:
    assert "照片" in user.say(ALL_IN_ONE)
    summary = user.choose("跳过")
    assert "市政设施" in summary and "幸福小区3栋" in summary and "139****5678" in summary
    filed = user.choose("确认")
    assert "工单号：20261204-0001" in filed and "第1网格的网格员1（139****0001）" in filed
    filed_case = case(live_factory, "20261204-0001")
    assert (filed_case.category, filed_case.address_text, filed_case.contact_phone) == (
        "municipal", "幸福小区3栋", "13912345678")
    assert filed_case.assignee_id == world.org.workers[0].id


def test_rating_satisfied_closes_the_case(user: User, live_factory: SessionFactory, clock: FixedClock) -> None:
    number = file_report(user)
    with live_factory() as session:
        resolved = session.scalars(select(Case).where(Case.number == number)).one()
        accept_case(session, resolved, actor="staff:W01", now=clock.now)
        resolve_case(session, resolved, actor="staff:W01", now=clock.now, note="已更换灯泡")
        session.commit()
    assert "还有什么想说的" in user.say("满意")
    assert "感谢您的评价" in user.say("跳过")
    assert case(live_factory, number).status == CaseStatus.CLOSED


def test_dissatisfied_with_comment_reopens_the_case(user: User, live_factory: SessionFactory,
                                                    clock: FixedClock) -> None:
    number = file_report(user)
    with live_factory() as session:
        resolved = session.scalars(select(Case).where(Case.number == number)).one()
        accept_case(session, resolved, actor="staff:W01", now=clock.now)
        resolve_case(session, resolved, actor="staff:W01", now=clock.now, note="已更换灯泡")
        session.commit()
    assert "重新交给工作人员" in user.say("不满意，路灯晚上还是不亮")
    reopened = case(live_factory, number)
    assert reopened.status == CaseStatus.ASSIGNED and reopened.rating == 2


def test_cancel_midway_files_nothing(user: User, live_factory: SessionFactory) -> None:
    user.say(ALL_IN_ONE)
    user.choose("跳过")
    assert "已取消" in user.choose("取消")
    with live_factory() as session:
        assert session.scalars(select(Case)).all() == []
