"""Kill -9 of a real ``gridbot serve`` in the middle of outbox delivery, then a restart, on both backends.

Unlike ``test_wechat_outbox.py`` (which simulates the crash by abandoning a worker object), this runs the service
as a subprocess against a slow fake WeChat API, SIGKILLs it while a 客服 send is in flight, and starts a second
process on the same database (and, on the production backend, the same Redis).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.adapters.wechat_adapter import custom_text
from bot.outbox import enqueue
from core.db import SessionFactory, make_session_factory, unit_of_work
from core.models import OutboxMessage
from tests.conftest import REDIS_URL
from tests.wechat_fake import TOKEN, Call, FakeWeChat, FakeWeChatServer

REPO = Path(__file__).resolve().parents[2]
SEND = "message/custom/send"
OPENID = "o_kill_test_user"
MESSAGES = 30
SLOW = 0.4           # seconds the fake takes to answer each send, so that a delivery is in flight when we kill
LEASE = 3.0          # GRIDBOT_OUTBOX_LEASE_SECONDS for both processes: the restart waits this out
CONCURRENCY = 1      # OutboxWorker sends the rows it claimed one at a time, in its one thread
STARTUP = 120.0      # generous bounds on waits (a loaded 2-core machine); no assertion is about speed
DRAIN = 120.0


@dataclass
class TimedFake(FakeWeChat):
    """The fake API, also tracking which sends it has received but not yet answered."""

    answering: list[Call] = field(default_factory=list)
    _active: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, call: Call) -> tuple[int, bytes, str]:
        """Answer as the fake does, noting the call as unanswered until its answer is ready."""
        with self._active:
            self.answering.append(call)
        try:
            return super().answer(call)
        finally:
            with self._active:
                self.answering.remove(call)

    def unanswered(self) -> list[str]:
        """The texts of the sends received and not answered yet."""
        with self._active:
            return [text_of(c) for c in self.answering if c.path == SEND]

    def sent_texts(self) -> list[str]:
        """The text of every send received, in order (duplicates included)."""
        return [text_of(c) for c in self.calls_to(SEND)]


def text_of(call: Call) -> str:
    assert call.body is not None and call.body["touser"] == OPENID
    return str(call.body["text"]["content"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def statuses(factory: SessionFactory) -> dict[str, str]:
    """Outbox status by message text."""
    with factory() as session:
        return {row.payload["body"]["text"]["content"]: row.status for row in session.scalars(select(OutboxMessage))}


def wait_for(condition: Callable[[], object], what: str, timeout: float, proc: Service | None = None) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` (and the service's log) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError(f"gridbot serve exited ({proc.popen.returncode}) waiting for {what}:\n{proc.log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}"
                                 + (f":\n{proc.log()}" if proc else ""))
        time.sleep(0.02)


@dataclass
class Service:
    """One ``gridbot serve`` subprocess and its log file."""

    popen: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def ready(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False


@contextmanager
def serve(env: dict[str, str], tmp_path: Path, name: str) -> Iterator[Service]:
    """Start ``gridbot serve`` and wait for /readyz; whatever happens, the process is gone afterwards."""
    port = free_port()
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen([sys.executable, "-m", "gridbot", "serve", "--port", str(port)], env=env,
                                 cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    service = Service(popen, port, log_path)
    try:
        wait_for(service.ready, f"{name} /readyz", STARTUP, service)
        yield service
    finally:
        if popen.poll() is None:
            popen.terminate()
            try:
                popen.wait(15)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait(15)


def service_env(engine: Engine, fake: FakeWeChat, tmp_path: Path, redis_url: str | None) -> dict[str, str]:
    """The environment of a real deployment pointed at the fresh database and the fake API (no developer .env:
    the process runs in ``tmp_path``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDBOT_")}
    env |= {
        "PYTHONPATH": str(REPO),
        "GRIDBOT_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "GRIDBOT_WECHAT_TOKEN": TOKEN, "GRIDBOT_WECHAT_APP_ID": fake.app_id,
        "GRIDBOT_WECHAT_APP_SECRET": fake.secret, "GRIDBOT_WECHAT_API_BASE": fake.base,
        "GRIDBOT_RUN_SCHEDULER": "false", "GRIDBOT_MEDIA_DIR": str(tmp_path / "media"),
        "GRIDBOT_OUTBOX_LEASE_SECONDS": str(LEASE), "GRIDBOT_LOG_LEVEL": "INFO",
    }
    if redis_url is not None:
        env["GRIDBOT_REDIS_URL"] = redis_url
    return env


@contextmanager
def slow_fake(backend: str) -> Iterator[TimedFake]:
    """A running fake whose sends take SLOW seconds; its app id is unique, so are the service's Redis keys
    (``gridbot:wechat:token:<app id>`` and its refresh lock), which are deleted afterwards."""
    fake = TimedFake(app_id=f"wx_kill_{uuid.uuid4().hex[:12]}")
    fake.fail(SEND, delay=SLOW, times=MESSAGES * 3)  # status 200, no errcode: a slow but normal answer
    server = FakeWeChatServer(fake)
    server.start()
    try:
        yield fake
    finally:
        server.stop()
        if backend == "production":
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"*{fake.app_id}*"))
            if keys:
                client.delete(*keys)
            client.close()


def test_killing_the_service_mid_delivery_loses_nothing(backend: str, fresh_engine: Engine,
                                                        tmp_path: Path) -> None:
    """SIGKILL ``gridbot serve`` while it delivers the outbox; a second process delivers the rest.

    The guarantee checked is the one ``bot/outbox.py`` documents: at-least-once, with duplicates confined to the
    deliveries that were *in flight* when the process died — sends whose request had reached WeChat but whose
    row was not yet committed as sent (the request was unanswered, or answered in the gap before the mark-sent
    commit). The worker sends one claimed row at a time, so at most CONCURRENCY (1) such message exists.

    After the restart: every message reached the fake at least once (nothing lost), every row is ``sent``,
    the only messages received twice are in-flight ones, at most once more each, and the restarted process
    sends nothing that the killed one had already committed as sent.
    """
    factory = make_session_factory(fresh_engine)
    texts = [f"通知 {n:02d}" for n in range(MESSAGES)]
    with unit_of_work(factory) as session:
        for n, text in enumerate(texts):
            assert enqueue(session, f"kill-test:{n}", "wechat", OPENID, "custom",
                           {"body": custom_text(OPENID, text)})

    with slow_fake(backend) as fake:
        env = service_env(fresh_engine, fake, tmp_path, REDIS_URL if backend == "production" else None)

        with serve(env, tmp_path, "first") as first:
            wait_for(lambda: len(fake.sent_texts()) >= 5 and fake.unanswered(),
                     "a few sends done and one in flight", DRAIN, first)
            first.popen.send_signal(signal.SIGKILL)
            first.popen.wait(30)
            unanswered_at_kill = set(fake.unanswered())  # requests that reached the fake before the kill
        wait_for(lambda: not fake.unanswered(), "the fake to finish answering the dead process", 30)
        received_before_restart = fake.sent_texts()
        at_kill = statuses(factory)
        committed_at_kill = {t for t, status in at_kill.items() if status == "sent"}
        in_flight = set(received_before_restart) - committed_at_kill

        with serve(env, tmp_path, "second") as second:
            wait_for(lambda: set(statuses(factory).values()) == {"sent"}, "every row sent", LEASE + DRAIN, second)
        received_after_restart = fake.sent_texts()[len(received_before_restart):]

    final = statuses(factory)
    counts = Counter(received_before_restart + received_after_restart)
    doubles = {text: n - 1 for text, n in counts.items() if n > 1}
    print(f"\n[{backend}] received before kill {len(received_before_restart)}, committed sent at kill "
          f"{len(committed_at_kill)}, unanswered at kill {sorted(unanswered_at_kill)}, in flight "
          f"{sorted(in_flight)}, sent after restart {len(received_after_restart)}, doubles {doubles}")

    assert 0 < len(committed_at_kill) < MESSAGES  # the kill really came in the middle of delivery
    assert unanswered_at_kill <= in_flight
    assert final == dict.fromkeys(texts, "sent")
    assert set(counts) == set(texts)  # nothing lost, nothing foreign
    assert len(in_flight) <= CONCURRENCY
    assert set(doubles) <= in_flight and all(n == 1 for n in doubles.values())
    assert committed_at_kill.isdisjoint(received_after_restart)
    assert Counter(received_after_restart).most_common(1)[0][1] == 1  # the restarted process sends each once
