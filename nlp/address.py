"""Colloquial address parser: finds address spans in a message and splits them into named parts.

It reads a message left to right. Numbers with a unit (``3栋``, ``二单元``, ``1101室``, ``3-2-1101``) are matched
by rules; runs of Chinese characters are cut at the nearest place-name suffix (``小区``, ``路``, ``社区``…), and
the suffix decides the part. Which suffixes mean what, and the administrative names to skip (省/市/区/镇), were
learned from the address-parsing corpus (``nlp/data/address_lexicon.json``, rebuilt by
``bench/address_parser.py --learn``) and merged with a hand-written seed list for chat wording.
The module also owns the numeral helpers (full-width digits, Chinese numerals) that ``nlp.entities`` reuses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

# --- numerals -------------------------------------------------------------------------------------------------

_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULL_WIDTH.update({0x3000: 0x20, 0x2014: 0x2D, 0x2013: 0x2D, 0x2212: 0x2D, 0xFF0D: 0x2D})
CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
             "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
CN_NUMBER_CHARS = "".join(CN_DIGITS) + "".join(_CN_UNITS) + "".join(_CN_BIG)


def to_halfwidth(text: str) -> str:
    """Turn full-width digits, letters and punctuation (and long dashes) into ASCII; length is unchanged."""
    return text.translate(_FULL_WIDTH)


def cn_to_int(text: str) -> int | None:
    """Read an integer written in arabic or Chinese numerals (``二十三``, ``两百``, ``一一零一``, ``3千``)."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if all(ch in CN_DIGITS or ch.isdigit() for ch in text):
        return int("".join(str(CN_DIGITS.get(ch, ch)) for ch in text))
    total, section, digit = 0, 0, None
    for ch in text:
        if ch.isdigit() or ch in CN_DIGITS:
            digit = int(ch) if ch.isdigit() else CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        elif ch in _CN_BIG:
            total += (section + (digit or 0) or 1) * _CN_BIG[ch]
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


# --- lexicon --------------------------------------------------------------------------------------------------

SEED_SUFFIXES = {
    "小区": "poi", "花园": "poi", "苑": "poi", "院": "poi", "大厦": "poi", "广场": "poi", "家园": "poi",
    "新村": "poi", "公寓": "poi", "大楼": "poi", "商城": "poi", "市场": "poi", "中心": "poi", "宿舍": "poi",
    "医院": "poi", "学校": "poi", "小学": "poi", "中学": "poi", "公园": "poi", "超市": "poi", "府": "poi",
    "社区": "community", "村": "community", "居委会": "community",
    "路": "road", "街": "road", "大街": "road", "大道": "road", "巷": "road", "胡同": "road", "弄": "road",
    "街道": "town", "镇": "town", "乡": "town", "省": "prov", "市": "city", "区": "district", "县": "district",
}
# Words that end in a suffix character but are not places (楼道, 马路); chunks never cross them.
_STOP_WORDS = ("门口", "对面", "附近", "旁边", "楼下", "楼上", "里面", "外面", "后面", "前面", "路灯", "马路",
               "楼道", "过道", "通道", "下水道", "车道", "人行道", "知道", "味道", "频道", "渠道", "一路",
               "道路", "电路", "线路", "走路", "小区里", "我们", "你们", "他们", "这里", "那里", "哪里",
               "单元门", "楼梯", "院子", "街上", "路上", "路面", "路边", "小路", "公路上", "区域", "村口",
               "交叉口", "十字路口")
_STOP_CHARS = set("与及跟在住到于是我你他她它们了把给被从向往说个这那边旁的吗呢吧啊呀嘛哦，,。.!！?？;；:：、()（）[]【】“”\"' \t\n")
_STOP_RE = re.compile("|".join(sorted(_STOP_WORDS, key=len, reverse=True)))


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Suffix → part label, and administrative names (省/市/区/镇) to recognise whole."""

    suffixes: dict[str, str]
    admin: dict[str, str]
    max_suffix: int = 3


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The packaged lexicon merged with the seed suffixes (loaded once)."""
    try:
        raw = json.loads(resources.files("nlp.data").joinpath("address_lexicon.json").read_text("utf-8"))
    except FileNotFoundError:
        raw = {"suffixes": {}, "admin": {}}
    suffixes = dict(raw.get("suffixes", {}))
    suffixes.update(SEED_SUFFIXES)
    return Lexicon(suffixes=suffixes, admin=dict(raw.get("admin", {})))


# --- parts and spans ------------------------------------------------------------------------------------------

NAMED = frozenset({"poi", "road", "community", "subpoi"})
ADMIN = frozenset({"prov", "city", "district", "town", "devzone", "country"})
_N = f"[0-9{''.join(CN_DIGITS)}十百千]"
_NUMERIC_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dash", re.compile(r"([A-Za-z]?\d{1,4})-(\d{1,3})-(\d{1,4})(?:-(\d{1,4}))?(?![\d-])")),
    ("houseno", re.compile(f"(?:{_N}{{1,4}}|[A-Za-z]{{1,2}}\\d{{0,2}})(?:号楼|栋|幢|座|号院)")),
    ("cellno", re.compile(f"(?:{_N}{{1,3}}|[A-Za-z东西南北中])单元")),
    ("floorno", re.compile(f"(?:负|地下|-)?{_N}{{1,3}}(?:层|楼)(?!道|梯|下|上|顶)")),
    ("roomno", re.compile(f"(?:{_N}{{1,5}}|[A-Za-z]\\d{{1,4}})(?:室|房|号房|户)")),
    ("number_hao", re.compile(f"\\d{{1,5}}(?:-\\d{{1,5}})?号|{_N}{{1,4}}号(?!线|楼)")),
    ("bare", re.compile(r"[A-Za-z]?\d{1,5}(?:-\d{1,5})?(?![\d:：.点])")),
)


@dataclass(frozen=True, slots=True)
class Part:
    """One labelled piece of an address, with its character offsets in the text."""

    label: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Address:
    """An address found in a message: its span, its parts and how sure the parser is."""

    text: str
    start: int
    end: int
    poi: str | None = None
    community: str | None = None
    road: str | None = None
    road_no: str | None = None
    building: str | None = None
    unit: str | None = None
    floor: str | None = None
    room: str | None = None
    confidence: float = 0.0
    parts: tuple[Part, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, object]:
        """The address as plain JSON-ready values (parts dropped)."""
        keys = ("text", "poi", "community", "road", "road_no", "building", "unit", "floor", "room")
        out: dict[str, object] = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        out["confidence"] = round(self.confidence, 3)
        return out


def _blocked_mask(text: str) -> list[bool]:
    """Mark characters a place name may not contain (stop characters and stop words)."""
    mask = [ch in _STOP_CHARS for ch in text]
    for m in _STOP_RE.finditer(text):
        for k in range(m.start(), m.end()):
            mask[k] = True
    return mask


def _suffix_at(text: str, start: int, end: int, lex: Lexicon) -> tuple[str, int] | None:
    """The longest known suffix of ``text[start:end]`` as (label, suffix length), if any."""
    for size in range(min(lex.max_suffix, end - start), 0, -1):
        label = lex.suffixes.get(text[end - size:end])
        if label is not None:
            return label, size
    return None


def _name_chunk(text: str, i: int, mask: list[bool], lex: Lexicon) -> Part | None:
    """Cut a place name starting at ``i`` at the nearest suffix (or a whole administrative name)."""
    limit = i
    while limit < len(text) and limit - i < 14 and not mask[limit] and not _is_numeric_start(text, limit):
        limit += 1
    for size in range(min(limit - i, 8), 1, -1):
        label = lex.admin.get(text[i:i + size])
        if label is not None:
            return Part(label, i, i + size, text[i:i + size])
    for end in range(i + 2, limit + 1):
        found = _suffix_at(text, i, end, lex)
        if found is None:
            continue
        label, size = found
        for extra in (1, 2):  # prefer 街道 over 街, 市场 over 市: a longer suffix overlapping this one
            if end + extra <= limit:
                longer = _suffix_at(text, i, end + extra, lex)
                if longer is not None and longer[1] > extra:
                    label, end = longer[0], end + extra
                    break
        return Part(label, i, end, text[i:end])
    return None


def _is_numeric_start(text: str, i: int) -> bool:
    """Whether a number (arabic, or a Chinese numeral followed by a unit) starts at ``i``."""
    ch = text[i]
    if ch.isdigit():
        return True
    return any(rule.match(text, i) for name, rule in _NUMERIC_RULES[1:5])


def _numeric_part(text: str, i: int, previous: str | None) -> list[Part]:
    """Match a number with its unit at ``i``; the part before decides what a bare number or ``N号`` is."""
    for name, rule in _NUMERIC_RULES:
        m = rule.match(text, i)
        if m is None:
            continue
        if name == "dash":
            return _dash_parts(m, previous)
        if name in ("number_hao", "bare"):
            if previous is None and name == "bare":
                return []
            label = _label_for_number(previous, name)
            return [Part(label, m.start(), m.end(), m.group())] if label else []
        return [Part(name, m.start(), m.end(), m.group())]
    return []


def _label_for_number(previous: str | None, kind: str) -> str | None:
    """A bare number or ``N号`` is a road number after a road, a building after a place, a room later on."""
    if previous in ("road", "subroad"):
        return "roadno"
    if previous in ("poi", "community", "subpoi", "roadno", None):
        return "houseno"
    if previous in ("houseno", "cellno", "floorno"):
        return "roomno"
    return "houseno" if kind == "number_hao" else None


def _dash_parts(m: re.Match[str], previous: str | None) -> list[Part]:
    """``3-2-1101`` is building-unit-room, ``3-2-11-01`` building-unit-floor-room."""
    groups = [g for g in m.groups() if g is not None]
    labels = ["houseno", "cellno", "roomno"] if len(groups) == 3 else ["houseno", "cellno", "floorno", "roomno"]
    parts, pos = [], m.start()
    for label, value in zip(labels, groups):
        parts.append(Part(label, pos, pos + len(value), value))
        pos += len(value) + 1
    return parts


def tag(text: str, lexicon: Lexicon | None = None) -> list[Part]:
    """Label every address part in ``text`` (administrative parts included), left to right."""
    lex = lexicon or default_lexicon()
    norm = to_halfwidth(text)
    mask = _blocked_mask(norm)
    parts: list[Part] = []
    i = 0
    while i < len(norm):
        previous = parts[-1].label if parts and i - parts[-1].end <= 1 else None
        found = _numeric_part(norm, i, previous)
        if not found and not mask[i] and not norm[i].isdigit():
            chunk = _name_chunk(norm, i, mask, lex)
            found = [chunk] if chunk else []
        if not found:
            i += _skip_length(norm, i)
            continue
        found = [Part(p.label, p.start, p.end, text[p.start:p.end]) for p in found]
        if parts and found[0].label in NAMED and parts[-1].end == found[0].start and _is_bare_suffix(found[0], lex):
            merged = parts.pop()  # 花园 + 小区 → one name; a chunk that is only a suffix joins the one before
            found[0] = Part(found[0].label, merged.start, found[0].end, text[merged.start:found[0].end])
        parts.extend(found)
        i = found[-1].end
    return parts


def _skip_length(text: str, i: int) -> int:
    """How far to move when nothing matches: a whole digit run, or one character."""
    if text[i].isdigit():
        j = i
        while j < len(text) and (text[j].isdigit() or text[j] in "-.:"):
            j += 1
        return j - i
    return 1


def _is_bare_suffix(part: Part, lex: Lexicon) -> bool:
    """Whether a name chunk is nothing but a suffix word (小区, 社区)."""
    return lex.suffixes.get(part.text) is not None and len(part.text) >= 2


def parse(text: str, lexicon: Lexicon | None = None) -> list[Address]:
    """Find the address spans in a message, each with its structured parts and a confidence."""
    parts = [p for p in tag(text, lexicon) if p.label not in ("redundant",)]
    groups: list[list[Part]] = []
    for part in parts:
        if groups and part.start - groups[-1][-1].end <= 1 and _gap_ok(text, groups[-1][-1].end, part.start):
            groups[-1].append(part)
        else:
            groups.append([part])
    lex = lexicon or default_lexicon()
    return [address for group in groups if (address := _build(text, group, lex)) is not None]


def _gap_ok(text: str, start: int, end: int) -> bool:
    """Parts of one address may be separated by nothing, a space, a dash or 的."""
    return all(ch in " -的、" for ch in text[start:end])


_VALUE_FIELDS = {"poi": "poi", "subpoi": "poi", "community": "community", "road": "road", "roadno": "road_no",
                 "houseno": "building", "cellno": "unit", "floorno": "floor", "roomno": "room"}
_UNIT_RE = re.compile(r"(号楼|号院|号房|栋|幢|座|单元|层|楼|室|房|户|号)$")


def _value(label: str, raw: str) -> str:
    """Normalise a part's value: names stay, numbers lose their unit and become arabic digits."""
    if label in ("poi", "subpoi", "community", "road"):
        return raw
    core = _UNIT_RE.sub("", to_halfwidth(raw)) or raw
    number = cn_to_int(core) if any(ch in CN_NUMBER_CHARS for ch in core) else None
    return str(number) if number is not None else core


def _build(text: str, group: list[Part], lex: Lexicon) -> Address | None:
    """Turn a run of parts into an Address, or None when it is too weak to be one."""
    useful = [p for p in group if p.label in _VALUE_FIELDS]
    named = [p for p in useful if p.label in NAMED and not _is_bare_suffix(p, lex)]
    numeric = [p for p in useful if p.label not in NAMED]
    if not named and len(numeric) < 2:
        return None
    values: dict[str, str] = {}
    for part in useful:
        key = _VALUE_FIELDS[part.label]
        if (part.label in NAMED and part not in named) or (key in values and key != "poi"):
            continue  # a bare 小区 names nothing; the first road/building/... wins
        values[key] = values[key] + part.text if key == "poi" and key in values else _value(part.label, part.text)
    start, end = group[0].start, group[-1].end
    confidence = min(0.99, 0.3 + 0.35 * bool(named) + 0.12 * len(numeric) + 0.05 * len(named))
    return Address(text=text[start:end], start=start, end=end, confidence=confidence, parts=tuple(group),
                   **values)


def learn_lexicon(addresses: Iterable[list[tuple[str, str]]], min_count: int = 5,
                  min_share: float = 0.6) -> dict[str, dict[str, str]]:
    """Learn suffix → label and administrative names from labelled addresses (lists of (label, text) spans)."""
    end_counts: dict[str, dict[str, int]] = {}
    inner_counts: dict[str, int] = {}
    admin_counts: dict[str, dict[str, int]] = {}
    for spans in addresses:
        for label, text in spans:
            for size in (1, 2, 3):
                for k in range(len(text) - size):  # the string inside a name, not at its end
                    inner_counts[text[k:k + size]] = inner_counts.get(text[k:k + size], 0) + 1
            if label in ADMIN and 2 <= len(text) <= 8:
                admin_counts.setdefault(text, {}).setdefault(label, 0)
                admin_counts[text][label] += 1
            if label not in NAMED | ADMIN | {"subroad"} or len(text) < 2:
                continue
            for size in (1, 2, 3):
                if len(text) > size and not text[-size:].isdigit():
                    bucket = end_counts.setdefault(text[-size:], {})
                    bucket[label] = bucket.get(label, 0) + 1
    suffixes = {}
    for suffix, counts in end_counts.items():
        label, count = max(counts.items(), key=lambda kv: kv[1])
        total = sum(counts.values())
        if count >= min_count and count / total >= min_share and total / (total + inner_counts.get(suffix, 0)) >= 0.5:
            suffixes[suffix] = "road" if label == "subroad" else label
    admin = {name: max(c.items(), key=lambda kv: kv[1])[0] for name, c in admin_counts.items()
             if sum(c.values()) >= 2}
    return {"suffixes": dict(sorted(suffixes.items())), "admin": dict(sorted(admin.items()))}
