"""Telegram Bot API client (httpx): ``{api_base}/bot<token>/<method>``, file downloads and the outbox sender.

The token is part of every URL, so URLs are never logged (the service holds httpx at WARNING).
Requests are JSON bodies, which the Bot API accepts alongside form encoding.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from bot.adapters.media import NotDownloadable, download
from bot.adapters.telegram_adapter import render_payload
from bot.outbox import Delivery, DeliveryError

logger = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files anyway (Bot API limit)
NOT_MODIFIED = "message is not modified"  # an identical edit (double tap): the keyboard is already gone
RETRYABLE_CODES = frozenset({401, 404, 429})  # 401/404: a wrong token, fixed by the operator, not by giving up
GONE_CODE = 403  # blocked by the user, user deactivated, or the user never started the bot


class TelegramApiError(Exception):
    """The Bot API answered ``ok: false``; ``retry_after`` is set on 429 (flood control)."""

    def __init__(self, method: str, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{method}: {code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """True when trying again later may work (flood wait, token being fixed); 400/403 are final."""
        return self.code in RETRYABLE_CODES or self.code >= 500


class TelegramUnavailable(Exception):
    """A timeout, connection failure, 5xx or non-JSON answer: worth retrying later."""


class TelegramApi:
    """Calls the Bot API methods gridbot needs."""

    def __init__(self, api_base: str, token: str, *, timeout: float = 10.0, http: httpx.Client | None = None) -> None:
        base = api_base.rstrip("/")
        self._methods = f"{base}/bot{token}/"
        self._files = f"{base}/file/bot{token}/"
        self._http = http or httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """POST one method; the ``result``, or TelegramApiError / TelegramUnavailable."""
        try:
            response = self._http.post(self._methods + method, json=dict(params or {}))
        except httpx.HTTPError as exc:
            raise TelegramUnavailable(f"{method}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise TelegramUnavailable(f"{method}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError:
            raise TelegramUnavailable(f"{method}: non-JSON answer (HTTP {response.status_code})") from None
        if not isinstance(data, dict) or not data.get("ok"):
            raise _api_error(method, data if isinstance(data, dict) else {}, response.status_code)
        return data.get("result")

    def get_me(self) -> dict[str, Any]:
        """The bot's own user (checks the token)."""
        return dict(self.call("getMe"))

    def send_message(self, chat_id: str | int, text: str, reply_markup: Mapping[str, Any] | None = None) -> int:
        """Send a text message; returns its message_id."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        if reply_markup:
            params["reply_markup"] = dict(reply_markup)
        return int(self.call("sendMessage", params)["message_id"])

    def answer_callback_query(self, query_id: str, text: str | None = None) -> None:
        """Stop the button's progress spinner (must come within seconds of the press)."""
        self.call("answerCallbackQuery", {"callback_query_id": query_id, **({"text": text} if text else {})})

    def remove_keyboard(self, *, chat_id: int | None = None, message_id: int | None = None,
                        inline_message_id: str | None = None) -> None:
        """Drop the inline keyboard of a message so it cannot be pressed twice; already gone counts as done."""
        target: dict[str, Any] = ({"inline_message_id": inline_message_id} if inline_message_id
                                  else {"chat_id": chat_id, "message_id": message_id})
        try:
            self.call("editMessageReplyMarkup", target)
        except TelegramApiError as exc:
            if exc.code != 400 or NOT_MODIFIED not in exc.description:
                raise

    def get_file(self, file_id: str) -> dict[str, Any]:
        """The File object (``file_path`` is valid for at least an hour)."""
        return dict(self.call("getFile", {"file_id": file_id}))

    def download_file(self, file_path: str) -> bytes:
        """The bytes behind a ``file_path`` from getFile."""
        try:
            response = self._http.get(self._files + file_path)
        except httpx.HTTPError as exc:
            raise TelegramUnavailable(f"file download: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise TelegramUnavailable(f"file download: HTTP {response.status_code}")
        if response.status_code != 200:
            raise TelegramApiError("file download", response.status_code, "file not available")
        return response.content

    def set_webhook(self, url: str, secret_token: str, allowed_updates: Sequence[str], *,
                    drop_pending_updates: bool = False) -> None:
        """Register the webhook with its secret header and the update types we handle."""
        self.call("setWebhook", {"url": url, "secret_token": secret_token, "allowed_updates": list(allowed_updates),
                                 "drop_pending_updates": drop_pending_updates})

    def get_webhook_info(self) -> dict[str, Any]:
        """URL, pending updates and the last delivery error, as Telegram sees them."""
        return dict(self.call("getWebhookInfo"))


def _api_error(method: str, data: Mapping[str, Any], status: int) -> TelegramApiError:
    """The error of an ``ok: false`` answer, with ``retry_after`` when flood control asked for a pause."""
    parameters = data.get("parameters") or {}
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return TelegramApiError(method, int(data.get("error_code") or status), str(data.get("description", "")),
                            float(retry_after) if retry_after is not None else None)


class TelegramSender:
    """The outbox's sender for Telegram rows: a neutral payload {"text", "buttons"} → sendMessage(s).

    A 429 pauses every Telegram send for ``retry_after`` (flood control is per bot, not per chat), so the
    rest of the batch is rescheduled without calling the API.
    """

    def __init__(self, api: TelegramApi, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._api = api
        self._clock = clock
        self._lock = threading.Lock()
        self._paused_until = 0.0

    def __call__(self, delivery: Delivery) -> None:
        """Send one row, raising DeliveryError (retryable for 429, 5xx and timeouts; not for 400/403)."""
        wait = self._paused_until - self._clock()
        if wait > 0:
            raise DeliveryError("telegram flood wait", retryable=True, code=429, retry_after=wait)
        try:
            for message in render_payload(delivery.payload):
                self._api.send_message(delivery.recipient, message["text"], message.get("reply_markup"))
        except TelegramUnavailable as exc:
            raise DeliveryError(str(exc), retryable=True) from None
        except TelegramApiError as exc:
            if exc.retry_after is not None:
                with self._lock:
                    self._paused_until = max(self._paused_until, self._clock() + exc.retry_after)
            raise DeliveryError(str(exc), retryable=exc.retryable, code=exc.code,
                                retry_after=exc.retry_after, gone=exc.code == GONE_CODE) from None


def media_path(media_dir: Path, file_id: str) -> Path:
    """Where a Telegram photo is stored: a hash, since file ids are long and not filename-safe."""
    return media_dir / "telegram" / (hashlib.sha1(file_id.encode()).hexdigest()[:24] + ".jpg")


def fetch_file(api: TelegramApi, file_id: str, target: Path, *, attempts: int = 3) -> bool:
    """getFile + download to ``target``; True when stored (run after the webhook answered)."""

    def fetch() -> bytes:
        try:
            info = api.get_file(file_id)
            if int(info.get("file_size") or 0) > MAX_DOWNLOAD_BYTES or not info.get("file_path"):
                raise NotDownloadable("too big or no file_path")
            return api.download_file(str(info["file_path"]))
        except TelegramApiError as exc:
            raise NotDownloadable(f"getFile refused with {exc.code}") from None

    return download(fetch, target, transient=TelegramUnavailable, label="telegram file", attempts=attempts)
