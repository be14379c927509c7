"""The lists coordinators ask for: what is overdue (or, when nothing is, what falls due within a week), who has
not reported in the last 7 days, each project's investment against its total, and each indicator's verdict.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.messages import Reply
from db.models import INDICATOR, PROJECT, Plan
from db.repositories import progress, queries
from db.repositories.progress import AssignmentView
from db.repositories.queries import OrgActivity
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context
from handlers.queries import access, attention, items, lines
from handlers.queries.paging import Answer, Page
from handlers.understanding.nlu import Lexicon, Understanding

UNREPORTED_DAYS = 7


def overdue(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "哪些任务逾期了", "生态环境局有逾期的吗": overdue assignments, or those due within a week."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    item_ids = [u.item_id] if u.item_id is not None else None
    # "逾期的项目": projects only; "逾期任务" as people say it: every item
    kinds = attention.kinds_of(u)
    kind = texts.Q_KIND_NAMES[u.kind] if u.kind in (PROJECT, INDICATOR) else texts.Q_OVERDUE_KIND
    views = progress.assignment_views(
        ctx.session, plan, ctx.clock.today(), org_ids=org_ids, item_ids=item_ids, kinds=kinds
    )
    scope = access.scope_title(lex, u, org_ids)
    views = lines.urgent_first(views)
    late = [v for v in views if v.overdue]
    several_orgs = org_ids is None or len(org_ids) > 1
    if late:
        head = texts.Q_OVERDUE_HEADER.format(scope=scope, n=len(late), kind=kind)
        rows = [
            texts.Q_OVERDUE_LINE.format(
                org=lex.org_label(v.org_id) if several_orgs else "",
                label=lines.item_label(v),
                days=-v.days_left,
                state=lines.state(v),
            ).replace("🔴｜", "🔴")
            for v in late
        ]
        return Page(texts.Q_TITLE.format(name=scope), head, rows)
    soon = [v for v in views if not v.done and 0 <= v.days_left <= progress.DUE_SOON_DAYS]
    head = texts.Q_OVERDUE_NONE.format(scope=scope, kind=kind)
    if not soon:
        return [Reply(head)]
    rows = [texts.Q_DUE_SOON_HEADER.format(n=len(soon))] + [
        texts.Q_DUE_SOON_LINE.format(
            org=lex.org_label(v.org_id) if several_orgs else "",
            label=lines.item_label(v),
            due=fmt.day(v.due),
            state=lines.state(v),
        ).replace("🟡｜", "🟡")
        for v in soon
    ]
    return Page(texts.Q_TITLE.format(name=scope), head, rows)


def _last_report(ctx: Context, a: OrgActivity) -> str:
    if a.last_report_at is None:
        return texts.Q_UNREPORTED_NEVER
    return texts.Q_UNREPORTED_LAST.format(date=lines.report_day(ctx, a.last_report_at))


def unreported(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "谁还没汇报": organisations with open tasks and no report in the last UNREPORTED_DAYS days."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    if org_ids is None and not access.sees_all(ctx):
        return [Reply(texts.Q_NOT_ALLOWED_ALL.format(own=access.own_name(ctx, lex)))]
    since = ctx.clock.utcnow() - dt.timedelta(days=UNREPORTED_DAYS)
    since_text = fmt.stored_day(since, ctx.clock.tz)
    if u.item_ids:
        about_item = _item_reported(ctx, lex, plan, u.item_ids[0], org_ids, since)
        if about_item is not None:
            return about_item
    activity = queries.reporting_activity(ctx.session, plan, org_ids)
    if org_ids is not None and len(org_ids) == 1 and not u.group:
        name = lex.org_name(org_ids[0])
        if not activity:
            return [Reply(texts.Q_ORG_NO_OPEN.format(org=name))]
        a = activity[0]
        if a.last_report_at is not None and a.last_report_at >= since:
            said = texts.Q_ORG_REPORTED.format(org=name, date=lines.report_day(ctx, a.last_report_at))
        else:
            said = texts.Q_ORG_NOT_REPORTED.format(org=name, last=_last_report(ctx, a))
        # and its items never reported ("墨脱县有几项没报" asks for those)
        c = progress.count(progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids))
        if c.unreported:
            items_said = texts.Q_ORG_ITEMS_NONE_REPORTED if c.unreported == c.total else texts.Q_ORG_ITEMS_UNREPORTED
            said += items_said.format(n=c.unreported, total=c.total, org=name)
        return [Reply(said)]
    silent = [a for a in activity if a.last_report_at is None or a.last_report_at < since]
    if not silent:
        return [Reply(texts.Q_UNREPORTED_NONE.format(since=since_text))]
    # Never reported first, then the longest silent.
    silent.sort(key=lambda a: (a.last_report_at is not None, a.last_report_at or dt.datetime.min, a.org_id))
    people = queries.reporters_of(ctx.session, [a.org_id for a in silent])
    rows = []
    for i, a in enumerate(silent, 1):
        names = people.get(a.org_id, [])
        rows.append(
            texts.Q_UNREPORTED_LINE.format(
                i=i,
                org=a.org_name,
                people=texts.Q_UNREPORTED_PEOPLE.format(names="、".join(names[:3])) if names else "",
                last=_last_report(ctx, a),
            )
        )
    head = texts.Q_UNREPORTED_SUMMARY.format(since=since_text, reported=len(activity) - len(silent), n=len(silent))
    return Page(texts.Q_TITLE_UNREPORTED, head, rows)


def _item_reported(
    ctx: Context, lex: Lexicon, plan: Plan, item_id: int, org_ids: list[int] | None, since: dt.datetime
) -> Answer | None:
    """ "两山实施方案报了吗": whether each unit (of the asker's scope) reported the item in the last
    UNREPORTED_DAYS days, with what it said and the review's state; None when no unit in scope has the item."""
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids, item_ids=[item_id])
    if not views:
        return None

    def said(v: AssignmentView) -> str:
        if v.last_report_at is None:
            return texts.Q_ITEM_REPORTED_NEVER
        date = lines.report_day(ctx, v.last_report_at)
        if v.last_report_at < since:
            return texts.Q_ITEM_REPORTED_NO.format(date=date, state=fmt.status_with_percent(v.status, v.percent))
        return texts.Q_ITEM_REPORTED_YES.format(
            date=date, state=fmt.status_with_percent(v.status, v.percent), review=lines.review_note(v.review_state)
        )

    label = lines.item_label(views[0])
    if len(views) == 1:
        return [Reply(texts.Q_ITEM_REPORTED_ONE.format(label=label, org=views[0].org_name, said=said(views[0])))]
    reported = [v for v in views if v.last_report_at is not None and v.last_report_at >= since]
    rest = [v for v in lines.urgent_first(views) if v not in reported]
    rows = [
        texts.Q_ITEM_REPORTED_LINE.format(light=v.light, org=lex.org_label(v.org_id), said=said(v))
        for v in [*rest, *reported]
    ]
    head = texts.Q_ITEM_REPORTED_HEADER.format(
        label=label, since=fmt.stored_day(since, ctx.clock.tz), reported=len(reported), n=len(rest)
    )
    return Page(texts.Q_TITLE.format(name=label), head, rows)


def investment(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """ "项目投资完成情况": each project's completed investment against its total, and the sums."""
    if u.item_id is not None and u.item_kind == PROJECT:
        return items.item_progress(ctx, lex, plan, u)
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids, kinds=(PROJECT,))
    by_item: dict[int, list[AssignmentView]] = {}
    for v in views:
        by_item.setdefault(v.item_id, []).append(v)
    if not by_item:
        return [Reply(texts.Q_NO_PROJECTS.format(name=access.scope_title(lex, u, org_ids)))]
    # Each project's figure is the whole project's (the sum of all its units' own parts), the same whoever asks;
    # for some units only, a shared project's line adds their own part. The total is the sum of the projects'.
    whole = views
    if org_ids is not None:
        whole = progress.assignment_views(
            ctx.session, plan, ctx.clock.today(), item_ids=list(by_item), kinds=(PROJECT,)
        )
    figures = progress.project_investments(ctx.session, whole)
    parts = {f.item_id: f for f in progress.project_investments(ctx.session, views)} if org_ids is not None else {}
    total, done_all = progress.city_investment(figures)
    rows = []
    for f in figures:
        line = _investment_line(ctx, by_item[f.item_id], f.planned, f.done)
        part = parts.get(f.item_id)
        if f.shared and part is not None and part.done is not None:
            names = "、".join(lex.org_name(u.view.org_id) for u in part.units if u.done is not None)
            line += texts.Q_INVEST_OWN_PART.format(org=names, done=fmt.money(part.done))
        rows.append(line)
    head = texts.Q_INVEST_HEADER.format(
        n=len(by_item), total=fmt.money(total), done=fmt.money(done_all), pct=fmt.share(done_all, total)
    )
    return Page(texts.Q_TITLE_INVESTMENT, head, rows)


def _investment_line(ctx: Context, vs: list[AssignmentView], planned: Decimal, done: Decimal | None) -> str:
    """One project: its worst light, completed / planned investment, the day of its newest report."""
    v0 = vs[0]
    light = min((v.light for v in vs), key=lambda x: lines.LIGHT_ORDER.get(x, 3))
    if done is None:
        return texts.Q_INVEST_LINE_NONE.format(
            light=light, number=v0.item_number, label=v0.label, total=fmt.money(planned)
        )
    date = lines.report_day(ctx, max((v.last_report_at for v in vs if v.last_report_at), default=None))
    return texts.Q_INVEST_LINE.format(
        light=light,
        number=v0.item_number,
        label=v0.label,
        done=fmt.money(done),
        total=fmt.money(planned),
        pct=fmt.share(done, planned),
        date=texts.Q_DATE.format(date=date) if date else "",
    )


# Worst first: what needs a look before what is fine.
VERDICT_ORDER = {progress.NOT_MET: 0, progress.UNJUDGED: 1, progress.UNREPORTED: 2, progress.MET: 3}


def indicators(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding, org_ids: list[int] | None) -> Answer:
    """ "指标", "指标达标情况", "边境县的指标": every indicator of the units with its value against its target and
    its verdict (`progress.indicator_figures`, as the digest and the export give it; a shared indicator's value is
    the city's figure), worst first; the counts by verdict on top."""
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids, kinds=(INDICATOR,))
    scope = access.scope_title(lex, u, org_ids)
    figures = progress.indicator_figures(ctx.session, plan, views)
    if not figures:
        return [Reply(texts.Q_NO_INDICATORS.format(name=scope))]
    targets = queries.indicator_targets(ctx.session, list(figures))
    counts = {code: 0 for code in texts.VERDICT_LABELS}
    rows: list[tuple[tuple[int, int], str]] = []
    for item_id, f in figures.items():
        item, latest, verdict, units = f.item, f.latest, f.verdict, f.city.units
        counts[verdict.code] += 1
        if f.city.shared:
            value = fmt.city_figure(f.city.rule, f.city.value, f.city.counts, item.unit)
            org = texts.Q_INDICATORS_UNITS.format(n=len(units))
        else:
            value = (latest.indicator_value if latest is not None else None) or fmt.DASH
            org = " · " + lex.org_label(units[0].view.org_id) if org_ids is None or len(org_ids) > 1 else ""
        when = lines.report_day(ctx, latest.counted_report_at or latest.last_report_at) if latest else ""
        line = texts.Q_INDICATORS_LINE.format(
            mark=texts.VERDICT_MARKS[verdict.code],
            number=item.number or "",
            label=units[0].view.label,
            value=texts.Q_INDICATORS_VALUE.format(value=value) if verdict.code != progress.UNREPORTED else "",
            target=_with_unit(targets.get(item_id), item.unit),
            verdict=fmt.verdict_label(verdict.code),
            org=org,
            date=texts.Q_DATE.format(date=when) if when else "",
        )
        rows.append(((VERDICT_ORDER.get(verdict.code, 4), item.number or 0), line))
    rows.sort(key=lambda r: r[0])
    head = texts.Q_INDICATORS_HEADER.format(scope=scope, n=len(figures)) + texts.DIGEST_VERDICT_LINE.format(**counts)
    first = min(figures.values(), key=lambda f: f.item.number or 0)
    footer = texts.Q_INDICATORS_FOOTER.format(example=first.city.units[0].view.label)
    return Page(texts.Q_TITLE_INDICATORS, head, [line for _, line in rows], footer)


def _with_unit(target: str | None, unit: str | None) -> str:
    """A target as the plan words it, with the indicator's unit after a figure (">20" of a % indicator: ">20%")."""
    if not target:
        return fmt.DASH
    return target + unit if unit and target[-1].isdigit() else target
