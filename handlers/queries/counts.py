"""Counts and rankings: how many tasks, projects, indicators, events or units the plan has (for the city or for
the units named, with the states of their items), and the units ranked by completion.
"""

from __future__ import annotations

import re
from collections import Counter

from core.messages import Reply
from db.models import EVENT, INDICATOR, PROJECT, TASK, Plan
from db.repositories import progress, queries
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context
from handlers.queries import access, attention, overview
from handlers.queries.paging import Answer, Page
from handlers.understanding.cues import ORG_KIND
from handlers.understanding.nlu import Lexicon, Understanding

_NUMBERING = re.compile(r"^[(（][一二三四五六七八九十]+[)）]")  # "(一)目标责任体系…": the plan's numbering


def count(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "有几个工程项目", "示范市指标有多少个", "巴宜区有多少项任务", "一共多少个单位"."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    kind = u.kind
    if org_ids is None and kind in (PROJECT, INDICATOR, EVENT, ORG_KIND, TASK):
        return [Reply(_city_count(ctx, lex, plan, kind))]
    scope = access.scope_title(lex, u, org_ids)
    views = progress.assignment_views(
        ctx.session, plan, ctx.clock.today(), org_ids=org_ids, kinds=attention.kinds_of(u)
    )
    c = progress.count(views)
    text = texts.Q_COUNT_ORG.format(
        scope=scope,
        kind=attention.kind_name(u),
        n=c.total,
        done=c.done,
        in_progress=c.in_progress,
        not_started=c.not_started,
        blocked=c.blocked,
        overdue=c.overdue,
        unreported=c.unreported,
    )
    example = scope if org_ids is not None and len(org_ids) == 1 else texts.Q_GROUP_FOOTER_EXAMPLE
    return [Reply(text + "\n" + texts.Q_COUNT_MORE.format(example=example + texts.Q_COUNT_PROGRESS_WORD))]


def _city_count(ctx: Context, lex: Lexicon, plan: Plan, kind: str) -> str:
    """The plan's contents of one kind, for the whole city."""
    if kind == ORG_KIND:
        units = [o for o in lex.orgs.values() if not o.parent_id]
        counties = sum(1 for o in units if o.kind == "county")
        return texts.Q_COUNT_ORGS.format(n=len(units), counties=counties, departments=len(units) - counties)
    found = queries.items_by_kind(ctx.session, plan, kind)
    if kind == PROJECT:
        total = sum((it.investment_total or 0) for it in found)
        return texts.Q_COUNT_PROJECTS.format(n=len(found), total=fmt.money(total))
    if kind == INDICATOR:
        by_category = Counter(it.category or "" for it in found)
        parts = "、".join(
            texts.Q_COUNT_INDICATOR_PART.format(category=_NUMBERING.sub("", c), n=n)
            for c, n in by_category.items()
            if c
        )
        return texts.Q_COUNT_INDICATORS.format(n=len(found), parts=parts or len(found))
    return texts.Q_COUNT_CITY.format(kind=texts.Q_KIND_NAMES[kind], n=len(found))


def ranking(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "各县区排名", "市直单位谁完成得最好": the units named (a group; all units when none) ranked by completion
    (the one figure of `progress.count`), then fewer overdue; a unit below another counts in its parent's line."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    _, ranks = overview.ranked_orgs(ctx, lex, plan, org_ids, attention.kinds_of(u))
    scope = access.scope_title(lex, u, org_ids)
    shown = [
        texts.Q_RANKING_LINE.format(
            i=i,
            light=r.light,
            name=lex.org_label(r.org_id),
            completion=fmt.number(r.counts.completion),
            done=r.counts.done,
            total=r.counts.total,
            overdue=r.counts.overdue,
            lagging=r.counts.lagging,
        )
        for i, r in enumerate(ranks, 1)
    ]
    head = texts.Q_RANKING_HEADER.format(scope=scope)
    return Page(texts.Q_TITLE.format(name=scope), head, shown)
