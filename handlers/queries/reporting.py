"""Questions about reports rather than items: who reported in a window, the review queue, the reports sent back
(退回) with their reasons, and an official's own items not reported this week.
"""

from __future__ import annotations

import datetime as dt

from core.messages import Reply
from db.models import Plan
from db.repositories import queries, reports, urges
from handlers import formatting as fmt
from handlers import texts, urge
from handlers.checkin import listing
from handlers.context import Context
from handlers.queries import access, attention, lines
from handlers.queries.paging import Answer, Page
from handlers.understanding.nlu import Lexicon, Understanding

SILENT_NAMED = 8  # units named in the "未汇报" line of who-reported
URGED_DAYS = 7  # "谁被催过" without a window: the last week, as the digest's 本期催办


def _utc(ctx: Context, day: dt.date) -> dt.datetime:
    """Local midnight of `day`, as the naive UTC that stored times use."""
    local = dt.datetime.combine(day, dt.time(), ctx.clock.tz)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def reported(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "本周谁报了", "最近三天有哪些新汇报": the units that reported in the window (this week unless one is
    stated), with how many reports, by whom and when; then the units with open items that did not."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    today = ctx.clock.today()
    start = u.window_start or today - dt.timedelta(days=today.weekday())
    end = min(u.window_end or today, today)
    window = attention.window_text(start, end)
    if org_ids is not None and len(org_ids) == 1 and not u.group:
        return _unit_reports(ctx, lex, plan, org_ids[0], start, end, window)
    units = queries.reports_between(ctx.session, plan, _utc(ctx, start), _utc(ctx, end + dt.timedelta(days=1)), org_ids)
    active = queries.reporting_activity(ctx.session, plan, org_ids)
    seen = {r.org_id for r in units}
    silent = [a.org_name for a in active if a.org_id not in seen]
    tail = ""
    if silent and (org_ids is None or len(org_ids) > 1):
        names = "、".join(silent[:SILENT_NAMED])
        if len(silent) > SILENT_NAMED:
            names += texts.Q_REPORTED_SILENT_MORE.format(n=len(silent))
        tail = texts.Q_REPORTED_SILENT.format(names=names)
    if not units:
        return [Reply(texts.Q_REPORTED_NONE.format(window=window) + ("\n" + tail if tail else ""))]
    rows = [
        texts.Q_REPORTED_LINE.format(
            i=i,
            org=r.org_name,
            n=r.count,
            people="、".join(r.people[:3]) or fmt.DASH,
            date=fmt.stored_minute(r.newest_at, ctx.clock.tz),
        )
        for i, r in enumerate(units, 1)
    ]
    head = texts.Q_REPORTED_HEADER.format(window=window, orgs=len(units), n=sum(r.count for r in units))
    return Page(texts.Q_TITLE.format(name=window), head, rows, tail)


def _unit_reports(
    ctx: Context, lex: Lexicon, plan: Plan, org_id: int, start: dt.date, end: dt.date, window: str
) -> Answer:
    """ "我上周报了什么", "墨脱县这周报了哪些": one unit's reports in the window, newest first, each with what it
    said, when, by whom and the review's state."""
    name = lex.org_name(org_id)
    filed = queries.reports_filed(ctx.session, plan, _utc(ctx, start), _utc(ctx, end + dt.timedelta(days=1)), [org_id])
    if not filed:
        return [Reply(texts.Q_REPORTED_UNIT_NONE.format(window=window, org=name))]
    rows = [
        texts.Q_REPORTED_UNIT_LINE.format(
            i=i,
            label=r.assignment.item.label,
            state=fmt.status_with_percent(r.status, r.percent),
            date=fmt.stored_minute(r.created_at, ctx.clock.tz),
            person=r.person.name if r.person else fmt.DASH,
            review=texts.Q_DATE.format(date=fmt.review_label(r.review_state)) if r.review_state else "",
        )
        for i, r in enumerate(filed, 1)
    ]
    head = texts.Q_REPORTED_UNIT_HEADER.format(window=window, org=name, n=len(filed))
    return Page(texts.Q_TITLE.format(name=name), head, rows)


def review_queue(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "待审核的有几条": the newest versions waiting for review (a unit's own for an official), oldest first."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    pending = reports.pending_reviews(ctx.session, limit=500)
    if org_ids is not None:
        pending = [r for r in pending if r.assignment.organisation_id in org_ids]
    if not pending:
        return [Reply(texts.Q_REVIEW_QUEUE_NONE)]
    rows = [
        texts.Q_REVIEW_QUEUE_LINE.format(
            i=i,
            org=r.assignment.organisation.short_name or r.assignment.organisation.name,
            label=r.assignment.item.label,
            state=fmt.status_with_percent(r.status, r.percent),
            person=r.person.name if r.person else fmt.DASH,
            date=fmt.stored_minute(r.created_at, ctx.clock.tz),
        )
        for i, r in enumerate(pending, 1)
    ]
    tail = texts.Q_REVIEW_QUEUE_HINT if ctx.is_coordinator else ""
    head = texts.Q_REVIEW_QUEUE_HEADER.format(n=len(pending))
    return Page(texts.Q_TITLE.format(name=texts.Q_REVIEW_QUEUE_TITLE), head, rows, tail)


def returned(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "被退回的报告": items whose newest report was sent back, with the reason, who and when."""
    found = attention.scoped_views(ctx, lex, plan, u)
    if isinstance(found, Reply):
        return [found]
    views, org_ids, scope = found
    back = [v for v in views if v.returned]
    if u.window_start is not None and u.window_end is not None:
        back = [
            v
            for v in back
            if v.returned_at is not None
            and u.window_start <= fmt.local_date(v.returned_at, ctx.clock.tz) <= u.window_end
        ]
    if not back:
        return [Reply(texts.Q_RETURNED_NONE.format(scope=scope))]
    back.sort(key=lambda v: (v.returned_at or dt.datetime.min, v.org_id), reverse=True)
    several = org_ids is None or len(org_ids) > 1
    rows = [
        texts.Q_RETURNED_LINE.format(
            org=lex.org_label(v.org_id) + "｜" if several else "",
            label=lines.item_label(v),
            reason=v.return_reason or texts.Q_NO_REASON,
            by=v.returned_by or fmt.DASH,
            date=fmt.stored_day(v.returned_at, ctx.clock.tz),
        )
        for v in back
    ]
    own = access.own_org(ctx)
    tail = texts.Q_RETURNED_HINT_OWN if own is not None and any(v.org_id == own for v in back) else ""
    head = texts.Q_RETURNED_HEADER.format(scope=scope, n=len(back))
    return Page(texts.Q_TITLE.format(name=scope), head, rows, tail)


def my_unreported(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "我还有什么没报", "本单位未填报的事项": the asker's open items with no version this week (returned ones
    first), numbered as the check-in list numbers them."""
    own = access.own_org(ctx)
    if own is None:
        return [Reply(texts.Q_NO_ORG)]
    views = listing.own_open_assignments(ctx, own)
    done = listing.reported_this_week(ctx, [v.assignment_id for v in views])
    name = lex.org_name(own)
    # numbered as the list in front of him (asked in the middle of a check-in), else as "汇报" would list them
    on_screen = listing.numbers_on_screen(ctx)
    numbered = [(on_screen.get(v.assignment_id, i), v) for i, v in enumerate(views, 1)]
    if on_screen and any(v.assignment_id not in on_screen for v in views):
        numbered = list(enumerate(views, 1))  # the list on screen is older than the tasks: number them afresh
    missing = sorted(((i, v) for i, v in numbered if v.assignment_id not in done), key=lambda p: p[0])
    if not missing:
        return [Reply(texts.Q_MY_UNREPORTED_NONE.format(org=name, total=len(views)))]
    rows = [
        texts.Q_MY_UNREPORTED_LINE.format(
            i=i,
            label=lines.item_label(v),
            flags=lines.flags(v, after_state=False) or (texts.RETURNED_MARK if v.returned else ""),
        )
        for i, v in missing
    ]
    head = texts.Q_MY_UNREPORTED_HEADER.format(org=name, n=len(missing), total=len(views))
    return Page(texts.Q_TITLE.format(name=name), head, rows, texts.Q_MY_UNREPORTED_HINT)


def urged(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "这周谁被催过", "米林县被催了几次", "催办记录": the 催办 in the window (the last 7 days unless one is stated),
    newest first, as the digest lists them."""
    units = access.units(ctx, lex, u)
    if isinstance(units, Reply):
        return [units]
    today = ctx.clock.today()
    start = u.window_start or today - dt.timedelta(days=URGED_DAYS - 1)
    end = min(u.window_end or today, today)
    window = attention.window_text(start, end)
    found = urges.between(ctx.session, _utc(ctx, start), _utc(ctx, end + dt.timedelta(days=1)), units.with_below)
    scope = units.label or texts.Q_WHOLE_CITY
    if not found:
        return [Reply(texts.Q_URGED_NONE.format(window=window, scope=scope))]
    rows = [
        texts.DIGEST_URGE_LINE.format(
            bullet="·",
            org=x.organisation.name,
            when=fmt.day_minute(fmt.local(x.created_at, ctx.clock.tz)),
            who=urge.who_label(x.urged_by),
            overdue=x.overdue,
            unreported=x.unreported,
            recipients=x.recipients,
        )
        for x in reversed(found)
    ]
    head = texts.Q_URGED_HEADER.format(window=window, scope=scope, n=len(found))
    return Page(texts.Q_TITLE.format(name=scope), head, rows)
