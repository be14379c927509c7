"""The lists that need action: items due in a time window, lagging items (behind 序时进度), blocked items with
their reasons, the problems raised in reports grouped by unit, and indicators not 达标 with value against target.

Every list takes the units a question names (a group, the asker's own), the kind it names (任务/项目/指标) and
its time window where that makes sense, and says which window it used. Figures and verdicts come from
`db.repositories.progress`, the same as every other answer.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

from core.messages import Reply
from db.models import BLOCKED, EVENT, INDICATOR, PROJECT, REPORTABLE_KINDS, Plan
from db.repositories import progress, queries
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context
from handlers.queries import access, items, lines
from handlers.queries.paging import Answer, Page
from handlers.understanding.nlu import Lexicon, Understanding


def window_text(start: dt.date, end: dt.date) -> str:
    """How an answer states the window it used: "7月1日–7月31日", or one day."""
    if start == end:
        return texts.Q_WINDOW_DAY.format(day=fmt.day(start))
    return texts.Q_WINDOW.format(start=fmt.day(start), end=fmt.day(end))


def kinds_of(u: Understanding) -> tuple[str, ...]:
    """The kinds of item a list is about: projects or indicators when it says so; "任务" in a list question
    ("受阻的任务", "滞后任务清单") means any item, as people say it."""
    return (u.kind,) if u.kind in (PROJECT, INDICATOR) else REPORTABLE_KINDS


def list_kind_name(u: Understanding) -> str:
    """How a list names what it lists: 项目 or 指标 when asked so, else 事项 (tasks, projects and indicators)."""
    return texts.Q_KIND_NAMES[u.kind] if u.kind in (PROJECT, INDICATOR) else texts.Q_KIND_ANY


def kind_name(u: Understanding) -> str:
    return texts.Q_KIND_NAMES.get(u.kind or "", texts.Q_KIND_ANY) if u.kind != "org" else texts.Q_KIND_ANY


def scoped_views(
    ctx: Context, lex: Lexicon, plan: Plan, u: Understanding, kinds: tuple[str, ...] | None = None
) -> tuple[list[AssignmentView], list[int] | None, str] | Reply:
    """The views a list question covers (its units, the asker's rights, its kinds, its item), the units and the
    scope's name; or the refusal an official gets."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return refusal
    item_ids = [u.item_id] if u.item_id is not None else None
    views = progress.assignment_views(
        ctx.session, plan, ctx.clock.today(), org_ids=org_ids, item_ids=item_ids, kinds=kinds or kinds_of(u)
    )
    return views, org_ids, access.scope_title(lex, u, org_ids)


def _org(lex: Lexicon, v: AssignmentView, org_ids: list[int] | None) -> str:
    """The unit's name before a line, when the list covers several units."""
    if org_ids is not None and len(org_ids) == 1 and v.org_id == org_ids[0]:
        return ""
    return lex.org_label(v.org_id) + "｜"


def _when(ctx: Context, v: AssignmentView) -> str:
    date = lines.report_day(ctx, v.counted_report_at or v.last_report_at)
    return texts.Q_DATE.format(date=date) if date else ""


# ---- due in a window ------------------------------------------------------------------------------------------


def due_window(ctx: Context, u: Understanding) -> tuple[dt.date, dt.date]:
    """The window a due question asks about: the one it states, else the coming week ("快到期的")."""
    today = ctx.clock.today()
    if u.window_start is not None and u.window_end is not None:
        return u.window_start, u.window_end
    return today, today + dt.timedelta(days=progress.DUE_SOON_DAYS)


def due(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "7月份到期的任务", "下周有什么到期", "8月底前要交什么", "下个月有啥宣传活动": items whose deadline falls in the
    window (with their state), and the plan's dated events in it."""
    start, end = due_window(ctx, u)
    window = window_text(start, end)
    if u.item_id is not None:
        return items.item_progress(ctx, lex, plan, u)
    found = scoped_views(ctx, lex, plan, u)
    if isinstance(found, Reply):
        return [found]
    views, org_ids, scope = found
    events = _events_in(ctx, plan, start, end, org_ids) if u.kind in (None, EVENT) else []
    if u.kind == EVENT:
        views = []
    inside = sorted(
        (v for v in views if start <= v.due <= end), key=lambda v: (v.due, progress.urgency_key(v), v.org_id)
    )
    scope_prefix = "" if org_ids is None else scope
    if not inside and not events:
        head = texts.Q_DUE_NONE.format(scope=scope_prefix, window=window, kind=kind_name(u))
        upcoming = [v for v in views if v.due > end and not v.done]
        if upcoming:
            nxt = min(upcoming, key=lambda v: (v.due, v.org_id))
            head += "\n" + texts.Q_DUE_NEXT.format(
                due=fmt.day(nxt.due), org=_org(lex, nxt, org_ids), label=lines.item_label(nxt)
            )
        return [Reply(head)]
    rows = _grouped_lines(lex, inside, org_ids)
    event_line = texts.Q_DUE_EVENTS.format(window=window, names="；".join(events)) if events else ""
    if not inside:
        return [Reply(event_line)]
    c = progress.count(inside)
    head = texts.Q_DUE_HEADER.format(
        window=scope_prefix + window, kind=kind_name(u), n=len(inside), done=c.done, overdue=c.overdue
    )
    return Page(texts.Q_TITLE.format(name=scope_prefix + window), head, rows, event_line)


def _grouped_lines(lex: Lexicon, views: list[AssignmentView], org_ids: list[int] | None) -> list[str]:
    """One line per item, due day and state: the units in the same state of one item share a line
    ("🔴4月30日 选取两山创建主体（米林、朗县、察隅、墨脱） 未汇报 逾期71天")."""
    groups: dict[tuple[int, dt.date, str, str, str], list[AssignmentView]] = {}
    for v in views:
        groups.setdefault((v.item_id, v.due, v.light, lines.state(v), lines.flags(v)), []).append(v)
    out = []
    for (_, due_day, light, state, flags), vs in groups.items():
        several = org_ids is None or len(org_ids) > 1
        units = texts.Q_DUE_UNITS.format(orgs="、".join(lex.org_label(v.org_id) for v in vs)) if several else ""
        out.append(
            texts.Q_DUE_LINE.format(
                light=light, due=fmt.day(due_day), label=lines.item_label(vs[0]), org=units, state=state, flags=flags
            )
        )
    return out


def _events_in(ctx: Context, plan: Plan, start: dt.date, end: dt.date, org_ids: list[int] | None) -> list[str]:
    """The plan's dated events (5·22, 6·5, 8月宣传月) whose day or month overlaps [start, end]."""
    out = []
    for item, owners in queries.events_with_owners(ctx.session, plan):
        if item.event_month is None or (org_ids is not None and not set(owners.values()) & set(org_ids)):
            continue
        for year in range(start.year, end.year + 1):
            if item.event_day:
                first = last = dt.date(year, item.event_month, item.event_day)
                when = fmt.day(first)
            else:
                first = dt.date(year, item.event_month, 1)
                last = dt.date(year, item.event_month, calendar.monthrange(year, item.event_month)[1])
                when = fmt.month(item.event_month)
            if first <= end and last >= start:
                out.append(texts.Q_DUE_EVENT_LINE.format(name=item.title, when=when, org="、".join(owners)))
                break
    return out


# ---- lagging, blocked, problems ---------------------------------------------------------------------------------


def _reported_in(ctx: Context, u: Understanding, views: list[AssignmentView]) -> list[AssignmentView]:
    """The views whose counted version was filed in the question's window, if it states one ("本月完成了哪些")."""
    if u.window_start is None or u.window_end is None:
        return views
    start, end = u.window_start, u.window_end
    tz = ctx.clock.tz
    return [
        v for v in views if v.counted_report_at is not None and start <= fmt.local_date(v.counted_report_at, tz) <= end
    ]


def _in_window(u: Understanding, views: Iterable[AssignmentView]) -> list[AssignmentView]:
    """The views due in the question's window, if it states one ("本月滞后的")."""
    if u.window_start is None or u.window_end is None:
        return list(views)
    return [v for v in views if u.window_start <= v.due <= u.window_end]


def lagging(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "哪些任务滞后", "察隅县哪些任务滞后了": items more than the lag threshold behind 序时进度, furthest behind
    first, with their reported % against 序时 and the day reported."""
    found = scoped_views(ctx, lex, plan, u)
    if isinstance(found, Reply):
        return [found]
    views, org_ids, scope = found
    late = [v for v in _in_window(u, views) if v.lagging and not v.done]
    points = progress.THRESHOLDS.lag_points
    if not late:
        return [Reply(texts.Q_LAGGING_NONE.format(scope=scope, points=points, kind=list_kind_name(u)))]
    late.sort(key=lambda v: ((v.percent or 0) - v.expected, v.due, v.org_id))
    rows = [
        texts.Q_LAGGING_LINE.format(
            light=v.light,
            org=_org(lex, v, org_ids),
            label=lines.item_label(v),
            state=lines.state(v),
            expected=fmt.percent(v.expected),
            date=_when(ctx, v),
        )
        for v in late
    ]
    head = texts.Q_LAGGING_HEADER.format(scope=scope, n=len(late), points=points, kind=list_kind_name(u))
    return Page(texts.Q_TITLE.format(name=scope), head, rows)


def done(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "哪些任务完成了", "墨脱县已完成的事项", "本月完成了哪些": items whose counted report says done, the newest
    first, with the day reported and the review's state; a window is the day they were reported done."""
    found = scoped_views(ctx, lex, plan, u)
    if isinstance(found, Reply):
        return [found]
    views, org_ids, scope = found
    finished = _reported_in(ctx, u, [v for v in views if v.done])
    window = window_text(u.window_start, u.window_end) if u.window_start and u.window_end else ""
    kind = list_kind_name(u)
    if not finished:
        return [Reply(texts.Q_DONE_NONE.format(window=window, scope=scope, kind=kind, total=len(views)))]
    finished.sort(key=lambda v: (v.counted_report_at or dt.datetime.min, -v.assignment_id), reverse=True)
    rows = [
        texts.Q_DONE_LINE.format(
            org=_org(lex, v, org_ids),
            label=lines.item_label(v),
            date=_when(ctx, v),
            review=lines.review_note(v.review_state),
        )
        for v in finished
    ]
    head = texts.Q_DONE_HEADER.format(window=window, scope=scope, kind=kind, n=len(finished), total=len(views))
    return Page(texts.Q_TITLE.format(name=scope), head, rows)


def blocked(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "受阻的任务", "监测中心受阻原因是什么": blocked items with the reason reported and its day."""
    found = scoped_views(ctx, lex, plan, u)
    if isinstance(found, Reply):
        return [found]
    views, org_ids, scope = found
    stuck = [v for v in _in_window(u, views) if v.status == BLOCKED]
    if u.item_id is not None and not stuck:
        return items.item_progress(ctx, lex, plan, u)  # the item is not blocked: its state says so
    if not stuck:
        return [Reply(texts.Q_BLOCKED_NONE.format(scope=scope, kind=list_kind_name(u)))]
    rows = [
        texts.Q_BLOCKED_LINE.format(
            org=_org(lex, v, org_ids),
            label=lines.item_label(v),
            reason=v.problems or texts.Q_NO_REASON,
            date=_when(ctx, v),
        )
        for v in lines.urgent_first(stuck)
    ]
    head = texts.Q_BLOCKED_HEADER.format(scope=scope, n=len(stuck), kind=list_kind_name(u))
    return Page(texts.Q_TITLE.format(name=scope), head, rows)


def problems(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "有哪些困难问题需要协调", "水利局遇到什么问题了": the problems raised in the newest reports, by unit."""
    found = scoped_views(ctx, lex, plan, u)
    if isinstance(found, Reply):
        return [found]
    views, _org_ids, scope = found
    raised = _reported_in(ctx, u, [v for v in views if v.problems and not v.done])
    if not raised:
        return [Reply(texts.Q_PROBLEMS_NONE.format(scope=scope))]
    by_org: dict[int, list[AssignmentView]] = {}
    for v in lines.urgent_first(raised):
        by_org.setdefault(v.org_id, []).append(v)
    rows: list[str] = []
    for org_id, vs in sorted(by_org.items(), key=lambda kv: (-len(kv[1]), lex.org_label(kv[0]))):
        rows.append(texts.Q_PROBLEMS_UNIT.format(org=lex.org_name(org_id)))
        rows += [
            texts.Q_PROBLEMS_LINE.format(label=lines.item_label(v), text=v.problems, date=_when(ctx, v)) for v in vs
        ]
    head = texts.Q_PROBLEMS_HEADER.format(scope=scope, n=len(raised), units=len(by_org))
    return Page(texts.Q_TITLE.format(name=scope), head, rows)


# ---- indicators not 达标 ----------------------------------------------------------------------------------------


def unmet(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "哪些指标没达标": indicators whose verdict (the one rule of `progress.indicator_verdicts`) is 未达标,
    with the value reported against the target; the counts of 待判定 and 未填报 after them."""
    if u.item_id is not None:
        return items.item_progress(ctx, lex, plan, u)
    found = scoped_views(ctx, lex, plan, u, kinds=(INDICATOR,))
    if isinstance(found, Reply):
        return [found]
    views, org_ids, scope = found
    verdicts = progress.indicator_verdicts(ctx.session, plan, views)
    by_item = {v.item_id: v for v in views}
    failed, pending, unreported = [], 0, 0
    for item_id, (latest, verdict) in verdicts.items():
        if verdict.code == progress.NOT_MET:
            failed.append((by_item[item_id], latest))
        elif verdict.code == progress.UNREPORTED:
            unreported += 1
        elif verdict.code == progress.UNJUDGED:
            pending += 1
    tail = texts.Q_UNMET_REST.format(pending=pending, unreported=unreported) if pending or unreported else ""
    if not failed:
        return [Reply(texts.Q_UNMET_NONE.format(scope=scope) + ("\n" + tail if tail else ""))]
    targets = queries.indicator_targets(ctx.session, [v.item_id for v, _ in failed])
    rows = []
    for v, latest in sorted(failed, key=lambda p: p[0].item_number or 0):
        shown = latest or v
        rows.append(
            texts.Q_UNMET_LINE.format(
                label=lines.item_label(v),
                value=shown.indicator_value or fmt.DASH,
                target=targets.get(v.item_id) or fmt.DASH,
                org="" if org_ids is not None and len(org_ids) == 1 else lex.org_label(shown.org_id),
                date=_when(ctx, shown),
            )
        )
    head = texts.Q_UNMET_HEADER.format(scope=scope, n=len(failed))
    return Page(texts.Q_TITLE.format(name=scope), head, rows, tail)
