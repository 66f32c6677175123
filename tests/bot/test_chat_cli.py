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
