"""How values are written for people, one helper per kind of value: dates and times, numbers, money (万元),
percentages, report statuses and indicator verdicts. Chat answers, reminders, digests, exports and the CLI all
use these, so a date reads "5月24日" and a sum "1200.5" wherever it appears.

Stored times are naive UTC (see `config.clock.Clock.utcnow`); the helpers taking one also take the timezone to
show it in (`clock.tz`, or the tzinfo of an aware moment), so the local date is right around midnight. The
wording itself (月, 日, 万元, status and verdict names) lives in `handlers.texts`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from handlers import texts
from handlers.understanding.numbers import fmt_number

DASH = "—"  # a value that is not there (no total, no date)

Number = Decimal | float | int

# ---- dates and times ----------------------------------------------------------------------------------------


def day(d: dt.date) -> str:
    """A date: 5月24日."""
    return texts.FMT_DAY.format(m=d.month, d=d.day)


def day_or_dash(d: dt.date | None) -> str:
    """A date (5月24日), or "—" without one."""
    return day(d) if d is not None else DASH


def fmt_date_back(d: dt.date, today: dt.date | None = None) -> str:
    """A date read back to the person who typed it, with its weekday: "7月14日（周五）" in the year of `today`,
    "2024年1月5日（周五）" in another year or without `today` (so "下周五", "国庆前" can be confirmed at a glance)."""
    shown = (
        day(d)
        if today is not None and d.year == today.year
        else texts.FMT_DAY_YEAR.format(y=d.year, m=d.month, d=d.day)
    )
    return texts.FMT_DAY_WEEKDAY.format(day=shown, weekday=texts.WEEKDAYS[d.weekday()])


def month(m: int) -> str:
    """A month: 5月."""
    return texts.FMT_MONTH.format(m=m)


def iso_day(d: dt.date) -> str:
    """A date as 2023-05-24 (lists and files, where dates sort as text)."""
    return d.isoformat()


def local(stored: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """A stored naive-UTC datetime as an aware datetime in `tz`."""
    return stored.replace(tzinfo=dt.UTC).astimezone(tz)


def local_date(stored: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The date in `tz` of a stored naive-UTC datetime (a report filed at 23:30 UTC is the next day in China)."""
    return local(stored, tz).date()


def stored_day(stored: dt.datetime | None, tz: dt.tzinfo) -> str:
    """The date (5月24日) in `tz` of a stored naive-UTC datetime; "" without one."""
    return day(local_date(stored, tz)) if stored is not None else ""


def minute(at: dt.datetime) -> str:
    """An aware (or already local) datetime to the minute: 2023-05-24 09:00."""
    return at.strftime("%Y-%m-%d %H:%M")


def day_minute(at: dt.datetime) -> str:
    """An aware (or already local) datetime as a person reads a recent moment: 7月10日 10:02."""
    return f"{day(at.date())} {at:%H:%M}"


def stored_minute(stored: dt.datetime, tz: dt.tzinfo) -> str:
    """A stored naive-UTC datetime in `tz`, to the minute: 2023-05-24 09:00."""
    return minute(local(stored, tz))


def stored_short_minute(stored: dt.datetime, tz: dt.tzinfo) -> str:
    """A stored naive-UTC datetime in `tz`, to the minute without the year: 05-24 09:00."""
    return local(stored, tz).strftime("%m-%d %H:%M")


# ---- numbers, money, percentages ----------------------------------------------------------------------------


def number(value: Number | None, places: int = 1) -> str:
    """A number without trailing zeros: 80, 1.5 ("—" for None)."""
    return fmt_number(value, places)


def money(value: Number | None) -> str:
    """An amount in 万元 without its unit, to two places: 1200, 0.12 ("—" for None)."""
    return fmt_number(value, 2) if value is not None else DASH


def money_wan(value: Number) -> str:
    """An amount with its unit: "1200 万元"."""
    return texts.FMT_MONEY_WAN.format(n=money(value))


def percent(value: Number) -> str:
    """A percentage: "60%", "33.3%"."""
    return f"{fmt_number(value)}%"


def share(done: Number | None, total: Number | None) -> str:
    """`done` as a percentage of `total`: "34.3%" ("—" when either is missing or the total is 0)."""
    if done is None or not total:
        return DASH
    return percent(Decimal(str(done)) * 100 / Decimal(str(total)))


def against_share(done: Number | None, own: Number) -> str:
    """A unit's completed investment against its share of a shared project: "350/300 万元（本单位份额，116.7%）";
    over its share is shown as it is, not capped ("—" when it has not reported)."""
    return texts.SHARE_AGAINST.format(done=money(done), share=money(own), pct=share(done, own))


# ---- statuses and verdicts ----------------------------------------------------------------------------------


def status_label(status: str | None, never: str = texts.SCHED_NEVER_REPORTED) -> str:
    """The name of a report status ("推进中"); `never` when nothing was reported."""
    if status is None:
        return never
    return texts.STATUS_LABELS.get(status, status)


def status_with_percent(
    status: str | None, percent_done: Number | None, never: str = texts.SCHED_NEVER_REPORTED
) -> str:
    """A status and the reported percentage: "推进中 60%", "已完成 100%", "受阻"; `never` when nothing was reported."""
    if status is None:
        return never
    label = status_label(status)
    return f"{label} {percent(percent_done)}" if percent_done is not None else label


def review_label(state: str | None) -> str:
    """The name of a review state ("待审核"); "" for none."""
    return texts.REVIEW_LABELS.get(state, "") if state else ""


def verdict_label(verdict: str) -> str:
    """The name of an indicator verdict of `db.repositories.progress.judge`: 达标, 未达标, 待判定, 未填报."""
    return texts.VERDICT_LABELS[verdict]


def city_rule_label(rule: str, n: int) -> str:
    """The rule of a shared indicator's city figure (`progress.city_rule`) for `n` units: "7个单位均需达标"."""
    return texts.CITY_RULE_LABELS[rule].format(n=n)


def city_figure(rule: str, value: Decimal | None, counts: dict[str, int], unit: str | None = None) -> str:
    """A shared indicator's city figure (`progress.CityFigure`): for rule "all" its units by verdict
    ("达标3、未达标1、未填报3"), else the combined value with the indicator's unit ("45.2%")."""
    if rule == "all":
        parts = [
            texts.CITY_ALL_COUNT.format(label=label, n=counts[code])
            for code, label in texts.VERDICT_LABELS.items()
            if counts.get(code)
        ]
        return texts.CITY_ALL_SEPARATOR.join(parts)
    if value is None:
        return texts.CITY_NO_VALUE
    return number(value, 2) + (unit or "")


def verdict_text(code: str, judged_by: str | None = None, reason: str | None = None) -> str:
    """An indicator's verdict (`db.repositories.progress.Verdict`) as chat, export and plan show write it: its
    name, then who judged it when a coordinator did ("达标（张三判定：已现场核查）")."""
    label = verdict_label(code)
    if judged_by is None:
        return label
    why = texts.VERDICT_JUDGED_REASON.format(reason=reason) if reason else ""
    return label + texts.VERDICT_JUDGED.format(name=judged_by, reason=why)
