"""Telegram deliveries through the outbox against the fake Bot API: 429 retry_after, 5xx, 403 blocked, splits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.adapters.telegram_api import TelegramApi, TelegramApiError, TelegramSender
from bot.outbox import OutboxWorker, enqueue
from core.db import SessionFactory, unit_of_work
from core.models import OutboxMessage
from tests.fakes import FixedClock
from tests.telegram_fake import FakeTelegram, fake_telegram
from tests.wechat_fake import live_factory

__all__ = ["fake_telegram", "live_factory"]
CHAT = 1111111


def worker(factory: SessionFactory, fake: FakeTelegram, clock: FixedClock, **options: object) -> OutboxWorker:
    api = TelegramApi(fake.base, fake.token, timeout=0.5)
    sender = TelegramSender(api, clock=lambda: clock().timestamp())
    return OutboxWorker(factory, {"telegram": sender}, clock=clock, **options)  # type: ignore[arg-type]


def add(factory: SessionFactory, clock: FixedClock, key: str, text: str = "你好",
        buttons: list[list[str]] | None = None) -> None:
    with unit_of_work(factory) as session:
        enqueue(session, key, "telegram", str(CHAT), "text", {"text": text, "buttons": buttons or [], "hint": "回复"},
                now=clock())


def rows(factory: SessionFactory) -> dict[str, tuple[str, int]]:
    with factory() as session:
        return {r.dedupe_key: (r.status, r.attempts) for r in session.scalars(select(OutboxMessage))}


def test_429_waits_exactly_retry_after_then_sends(live_factory: SessionFactory, fake_telegram: FakeTelegram,
                                                  clock: FixedClock) -> None:
    add(live_factory, clock, "k1", buttons=[["接单", "task:accept:20261204-0001"]])
    fake_telegram.fail("sendMessage", status=429, retry_after=1)
    sender = worker(live_factory, fake_telegram, clock, base_delay=60)
    sender.run_once()
    assert rows(live_factory) == {"k1": ("pending", 1)}
    clock.advance(seconds=0.5)
    assert sender.run_once() == 0  # not due before retry_after
    clock.advance(seconds=0.5)
    sender.run_once()
    assert rows(live_factory) == {"k1": ("sent", 2)}
    sent = fake_telegram.sent_to(CHAT)
    assert len(sent) == 1 and sent[0]["reply_markup"] == {
        "inline_keyboard": [[{"text": "接单", "callback_data": "task:accept:20261204-0001"}]]}


def test_a_429_pauses_the_rest_of_the_batch_without_calling_the_api(
        live_factory: SessionFactory, fake_telegram: FakeTelegram, clock: FixedClock) -> None:
    for key in ("k1", "k2", "k3"):
        add(live_factory, clock, key)
    fake_telegram.fail("sendMessage", status=429, retry_after=2)
    sender = worker(live_factory, fake_telegram, clock)
    sender.run_once()
    assert len(fake_telegram.calls_to("sendMessage")) == 1
    assert {status for status, _ in rows(live_factory).values()} == {"pending"}
    clock.advance(seconds=2)
    sender.run_once()
    assert {status for status, _ in rows(live_factory).values()} == {"sent"}


def test_server_errors_are_retried_with_backoff(live_factory: SessionFactory, fake_telegram: FakeTelegram,
                                                clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    fake_telegram.fail("sendMessage", status=500, times=2)
    sender = worker(live_factory, fake_telegram, clock, base_delay=10)
    for _ in range(3):
        sender.run_once()
        clock.advance(seconds=20)
    assert rows(live_factory) == {"k1": ("sent", 3)}


def test_timeouts_are_retried(live_factory: SessionFactory, fake_telegram: FakeTelegram, clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    fake_telegram.fail("sendMessage", status=200, delay=1.0)
    sender = worker(live_factory, fake_telegram, clock, base_delay=1)
    sender.run_once()
    clock.advance(seconds=5)
    sender.run_once()
    assert rows(live_factory)["k1"][0] == "sent"


def test_blocked_by_the_user_fails_at_once(live_factory: SessionFactory, fake_telegram: FakeTelegram,
                                           clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    fake_telegram.blocked.add(CHAT)
    worker(live_factory, fake_telegram, clock).run_once()
    clock.advance(hours=1)
    worker(live_factory, fake_telegram, clock).run_once()
    assert rows(live_factory) == {"k1": ("failed", 1)}
    with live_factory() as session:
        assert "bot was blocked by the user" in str(session.scalars(select(OutboxMessage.last_error)).one())


def test_long_text_is_sent_in_chunks_with_the_keyboard_on_the_last(
        live_factory: SessionFactory, fake_telegram: FakeTelegram, clock: FixedClock) -> None:
    add(live_factory, clock, "k1", text="\n".join("路" * 100 for _ in range(50)), buttons=[["确认", "confirm"]])
    worker(live_factory, fake_telegram, clock).run_once()
    sent = fake_telegram.sent_to(CHAT)
    assert len(sent) == 2 and "reply_markup" not in sent[0] and sent[1]["reply_markup"]


def test_removing_a_keyboard_twice_counts_as_done(fake_telegram: FakeTelegram) -> None:
    api = TelegramApi(fake_telegram.base, fake_telegram.token)
    message_id = api.send_message(CHAT, "hi", {"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]})
    api.remove_keyboard(chat_id=CHAT, message_id=message_id)
    api.remove_keyboard(chat_id=CHAT, message_id=message_id)
    with pytest.raises(TelegramApiError) as missing:
        api.remove_keyboard(chat_id=CHAT, message_id=999_999)
    assert missing.value.code == 400 and not missing.value.retryable


def test_wrong_token_is_an_api_error(fake_telegram: FakeTelegram) -> None:
    with pytest.raises(TelegramApiError) as refused:
        TelegramApi(fake_telegram.base, "1:wrong").get_me()
    assert refused.value.code == 401
