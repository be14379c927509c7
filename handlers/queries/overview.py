"""Progress of organisations: one organisation's assignments line by line, or a table of several (a group, the
whole city) with one line per organisation, as `ranked_orgs` ranks them. A question about an item goes to `items`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.messages import Reply
from db.models import INDICATOR, PROJECT, REPORTABLE_KINDS, Plan
from db.repositories import orgs, progress
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts, urge
from handlers.context import Context, Replies
from handlers.queries import access, items, lines, lists
from handlers.queries.paging import PAGE_LINES, Answer, Page
from handlers.understanding.nlu import Lexicon, Understanding


def progress_answer(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "墨脱县进度", "边境县进度", "全市进度", "米林和朗县进度", or an item's progress."""
    if u.item_id is not None:
        return items.item_progress(ctx, lex, plan, u)
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    # "墨脱有哪些项目", "我们县的指标": one kind of item only
    kinds = (u.kind,) if u.kind in (PROJECT, INDICATOR) else REPORTABLE_KINDS
    if org_ids is None and u.kind == PROJECT:
        return lists.investment(ctx, lex, plan, u)  # the city's projects: each with its investment
    if u.kind == INDICATOR and (org_ids is None or len(org_ids) > 1):
        return lists.indicators(ctx, lex, plan, u, org_ids)  # several units' indicators: each with its verdict
    if org_ids is None:
        return summary(ctx, lex, plan, texts.Q_WHOLE_CITY, None, kinds)
    if len(org_ids) == 1:
        return org_progress(ctx, lex, plan, org_ids[0], kinds)
    if u.group or len(org_ids) > 3:
        return summary(ctx, lex, plan, u.group or "、".join(lex.org_label(o) for o in org_ids), org_ids, kinds)
    replies: Replies = []
    for oid in org_ids:
        replies.append(org_progress_short(ctx, lex, plan, oid, kinds))
    return replies


def _org_lines(
    ctx: Context, lex: Lexicon, plan: Plan, org_id: int, kinds: tuple[str, ...] = REPORTABLE_KINDS
) -> tuple[str, list[str]] | None:
    """The header and the lines of one organisation's answer; None when it has no tasks (of those kinds)."""
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=[org_id], kinds=kinds)
    if not views:
        return None
    c = progress.count(views)
    head = texts.Q_ORG_HEADER.format(
        name=lex.org_name(org_id),
        total=c.total,
        done=c.done,
        in_progress=c.in_progress,
        not_started=c.not_started,
        blocked=c.blocked,
        overdue=c.overdue,
    )
    history = urge.history_line(ctx, org_id)  # 最近催办: when the unit was chased lately
    head = f"{head}\n{history}" if history else head
    # a line of a unit below this one (工布江达县人民政府's project under 工布江达县) says whose it is
    return head, [
        lines.task_line(
            ctx,
            v,
            lines.item_label(v)
            + (texts.Q_CHILD_UNIT.format(org=lex.org_label(v.org_id)) if v.org_id != org_id else ""),
        )
        for v in lines.urgent_first(views)
    ]


def org_progress(
    ctx: Context, lex: Lexicon, plan: Plan, org_id: int, kinds: tuple[str, ...] = REPORTABLE_KINDS
) -> Answer:
    """One organisation's assignments (of some kinds), most urgent first, paged."""
    name = lex.org_name(org_id)
    found = _org_lines(ctx, lex, plan, org_id, kinds)
    if found is None:
        return [Reply(texts.Q_NO_TASKS.format(name=name))]
    head, rows = found
    return Page(texts.Q_TITLE.format(name=name), head, rows)


def org_progress_short(
    ctx: Context, lex: Lexicon, plan: Plan, org_id: int, kinds: tuple[str, ...] = REPORTABLE_KINDS
) -> Reply:
    """One organisation's assignments cut to one page (several organisations in one answer)."""
    found = _org_lines(ctx, lex, plan, org_id, kinds)
    if found is None:
        return Reply(texts.Q_NO_TASKS.format(name=lex.org_name(org_id)))
    head, rows = found
    shown = rows[:PAGE_LINES]
    more = len(rows) - len(shown)
    tail = texts.Q_ORG_MORE.format(n=more, org=lex.org_label(org_id)) if more else ""
    return Reply("\n".join([head, *shown]) + tail)


@dataclass(frozen=True)
class OrgRank:
    """One organisation's line of a table of several: its light and its counts."""

    org_id: int
    light: str
    counts: progress.Counts


def ranked_orgs(
    ctx: Context,
    lex: Lexicon,
    plan: Plan,
    org_ids: list[int] | None,
    kinds: tuple[str, ...] = REPORTABLE_KINDS,
) -> tuple[list[AssignmentView], list[OrgRank]]:
    """The views of several organisations (None: all) and one rank per organisation, by completion (the mean
    completion of its items, unreported counted 0), then fewer overdue, then name; a unit below another counts in
    its parent's line. The organisation's light is its worst item's (🟡 滞后 or 未汇报 past the grace period); ⚪
    items count as 🟢. The summary table and the ranking both read it."""
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids, kinds=kinds)
    by_org: dict[int, list[AssignmentView]] = {}
    up = orgs.roll_up(ctx.session, org_ids)
    for v in views:
        by_org.setdefault(up.get(v.org_id, v.org_id), []).append(v)
    ranks = []
    for oid, vs in by_org.items():
        oc = progress.count(vs)
        ranks.append(OrgRank(oid, progress.unit_light(vs, oc), oc))
    ranks.sort(key=lambda r: (-r.counts.completion, r.counts.overdue, lex.org_label(r.org_id)))
    return views, ranks


def summary(
    ctx: Context,
    lex: Lexicon,
    plan: Plan,
    title: str,
    org_ids: list[int] | None,
    kinds: tuple[str, ...] = REPORTABLE_KINDS,
) -> Page:
    """Several organisations (None: all): the totals, then one line per organisation as `ranked_orgs` ranks them."""
    views, ranks = ranked_orgs(ctx, lex, plan, org_ids, kinds)
    c = progress.count(views)
    head = texts.Q_GROUP_HEADER.format(
        name=title,
        n=len(ranks),
        total=c.total,
        completion=fmt.number(c.completion),
        done=c.done,
        in_progress=c.in_progress,
        not_started=c.not_started,
        blocked=c.blocked,
        overdue=c.overdue,
        lagging=c.lagging,
    )
    shown = [
        texts.Q_GROUP_LINE.format(
            light=r.light,
            name=lex.org_label(r.org_id),
            completion=fmt.number(r.counts.completion),
            lagging=r.counts.lagging,
            overdue=r.counts.overdue,
            unreported=r.counts.unreported,
        )
        for r in ranks
    ]
    example = lex.org_label(ranks[-1].org_id) if ranks else texts.Q_GROUP_FOOTER_EXAMPLE
    return Page(texts.Q_TITLE.format(name=title), head, shown, texts.Q_GROUP_FOOTER.format(example=example))
