"""The Chinese work calendar: which days are working days, counting with make-up working days (调休).

Built on the `chinesecalendar` package, which ships the State Council's holiday arrangements year by year.
A date outside its data raises `CalendarRangeError` naming the supported years, rather than silently
treating a Spring Festival as five working days: an operator then knows to upgrade the package.
"""

from __future__ import annotations

import datetime as dt
import functools

import chinese_calendar
from chinese_calendar import constants as _cc

# The years the installed package has holiday data for (the same bounds the package itself checks).
FIRST_YEAR: int = min(_cc.holidays).year
LAST_YEAR: int = max(_cc.holidays).year

# Bounds the scans below so that a bad argument cannot loop for ever (the longest run of days off is ~9).
_MAX_SCAN_DAYS = 60


class CalendarRangeError(ValueError):
    """The work calendar has no holiday data for this year."""

    def __init__(self, day: dt.date) -> None:
        self.day = day
        super().__init__(
            f"工作日历没有 {day.year} 年的节假日数据（chinesecalendar 支持 {FIRST_YEAR}–{LAST_YEAR} 年），"
            f"请升级 chinesecalendar 包（pip install -U chinesecalendar）"
        )


def supported(day: dt.date) -> bool:
    return FIRST_YEAR <= day.year <= LAST_YEAR


def is_workday(day: dt.date) -> bool:
    """True on a working day: Monday–Friday except public holidays, plus make-up working weekends."""
    if isinstance(day, dt.datetime):
        day = day.date()
    if not supported(day):
        raise CalendarRangeError(day)
    return _is_workday(day)


@functools.lru_cache(maxsize=8192)
def _is_workday(day: dt.date) -> bool:
    # chinese_calendar scans its whole holiday table on every call (~25 µs); the nudge scan asks about the
    # same few hundred days for every overdue task, which made a region's daily scan take seconds.
    return bool(chinese_calendar.is_workday(day))


def next_workday(day: dt.date, include: bool = True) -> dt.date:
    """The first working day on or after `day` (strictly after when `include` is False)."""
    d = day if include else day + dt.timedelta(days=1)
    for _ in range(_MAX_SCAN_DAYS):
        if is_workday(d):
            return d
        d += dt.timedelta(days=1)
    raise CalendarRangeError(d)  # pragma: no cover - no real calendar has 60 days off in a row


def previous_workday(day: dt.date, include: bool = True) -> dt.date:
    """The last working day on or before `day` (strictly before when `include` is False)."""
    d = day if include else day - dt.timedelta(days=1)
    for _ in range(_MAX_SCAN_DAYS):
        if is_workday(d):
            return d
        d -= dt.timedelta(days=1)
    raise CalendarRangeError(d)  # pragma: no cover


def add_workdays(day: dt.date, n: int) -> dt.date:
    """The date `n` working days after `day` (before it when `n` is negative); `n == 0` gives `day` itself."""
    d = day
    step = dt.timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        d += step
        if is_workday(d):
            remaining -= 1
    return d


@functools.lru_cache(maxsize=65536)
def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]: how many working days `end` is after `start` (0 when end <= start).

    E.g. a task due on Wednesday and not done is 2 working days overdue on Friday.
    """
    if end <= start:
        return 0
    count = 0
    d = start
    while d < end:
        d += dt.timedelta(days=1)
        if is_workday(d):
            count += 1
    return count


class QuietHours:
    """A daily window (e.g. "21:00-08:00", may wrap midnight) in which nobody is sent anything.

    An empty value, "none" or "off" disables it.
    """

    def __init__(self, spec: str | None) -> None:
        self.spec = (spec or "").strip()
        self.start: dt.time | None = None
        self.end: dt.time | None = None
        if self.spec.lower() in ("", "none", "off", "no", "0"):
            return
        try:
            a, b = (p.strip() for p in self.spec.replace("–", "-").replace("～", "-").split("-", 1))
            self.start, self.end = dt.time.fromisoformat(_pad(a)), dt.time.fromisoformat(_pad(b))
        except ValueError as exc:
            raise ValueError(f"无效的免打扰时段“{spec}”，应为如 21:00-08:00") from exc

    @property
    def enabled(self) -> bool:
        return self.start is not None and self.end is not None and self.start != self.end

    def contains(self, local: dt.datetime) -> bool:
        """True when the local time `local` falls inside the window."""
        if not self.enabled:
            return False
        assert self.start is not None and self.end is not None
        t = local.timetz().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def end_after(self, local: dt.datetime) -> dt.datetime:
        """When the window containing `local` ends (`local` itself when it is outside the window)."""
        if not self.contains(local):
            return local
        assert self.end is not None
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += dt.timedelta(days=1)
        return end


def _pad(t: str) -> str:
    """ "8:00" → "08:00" (fromisoformat wants two digits)."""
    return t if len(t.split(":")[0]) == 2 else "0" + t
