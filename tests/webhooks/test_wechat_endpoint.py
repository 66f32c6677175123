"""``/wechat``: verification, the three modes for every type, refusals, dedupe and the turn budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.adapters.wechat_adapter import MessageCrypto
from core.db import SessionFactory, unit_of_work
from core.models import ChannelIdentity, InboundMessage
from core.services.people import identify
from core.settings import Settings
from core.store import StateStore
from tests.wechat_fake import (
    JPEG,
    MODES,
    TOKEN,
    EchoEngine,
    FakeWeChat,
    crypto_for,
    fake_wechat,
    live_factory,
    reply_fields,
    running_app,
    sample,
    signed_request,
    wechat_settings,
    with_fields,
)
from webhooks.app import AppState

__all__ = ["fake_wechat", "live_factory"]  # fixtures used by name


@pytest.fixture
def echo() -> EchoEngine:
    return EchoEngine()


@pytest.fixture
def app(settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_wechat: FakeWeChat, echo: EchoEngine) -> Iterator[tuple[TestClient, AppState]]:
    with running_app(wechat_settings(settings, fake_wechat), engine, live_factory, store, echo) as running:
        yield running


def post(client: TestClient, xml: str, mode: str, crypto: MessageCrypto) -> tuple[int, str]:
    query, body = signed_request(xml, mode, crypto)
    response = client.post("/wechat", params=query, content=body)
    return response.status_code, response.text


def recorded(factory: SessionFactory) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(InboundMessage)) or 0)


def test_get_verification_echoes_echostr_with_the_published_signature(app: tuple[TestClient, AppState]) -> None:
    client, state = app
    assert state.wechat is not None
    state.wechat.settings = Settings(**(state.wechat.settings.model_dump() | {"wechat_token": "spamtest"}))
    state.wechat.clock = lambda: 1409735669.0
    query = {"signature": "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a", "timestamp": "1409735669",
             "nonce": "1320562132", "echostr": "shr5ch"}
    assert client.get("/wechat", params=query).text == "shr5ch"
    assert client.get("/wechat", params=query | {"signature": "0" * 40}).status_code == 403


def test_stale_timestamp_is_refused_even_when_signed(app: tuple[TestClient, AppState],
                                                     fake_wechat: FakeWeChat) -> None:
    client, _ = app
    query, body = signed_request(sample("text"), "plaintext", crypto_for(fake_wechat),
                                 timestamp=str(int(time.time()) - 301))
    assert client.post("/wechat", params=query, content=body).status_code == 403


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("name", "expected"), [
    ("text", "echo text this is a test"), ("image", "echo image"), ("voice_recognition", "echo voice 腾讯微信团队"),
    ("voice", "echo voice"), ("location", "echo location"), ("link", "echo link 公众平台官网链接"),
    ("subscribe", "echo subscribe"), ("subscribe_qrscene", "echo subscribe 123123"), ("scan", "echo scan 123123"),
    ("click", "echo button EVENTKEY"), ("video", "echo unsupported video"),
])
def test_every_message_type_gets_a_passive_reply_in_every_mode(
        app: tuple[TestClient, AppState], fake_wechat: FakeWeChat, mode: str, name: str, expected: str) -> None:
    client, _ = app
    crypto = crypto_for(fake_wechat)
    status, body = post(client, sample(name), mode, crypto)
    fields = reply_fields(body, mode, crypto)
    assert status == 200
    assert fields["Content"].split("\n")[0] == expected
    assert fields["Content"].endswith("回复数字选择：\n1. 确认\n2. 修改")
    assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (
        sample(name).split("FromUserName><![CDATA[")[1].split("]")[0], "toUser", "text")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["unsubscribe", "view", "location_event", "templatesendjobfinish",
                                  "subscribe_msg_popup_event"])
def test_events_nobody_reads_a_reply_to_are_recorded_and_answered_success(
        app: tuple[TestClient, AppState], fake_wechat: FakeWeChat, echo: EchoEngine, live_factory: SessionFactory,
        mode: str, name: str) -> None:
    client, _ = app
    assert post(client, sample(name), mode, crypto_for(fake_wechat)) == (200, "success")
    assert echo.turns == [] and recorded(live_factory) == 1


def test_location_event_keeps_the_last_location(app: tuple[TestClient, AppState], fake_wechat: FakeWeChat,
                                                store: StateStore) -> None:
    client, _ = app
    post(client, sample("location_event"), "safe", crypto_for(fake_wechat))
    assert store.get_json("location:wechat:fromUser") == {"lat": 23.137466, "lon": 113.352425}


def test_forged_msg_signature_is_403_and_nothing_is_recorded(
        app: tuple[TestClient, AppState], fake_wechat: FakeWeChat, echo: EchoEngine,
        live_factory: SessionFactory) -> None:
    client, _ = app
    query, body = signed_request(sample("text"), "safe", crypto_for(fake_wechat))
    forged = client.post("/wechat", params=query | {"msg_signature": "f" * 40}, content=body)
    swapped = client.post("/wechat", params=query | {"msg_signature": query["signature"]}, content=body)
    unsigned = client.post("/wechat", params=query | {"signature": "0" * 40}, content=body)
    assert (forged.status_code, swapped.status_code, unsigned.status_code) == (403, 403, 403)
    assert echo.turns == [] and recorded(live_factory) == 0


def test_message_encrypted_for_another_app_is_403(app: tuple[TestClient, AppState]) -> None:
    client, _ = app
    other = MessageCrypto(TOKEN, "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx_someone_else")
    assert post(client, sample("text"), "safe", other)[0] == 403


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("xml", [
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "boom">]><xml><MsgType>text</MsgType><C>&x;</C></xml>',
    "<xml><ToUserName>unclosed</xml>",
    "<xml><ToUserName><![CDATA[gh]]></ToUserName></xml>",
    "<xml>" + "<Content>aaaaaaaa</Content>" * 4000 + "</xml>",
])
def test_malformed_entity_laden_or_oversize_xml_is_400(app: tuple[TestClient, AppState],
                                                       fake_wechat: FakeWeChat, echo: EchoEngine,
                                                       mode: str, xml: str) -> None:
    client, _ = app
    assert post(client, xml, mode, crypto_for(fake_wechat))[0] == 400
    assert echo.turns == []


def test_duplicate_msg_id_runs_one_turn_and_gets_the_same_reply(
        app: tuple[TestClient, AppState], fake_wechat: FakeWeChat, echo: EchoEngine) -> None:
    client, state = app
    crypto = crypto_for(fake_wechat)
    answers = [reply_fields(post(client, sample("text"), "safe", crypto)[1], "safe", crypto) for _ in range(3)]
    assert len(echo.turns) == 1
    assert answers[0]["Content"] == answers[1]["Content"] == answers[2]["Content"]
    assert state.metrics.dedupe_hits.labels("wechat")._value.get() == 2


def test_eight_concurrent_duplicates_run_one_turn(settings: Settings, engine: Engine, live_factory: SessionFactory,
                                                  store: StateStore, fake_wechat: FakeWeChat) -> None:
    slow = EchoEngine(delay=0.3)
    crypto = crypto_for(fake_wechat)
    with (running_app(wechat_settings(settings, fake_wechat), engine, live_factory, store, slow) as (client, _),
          ThreadPoolExecutor(8) as pool):
        results = list(pool.map(lambda _: post(client, sample("text"), "safe", crypto), range(8)))
    contents = {reply_fields(body, "safe", crypto)["Content"] for status, body in results}
    assert len(slow.turns) == 1 and recorded(live_factory) == 1
    assert {status for status, _ in results} == {200} and len(contents) == 1


def test_events_in_the_same_second_are_told_apart_by_event(app: tuple[TestClient, AppState],
                                                           fake_wechat: FakeWeChat, echo: EchoEngine) -> None:
    client, _ = app
    for name in ("subscribe", "click", "subscribe"):
        post(client, sample(name), "plaintext", crypto_for(fake_wechat))
    assert [t.kind.value for t in echo.turns] == ["subscribe", "button"]


def test_slow_turn_answers_success_then_pushes_through_the_customer_service_api(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_wechat: FakeWeChat) -> None:
    slow = EchoEngine(delay=0.5, replies=2)
    config = wechat_settings(settings, fake_wechat, turn_budget_seconds=0.1)
    crypto = crypto_for(fake_wechat)
    with running_app(config, engine, live_factory, store, slow) as (client, _):
        assert post(client, sample("text"), "safe", crypto) == (200, "success")
        assert post(client, sample("text"), "safe", crypto) == (200, "success")  # WeChat's retry
        sent = wait_for(lambda: fake_wechat.calls_to("message/custom/send"), count=2)
    assert len(slow.turns) == 1
    assert [c.body for c in sent] == [
        {"touser": "fromUser", "msgtype": "text",
         "text": {"content": "echo text this is a test\n回复数字选择：\n1. 确认\n2. 修改"}},
        {"touser": "fromUser", "msgtype": "text", "text": {"content": "more 1"}},
    ]


def test_extra_replies_of_a_fast_turn_follow_through_the_customer_service_api(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_wechat: FakeWeChat) -> None:
    chatty = EchoEngine(replies=2)
    with running_app(wechat_settings(settings, fake_wechat), engine, live_factory, store, chatty) as (client, _):
        status, body = post(client, sample("text"), "plaintext", crypto_for(fake_wechat))
        sent = wait_for(lambda: fake_wechat.calls_to("message/custom/send"), count=1)
    assert status == 200 and "echo text" in body
    assert [c.body["text"]["content"] for c in sent if c.body] == ["more 1"]


def test_photo_is_fetched_into_the_media_dir_and_attached_by_path(
        app: tuple[TestClient, AppState], fake_wechat: FakeWeChat, echo: EchoEngine) -> None:
    client, state = app
    fake_wechat.media["media_id"] = JPEG
    post(client, sample("image"), "safe", crypto_for(fake_wechat))
    stored = state.settings.media_dir / str(echo.turns[0].media_ref)
    assert wait_for(lambda: [stored] if stored.exists() else [], count=1) == [stored]
    assert stored.read_bytes() == JPEG and echo.turns[0].media_ref.startswith("wechat/")


def test_distinct_messages_each_get_a_turn(app: tuple[TestClient, AppState], fake_wechat: FakeWeChat,
                                           echo: EchoEngine, live_factory: SessionFactory) -> None:
    client, _ = app
    for n in range(3):
        post(client, with_fields(sample("text"), MsgId=f"99{n}", Content=f"第{n}条"), "compatible",
             crypto_for(fake_wechat))
    assert [t.text for t in echo.turns] == ["第0条", "第1条", "第2条"] and recorded(live_factory) == 3


def wait_for(probe, count: int, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """Poll ``probe`` until it returns ``count`` items (or time out and return what it has)."""
    deadline = time.monotonic() + timeout
    found = probe()
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        found = probe()
    return found


_ = Path


def test_unfollowing_marks_the_account_unreachable(app: tuple[TestClient, AppState], fake_wechat: FakeWeChat,
                                                   live_factory: SessionFactory) -> None:
    client, _ = app
    with unit_of_work(live_factory) as session:
        identify(session, "wechat", "FromUser", datetime.now(UTC))
    assert post(client, sample("unsubscribe"), "safe", crypto_for(fake_wechat)) == (200, "success")
    with live_factory() as session:
        identity = session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == "FromUser")).one()
        assert identity.unreachable_since is not None
