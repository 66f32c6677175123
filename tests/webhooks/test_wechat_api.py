"""The WeChat API client against the fake server: shared token, refetch on 40001, media, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.adapters.wechat_api import WeChatApi, WeChatApiError, WeChatUnavailable
from core.store import StateStore
from tests.wechat_fake import JPEG, FakeWeChat, fake_wechat

__all__ = ["fake_wechat"]


def api_for(fake: FakeWeChat, store: StateStore, **options: object) -> WeChatApi:
    return WeChatApi(fake.base, fake.app_id, fake.secret, store, **options)  # type: ignore[arg-type]


def test_token_is_fetched_once_and_shared_through_the_store(fake_wechat: FakeWeChat, store: StateStore) -> None:
    first, second = api_for(fake_wechat, store), api_for(fake_wechat, store)
    first.send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "你好"}})
    second.send_custom({"touser": "o2", "msgtype": "text", "text": {"content": "hi"}})
    assert fake_wechat.token_fetches == 1
    assert fake_wechat.calls_to("message/custom/send")[0].body == {
        "touser": "o1", "msgtype": "text", "text": {"content": "你好"}}


def test_refused_token_is_refetched_and_the_call_retried_once(fake_wechat: FakeWeChat, store: StateStore) -> None:
    api = api_for(fake_wechat, store)
    api.access_token()
    fake_wechat.fail("message/custom/send", errcode=40001)
    api.send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "x"}})
    assert fake_wechat.token_fetches == 2 and len(fake_wechat.calls_to("message/custom/send")) == 2


def test_expired_token_42001_is_refetched(fake_wechat: FakeWeChat, store: StateStore) -> None:
    api = api_for(fake_wechat, store)
    api.create_menu({"button": [{"type": "click", "name": "报事", "key": "report"}]})
    fake_wechat.expire_tokens()
    api.create_menu({"button": [{"type": "click", "name": "报事", "key": "report"}]})
    assert fake_wechat.token_fetches == 2 and len(fake_wechat.calls_to("menu/create")) == 3


def test_concurrent_refreshers_fetch_one_token(fake_wechat: FakeWeChat, store: StateStore) -> None:
    fake_wechat.token_delay = 0.3
    clients = [api_for(fake_wechat, store) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        tokens = set(pool.map(lambda api: api.access_token(), clients))
    assert fake_wechat.token_fetches == 1 and len(tokens) == 1


def test_classic_token_endpoint_works_too(fake_wechat: FakeWeChat, store: StateStore) -> None:
    api_for(fake_wechat, store, stable_token=False).access_token()
    assert [c.query["grant_type"] for c in fake_wechat.calls_to("token")] == ["client_credential"]


def test_media_is_downloaded_and_an_expired_id_raises(fake_wechat: FakeWeChat, store: StateStore) -> None:
    fake_wechat.media["m1"] = JPEG
    api = api_for(fake_wechat, store)
    assert api.download_media("m1") == (JPEG, "image/jpeg")
    with pytest.raises(WeChatApiError) as refused:
        api.download_media("gone")
    assert refused.value.errcode == 40007


def test_server_errors_and_timeouts_are_unavailable(fake_wechat: FakeWeChat, store: StateStore) -> None:
    api = api_for(fake_wechat, store, timeout=0.2)
    api.access_token()
    fake_wechat.fail("message/custom/send", status=502)
    fake_wechat.fail("message/custom/send", delay=0.5, errcode=0)
    for _ in range(2):
        with pytest.raises(WeChatUnavailable):
            api.send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "x"}})


def test_quota_and_window_errors_carry_their_code(fake_wechat: FakeWeChat, store: StateStore) -> None:
    fake_wechat.fail("message/custom/send", errcode=45015)
    with pytest.raises(WeChatApiError) as refused:
        api_for(fake_wechat, store).send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "x"}})
    assert (refused.value.errcode, refused.value.retryable) == (45015, False)
