"""The platform-neutral message model: adapters translate to and from it, the engine only sees these."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Platform(StrEnum):
    """Chat platforms gridbot serves (and the terminal, for ``gridbot chat``)."""

    WECHAT = "wechat"
    TELEGRAM = "telegram"
    CONSOLE = "console"


class InboundKind(StrEnum):
    """What a person sent, independent of the platform."""

    TEXT = "text"
    LOCATION = "location"
    IMAGE = "image"
    VOICE = "voice"
    LINK = "link"
    BUTTON = "button"          # a button press / menu click; ``payload`` holds its key
    CONTACT = "contact"        # a shared phone number (Telegram)
    SUBSCRIBE = "subscribe"    # follow / /start; ``payload`` may hold a QR scene or deep-link code
    UNSUBSCRIBE = "unsubscribe"
    SCAN = "scan"
    VIEW = "view"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A point shared by the user; ``label`` is the place name the platform sends, if any."""

    lat: float
    lon: float
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One thing a person sent to the bot."""

    platform: Platform
    user_key: str
    chat_key: str
    message_id: str
    kind: InboundKind
    text: str | None = None
    location: GeoPoint | None = None
    media_ref: str | None = None
    payload: str | None = None
    phone: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the user: ``label`` is shown, ``payload`` comes back when pressed."""

    label: str
    payload: str


class Share(StrEnum):
    """What a platform can let the user share with one tap instead of typing it."""

    LOCATION = "location"
    CONTACT = "contact"


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """A one-tap share offered with a reply: Telegram shows a keyboard button that sends the location or the
    user's own number; platforms without one (WeChat) rely on the reply's text, which says how to send it."""

    what: Share
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One message the bot sends back. WeChat renders buttons as numbered text."""

    text: str
    buttons: tuple[Button, ...] = ()
    url: str | None = None
    image_path: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    share: ShareRequest | None = None
