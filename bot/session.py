"""Conversation state between turns: which flow and state a user is in, the draft, the buttons on offer.

Kept in the state store as JSON under ``conv:{platform}:{user_key}`` with a ``version`` field and a TTL, so it
survives restarts and is shared by every worker; a state written by another version of the code is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.messages import Platform, Reply
from core.store import StateStore

VERSION = 1


@dataclass
class Conversation:
    """One user's conversation: the active flow (if any), its state and draft, and what they may press."""

    flow: str | None = None
    state: str | None = None
    draft: dict[str, Any] = field(default_factory=dict)
    offered: list[tuple[str, str]] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict)

    def end_flow(self) -> None:
        """Leave the active flow; the memo (e.g. the last policy asked about) is kept."""
        self.flow, self.state, self.draft = None, None, {}

    def offer(self, replies: list[Reply]) -> None:
        """Remember the buttons of the last replies, so typed numbers and labels can be read as presses."""
        self.offered = [(b.label, b.payload) for reply in replies for b in reply.buttons]

    def choice_for(self, text: str) -> str | None:
        """The payload of an offered button the user typed by number ("1") or by label ("确认")."""
        if text.isdigit() and 1 <= int(text) <= len(self.offered):
            return self.offered[int(text) - 1][1]
        return next((payload for label, payload in self.offered if label == text), None)

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"version": VERSION, "flow": self.flow, "state": self.state, "draft": self.draft,
                "offered": [list(pair) for pair in self.offered], "memo": self.memo}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        """Read the stored form; a state from another version starts afresh."""
        if data.get("version") != VERSION:
            return cls()
        return cls(flow=data["flow"], state=data["state"], draft=data["draft"],
                   offered=[(label, payload) for label, payload in data["offered"]], memo=data["memo"])


class SessionStore:
    """Loads and saves conversations in the state store."""

    def __init__(self, store: StateStore, ttl_seconds: float) -> None:
        self.store, self.ttl = store, ttl_seconds

    @staticmethod
    def key(platform: Platform, user_key: str) -> str:
        """``conv:{platform}:{user_key}``."""
        return f"conv:{platform}:{user_key}"

    def load(self, platform: Platform, user_key: str) -> Conversation:
        """The user's conversation, or a fresh one."""
        data = self.store.get_json(self.key(platform, user_key))
        return Conversation() if data is None else Conversation.from_json(data)

    def save(self, platform: Platform, user_key: str, conversation: Conversation) -> None:
        """Store the conversation for another TTL."""
        self.store.set_json(self.key(platform, user_key), conversation.to_json(), self.ttl)

    def clear(self, platform: Platform, user_key: str) -> None:
        """Forget the conversation (after an error, so a broken state cannot trap the user)."""
        self.store.delete(self.key(platform, user_key))

