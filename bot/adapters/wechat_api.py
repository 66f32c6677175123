"""WeChat API client (httpx): a store-shared access token, 客服 and template sends, media and menus.

The token lives in the state store so every process uses the same one. Only the holder of a store lock
fetches a new one; the others wait for it to appear (PLATFORMS.md §1.6: concurrent refreshes cause 40001).
URLs carry ``secret``/``access_token``, so they are never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from bot.adapters.media import NotDownloadable, download
from bot.adapters.wechat_window import ServiceWindows
from bot.outbox import Delivery, DeliveryError
from core.store import StateStore

logger = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
RETRYABLE_ERRORS = frozenset({-1, 45011})  # system busy, minute quota
GONE_ERRORS = frozenset({43004})  # the user does not follow the account (any more): nothing reaches them
REFRESH_LOCK_TTL = 15.0


class WeChatApiError(Exception):
    """The API answered with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    @property
    def retryable(self) -> bool:
        """True for errors worth retrying later (busy, minute quota)."""
        return self.errcode in RETRYABLE_ERRORS


class WeChatUnavailable(Exception):
    """A timeout, connection failure or 5xx: worth retrying later."""


class WeChatApi:
    """Calls ``{api_base}/cgi-bin/...`` with a token shared through the state store."""

    def __init__(self, api_base: str, app_id: str, app_secret: str, store: StateStore, *,
                 timeout: float = 5.0, stable_token: bool = True, http: httpx.Client | None = None) -> None:
        self._base = api_base.rstrip("/") + "/cgi-bin/"
        self._app_id = app_id
        self._secret = app_secret
        self._store = store
        self._stable = stable_token
        self._http = http or httpx.Client(timeout=timeout)
        self._token_key = f"wechat:token:{app_id}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def _request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                 body: Mapping[str, Any] | None = None) -> httpx.Response:
        """One HTTP exchange; transport failures and 5xx become WeChatUnavailable."""
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = {} if body is None else {"Content-Type": "application/json; charset=utf-8"}
        try:
            response = self._http.request(method, self._base + path, params=params, content=content,
                                          headers=headers)
        except httpx.HTTPError as exc:
            raise WeChatUnavailable(f"{path}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise WeChatUnavailable(f"{path}: HTTP {response.status_code}")
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any] | None:
        """The body as a JSON object when it is one (media/get errors are JSON under any content type)."""
        try:
            data = json.loads(response.content)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON body, raising WeChatApiError on a non-zero errcode."""
        data = self._json(response)
        if data is None:
            raise WeChatUnavailable(f"non-JSON answer (HTTP {response.status_code})")
        if int(data.get("errcode", 0) or 0) != 0:
            raise WeChatApiError(int(data["errcode"]), str(data.get("errmsg", "")))
        return data

    def _fetch_token(self) -> tuple[str, int]:
        """Ask WeChat for a token: ``stable_token`` (same token while valid) or the classic endpoint."""
        if self._stable:
            body = {"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret,
                    "force_refresh": False}
            data = self._checked(self._request("POST", "stable_token", body=body))
        else:
            params = {"grant_type": "client_credential", "appid": self._app_id, "secret": self._secret}
            data = self._checked(self._request("GET", "token", params=params))
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    def access_token(self, *, stale: str | None = None, wait: float = 5.0) -> str:
        """The shared token; ``stale`` names one WeChat just refused, so a different one is needed."""
        deadline = time.monotonic() + wait
        while True:
            current = self._store.get(self._token_key)
            if current and current != stale:
                return current
            lock = self._store.acquire_lock(self._token_key, REFRESH_LOCK_TTL)
            if lock is not None:
                try:
                    return self._refresh(stale)
                finally:
                    self._store.release_lock(self._token_key, lock)
            if time.monotonic() > deadline:
                raise WeChatUnavailable("timed out waiting for another process to refresh the token")
            time.sleep(0.05)

    def _refresh(self, stale: str | None) -> str:
        """Fetch and store a token, unless another holder stored a fresh one just before us."""
        current = self._store.get(self._token_key)
        if current and current != stale:
            return current
        token, expires_in = self._fetch_token()
        # Expire early: readers must never be handed a token in its last seconds.
        self._store.set(self._token_key, token, max(60, expires_in - 300))
        logger.info("wechat access token refreshed", extra={"platform": "wechat"})
        return token

    def call(self, path: str, body: Mapping[str, Any] | None = None, *, method: str = "POST",
             params: Mapping[str, str] | None = None) -> httpx.Response:
        """Call an API with the token; a refused token (40001/40014/42001) is refetched and retried once."""
        token = self.access_token()
        for attempt in (1, 2):
            response = self._request(method, path, params={**(params or {}), "access_token": token}, body=body)
            data = self._json(response)
            code = int(data.get("errcode", 0) or 0) if data else 0
            if code not in TOKEN_ERRORS or attempt == 2:
                return response
            logger.warning("wechat refused the access token (%s); refetching", code)
            token = self.access_token(stale=token)
        raise AssertionError("unreachable")

    def send_custom(self, body: Mapping[str, Any]) -> None:
        """``message/custom/send`` (客服消息; only inside the 48 h window and its quota)."""
        self._checked(self.call("message/custom/send", body))

    def send_template(self, body: Mapping[str, Any]) -> str:
        """``message/template/send``; returns WeChat's msgid."""
        return str(self._checked(self.call("message/template/send", body)).get("msgid", ""))

    def create_menu(self, menu: Mapping[str, Any]) -> None:
        """``menu/create`` (limited to 1000 a day: run at deploy time)."""
        self._checked(self.call("menu/create", menu))

    def download_media(self, media_id: str) -> tuple[bytes, str]:
        """``media/get``: the bytes and content type; an errcode JSON body raises WeChatApiError."""
        response = self.call("media/get", method="GET", params={"media_id": media_id})
        data = self._json(response)
        if data is not None and "errcode" in data:
            raise WeChatApiError(int(data["errcode"]), str(data.get("errmsg", "")))
        return response.content, response.headers.get("content-type", "application/octet-stream")


class WeChatSender:
    """The outbox's sender for WeChat rows: ``custom`` → 客服消息, ``template`` → 模板消息.

    With ``windows``, a 客服 message to a user whose window we know is closed or used up is refused here with
    WeChat's own code (45015/45047), so the outbox falls back to a template without a doomed call.
    """

    def __init__(self, api: WeChatApi, windows: ServiceWindows | None = None) -> None:
        self._api = api
        self._windows = windows

    def __call__(self, delivery: Delivery) -> None:
        """Send one row: a ready ``body``, or a neutral notice (text + typed-command hint) as 客服 text."""
        body = delivery.payload.get("body") or notice_body(delivery.recipient, delivery.payload)
        if delivery.kind != "template" and self._windows is not None:
            refusal = self._windows.admit(delivery.recipient)
            if refusal is not None:
                raise DeliveryError(refusal.reason, retryable=False, code=refusal.code)
        try:
            if delivery.kind == "template":
                self._api.send_template(body)
            else:
                self._api.send_custom(body)
        except WeChatUnavailable as exc:
            raise DeliveryError(str(exc), retryable=True) from None
        except WeChatApiError as exc:
            raise DeliveryError(str(exc), retryable=exc.retryable, code=exc.errcode,
                                gone=exc.errcode in GONE_ERRORS) from None


def notice_body(openid: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A neutral outbox notice as a 客服 text message: WeChat has no buttons on pushes, so the hint says what to type."""
    text = "\n".join(part for part in (payload.get("text", ""), payload.get("hint", "")) if part)
    return {"touser": openid, "msgtype": "text", "text": {"content": text}}


def media_path(media_dir: Path, media_id: str) -> Path:
    """Where a WeChat media id is stored: a hash, since ids are long and not filename-safe."""
    return media_dir / "wechat" / (hashlib.sha1(media_id.encode()).hexdigest()[:24] + ".jpg")


def fetch_media(api: WeChatApi, media_id: str, target: Path, *, attempts: int = 3) -> bool:
    """Download a media id to ``target`` (temporary media expires after 3 days); True when stored."""

    def fetch() -> bytes:
        try:
            return api.download_media(media_id)[0]
        except WeChatApiError as exc:
            raise NotDownloadable(f"media/get refused with {exc.errcode}") from None

    return download(fetch, target, transient=WeChatUnavailable, label="wechat media", attempts=attempts)
