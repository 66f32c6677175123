"""The 客服消息 window: when WeChat lets us message a user first, and how many messages it allows.

A user's message opens 48 hours for 5 messages; a menu click, a follow or a QR scan opens 1 minute for 3
(PLATFORMS.md §1.5, since mid-2023). A new interaction replaces the quota, it does not add to it. The window
lives in the shared store, so every process sees the same one, and each send is counted atomically under the
window that allowed it (each window has an id and its own counter, so there is nothing to reset).

A window we know is closed or used up refuses the send here, as WeChat would with 45015/45047, so the outbox
falls back to a template at once instead of spending a doomed call. A user we have no record of (the store
forgot, or they wrote before this version) is tried: WeChat's own answer then decides.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.adapters.wechat_adapter import is_periodic_location
from bot.messages import Inbound, InboundKind
from core.store import StateStore

MESSAGE_WINDOW = (48 * 3600.0, 5)   # seconds, messages: after the user sent us something
EVENT_WINDOW = (60.0, 3)            # after a menu click, a follow or a scan
MESSAGE_KINDS = frozenset({InboundKind.TEXT, InboundKind.IMAGE, InboundKind.VOICE, InboundKind.LOCATION,
                           InboundKind.LINK})
EVENT_KINDS = frozenset({InboundKind.BUTTON, InboundKind.SUBSCRIBE, InboundKind.SCAN})
REMEMBER = 7 * 86400.0  # keep a closed window this long, so "closed" is known rather than "never seen"
OUTSIDE_WINDOW, QUOTA_USED = 45015, 45047  # the codes WeChat itself answers with


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a 客服 message may not be sent now, with the errcode WeChat would have given."""

    code: int
    reason: str


class ServiceWindows:
    """Opens windows on interactions and admits 客服 sends against them."""

    def __init__(self, store: StateStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    @staticmethod
    def _key(openid: str) -> str:
        return f"wechat:window:{openid}"

    def interacted(self, inbound: Inbound) -> None:
        """Open the window this interaction gives, unless a wider one with more messages left is open.

        A message always gives the widest window, so it is written without reading the old one (one store call
        per message on the webhook's path); an event only replaces a window it improves on.
        """
        if is_periodic_location(inbound):  # reported by WeChat on its own: not an interaction
            return
        if inbound.kind in MESSAGE_KINDS:
            seconds, quota = MESSAGE_WINDOW
        elif inbound.kind in EVENT_KINDS:
            seconds, quota = EVENT_WINDOW
        else:
            return
        now = self._clock()
        if inbound.kind in EVENT_KINDS and self._covers(inbound.user_key, now + seconds, quota):
            return
        window = {"id": secrets.token_hex(8), "opened": now, "until": now + seconds, "quota": quota}
        self._store.set_json(self._key(inbound.user_key), window, seconds + REMEMBER)

    def admit(self, openid: str) -> Refusal | None:
        """Count one 客服 message to ``openid``; a Refusal when we know WeChat would refuse it."""
        window = self._store.get_json(self._key(openid))
        if window is None:
            return None
        now = self._clock()
        if now > window["until"]:
            return Refusal(OUTSIDE_WINDOW, "outside the 客服 window (checked locally)")
        sent = self._store.incr(self._counter(openid, window), 1, ttl=window["until"] - now + 60)
        if sent > window["quota"]:
            return Refusal(QUOTA_USED, f"客服 quota of {window['quota']} used (checked locally)")
        return None

    def _covers(self, openid: str, until: float, quota: int) -> bool:
        """Whether the open window lasts until ``until`` with at least ``quota`` messages left."""
        window = self._store.get_json(self._key(openid))
        if window is None or window["until"] < until:
            return False
        sent = int(self._store.get(self._counter(openid, window)) or 0)
        return int(window["quota"]) - sent >= quota

    @staticmethod
    def _counter(openid: str, window: dict[str, Any]) -> str:
        """Sends counted under one window; every window has its own id, so a new one starts from zero."""
        return f"wechat:window-sent:{openid}:{window['id']}"
