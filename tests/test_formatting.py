"""One formatting helper per kind of value: dates (also of stored naive-UTC times near midnight), times,
numbers, money, percentages, statuses and verdicts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from db.repositories import progress
from handlers import formatting as fmt
from handlers import texts

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_dates() -> None:
    assert fmt.day(dt.date(2023, 5, 4)) == "5月4日"
    assert fmt.day_or_dash(None) == "—" and fmt.day_or_dash(dt.date(2023, 12, 31)) == "12月31日"
    assert fmt.month(8) == "8月"
    assert fmt.iso_day(dt.date(2023, 5, 4)) == "2023-05-04"


def test_stored_times_are_shown_in_the_clock_zone() -> None:
    late = dt.datetime(2023, 5, 23, 16, 30)  # naive UTC: 00:30 on 5月24日 in China
    assert fmt.local_date(late, SHANGHAI) == dt.date(2023, 5, 24)
    assert fmt.stored_day(late, SHANGHAI) == "5月24日"
    assert fmt.stored_day(None, SHANGHAI) == ""
    assert fmt.stored_minute(late, SHANGHAI) == "2023-05-24 00:30"
    assert fmt.stored_short_minute(late, SHANGHAI) == "05-24 00:30"
    assert fmt.stored_day(late, ZoneInfo("UTC")) == "5月23日"
    assert fmt.minute(dt.datetime(2023, 5, 24, 9, 5, tzinfo=SHANGHAI)) == "2023-05-24 09:05"


def test_numbers_money_percentages() -> None:
    assert fmt.number(Decimal("80.0")) == "80" and fmt.number(Decimal("1.25"), 2) == "1.25"
    assert fmt.money(Decimal("1200.50")) == "1200.5" and fmt.money(None) == "—"
    assert fmt.money_wan(Decimal(800)) == "800 万元"
    assert fmt.percent(Decimal("33.33")) == "33.3%"
    assert fmt.share(Decimal(800), Decimal(2335)) == "34.3%"
    assert fmt.share(None, Decimal(10)) == "—" and fmt.share(Decimal(1), Decimal(0)) == "—"


def test_statuses_and_verdicts() -> None:
    assert fmt.status_label("in_progress") == "推进中"
    assert fmt.status_label(None) == texts.SCHED_NEVER_REPORTED
    assert fmt.status_label(None, never="—") == "—"
    assert fmt.status_with_percent("in_progress", Decimal(60)) == "推进中 60%"
    assert fmt.status_with_percent("blocked", None) == "受阻"
    assert fmt.review_label("pending") == "待审核" and fmt.review_label(None) == ""
    labels = [fmt.verdict_label(v) for v in (progress.MET, progress.NOT_MET, progress.UNJUDGED, progress.UNREPORTED)]
    assert labels == ["达标", "未达标", "待判定", "未填报"]
