"""Numbers, percentages, amounts and dates as people type them on a phone.

"80", "80%", "８０％", "百分之八十", "八成", "八成五", "一半", "过半"(no), "1.2万", "三百万", "5月底", "6月5日".
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import cn2an

from handlers.understanding.text import normalize

_CN_DIGITS = "零〇一二两三四五六七八九十百千万亿点"
_NUM = rf"(?:[0-9]+(?:\.[0-9]+)?|[{_CN_DIGITS}]+)"
_HALF = re.compile(r"(一半|过半|半数|五五开)")
_PERCENT_WORD = re.compile(rf"百分之\s*({_NUM})")
_PERCENT_SIGN = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:%|％|个点|个百分点|percent)")
_CHENG = re.compile(rf"([{_CN_DIGITS}0-9]{{1,2}})\s*成\s*([一二三四五六七八九0-9])?(?!功|果|效|立|本|绩|熟)")
_PLAIN = re.compile(rf"^\s*({_NUM})\s*$")


def to_number(token: str) -> Decimal | None:
    """An Arabic or Chinese numeral ("12", "1.5", "十二", "三点五", "1.2万") as a Decimal."""
    token = normalize(token).replace(",", "").replace("，", "")
    if not token:
        return None
    mult = Decimal(1)
    if token.endswith("万") and len(token) > 1 and re.match(r"^[0-9.]+万$", token):
        token, mult = token[:-1], Decimal(10000)
    try:
        return Decimal(token) * mult
    except InvalidOperation:
        pass
    try:
        value = cn2an.cn2an(token, "smart")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def parse_percent(text: str, bare_number: bool = True) -> Decimal | None:
    """A percentage in 0–100 from free text, or None.

    Args:
        text: what the user typed.
        bare_number: accept a number alone ("80") as a percentage (true when the question asked for one).
    """
    t = normalize(text)
    m = _PERCENT_WORD.search(t)
    if m:
        return to_number(m.group(1))
    m = _PERCENT_SIGN.search(t)
    if m:
        return Decimal(m.group(1))
    m = _CHENG.search(t)
    if m:
        tens = to_number(m.group(1))
        ones = to_number(m.group(2)) if m.group(2) else Decimal(0)
        if tens is not None and ones is not None and 0 <= tens <= 10:
            return tens * 10 + ones
    if _HALF.search(t):
        return Decimal(50)
    if bare_number:
        m = _PLAIN.match(t)
        if m:
            return to_number(m.group(1))
    return None


def parse_amount(text: str) -> Decimal | None:
    """An amount in 万元: "1200", "1200万", "1200万元", "0.12亿", "一千二百万", "12,000,000元"."""
    t = normalize(text).replace(",", "").replace("，", "")
    t = re.sub(r"(左右|大约|约|累计|共计|共|已完成|完成|投资|资金|到位)", "", t).strip()
    m = re.match(rf"^({_NUM})\s*(亿元|亿|万元|万|元)?$", t)
    if not m:
        return None
    token, unit = m.group(1), m.group(2)
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


_DATE_FULL = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_DATE_MD = re.compile(rf"({_NUM})\s*月\s*(?:({_NUM})\s*[日号]|(底|末|中|初|上旬|中旬|下旬))")
_DATE_SLASH = re.compile(r"^(\d{1,2})[/.-](\d{1,2})$")


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """A date: "2023-06-30", "6月30日", "6月底", "6/30", "年底", "下个月底". Dates without a year are the next such date."""
    t = normalize(text)
    m = _DATE_FULL.search(t)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    if re.search(r"年底|年末|今年底", t):
        return dt.date(today.year, 12, 31)
    if re.search(r"月底|月末", t) and re.search(r"(本|这个|当)月", t):
        return _month_end(today.year, today.month)
    if re.search(r"下(个)?月(底|末)", t):
        y, mth = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
        return _month_end(y, mth)
    month = day = None
    m = _DATE_MD.search(t)
    if m:
        month = to_number(m.group(1))
        if m.group(2):
            day = to_number(m.group(2))
        else:
            word = m.group(3)
            month_i = int(month) if month is not None else 0
            if not 1 <= month_i <= 12:
                return None
            end = _month_end(today.year, month_i).day
            day = Decimal({"底": end, "末": end, "下旬": end, "中": 15, "中旬": 15, "初": 5, "上旬": 10}[word])
    else:
        m = _DATE_SLASH.match(t)
        if m:
            month, day = Decimal(m.group(1)), Decimal(m.group(2))
    if month is None or day is None:
        return None
    try:
        candidate = dt.date(today.year, int(month), int(day))
    except ValueError:
        return None
    return candidate


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


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
