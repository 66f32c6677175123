"""``gridbot chat`` driven through a pipe, on a fresh embedded database seeded with the demo city."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDBOT_DATABASE_URL": f"sqlite:///{tmp_path}/chat.db", "GRIDBOT_REDIS_URL": ""}
    return subprocess.run([sys.executable, "-m", "gridbot", *args], input=stdin, capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=120, check=False)


def test_chat_files_a_report_from_piped_input(tmp_path: Path) -> None:
    assert run(["demo"], tmp_path).returncode == 0
    script = "你好\n幸福小区3栋门口的路灯坏了，电话13912345678\n/photo lamp.jpg\n确认\n查一下进度\n/quit\n"
    done = run(["chat"], tmp_path, script)
    assert done.returncode == 0, done.stderr
    assert "  1. 报事" in done.stdout and "已收到照片" in done.stdout
    assert "已受理！工单号：" in done.stdout and "您的事项：" in done.stdout


def test_chat_as_unknown_staff_code_is_one_clear_line(tmp_path: Path) -> None:
    done = run(["chat", "--as", "staff", "--user", "NOPE"], tmp_path, "/quit\n")
    assert done.returncode == 2 and "no staff member with code 'NOPE'" in done.stderr


def test_resident_worker_and_resident_again_in_turn(tmp_path: Path) -> None:
    """The terminal is a channel: each party sees the notices queued for them when they come back."""
    assert run(["demo"], tmp_path).returncode == 0
    handler = on_duty_for(tmp_path, "幸福小区3栋")
    assert run(["chat", "--as", "staff", "--user", handler], tmp_path, "/quit\n").returncode == 0  # binds
    filed = run(["chat", "--user", "resident-a"], tmp_path,
                "幸福小区3栋门口的路灯坏了，电话13912345678\n跳过\n确认\n/quit\n")
    assert "已受理！工单号：" in filed.stdout, filed.stdout
    number = filed.stdout.split("工单号：")[1][:13]
    worker = run(["chat", "--as", "staff", "--user", handler], tmp_path, f"接单 {number}\n/quit\n")
    assert f"[通知] 【新工单】{number}" in worker.stdout and f"接单 {number}" in worker.stdout
    assert "已接单" in worker.stdout, worker.stdout
    back = run(["chat", "--user", "resident-a"], tmp_path, "/quit\n")
    assert f"[通知] 您的工单 {number} 已由" in back.stdout


def on_duty_for(tmp_path: Path, address: str) -> str:
    """The staff code routing picks for ``address`` right now in the demo city."""
    from datetime import UTC, datetime

    from core.db import make_engine, make_session_factory
    from core.services.routing import GridRouter

    with make_session_factory(make_engine(f"sqlite:///{tmp_path}/chat.db"))() as session:
        decision = GridRouter.load(session).route(address, None, datetime.now(UTC))
        assert decision.assignee is not None
        return decision.assignee.staff_code


def test_chat_with_unreachable_redis_or_database_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "GRIDBOT_DATABASE_URL": f"sqlite:///{tmp_path}/chat.db", "GRIDBOT_REDIS_URL": "redis://127.0.0.1:1/0"}
    for extra in ({}, {"GRIDBOT_DATABASE_URL": "postgresql://postgres:secret@127.0.0.1:1/x"}):
        done = subprocess.run([sys.executable, "-m", "gridbot", "chat"], input="你好\n", capture_output=True,
                              text=True, cwd=tmp_path, env={**env, **extra}, timeout=120, check=False)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and "127.0.0.1:1" in done.stderr and "secret" not in done.stderr
