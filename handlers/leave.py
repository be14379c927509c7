"""Pausing reminders: "请假到 6月5日" stops the person's own nudges, overdue notices, event reminders and weekly
prompts through that day; "取消请假" / "恢复提醒" ends the pause early. The scheduler skips anyone whose
`paused_until` is today or later for those; review notices, replies and the weekly digest still reach them, and
a deadline nudge still reaches the organisation's other officials. "谁请假了" (`handlers.queries.absence`) lists
who is on leave."""

from __future__ import annotations

import datetime as dt
import re

from core.messages import Reply
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context
from handlers.understanding.intents import ON_LEAVE_RE
from handlers.understanding.numbers import parse_date, to_number
from handlers.understanding.text import normalize

LEAVE_RE = re.compile(r"^(?:请假|休假|暂停提醒|停止提醒|不要提醒)\s*(?:到|至|直到|截至|截止到|截止)?\s*(.*?)\s*$")
RESUME_RE = re.compile(r"^(?:取消请假|销假|结束请假|恢复提醒|开启提醒|重新提醒|我回来了)$")
DAYS_RE = re.compile(r"^(\S+?)\s*(?:天|日)$")
MAX_PAUSE_DAYS = 180  # a longer absence is a change of official, not a leave


def is_command(text: str) -> bool:
    t = normalize(text)
    return bool(RESUME_RE.match(t) or LEAVE_RE.match(t))


def command(ctx: Context, text: str) -> list[Reply] | None:
    """Handle a leave / resume command; None when `text` is not one."""
    t = normalize(text)
    person = ctx.person
    if person is None:
        return None
    if RESUME_RE.match(t):
        if person.paused_until is None or person.paused_until < ctx.clock.today():
            person.paused_until = None
            return [Reply(texts.LEAVE_NOT_PAUSED)]
        person.paused_until = None
        return [Reply(texts.LEAVE_RESUMED)]
    m = LEAVE_RE.match(t)
    if not m or ON_LEAVE_RE.search(t):
        return None  # "请假人员", "请假名单": a question about who is on leave, for the queries
    rest = m.group(1)
    if not rest:
        return [Reply(texts.LEAVE_USAGE)]
    today = ctx.clock.today()
    until = _until(rest, today)
    if until is None:
        return [Reply(texts.LEAVE_USAGE)]
    if until < today:
        return [Reply(texts.LEAVE_PAST.format(date=fmt.day(until)))]
    if (until - today).days > MAX_PAUSE_DAYS:
        return [Reply(texts.LEAVE_TOO_LONG.format(n=MAX_PAUSE_DAYS))]
    person.paused_until = until
    back = until + dt.timedelta(days=1)
    return [Reply(texts.LEAVE_OK.format(until=fmt.fmt_date_back(until, today), back=fmt.fmt_date_back(back, today)))]


def _until(rest: str, today: dt.date) -> dt.date | None:
    """The last day of the pause from "6月5日", "2023-06-05", "6/5", "3天" (today and the next two days)."""
    m = DAYS_RE.match(rest)
    if m and "月" not in rest:
        n = to_number(m.group(1))
        if n is not None and n == int(n) and n >= 1:
            return today + dt.timedelta(days=int(n) - 1)
    d = parse_date(rest, today)
    if d is None:
        return None
    if d < today and not re.search(r"\d{4}", rest):
        # "1月5日" said in December means next January; "6月5日" said on 6月10日 is simply past.
        try:
            later = d.replace(year=d.year + 1)
        except ValueError:
            return d
        if (later - today).days <= MAX_PAUSE_DAYS:
            return later
    return d
