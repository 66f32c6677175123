"""WeChat official account adapter: signatures, AES message crypto, XML → Inbound, Reply → XML/JSON.

Only translation lives here; the endpoint (``webhooks/wechat.py``) decides what to do with the result.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import struct
import time
from collections.abc import Callable, Mapping
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.messages import GeoPoint, Inbound, InboundKind, Platform, Reply

MAX_BODY_BYTES = 64 * 1024
BLOCK = 32  # WeChat pads PKCS#7 to 32 bytes, not the AES block size (PLATFORMS.md §1.2, vector W-C2)
CHOICE_PROMPT = "回复数字选择："
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


class MalformedMessage(ValueError):
    """The body is not a WeChat XML message we accept (answer 400)."""


class BadSignature(ValueError):
    """A signature, AES payload or AppID did not check out (answer 403)."""


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_ok(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a signature we computed with one we were given."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class MessageCrypto:
    """AES-256-CBC message encryption of the 公众号 "safe" and "compatible" modes."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        self.token = token
        self.app_id = app_id
        self._key = base64.b64decode(encoding_aes_key + "=")
        if len(self._key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")

    def _cipher(self) -> Cipher[modes.CBC]:
        """A fresh cipher (IV = the first 16 key bytes)."""
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plaintext: str, random_prefix: bytes | None = None) -> str:
        """Base64 ciphertext of random(16) || len || msg || AppID, PKCS#7-padded to 32 bytes."""
        msg = plaintext.encode()
        buf = (random_prefix or os.urandom(16)) + struct.pack(">I", len(msg)) + msg + self.app_id.encode()
        pad = BLOCK - len(buf) % BLOCK
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(buf + bytes([pad]) * pad) + enc.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """The plaintext XML; BadSignature when it does not decrypt cleanly or names another AppID."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
            dec = self._cipher().decryptor()
            buf = dec.update(raw) + dec.finalize()
        except (ValueError, TypeError) as exc:
            raise BadSignature("ciphertext does not decrypt") from exc
        pad = buf[-1] if buf else 0
        if not 1 <= pad <= BLOCK or len(buf) < 20 + pad:
            raise BadSignature("bad padding")
        content = buf[16:-pad]
        (length,) = struct.unpack(">I", content[:4])
        if 4 + length > len(content) or content[4 + length:].decode(errors="replace") != self.app_id:
            raise BadSignature("message is for another AppID")
        return content[4:4 + length].decode()

    def decrypt_envelope(self, fields: Mapping[str, Any], msg_signature: str | None, timestamp: str,
                         nonce: str) -> str:
        """Check ``msg_signature`` over the Encrypt field, then decrypt it."""
        encrypted = fields.get("Encrypt")
        if not isinstance(encrypted, str):
            raise MalformedMessage("no Encrypt field")
        if not signature_ok(sign(self.token, timestamp, nonce, encrypted), msg_signature):
            raise BadSignature("msg_signature mismatch")
        return self.decrypt(encrypted)

    def encrypt_reply(self, xml: str, timestamp: str, nonce: str) -> str:
        """The encrypted passive-reply envelope, signed over its own Encrypt."""
        encrypted = self.encrypt(xml)
        signature = sign(self.token, timestamp, nonce, encrypted)
        return (f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><MsgSignature><![CDATA[{signature}]]>"
                f"</MsgSignature><TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>")


def parse_xml(body: bytes) -> dict[str, Any]:
    """The ``<xml>`` element as a dict; MalformedMessage for oversize, DOCTYPE/ENTITY or broken XML."""
    if len(body) > MAX_BODY_BYTES:
        raise MalformedMessage("body too large")
    if _FORBIDDEN.search(body):
        raise MalformedMessage("DOCTYPE/ENTITY declarations are refused")
    try:
        doc = xmltodict.parse(body, disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise MalformedMessage("not well-formed XML") from exc
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise MalformedMessage("no <xml> root")
    return root


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    """A leaf field as a string (None when absent or not a leaf)."""
    value = fields.get(name)
    return value if isinstance(value, str) else None


def message_key(fields: Mapping[str, Any]) -> str:
    """The dedupe key WeChat's retries share: MsgId, or FromUserName+CreateTime+Event for events."""
    msg_id = _text(fields, "MsgId")
    if msg_id:
        return msg_id
    return f"{_text(fields, 'FromUserName')}:{_text(fields, 'CreateTime')}:{_text(fields, 'Event')}"


def _float(fields: Mapping[str, Any], name: str) -> float:
    """A numeric field; MalformedMessage when missing or not a number."""
    try:
        return float(_text(fields, name) or "")
    except ValueError:
        raise MalformedMessage(f"{name} is not a number") from None


def _message_kind(msg_type: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Inbound fields for an ordinary (non-event) message."""
    if msg_type == "text":
        return {"kind": InboundKind.TEXT, "text": _text(fields, "Content") or ""}
    if msg_type == "image":
        return {"kind": InboundKind.IMAGE, "media_ref": _text(fields, "MediaId")}
    if msg_type == "voice":
        return {"kind": InboundKind.VOICE, "text": _text(fields, "Recognition"), "media_ref": _text(fields, "MediaId")}
    if msg_type == "location":
        point = GeoPoint(_float(fields, "Location_X"), _float(fields, "Location_Y"), _text(fields, "Label"))
        return {"kind": InboundKind.LOCATION, "location": point}
    if msg_type == "link":
        return {"kind": InboundKind.LINK, "text": _text(fields, "Title"), "payload": _text(fields, "Url")}
    return {"kind": InboundKind.UNSUPPORTED, "payload": msg_type}


def _event_kind(event: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Inbound fields for an event; the ``qrscene_`` prefix of a follow-by-QR is stripped."""
    key = _text(fields, "EventKey") or ""
    if event == "subscribe":
        return {"kind": InboundKind.SUBSCRIBE, "payload": key.removeprefix("qrscene_") or None}
    if event == "unsubscribe":
        return {"kind": InboundKind.UNSUBSCRIBE}
    if event == "scan":
        return {"kind": InboundKind.SCAN, "payload": key}
    if event == "location":
        point = GeoPoint(_float(fields, "Latitude"), _float(fields, "Longitude"))
        return {"kind": InboundKind.LOCATION, "location": point, "payload": "event"}
    if event == "click":
        return {"kind": InboundKind.BUTTON, "payload": key}
    if event == "view":
        return {"kind": InboundKind.VIEW, "payload": key}
    return {"kind": InboundKind.UNSUPPORTED, "payload": f"event:{event}"}


def to_inbound(fields: Mapping[str, Any]) -> Inbound:
    """Translate a plaintext message dict into the neutral model; unknown types become UNSUPPORTED."""
    user = _text(fields, "FromUserName")
    msg_type = (_text(fields, "MsgType") or "").lower()
    if not user or not msg_type:
        raise MalformedMessage("FromUserName and MsgType are required")
    if msg_type == "event":
        extra = _event_kind((_text(fields, "Event") or "").lower(), fields)
    else:
        extra = _message_kind(msg_type, fields)
    return Inbound(platform=Platform.WECHAT, user_key=user, chat_key=user, message_id=message_key(fields), **extra)


def is_periodic_location(inbound: Inbound) -> bool:
    """True for the LOCATION *event* WeChat reports on its own (not a location the user chose to send)."""
    return inbound.kind is InboundKind.LOCATION and inbound.payload == "event"


def render_texts(replies: list[Reply]) -> list[str]:
    """Each reply as plain text; buttons become lines numbered across the whole turn, as the engine reads them."""
    texts: list[str] = []
    number = 0
    for reply in replies:
        parts = [reply.text]
        if reply.buttons:
            lines = "".join(f"\n{number + i}. {b.label}" for i, b in enumerate(reply.buttons, 1))
            parts.append(CHOICE_PROMPT + lines)
            number += len(reply.buttons)
        if reply.url:
            parts.append(reply.url)
        texts.append("\n".join(p for p in parts if p))
    return texts


def _cdata(text: str) -> str:
    """Text safe inside CDATA (wechatpy does not split ``]]>``, which breaks the XML)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def passive_xml(text: str, *, to_user: str, from_account: str, now: Callable[[], float] = time.time) -> str:
    """A passive text reply (fields swapped: to the user, from the account)."""
    return (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_account)}</FromUserName>"
            f"<CreateTime>{int(now())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(text)}</Content></xml>")


def custom_text(openid: str, text: str) -> dict[str, Any]:
    """Body of ``message/custom/send`` for a text message."""
    return {"touser": openid, "msgtype": "text", "text": {"content": text}}


def template_message(openid: str, template_id: str, data: Mapping[str, str], url: str | None = None,
                     client_msg_id: str | None = None) -> dict[str, Any]:
    """Body of ``message/template/send``; fields are cut to 20 characters on one line (2023 rules)."""
    body: dict[str, Any] = {"touser": openid, "template_id": template_id,
                            "data": {k: {"value": v.replace("\n", " ")[:20]} for k, v in data.items()}}
    if url:
        body["url"] = url
    if client_msg_id:
        body["client_msg_id"] = client_msg_id[:64]
    return body
