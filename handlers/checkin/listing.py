"""The official's open tasks: listed most urgent first, and picked by number, button or words of a name."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import or_, select

from core.messages import Choice, Reply
from db.models import RETURNED, Assignment, Item, Organisation, Report
from db.repositories import orgs, plans, progress
from handlers import formatting as fmt
from handlers import texts
from handlers.checkin import drafts
from handlers.checkin.model import CheckinState, load
from handlers.context import Context
from handlers.understanding.numbers import fmt_number, to_number
from handlers.understanding.text import normalize

PAGE = 8
REASON_SHOWN = 20  # characters of a return's reason shown in a task line


def own_open_assignments(ctx: Context, org_id: int) -> list[progress.AssignmentView]:
    plan = plans.active_plan(ctx.session)
    if plan is None:
        return []
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=[org_id])
    # returned reports first (a stable sort: most urgent first within each group)
    return sorted((v for v in views if not v.closed), key=lambda v: not v.returned)


# The states in which the person has the numbered list of his tasks in front of him (a one-liner's candidates and
# the list of drafts are other lists).
_LISTED = frozenset(CheckinState) - {CheckinState.ONELINER, CheckinState.DRAFTS, CheckinState.PROMPTED}


def numbers_on_screen(ctx: Context) -> dict[int, int]:
    """{assignment id: its number} in the check-in list the person is working through; empty outside one."""
    if ctx.state not in _LISTED:
        return {}
    return {aid: i for i, aid in enumerate(load(ctx).options, 1)}


def week_start(ctx: Context) -> dt.datetime:
    """Monday 00:00 of this week (local), as the naive UTC that stored times use."""
    today = ctx.clock.today()
    monday = dt.datetime.combine(today - dt.timedelta(days=today.weekday()), dt.time(), ctx.clock.tz)
    return monday.astimezone(dt.UTC).replace(tzinfo=None)


def reported_this_week(ctx: Context, aids: list[int]) -> set[int]:
    """The tasks among `aids` with a version filed since Monday, unless their newest was returned (a returned
    report is to be done again)."""
    if not aids:
        return set()
    rows = ctx.session.execute(
        select(Report.assignment_id).where(Report.assignment_id.in_(aids), Report.created_at >= week_start(ctx))
    ).scalars()
    returned = ctx.session.execute(
        select(Assignment.id)
        .join(Report, Report.id == Assignment.last_report_id)
        .where(Assignment.id.in_(aids), Report.review_state == RETURNED)
    ).scalars()
    return set(rows) - set(returned)


def task_line(ctx: Context, v: progress.AssignmentView) -> str:
    if v.returned:
        reason = v.return_reason or texts.RETURNED_NO_REASON
        cut = reason if len(reason) <= REASON_SHOWN else reason[:REASON_SHOWN] + "…"
        state = texts.TASK_RETURNED.format(reason=cut)
    elif v.status is None:
        state = texts.TASK_STATE_NEVER
    else:
        date = fmt.stored_day(v.last_report_at, ctx.clock.tz)
        pct = f" {fmt_number(v.percent)}%" if v.percent is not None else ""
        state = texts.TASK_STATE_LAST.format(status=texts.STATUS_LABELS[v.status], percent=pct, date=date)
    return texts.TASK_LINE.format(light=v.light, label=v.label, due=fmt.day_or_dash(v.due), state=state)


def list_reply(ctx: Context, org_name: str, views: list[progress.AssignmentView], page: int) -> Reply:
    chunk = views[page * PAGE : (page + 1) * PAGE]
    this_week = reported_this_week(ctx, [v.assignment_id for v in views])
    kept = drafts.parked(ctx)
    lines = [texts.TASK_LIST_HEADER.format(org=org_name, n=len(views), done=len(this_week))]
    choices = []
    for i, v in enumerate(chunk, page * PAGE + 1):
        mark = texts.TASK_MARK_THIS_WEEK if v.assignment_id in this_week else ""
        if v.assignment_id in kept:
            mark += texts.TASK_MARK_DRAFT
        lines.append(f"{i}. {mark}{task_line(ctx, v)}")
        choices.append(Choice(f"{i}. {v.label}", f"#{v.assignment_id}"))
    if (page + 1) * PAGE < len(views):
        lines.append(texts.TASK_LIST_MORE)
    lines.append(texts.TASK_LIST_QUICK)
    if len(this_week) < len(views):
        choices.append(Choice(texts.CHOICE_ALL_NO_CHANGE, texts.CHOICE_ALL_NO_CHANGE))
    # Items reported before can be filed 无变化 several at once (a card's checkboxes): when two or more are listed.
    before = tuple(i for i, v in enumerate(chunk) if v.last_report_id is not None)
    several = (before, texts.CHOICE_NO_CHANGE) if len(before) > 1 else None
    return Reply("\n".join(lines), choices=choices, listed=True, several=several)


def offered_views(ctx: Context, org: Organisation | None, options: list[int]) -> list[progress.AssignmentView]:
    if org is None:
        return []
    return [v for v in own_open_assignments(ctx, org.id) if v.assignment_id in options]


def pick_from(ctx: Context, text: str, options: list[int]) -> tuple[int | None, list[int]]:
    """Resolve a pick: "#id" (button), a number in the list, or words of a task name. Returns (id, ambiguous)."""
    t = normalize(text)
    m = re.fullmatch(r"#(\d+)", t)
    if m and int(m.group(1)) in options:
        return int(m.group(1)), []
    m = re.fullmatch(r"(?:第)?(\d{1,3})(?:项|个|条)?\.?", t)
    if m:
        n = int(m.group(1))
        return (options[n - 1], []) if 1 <= n <= len(options) else (None, [])
    spoken = to_number(t.strip("第项个条"))  # "第三项"
    if spoken is not None and spoken == int(spoken) and 1 <= spoken <= len(options) and len(t) <= 4:
        return options[int(spoken) - 1], []
    if len(t) < 2:
        return None, []
    return _by_name(ctx, t, options)


def _by_name(ctx: Context, t: str, options: list[int]) -> tuple[int | None, list[int]]:
    items = {a.id: a.item for a in ctx.session.execute(select(Assignment).where(Assignment.id.in_(options))).scalars()}
    scored: list[tuple[int, int]] = []
    for aid in options:
        score = name_score(t, items[aid])
        if score:
            scored.append((score, aid))
    if not scored:
        return None, []
    scored.sort(reverse=True)
    best = [aid for s, aid in scored if s == scored[0][0]]
    return (best[0], []) if len(best) == 1 else (None, best)


def name_score(t: str, item: Item) -> int:
    hay = " ".join([item.short_name or "", item.title, " ".join(item.keywords or [])])
    if t == item.short_name or t == item.title:
        return 1000  # the exact name wins over a keyword shared with another task
    if item.short_name and t in item.short_name:
        return 200 + len(t)
    if t in hay:
        return 100 + len(t)
    grams = {t[i : i + 2] for i in range(len(t) - 1)}
    hits = sum(1 for g in grams if g in hay)
    if grams and hits / len(grams) >= 0.6:
        return int(100 * hits / len(grams))
    return 0


def choices_for(ctx: Context, assignment_ids: list[int]) -> list[Choice]:
    out = []
    for aid in assignment_ids[:PAGE]:
        a = ctx.session.get(Assignment, aid)
        assert a is not None
        out.append(Choice(a.item.label, f"#{aid}"))
    return out


def other_org_match(ctx: Context, text: str) -> str | None:
    """When an official names a task that belongs to another organisation, say so."""
    t = normalize(text)
    if ctx.is_coordinator or ctx.person is None or len(t) < 2:
        return None
    plan = plans.active_plan(ctx.session)
    if plan is None:
        return None
    # The database narrows the plan's tasks to those naming the text (LIKE ignores ASCII case on SQLite: the
    # candidates are checked again here, as typed).
    q = (
        select(Assignment, Item)
        .join(Item)
        .where(
            Item.plan_id == plan.id,
            Item.active.is_(True),
            Assignment.active.is_(True),
            or_(Item.short_name.contains(t, autoescape=True), Item.title.contains(t, autoescape=True)),
            # the units below the official's own are theirs to report for too
            Assignment.organisation_id.not_in(
                orgs.descendants(ctx.session, [ctx.person.organisation_id]) if ctx.person.organisation_id else []
            ),
        )
        .order_by(Item.id, Assignment.id)
    )
    for a, item in ctx.session.execute(q):
        if t in (item.short_name or "") or t in item.title:
            own = ctx.person.organisation.name if ctx.person.organisation else "—"
            return texts.OTHER_ORG_TASK.format(own=own, label=item.label, other=a.organisation.name)
    return None
