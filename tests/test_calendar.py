"""The work calendar: Chinese public holidays and make-up working days, counting, its data range, quiet hours."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import calendar as wc
from scheduler.calendar import CalendarRangeError, QuietHours

D = dt.date


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2023, 5, 24), True),  # an ordinary Wednesday
        (D(2023, 5, 27), False),  # an ordinary Saturday
        (D(2023, 10, 2), False),  # National Day holiday (a Monday)
        (D(2023, 10, 6), False),
        (D(2023, 10, 7), True),  # make-up working Saturday
        (D(2023, 10, 8), True),  # make-up working Sunday
        (D(2023, 6, 22), False),  # Dragon Boat Festival (a Thursday)
        (D(2023, 6, 25), True),  # its make-up Sunday
        (D(2023, 5, 1), False),
        (D(2023, 5, 6), True),  # Labour Day make-up Saturday
    ],
)
def test_is_workday_follows_the_state_council_arrangement(day: dt.date, working: bool) -> None:
    assert wc.is_workday(day) is working


def test_next_workday_skips_the_national_day_holiday_to_the_make_up_saturday() -> None:
    assert wc.next_workday(D(2023, 10, 2)) == D(2023, 10, 7)
    assert wc.next_workday(D(2023, 9, 29)) == D(2023, 10, 7)
    assert wc.next_workday(D(2023, 5, 24)) == D(2023, 5, 24)
    assert wc.next_workday(D(2023, 5, 24), include=False) == D(2023, 5, 25)
    assert wc.previous_workday(D(2023, 12, 31)) == D(2023, 12, 29)
    assert wc.previous_workday(D(2023, 10, 7), include=False) == D(2023, 9, 28)


def test_add_workdays_and_workdays_between() -> None:
    assert wc.add_workdays(D(2023, 9, 28), 1) == D(2023, 10, 7)
    assert wc.add_workdays(D(2023, 9, 28), 2) == D(2023, 10, 8)
    assert wc.add_workdays(D(2023, 5, 24), 0) == D(2023, 5, 24)
    assert wc.add_workdays(D(2023, 10, 7), -1) == D(2023, 9, 28)
    # 5月31日 to 6月30日: June has 21 working days (22–23 off, Sunday 25 worked).
    assert wc.workdays_between(D(2023, 5, 31), D(2023, 6, 30)) == 21
    assert wc.workdays_between(D(2023, 5, 31), D(2023, 6, 5)) == 3
    assert wc.workdays_between(D(2023, 6, 5), D(2023, 6, 5)) == 0
    assert wc.workdays_between(D(2023, 6, 5), D(2023, 6, 1)) == 0


@settings(max_examples=150, deadline=None)
@given(start=st.dates(min_value=D(2023, 1, 1), max_value=D(2025, 12, 1)), n=st.integers(min_value=1, max_value=40))
def test_add_workdays_inverts_workdays_between(start: dt.date, n: int) -> None:
    end = wc.add_workdays(start, n)
    assert wc.is_workday(end)
    assert wc.workdays_between(start, end) == n
    # Going back lands on `start`, or on the working day before it when `start` is a day off.
    assert wc.add_workdays(end, -n) == wc.previous_workday(start)


def test_a_year_beyond_the_data_is_a_clear_error() -> None:
    year = wc.LAST_YEAR + 1
    with pytest.raises(CalendarRangeError) as err:
        wc.is_workday(D(year, 3, 2))
    message = str(err.value)
    assert str(year) in message
    assert f"{wc.FIRST_YEAR}–{wc.LAST_YEAR}" in message
    assert "chinesecalendar" in message
    with pytest.raises(CalendarRangeError):
        wc.next_workday(D(wc.FIRST_YEAR - 1, 6, 1))
    assert wc.FIRST_YEAR <= 2023 <= wc.LAST_YEAR


def test_quiet_hours_wrapping_midnight() -> None:
    q = QuietHours("21:00-08:00")
    at = lambda h, m=0: dt.datetime(2023, 5, 24, h, m)  # noqa: E731
    assert q.contains(at(21)) and q.contains(at(23, 59)) and q.contains(at(0)) and q.contains(at(7, 59))
    assert not q.contains(at(8)) and not q.contains(at(12)) and not q.contains(at(20, 59))
    assert q.end_after(at(22)) == dt.datetime(2023, 5, 25, 8, 0)
    assert q.end_after(at(6, 30)) == dt.datetime(2023, 5, 24, 8, 0)
    assert q.end_after(at(12)) == at(12)


def test_quiet_hours_same_day_window_and_disabled() -> None:
    q = QuietHours("12:00-14:00")
    assert q.contains(dt.datetime(2023, 5, 24, 13, 0))
    assert not q.contains(dt.datetime(2023, 5, 24, 14, 0))
    for spec in ("", "none", "off"):
        assert not QuietHours(spec).contains(dt.datetime(2023, 5, 24, 23, 0))
    with pytest.raises(ValueError):
        QuietHours("late")
    assert QuietHours("8:00-9:30").contains(dt.datetime(2023, 5, 24, 9, 0))
