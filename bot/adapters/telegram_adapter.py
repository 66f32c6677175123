"""Telegram adapter: update JSON → Inbound (parsed with PTB 22 ``Update.de_json``), Reply → sendMessage params.

Only translation lives here; the endpoint (``webhooks/telegram.py``) decides what to do with the result.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Message, Update, User

from bot.messages import GeoPoint, Inbound, InboundKind, Platform, Reply, Share
from handlers import texts
from handlers.staff_tasks import LIST_WORDS

logger = logging.getLogger(__name__)

MAX_TEXT = 4096          # sendMessage text limit, in UTF-16 code units
MAX_CALLBACK_DATA = 64   # callback_data limit, in bytes
SHORT_LABEL = 6          # buttons with labels up to this long go two to a row
COMMANDS = {"/cancel": texts.CANCEL, "/mytasks": LIST_WORDS[0]}  # typed as the words the engine understands
GREETING_COMMANDS = frozenset({"/start", "/help"})
MEDIA_KINDS = ("voice", "audio", "video", "video_note", "animation", "document", "sticker", "poll", "dice")


class MalformedUpdate(ValueError):
    """The body is not an update PTB can parse (answered 200 and logged: retrying cannot fix it)."""


@dataclass(frozen=True, slots=True)
class CallbackRef:
    """What is needed to answer a button press and remove its keyboard."""

    query_id: str
    chat_id: int | None
    message_id: int | None
    inline_message_id: str | None


@dataclass(frozen=True, slots=True)
class ParsedUpdate:
    """One update: its id, the neutral message (None when nobody sent it) and the button press, if any."""

    update_id: int
    inbound: Inbound | None
    callback: CallbackRef | None = None


def parse_update(body: bytes) -> ParsedUpdate:
    """Parse a webhook body; MalformedUpdate for anything that is not a well-formed update."""
    try:
        data = json.loads(body)
    except ValueError:
        raise MalformedUpdate("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        raise MalformedUpdate("not an update object")
    try:
        update = Update.de_json(data, None)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise MalformedUpdate(f"rejected by PTB: {type(exc).__name__}") from None
    return to_parsed(update)


def to_parsed(update: Update) -> ParsedUpdate:
    """Translate a PTB Update into the neutral model; unknown kinds become UNSUPPORTED, never an error."""
    if update.callback_query is not None:
        return _from_callback(update.update_id, update.callback_query)
    if update.message is not None:
        return ParsedUpdate(update.update_id, _from_message(update.update_id, update.message))
    user = update.effective_user
    if user is None:
        return ParsedUpdate(update.update_id, None)
    return ParsedUpdate(update.update_id, _event(update, user))


def _base(update_id: int, user: User, chat_id: int | None) -> dict[str, Any]:
    """The fields every Inbound from this sender shares."""
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or None
    return {"platform": Platform.TELEGRAM, "user_key": str(user.id), "chat_key": str(chat_id or user.id),
            "message_id": str(update_id), "display_name": name}


def _from_callback(update_id: int, query: CallbackQuery) -> ParsedUpdate:
    """A pressed inline button: BUTTON with its callback_data as the payload."""
    message = query.message
    ref = CallbackRef(query.id, message.chat.id if message else None, message.message_id if message else None,
                      query.inline_message_id)
    base = _base(update_id, query.from_user, message.chat.id if message else None)
    if query.data is None:  # a game button: nothing we offered
        return ParsedUpdate(update_id, Inbound(**base, kind=InboundKind.UNSUPPORTED, payload="event:game"), ref)
    return ParsedUpdate(update_id, Inbound(**base, kind=InboundKind.BUTTON, payload=query.data), ref)


def _from_message(update_id: int, message: Message) -> Inbound | None:
    """A message in a chat with the bot; groups are recorded but not answered."""
    user = message.from_user
    if user is None:
        return None
    base = _base(update_id, user, message.chat.id)
    if message.chat.type != "private":
        return Inbound(**base, kind=InboundKind.UNSUPPORTED, payload="event:group")
    return Inbound(**base, **_message_fields(message, user))


def _message_fields(message: Message, user: User) -> dict[str, Any]:
    """Kind and content of a private message."""
    if message.text is not None:
        return _text_fields(message.text)
    if message.location is not None:
        label = message.venue.title if message.venue else None
        return {"kind": InboundKind.LOCATION,
                "location": GeoPoint(message.location.latitude, message.location.longitude, label)}
    if message.photo:
        return {"kind": InboundKind.IMAGE, "media_ref": message.photo[-1].file_id, "text": message.caption}
    if message.contact is not None:
        own = message.contact.user_id == user.id  # a forwarded contact is someone else's number
        return {"kind": InboundKind.CONTACT, "phone": normalise_phone(message.contact.phone_number) if own else None}
    kind = next((name for name in MEDIA_KINDS if getattr(message, name, None)), "other")
    return {"kind": InboundKind.UNSUPPORTED, "payload": kind}


def _text_fields(text: str) -> dict[str, Any]:
    """Plain text, or a command: /start [payload] and /help greet, /cancel and /mytasks become their words."""
    command, _, rest = text.strip().partition(" ")
    name = command.split("@", 1)[0].lower()
    if name in GREETING_COMMANDS:
        payload = rest.strip() if name == "/start" else ""
        return {"kind": InboundKind.SUBSCRIBE, "payload": payload or None}
    if name in COMMANDS:
        return {"kind": InboundKind.TEXT, "text": COMMANDS[name]}
    return {"kind": InboundKind.TEXT, "text": text}


def _event(update: Update, user: User) -> Inbound:
    """Updates that are not messages: a block (my_chat_member → kicked) is UNSUBSCRIBE, the rest recorded only."""
    member = update.my_chat_member
    base = _base(update.update_id, user, update.effective_chat.id if update.effective_chat else None)
    if member is not None and member.new_chat_member.status == "kicked":
        return Inbound(**base, kind=InboundKind.UNSUBSCRIBE)
    name = next((t for t in Update.ALL_TYPES if getattr(update, t, None) is not None), "other")
    return Inbound(**base, kind=InboundKind.UNSUPPORTED, payload=f"event:{name}")


def normalise_phone(phone: str) -> str:
    """Digits only, without China's +86 prefix (Telegram sends ``8613812345678`` or ``+86 138…``)."""
    digits = re.sub(r"\D", "", phone)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


# --- outbound -------------------------------------------------------------------------------------------------


def reply_payload(reply: Reply) -> dict[str, Any]:
    """An engine reply as the neutral outbox payload the notifier also uses: {"text", "buttons"} (+ "share")."""
    text = "\n".join(p for p in (reply.text, reply.url) if p)
    payload: dict[str, Any] = {"text": text, "buttons": [[b.label, b.payload] for b in reply.buttons]}
    if reply.share is not None:
        payload["share"] = [str(reply.share.what), reply.share.label]
    return payload


def render_payload(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """sendMessage params for an outbox payload: text in chunks, the keyboard on the last (``hint`` is WeChat's).

    A payload with a ``share`` gets a reply keyboard (the share button, then its choices) instead of an inline one.
    """
    buttons = [(str(b[0]), str(b[1])) for b in payload.get("buttons") or []]
    share = payload.get("share")
    keyboard = (share_keyboard(str(share[0]), str(share[1]), [label for label, _ in buttons]) if share
                else inline_keyboard(buttons))
    chunks = split_text(str(payload.get("text") or ""))
    if not chunks:
        return []
    messages: list[dict[str, Any]] = [{"text": chunk} for chunk in chunks]
    if keyboard:
        messages[-1]["reply_markup"] = keyboard
    return messages


def share_keyboard(what: str, label: str, choices: Sequence[str]) -> dict[str, Any]:
    """A ReplyKeyboardMarkup: the one-tap share (location, or the user's own number) on top, then the reply's
    choices as plain buttons (a press sends the label, which the engine reads as that choice); it hides once used.
    """
    request = "request_location" if what == Share.LOCATION else "request_contact"
    rows = [[{"text": label, request: True}], *([{"text": choice}] for choice in choices)]
    return {"keyboard": rows, "one_time_keyboard": True, "resize_keyboard": True}


def inline_keyboard(buttons: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    """An InlineKeyboardMarkup: short labels two to a row; payloads over 64 bytes are dropped (never cut)."""
    usable = [(label, data) for label, data in buttons if 0 < len(data.encode()) <= MAX_CALLBACK_DATA]
    if len(usable) < len(buttons):
        logger.warning("dropped %s button(s) whose callback data exceeds 64 bytes", len(buttons) - len(usable))
    width = 2 if all(len(label) <= SHORT_LABEL for label, _ in usable) else 1
    rows = [[{"text": label, "callback_data": data} for label, data in usable[i:i + width]]
            for i in range(0, len(usable), width)]
    return {"inline_keyboard": rows} if rows else None


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _cut(line: str, limit: int) -> tuple[str, str]:
    """The longest head of ``line`` within ``limit`` units, and the rest."""
    size = 0
    for index, char in enumerate(line):
        size += _units(char)
        if size > limit:
            return line[:index], line[index:]
    return line, ""


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in chunks of at most ``limit`` units, broken at line ends where possible; [] for blank text."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while _units(line) > limit:
            head, line = _cut(line, limit)
            chunks += [c for c in (current, head) if c]
            current = ""
        candidate = f"{current}\n{line}" if current else line
        if _units(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    chunks.append(current)
    return [c for c in chunks if c.strip()]
