"""Entity extraction from one message: phones, ID numbers, addresses, case numbers, times, amounts, size.

Pure functions, no I/O. The text is first made half-width (same length, so offsets hold), and long runs of
Chinese digits (幺三九…) are read as digits for phone numbers. Times are resolved against ``now``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from nlp import address as address_parser
from nlp.address import CN_DIGITS, cn_to_int, to_halfwidth

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Entities:
    """Everything ``extract`` found; phones are 11 digits, landlines ``0543-6312345``, times ISO strings."""

    phone: tuple[str, ...] = ()
    landline: tuple[str, ...] = ()
    id_card: tuple[str, ...] = ()
    address: tuple[address_parser.Address, ...] = ()
    case_no: tuple[str, ...] = ()
    time: tuple[str, ...] = ()
    amount: tuple[float, ...] = ()
    enterprise_size: str | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready entities; ID numbers are given masked, never in clear."""
        return {
            "phone": list(self.phone),
            "landline": list(self.landline),
            "id_card": [mask_id(i) for i in self.id_card],
            "address": [a.text for a in self.address],
            "address_parts": [a.as_dict() for a in self.address],
            "case_no": list(self.case_no),
            "time": list(self.time),
            "amount": list(self.amount),
            "enterprise_size": self.enterprise_size,
        }


# --- digits ----------------------------------------------------------------------------------------------------

_CN_DIGIT_RUN = re.compile(f"[0-9{''.join(CN_DIGITS)}]{{7,}}")


def normalise(text: str) -> str:
    """Half-width text with long runs of Chinese digits (phone numbers read aloud) turned into arabic digits."""
    text = to_halfwidth(text)
    return _CN_DIGIT_RUN.sub(lambda m: "".join(str(CN_DIGITS.get(c, c)) for c in m.group()), text)


# --- ID numbers ------------------------------------------------------------------------------------------------

_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{6})((?:19|20)\d{2})(\d{2})(\d{2})\d{3}[0-9Xx](?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])\d{6}(\d{2})(\d{2})(\d{2})\d{3}(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_ok(number: str) -> bool:
    """Whether an 18-digit resident ID number has a valid check digit (GB 11643)."""
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def _valid_date(month: str, day: str) -> bool:
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


def _id_spans(text: str) -> list[tuple[int, int, str]]:
    """Valid ID numbers (18-digit with check digit, or 15-digit) with their offsets."""
    spans = [(m.start(), m.end(), m.group().upper()) for m in _ID18.finditer(text)
             if _valid_date(m.group(3), m.group(4)) and id_check_ok(m.group())]
    spans += [(m.start(), m.end(), m.group()) for m in _ID15.finditer(text)
              if _valid_date(m.group(2), m.group(3))]
    return spans


def mask_id(number: str) -> str:
    """``110101199003071234`` → ``1101**********1234``."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# --- phones ----------------------------------------------------------------------------------------------------

_SEP = r"[ \-]?"
_MOBILE = re.compile(
    rf"(?<![\d+])(?:(?:\+|00)?86{_SEP})?(1[3-9]\d){_SEP}(\d{{4}}){_SEP}(\d{{4}})(?!\d)"
)
_LANDLINE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)?86[ \-]?)?"
    r"(?:\((0\d{2,3})\)|(0\d{2,3})[ \-]?)"
    r"\s?([2-9]\d{6,7})"
    r"(?:\s?(?:转|-|分机|ext\.?|EXT\.?|x)\s?(\d{1,5}))?(?!\d)"
)


def mask_phone(phone: str) -> str:
    """``13912345678`` → ``139****5678`` (separators and +86 dropped); ``0571-80001234`` → ``0571-****1234``."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 11 and digits[-11] == "1":
        mobile = digits[-11:]
        return mobile[:3] + "****" + mobile[-4:]
    area, sep, number = phone.rpartition("-")
    if sep and area:
        return f"{area}-{'*' * max(len(number) - 4, 0)}{number[-4:]}"
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def _mobile_spans(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), "".join(m.groups())) for m in _MOBILE.finditer(text)]


def _landline_spans(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _LANDLINE.finditer(text):
        area = m.group(1) or m.group(2)
        if not _area_code_ok(area, m.group(3)):
            continue
        value = f"{area}-{m.group(3)}" + (f"-{m.group(4)}" if m.group(4) else "")
        out.append((m.start(), m.end(), value))
    return out


def _area_code_ok(area: str, local: str) -> bool:
    """010 and 02x are three digits with 8-digit numbers; the other area codes are four digits."""
    if area == "010" or area.startswith("02"):
        return len(area) == 3 and len(local) == 8
    return len(area) == 4


# --- masking ---------------------------------------------------------------------------------------------------


def mask_sensitive(text: str) -> str:
    """Mask mobile phones (139****5678) and resident ID numbers (1101**********1234) in a message."""
    norm = normalise(text)
    spans = [(s, e, mask_id(v)) for s, e, v in _id_spans(norm)]
    spans += [(s, e, mask_phone(v)) for s, e, v in _mobile_spans(norm) if not _inside(s, e, spans)]
    out, pos = [], 0
    for start, end, masked in sorted(spans):
        out.append(text[pos:start])
        out.append(masked)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _inside(start: int, end: int, spans: list[tuple[int, int, str]]) -> bool:
    return any(s < end and start < e for s, e, _ in spans)


# --- case numbers ----------------------------------------------------------------------------------------------

_CASE_NO = re.compile(r"(?<!\d)(20\d{2})(\d{2})(\d{2})[ \-_]?(\d{4})(?!\d)")


def _case_spans(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), f"{m.group(1)}{m.group(2)}{m.group(3)}-{m.group(4)}")
            for m in _CASE_NO.finditer(text) if _valid_date(m.group(2), m.group(3))]


# --- amounts and enterprise size -------------------------------------------------------------------------------

_AMOUNT = re.compile(
    rf"(\d+(?:\.\d+)?|[{''.join(CN_DIGITS)}十百千]+)\s*(万亿|亿|万|千|百)?\s*(元|块钱|块|人民币|rmb|RMB)?"
)
_MULTIPLIER = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "百": 1e2, None: 1.0}


def _amounts(text: str, taken: list[tuple[int, int, str]]) -> list[float]:
    """Money amounts: a number with 元/块, or with 万/亿 (``1.5万``, ``两百万``, ``三千块``)."""
    out = []
    for m in _AMOUNT.finditer(text):
        number, big, currency = m.groups()
        if not (currency or big in ("万", "亿", "万亿")) or _inside(m.start(), m.end(), taken):
            continue
        if big is None and not currency:
            continue
        value = float(number) if number[0].isdigit() else cn_to_int(number)
        if value is None:
            continue
        out.append(float(value) * _MULTIPLIER[big])
    return out


_SIZES = (("个体工商户", "individual"), ("个体户", "individual"), ("小微企业", "micro"), ("小微", "micro"),
          ("微型", "micro"), ("小型", "small"), ("中小企业", "small"), ("中型", "medium"), ("大型", "large"))


def enterprise_size(text: str) -> str | None:
    """The enterprise size a message states: micro, small, medium, large or individual."""
    return next((code for word, code in _SIZES if word in text), None)


# --- times -----------------------------------------------------------------------------------------------------

_CN = f"[0-9{''.join(CN_DIGITS)}十]"
_DAYS = {"大前天": -3, "前天": -2, "昨天": -1, "昨日": -1, "今天": 0, "今日": 0, "明天": 1, "明日": 1,
         "后天": 2, "大后天": 3, "昨晚": -1, "昨夜": -1, "今晚": 0, "今夜": 0, "今早": 0, "明早": 1,
         "明晚": 1, "昨早": -1, "今儿": 0, "昨儿": -1, "明儿": 1}
_DAY_PERIOD = {"昨晚": "晚上", "昨夜": "夜里", "今晚": "晚上", "今夜": "夜里", "今早": "早上", "明早": "早上",
               "明晚": "晚上", "昨早": "早上"}
_PERIOD_HOUR = {"凌晨": 3, "清晨": 7, "早上": 8, "早晨": 8, "上午": 9, "中午": 12, "下午": 15, "傍晚": 18,
                "晚上": 20, "夜里": 23, "半夜": 0, "夜间": 22}
_WEEK_SHIFT = {"上上": -14, "上": -7, "这": 0, "本": 0, "下": 7, None: 0}
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_TIME = re.compile(
    "(?:(?P<day>" + "|".join(sorted(_DAYS, key=len, reverse=True)) + ")"
    r"|(?P<wshift>上上|上|这|本|下)?个?(?:周|星期|礼拜)(?P<wday>[一二三四五六日天末1-7])"
    rf"|(?:(?P<year>\d{{4}}|[{''.join(CN_DIGITS)}]{{4}})年)?(?P<month>{_CN}{{1,2}})月(?P<mday>{_CN}{{1,3}})[日号]?"
    r"|(?P<iy>20\d{2})[-/.](?P<im>\d{1,2})[-/.](?P<id>\d{1,2})(?!\d))?"
    r"\s*(?P<period>" + "|".join(_PERIOD_HOUR) + r"|晚|早)?"
    rf"\s*(?:(?P<hour>{_CN}{{1,3}})(?:点|时)(?P<minute>半|一刻|三刻|{_CN}{{1,3}}分?)?"
    r"|(?P<hh>[0-2]?\d)[:：](?P<mm>[0-5]\d))?"
)


def extract_times(text: str, now: datetime, taken: Sequence[tuple[int, int, str]] = ()) -> list[str]:
    """Dates and times in the text as ISO strings (a date alone stays a date), resolved against ``now``."""
    out = [now.replace(microsecond=0).isoformat()] if re.search("刚才|刚刚|就在刚", text) else []
    for m in _TIME.finditer(text):
        if not m.group().strip() or _inside(m.start(), m.end(), list(taken)):
            continue
        value = _resolve(m, now)
        if value is not None:
            out.append(value)
    return list(dict.fromkeys(out))


def _resolve(m: re.Match[str], now: datetime) -> str | None:
    """Turn one time match into an ISO date or datetime, or None when it is not a time after all."""
    day = _resolve_date(m, now)
    period = _DAY_PERIOD.get(m.group("day") or "") or m.group("period")
    clock = _resolve_clock(m, period)
    if clock is None and m.group("hour") is not None:
        return None
    if day is None and clock is None and period is None:
        return None
    day = day or now.date()
    if clock is None and period is not None:
        clock = time(_PERIOD_HOUR.get(period, 20 if period == "晚" else 8))
    if clock is None:
        return day.isoformat()
    return datetime.combine(day, clock, tzinfo=now.tzinfo).isoformat()


def _resolve_date(m: re.Match[str], now: datetime) -> date | None:
    """The calendar day a match names, if it names one."""
    today = now.date()
    if m.group("day"):
        return today + timedelta(days=_DAYS[m.group("day")])
    if m.group("wday"):
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=_WEEK_SHIFT[m.group("wshift")] + _WEEKDAY[m.group("wday")])
    if m.group("month"):
        year = cn_to_int(m.group("year")) if m.group("year") else None
        month, mday = cn_to_int(m.group("month")), cn_to_int(m.group("mday"))
        return _safe_date(year, month, mday, today)
    if m.group("iy"):
        return _safe_date(int(m.group("iy")), int(m.group("im")), int(m.group("id")), today)
    return None


def _safe_date(year: int | None, month: int | None, mday: int | None, today: date) -> date | None:
    """A real date; without a year, the nearest one that is not more than half a year ahead."""
    if month is None or mday is None:
        return None
    try:
        found = date(year or today.year, month, mday)
    except ValueError:
        return None
    if year is None and found > today + timedelta(days=183):
        found = found.replace(year=found.year - 1)
    return found


def _resolve_clock(m: re.Match[str], period: str | None) -> time | None:
    """The clock time of a match (下午3点 → 15:00, 八点半 → 8:30), or None."""
    if m.group("hh"):
        hour, minute = int(m.group("hh")), _minutes(m.group("mm"))
    elif m.group("hour"):
        hour = cn_to_int(m.group("hour")) or 0
        if not m.group("hour")[0].isdigit() and period is None and m.group("day") is None and not m.group("minute"):
            return None  # 一点/两点 alone is "a little", not a time
        minute = _minutes(m.group("minute"))
    else:
        return None
    if period in ("下午", "傍晚", "晚上", "晚", "夜里", "夜间") and hour < 12 or period == "中午" and hour < 3:
        hour += 12
    if hour > 23 or minute is None or minute > 59:
        return None
    return time(hour, minute)


def _minutes(raw: str | None) -> int | None:
    """Minutes after the hour: 半 → 30, 一刻 → 15, 二十 → 20, 05 → 5."""
    if not raw:
        return 0
    return {"半": 30, "一刻": 15, "三刻": 45}.get(raw) or cn_to_int(raw.rstrip("分"))


# --- everything ------------------------------------------------------------------------------------------------


def extract(text: str, now: datetime | None = None) -> Entities:
    """Extract every entity from one message; relative times are resolved against ``now`` (default: now, UTC+8)."""
    now = now or datetime.now(CHINA_TZ)
    norm = normalise(text)
    ids = _id_spans(norm)
    cases = [s for s in _case_spans(norm) if not _inside(s[0], s[1], ids)]
    mobiles = [s for s in _mobile_spans(norm) if not _inside(s[0], s[1], ids + cases)]
    landlines = [s for s in _landline_spans(norm) if not _inside(s[0], s[1], ids + cases + mobiles)]
    taken = ids + cases + mobiles + landlines
    addresses = tuple(a for a in address_parser.parse(text) if not _inside(a.start, a.end, taken))
    times = extract_times(norm, now, taken)
    return Entities(
        phone=tuple(dict.fromkeys(v for _, _, v in mobiles)),
        landline=tuple(dict.fromkeys(v for _, _, v in landlines)),
        id_card=tuple(dict.fromkeys(v for _, _, v in ids)),
        address=addresses,
        case_no=tuple(dict.fromkeys(v for _, _, v in cases)),
        time=tuple(times),
        amount=tuple(_amounts(norm, taken)),
        enterprise_size=enterprise_size(norm),
    )
