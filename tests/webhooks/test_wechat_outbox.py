"""The outbox and its worker against the fake API and both databases: retries, fallback, restarts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.adapters.wechat_adapter import custom_text
from bot.adapters.wechat_api import WeChatApi, WeChatSender
from bot.outbox import Delivery, OutboxWorker, backoff, enqueue
from core.db import SessionFactory, unit_of_work
from core.models import OutboxMessage
from core.store import StateStore
from tests.fakes import FixedClock
from tests.wechat_fake import FakeWeChat, fake_wechat, live_factory

__all__ = ["fake_wechat", "live_factory"]


def worker(factory: SessionFactory, fake: FakeWeChat, store: StateStore, clock: FixedClock,
           **options: object) -> OutboxWorker:
    api = WeChatApi(fake.base, fake.app_id, fake.secret, store, timeout=0.5)
    return OutboxWorker(factory, {"wechat": WeChatSender(api)}, clock=clock, **options)  # type: ignore[arg-type]


def add(factory: SessionFactory, clock: FixedClock, key: str, text: str = "你好", **payload: object) -> bool:
    with unit_of_work(factory) as session:
        return enqueue(session, key, "wechat", "o_user", "custom",
                       {"body": custom_text("o_user", text), **payload}, now=clock())


def rows(factory: SessionFactory) -> dict[str, tuple[str, int]]:
    with factory() as session:
        return {r.dedupe_key: (r.status, r.attempts) for r in session.scalars(select(OutboxMessage))}


def test_enqueue_is_idempotent_on_the_dedupe_key(live_factory: SessionFactory, clock: FixedClock) -> None:
    assert add(live_factory, clock, "k1") is True
    assert add(live_factory, clock, "k1") is False
    assert rows(live_factory) == {"k1": ("pending", 0)}


def test_server_errors_are_retried_with_backoff_until_sent(live_factory: SessionFactory, fake_wechat: FakeWeChat,
                                                          store: StateStore, clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    fake_wechat.fail("message/custom/send", status=500, times=2)
    sender = worker(live_factory, fake_wechat, store, clock, base_delay=10)
    assert sender.run_once() == 1 and sender.run_once() == 0  # not due again before the backoff
    clock.advance(seconds=10)
    sender.run_once()
    clock.advance(seconds=20)
    sender.run_once()
    assert rows(live_factory) == {"k1": ("sent", 3)}
    assert len(fake_wechat.calls_to("message/custom/send")) == 3


def test_backoff_grows_exponentially_with_jitter() -> None:
    delays = [backoff(n, 2.0) for n in (1, 2, 3, 4)]
    assert 1.0 <= delays[0] <= 2.0 and 2.0 <= delays[1] <= 4.0 and 4.0 <= delays[2] <= 8.0 and 8.0 <= delays[3] <= 16.0


def test_timeouts_are_retried(live_factory: SessionFactory, fake_wechat: FakeWeChat, store: StateStore,
                              clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    WeChatApi(fake_wechat.base, fake_wechat.app_id, fake_wechat.secret, store).access_token()
    fake_wechat.fail("message/custom/send", delay=1.0, errcode=0)
    sender = worker(live_factory, fake_wechat, store, clock, base_delay=1)
    sender.run_once()
    clock.advance(seconds=5)
    sender.run_once()
    assert rows(live_factory) == {"k1": ("sent", 2)}


def test_gives_up_as_dead_after_max_attempts(live_factory: SessionFactory, fake_wechat: FakeWeChat,
                                             store: StateStore, clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    fake_wechat.fail("message/custom/send", status=503, times=5)
    sender = worker(live_factory, fake_wechat, store, clock, base_delay=1, max_attempts=3)
    for _ in range(5):
        sender.run_once()
        clock.advance(seconds=60)
    assert rows(live_factory) == {"k1": ("dead", 3)}


def test_outside_the_window_falls_back_to_a_template(live_factory: SessionFactory, fake_wechat: FakeWeChat,
                                                     store: StateStore, clock: FixedClock) -> None:
    fallback = {"notice": "new_case", "data": {"thing1": "路灯不亮", "character_string2": "20261204-0001"},
                "url": "https://example.com/c/1"}
    add(live_factory, clock, "k1", fallback=fallback)
    fake_wechat.fail("message/custom/send", errcode=45015)
    sender = worker(live_factory, fake_wechat, store, clock, template_ids={"new_case": "TPL_NEW_CASE"})
    sender.run_once()
    sender.run_once()
    assert rows(live_factory) == {"k1": ("fallback", 1), "k1:template": ("sent", 1)}
    assert [c.body for c in fake_wechat.calls_to("message/template/send")] == [
        {"touser": "o_user", "template_id": "TPL_NEW_CASE", "url": "https://example.com/c/1",
         "data": {"thing1": "路灯不亮", "character_string2": "20261204-0001"}}]


def test_quota_error_without_a_template_fails_without_retrying(
        live_factory: SessionFactory, fake_wechat: FakeWeChat, store: StateStore, clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    fake_wechat.fail("message/custom/send", errcode=45047)
    sender = worker(live_factory, fake_wechat, store, clock)
    sender.run_once()
    clock.advance(hours=1)
    sender.run_once()
    assert rows(live_factory) == {"k1": ("failed", 1)}


def test_restart_mid_delivery_neither_loses_nor_doubles(live_factory: SessionFactory, fake_wechat: FakeWeChat,
                                                        store: StateStore, clock: FixedClock) -> None:
    for n in range(3):
        add(live_factory, clock, f"k{n}", text=f"消息{n}")
    crashed = worker(live_factory, fake_wechat, store, clock, lease_seconds=30)
    leased = crashed.claim()  # the process dies here: claimed, never sent, never marked
    restarted = worker(live_factory, fake_wechat, store, clock, lease_seconds=30)
    assert len(leased) == 3 and restarted.run_once() == 0  # leases still held
    clock.advance(seconds=31)
    assert restarted.run_once() == 3
    restarted.run_once()
    assert crashed.deliver(leased[0]) == "lease-expired"  # a stalled worker waking up late sends nothing
    contents = [c.body["text"]["content"] for c in fake_wechat.calls_to("message/custom/send") if c.body]
    assert sorted(contents) == ["消息0", "消息1", "消息2"]
    assert set(rows(live_factory).values()) == {("sent", 2)}


def test_a_stale_lease_cannot_mark_a_row_another_worker_owns(
        live_factory: SessionFactory, fake_wechat: FakeWeChat, store: StateStore, clock: FixedClock) -> None:
    add(live_factory, clock, "k1")
    first = worker(live_factory, fake_wechat, store, clock, lease_seconds=30)
    old = first.claim()[0]
    clock.advance(seconds=31)
    second = worker(live_factory, fake_wechat, store, clock, lease_seconds=30)
    fresh = second.claim()[0]
    assert first._finish(old, status="sent") is False
    assert second._finish(fresh, status="sent") is True
    assert fresh.lease - old.lease == timedelta(seconds=31)


def test_a_row_late_in_a_batch_gets_a_full_lease_for_its_send(
        live_factory: SessionFactory, fake_wechat: FakeWeChat, store: StateStore, clock: FixedClock) -> None:
    for n in range(2):
        add(live_factory, clock, f"k{n}", text=f"消息{n}")
    api = WeChatApi(fake_wechat.base, fake_wechat.app_id, fake_wechat.secret, store, timeout=0.5)
    other = worker(live_factory, fake_wechat, store, clock, lease_seconds=30)

    def slow_send(delivery: Delivery) -> None:  # each send takes 20 s; another worker polls meanwhile
        clock.advance(seconds=20)
        other.run_once()
        WeChatSender(api)(delivery)

    batch = OutboxWorker(live_factory, {"wechat": slow_send}, clock=clock, lease_seconds=30)
    assert batch.run_once() == 2  # the second row's send ends 40 s after the claim, past the claim's lease
    contents = [c.body["text"]["content"] for c in fake_wechat.calls_to("message/custom/send") if c.body]
    assert contents == ["消息0", "消息1"]
    assert set(rows(live_factory).values()) == {("sent", 1)}
