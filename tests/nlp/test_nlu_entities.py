"""Entity extraction on real message wording, with a fixed clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from nlp.entities import CHINA_TZ, extract, mask_phone, mask_sensitive

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=CHINA_TZ)  # a Friday


@pytest.mark.parametrize(("text", "phones"), [
    ("我电话13912345678", ["13912345678"]),
    ("联系139 1234 5678", ["13912345678"]),
    ("打139-1234-5678找我", ["13912345678"]),
    ("+86 139 1234 5678", ["13912345678"]),
    ("+8613912345678", ["13912345678"]),
    ("0086-13912345678", ["13912345678"]),
    ("号码是１３９１２３４５６７８", ["13912345678"]),
    ("手机幺三九一二三四五六七八", ["13912345678"]),
    ("工单20261204-0007", []),
    ("12345678901234", []),
])
def test_mobile_phones_are_normalised_to_eleven_digits(text: str, phones: list[str]) -> None:
    assert list(extract(text, NOW).phone) == phones


@pytest.mark.parametrize(("text", "landlines"), [
    ("社区电话0543-6312345", ["0543-6312345"]),
    ("打(0543)6312345", ["0543-6312345"]),
    ("（0543）6312345", ["0543-6312345"]),
    ("0543 6312345", ["0543-6312345"]),
    ("010-62345678", ["010-62345678"]),
    ("办公室0543-6312345转801", ["0543-6312345-801"]),
])
def test_landlines_get_a_dash_after_the_area_code(text: str, landlines: list[str]) -> None:
    assert list(extract(text, NOW).landline) == landlines


@pytest.mark.parametrize(("text", "masked"), [
    ("我身份证110101199003071233", "我身份证1101**********1233"),
    ("证号44030419850612006x", "证号4403**********006X"),
    ("旧证110101900307123", "旧证1101*******7123"),
    ("电话13912345678", "电话139****5678"),
    ("电话+86 139 1234 5678好", "电话139****5678好"),
    ("身份证110101199003071234", "身份证110101199003071234"),  # wrong check digit: not an ID number
])
def test_mask_sensitive_hides_phones_and_valid_id_numbers(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked


def test_id_number_with_invalid_check_digit_is_not_extracted() -> None:
    assert extract("110101199003071234", NOW).id_card == ()
    assert extract("110101199003071233", NOW).id_card == ("110101199003071233",)


def test_mask_phone_drops_separators() -> None:
    assert mask_phone("+86 139-1234-5678") == "139****5678"


@pytest.mark.parametrize(("text", "case_no"), [
    ("接单 20261204-0007", ["20261204-0007"]),
    ("查下202612040007", ["20261204-0007"]),
    ("工单２０２６１２０４－０００７进度", ["20261204-0007"]),
    ("20261399-0007", []),
])
def test_case_numbers(text: str, case_no: list[str]) -> None:
    assert list(extract(text, NOW).case_no) == case_no


@pytest.mark.parametrize(("text", "times"), [
    ("今天楼下又堆满了", ["2026-12-04"]),
    ("昨天就坏了", ["2026-12-03"]),
    ("前天报的", ["2026-12-02"]),
    ("昨晚十点还在施工", ["2026-12-03T22:00:00+08:00"]),
    ("今早八点半看到的", ["2026-12-04T08:30:00+08:00"]),
    ("上周三开始漏水", ["2026-11-25"]),
    ("12月5日来修", ["2026-12-05"]),
    ("2026年12月5日", ["2026-12-05"]),
    ("下午3点有人来", ["2026-12-04T15:00:00+08:00"]),
    ("刚才有人打架", ["2026-12-04T15:30:00+08:00"]),
    ("前天晚上9点半", ["2026-12-02T21:30:00+08:00"]),
    ("地上有一点脏", []),
])
def test_relative_times_resolve_against_now(text: str, times: list[str]) -> None:
    assert list(extract(text, NOW).time) == times


@pytest.mark.parametrize(("text", "amounts"), [
    ("补贴5万元", [50000.0]),
    ("骗了我三千块", [3000.0]),
    ("贷款1.5万", [15000.0]),
    ("营业额两百万", [2000000.0]),
    ("住3栋2单元", []),
])
def test_amounts_in_yuan(text: str, amounts: list[float]) -> None:
    assert list(extract(text, NOW).amount) == amounts


@pytest.mark.parametrize(("text", "size"), [
    ("我们是小微企业", "micro"), ("一家小型企业", "small"), ("微型企业", "micro"), ("中型企业", "medium"),
    ("大型企业", "large"), ("我是个体工商户", "individual"), ("路灯坏了", None),
])
def test_enterprise_size_words(text: str, size: str | None) -> None:
    assert extract(text, NOW).enterprise_size == size


def test_entities_as_dict_masks_id_numbers() -> None:
    found = extract("身份证110101199003071233 电话13912345678", NOW).as_dict()
    assert found["id_card"] == ["1101**********1233"]
    assert found["phone"] == ["13912345678"]
