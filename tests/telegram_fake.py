"""A fake Telegram Bot API: a real HTTP server on 127.0.0.1 (in a thread) speaking the Bot API wire format.

``POST /bot<token>/<method>`` with a JSON or form-encoded body (nested objects as JSON strings, as PTB sends
them) and ``GET /file/bot<token>/<path>``. It records every call, keeps the keyboards of the messages it
sent (so a second edit is "message is not modified"), and injects the failures tests ask for: 429 with
``retry_after``, 5xx, 403 "bot was blocked by the user".
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from core.db import SessionFactory
from core.models import OutboxMessage
from core.settings import Settings
from core.store import StateStore
from tests.wechat_fake import JPEG
from webhooks.metrics import Metrics

if TYPE_CHECKING:
    from webhooks.app import AppState

BOT = {"id": 42, "is_bot": True, "first_name": "FakeBot", "username": "fake_bot"}
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")


@dataclass
class Call:
    """One request the fake received: the method and its decoded parameters."""

    method: str
    params: dict[str, Any]


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None = None
    delay: float = 0.0


@dataclass
class FakeTelegram:
    """State and steering of the fake server; ``base`` is what ``GRIDBOT_TELEGRAM_API_BASE`` should be."""

    token: str = "123456789:AAFakeTokenForTests_0123456789abcdef"
    base: str = ""
    calls: list[Call] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    webhook: dict[str, Any] = field(default_factory=dict)
    _faults: dict[str, deque[_Fault]] = field(default_factory=lambda: defaultdict(deque))
    _keyboards: dict[tuple[int, int], Any] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(500))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, method: str, *, status: int, description: str = "", retry_after: int | None = None,
             delay: float = 0.0, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with an error (or just slowly)."""
        text = description or {429: f"Too Many Requests: retry after {retry_after}",
                               403: "Forbidden: bot was blocked by the user"}.get(status, "Internal Server Error")
        with self._lock:
            self._faults[method].extend(_Fault(status, text, retry_after, delay) for _ in range(times))

    def calls_to(self, method: str) -> list[Call]:
        """The calls of ``method``, in order."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent_to(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The sendMessage parameters (plus the message_id given) of every message delivered to ``chat_id``."""
        return [c.params for c in self.calls_to("sendMessage")
                if str(c.params.get("chat_id")) == str(chat_id) and "message_id" in c.params]

    def answer(self, method: str, token: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for one API call."""
        with self._lock:
            self.calls.append(Call(method, params))
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        fault = self._next_fault(method)
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status != 200:
                return _error(fault.status, fault.description, fault.retry_after)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return handler(params)  # type: ignore[no-any-return]

    def download(self, token: str, path: str) -> tuple[int, bytes]:
        """Status and bytes for ``/file/bot<token>/<path>``."""
        with self._lock:
            self.calls.append(Call("download", {"file_path": path}))
        file_id = path.removeprefix("photos/").removesuffix(".jpg")
        data = self.files.get(file_id)
        if token != self.token or data is None:
            return 404, b'{"ok":false,"error_code":404,"description":"Not Found"}'
        return 200, data

    def _next_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    def _m_getMe(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return _ok(BOT)

    def _m_sendMessage(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id, text = int(params.get("chat_id", 0)), str(params.get("text", ""))
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        buttons = [b for row in (markup or {}).get("inline_keyboard", []) for b in row]
        if any(len(b.get("callback_data", "").encode()) > 64 for b in buttons):
            return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        with self._lock:
            message_id = next(self._ids)
            self._keyboards[(chat_id, message_id)] = markup
        params["message_id"] = message_id
        return _ok(_message(chat_id, message_id, text, markup))

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return _ok(True)

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "inline_message_id" in params:
            return _ok(True)
        key = (int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        new = params.get("reply_markup") or None
        with self._lock:
            if key not in self._keyboards:
                return _error(400, "Bad Request: message to edit not found")
            if self._keyboards[key] == new:
                return _error(400, NOT_MODIFIED)
            self._keyboards[key] = new
        return _ok(_message(key[0], key[1], "…", new))

    def _m_getFile(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return _ok({"file_id": file_id, "file_unique_id": f"U{file_id}", "file_size": len(self.files[file_id]),
                    "file_path": f"photos/{file_id}.jpg"})

    def _m_setWebhook(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.webhook = dict(params)
        return 200, {"ok": True, "result": True, "description": "Webhook was set"}

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0,
                "max_connections": 40}
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return _ok(info)


def _ok(result: Any) -> tuple[int, dict[str, Any]]:
    return 200, {"ok": True, "result": result}


def _error(status: int, description: str, retry_after: int | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, body


def _message(chat_id: int, message_id: int, text: str, markup: Any) -> dict[str, Any]:
    message = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
               "from": BOT, "text": text}
    if markup:
        message["reply_markup"] = markup
    return message


def decode_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """Parameters from a JSON or form-encoded body (form values holding JSON objects or lists are decoded)."""
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        return dict(json.loads(raw))
    params: dict[str, Any] = {}
    for name, values in parse_qs(raw.decode(), keep_blank_values=True).items():
        value = values[0]
        params[name] = json.loads(value) if value[:1] in ("{", "[") else value
    return params


def _handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status: int, payload: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _serve(self) -> None:
            path = unquote(urlsplit(self.path).path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path.startswith("/file/bot"):
                token, _, file_path = path.removeprefix("/file/bot").partition("/")
                status, data = fake.download(token, file_path)
                self._reply(status, data, "image/jpeg" if status == 200 else "application/json")
                return
            token, _, method = path.removeprefix("/bot").partition("/")
            status, body = fake.answer(method, token, decode_body(self.headers.get("Content-Type", ""), raw))
            self._reply(status, json.dumps(body, ensure_ascii=False).encode(), "application/json")

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class FakeTelegramServer:
    """Runs a FakeTelegram on an ephemeral loopback port until ``stop()``."""

    def __init__(self, fake: FakeTelegram | None = None) -> None:
        self.fake = fake or FakeTelegram()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.fake))
        self._server.daemon_threads = True
        self.fake.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-telegram", daemon=True)

    def start(self) -> FakeTelegram:
        """Start serving and return the steering handle."""
        self._thread.start()
        return self.fake

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A running fake Bot API with one photo ready for download."""
    server = FakeTelegramServer()
    fake = server.start()
    fake.files["PHOTO_FILE_ID_L"] = JPEG
    yield fake
    server.stop()


# --- helpers shared by tests/webhooks/test_telegram_*.py and the parity tests ---------------------------------

SECRET = "gridbot-test-secret_42"
PAYLOADS = Path(__file__).parent / "payloads" / "telegram"
_update_ids = itertools.count(700_000)


def sample(name: str) -> dict[str, Any]:
    """A real-shape update from ``tests/payloads/telegram``."""
    return dict(json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8")))


def next_update_id() -> int:
    """A fresh update_id (tests share one database per backend)."""
    return next(_update_ids)


def message_update(user_id: int, update_id: int | None = None, **content: Any) -> dict[str, Any]:
    """A private-chat message update from ``user_id`` (the shape of TG-3) carrying ``content``."""
    user = {"id": user_id, "is_bot": False, "first_name": "Test Firstname"}
    message = {"message_id": update_id or 1, "date": int(time.time()),
               "chat": {"id": user_id, "type": "private", "first_name": "Test Firstname"}, "from": user, **content}
    return {"update_id": update_id or next_update_id(), "message": message}


def text_update(user_id: int, text: str, update_id: int | None = None) -> dict[str, Any]:
    """A text message; a leading /command gets its bot_command entity as Telegram sends it."""
    command = text.split(" ", 1)[0]
    entities = [{"type": "bot_command", "offset": 0, "length": len(command)}] if text.startswith("/") else []
    return message_update(user_id, update_id, text=text, **({"entities": entities} if entities else {}))


def callback_update(user_id: int, data: str, message: dict[str, Any] | None = None,
                    update_id: int | None = None) -> dict[str, Any]:
    """A button press (TG-6 shape) on ``message``, a message the bot sent."""
    query: dict[str, Any] = {"id": f"cb-{next_update_id()}", "chat_instance": "-1234567890123456789", "data": data,
                             "from": {"id": user_id, "is_bot": False, "first_name": "Test Firstname"}}
    if message is not None:
        query["message"] = message
    return {"update_id": update_id or next_update_id(), "callback_query": query}


def press(fake: FakeTelegram, user_id: int, label: str) -> dict[str, Any]:
    """The update of pressing the button labelled ``label`` on the latest message to ``user_id`` showing it."""
    for sent in reversed(fake.sent_to(user_id)):
        buttons = [b for row in (sent.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        for button in buttons:
            if button["text"] == label:
                message = _message(user_id, sent["message_id"], sent["text"], sent["reply_markup"])
                return callback_update(user_id, button["callback_data"], message)
    raise AssertionError(f"no button {label!r} was sent to {user_id}")


def telegram_settings(base: Settings, fake: FakeTelegram, **overrides: Any) -> Settings:
    """The test settings pointed at the fake Bot API, with the bot token and webhook secret."""
    values = base.model_dump() | {"telegram_token": fake.token, "telegram_webhook_secret": SECRET,
                                  "telegram_api_base": fake.base} | overrides
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def post_update(client: TestClient, update: dict[str, Any] | bytes, secret: str | None = SECRET) -> int:
    """POST an update to /telegram as Telegram does; returns the status code."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    body = update if isinstance(update, bytes) else json.dumps(update, ensure_ascii=False).encode()
    headers["Content-Type"] = "application/json"
    return int(client.post("/telegram", content=body, headers=headers).status_code)


def drained(factory: SessionFactory, prefix: str) -> Callable[[], bool]:
    """A check: no outbox row whose key starts with ``prefix`` is still pending."""
    def check() -> bool:
        with factory() as session:
            return not session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.dedupe_key.startswith(prefix), OutboxMessage.status == "pending")).first()
    return check


@contextmanager
def running_app(settings: Settings, engine: Engine, factory: SessionFactory, store: StateStore,
                bot: Any, **worker_options: Any) -> Iterator[tuple[TestClient, AppState]]:
    """The real app with every configured channel around ``bot`` and one fast-polling outbox worker."""
    from webhooks.app import AppState, build_channels, create_app

    state = AppState(settings, engine, factory, store, Metrics(), time.monotonic())
    build_channels(state, bot, **({"poll_seconds": 0.05, "base_delay": 0.05} | worker_options))
    with TestClient(create_app(settings, state)) as client:
        yield client, state
