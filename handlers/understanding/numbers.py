"""Numbers, percentages, amounts, quantities and dates as people type them on a phone.

"80", "80%", "８０％", "百分之八十", "八成", "八成五", "三成半", "七八成", "三分之一", "一半", "过半", "40左右",
"1.2万", "三百万", "8000亩", "0.8万亩", "5月底", "6月5日", "下周五", "国庆前", "两周后".

Every reader returns None for what it cannot read, so a caller asks again rather than store a guess. Values
outside what a question allows (a percentage of 120) are still returned: the caller says why it refuses them.

Readers refuse rather than misread: "-5" is minus five (never 5), "1e309", "inf" and "NaN" are no numbers, an
impossible date ("2023-02-30") is no date (never the digits 20230230), "５-６" is the range 5–6 (never 56), and
digits of every script, full-width forms and invisible direction marks are normalised first (`normalize`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import cn2an

from handlers.understanding.text import normalize

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿点"
_NUM = rf"(?:[0-9]+(?:\.[0-9]+)?|[{_CN_DIGITS}]+)"
_HALF = re.compile(r"(一半|过半|半数|五五开)")
_PERCENT_WORD = re.compile(rf"百分之\s*({_NUM})")
_PERCENT_SIGN = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:%|％|个点|个百分点|percent)")
_CHENG = re.compile(rf"([{_CN_DIGITS}0-9]{{1,2}})\s*成\s*([一二三四五六七八九0-9半])?(?!功|果|效|立|本|绩|熟)")
_SPACE_NOT_BETWEEN_DIGITS = re.compile(r"(?<!\d)\s+|\s+(?!\d)")
_PLAIN = re.compile(rf"^\s*({_NUM})\s*$")
# A plain decimal: digits, one point, an optional sign. Never an exponent, "inf" or "NaN" (Decimal reads those).
_DECIMAL = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
# What looks like a number but is none: an exponent ("1e309"), infinity or not-a-number.
_NOT_A_NUMBER = re.compile(
    r"[0-9.]\s*[eE]\s*[-+]?\s*[0-9]|(?<![A-Za-z])(?:nan|inf|infinity)(?![A-Za-z])", re.IGNORECASE
)


@functools.lru_cache(maxsize=4096)  # the same few numerals ("三", "两", "15") come again and again; cn2an is slow
def to_number(token: str) -> Decimal | None:
    """An Arabic or Chinese numeral ("12", "1.5", "-5", "十二", "三点五", "负五", "1.2万") as a finite Decimal;
    None for anything else ("1e309", "inf", "NaN")."""
    token = normalize(token).replace(",", "").replace("，", "")
    if not token or _NOT_A_NUMBER.search(token):
        return None
    mult = Decimal(1)
    if token.endswith("万") and len(token) > 1 and re.match(r"^[-+]?[0-9.]+万$", token):
        token, mult = token[:-1], Decimal(10000)
    if _DECIMAL.match(token):
        return Decimal(token) * mult
    if re.search(r"[0-9]", token) and not re.fullmatch(rf"[0-9.{_CN_DIGITS}负]+", token):
        return None  # digits among other signs: not one numeral
    try:
        value = cn2an.cn2an(token, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# ---- percentages --------------------------------------------------------------------------------------------

# Words that make a figure approximate ("约40", "40左右", "40多", "差不多一半"). They are dropped before the figure
# is read, so "百分之四十多" reads as 40.
_APPROX = re.compile(r"大约|大概|约莫|约为|约|左右|上下|差不多|将近|接近|近|多|余|以上|超过|不到|出头")
# Half, and more than half: 50, approximate.
_MORE_THAN_HALF = re.compile(r"过半|超过一半|一半以上|一半多|多一半")
_NEGATIVE = re.compile(r"负|(?:^|[^0-9%])\s*[-−]\s*[0-9]")
_CN_DIGIT_VALUE = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2, "〇": 0}
# "七八成", "六七成": two neighbouring digits, a range of tenths.
_CHENG_RANGE = re.compile(r"([一二三四五六七八九])([一二三四五六七八九十])\s*成")
# "百分之六七十": the same range said as a percentage.
_PERCENT_WORD_RANGE = re.compile(r"百分之([一二三四五六七八九])([一二三四五六七八九])十")
_RANGE_SEP = r"\s*(?:-|~|～|—|到|至)\s*"
_PERCENT_RANGE = re.compile(rf"([0-9]+(?:\.[0-9]+)?)\s*%?{_RANGE_SEP}([0-9]+(?:\.[0-9]+)?)\s*%")
_BARE_RANGE = re.compile(rf"^([0-9]+(?:\.[0-9]+)?){_RANGE_SEP}([0-9]+(?:\.[0-9]+)?)$")
_FRACTION = re.compile(rf"(?<!百)({_NUM})\s*分之\s*({_NUM})")
# A bare decimal in (0, 1]: "0.8" may mean 80%; the caller asks once.
_DECIMAL_FRACTION = re.compile(r"^(?:0?\.[0-9]+|1\.0*)$")
_ONE_PLACE = Decimal("0.1")


@dataclass(frozen=True)
class PercentReading:
    """A percentage as typed.

    Attributes:
        value: the one value to store ("七八成" → 75, "三分之一" → 33.3).
        low: the lower end of a typed range ("七八成" → 70), else None.
        high: the upper end of a typed range ("七八成" → 80), else None.
        approx: the figure was given as approximate (约, 左右, 多, 大概, 差不多, 过半).
        maybe_fraction: the text is a bare decimal in (0, 1] ("0.8"): it may mean 80%; `value` stays 0.8.
    """

    value: Decimal
    low: Decimal | None = None
    high: Decimal | None = None
    approx: bool = False
    maybe_fraction: bool = False


def _compact(value: Decimal) -> Decimal:
    """`value` to one place without trailing zeros: 33.3, 75 (not 75.0)."""
    d = value.quantize(_ONE_PLACE)
    return d.to_integral_value() if d == d.to_integral_value() else d


def _range(low: Decimal, high: Decimal, approx: bool) -> PercentReading | None:
    if low > high:
        low, high = high, low
    return PercentReading(_compact((low + high) / 2), low, high, approx)


def read_percent(text: str, bare_number: bool = True) -> PercentReading | None:
    """A percentage as typed, with its range and how sure it was said; None for what is not one.

    Negative figures ("百分之负十", "-5"), tenths past ten ("十三成") and words that are no figure return None.
    Values above 100 are returned: the caller refuses them with a reason.

    Args:
        text: what the user typed.
        bare_number: accept a number alone ("80", "约40", "60-70") as a percentage (true when the question asked
            for one); false in free sentences, where only 百分之, %, 成, 分之 and 半 make a figure a percentage.
    """
    # Spaces go ("40 %", "百分之 八十"), except between two digits: "3 0.8" is two numbers, not 30.8.
    t = _SPACE_NOT_BETWEEN_DIGITS.sub("", normalize(text))
    if not t or _NEGATIVE.search(t):
        return None
    approx = bool(_APPROX.search(t))
    if "百分之百" in t:
        return PercentReading(Decimal(100), approx=approx)
    if _MORE_THAN_HALF.search(t):
        return PercentReading(Decimal(50), approx=True)
    core = _APPROX.sub("", t)
    m = _PERCENT_WORD_RANGE.search(core)
    if m and _CN_DIGIT_VALUE[m.group(2)] == _CN_DIGIT_VALUE[m.group(1)] + 1:
        return _range(Decimal(_CN_DIGIT_VALUE[m.group(1)] * 10), Decimal(_CN_DIGIT_VALUE[m.group(2)] * 10), approx)
    m = _PERCENT_RANGE.search(core)
    if m:
        return _range(Decimal(m.group(1)), Decimal(m.group(2)), approx)
    m = _PERCENT_WORD.search(core)
    if m:
        value = to_number(m.group(1))
        return PercentReading(value, approx=approx) if value is not None and value >= 0 else None
    m = _PERCENT_SIGN.search(core)
    if m:
        return PercentReading(Decimal(m.group(1)), approx=approx)
    m = _FRACTION.search(core)
    if m:
        whole, part = to_number(m.group(1)), to_number(m.group(2))
        if whole is None or part is None or whole <= 0 or part < 0:
            return None
        return PercentReading(_compact(part * 100 / whole), approx=approx)
    m = _CHENG_RANGE.search(core)
    if m:
        low = _CN_DIGIT_VALUE[m.group(1)]
        high = 10 if m.group(2) == "十" else _CN_DIGIT_VALUE[m.group(2)]
        if high == low + 1:
            return _range(Decimal(low * 10), Decimal(high * 10), approx)
        return None
    m = _CHENG.search(core)
    if m:
        tens = to_number(m.group(1))
        extra = m.group(2)
        ones = Decimal(5) if extra == "半" else to_number(extra) if extra else Decimal(0)
        if tens is None or ones is None or not 0 <= tens <= 10 or (tens == 10 and ones):
            return None  # "十三成" is no share of anything
        return PercentReading(tens * 10 + ones, approx=approx)
    if _HALF.search(core):
        return PercentReading(Decimal(50), approx=approx)
    if not bare_number:
        return None
    m = _BARE_RANGE.match(core)
    if m:
        return _range(Decimal(m.group(1)), Decimal(m.group(2)), approx)
    m = _PLAIN.match(core)
    if m:
        value = to_number(m.group(1))
        if value is None or value < 0:
            return None
        maybe_fraction = bool(_DECIMAL_FRACTION.match(t)) and 0 < value <= 1
        return PercentReading(value, approx=approx, maybe_fraction=maybe_fraction)
    return None


def parse_percent(text: str, bare_number: bool = True) -> Decimal | None:
    """A percentage from free text (the value of `read_percent`), or None.

    Args:
        text: what the user typed.
        bare_number: accept a number alone ("80") as a percentage (true when the question asked for one).
    """
    reading = read_percent(text, bare_number)
    return reading.value if reading is not None else None


# ---- money --------------------------------------------------------------------------------------------------


def parse_amount(text: str) -> Decimal | None:
    """An amount in 万元: "1200", "1200万", "1200万元", "0.12亿", "一千二百万", "12,000,000元", "约1200万", "1200多万"."""
    t = normalize(text).replace(",", "").replace("，", "")
    t = re.sub(r"(左右|大约|大概|差不多|将近|上下|约|多|余|累计|共计|共|已完成|完成|投资|资金|到位)", "", t).strip()
    m = re.match(rf"^(-?\s*{_NUM})\s*(亿元|亿|万元|万|元)?$", t)  # "-5" is minus five: the caller refuses it
    if not m:
        return None
    token, unit = m.group(1).replace(" ", ""), m.group(2)
    if unit is None and len(token) > 1 and token[-1] in "万亿":
        # "一千二百万" is 1200 万, not the number 12,000,000 in 万元
        token, unit = token[:-1], token[-1]
    value = to_number(token)
    if value is None:
        return None
    unit = unit or "万"
    if unit.startswith("亿"):
        return value * 10000
    if unit == "元":
        return value / 10000
    return value


# ---- a value typed for an indicator ----------------------------------------------------------------------

# Why a typed value is refused
NOT_A_NUMBER, IMPOSSIBLE_DATE, A_DATE = "not_a_number", "impossible_date", "date"
A_RANGE, SEVERAL_NUMBERS = "range", "several"
_SIGNED = re.compile(r"(?<![0-9.])(-?)\s*([0-9]+(?:\.[0-9]+)?)")
_VALUE_RANGE = re.compile(rf"[0-9]\s*%?{_RANGE_SEP}-?[0-9]")
_CN_NUMERAL = re.compile(rf"负?[{_CN_DIGITS}]+")
# A full date in a value ("2023-02-30"), not a month followed by a figure ("2023年5月 82.5%").
_VALUE_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?![0-9.%])")
_PERCENT_WORDS = re.compile(r"[一二两三四五六七八九十0-9]\s*成(?!功|果|效|立|本|绩|熟)|分之|一半|过半")


@dataclass(frozen=True)
class ValueReading:
    """An indicator's value as typed: `number` when it states one figure; `problem` (NOT_A_NUMBER,
    IMPOSSIBLE_DATE, A_DATE, A_RANGE, SEVERAL_NUMBERS) when what it states must be refused; neither for words
    ("已建立")."""

    number: Decimal | None = None
    problem: str | None = None


def read_value(text: str) -> ValueReading:
    """The one figure an indicator's value states ("82.5", "82.5%", "-3", "三个", "约28微克"), or why it is
    refused: "1e309", "NaN" (no number), "2023-02-30" (no such day), "5-6" (a range, not one value), "2022年28"
    (several figures). Words without a figure ("已建立") are neither."""
    t = re.sub(r"(?<=[0-9])[,，](?=[0-9]{3})", "", normalize(text))
    if _NOT_A_NUMBER.search(t):
        return ValueReading(problem=NOT_A_NUMBER)
    m = _VALUE_DATE.search(t) or _DATE_COMPACT.search(t)
    if m:
        day = _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return ValueReading(problem=IMPOSSIBLE_DATE if day is None else A_DATE)
    if _VALUE_RANGE.search(t):
        return ValueReading(problem=A_RANGE)
    if "%" in t or "百分" in t or _PERCENT_WORDS.search(t):
        reading = read_percent(t, bare_number=False)
        if reading is not None and reading.low is not None:
            return ValueReading(problem=A_RANGE)
        if reading is not None:
            return ValueReading(reading.value)
    figures = _SIGNED.findall(t)
    if len(figures) > 1:
        return ValueReading(problem=SEVERAL_NUMBERS)
    if figures:
        sign, digits = figures[0]
        value = Decimal(digits)
        if "万" in t[t.index(digits) + len(digits) :][:2] and not re.search(r"万(?:亩|人|吨|元)", t):
            value *= 10000
        return ValueReading(-value if sign or "负" in t else value)
    numerals = [n for n in _CN_NUMERAL.findall(t) if n.strip("负")]
    if len(numerals) > 1:
        return ValueReading(problem=SEVERAL_NUMBERS)
    return ValueReading(to_number(numerals[0]) if numerals else None)


# ---- quantities ---------------------------------------------------------------------------------------------

# The one table of units people report quantities in: unit → (what it measures, its size in that measure's base
# unit). Units of one measure convert into each other; counters of things (个, 家, 处 ...) measure only themselves.
UNITS: dict[str, tuple[str, Fraction]] = {
    "亩": ("area", Fraction(10000, 15)),  # in square metres: 15 亩 = 1 公顷
    "万亩": ("area", Fraction(10000 * 10000, 15)),
    "公顷": ("area", Fraction(10000)),
    "平方米": ("area", Fraction(1)),
    "平方公里": ("area", Fraction(1000000)),
    "人": ("people", Fraction(1)),
    "人次": ("person-visits", Fraction(1)),
    "万人": ("people", Fraction(10000)),
    "米": ("length", Fraction(1)),
    "千米": ("length", Fraction(1000)),
    "公里": ("length", Fraction(1000)),
    "吨": ("mass", Fraction(1)),
    "万吨": ("mass", Fraction(10000)),
    "元": ("money", Fraction(1)),
    "万元": ("money", Fraction(10000)),
    "亿元": ("money", Fraction(100000000)),
    **{
        counter: (counter, Fraction(1))
        for counter in ("个", "家", "处", "座", "所", "项", "户", "台", "辆", "棵", "株", "条", "件")
    },
}
_UNIT_ALTERNATIVES = "|".join(sorted(UNITS, key=len, reverse=True))
_QUANTITY = re.compile(rf"({_NUM})\s*(多|余)?\s*(万|亿)?\s*({_UNIT_ALTERNATIVES})")
_QUANTITY_APPROX = re.compile(r"大约|大概|约|左右|上下|差不多|将近|接近|近|多|余|以上|超过")


@dataclass(frozen=True)
class Quantity:
    """A quantity as typed: "0.8万亩" is Quantity(0.8, "万亩"); "约2000亩" is Quantity(2000, "亩", approx=True)."""

    value: Decimal
    unit: str
    approx: bool = False


def parse_quantity(text: str) -> Quantity | None:
    """The first number-and-unit of `text` ("已完成8000亩", "两家", "3.5公里", "约2000亩"); None without one.

    The unit is kept as typed when it is in `UNITS` ("0.8万亩" stays 万亩); a 万 or 亿 before a unit that has no
    such form of its own multiplies the value ("1.2万棵" is 12000 棵).
    """
    t = normalize(text).replace(",", "").replace("，", "")
    m = _QUANTITY.search(t)
    if not m or t[: m.start()].rstrip().endswith(("-", "负")):
        return None  # "-5亩" is no amount done, and never 5亩
    value = to_number(m.group(1))
    if value is None or value < 0:
        return None
    unit = m.group(4)
    scale = m.group(3)
    if scale:
        if scale + unit in UNITS:
            unit = scale + unit
        else:
            value *= 10000 if scale == "万" else 100000000
    approx = bool(m.group(2)) or bool(_QUANTITY_APPROX.search(t[: m.start()] + t[m.end() :]))
    return Quantity(value, unit, approx)


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal | None:
    """`value` in `from_unit` expressed in `to_unit` (8000 亩 → 0.8 万亩); None when the units measure different
    things (亩 → 个) or either is unknown."""
    source, target = UNITS.get(from_unit), UNITS.get(to_unit)
    if source is None or target is None or source[0] != target[0]:
        return None
    ratio = source[1] / target[1]
    return value * ratio.numerator / ratio.denominator


# ---- dates --------------------------------------------------------------------------------------------------

_DATE_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_DATE_COMPACT = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")
_DATE_SLASH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[日号]?$")
_WEEKDAY_NUMBER = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6}
_WEEKDAY_NUMBER |= {str(i + 1): i for i in range(7)}
_WEEK_PREFIX = r"(下下个?|下个?|本|这个?|上个?)"
_WEEKDAY = re.compile(rf"(?<!下){_WEEK_PREFIX}?(?:周|星期|礼拜)([一二三四五六日天1-7])")
# "下周" alone: by the end of that week's working days, its Friday. Never "下下下周": too far to guess.
_WEEK = re.compile(rf"(?<!下){_WEEK_PREFIX}(?:周|星期|礼拜)(?![一二三四五六日天1-7末])")
_RELATIVE = re.compile(rf"({_NUM}|半)\s*(个)?\s*(天|周|星期|礼拜|月|年|工作日)\s*(?:以后|之后|后|以内|之内|内)")
_DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "大后天": 3}
_MONTH_PART_DAY = {"中": 15, "中旬": 15, "初": 5, "上旬": 10}  # 底, 末, 下旬: the month's last day
_RELATIVE_MONTH = re.compile(
    rf"(?<![下上个])(下下个?|下个?|本|这个?|当|上个?)?月份?(?:(底|末|初|中旬|上旬|下旬|中)|({_NUM})\s*[日号])?"
)
_MONTH = re.compile(
    rf"(?:(\d{{4}})\s*年|([今明去])年)?\s*({_NUM})\s*月份?\s*(?:({_NUM})\s*[日号]|(底|末|初|上旬|中旬|下旬|中))?"
)
_YEAR_END = re.compile(r"(今|明)?年(?:底|末|内)|年终|全年")
_HALF_YEAR = re.compile(r"(今|明)?年?(上|下)半年")
_QUARTER = re.compile(r"(?:第)?([一二三四1-4])\s*季度(?:末|底)?|(本|这个?|下个?)季度(?:末|底)?")
# Holidays: the name typed → (chinese_calendar's name, the fixed date used when the calendar has no data).
_HOLIDAYS: dict[str, tuple[str, tuple[int, int] | None]] = {
    "国庆": ("National Day", (10, 1)),
    "元旦": ("New Year's Day", (1, 1)),
    "五一": ("Labour Day", (5, 1)),
    "劳动节": ("Labour Day", (5, 1)),
    "春节": ("Spring Festival", None),
    "过年": ("Spring Festival", None),
    "清明": ("Tomb-sweeping Day", None),
    "端午": ("Dragon Boat Festival", None),
    "中秋": ("Mid-autumn Festival", None),
}
_HOLIDAY = re.compile(rf"({'|'.join(_HOLIDAYS)})节?(?:假期)?\s*(?:之前|以前|前)")
# Where in its year each holiday can start (the New Year's holiday may start in the December before).
_HOLIDAY_WINDOWS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "New Year's Day": ((-12, 20), (1, 3)),
    "Spring Festival": ((1, 10), (2, 28)),
    "Tomb-sweeping Day": ((3, 28), (4, 10)),
    "Labour Day": ((4, 25), (5, 5)),
    "Dragon Boat Festival": ((5, 20), (6, 30)),
    "Mid-autumn Festival": ((9, 1), (10, 10)),
    "National Day": ((9, 25), (10, 8)),
}


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """A date from what people type, relative to `today`; None for no date or an impossible one ("2月30日").

    Read: "2023-06-30", "2023年6月30日", "2023.6.30", "20230630", "6/30", "6.30", "6月30日", "6月底" (and 初 5日,
    上旬 10日, 中旬 15日, 下旬 the last day), "9月" (its last day; next year's when this year's is past), "月底",
    "下个月中旬", "年底"/"年内" (12月31日), "上半年" (6月30日), "三季度末"; weekdays ("本周五"/"这周五": this week's,
    "下周五": next week's, "下下周一", a bare "周五": the first on or after today; "下周" alone: next week's
    Friday); "今天", "明天", "3天后", "两周后", "一个月后", "10天内" (the last day of the span), "5个工作日内"; and
    "国庆前", "春节前", "元旦前", "五一前", "端午前", "中秋前", "清明前": the last working day before that holiday's
    days off (on the State Council's calendar; a fixed date's eve when the calendar has no data for the year).
    Other dates without a year ("6月30日", "6月底") are this year's, even when past: the caller decides.
    """
    t = normalize(text).replace(" ", "")
    if not t:
        return None
    m = _DATE_FULL.search(t) or _DATE_COMPACT.search(t)
    if m:
        return _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    for word, days in sorted(_DAY_WORDS.items(), key=lambda kv: -len(kv[0])):
        if word in t:
            return today + dt.timedelta(days=days)
    m = _RELATIVE.search(t)
    if m:
        return _after(today, m.group(1), m.group(3))
    m = _HOLIDAY.search(t)
    if m:
        return _before_holiday(m.group(1), today)
    m = _WEEKDAY.search(t)
    if m:
        return _weekday(today, m.group(1), _WEEKDAY_NUMBER[m.group(2)])
    m = _WEEK.search(t)
    if m:
        return _weekday(today, m.group(1), 4)
    m = _HALF_YEAR.search(t)
    if m:
        year = today.year + (m.group(1) == "明")
        return dt.date(year, 6, 30) if m.group(2) == "上" else dt.date(year, 12, 31)
    m = _YEAR_END.search(t)
    if m:
        return dt.date(today.year + (m.group(1) == "明"), 12, 31)
    m = _QUARTER.search(t)
    if m:
        return _quarter_end(today, m.group(1), m.group(2))
    m = _MONTH.search(t)
    if m:
        return _month_date(today, m)
    m = _RELATIVE_MONTH.search(t)
    if m and (m.group(1) or m.group(2)):
        year, month = shift_month(today.year, today.month, _month_offset(m.group(1)))
        if m.group(3):
            day = to_number(m.group(3))
            return _date(year, month, int(day)) if day is not None and day == int(day) else None
        return _month_part(year, month, m.group(2) or "底")
    m = _DATE_SLASH.match(t)
    if m:
        return _date(today.year, int(m.group(1)), int(m.group(2)))
    return None


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def month_end(year: int, month: int) -> dt.date:
    """The last day of `month` of `year`."""
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def shift_month(year: int, month: int, offset: int) -> tuple[int, int]:
    """The (year, month) `offset` months after `month` of `year` (before it when negative)."""
    index = year * 12 + month - 1 + offset
    return index // 12, index % 12 + 1


def _month_offset(prefix: str | None) -> int:
    if not prefix or prefix[0] in "本这当":
        return 0
    if prefix.startswith("下下"):
        return 2
    return 1 if prefix[0] == "下" else -1


def _month_part(year: int, month: int, part: str) -> dt.date:
    """A part of a month: 初 (5日), 上旬 (10日), 中/中旬 (15日), 底/末/下旬 (its last day)."""
    if part in _MONTH_PART_DAY:
        return dt.date(year, month, _MONTH_PART_DAY[part])
    return month_end(year, month)


def _month_date(today: dt.date, m: re.Match[str]) -> dt.date | None:
    """ "6月30日", "6月底", "2023年9月", "明年3月": a day or part of a named month."""
    month_n = to_number(m.group(3))
    if month_n is None or month_n != int(month_n) or not 1 <= month_n <= 12:
        return None
    month = int(month_n)
    explicit_year = m.group(1) or m.group(2)
    if m.group(1):
        year = int(m.group(1))
    else:
        year = today.year + {"明": 1, "去": -1}.get(m.group(2) or "", 0)
    if m.group(4):
        day = to_number(m.group(4))
        return _date(year, month, int(day)) if day is not None and day == int(day) else None
    if m.group(5):
        return _month_part(year, month, m.group(5))
    end = month_end(year, month)
    if end < today and not explicit_year:
        end = month_end(year + 1, month)  # "9月" said in October: next September
    return end


def _weekday(today: dt.date, prefix: str | None, weekday: int) -> dt.date:
    """That weekday (0 = Monday) of this week (本/这), next week (下), the week after (下下), last week (上); a bare
    weekday is the first such day on or after today."""
    if not prefix:
        return today + dt.timedelta(days=(weekday - today.weekday()) % 7)
    monday = today - dt.timedelta(days=today.weekday())
    weeks = 2 if prefix.startswith("下下") else 1 if prefix[0] == "下" else -1 if prefix[0] == "上" else 0
    return monday + dt.timedelta(weeks=weeks, days=weekday)


def _after(today: dt.date, count: str, unit: str) -> dt.date | None:
    """The day `count` `unit`s after today ("3天后", "两周后", "一个月后", "10天内": the span's last day)."""
    n = Decimal("0.5") if count == "半" else to_number(count)
    if n is None or n < 0:
        return None
    if unit == "工作日":
        return _working_days_after(today, int(n)) if n == int(n) else None
    if n > 1000:
        return None  # "2023年内" is a year, not two thousand years from now
    if unit in ("月", "年"):
        months = n * (12 if unit == "年" else 1)
        if months != int(months):
            return today + dt.timedelta(days=int(months * 30))  # "半个月": fifteen days
        year, month = shift_month(today.year, today.month, int(months))
        return dt.date(year, month, min(today.day, month_end(year, month).day))
    days = n * (7 if unit in ("周", "星期", "礼拜") else 1)
    return today + dt.timedelta(days=int(days)) if days == int(days) else None


def _working_days_after(today: dt.date, n: int) -> dt.date | None:
    """The `n`th working day after today, on the Chinese calendar (weekends and holidays skipped)."""
    import chinese_calendar  # only here: the calendar's tables are not needed to read numbers

    d = today
    try:
        while n > 0:
            d += dt.timedelta(days=1)
            n -= bool(chinese_calendar.is_workday(d))
    except NotImplementedError:  # no calendar for that year: count Monday to Friday
        while n > 0:
            d += dt.timedelta(days=1)
            n -= d.weekday() < 5
    return d


def _quarter_end(today: dt.date, number: str | None, prefix: str | None) -> dt.date:
    """The last day of a quarter of this year ("三季度末"), or of this (本季度) or the next (下季度) one."""
    if number:
        quarter = int(number) if number.isdigit() else "一二三四".index(number) + 1
        return month_end(today.year, quarter * 3)
    year, month = shift_month(today.year, (today.month - 1) // 3 * 3 + 3, _month_offset(prefix) * 3)
    return month_end(year, month)


def _before_holiday(word: str, today: dt.date) -> dt.date | None:
    """The last working day before the holiday named `word` (this year's, or next year's once it is past)."""
    name, fixed = _HOLIDAYS[word]
    for year in (today.year, today.year + 1, today.year + 2):  # next year's New Year holiday may be past
        eve = _holiday_eve(name, year)
        if eve is None and fixed is not None:
            eve = dt.date(year, *fixed) - dt.timedelta(days=1)
        if eve is None:
            return None
        if eve >= today:
            return eve
    return None


def _holiday_eve(name: str, year: int) -> dt.date | None:
    """The working day before the days off of holiday `name` in `year`, or None when the calendar has no data."""
    import chinese_calendar

    (start_m, start_d), (end_m, end_d) = _HOLIDAY_WINDOWS[name]
    d = dt.date(year - 1, 12, start_d) if start_m < 0 else dt.date(year, start_m, start_d)
    last = dt.date(year, end_m, end_d)
    try:
        while d <= last:
            on_holiday, holiday = chinese_calendar.get_holiday_detail(d)
            if on_holiday and holiday == name:
                d -= dt.timedelta(days=1)
                while not chinese_calendar.is_workday(d):
                    d -= dt.timedelta(days=1)
                return d
            d += dt.timedelta(days=1)
    except NotImplementedError:
        return None
    return None


def fmt_number(value: Decimal | float | int | None, places: int = 1) -> str:
    """Compact display: 80 not 80.0, 1.5 stays 1.5."""
    if value is None:
        return "—"
    try:
        d = Decimal(str(value)).quantize(Decimal(1) / (Decimal(10) ** places))
    except InvalidOperation:
        # More digits than the decimal context holds (someone typed forty 9s): a short scientific form.
        return f"{Decimal(str(value)):.3e}"
    s = format(d, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s
