"""Address spans and parts in colloquial messages."""

from __future__ import annotations

import pytest

from nlp.address import cn_to_int, parse


@pytest.mark.parametrize(("text", "expected"), [
    ("我家住在幸福小区三栋二单元1101，楼道灯坏了",
     {"text": "幸福小区三栋二单元1101", "poi": "幸福小区", "building": "3", "unit": "2", "room": "1101"}),
    ("阳光花园3-2-1101漏水了", {"text": "阳光花园3-2-1101", "poi": "阳光花园", "building": "3", "unit": "2",
                             "room": "1101"}),
    ("建设路88号门口路灯不亮", {"text": "建设路88号", "road": "建设路", "road_no": "88"}),
    ("幸福社区5号楼2单元301室", {"text": "幸福社区5号楼2单元301室", "community": "幸福社区", "building": "5",
                            "unit": "2", "room": "301"}),
    ("万达广场B座十二层", {"text": "万达广场B座十二层", "poi": "万达广场", "building": "B", "floor": "12"}),
    ("中山路口的井盖丢了", {"text": "中山路", "road": "中山路"}),
    ("红星村村口垃圾多", {"text": "红星村", "community": "红星村"}),
])
def test_address_parts(text: str, expected: dict[str, str]) -> None:
    found = parse(text)
    assert len(found) == 1
    got = found[0].as_dict()
    got.pop("confidence")
    assert got == expected


@pytest.mark.parametrize("text", ["小区门口的路灯坏了好几天了", "社区能不能派人来", "路灯不亮", "我电话13912345678"])
def test_no_address_in_messages_without_one(text: str) -> None:
    assert parse(text) == []


def test_two_roads_at_a_crossing_are_two_addresses() -> None:
    assert [a.road for a in parse("人民路与建设路交叉口")] == ["人民路", "建设路"]


def test_named_place_with_numbers_is_more_certain_than_a_bare_name() -> None:
    full = parse("幸福小区三栋二单元1101")[0]
    bare = parse("幸福小区有人吵")[0]
    assert full.confidence > bare.confidence


@pytest.mark.parametrize(("text", "value"), [
    ("三", 3), ("十二", 12), ("二十三", 23), ("两百", 200), ("一千零一", 1001), ("一一零一", 1101), ("3千", 3000),
    ("两百万", 2_000_000), ("abc", None),
])
def test_chinese_numerals(text: str, value: int | None) -> None:
    assert cn_to_int(text) == value
