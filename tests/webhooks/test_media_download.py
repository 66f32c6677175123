"""Photo downloads on both platforms against the fakes: transient failures retried, refusals not, files whole."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.telegram_api import MAX_DOWNLOAD_BYTES, TelegramApi, fetch_file
from bot.adapters.wechat_api import WeChatApi, fetch_media
from core.store import StateStore
from tests.telegram_fake import JPEG, FakeTelegram, fake_telegram
from tests.wechat_fake import FakeWeChat, fake_wechat

__all__ = ["fake_telegram", "fake_wechat"]


def wechat(fake: FakeWeChat, store: StateStore) -> WeChatApi:
    return WeChatApi(fake.base, fake.app_id, fake.secret, store, timeout=0.5)


def test_wechat_media_survives_a_server_error(fake_wechat: FakeWeChat, store: StateStore, tmp_path: Path) -> None:
    fake_wechat.media["m1"] = JPEG
    fake_wechat.fail("media/get", status=502)
    target = tmp_path / "wechat" / "m1.jpg"
    assert fetch_media(wechat(fake_wechat, store), "m1", target) is True
    assert target.read_bytes() == JPEG and len(fake_wechat.calls_to("media/get")) == 2
    assert list(target.parent.iterdir()) == [target]  # no partial file left beside it


def test_wechat_expired_media_is_not_retried(fake_wechat: FakeWeChat, store: StateStore, tmp_path: Path) -> None:
    target = tmp_path / "gone.jpg"
    assert fetch_media(wechat(fake_wechat, store), "expired", target) is False
    assert not target.exists() and len(fake_wechat.calls_to("media/get")) == 1


def test_wechat_media_gives_up_after_its_attempts(fake_wechat: FakeWeChat, store: StateStore,
                                                  tmp_path: Path) -> None:
    fake_wechat.media["m1"] = JPEG
    fake_wechat.fail("media/get", status=503, times=2)
    target = tmp_path / "m1.jpg"
    assert fetch_media(wechat(fake_wechat, store), "m1", target, attempts=2) is False
    assert not target.exists() and len(fake_wechat.calls_to("media/get")) == 2


def test_telegram_file_survives_a_server_error(fake_telegram: FakeTelegram, tmp_path: Path) -> None:
    fake_telegram.fail("getFile", status=500)
    target = tmp_path / "telegram" / "p.jpg"
    api = TelegramApi(fake_telegram.base, fake_telegram.token, timeout=0.5)
    assert fetch_file(api, "PHOTO_FILE_ID_L", target) is True
    assert target.read_bytes() == JPEG and len(fake_telegram.calls_to("getFile")) == 2


def test_telegram_refusals_and_oversize_files_are_not_downloaded(fake_telegram: FakeTelegram,
                                                                 tmp_path: Path) -> None:
    api = TelegramApi(fake_telegram.base, fake_telegram.token, timeout=0.5)
    assert fetch_file(api, "NO_SUCH_FILE", tmp_path / "a.jpg") is False
    fake_telegram.files["HUGE"] = b"\0" * (MAX_DOWNLOAD_BYTES + 1)
    assert fetch_file(api, "HUGE", tmp_path / "b.jpg") is False
    assert len(fake_telegram.calls_to("getFile")) == 2 and fake_telegram.calls_to("download") == []
    assert list(tmp_path.iterdir()) == []
