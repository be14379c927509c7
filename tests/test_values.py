"""Values as officials type them: statuses, percentages, dates, quantities and amounts, each row an input and the
value it must read as (or None where it must be refused), relative to a stated `today` for dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from db.models import BLOCKED, DONE, IN_PROGRESS, NOT_STARTED
from handlers.formatting import fmt_date_back
from handlers.understanding.numbers import (
    UNITS,
    PercentReading,
    Quantity,
    convert,
    parse_amount,
    parse_date,
    parse_percent,
    parse_quantity,
    read_percent,
)
from handlers.vocabulary import parse_status, stated_status

D = Decimal
MONDAY = dt.date(2023, 7, 10)  # a Monday
SATURDAY = dt.date(2023, 7, 15)
OCTOBER = dt.date(2023, 10, 20)
BEFORE_NATIONAL_DAY = dt.date(2023, 9, 25)  # the 2023 holiday (with 中秋) runs 9月29日–10月6日
NO_CALENDAR = dt.date(2099, 7, 1)  # a year chinese_calendar has no holidays for


# ---- statuses -----------------------------------------------------------------------------------------------

STATUSES = [
    ("已经完成", DONE),
    ("完成了", DONE),
    ("弄完了", DONE),
    ("搞定了", DONE),
    ("全部完工", DONE),
    ("3", DONE),
    ("已完成", DONE),
    ("在弄了", IN_PROGRESS),
    ("在做", IN_PROGRESS),
    ("正在弄", IN_PROGRESS),
    ("正在推进", IN_PROGRESS),
    ("进行中", IN_PROGRESS),
    ("还在推进", IN_PROGRESS),
    ("招标中", IN_PROGRESS),
    ("刚开始", IN_PROGRESS),
    ("没完成", IN_PROGRESS),
    ("还没完成", IN_PROGRESS),
    ("尚未完成", IN_PROGRESS),
    ("还没做完", IN_PROGRESS),
    ("没搞定", IN_PROGRESS),
    ("基本完成", IN_PROGRESS),
    ("快完了", IN_PROGRESS),
    ("还没开始", NOT_STARTED),
    ("没动", NOT_STARTED),
    ("尚未启动", NOT_STARTED),
    ("暂未启动", NOT_STARTED),
    ("还没弄", NOT_STARTED),
    ("卡住了", BLOCKED),
    ("推不动", BLOCKED),
    ("停工了", BLOCKED),
    ("卡着呢", BLOCKED),
    ("做不下去了", BLOCKED),
    ("完成30%但资金没到位", BLOCKED),
    ("还行吧", None),
    ("好的", None),
]


@pytest.mark.parametrize(("typed", "expected"), STATUSES, ids=[s[0] for s in STATUSES])
def test_status(typed: str, expected: str | None) -> None:
    assert parse_status(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("没完成", None),
        ("还没做完", None),
        ("尚未办结", None),
        ("基本完成了", None),
        ("还没做完，正在推进", IN_PROGRESS),
    ],
)
def test_a_sentence_saying_unfinished_is_never_done_nor_not_started(typed: str, expected: str | None) -> None:
    """In one-line reports (and so in every message understood) unfinished work states no status of its own."""
    assert stated_status(typed) == expected


@pytest.mark.parametrize("typed", ["未完成的项目", "没完成的", "招标中的项目", "墨脱县快完成的项目", "弄完了的任务"])
def test_words_that_qualify_a_question_are_no_answer(typed: str) -> None:
    """A status word before 的 picks things out ("未完成的项目" is a question), both in answers and in sentences."""
    assert parse_status(typed) is None
    assert stated_status(typed) is None


# ---- percentages --------------------------------------------------------------------------------------------


def _p(
    value: str,
    low: str | None = None,
    high: str | None = None,
    approx: bool = False,
    maybe_fraction: bool = False,
) -> PercentReading:
    return PercentReading(D(value), D(low) if low else None, D(high) if high else None, approx, maybe_fraction)


PERCENTS = [
    ("80", _p("80")),
    ("80%", _p("80")),
    ("８０％", _p("80")),
    ("百分之八十", _p("80")),
    ("八成", _p("80")),
    ("八成五", _p("85")),
    ("百分之百", _p("100")),
    ("三分之一", _p("33.3")),
    ("四分之三", _p("75")),
    ("三成半", _p("35")),
    ("七八成", _p("75", "70", "80")),
    ("六七成", _p("65", "60", "70")),
    ("60-70%", _p("65", "60", "70")),
    ("60到70", _p("65", "60", "70")),
    ("百分之六七十", _p("65", "60", "70")),
    ("40左右", _p("40", approx=True)),
    ("约40", _p("40", approx=True)),
    ("40%左右", _p("40", approx=True)),
    ("大概四十", _p("40", approx=True)),
    ("40多", _p("40", approx=True)),
    ("百分之四十多", _p("40", approx=True)),
    ("差不多一半", _p("50", approx=True)),
    ("一半多", _p("50", approx=True)),
    ("过半", _p("50", approx=True)),
    ("完成了一半", _p("50")),
    ("九成以上", _p("90", approx=True)),
    ("0.8", _p("0.8", maybe_fraction=True)),
    ("0.85", _p("0.85", maybe_fraction=True)),
    ("1", _p("1")),
    ("120", _p("120")),  # returned: the check-in refuses it with the allowed range
    ("百分之负十", None),
    ("3 0.8", None),  # two numbers (a list line typed to the % question), never 30.8
    ("40 %", _p("40")),
    ("-5", None),
    ("十三成", None),
    ("abc", None),
    ("很多", None),
    ("接近完成", None),
]


@pytest.mark.parametrize(("typed", "expected"), PERCENTS, ids=[p[0] for p in PERCENTS])
def test_read_percent(typed: str, expected: PercentReading | None) -> None:
    reading = read_percent(typed)
    assert reading == expected
    assert parse_percent(typed) == (expected.value if expected else None)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("完成80%", D(80)),
        ("完成了八成", D(80)),
        ("完成三分之一", D("33.3")),
        ("80", None),
        ("约40", None),
        ("40多个", None),
    ],
)
def test_percent_in_a_sentence_needs_a_percent_word(typed: str, expected: Decimal | None) -> None:
    """Without bare_number (one-line reports and queries) a bare number is not a percentage."""
    assert parse_percent(typed, bare_number=False) == expected


# ---- dates --------------------------------------------------------------------------------------------------

DATES = [
    ("下周五", MONDAY, dt.date(2023, 7, 21)),
    ("本周五", MONDAY, dt.date(2023, 7, 14)),
    ("这周五", MONDAY, dt.date(2023, 7, 14)),
    ("周五", MONDAY, dt.date(2023, 7, 14)),
    ("星期一", MONDAY, dt.date(2023, 7, 10)),  # a bare weekday may be today
    ("周五", SATURDAY, dt.date(2023, 7, 21)),
    ("本周五", SATURDAY, dt.date(2023, 7, 14)),  # this week's, even though past: the caller refuses it
    ("下下周一", MONDAY, dt.date(2023, 7, 24)),
    ("下周", MONDAY, dt.date(2023, 7, 21)),  # next week's Friday
    ("月底", MONDAY, dt.date(2023, 7, 31)),
    ("本月底", MONDAY, dt.date(2023, 7, 31)),
    ("下月底", MONDAY, dt.date(2023, 8, 31)),
    ("下个月中旬", MONDAY, dt.date(2023, 8, 15)),
    ("下个月底", dt.date(2023, 12, 5), dt.date(2024, 1, 31)),
    ("9月", MONDAY, dt.date(2023, 9, 30)),
    ("6月", MONDAY, dt.date(2024, 6, 30)),  # this June is past
    ("9月中旬", MONDAY, dt.date(2023, 9, 15)),
    ("9月上旬", MONDAY, dt.date(2023, 9, 10)),
    ("2月下旬", MONDAY, dt.date(2023, 2, 28)),
    ("6月30日", MONDAY, dt.date(2023, 6, 30)),
    ("年底", MONDAY, dt.date(2023, 12, 31)),
    ("年内", MONDAY, dt.date(2023, 12, 31)),
    ("三季度末", MONDAY, dt.date(2023, 9, 30)),
    ("国庆前", MONDAY, dt.date(2023, 9, 28)),
    ("国庆节前", BEFORE_NATIONAL_DAY, dt.date(2023, 9, 28)),
    ("国庆前", OCTOBER, dt.date(2024, 9, 30)),  # 2024: 9月29日 (Sunday) is a working day, 9月30日 the last
    ("中秋前", MONDAY, dt.date(2023, 9, 28)),
    ("春节前", MONDAY, dt.date(2024, 2, 9)),
    ("元旦前", MONDAY, dt.date(2023, 12, 29)),
    ("五一前", MONDAY, dt.date(2024, 4, 30)),
    ("端午前", MONDAY, dt.date(2024, 6, 7)),
    ("国庆前", NO_CALENDAR, dt.date(2099, 9, 30)),
    ("端午前", NO_CALENDAR, None),  # a lunar holiday with no calendar: no guess
    ("20230630", MONDAY, dt.date(2023, 6, 30)),
    ("2023.6.30", MONDAY, dt.date(2023, 6, 30)),
    ("2023/6/30", MONDAY, dt.date(2023, 6, 30)),
    ("2023-06-30", MONDAY, dt.date(2023, 6, 30)),
    ("6/30", MONDAY, dt.date(2023, 6, 30)),
    ("6.30", MONDAY, dt.date(2023, 6, 30)),
    ("两周后", MONDAY, dt.date(2023, 7, 24)),
    ("3天后", MONDAY, dt.date(2023, 7, 13)),
    ("一个月后", MONDAY, dt.date(2023, 8, 10)),
    ("一个月后", dt.date(2023, 1, 31), dt.date(2023, 2, 28)),
    ("10天内", MONDAY, dt.date(2023, 7, 20)),
    # 9月26–28日, then over the holiday to the make-up weekend of 10月7日–8日
    ("5个工作日内", BEFORE_NATIONAL_DAY, dt.date(2023, 10, 8)),
    ("明天", MONDAY, dt.date(2023, 7, 11)),
    ("2月30日", MONDAY, None),
    ("13月", MONDAY, None),
    ("13月5日", MONDAY, None),
    ("2023-02-30", MONDAY, None),
    ("下下下周吧", MONDAY, None),
    ("abc", MONDAY, None),
]


@pytest.mark.parametrize(("typed", "today", "expected"), DATES, ids=[f"{d[0]}@{d[1]}" for d in DATES])
def test_parse_date(typed: str, today: dt.date, expected: dt.date | None) -> None:
    assert parse_date(typed, today) == expected


@pytest.mark.parametrize(
    ("d", "today", "shown"),
    [
        (dt.date(2023, 7, 14), MONDAY, "7月14日（周五）"),
        (dt.date(2023, 7, 14), None, "2023年7月14日（周五）"),
        (dt.date(2024, 1, 7), MONDAY, "2024年1月7日（周日）"),
    ],
)
def test_date_read_back(d: dt.date, today: dt.date | None, shown: str) -> None:
    assert fmt_date_back(d, today) == shown


# ---- quantities ---------------------------------------------------------------------------------------------

QUANTITIES = [
    ("已完成8000亩", Quantity(D(8000), "亩")),
    ("8000亩", Quantity(D(8000), "亩")),
    ("0.8万亩", Quantity(D("0.8"), "万亩")),
    ("1.2万亩", Quantity(D("1.2"), "万亩")),
    ("约2000亩", Quantity(D(2000), "亩", approx=True)),
    ("完成了5个", Quantity(D(5), "个")),
    ("两家", Quantity(D(2), "家")),
    ("120人", Quantity(D(120), "人")),
    ("3.5公里", Quantity(D("3.5"), "公里")),
    ("1.2万棵", Quantity(D(12000), "棵")),
    ("300多户", Quantity(D(300), "户", approx=True)),
    ("亩", None),
    ("完成了", None),
]


@pytest.mark.parametrize(("typed", "expected"), QUANTITIES, ids=[q[0] for q in QUANTITIES])
def test_parse_quantity(typed: str, expected: Quantity | None) -> None:
    assert parse_quantity(typed) == expected


CONVERSIONS = [
    (D(8000), "亩", "万亩", D("0.8")),
    (D("1.2"), "万亩", "亩", D(12000)),
    (D(15), "亩", "公顷", D(1)),
    (D("3.5"), "公里", "米", D(3500)),
    (D(2), "千米", "公里", D(2)),
    (D(5000), "吨", "万吨", D("0.5")),
    (D("1.5"), "亿元", "万元", D(15000)),
    (D(12000), "元", "万元", D("1.2")),
    (D(30000), "人", "万人", D(3)),
    (D(5), "家", "家", D(5)),
    (D(1), "亩", "个", None),
    (D(1), "家", "个", None),
    (D(1), "公里", "亩", None),
    (D(1), "亩", "斤", None),
]


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"), CONVERSIONS, ids=[f"{c[1]}→{c[2]}" for c in CONVERSIONS]
)
def test_convert(value: Decimal, source: str, target: str, expected: Decimal | None) -> None:
    assert convert(value, source, target) == expected


def test_every_unit_converts_to_itself() -> None:
    assert all(convert(D(7), unit, unit) == 7 for unit in UNITS)


# ---- money (万元) -------------------------------------------------------------------------------------------

AMOUNTS = [
    ("1200", D(1200)),
    ("1200万元", D(1200)),
    ("0.12亿", D(1200)),
    ("一千二百万", D(1200)),
    ("12,000,000元", D(1200)),
    ("约1200万", D(1200)),
    ("1200万左右", D(1200)),
    ("1200多万", D(1200)),
    ("大概300万元", D(300)),
    ("多少", None),
    ("很多", None),
]


@pytest.mark.parametrize(("typed", "expected"), AMOUNTS, ids=[a[0] for a in AMOUNTS])
def test_parse_amount(typed: str, expected: Decimal | None) -> None:
    assert parse_amount(typed) == expected
