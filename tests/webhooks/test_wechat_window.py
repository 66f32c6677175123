"""The 客服 window and quota, on both stores: opened by interactions, counted per send, refused like WeChat does."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.adapters.wechat_api import WeChatApi, WeChatSender
from bot.adapters.wechat_window import OUTSIDE_WINDOW, QUOTA_USED, ServiceWindows
from bot.messages import Inbound, InboundKind, Platform
from bot.outbox import OutboxWorker, enqueue
from core.db import SessionFactory, unit_of_work
from core.models import OutboxMessage
from core.settings import Settings
from core.store import StateStore
from tests.fakes import FixedClock
from tests.wechat_fake import (
    EchoEngine,
    FakeWeChat,
    crypto_for,
    fake_wechat,
    live_factory,
    running_app,
    sample,
    signed_request,
    wechat_settings,
)

__all__ = ["fake_wechat", "live_factory"]


def windows(store: StateStore, clock: FixedClock) -> ServiceWindows:
    return ServiceWindows(store, clock=lambda: clock().timestamp())


def interaction(kind: InboundKind, user: str = "o_user") -> Inbound:
    return Inbound(Platform.WECHAT, user, user, f"m-{kind}", kind)


def codes(admit: ServiceWindows, times: int, user: str = "o_user") -> list[int | None]:
    return [None if (r := admit.admit(user)) is None else r.code for _ in range(times)]


def test_a_message_allows_five_within_48_hours(store: StateStore, clock: FixedClock) -> None:
    window = windows(store, clock)
    window.interacted(interaction(InboundKind.TEXT))
    assert codes(window, 6) == [None] * 5 + [QUOTA_USED]
    window.interacted(interaction(InboundKind.TEXT))  # a new message gives a fresh quota, not an added one
    assert codes(window, 6) == [None] * 5 + [QUOTA_USED]
    clock.advance(hours=48, seconds=1)
    assert codes(window, 1) == [OUTSIDE_WINDOW]


def test_a_click_allows_three_within_a_minute_and_never_narrows_a_message_window(
        store: StateStore, clock: FixedClock) -> None:
    window = windows(store, clock)
    window.interacted(interaction(InboundKind.BUTTON))
    assert codes(window, 4) == [None, None, None, QUOTA_USED]
    window.interacted(interaction(InboundKind.SUBSCRIBE, "o_other"))
    clock.advance(seconds=61)
    assert codes(window, 1, "o_other") == [OUTSIDE_WINDOW]
    window.interacted(interaction(InboundKind.TEXT))
    window.interacted(interaction(InboundKind.BUTTON))  # the 48 h window with 5 left stays
    clock.advance(hours=1)
    assert codes(window, 5) == [None] * 5


def test_records_only_interactions_and_tries_users_it_never_saw(store: StateStore, clock: FixedClock) -> None:
    window = windows(store, clock)
    for kind in (InboundKind.UNSUBSCRIBE, InboundKind.VIEW, InboundKind.UNSUPPORTED):
        window.interacted(interaction(kind))
    window.interacted(Inbound(Platform.WECHAT, "o_user", "o_user", "e1", InboundKind.LOCATION,
                              payload="event"))  # the periodic location report WeChat sends by itself
    assert codes(window, 10) == [None] * 10  # no record: WeChat's own answer decides


def test_a_used_up_window_falls_back_to_a_template_without_calling_the_custom_api(
        live_factory: SessionFactory, fake_wechat: FakeWeChat, store: StateStore, clock: FixedClock) -> None:
    window = windows(store, clock)
    window.interacted(interaction(InboundKind.TEXT, "o_staff"))
    fallback = {"notice": "new_case", "data": {"thing1": "路灯不亮"}}
    with unit_of_work(live_factory) as session:
        for n in range(6):
            enqueue(session, f"n{n}", "wechat", "o_staff", "text", {"text": f"第{n}条", "fallback": fallback},
                    now=clock())
    api = WeChatApi(fake_wechat.base, fake_wechat.app_id, fake_wechat.secret, store, timeout=0.5)
    worker = OutboxWorker(live_factory, {"wechat": WeChatSender(api, window)}, clock=clock,
                          template_ids={"new_case": "TPL"})
    worker.run_once()
    worker.run_once()
    with live_factory() as session:
        status = {r.dedupe_key: r.status for r in session.scalars(select(OutboxMessage))}
    assert [status[f"n{n}"] for n in range(6)] == ["sent"] * 5 + ["fallback"]
    assert status["n5:template"] == "sent"
    assert len(fake_wechat.calls_to("message/custom/send")) == 5
    assert len(fake_wechat.calls_to("message/template/send")) == 1


def test_the_webhook_opens_the_window_of_each_first_delivery(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_wechat: FakeWeChat) -> None:
    user = sample("text").split("FromUserName><![CDATA[")[1].split("]")[0]
    window = ServiceWindows(store)
    with running_app(wechat_settings(settings, fake_wechat), engine, live_factory, store, EchoEngine()) as (client, _):
        query, body = signed_request(sample("text"), "plaintext", crypto_for(fake_wechat))
        assert _post(client, query, body) == 200
        assert codes(window, 2, user) == [None, None]
        assert _post(client, query, body) == 200  # WeChat's retry: no new window, so no fresh quota
    assert codes(window, 4, user) == [None, None, None, QUOTA_USED]
    opened = store.get_json(f"wechat:window:{user}")
    assert opened is not None and opened["until"] - opened["opened"] == 48 * 3600


def _post(client: TestClient, query: dict[str, str], body: bytes) -> int:
    return client.post("/wechat", params=query, content=body).status_code
