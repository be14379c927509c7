"""The time window a question is about: "本月到期的任务", "下周有什么到期", "6月底前要交的", "最近三天有哪些新汇报".

`find_window(text, today)` returns a `Window`: its first and last day (both inclusive), where in the text the words
that gave it are (so the caller can mask them before it looks for names), and whether it is a deadline bound
("8月底前": from today to that day, or from the year's start when that day is already past).

What is read (today = Monday 2023-07-10; weeks run Monday to Sunday):
- days: 今天, 明天, 昨天, 前天, 后天; "5月31日", "5月31号", "5.31", "5-31", "2023-05-31"; "6月底" (its last day),
  月底, 年底, 下旬 (this month's); weekdays (周五, 本周五, 下周五: the one day `parse_date` gives); "15号" (this month's);
- periods: 本周/这周/这个星期/这礼拜, 下周, 下下周, 上周, 周末; 本月/这个月/当月, 下个月, 上个月; "7月", "七月份" (of this
  year, even when past); "7月上旬/中旬/下旬", "7月初" (its first ten days), "月中" (this month's 11th–20th); 今年,
  本年度, 全年, "2023年"; 上半年, 下半年; 三季度, 第三季度, 本季度, 下季度;
- deadline bounds, `before`: a day or period followed by 前/之前/以前/截止/为止 (but "5月31日截止的" is that
  day: what falls due on it), or preceded by 截止/截至/到
  ("8月底前", "11月20号前", "截至月底", "年内", "国庆前", "10个工作日内"): [today, that day], or [1 January, that
  day] when that day is past. Before a whole month, week, quarter or year ("8月前") the bound is the day before it
  starts; before a day or a part of a month ("8月底前", "7月上旬前") it is that day or part's last day. A whole
  period followed by 内 ("本月内") is [today, its end] while it is under way;
- spans from today: 未来两周, 接下来两周, 两周内, 14天内, 三天内, 一个月内 ([today, same day next month]), "10个工作日内";
  spans back to today: 最近三天, 近三天, 过去三天, 这三天, 前三天, 近一个月, and 最近/近期 alone (the last seven days);
- ranges: "7月1日到7月15日", "7月1日至15日", "7月1日-7月15日", "7月到9月", "7-9月", "本周到下周";
- after: "7月10日以后", "8月以后", "8月之后" (to the end of that year); since: "7月以来" (to today);
- "三天前", "两周后": that one day.

Chinese numerals are read everywhere (两周, 十一月, 十二月底), and 号 is 日. Bare numbers never make a window, nor
do names that contain a number ("项目2", "指标15", "5·22国际生物多样性日", "8000亩", "第三项", "两山基地") or a time
character in another word (周边, 月亮, 周年). "5.31"-style dates need a two-digit day or 日/号 ("增长3.5" is no
date), and nothing that reads as an amount ("1.25万", "5-6成") is one.

When several time words are present, the longest words win (so "8月底前" beats "8月底" and "8月", "下周五" beats
"下周", "7月1日到7月15日" beats its two days); of equally long ones, the first in the text.

Why our own reader and not jionlp's `parse_time`/`ner.extract_time`: measured in a throwaway environment (jionlp
1.5.31, Python 3.11), importing it adds about 34 MB of resident memory (13 → 47 MB) and 0.25–0.5 s, and a first parse
0.7 MB more, against a budget that is already spent (the bar was 10 MB). Its answers for our questions are not
better: it finds nothing in "本月到期的任务", "这个月有到期的吗", "月底前要完成的" or "5.31到期的" (`parse_time` raises
on 本月 and 5.31), reads "两周内" as [07-10, 07-12], "国庆前" as up to 10-01 (not the last working day), "6月底前" as
open-ended back to -inf, and finds a date in "5·22国际生物多样性日". The regexes here reuse `numbers`' date machinery
(`parse_date` for weekdays, holidays and working days; `month_end`, `shift_month`, `to_number`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

from handlers.understanding.numbers import month_end, parse_date, shift_month, to_number

_DAY = dt.timedelta(days=1)
_CN = "零〇一二两三四五六七八九十"
# A count of days, months ...: digits or a Chinese numeral; never preceded by another digit or a decimal point.
_N = rf"(?<![0-9.{_CN}])(?:[0-9]{{1,4}}|[{_CN}]{{1,4}})"
# A year: "2023年", "今年", "明年", "去年", "本年度".
_YEAR = r"(?:(?<![0-9])(?P<y4>[0-9]{4})年(?:度)?|(?P<yw>今|明|去|本)年(?:度)?)"
_MONTH_PART = r"(?P<part>底|末|初|上旬|中旬|下旬|中(?!心|央|学|期|标|小|型|层|部|间|的))"
_UNITS_AFTER = "万亿千百亩个元吨米人公平倍成月年项户家座所台辆棵株条件%"
_ORDINAL = r"(?<!第)"

# "2023-05-31", "2023年5月31日", "2023.5.31"
_FULL_DATE = re.compile(r"(?<![0-9])([0-9]{4})[-./年]([0-9]{1,2})[-./月]([0-9]{1,2})(?:[日号])?(?![0-9])")
# "5.31", "5-31", "6.5日": a two-digit day, or 日/号 after it; not an amount ("1.25万") or a range of figures.
_SHORT_DATE = re.compile(
    rf"(?<![0-9.\-第])([0-9]{{1,2}})[.\-]([0-9]{{1,2}})(?:(?P<mark>[日号])|(?![0-9.{_UNITS_AFTER}]))"
)
# "5月31日", "七月", "7月份", "7月上旬", "十二月底", "明年3月", "7月15" (digits only without 日/号)
_MONTH = re.compile(
    rf"{_ORDINAL}{_YEAR}?(?P<m>{_N})月份?"
    rf"(?:(?P<d>{_N})[日号]|(?P<dd>[0-9]{{1,2}})(?![0-9.{_UNITS_AFTER}日号])|{_MONTH_PART})?"
)
# "本月", "这个月", "当月", "下个月", "上月", "下下个月", "本月底", "下个月中旬", "月底", "月中", "本月15号"
_RELATIVE_MONTH = re.compile(
    rf"(?<![个岁])(?P<rel>下下个?|下个?|本|这个?|当|上上个?|上个?)月份?"
    rf"(?:(?P<d>{_N})[日号]|{_MONTH_PART}|(?![亮光饼球薪季]))"
)
_BARE_MONTH_PART = re.compile(rf"(?<![0-9{_CN}个岁日年])月{_MONTH_PART}")
# "下旬" alone: this month's
_TEN_DAYS = re.compile(r"(?<![月份])(?P<part>上旬|中旬|下旬)")
# "本周", "这个星期", "这礼拜", "下周", "下下周", "上周", "本周末", "周末"; not "周边", "周年", "周期"
_WEEK = re.compile(
    r"(?P<rel>下下个?|下个?|本|这个?|上上个?|上个?)(?:周|星期|礼拜)(?P<end>末)?(?![一二三四五六日天1-7边围年岁期长])"
    r"|(?<![0-9一二三四五六七八九十两每])周末"
)
# "周五", "本周五", "下周五", "星期天"
_WEEKDAY = re.compile(r"(?:下下个?|下个?|本|这个?|上个?)?(?:周|星期|礼拜)[一二三四五六日天1-7](?![0-9])")
_DAY_WORDS = {
    "今天": 0,
    "今日": 0,
    "明天": 1,
    "明日": 1,
    "后天": 2,
    "大后天": 3,
    "昨天": -1,
    "昨日": -1,
    "前天": -2,
    "大前天": -3,
}
_DAY_WORD = re.compile("|".join(sorted(_DAY_WORDS, key=len, reverse=True)))
# "15号", "3日前": a day of this month; digits only, never "2号楼", "1号文件", "第2号".
_BARE_DAY = re.compile(r"(?<![0-9.\-第月年])([0-9]{1,2})[号日](?![0-9楼线院文令机车地位台])")
_YEAR_END = re.compile(rf"(?:{_YEAR}年?|(?<![0-9{_CN}])年)(?:底|末|终)")
_WITHIN_YEAR = re.compile(rf"(?:{_YEAR}年?|(?<![0-9{_CN}])年)(?:之内|以内|内)")
_WHOLE_YEAR = re.compile(rf"{_YEAR}(?![0-9内底末终上下])|全年")
_HALF_YEAR = re.compile(rf"{_YEAR}?(?P<half>上|下)半年")
_QUARTER = re.compile(
    rf"{_YEAR}?(?:第)?(?P<q>[一二三四1-4])季度(?P<end>末|底)?"
    r"|(?P<rel>本|这个?|下个?|上个?)季度(?P<end2>末|底)?"
)
_HOLIDAY = re.compile(r"(?:国庆|元旦|五一|劳动节|春节|过年|清明|端午|中秋)节?(?:假期)?(?:之前|以前|前)")
# "未来两周", "接下来的三天", "两周内", "14天之内", "一个月内", "10个工作日内"
_FORWARD = re.compile(
    rf"(?P<pre>未来|接下来|今后|往后)?的?(?P<n>{_N}|半)(?P<ge>个)?(?P<unit>工作日|天|日|周|星期|礼拜|月|年)"
    r"(?P<suf>之内|以内|内)?"
)
# "最近三天", "近三天", "过去一周", "这三天", "前三天", "近一个月", "三天以来"
_BACK = re.compile(
    rf"(?P<pre>最近|近期|近来|近|过去|这|前)?的?(?P<n>{_N}|半)(?P<ge>个)?(?P<unit>天|日|周|星期|礼拜|月|年)"
    r"(?P<suf>以来|来)?"
)
# "三天前", "两周后": one day
_AGO = re.compile(rf"(?P<n>{_N})(?P<ge>个)?(?P<unit>天|周|星期|礼拜|月)(?P<dir>以前|之前|前|以后|之后|后)")
_RECENT = re.compile(r"最近|近期|近来|这段时间|这几天")

# What every pattern above needs: a number followed by a date's or a span's sign ("7月", "5.31", "15号", "14天",
# "2个月", "7到9月"; a bare number is a list item or a figure), or 月, 周/星期/礼拜, 天/日, 年, 旬, 季, a holiday's
# character, 近 (最近, 近期), 时间 (这段时间). Without one, there is no window (tests/test_windows.py checks it).
_HINT = re.compile(r"[0-9][0-9]*[.\-/月日号年天周星礼个工~～—到至]|[月周星礼天日年旬季庆旦节明午秋近]|五一|时间")
_DIGIT = re.compile(r"[0-9]")
# The units of a span counted from today ("两周内", "最近三天", "三天前"), and 最近/这段时间/这几天.
_SPAN_UNIT = re.compile(r"[天日周星礼月年近]|时间")
# ... each of which counts them: a digit, a Chinese numeral or 半
_COUNT = re.compile(rf"[0-9{_CN}半]")

_BEFORE_SUFFIX = re.compile(r"之前|以前|前|截止|截至|为止|止")
_BEFORE_PREFIX = re.compile(r"(?:截止到?|截至到?|到)$")
_AFTER_SUFFIX = re.compile(r"以后|之后|后|起|开始")
_SINCE_SUFFIX = re.compile(r"以来")
_WITHIN_SUFFIX = re.compile(r"之内|以内|内")
_RANGE_SEP = re.compile(r"到|至|-|~|—|～")
_BARE_DAY_AFTER = re.compile(rf"({_N})[日号]")
_MONTH_RANGE = re.compile(rf"{_ORDINAL}{_YEAR}?(?P<a>{_N})(?:到|至|-|~|—|～)(?P<b>{_N})月份?")


@dataclass(frozen=True, slots=True)
class Window:
    """A span of days a question is about.

    Attributes:
        start: its first day, inclusive.
        end: its last day, inclusive.
        begin: where the words that gave it start in the text passed to `find_window`.
        stop: where they end: `text[begin:stop]` are those words, so the caller can mask them.
        before: the window is a deadline bound ("8月底前", "年内", "国庆前"): from today to that day, or from 1
            January when that day is already past.
    """

    start: dt.date
    end: dt.date
    begin: int
    stop: int
    before: bool


@dataclass(frozen=True, slots=True)
class _Point:
    """A day or period named in the text, before the words around it (前, 以后, 到 ...) are read."""

    start: dt.date
    end: dt.date
    begin: int
    stop: int
    whole: bool  # a whole month, week, quarter, half-year or year (not a day or a part of a month)
    month: tuple[int, int] | None = None  # the explicit (year, month) it names, for "7月1日至15日"


def find_window(text: str, today: dt.date) -> Window | None:
    """The time window `text` (as `normalize_for_matching` returns it) is about, relative to `today`; None without
    one. Of several, the one said in the longest words; of equally long ones, the first."""
    if not _HINT.search(text):
        return None  # most messages name no time: one search instead of every pattern
    best: Window | None = None
    for w in _candidates(text, today):
        if w.start > w.end:
            continue
        if best is None or (w.stop - w.begin, -w.begin) > (best.stop - best.begin, -best.begin):
            best = w
    return best


def _candidates(t: str, today: dt.date) -> Iterator[Window]:
    points = list(_points(t, today))
    for p in points:
        yield Window(p.start, p.end, p.begin, p.stop, False)
        yield from _around(t, p, points, today)
    if _SPAN_UNIT.search(t) and _COUNT.search(t):
        yield from _spans(t, today)
    for m in _HOLIDAY.finditer(t) if "前" in t else ():
        eve = parse_date(m.group(), today)
        if eve is not None:
            yield _bound(eve, m.start(), m.end(), today)
    for m in _WITHIN_YEAR.finditer(t) if "年" in t else ():
        year = _year(m, today)
        if year is not None:
            yield _bound(dt.date(year, 12, 31), m.start(), m.end(), today)
    for m in _MONTH_RANGE.finditer(t) if "月" in t else ():
        year, a, b = _year(m, today), _int(m.group("a")), _int(m.group("b"))
        if year is not None and a is not None and b is not None and 1 <= a <= b <= 12:
            yield Window(dt.date(year, a, 1), month_end(year, b), m.start(), m.end(), False)
    for m in _RECENT.finditer(t):
        yield Window(today - 7 * _DAY, today, m.start(), m.end(), False)


def _bound(day: dt.date, begin: int, stop: int, today: dt.date) -> Window:
    """A deadline bound: [today, day], or [1 January, day] when the day is past."""
    start = today if day >= today else dt.date(day.year, 1, 1)
    return Window(start, day, begin, stop, True)


def _around(t: str, p: _Point, points: list[_Point], today: dt.date) -> Iterator[Window]:
    """The windows a point makes with the words around it: a deadline, after, since, within, a range."""
    rest = t[p.stop :]
    m = _BEFORE_SUFFIX.match(rest)
    if m and m.group() in ("截止", "截至", "止") and rest[m.end() : m.end() + 1] == "的":
        m = None  # "5月31日截止的任务": due that day, not by it
    if m:
        by_start = p.whole and m.group() in ("之前", "以前", "前")
        yield _bound(p.start - _DAY if by_start else p.end, p.begin, p.stop + m.end(), today)
    m = _BEFORE_PREFIX.search(t[: p.begin])
    if m and not (m.group() == "到" and any(q.stop == m.start() for q in points)):  # "9月到7月" is no deadline
        suffix = re.match(r"为止|止", rest)
        yield _bound(p.end, m.start(), p.stop + (suffix.end() if suffix else 0), today)
    m = _AFTER_SUFFIX.match(rest)
    if m:
        yield Window(p.start, dt.date(p.start.year, 12, 31), p.begin, p.stop + m.end(), False)
    m = _SINCE_SUFFIX.match(rest)
    if m and p.start <= today:
        yield Window(p.start, today, p.begin, p.stop + m.end(), False)
    m = _WITHIN_SUFFIX.match(rest)
    if m and p.whole and p.start <= today <= p.end:
        yield Window(today, p.end, p.begin, p.stop + m.end(), True)
    sep = _RANGE_SEP.match(rest)
    if sep:
        after = p.stop + sep.end()
        for q in points:
            if q.begin == after and q.end >= p.start:
                yield Window(p.start, q.end, p.begin, q.stop, False)
        day = _BARE_DAY_AFTER.match(t, after)
        if day and p.month is not None:
            n = _int(day.group(1))
            last = _date(p.month[0], p.month[1], n) if n is not None else None
            if last is not None and last >= p.start:
                yield Window(p.start, last, p.begin, day.end(), False)


def _points(t: str, today: dt.date) -> Iterator[_Point]:
    # each pattern needs a character of its own: one `in` test spares the pattern on most texts
    digits = _DIGIT.search(t) is not None
    has_month = "月" in t
    week = "周" in t or "星期" in t or "礼拜" in t
    year_word = "年" in t
    for m in _FULL_DATE.finditer(t) if digits else ():
        d = _date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d is not None:
            yield _Point(d, d, m.start(), m.end(), False, (d.year, d.month))
    for m in _SHORT_DATE.finditer(t) if digits else ():
        if m.group("mark") or len(m.group(2)) == 2:
            d = _date(today.year, int(m.group(1)), int(m.group(2)))
            if d is not None:
                yield _Point(d, d, m.start(), m.end(), False, (d.year, d.month))
    for m in _MONTH.finditer(t) if has_month else ():
        year, month = _year(m, today), _int(m.group("m"))
        if year is not None and month is not None and 1 <= month <= 12:
            yield from _month_point(m, year, month)
    for m in _RELATIVE_MONTH.finditer(t) if has_month else ():
        year, month = shift_month(today.year, today.month, _offset(m.group("rel")))
        yield from _month_point(m, year, month)
    for m in chain(_BARE_MONTH_PART.finditer(t) if has_month else (), _TEN_DAYS.finditer(t) if "旬" in t else ()):
        yield from _month_point(m, today.year, today.month)
    for m in _WEEK.finditer(t) if week else ():
        monday = today - today.weekday() * _DAY + 7 * _offset(m.group("rel")) * _DAY
        if m.group("end") or m.group().endswith("周末"):
            yield _Point(monday + 5 * _DAY, monday + 6 * _DAY, m.start(), m.end(), False)
        else:
            yield _Point(monday, monday + 6 * _DAY, m.start(), m.end(), True)
    for m in _WEEKDAY.finditer(t) if week else ():
        d = parse_date(m.group(), today)
        if d is not None:
            yield _Point(d, d, m.start(), m.end(), False)
    for m in _DAY_WORD.finditer(t) if "天" in t or "日" in t else ():
        d = today + _DAY_WORDS[m.group()] * _DAY
        yield _Point(d, d, m.start(), m.end(), False)
    for m in _BARE_DAY.finditer(t) if digits else ():
        d = _date(today.year, today.month, int(m.group(1)))
        if d is not None:
            yield _Point(d, d, m.start(), m.end(), False, (d.year, d.month))
    for m in _YEAR_END.finditer(t) if year_word else ():
        year = _year(m, today)
        if year is not None:
            d = dt.date(year, 12, 31)
            yield _Point(d, d, m.start(), m.end(), False)
    for m in _WHOLE_YEAR.finditer(t) if year_word else ():
        year = _year(m, today)
        if year is not None:
            yield _Point(dt.date(year, 1, 1), dt.date(year, 12, 31), m.start(), m.end(), True)
    for m in _HALF_YEAR.finditer(t) if year_word else ():
        year = _year(m, today)
        if year is not None:
            first = 1 if m.group("half") == "上" else 7
            yield _Point(dt.date(year, first, 1), month_end(year, first + 5), m.start(), m.end(), True)
    for m in _QUARTER.finditer(t) if "季" in t else ():
        yield from _quarter_point(m, today)


def _month_point(m: re.Match[str], year: int, month: int) -> Iterator[_Point]:
    """A month, a day of it ("5月31日") or a part of it ("6月底", "7月上旬", "月中")."""
    groups = m.groupdict()
    day_text = groups.get("d") or groups.get("dd")
    part = groups.get("part")
    if day_text:
        n = _int(day_text)
        d = _date(year, month, n) if n is not None else None
        if d is not None:
            yield _Point(d, d, m.start(), m.end(), False, (year, month))
        return
    last = month_end(year, month)
    if part in ("底", "末"):
        start, end = last, last
    elif part in ("初", "上旬"):
        start, end = dt.date(year, month, 1), dt.date(year, month, 10)
    elif part in ("中", "中旬"):
        start, end = dt.date(year, month, 11), dt.date(year, month, 20)
    elif part == "下旬":
        start, end = dt.date(year, month, 21), last
    else:
        yield _Point(dt.date(year, month, 1), last, m.start(), m.end(), True, (year, month))
        return
    yield _Point(start, end, m.start(), m.end(), False, (year, month))


def _quarter_point(m: re.Match[str], today: dt.date) -> Iterator[_Point]:
    """ "三季度", "第三季度", "本季度", "下季度", "三季度末"."""
    if m.group("q"):
        year = _year(m, today)
        q = _int(m.group("q"))
        if year is None or q is None:
            return
        first = (q - 1) * 3 + 1
        end_word = m.group("end")
    else:
        this_first = (today.month - 1) // 3 * 3 + 1
        year, first = shift_month(today.year, this_first, 3 * _offset(m.group("rel")))
        end_word = m.group("end2")
    last = month_end(year, first + 2)
    if end_word:
        yield _Point(last, last, m.start(), m.end(), False)
    else:
        yield _Point(dt.date(year, first, 1), last, m.start(), m.end(), True)


def _spans(t: str, today: dt.date) -> Iterator[Window]:
    """Spans counted from today: forward ("两周内", "未来三天"), back ("最近三天"), and one day ("三天前")."""
    for m in _FORWARD.finditer(t):
        if not (m.group("pre") or m.group("suf")):
            continue
        unit = m.group("unit")
        if unit == "工作日":
            last = parse_date(f"{m.group('n')}个工作日内", today)
        else:
            last = _shift(today, m.group("n"), unit, 1)
        if last is not None:
            yield Window(today, last, m.start(), m.end(), False)
    for m in _BACK.finditer(t):
        if not (m.group("pre") or m.group("suf")):
            continue
        first = _shift(today, m.group("n"), m.group("unit"), -1)
        if first is not None:
            yield Window(first, today, m.start(), m.end(), False)
    for m in _AGO.finditer(t):
        sign = -1 if "前" in m.group("dir") else 1
        d = _shift(today, m.group("n"), m.group("unit"), sign)
        if d is not None:
            yield Window(d, d, m.start(), m.end(), False)


def _shift(today: dt.date, count: str, unit: str, sign: int) -> dt.date | None:
    """The day `count` `unit`s after (sign 1) or before (sign -1) today; months keep the day of the month."""
    if count == "半":
        days = {"月": 15, "年": 182}.get(unit)
        return today + sign * days * _DAY if days else None
    n = _int(count)
    if n is None or n <= 0:
        return None
    if unit in ("月", "年"):
        months = n * (12 if unit == "年" else 1)
        if months > 120:
            return None  # "2023年内" is a year, never two thousand years from now
        year, month = shift_month(today.year, today.month, sign * months)
        return dt.date(year, month, min(today.day, month_end(year, month).day))
    days = n * (7 if unit in ("周", "星期", "礼拜") else 1)
    return today + sign * days * _DAY if days <= 3660 else None


def _year(m: re.Match[str], today: dt.date) -> int | None:
    groups = m.groupdict()
    if groups.get("y4"):
        year = int(groups["y4"])
        return year if 1900 <= year <= 2200 else None
    return today.year + {"明": 1, "去": -1}.get(groups.get("yw") or "", 0)


def _offset(prefix: str | None) -> int:
    """本/这/当 0, 下 1, 下下 2, 上 -1, 上上 -2."""
    if not prefix or prefix[0] in "本这当":
        return 0
    if prefix.startswith(("下下", "上上")):
        return 2 if prefix[0] == "下" else -2
    return 1 if prefix[0] == "下" else -1


def _int(token: str | None) -> int | None:
    if not token:
        return None
    value = to_number(token)
    return int(value) if value is not None and value == int(value) else None


def _date(year: int, month: int, day: int | None) -> dt.date | None:
    if day is None:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
