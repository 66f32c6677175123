"""Process start to ready: `gridbot serve` on a fresh embedded database until /readyz answers 200.

Baseline in the same session: a bare uvicorn app (one route) started the same way. Prints both and the ratio.
Usage: .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BARE = "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/readyz')\ndef ready():\n    return 'ok'\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_to_ready(cmd: list[str], port: int, env: dict[str, str], cwd: str) -> float:
    """Seconds from spawning ``cmd`` until GET /readyz on ``port`` answers 200."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < 30:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{cmd[0]} did not become ready in 30 s")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bare.py").write_text(BARE)
        env = {**os.environ, "GRIDBOT_DATABASE_URL": f"sqlite:///{tmp}/bench.db", "GRIDBOT_REDIS_URL": "",
               "GRIDBOT_MEDIA_DIR": f"{tmp}/media"}
        env.pop("GRIDBOT_REDIS_URL")
        subprocess.run([sys.executable, "-m", "gridbot", "demo"], env=env, cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        ours, bare = [], []
        for _ in range(runs):
            port = free_port()
            ours.append(time_to_ready([sys.executable, "-m", "gridbot", "serve", "--port", str(port)],
                                      port, env, tmp))
            port = free_port()
            bare.append(time_to_ready([sys.executable, "-m", "uvicorn", "bare:app", "--port", str(port),
                                       "--log-level", "warning"], port, env, tmp))
    print(f"gridbot serve (SQLite, demo data): median {statistics.median(ours):.2f} s, max {max(ours):.2f} s")
    print(f"bare uvicorn app:                   median {statistics.median(bare):.2f} s, max {max(bare):.2f} s")
    print(f"ratio: {statistics.median(ours) / statistics.median(bare):.2f}x the bare app (target: under 2 s)")


if __name__ == "__main__":
    main()
