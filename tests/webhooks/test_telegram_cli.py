"""``gridbot telegram set-webhook`` and ``gridbot telegram check`` against the fake Bot API."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridbot.cli import main
from tests.telegram_fake import SECRET, FakeTelegram, fake_telegram

__all__ = ["fake_telegram"]


@pytest.fixture
def env(fake_telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeTelegram:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    monkeypatch.setenv("GRIDBOT_TELEGRAM_API_BASE", fake_telegram.base)
    monkeypatch.setenv("GRIDBOT_TELEGRAM_TOKEN", fake_telegram.token)
    monkeypatch.setenv("GRIDBOT_TELEGRAM_WEBHOOK_SECRET", SECRET)
    return fake_telegram


def test_set_webhook_sends_the_secret_and_allowed_updates(env: FakeTelegram, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telegram", "set-webhook", "https://bot.example.org/telegram"]) == 0
    assert env.webhook == {"url": "https://bot.example.org/telegram", "secret_token": SECRET,
                           "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"],
                           "drop_pending_updates": False}
    assert "webhook set: https://bot.example.org/telegram" in capsys.readouterr().out


def test_set_webhook_refuses_plain_http(env: FakeTelegram, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telegram", "set-webhook", "http://bot.example.org/telegram"]) == 2
    assert "HTTPS" in capsys.readouterr().err and env.webhook == {}


def test_set_webhook_needs_a_well_formed_secret(env: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRIDBOT_TELEGRAM_WEBHOOK_SECRET", "has spaces!")
    assert main(["telegram", "set-webhook", "https://bot.example.org/telegram"]) == 2
    assert "A-Z a-z 0-9 _ -" in capsys.readouterr().err and env.webhook == {}


def test_check_shows_the_bot_and_the_webhook(env: FakeTelegram, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["telegram", "check"]) == 0
    out = capsys.readouterr().out
    assert "@fake_bot (id 42)" in out and "NOT SET" in out
    main(["telegram", "set-webhook", "https://bot.example.org/telegram"])
    capsys.readouterr()
    assert main(["telegram", "check"]) == 0
    out = capsys.readouterr().out
    assert "https://bot.example.org/telegram" in out and "callback_query" in out and env.token not in out


def test_check_reports_a_wrong_token(env: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRIDBOT_TELEGRAM_TOKEN", "1:wrong")
    assert main(["telegram", "check"]) == 2
    assert "401" in capsys.readouterr().err
