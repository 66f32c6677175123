"""Accounts the platform no longer reaches (unfollowed, bot blocked): marked, skipped by notices, cleared on return.

Runs on both databases against the fake WeChat and Telegram APIs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.adapters.telegram_api import TelegramApi, TelegramSender
from bot.adapters.wechat_adapter import custom_text
from bot.adapters.wechat_api import WeChatApi, WeChatSender
from bot.notifier import OutboxNotifier
from bot.outbox import OutboxWorker, enqueue
from core.db import SessionFactory, unit_of_work
from core.models import ChannelIdentity, OutboxMessage, Person
from core.notify import Notice, NoticeKind
from core.services.people import identify, mark_unreachable
from core.store import StateStore
from core.taxonomy import load_taxonomy
from tests.fakes import FixedClock
from tests.telegram_fake import FakeTelegram, fake_telegram
from tests.wechat_fake import FakeWeChat, fake_wechat, live_factory

__all__ = ["fake_telegram", "fake_wechat", "live_factory"]
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
CHAT = 1111111


def met(factory: SessionFactory, platform: str, external_id: str) -> int:
    """The person behind a chat account we have met; their id."""
    with unit_of_work(factory) as session:
        person, _ = identify(session, platform, external_id, NOW)
        return person.id


def unreachable(factory: SessionFactory, platform: str, external_id: str) -> bool:
    with factory() as session:
        identity = session.scalars(select(ChannelIdentity).where(
            ChannelIdentity.platform == platform, ChannelIdentity.external_id == external_id)).one()
        return identity.unreachable_since is not None


def statuses(factory: SessionFactory) -> dict[str, str]:
    with factory() as session:
        return {row.dedupe_key: row.status for row in session.scalars(select(OutboxMessage))}


def test_wechat_43004_marks_the_follower_gone_and_drops_their_other_rows(
        live_factory: SessionFactory, fake_wechat: FakeWeChat, store: StateStore, clock: FixedClock) -> None:
    met(live_factory, "wechat", "o_gone")
    met(live_factory, "wechat", "o_here")
    with unit_of_work(live_factory) as session:
        for key, openid in (("a1", "o_gone"), ("a2", "o_gone"), ("b1", "o_here")):
            enqueue(session, key, "wechat", openid, "custom", {"body": custom_text(openid, "你好")}, now=clock())
    fake_wechat.fail("message/custom/send", errcode=43004)
    api = WeChatApi(fake_wechat.base, fake_wechat.app_id, fake_wechat.secret, store, timeout=0.5)
    OutboxWorker(live_factory, {"wechat": WeChatSender(api)}, clock=clock).run_once()
    assert statuses(live_factory) == {"a1": "failed", "a2": "failed", "b1": "sent"}
    assert [c.body["touser"] for c in fake_wechat.calls_to("message/custom/send")] == ["o_gone", "o_here"]
    assert unreachable(live_factory, "wechat", "o_gone") and not unreachable(live_factory, "wechat", "o_here")
    with live_factory() as session:
        dropped = session.scalars(select(OutboxMessage.last_error).where(OutboxMessage.dedupe_key == "a2")).one()
    assert dropped is not None and dropped.startswith("recipient unreachable") and "43004" in dropped


def test_telegram_block_marks_the_chat_gone_and_later_rows_are_not_sent(
        live_factory: SessionFactory, fake_telegram: FakeTelegram, clock: FixedClock) -> None:
    met(live_factory, "telegram", str(CHAT))
    with unit_of_work(live_factory) as session:
        for key in ("k1", "k2"):
            enqueue(session, key, "telegram", str(CHAT), "text", {"text": "你好", "buttons": []}, now=clock())
    fake_telegram.blocked.add(CHAT)
    sender = TelegramSender(TelegramApi(fake_telegram.base, fake_telegram.token, timeout=0.5))
    OutboxWorker(live_factory, {"telegram": sender}, clock=clock).run_once()
    assert statuses(live_factory) == {"k1": "failed", "k2": "failed"}
    assert len(fake_telegram.calls_to("sendMessage")) == 1
    assert unreachable(live_factory, "telegram", str(CHAT))


def test_notices_skip_unreachable_accounts_and_reach_the_others(live_factory: SessionFactory) -> None:
    person_id = met(live_factory, "wechat", "o_both")
    with unit_of_work(live_factory) as session:
        session.add(ChannelIdentity(platform="telegram", external_id="2222", person_id=person_id, created_at=NOW))
    notifier = OutboxNotifier(ZoneInfo("Asia/Shanghai"), load_taxonomy(None))

    def notify(key: str) -> None:
        with unit_of_work(live_factory) as session:
            notifier.to_person(session, person_id, Notice(NoticeKind.DAILY_DIGEST, key, data={}))

    notify("d1")
    with unit_of_work(live_factory) as session:
        assert mark_unreachable(session, "wechat", "o_both", NOW) is True
        assert mark_unreachable(session, "wechat", "o_both", NOW) is False  # already marked: unchanged
    notify("d2")
    with unit_of_work(live_factory) as session:
        mark_unreachable(session, "telegram", "2222", NOW)
    notify("d3")
    with live_factory() as session:
        queued = sorted((row.dedupe_key.split(":")[0], row.platform) for row in session.scalars(select(OutboxMessage)))
    assert queued == [("d1", "telegram"), ("d1", "wechat"), ("d2", "telegram")]


def test_writing_again_clears_the_mark(live_factory: SessionFactory) -> None:
    met(live_factory, "wechat", "o_back")
    with unit_of_work(live_factory) as session:
        mark_unreachable(session, "wechat", "o_back", NOW)
    assert unreachable(live_factory, "wechat", "o_back")
    met(live_factory, "wechat", "o_back")
    assert not unreachable(live_factory, "wechat", "o_back")


def test_an_account_never_met_is_not_created_by_marking(live_factory: SessionFactory) -> None:
    with live_factory() as session:
        before = len(session.scalars(select(Person.id)).all())
    with unit_of_work(live_factory) as session:
        assert mark_unreachable(session, "wechat", "o_stranger", NOW) is False
    with live_factory() as session:
        assert len(session.scalars(select(Person.id)).all()) == before
        assert session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == "o_stranger")).all() == []
