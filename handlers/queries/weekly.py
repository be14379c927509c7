""" "周报", "上周周报", "墨脱县的周报": the weekly digest (督办周报) on demand, as the scheduler sends it on Mondays.

The digest is the scheduler's (`scheduler.digest.build_digest`): the handlers layer cannot import the scheduler,
so the application puts the builder into `services` under `SERVICE`. Its scope follows the chat's access rules
(`access.scope`): a coordinator the whole plan or the units named; an official his own unit. A past week
("上周周报") is replayed from the history as it stood at that week's end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

from core.messages import Reply
from db.models import Plan
from handlers import texts
from handlers.context import Context
from handlers.queries import access
from handlers.queries.paging import Answer, Page
from handlers.understanding.nlu import Lexicon, Understanding

SERVICE = "digest"


class Digest(Protocol):
    def text(self) -> str: ...


# (session, plan, at, org_ids=…, org_filter=…, current=…) → the digest
Builder = Callable[..., Digest]


def weekly(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """The digest of what the asker may see, this week so far or the week the question names."""
    build: Builder | None = ctx.services.get(SERVICE)
    found = access.units(ctx, lex, u)
    if isinstance(found, Reply):
        return [found]
    if build is None:
        return [Reply(texts.WEEKLY_UNAVAILABLE)]
    at, current = _moment(ctx, u)
    d = build(ctx.session, plan, at, org_ids=found.with_below, org_filter=found.label, current=current)
    # page by page like every long answer (a phone screen, WeCom's 2048 bytes), its sections' lines as they are
    title, *body = [line for line in d.text().splitlines() if line.strip()]
    tail = texts.WEEKLY_TAIL if current else texts.WEEKLY_TAIL_PAST
    return Page(texts.Q_TITLE.format(name=texts.WEEKLY_NAME), title, body, tail)


def _moment(ctx: Context, u: Understanding) -> tuple[dt.datetime, bool]:
    """(the digest's moment, whether it is now): the end of the week the question names when it is over."""
    now = ctx.clock.now()
    if u.window_end is None or u.window_end >= now.date():
        return now, True
    return ctx.clock.localize(dt.datetime.combine(u.window_end, dt.time(23, 59, 59))), False
