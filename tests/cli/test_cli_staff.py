"""``gridbot staff invite|revoke|unbind|list`` against a seeded SQLite file."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.db import make_engine, make_session_factory, unit_of_work, upgrade
from core.models import ChannelIdentity
from core.services.binding import BindingRefused, redeem
from core.services.people import mark_unreachable
from core.store import make_store
from gridbot.cli import main
from tests.factories import make_org, make_resident


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite file holding the small city; the CLI is pointed at it."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GRIDBOT_DATABASE_URL", url)
    monkeypatch.setenv("GRIDBOT_TIMEZONE", "Asia/Shanghai")
    for name in ("GRIDBOT_REDIS_URL", "GRIDBOT_TELEGRAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    engine = make_engine(url)
    upgrade(engine)
    with unit_of_work(make_session_factory(engine)) as session:
        make_org(session)
    engine.dispose()
    return url


def _invite(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, str]:
    assert main(["staff", "invite", "W01", *argv]) == 0
    out = capsys.readouterr().out
    match = re.search(r"绑定 ([A-Z0-9]{8})\b", out)
    assert match is not None
    return match.group(1), out


def _redeem(url: str, code: str, external_id: str) -> str:
    """Send the code from a chat account, as the bot would; returns the bound staff_id."""
    engine = make_engine(url)
    store = make_store(None, prefix=f"cli-test:{uuid.uuid4().hex[:6]}:")
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            person = make_resident(session)
            identity = ChannelIdentity(platform="telegram", external_id=external_id, person_id=person.id,
                                       created_at=datetime.now(UTC))
            session.add(identity)
            session.flush()
            return redeem(session, store, identity, code, now=datetime.now(UTC)).staff_code
    finally:
        store.close()
        engine.dispose()


def _bound(capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    assert main(["staff", "list", "--json"]) == 0
    return {r["staff_id"]: r["bound"] for r in map(json.loads, capsys.readouterr().out.splitlines())}


def test_invite_prints_a_working_code_with_its_expiry(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _invite(capsys)
    assert "W01 网格员1 (grid_worker, G01 第1网格)" in out
    assert re.search(r"valid until \d{4}-\d\d-\d\d \d\d:\d\d \(Asia/Shanghai\)", out)
    assert "Telegram" not in out
    assert _redeem(db_url, code, "tg-1") == "W01"


def test_invite_prints_the_telegram_payload_when_a_token_is_set(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GRIDBOT_TELEGRAM_TOKEN", "123456:AAExampleToken")
    code, out = _invite(capsys)
    assert f"/start bind_{code}" in out
    code, out = _invite(capsys, "--bot-username", "@gridbot_demo_bot")
    assert f"https://t.me/gridbot_demo_bot?start=bind_{code}" in out


def test_unbind_detaches_the_account_and_list_shows_it(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _invite(capsys)
    _redeem(db_url, code, "tg-1")
    assert _bound(capsys)["W01"] == 1
    assert main(["staff", "unbind", "W01"]) == 0
    assert "unbound 1 chat account(s) from W01" in capsys.readouterr().out
    assert _bound(capsys) == dict.fromkeys(["A01", "A02", "CD01", "SA01", "W01", "W02", "W03", "W04"], 0)


def test_list_counts_accounts_the_platform_no_longer_reaches(db_url: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for account in ("tg-1", "tg-2"):
        code, _ = _invite(capsys)
        _redeem(db_url, code, account)
    engine = make_engine(db_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            assert mark_unreachable(session, "telegram", "tg-2", datetime.now(UTC))
    finally:
        engine.dispose()
    assert main(["staff", "list", "--json"]) == 0
    w01 = next(r for r in map(json.loads, capsys.readouterr().out.splitlines()) if r["staff_id"] == "W01")
    assert (w01["bound"], w01["reachable"]) == (2, 1)


def test_revoked_codes_no_longer_bind(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _invite(capsys)
    assert main(["staff", "revoke", "W01"]) == 0
    assert "revoked 1 unused code(s) of W01" in capsys.readouterr().out
    with pytest.raises(BindingRefused):
        _redeem(db_url, code, "tg-2")


def test_list_is_a_table_with_role_and_region(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staff", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["staff_id", "name", "role", "region", "active", "bound", "reachable"]
    assert lines[1].split() == ["A01", "社区管理员1", "community_admin", "CM01", "幸福社区", "yes", "0", "0"]
    assert len(lines) == 9


@pytest.mark.parametrize("action", ["invite", "revoke", "unbind"])
def test_unknown_staff_is_one_line_and_exit_2(db_url: str, action: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staff", action, "W99"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "W99" in err and "Traceback" not in err


def test_bad_bot_username_names_the_option(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staff", "invite", "W01", "--bot-username", "not a name"]) == 2
    assert capsys.readouterr().err.startswith("gridbot: --bot-username:")
