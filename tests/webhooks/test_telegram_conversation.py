"""Done-when: a resident's whole story and a worker's accept/resolve over ``/telegram`` with inline buttons,
every update re-delivered (one after the other and at once) without changing anything."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core.db import SessionFactory
from core.lifecycle import CaseStatus
from core.models import Case, InboundMessage, OutboxMessage
from core.services.binding import create_invite
from core.settings import Settings
from core.store import StateStore
from tests.dialog import build_world
from tests.fakes import FixedClock, wait_until
from tests.telegram_fake import (
    FakeTelegram,
    drained,
    fake_telegram,
    message_update,
    post_update,
    press,
    running_app,
    telegram_settings,
    text_update,
)
from tests.wechat_fake import JPEG, live_factory

__all__ = ["fake_telegram", "live_factory"]
RESIDENT, WORKER = 1111111, 2222222
VENUE = {"location": {"latitude": 36.1, "longitude": 120.3}, "title": "幸福小区北门", "address": "幸福路1号"}
PHOTO = [{"file_id": "PHOTO_FILE_ID_S", "file_unique_id": "S", "width": 90, "height": 90},
         {"file_id": "PHOTO_FILE_ID_L", "file_unique_id": "L", "width": 800, "height": 800}]


class Chat:
    """One Telegram user talking to the app; every update is delivered twice more, as Telegram may."""

    def __init__(self, client: TestClient, fake: FakeTelegram, factory: SessionFactory, user_id: int) -> None:
        self.client, self.fake, self.factory, self.user_id = client, fake, factory, user_id

    def send(self, update: dict[str, Any]) -> str:
        """Deliver the update (and its retries) and return the texts the bot sent back to it."""
        before = len(self.fake.sent_to(self.user_id))
        assert post_update(self.client, update) == 200
        with ThreadPoolExecutor(2) as pool:  # Telegram re-sending the same update_id
            assert list(pool.map(lambda _: post_update(self.client, update), range(2))) == [200, 200]
        wait_until(drained(self.factory, f"telegram:reply:{update['update_id']}:"), what="the replies")
        return "\n".join(m["text"] for m in self.fake.sent_to(self.user_id)[before:])

    def say(self, text: str) -> str:
        """Type a message (or a /command)."""
        return self.send(text_update(self.user_id, text))

    def press(self, label: str) -> str:
        """Press the inline button labelled ``label`` on the latest message showing it."""
        return self.send(press(self.fake, self.user_id, label))

    def share(self, **content: Any) -> str:
        """Send a location, venue, photo or contact."""
        return self.send(message_update(self.user_id, **content))

    def pushes(self) -> list[dict[str, Any]]:
        """Every message delivered to this user."""
        return self.fake.sent_to(self.user_id)


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in message["reply_markup"]["inline_keyboard"] for b in row]


def test_resident_story_and_worker_accept_resolve_over_telegram(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_telegram: FakeTelegram, clock: FixedClock) -> None:
    config = telegram_settings(settings, fake_telegram)
    world = build_world(live_factory, store, config, clock)
    with live_factory() as session:
        code = create_invite(session, "W01", now=clock())
        session.commit()
    with running_app(config, engine, live_factory, store, world.engine) as (client, _):
        worker = Chat(client, fake_telegram, live_factory, WORKER)
        resident = Chat(client, fake_telegram, live_factory, RESIDENT)
        assert "绑定成功" in worker.say(f"/start bind_{code}")

        assert "方面的问题吗" in resident.say("我家楼上漏水")
        assert "在哪里" in resident.press("物业管理")
        assert resident.pushes()[-1]["reply_markup"]["keyboard"][0] == [
            {"text": "📍 发送当前位置", "request_location": True}]
        assert "照片" in resident.share(location=VENUE["location"], venue=VENUE)
        assert "电话" in resident.share(photo=PHOTO, caption="漏水的地方")
        assert resident.pushes()[-1]["reply_markup"] == {
            "keyboard": [[{"text": "📱 使用本机号码", "request_contact": True}], [{"text": "不留电话"}]],
            "one_time_keyboard": True, "resize_keyboard": True}
        assert "请核对" in resident.share(contact={"phone_number": "+86 138 1234 5678", "first_name": "T",
                                                   "user_id": RESIDENT})
        filed = resident.press("确认")
        assert "工单号：" in filed
        number = filed.split("工单号：")[1][:13]

        wait_until(lambda: any(number in m["text"] for m in worker.pushes()), what="the push to the worker")
        push = next(m for m in worker.pushes() if number in m["text"])
        assert ("接单", f"task:accept:{number}") in buttons(push)
        assert "已接单" in worker.press("接单")
        assert {"chat_id": WORKER, "message_id": push["message_id"]} in [
            c.params for c in fake_telegram.calls_to("editMessageReplyMarkup")]
        assert "处理结果" not in worker.say(f"办结 {number} 已修好")
        assert "已办结" in worker.say("跳过")

        wait_until(lambda: any("已修好" in m["text"] for m in resident.pushes()), what="the resolved notice")
        notice = next(m for m in resident.pushes() if "已修好" in m["text"])
        assert ("5 非常满意", "score:5") in buttons(notice)
        resident.press("5 非常满意")
        assert "感谢" in resident.say("跳过")

    with live_factory() as session:
        case = session.scalars(select(Case)).one()
        updates = session.scalar(select(func.count()).select_from(InboundMessage))
        replies = session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.startswith("telegram:reply:"))).all()
    assert case.status == CaseStatus.CLOSED and case.rating == 5
    assert (case.category, case.lat, case.lon, case.contact_phone) == ("property", 36.1, 120.3, "13812345678")
    assert case.assignee_id == world.org.workers[0].id
    assert len(case.media) == 1
    wait_until((config.media_dir / case.media[0]).exists, what="the photo download")
    assert (config.media_dir / case.media[0]).read_bytes() == JPEG
    assert [c.params for c in fake_telegram.calls_to("getFile")] == [{"file_id": "PHOTO_FILE_ID_L"}]
    assert updates == 12 and len(replies) == len(set(replies)) >= 12
    assert len(fake_telegram.calls_to("answerCallbackQuery")) == 4  # 物业管理, 确认, 接单, 5 非常满意


def test_reply_keyboard_choices_arrive_as_text_and_count_as_presses(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_telegram: FakeTelegram, clock: FixedClock) -> None:
    config = telegram_settings(settings, fake_telegram)
    world = build_world(live_factory, store, config, clock)
    with running_app(config, engine, live_factory, store, world.engine) as (client, _):
        resident = Chat(client, fake_telegram, live_factory, RESIDENT)
        assert "照片" in resident.say("幸福小区3栋门口的路灯坏了")
        assert "电话" in resident.say("跳过")
        asked = resident.pushes()[-1]
        assert asked["reply_markup"]["keyboard"][-1] == [{"text": "不留电话"}]
        assert "请核对" in resident.say("不留电话")  # the plain keyboard button sends its label as text
        assert "工单号：" in resident.press("确认")
    with live_factory() as session:
        assert session.scalars(select(Case.contact_phone)).one() is None
