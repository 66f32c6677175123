"""Telegram updates → Inbound (every sample of PLATFORMS.md §3.5) and replies → sendMessage params."""

from __future__ import annotations

import json

import pytest

from bot.adapters.telegram_adapter import (
    CallbackRef,
    MalformedUpdate,
    inline_keyboard,
    normalise_phone,
    parse_update,
    render_payload,
    reply_payload,
    split_text,
)
from bot.messages import Button, GeoPoint, InboundKind, Reply, Share, ShareRequest
from tests.telegram_fake import sample, text_update


def parse(update: dict[str, object]) -> object:
    return parse_update(json.dumps(update).encode())


@pytest.mark.parametrize("name", ["official_text", "official_callback"])
def test_official_samples_lacking_is_bot_are_malformed(name: str) -> None:
    with pytest.raises(MalformedUpdate):
        parse(sample(name))


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"update_id": "x"}', "\u8def".encode()])
def test_bodies_that_are_not_updates_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedUpdate):
        parse_update(body)


def test_start_without_payload_greets() -> None:
    parsed = parse_update(json.dumps(sample("start")).encode())
    assert parsed.inbound is not None
    assert (parsed.update_id, parsed.inbound.kind, parsed.inbound.payload) == (10000, InboundKind.SUBSCRIBE, None)
    assert (parsed.inbound.user_key, parsed.inbound.chat_key, parsed.inbound.message_id) == ("1111111", "1111111",
                                                                                             "10000")


@pytest.mark.parametrize(("text", "kind", "field", "value"), [
    ("/start bind_ABCD2345", InboundKind.SUBSCRIBE, "payload", "bind_ABCD2345"),
    ("/start@fake_bot grid_G01", InboundKind.SUBSCRIBE, "payload", "grid_G01"),
    ("/help", InboundKind.SUBSCRIBE, "payload", None),
    ("/cancel", InboundKind.TEXT, "text", "取消"),
    ("/mytasks", InboundKind.TEXT, "text", "我的任务"),
    ("小区门口路灯坏了", InboundKind.TEXT, "text", "小区门口路灯坏了"),
])
def test_text_and_commands(text: str, kind: InboundKind, field: str, value: str | None) -> None:
    inbound = parse_update(json.dumps(text_update(5, text)).encode()).inbound
    assert inbound is not None and inbound.kind is kind and getattr(inbound, field) == value


def test_location_is_a_typed_point() -> None:
    inbound = parse_update(json.dumps(sample("location")).encode()).inbound
    assert inbound is not None and inbound.kind is InboundKind.LOCATION
    assert inbound.location == GeoPoint(-23.691288, -46.788279)


def test_photo_takes_the_largest_size_and_the_caption() -> None:
    inbound = parse_update(json.dumps(sample("photo")).encode()).inbound
    assert inbound is not None and inbound.kind is InboundKind.IMAGE
    assert (inbound.media_ref, inbound.text) == ("PHOTO_FILE_ID_L", "leaking pipe, building 3")


def test_own_contact_gives_the_phone_and_a_forwarded_one_does_not() -> None:
    own = sample("contact")
    inbound = parse_update(json.dumps(own).encode()).inbound
    assert inbound is not None and (inbound.kind, inbound.phone) == (InboundKind.CONTACT, "11234567890")
    own["message"]["contact"]["user_id"] = 99
    forwarded = parse_update(json.dumps(own).encode()).inbound
    assert forwarded is not None and (forwarded.kind, forwarded.phone) == (InboundKind.CONTACT, None)


@pytest.mark.parametrize(("given", "phone"), [("+86 138 1234 5678", "13812345678"), ("8613812345678", "13812345678"),
                                              ("13812345678", "13812345678"), ("+11234567890", "11234567890")])
def test_phone_numbers_lose_the_china_prefix(given: str, phone: str) -> None:
    assert normalise_phone(given) == phone


def test_callback_on_a_message_is_a_button_with_its_keyboard_reference() -> None:
    parsed = parse_update(json.dumps(sample("callback")).encode())
    assert parsed.inbound is not None and parsed.inbound.kind is InboundKind.BUTTON
    assert parsed.inbound.payload == "ticket:42:accept"
    assert parsed.callback == CallbackRef("4382bfdwdsb323b2da", 1111111, 1400, None)


def test_callback_on_an_inline_message() -> None:
    parsed = parse_update(json.dumps(sample("callback_inline")).encode())
    assert parsed.callback == CallbackRef("4382bfdwdsb323b2d9", None, None, "1234csdbsk4839")


@pytest.mark.parametrize(("name", "kind", "payload"), [
    ("edited_message", InboundKind.UNSUPPORTED, "event:edited_message"),
    ("my_chat_member_kicked", InboundKind.UNSUBSCRIBE, None),
    ("sticker", InboundKind.UNSUPPORTED, "sticker"),
    ("group_text", InboundKind.UNSUPPORTED, "event:group"),
])
def test_other_updates(name: str, kind: InboundKind, payload: str | None) -> None:
    inbound = parse_update(json.dumps(sample(name)).encode()).inbound
    assert inbound is not None and (inbound.kind, inbound.payload) == (kind, payload)


def test_update_without_sender_has_no_inbound() -> None:
    assert parse_update(b'{"update_id": 5}').inbound is None


def test_reply_renders_as_inline_keyboard_with_callback_data() -> None:
    payload = reply_payload(Reply("请核对", (Button("确认", "confirm"), Button("修改", "edit"), Button("取消", "cancel"))))
    [message] = render_payload(payload)
    assert message == {"text": "请核对", "reply_markup": {"inline_keyboard": [
        [{"text": "确认", "callback_data": "confirm"}, {"text": "修改", "callback_data": "edit"}],
        [{"text": "取消", "callback_data": "cancel"}]]}}


@pytest.mark.parametrize(("what", "field"), [(Share.LOCATION, "request_location"), (Share.CONTACT, "request_contact")])
def test_a_share_request_renders_as_a_one_time_reply_keyboard(what: Share, field: str) -> None:
    reply = Reply("请留电话", (Button("不留电话", "skip"),), share=ShareRequest(what, "点这里"))
    [message] = render_payload(json.loads(json.dumps(reply_payload(reply))))  # as stored in the outbox
    assert message == {"text": "请留电话", "reply_markup": {
        "keyboard": [[{"text": "点这里", field: True}], [{"text": "不留电话"}]],
        "one_time_keyboard": True, "resize_keyboard": True}}


def test_long_labels_get_a_row_each_and_oversized_data_is_dropped() -> None:
    keyboard = inline_keyboard([("这是一个很长的按钮标签", "a"), ("短", "x" * 65)])
    assert keyboard == {"inline_keyboard": [[{"text": "这是一个很长的按钮标签", "callback_data": "a"}]]}


def test_long_text_is_split_at_lines_and_the_keyboard_goes_last() -> None:
    text = "\n".join(f"第{i}行" + "路" * 100 for i in range(100))
    messages = render_payload({"text": text, "buttons": [["确认", "confirm"]], "hint": "回复 1"})
    assert len(messages) == 3 and all(len(m["text"]) <= 4096 for m in messages)
    assert "\n".join(m["text"] for m in messages) == text
    assert [("reply_markup" in m) for m in messages] == [False, False, True]


def test_a_line_longer_than_the_limit_is_cut_counting_utf16_units() -> None:
    chunks = split_text("😀" * 3000)
    assert [len(c) for c in chunks] == [2048, 952]
    assert split_text("  \n ") == []
