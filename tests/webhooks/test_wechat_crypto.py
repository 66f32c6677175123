"""WeChat message crypto, signatures and XML translation, against the published vectors (PLATFORMS.md §3)."""

from __future__ import annotations

import pytest

from bot.adapters.wechat_adapter import (
    MAX_BODY_BYTES,
    BadSignature,
    MalformedMessage,
    MessageCrypto,
    parse_xml,
    passive_xml,
    render_texts,
    sign,
    signature_ok,
    to_inbound,
)
from bot.messages import Button, GeoPoint, InboundKind, Reply
from tests.wechat_fake import sample

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
C1_BODY = ("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]>"
           "</FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA["
           "abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53R"
           "EIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE3"
           "28HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWw"
           "MrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewpusj"
           "Z4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>")
C1_PLAIN = ("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIW"
            "Zf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Conte"
            "nt><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>")
C2_BODY = ("<xml>\n    <ToUserName><![CDATA[asdasdasd]]></ToUserName>\n    <Encrypt><![CDATA[rTNFcsut4LfGuAFKEUVVpwcaCOTJz"
           "Od9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXz"
           "UZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1ynkmOytpv7QRI1P1+0NoxL0q2zO1Dge"
           "SvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85oy0ktOY4nLvsQMLrourmMGdZHuTbqpe"
           "J8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9QGPe31GT2Go/rOz1BsrASwvauNulCh"
           "+++yz+CQzBIuikA==]]></Encrypt>\n</xml>\n")
C3_REPLY2 = ("<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f0"
             "83739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video>"
             "<MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><!["
             "CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Vid"
             "eo></xml>")
C3_AFTER2 = ("jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+w"
             "LMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9en"
             "GIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38"
             "YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042Ol"
             "Ub1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8"
             "xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb")
C4_IN = ("<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA["
         "wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
         "<CreateTime>1411525903</CreateTime>\n</xml>")
C4_ENCRYPT = ("9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtOb"
              "vesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6"
              "o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWw"
              "i1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3")
C4_BODY = ("<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n<Encrypt><![CDATA[RgqEoJj5A4EMYlLvWO1F86ioRjZfa"
           "ex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qG"
           "PMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ"
           "5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQip"
           "vWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]></Encrypt>\n<AgentID><![CDATA["
           "1]]></AgentID>\n</xml>")


def test_official_sample_decrypts_to_the_exact_plaintext() -> None:
    crypto = MessageCrypto("spamtest", KEY, "wx2c2769f8efd9abc2")
    plain = crypto.decrypt_envelope(parse_xml(C1_BODY.encode()), "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
                                    "1409735669", "1320562132")
    assert plain == C1_PLAIN


def test_plain_signatures_match_published_values() -> None:
    assert sign("spamtest", "1409735669", "1320562132") == "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"
    assert sign("test", "1410685589", "test") == "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
    assert not signature_ok(sign("test", "1410685589", "test"), "f21891de399b4e33a1a93c9a7b8a8fffb5a443fe")


def test_padding_is_unpadded_with_block_32() -> None:
    crypto = MessageCrypto("pamtest", KEY, "wxb11529c136998cb6")
    plain = crypto.decrypt_envelope(parse_xml(C2_BODY.encode()), "4f3ad57b6989f09f4eb392acce4f9e93942ed890",
                                    "1458300676", "260774613")
    fields = parse_xml(plain.encode())
    assert (fields["FromUserName"], fields["CreateTime"], fields["Content"]) == ("asdasdasdsadasd", "1234567898", "hello")


def test_wrong_msg_signature_is_refused() -> None:
    crypto = MessageCrypto("pamtest", KEY, "wxb11529c136998cb6")
    with pytest.raises(BadSignature):
        crypto.decrypt_envelope(parse_xml(C2_BODY.encode()), "invalid-signature", "1458300676", "260774613")


def test_plain_signature_in_place_of_msg_signature_is_refused() -> None:
    crypto = MessageCrypto("spamtest", KEY, "wx2c2769f8efd9abc2")
    with pytest.raises(BadSignature):
        crypto.decrypt_envelope(parse_xml(C1_BODY.encode()), "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a",
                                "1409735669", "1320562132")


def test_message_for_another_app_id_is_refused() -> None:
    crypto = MessageCrypto("pamtest", KEY, "invalid appid")
    with pytest.raises(BadSignature):
        crypto.decrypt_envelope(parse_xml(C2_BODY.encode()), "4f3ad57b6989f09f4eb392acce4f9e93942ed890",
                                "1458300676", "260774613")


def test_encryption_is_byte_exact_with_the_java_sample() -> None:
    crypto = MessageCrypto("pamtest", KEY, "wxb11529c136998cb6")
    expected = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    assert crypto.encrypt("我是中文abcd123", b"aaaabbbbccccdddd") == expected
    assert crypto.encrypt(C3_REPLY2, b"aaaabbbbccccdddd") == C3_AFTER2
    assert crypto.decrypt(C3_AFTER2) == C3_REPLY2


def test_encryption_and_signature_match_wechatpy_vector() -> None:
    crypto = MessageCrypto("123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a")
    encrypted = crypto.encrypt(C4_IN, b"1234567890123456")
    assert encrypted == C4_ENCRYPT
    assert sign("123456", "1411525903", "461056294", encrypted) == "407518b7649e86ef23978113f92d27afa9296533"
    plain = crypto.decrypt_envelope(parse_xml(C4_BODY.encode()), "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
                                    "1411525903", "461056294")
    assert parse_xml(plain.encode())["Content"] == "test"


def test_encrypted_reply_round_trips() -> None:
    crypto = MessageCrypto("spamtest", KEY, "wx2c2769f8efd9abc2")
    reply = passive_xml("你好 ]]> 世界", to_user="oUser", from_account="gh_acc", now=lambda: 1700000000)
    envelope = parse_xml(crypto.encrypt_reply(reply, "1700000001", "nonce9").encode())
    plain = crypto.decrypt_envelope(envelope, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    fields = parse_xml(plain.encode())
    assert (fields["ToUserName"], fields["FromUserName"], fields["Content"]) == ("oUser", "gh_acc", "你好 ]]> 世界")


@pytest.mark.parametrize(("name", "kind", "text", "payload", "message_id"), [
    ("text", InboundKind.TEXT, "this is a test", None, "1234567890123456"),
    ("image", InboundKind.IMAGE, None, None, "1234567890123456"),
    ("voice_recognition", InboundKind.VOICE, "腾讯微信团队", None, "1234567890123456"),
    ("voice", InboundKind.VOICE, None, None, "1234567890123456"),
    ("link", InboundKind.LINK, "公众平台官网链接", "url", "1234567890123456"),
    ("video", InboundKind.UNSUPPORTED, None, "video", "1234567890123456"),
    ("subscribe", InboundKind.SUBSCRIBE, None, None, "FromUser:123456789:subscribe"),
    ("subscribe_qrscene", InboundKind.SUBSCRIBE, None, "123123", "FromUser:123456789:subscribe"),
    ("unsubscribe", InboundKind.UNSUBSCRIBE, None, None, "FromUser:123456789:unsubscribe"),
    ("scan", InboundKind.SCAN, None, "123123", "FromUser:123456789:SCAN"),
    ("click", InboundKind.BUTTON, None, "EVENTKEY", "FromUser:123456789:CLICK"),
    ("view", InboundKind.VIEW, None, "www.qq.com", "FromUser:123456789:VIEW"),
    ("templatesendjobfinish", InboundKind.UNSUPPORTED, None, "event:templatesendjobfinish",
     "fromuser:1395658920:TEMPLATESENDJOBFINISH"),
    ("subscribe_msg_popup_event", InboundKind.UNSUPPORTED, None, "event:subscribe_msg_popup_event",
     "otFpruAK8D-E6EfStSYonYSBZ8_4:1610969440:subscribe_msg_popup_event"),
])
def test_every_sample_translates_to_the_neutral_model(name: str, kind: InboundKind, text: str | None,
                                                      payload: str | None, message_id: str) -> None:
    inbound = to_inbound(parse_xml(sample(name).encode()))
    assert (inbound.kind, inbound.text, inbound.payload, inbound.message_id) == (kind, text, payload, message_id)


def test_locations_are_floats_with_latitude_first() -> None:
    sent = to_inbound(parse_xml(sample("location").encode()))
    reported = to_inbound(parse_xml(sample("location_event").encode()))
    assert sent.location == GeoPoint(23.134521, 113.358803, "位置信息")
    assert reported.location == GeoPoint(23.137466, 113.352425) and reported.payload == "event"


def test_image_carries_its_media_id() -> None:
    assert to_inbound(parse_xml(sample("image").encode())).media_ref == "media_id"


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "boom">]><xml><MsgType>text</MsgType>&x;</xml>',
    b'<!ENTITY x SYSTEM "file:///etc/passwd"><xml/>',
    b"<xml><ToUserName>unclosed</xml>",
    b"not xml at all",
    b'{"json": true}',
    b"<other><a>1</a></other>",
    b"<xml>" + b"<Content>a</Content>" * (MAX_BODY_BYTES // 20) + b"</xml>",
])
def test_malformed_entity_laden_or_oversize_xml_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedMessage):
        to_inbound(parse_xml(body))


def test_buttons_are_numbered_across_the_turn() -> None:
    replies = [Reply("请确认", (Button("确认", "yes"), Button("修改", "edit"))), Reply("或者", (Button("取消", "no"),))]
    assert render_texts(replies) == ["请确认\n回复数字选择：\n1. 确认\n2. 修改", "或者\n回复数字选择：\n3. 取消"]
