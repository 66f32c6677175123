"""``/telegram``: the secret header, refusals, unreadable updates, dedupe, every update type, buttons, photos."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from core.db import SessionFactory, unit_of_work
from core.models import ChannelIdentity, InboundMessage
from core.services.people import identify
from core.settings import Settings
from core.store import StateStore
from tests.fakes import wait_until
from tests.telegram_fake import (
    SECRET,
    FakeTelegram,
    fake_telegram,
    post_update,
    running_app,
    sample,
    telegram_settings,
    text_update,
)
from tests.wechat_fake import JPEG, EchoEngine, live_factory
from webhooks.app import AppState

__all__ = ["fake_telegram", "live_factory"]  # fixtures used by name
USER = 1111111


@pytest.fixture
def echo() -> EchoEngine:
    return EchoEngine()


@pytest.fixture
def app(settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_telegram: FakeTelegram, echo: EchoEngine) -> Iterator[tuple[TestClient, AppState]]:
    with running_app(telegram_settings(settings, fake_telegram), engine, live_factory, store, echo) as running:
        yield running


def recorded(factory: SessionFactory) -> list[tuple[str, str]]:
    with factory() as session:
        return [tuple(r) for r in session.execute(
            select(InboundMessage.message_id, InboundMessage.kind).where(InboundMessage.platform == "telegram")
            .order_by(InboundMessage.id))]


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", SECRET + "x"])
def test_missing_or_wrong_secret_is_403_and_nothing_is_recorded(
        app: tuple[TestClient, AppState], echo: EchoEngine, live_factory: SessionFactory, secret: str | None) -> None:
    client, _ = app
    assert post_update(client, sample("start"), secret=secret) == 403
    assert echo.turns == [] and recorded(live_factory) == []


def test_without_a_configured_secret_every_update_is_403(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_telegram: FakeTelegram, echo: EchoEngine) -> None:
    config = telegram_settings(settings, fake_telegram, telegram_webhook_secret=None)
    with running_app(config, engine, live_factory, store, echo) as (client, _):
        assert post_update(client, sample("start")) == 403
        assert post_update(client, sample("start"), secret="") == 403
    assert echo.turns == []


def test_not_configured_is_503(settings: Settings, engine: Engine, live_factory: SessionFactory,
                               store: StateStore, echo: EchoEngine) -> None:
    with running_app(settings, engine, live_factory, store, echo) as (client, _):
        assert post_update(client, sample("start")) == 503


def test_oversized_body_is_400(app: tuple[TestClient, AppState], echo: EchoEngine) -> None:
    client, _ = app
    huge = text_update(USER, "路" * 200_000)
    assert post_update(client, json.dumps(huge).encode()) == 400
    assert echo.turns == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"update_id": "x"}',
                                  json.dumps(sample("official_text")).encode(),
                                  json.dumps(sample("official_callback")).encode()])
def test_unreadable_updates_are_200_and_logged(app: tuple[TestClient, AppState], echo: EchoEngine,
                                               live_factory: SessionFactory, caplog: pytest.LogCaptureFixture,
                                               body: bytes) -> None:
    client, _ = app
    with caplog.at_level(logging.WARNING, logger="webhooks.telegram"):
        assert post_update(client, body) == 200
    assert "telegram update ignored" in caplog.text
    assert echo.turns == [] and recorded(live_factory) == []


def test_duplicate_update_id_runs_one_turn_and_sends_one_reply(
        app: tuple[TestClient, AppState], echo: EchoEngine, fake_telegram: FakeTelegram,
        live_factory: SessionFactory) -> None:
    client, state = app
    update = text_update(USER, "小区门口路灯坏了", update_id=424242)
    assert [post_update(client, update) for _ in range(3)] == [200, 200, 200]
    wait_until(lambda: len(fake_telegram.sent_to(USER)) == 1, what="the reply")
    assert len(echo.turns) == 1 and recorded(live_factory) == [("424242", "text")]
    assert state.metrics.dedupe_hits.labels("telegram")._value.get() == 2


def test_eight_concurrent_duplicates_run_one_turn(settings: Settings, engine: Engine, live_factory: SessionFactory,
                                                  store: StateStore, fake_telegram: FakeTelegram) -> None:
    slow = EchoEngine(delay=0.3)
    update = text_update(USER, "小区门口路灯坏了")
    with running_app(telegram_settings(settings, fake_telegram), engine, live_factory, store, slow) as (client, _):
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: post_update(client, update), range(8)))
        wait_until(lambda: len(fake_telegram.sent_to(USER)) == 1, what="the reply")
    assert statuses == [200] * 8 and len(slow.turns) == 1 and len(recorded(live_factory)) == 1


@pytest.mark.parametrize(("name", "kind", "said"), [
    ("start", "subscribe", ""),
    ("location", "location", ""),
    ("contact", "contact", ""),
    ("sticker", "unsupported", "sticker"),
    ("callback", "button", "ticket:42:accept"),
])
def test_every_message_type_gets_a_turn_and_a_reply(app: tuple[TestClient, AppState], echo: EchoEngine,
                                                    fake_telegram: FakeTelegram, name: str, kind: str,
                                                    said: str) -> None:
    client, _ = app
    update = sample(name)
    assert post_update(client, update) == 200
    [turn] = echo.turns
    chat = turn.chat_key
    wait_until(lambda: len(fake_telegram.sent_to(chat)) == 1, what="the reply")
    [sent] = fake_telegram.sent_to(chat)
    assert turn.kind.value == kind and sent["text"] == f"echo {kind} {said}".strip()
    assert sent["reply_markup"] == {"inline_keyboard": [[{"text": "确认", "callback_data": "yes"},
                                                         {"text": "修改", "callback_data": "edit"}]]}


@pytest.mark.parametrize(("name", "kind"), [("edited_message", "unsupported"), ("my_chat_member_kicked", "unsubscribe"),
                                          ("group_text", "unsupported")])
def test_edits_blocks_and_group_messages_are_recorded_without_a_turn(
        app: tuple[TestClient, AppState], echo: EchoEngine, fake_telegram: FakeTelegram,
        live_factory: SessionFactory, name: str, kind: str) -> None:
    client, _ = app
    update = sample(name)
    assert post_update(client, update) == 200
    assert echo.turns == [] and recorded(live_factory) == [(str(update["update_id"]), kind)]
    assert fake_telegram.calls_to("sendMessage") == []


def test_button_press_is_answered_and_its_keyboard_removed(app: tuple[TestClient, AppState],
                                                           fake_telegram: FakeTelegram) -> None:
    client, _ = app
    message_id = fake_telegram.answer("sendMessage", fake_telegram.token, {
        "chat_id": USER, "text": "New ticket #42",
        "reply_markup": {"inline_keyboard": [[{"text": "Accept", "callback_data": "ticket:42:accept"}]]}})[1][
        "result"]["message_id"]
    update = sample("callback")
    update["callback_query"]["message"]["message_id"] = message_id
    assert post_update(client, update) == 200
    assert [c.params for c in fake_telegram.calls_to("answerCallbackQuery")] == [
        {"callback_query_id": "4382bfdwdsb323b2da"}]
    assert [c.params for c in fake_telegram.calls_to("editMessageReplyMarkup")] == [
        {"chat_id": USER, "message_id": message_id}]
    update["update_id"] += 1  # a double tap is a new update on a message whose keyboard is already gone
    update["callback_query"]["id"] = "second-tap"
    assert post_update(client, update) == 200
    assert len(fake_telegram.calls_to("editMessageReplyMarkup")) == 2  # "not modified": taken as done


def test_press_on_an_inline_message_edits_by_inline_id(app: tuple[TestClient, AppState],
                                                       fake_telegram: FakeTelegram) -> None:
    client, _ = app
    assert post_update(client, sample("callback_inline")) == 200
    assert [c.params for c in fake_telegram.calls_to("editMessageReplyMarkup")] == [
        {"inline_message_id": "1234csdbsk4839"}]


def test_photo_is_fetched_with_getfile_into_the_media_dir(app: tuple[TestClient, AppState], echo: EchoEngine,
                                                          fake_telegram: FakeTelegram) -> None:
    client, state = app
    assert post_update(client, sample("photo")) == 200
    stored = state.settings.media_dir / str(echo.turns[0].media_ref)
    wait_until(stored.exists, what="the download")
    assert stored.read_bytes() == JPEG and str(echo.turns[0].media_ref).startswith("telegram/")
    assert [c.params for c in fake_telegram.calls_to("getFile")] == [{"file_id": "PHOTO_FILE_ID_L"}]
    assert [c.params for c in fake_telegram.calls_to("download")] == [{"file_path": "photos/PHOTO_FILE_ID_L.jpg"}]


def test_slow_turn_is_answered_within_the_budget_and_replies_follow(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_telegram: FakeTelegram) -> None:
    slow = EchoEngine(delay=0.6, replies=2)
    config = telegram_settings(settings, fake_telegram, turn_budget_seconds=0.1)
    with running_app(config, engine, live_factory, store, slow) as (client, _):
        assert post_update(client, text_update(USER, "你好")) == 200
        assert fake_telegram.sent_to(USER) == []
        wait_until(lambda: len(fake_telegram.sent_to(USER)) == 2, what="both replies")
    assert [m["text"] for m in fake_telegram.sent_to(USER)] == ["echo text 你好", "more 1"]


def test_store_key_lost_still_runs_one_turn(app: tuple[TestClient, AppState], echo: EchoEngine,
                                            store: StateStore) -> None:
    client, _ = app
    update = text_update(USER, "你好")
    post_update(client, update)
    store.delete(f"dedupe:telegram:{update['update_id']}")  # expired: the inbound row still knows the update
    post_update(client, update)
    assert len(echo.turns) == 1


def test_recorded_count_is_one_per_update(app: tuple[TestClient, AppState], live_factory: SessionFactory) -> None:
    client, _ = app
    for n in range(3):
        post_update(client, text_update(USER, f"第{n}条"))
    with live_factory() as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 3


def test_blocking_the_bot_marks_the_account_unreachable(app: tuple[TestClient, AppState],
                                                        live_factory: SessionFactory) -> None:
    client, _ = app
    with unit_of_work(live_factory) as session:
        identify(session, "telegram", str(USER), datetime.now(UTC))
    assert post_update(client, sample("my_chat_member_kicked")) == 200
    with live_factory() as session:
        identity = session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == str(USER))).one()
        assert identity.unreachable_since is not None
