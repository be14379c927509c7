"""The time window of a question: each row a question as a coordinator types it and the window it must find
(relative to Monday 2023-07-10), the words that gave it, and whether it is a deadline bound; questions with names and
figures that are no time must find none; and for any day and a family of phrases, the window's length and alignment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import cn2an
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.understanding.numbers import month_end
from handlers.understanding.text import normalize_for_matching
from handlers.understanding.windows import Window, find_window

MONDAY = dt.date(2023, 7, 10)
D = dt.date


def _find(question: str, today: dt.date = MONDAY) -> tuple[Window | None, str]:
    text = normalize_for_matching(question)
    return find_window(text, today), text


# question, first day, last day, the words that gave the window, a deadline bound
WINDOWS: list[tuple[str, dt.date, dt.date, str, bool]] = [
    # days
    ("今天有什么到期", D(2023, 7, 10), D(2023, 7, 10), "今天", False),
    ("今日到期的任务", D(2023, 7, 10), D(2023, 7, 10), "今日", False),
    ("明天要交什么", D(2023, 7, 11), D(2023, 7, 11), "明天", False),
    ("昨天谁报了", D(2023, 7, 9), D(2023, 7, 9), "昨天", False),
    ("5月31日到期的有哪些", D(2023, 5, 31), D(2023, 5, 31), "5月31日", False),
    ("5月31号到期的有哪些", D(2023, 5, 31), D(2023, 5, 31), "5月31号", False),
    ("5.31到期的", D(2023, 5, 31), D(2023, 5, 31), "5.31", False),
    ("5-31到期的任务", D(2023, 5, 31), D(2023, 5, 31), "5-31", False),
    ("2023-05-31到期的任务", D(2023, 5, 31), D(2023, 5, 31), "2023-05-31", False),
    ("2023年5月31日到期的任务", D(2023, 5, 31), D(2023, 5, 31), "2023年5月31日", False),
    ("五月三十一日到期的任务", D(2023, 5, 31), D(2023, 5, 31), "五月三十一日", False),
    ("5月22日有活动吗", D(2023, 5, 22), D(2023, 5, 22), "5月22日", False),
    ("6月底到期的", D(2023, 6, 30), D(2023, 6, 30), "6月底", False),
    ("6月末要完成的", D(2023, 6, 30), D(2023, 6, 30), "6月末", False),
    ("十二月底要完成哪些", D(2023, 12, 31), D(2023, 12, 31), "十二月底", False),
    ("月底到期的有哪些", D(2023, 7, 31), D(2023, 7, 31), "月底", False),
    ("本月底要交的", D(2023, 7, 31), D(2023, 7, 31), "本月底", False),
    ("年底要完成的任务", D(2023, 12, 31), D(2023, 12, 31), "年底", False),
    ("年末还有哪些没完成", D(2023, 12, 31), D(2023, 12, 31), "年末", False),
    # weekdays
    ("周五到期的有哪些", D(2023, 7, 14), D(2023, 7, 14), "周五", False),
    ("本周五要交什么", D(2023, 7, 14), D(2023, 7, 14), "本周五", False),
    ("下周五之前", D(2023, 7, 10), D(2023, 7, 21), "下周五之前", True),
    ("下周五有什么到期", D(2023, 7, 21), D(2023, 7, 21), "下周五", False),
    # weeks
    ("本周到期的任务", D(2023, 7, 10), D(2023, 7, 16), "本周", False),
    ("这周有什么到期", D(2023, 7, 10), D(2023, 7, 16), "这周", False),
    ("这个星期有什么要交的", D(2023, 7, 10), D(2023, 7, 16), "这个星期", False),
    ("本星期的汇报", D(2023, 7, 10), D(2023, 7, 16), "本星期", False),
    ("这礼拜谁还没报", D(2023, 7, 10), D(2023, 7, 16), "这礼拜", False),
    ("本周谁报了", D(2023, 7, 10), D(2023, 7, 16), "本周", False),
    ("下周有什么到期", D(2023, 7, 17), D(2023, 7, 23), "下周", False),
    ("下个星期有什么到期", D(2023, 7, 17), D(2023, 7, 23), "下个星期", False),
    ("下下周到期的", D(2023, 7, 24), D(2023, 7, 30), "下下周", False),
    ("上周谁报了", D(2023, 7, 3), D(2023, 7, 9), "上周", False),
    # months
    ("墨脱县这个月有到期的吗", D(2023, 7, 1), D(2023, 7, 31), "这个月", False),
    ("本月到期的任务", D(2023, 7, 1), D(2023, 7, 31), "本月", False),
    ("当月要完成的", D(2023, 7, 1), D(2023, 7, 31), "当月", False),
    ("这月有啥要交的", D(2023, 7, 1), D(2023, 7, 31), "这月", False),
    ("下个月到期的有哪些", D(2023, 8, 1), D(2023, 8, 31), "下个月", False),
    ("下月要交什么", D(2023, 8, 1), D(2023, 8, 31), "下月", False),
    ("上个月谁没报", D(2023, 6, 1), D(2023, 6, 30), "上个月", False),
    ("上月的汇报", D(2023, 6, 1), D(2023, 6, 30), "上月", False),
    ("7月到期的任务", D(2023, 7, 1), D(2023, 7, 31), "7月", False),
    ("7月份到期的任务", D(2023, 7, 1), D(2023, 7, 31), "7月份", False),
    ("七月有哪些到期", D(2023, 7, 1), D(2023, 7, 31), "七月", False),
    ("3月到期的完成了吗", D(2023, 3, 1), D(2023, 3, 31), "3月", False),
    ("十一月要完成哪些", D(2023, 11, 1), D(2023, 11, 30), "十一月", False),
    ("7月上旬到期的", D(2023, 7, 1), D(2023, 7, 10), "7月上旬", False),
    ("7月中旬到期的", D(2023, 7, 11), D(2023, 7, 20), "7月中旬", False),
    ("7月下旬到期的", D(2023, 7, 21), D(2023, 7, 31), "7月下旬", False),
    ("7月初要交的", D(2023, 7, 1), D(2023, 7, 10), "7月初", False),
    ("月中要交的有哪些", D(2023, 7, 11), D(2023, 7, 20), "月中", False),
    ("下个月中旬到期的", D(2023, 8, 11), D(2023, 8, 20), "下个月中旬", False),
    # deadline bounds
    ("8月底前要交什么", D(2023, 7, 10), D(2023, 8, 31), "8月底前", True),
    ("11月20号前要完成的", D(2023, 7, 10), D(2023, 11, 20), "11月20号前", True),
    ("十一月二十号之前要完成的", D(2023, 7, 10), D(2023, 11, 20), "十一月二十号之前", True),
    ("今年年底前能完成吗", D(2023, 7, 10), D(2023, 12, 31), "今年年底前", True),
    ("年底前要完成的任务", D(2023, 7, 10), D(2023, 12, 31), "年底前", True),
    ("年内要完成的有哪些", D(2023, 7, 10), D(2023, 12, 31), "年内", True),
    ("月底前要报的", D(2023, 7, 10), D(2023, 7, 31), "月底前", True),
    ("国庆前要完成的", D(2023, 7, 10), D(2023, 9, 28), "国庆前", True),
    ("8月前要交的", D(2023, 7, 10), D(2023, 7, 31), "8月前", True),
    ("8月以前要交的", D(2023, 7, 10), D(2023, 7, 31), "8月以前", True),
    ("6月底前要交的", D(2023, 1, 1), D(2023, 6, 30), "6月底前", True),
    ("截止8月底的任务", D(2023, 7, 10), D(2023, 8, 31), "截止8月底", True),
    ("8月底截止的任务", D(2023, 8, 31), D(2023, 8, 31), "8月底", False),  # what falls due that day
    ("截止到8月底的任务", D(2023, 7, 10), D(2023, 8, 31), "截止到8月底", True),
    ("5月31日截止的任务完成了没有", D(2023, 5, 31), D(2023, 5, 31), "5月31日", False),
    ("到月底为止还有哪些没报", D(2023, 7, 10), D(2023, 7, 31), "到月底为止", True),
    ("15号前要交的", D(2023, 7, 10), D(2023, 7, 15), "15号前", True),
    ("本月内要完成的", D(2023, 7, 10), D(2023, 7, 31), "本月内", True),
    # spans forward
    ("未来两周有哪些到期", D(2023, 7, 10), D(2023, 7, 24), "未来两周", False),
    ("接下来两周要交什么", D(2023, 7, 10), D(2023, 7, 24), "接下来两周", False),
    ("两周内到期的", D(2023, 7, 10), D(2023, 7, 24), "两周内", False),
    ("两周之内到期的", D(2023, 7, 10), D(2023, 7, 24), "两周之内", False),
    ("14天内到期的", D(2023, 7, 10), D(2023, 7, 24), "14天内", False),
    ("未来一周有什么到期", D(2023, 7, 10), D(2023, 7, 17), "未来一周", False),
    ("一周内要交的", D(2023, 7, 10), D(2023, 7, 17), "一周内", False),
    ("7天内到期的", D(2023, 7, 10), D(2023, 7, 17), "7天内", False),
    ("三天内要完成的", D(2023, 7, 10), D(2023, 7, 13), "三天内", False),
    ("未来三天有什么到期", D(2023, 7, 10), D(2023, 7, 13), "未来三天", False),
    ("未来一个月到期的", D(2023, 7, 10), D(2023, 8, 10), "未来一个月", False),
    ("一个月内要交的", D(2023, 7, 10), D(2023, 8, 10), "一个月内", False),
    ("10个工作日内要完成的", D(2023, 7, 10), D(2023, 7, 24), "10个工作日内", False),
    # spans back
    ("最近三天有哪些新汇报", D(2023, 7, 7), D(2023, 7, 10), "最近三天", False),
    ("近三天谁报了", D(2023, 7, 7), D(2023, 7, 10), "近三天", False),
    ("过去三天的汇报", D(2023, 7, 7), D(2023, 7, 10), "过去三天", False),
    ("这三天有新汇报吗", D(2023, 7, 7), D(2023, 7, 10), "这三天", False),
    ("前三天的汇报", D(2023, 7, 7), D(2023, 7, 10), "前三天", False),
    ("最近一周谁报了", D(2023, 7, 3), D(2023, 7, 10), "最近一周", False),
    ("近一周的汇报", D(2023, 7, 3), D(2023, 7, 10), "近一周", False),
    ("近7天的汇报", D(2023, 7, 3), D(2023, 7, 10), "近7天", False),
    ("过去一周有什么新汇报", D(2023, 7, 3), D(2023, 7, 10), "过去一周", False),
    ("最近有哪些新汇报", D(2023, 7, 3), D(2023, 7, 10), "最近", False),
    ("近期的进展", D(2023, 7, 3), D(2023, 7, 10), "近期", False),
    ("最近一个月的汇报", D(2023, 6, 10), D(2023, 7, 10), "最近一个月", False),
    ("近一个月谁没报", D(2023, 6, 10), D(2023, 7, 10), "近一个月", False),
    # years, halves, quarters
    ("今年的任务完成了多少", D(2023, 1, 1), D(2023, 12, 31), "今年", False),
    ("本年度的目标", D(2023, 1, 1), D(2023, 12, 31), "本年度", False),
    ("全年任务进度", D(2023, 1, 1), D(2023, 12, 31), "全年", False),
    ("上半年到期的任务", D(2023, 1, 1), D(2023, 6, 30), "上半年", False),
    ("下半年要完成的", D(2023, 7, 1), D(2023, 12, 31), "下半年", False),
    ("三季度到期的", D(2023, 7, 1), D(2023, 9, 30), "三季度", False),
    ("第三季度有哪些任务", D(2023, 7, 1), D(2023, 9, 30), "第三季度", False),
    ("本季度到期的", D(2023, 7, 1), D(2023, 9, 30), "本季度", False),
    ("下季度要完成的", D(2023, 10, 1), D(2023, 12, 31), "下季度", False),
    ("一季度完成情况", D(2023, 1, 1), D(2023, 3, 31), "一季度", False),
    # ranges
    ("7月1日到7月15日到期的", D(2023, 7, 1), D(2023, 7, 15), "7月1日到7月15日", False),
    ("7月1日至15日的汇报", D(2023, 7, 1), D(2023, 7, 15), "7月1日至15日", False),
    ("7月1日-7月15日的汇报", D(2023, 7, 1), D(2023, 7, 15), "7月1日-7月15日", False),
    ("7月到9月要完成的", D(2023, 7, 1), D(2023, 9, 30), "7月到9月", False),
    ("7-9月要完成的", D(2023, 7, 1), D(2023, 9, 30), "7-9月", False),
    # after, since
    ("7月10日以后到期的", D(2023, 7, 10), D(2023, 12, 31), "7月10日以后", False),
    ("8月以后到期的", D(2023, 8, 1), D(2023, 12, 31), "8月以后", False),
    ("8月之后要完成的", D(2023, 8, 1), D(2023, 12, 31), "8月之后", False),
    ("7月以来的汇报", D(2023, 7, 1), D(2023, 7, 10), "7月以来", False),
    ("3月份以来完成了多少", D(2023, 3, 1), D(2023, 7, 10), "3月份以来", False),
    # more ways to say it
    ("周一到周五的汇报", D(2023, 7, 10), D(2023, 7, 14), "周一到周五", False),
    ("10月15日到10月20日要交的", D(2023, 10, 15), D(2023, 10, 20), "10月15日到10月20日", False),
    ("截至6月30日完成了多少", D(2023, 1, 1), D(2023, 6, 30), "截至6月30日", True),
    ("9.15前要交的", D(2023, 7, 10), D(2023, 9, 15), "9.15前", True),
    ("元旦前要完成的", D(2023, 7, 10), D(2023, 12, 29), "元旦前", True),
    ("周五前交", D(2023, 7, 10), D(2023, 7, 14), "周五前", True),
    ("2023年内要完成的", D(2023, 7, 10), D(2023, 12, 31), "2023年内", True),
    ("2023年度的任务", D(2023, 1, 1), D(2023, 12, 31), "2023年度", False),
    ("明年3月到期的", D(2024, 3, 1), D(2024, 3, 31), "明年3月", False),
    ("下旬要交的", D(2023, 7, 21), D(2023, 7, 31), "下旬", False),
    ("上上周的汇报", D(2023, 6, 26), D(2023, 7, 2), "上上周", False),
    ("这周末要交的", D(2023, 7, 15), D(2023, 7, 16), "这周末", False),
    ("第二季度末的完成情况", D(2023, 6, 30), D(2023, 6, 30), "第二季度末", False),
    ("三个月内到期的", D(2023, 7, 10), D(2023, 10, 10), "三个月内", False),
    ("三天前报的", D(2023, 7, 7), D(2023, 7, 7), "三天前", False),
    # names with numbers next to a time
    ("项目2下周到期吗", D(2023, 7, 17), D(2023, 7, 23), "下周", False),
    ("墨脱县8000亩造林月底前能完成吗", D(2023, 7, 10), D(2023, 7, 31), "月底前", True),
]


@pytest.mark.parametrize(("question", "start", "end", "words", "before"), WINDOWS, ids=[row[0] for row in WINDOWS])
def test_finds_the_window(question: str, start: dt.date, end: dt.date, words: str, before: bool) -> None:
    window, text = _find(question)
    assert window is not None
    assert (window.start, window.end, text[window.begin : window.stop], window.before) == (start, end, words, before)


NO_WINDOW = [
    "项目2进展怎么样",
    "指标15达标了吗",
    "3 推进中 60",
    "完成80%",
    "5·22国际生物多样性日活动",
    "两山基地建设",
    "完成8000亩",
    "第三项是什么",
    "周边环境整治",
    "月亮湾景区",
    "增长3.5",
    "已完成1.25万亩",
    "完成了5-6成",
    "2号楼改造",
    "巴宜区30",
    "建党100周年",
    "八及曲项目",
    "谁还没汇报",
    "林草覆盖率达标了吗",
    "12",
    "这周边有什么",
    "本周期",
    "三个月",
    "2月30日到期",
    "1号文件",
    "第1周",
    "每周",
]


@pytest.mark.parametrize("question", NO_WINDOW)
def test_finds_no_window(question: str) -> None:
    assert _find(question)[0] is None


def test_the_longest_words_win_and_then_the_first() -> None:
    window, text = _find("下周五和8月底前的任务")
    assert window is not None and text[window.begin : window.stop] == "8月底前"
    window, text = _find("本周和下周")
    assert window is not None and text[window.begin : window.stop] == "本周"


def test_a_range_that_runs_backwards_is_not_one() -> None:
    window, text = _find("9月到7月")
    assert window is not None and text[window.begin : window.stop] == "9月"


def test_a_deadline_already_past_runs_from_the_year_start() -> None:
    window, _ = _find("3月底前要交的", dt.date(2024, 5, 6))
    assert window == Window(dt.date(2024, 1, 1), dt.date(2024, 3, 31), 0, 4, True)


# ---- properties -------------------------------------------------------------------------------------------------

# Words around the phrase; a figure that ends a name is followed by a space ("项目2 1月" and never "项目21月").
_AROUND = ["", "墨脱县", "项目2 ", "生态环境局"], ["", "有哪些到期", "谁报了", "要交什么", " 项目2"]


def _numeral(n: int, chinese: bool) -> str:
    return str(cn2an.an2cn(n)) if chinese else str(n)


@st.composite
def _phrase(draw: st.DrawFn) -> tuple[str, str, int]:
    kind = draw(st.sampled_from(["本周", "下周", "上周", "本月", "下个月", "N月", "N月底前", "未来N天", "最近N天"]))
    chinese = draw(st.booleans())
    n = draw(st.integers(1, 12) if kind.startswith("N月") else st.integers(1, 60))
    return kind, kind.replace("N", _numeral(n, chinese)), n


@settings(max_examples=300, deadline=None)
@given(
    today=st.dates(dt.date(2023, 1, 1), dt.date(2030, 12, 31)),
    phrase=_phrase(),
    before=st.sampled_from(_AROUND[0]),
    after=st.sampled_from(_AROUND[1]),
)
def test_window_length_and_alignment(today: dt.date, phrase: tuple[str, str, int], before: str, after: str) -> None:
    kind, words, n = phrase
    window, text = _find(before + words + after, today)
    assert window is not None
    assert window.start <= window.end
    assert text[window.begin : window.stop] == words
    monday = today - dt.timedelta(days=today.weekday())
    weeks = {"本周": 0, "下周": 1, "上周": -1}
    if kind in weeks:
        assert window.start == monday + dt.timedelta(weeks=weeks[kind])
        assert window.start.weekday() == 0 and window.end - window.start == dt.timedelta(days=6)
    elif kind in ("本月", "下个月"):
        first = today.replace(day=1)
        if kind == "下个月":
            first = (first + dt.timedelta(days=31)).replace(day=1)
        year, month = first.year, first.month
        assert (window.start, window.end) == (dt.date(year, month, 1), month_end(year, month))
    elif kind == "N月":
        assert (window.start, window.end) == (dt.date(today.year, n, 1), month_end(today.year, n))
    elif kind == "N月底前":
        end = month_end(today.year, n)
        assert window.before and window.end == end
        assert window.start == (today if end >= today else dt.date(today.year, 1, 1))
    elif kind == "未来N天":
        assert (window.start, window.end, window.before) == (today, today + dt.timedelta(days=n), False)
    else:
        assert (window.start, window.end, window.before) == (today - dt.timedelta(days=n), today, False)


def test_the_quick_check_never_hides_a_window() -> None:
    """`find_window` skips texts without a time character; on every phrase of our case files and of this file's
    tables, the full search agrees (it finds nothing that the quick check would have skipped)."""
    import yaml

    from handlers.understanding import windows
    from handlers.understanding.text import normalize_for_matching

    here = Path(__file__).resolve().parent
    texts = [row[0] for row in WINDOWS] + list(NO_WINDOW)
    for name in ("nlu_cases_extra.yaml", "nlu_cases_v2_extra.yaml", "nlu_cases_heldout.yaml"):
        texts += [c["text"] for c in yaml.safe_load((here / name).read_text(encoding="utf-8"))]
    today = D(2023, 7, 10)
    for text in texts:
        t = normalize_for_matching(text)
        if windows._HINT.search(t) is None:
            assert next(windows._candidates(t, today), None) is None, text
