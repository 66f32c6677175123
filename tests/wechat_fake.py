"""A fake WeChat API: a real HTTP server on 127.0.0.1 (in a thread) speaking the ``cgi-bin`` wire format.

It records every call, hands out and checks access tokens, and injects the failures tests ask for:
errcodes (40001 once, 45015 …), HTTP 5xx and slow answers.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from bot.adapters.wechat_adapter import MessageCrypto, parse_xml, sign
from bot.messages import Button, Inbound, Reply
from core.db import SessionFactory, make_session_factory
from core.models import Base
from core.settings import Settings
from core.store import StateStore
from webhooks.metrics import Metrics

if TYPE_CHECKING:
    from webhooks.app import AppState

JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class _Fault:
    status: int = 200
    errcode: int | None = None
    delay: float = 0.0


@dataclass
class FakeWeChat:
    """State and steering of the fake server; ``base`` is what ``GRIDBOT_WECHAT_API_BASE`` should be."""

    app_id: str = "wx_fake_app"
    secret: str = "fake-secret"
    calls: list[Call] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    token_delay: float = 0.0
    base: str = ""
    _faults: dict[str, deque[_Fault]] = field(default_factory=lambda: defaultdict(deque))
    _tokens: set[str] = field(default_factory=set)
    _issued: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, path: str, *, errcode: int | None = None, status: int = 200, delay: float = 0.0,
             times: int = 1) -> None:
        """Answer the next ``times`` calls to ``path`` (e.g. ``message/custom/send``) with a fault."""
        with self._lock:
            self._faults[path].extend(_Fault(status, errcode, delay) for _ in range(times))

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid (the next call gets 42001)."""
        with self._lock:
            self._tokens.clear()

    def calls_to(self, path: str) -> list[Call]:
        """The calls received on ``cgi-bin/<path>``, in order."""
        with self._lock:
            return [c for c in self.calls if c.path == path]

    @property
    def token_fetches(self) -> int:
        """How many tokens were handed out."""
        return len(self.calls_to("token")) + len(self.calls_to("stable_token"))

    def _next_fault(self, path: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.popleft() if queue else None

    def _issue_token(self) -> dict[str, Any]:
        time.sleep(self.token_delay)
        with self._lock:
            self._issued += 1
            token = f"TOKEN-{self._issued}-" + "x" * 40
            self._tokens.add(token)
        return {"access_token": token, "expires_in": 7200}

    def answer(self, call: Call) -> tuple[int, bytes, str]:
        """Status, body and content type for one call."""
        with self._lock:
            self.calls.append(call)
        fault = self._next_fault(call.path)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status >= 500:
                return fault.status, b"<html>502 Bad Gateway</html>", "text/html"
            if fault.errcode is not None:
                return 200, _json({"errcode": fault.errcode, "errmsg": f"injected {fault.errcode}"}), "text/plain"
        return self._normal(call)

    def _normal(self, call: Call) -> tuple[int, bytes, str]:
        if call.path in ("token", "stable_token"):
            src = call.query if call.path == "token" else (call.body or {})
            if src.get("appid") != self.app_id or src.get("secret") != self.secret:
                return 200, _json({"errcode": 40125, "errmsg": "invalid appsecret"}), "application/json"
            return 200, _json(self._issue_token()), "application/json"
        with self._lock:
            valid = call.query.get("access_token") in self._tokens
        if not valid:
            return 200, _json({"errcode": 42001, "errmsg": "access_token expired"}), "application/json"
        if call.path == "media/get":
            data = self.media.get(call.query.get("media_id", ""))
            if data is None:
                return 200, _json({"errcode": 40007, "errmsg": "invalid media_id"}), "text/plain"
            return 200, data, "image/jpeg"
        if call.path == "message/template/send":
            return 200, _json({"errcode": 0, "errmsg": "ok", "msgid": 200228332}), "application/json"
        return 200, _json({"errcode": 0, "errmsg": "ok"}), "application/json"


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def _handler(fake: FakeWeChat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw.decode()) if raw else None
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            path = url.path.removeprefix("/cgi-bin/")
            status, payload, ctype = fake.answer(Call(method, path, query, body))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class FakeWeChatServer:
    """Runs a FakeWeChat on an ephemeral loopback port until ``stop()``."""

    def __init__(self, fake: FakeWeChat | None = None) -> None:
        self.fake = fake or FakeWeChat()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake))
        self._server.daemon_threads = True
        self.fake.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)

    def start(self) -> FakeWeChat:
        """Start serving and return the steering handle."""
        self._thread.start()
        return self.fake

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


# --- helpers and fixtures shared by tests/webhooks/test_wechat_*.py -------------------------------------------

TOKEN = "gridbot-test-token"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
PAYLOADS = Path(__file__).parent / "payloads" / "wechat"
MODES = ("plaintext", "compatible", "safe")


def sample(name: str) -> str:
    """A real-format XML sample from ``tests/payloads/wechat``."""
    return (PAYLOADS / f"{name}.xml").read_text(encoding="utf-8")


def with_fields(xml: str, **values: str) -> str:
    """The sample with some leaf fields replaced (fresh MsgId, user or CreateTime per test)."""
    for name, value in values.items():
        xml, count = re.subn(rf"<{name}>.*?</{name}>", f"<{name}><![CDATA[{value}]]></{name}>", xml, flags=re.DOTALL)
        if count == 0:
            xml = xml.replace("</xml>", f"<{name}><![CDATA[{value}]]></{name}></xml>")
    return xml


def crypto_for(fake: FakeWeChat) -> MessageCrypto:
    """The message crypto the test account uses."""
    return MessageCrypto(TOKEN, AES_KEY, fake.app_id)


def signed_request(xml: str, mode: str, crypto: MessageCrypto, *, timestamp: str | None = None,
                   nonce: str = "42424242") -> tuple[dict[str, str], bytes]:
    """Query parameters and body as WeChat would send ``xml`` in ``mode``."""
    ts = timestamp or str(int(time.time()))
    query = {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": "ignored"}
    if mode == "plaintext":
        return query, xml.encode()
    encrypted = crypto.encrypt(xml)
    query |= {"encrypt_type": "aes", "msg_signature": sign(TOKEN, ts, nonce, encrypted)}
    if mode == "compatible":
        return query, xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>").encode()
    to_user = re.search(r"<ToUserName><!\[CDATA\[(.*?)\]\]>", xml)
    head = f"<ToUserName><![CDATA[{to_user.group(1) if to_user else 'gh_test'}]]></ToUserName>"
    return query, f"<xml>{head}<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()


def reply_fields(body: str, mode: str, crypto: MessageCrypto) -> dict[str, Any]:
    """The passive reply's fields, decrypted (and its MsgSignature checked) in the AES modes."""
    fields = parse_xml(body.encode())
    if mode == "plaintext":
        return fields
    plain = crypto.decrypt_envelope(fields, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
    return parse_xml(plain.encode())


class EchoEngine:
    """A stand-in engine: answers every turn with what it got; can be slowed down; counts turns."""

    def __init__(self, delay: float = 0.0, replies: int = 1) -> None:
        self.delay = delay
        self.replies = replies
        self.turns: list[Inbound] = []
        self._lock = threading.Lock()

    def handle(self, inbound: Inbound) -> list[Reply]:
        """Echo the kind and the text or payload, after ``delay`` seconds."""
        with self._lock:
            self.turns.append(inbound)
        time.sleep(self.delay)
        said = inbound.text or inbound.payload or ""
        first = Reply(f"echo {inbound.kind} {said}".strip(), (Button("确认", "yes"), Button("修改", "edit")))
        return [first] + [Reply(f"more {i}") for i in range(1, self.replies)]


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    """A running fake WeChat API."""
    server = FakeWeChatServer()
    yield server.start()
    server.stop()


@pytest.fixture
def live_factory(engine: Engine) -> Iterator[SessionFactory]:
    """Sessions that really commit (threads and workers need that); the rows they add are removed after."""
    before = _snapshot(engine)
    yield make_session_factory(engine)
    _restore(engine, before)


def _snapshot(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """Primary keys of every table's rows."""
    with engine.connect() as conn:
        return {t.name: {tuple(r) for r in conn.execute(select(*t.primary_key.columns))}
                for t in Base.metadata.sorted_tables}


def _restore(engine: Engine, before: dict[str, set[tuple[Any, ...]]]) -> None:
    """Delete the rows added since the snapshot, children first."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            cols = list(table.primary_key.columns)
            added = {tuple(r) for r in conn.execute(select(*cols))} - before[table.name]
            for key in sorted(added, reverse=True):  # newest first: self-references (region.parent) go first
                conn.execute(delete(table).where(*(c == v for c, v in zip(cols, key))))


def wechat_settings(base: Settings, fake: FakeWeChat, **overrides: Any) -> Settings:
    """The test settings pointed at the fake API, with the test account's secrets."""
    values = base.model_dump() | {
        "wechat_token": TOKEN, "wechat_app_id": fake.app_id, "wechat_app_secret": fake.secret,
        "wechat_aes_key": AES_KEY, "wechat_api_base": fake.base,
    } | overrides
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def running_app(settings: Settings, engine: Engine, factory: SessionFactory, store: StateStore,
                bot: Any, **worker_options: Any) -> Iterator[tuple[TestClient, AppState]]:
    """The real app with ``bot`` as its engine and a fast-polling outbox worker, lifespan running."""
    from webhooks.app import AppState, create_app
    from webhooks.wechat import build_wechat

    metrics = Metrics()
    state = AppState(settings, engine, factory, store, metrics, time.monotonic())
    options = {"poll_seconds": 0.05, "base_delay": 0.05} | worker_options
    state.wechat, state.outbox = build_wechat(settings, factory, store, metrics, bot, **options)
    with TestClient(create_app(settings, state)) as client:
        yield client, state
