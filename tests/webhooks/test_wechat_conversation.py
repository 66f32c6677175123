"""Done-when: a report driven through ``/wechat`` in safe mode, with WeChat's retries, files exactly one case."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.db import SessionFactory
from core.models import Case, ChannelIdentity, InboundMessage, Person
from core.settings import Settings
from core.store import StateStore
from tests.dialog import build_world
from tests.fakes import FixedClock, wait_until
from tests.wechat_fake import (
    JPEG,
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

__all__ = ["fake_wechat", "live_factory"]
USER = "oResident_4f2a9c"
WORKER = "oWorker_W01_77a1"


def message(name: str, msg_id: str, **values: str) -> str:
    return with_fields(sample(name), FromUserName=USER, ToUserName="gh_gridbot", MsgId=msg_id, **values)


def test_report_location_photo_confirm_in_safe_mode_files_one_case_despite_retries(
        settings: Settings, engine: Engine, live_factory: SessionFactory, store: StateStore,
        fake_wechat: FakeWeChat, clock: FixedClock) -> None:
    config = wechat_settings(settings, fake_wechat)
    world = build_world(live_factory, store, config, clock)
    crypto = crypto_for(fake_wechat)
    fake_wechat.media["photo-media-1"] = JPEG
    steps = [
        (message("text", "7001", Content="小区门口路灯坏了"), "在哪里"),
        (message("location", "7002", Location_X="36.1", Location_Y="120.3", Label="幸福小区北门"), "照片"),
        (message("image", "7003", MediaId="photo-media-1"), "电话"),
        (message("text", "7004", Content="13812345678"), "请核对"),
        (message("text", "7005", Content="1"), "工单号"),
    ]
    with live_factory() as session:  # the grid worker of 幸福小区 follows the account and is bound to W01
        person = Person(kind="resident", created_at=clock())
        session.add(person)
        session.flush()
        session.add(ChannelIdentity(platform="wechat", external_id=WORKER, person_id=person.id,
                                    staff_id=world.org.workers[0].id, created_at=clock()))
        session.commit()
    with running_app(config, engine, live_factory, store, world.engine) as (client, _):
        def send(xml: str) -> str:
            query, body = signed_request(xml, "safe", crypto)
            response = client.post("/wechat", params=query, content=body)
            assert response.status_code == 200
            return str(reply_fields(response.text, "safe", crypto)["Content"])

        for xml, expected in steps:
            first = send(xml)
            with ThreadPoolExecutor(2) as pool:  # WeChat's two retries of the same MsgId
                retries = list(pool.map(send, [xml, xml]))
            assert expected in first and retries == [first, first]
        push = wait_for_push(fake_wechat, WORKER)

    with live_factory() as session:
        [case] = session.scalars(select(Case)).all()
        inbound = session.scalars(select(InboundMessage.message_id)).all()
    assert (case.lat, case.lon, case.contact_phone) == (36.1, 120.3, "13812345678")
    assert len(case.media) == 1
    wait_until((config.media_dir / case.media[0]).exists, what="the photo download")  # fetched in the background
    assert (config.media_dir / case.media[0]).read_bytes() == JPEG
    assert sorted(inbound) == ["7001", "7002", "7003", "7004", "7005"]
    assert [c.query["media_id"] for c in fake_wechat.calls_to("media/get")] == ["photo-media-1"]
    assert case.number in push and f"接单 {case.number}" in push  # WeChat pushes say what to type
    assert len([c for c in fake_wechat.calls_to("message/custom/send") if c.body["touser"] == WORKER]) == 1


def wait_for_push(fake: FakeWeChat, openid: str, seconds: float = 10.0) -> str:
    """The text of the first 客服 message the outbox worker delivered to ``openid``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sent = [c for c in fake.calls_to("message/custom/send") if c.body and c.body["touser"] == openid]
        if sent:
            return str(sent[0].body["text"]["content"])  # type: ignore[index]
        time.sleep(0.05)
    raise AssertionError(f"no push reached {openid} within {seconds}s")
