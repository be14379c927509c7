"""One item of the plan asked about by name: a task (each responsible organisation's line), a project
(investment, 形象进度, the units' lines) or an indicator (target, newest value and verdict, sub-indicators, the
units' values). Officials see only their own organisation's line.
"""

from __future__ import annotations

from core.messages import Reply
from db.models import INDICATOR, PROJECT, Item, Plan
from db.repositories import orgs, progress, queries
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context
from handlers.queries import access, lines
from handlers.queries.paging import Answer, Page
from handlers.understanding.nlu import Lexicon, Understanding


def item_progress(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """The answer about the item `u` names (optionally one organisation's line of it)."""
    assert u.item_id is not None
    item = queries.item_with_children(ctx.session, u.item_id)
    if item is None:
        return [Reply(texts.Q_NO_PLAN)]
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), item_ids=[item.id])
    whole = views  # a project's figure is the whole project's, whichever line is shown
    if u.org_ids:
        # "墨脱县污水处理厂": that organisation's line only (when it is one of the item's units)
        views = [v for v in views if v.org_id in u.org_ids] or views
    if not access.sees_all(ctx):
        own = access.own_org(ctx)
        # an official of a parent unit sees the lines of the units below it too
        mine = set(orgs.descendants(ctx.session, [own])) if own is not None else set()
        views = [v for v in views if v.org_id in mine]
        if not views:
            label, own_name = lex.item_label(item.id), access.own_name(ctx, lex)
            return [Reply(texts.Q_NOT_ALLOWED_ITEM.format(label=label, own=own_name))]
    if item.kind == PROJECT:
        return project(ctx, lex, item, views, whole)
    if item.kind == INDICATOR:
        return indicator(ctx, lex, item, views, whole)
    return task(ctx, lex, item, views)


def task(ctx: Context, lex: Lexicon, item: Item, views: list[AssignmentView]) -> Answer:
    """A task: one unit's state in full, or a line per unit."""
    if len(views) == 1:
        v = views[0]
        problems = texts.Q_ITEM_PROBLEMS.format(text=v.problems) if v.problems else ""
        text = texts.Q_TASK_ONE.format(
            org=lex.org_name(v.org_id),
            title=item.title,
            due=fmt.day(v.due),
            light=v.light,
            state=lines.state(v),
            flags=lines.flags(v),
            expected=fmt.number(v.expected),
            date=lines.report_day(ctx, v.last_report_at) or texts.Q_NEVER,
            problems=problems,
        )
        return [Reply(text)]
    c = progress.count(views)
    due = min(v.due for v in views) if views else item.due_date
    head = texts.Q_TASK_HEADER.format(
        title=item.title,
        due=fmt.day_or_dash(due),
        n=len(views),
        done=c.done,
        overdue=c.overdue,
        lagging=c.lagging,
    )
    rows = [lines.task_line(ctx, v, lex.org_label(v.org_id)) for v in lines.urgent_first(views)]
    return Page(texts.Q_TITLE.format(name=item.short_name or item.title), head, rows)


def project(
    ctx: Context, lex: Lexicon, item: Item, views: list[AssignmentView], whole: list[AssignmentView] | None = None
) -> Answer:
    """A project: investment against its total (the whole project's figure, `progress.project_investments`
    over `whole`), then one unit's state in full or a line per unit."""
    lead = (item.extra or {}).get("lead") or fmt.DASH
    head = texts.Q_PROJECT_HEADER.format(number=item.number, title=item.title, lead=lead, years=item.years or fmt.DASH)
    total = item.investment_total
    figures = progress.project_investments(ctx.session, whole if whole is not None else views)
    done = figures[0].done if figures else None
    shared = texts.Q_PROJECT_INVEST_SHARED.format(n=len(figures[0].units)) if figures and figures[0].shared else ""
    if done is None:
        rows = [texts.Q_PROJECT_INVEST_NONE.format(total=fmt.money(total))]
    else:
        pct = fmt.share(done, total)
        rows = [texts.Q_PROJECT_INVEST.format(done=fmt.money(done), total=fmt.money(total), pct=pct) + shared]
    shares = {u.view.assignment_id: u.share for f in figures for u in f.units if u.share is not None}
    if len(views) == 1:
        own = views[0]
        if shared and (own.investment_done is not None or own.assignment_id in shares):
            done_text = (
                fmt.against_share(own.investment_done, shares[own.assignment_id])
                if own.assignment_id in shares
                else texts.FMT_MONEY_WAN.format(n=fmt.money(own.investment_done))
            )
            rows.append(texts.Q_PROJECT_OWN_PART.format(org=lex.org_name(own.org_id), done=done_text))
        return [Reply("\n".join([head, *rows, *_project_one_unit(ctx, lex, views[0])]))]
    latest = progress.newest_report(views)
    if latest is not None and latest.physical_progress:
        by = texts.Q_PROJECT_PHYSICAL_BY.format(text=latest.physical_progress, org=lex.org_label(latest.org_id))
        rows.append(texts.Q_PROJECT_PHYSICAL.format(text=by))
    for v in lines.urgent_first(views):
        date = lines.report_day(ctx, v.last_report_at)
        if v.assignment_id in shares:
            invest = texts.Q_PROJECT_UNIT_INVEST_SHARE.format(
                text=fmt.against_share(v.investment_done, shares[v.assignment_id])
            )
        elif v.investment_done is not None:
            invest = texts.Q_PROJECT_UNIT_INVEST.format(done=fmt.money(v.investment_done))
        else:
            invest = ""
        rows.append(
            texts.Q_PROJECT_UNIT_LINE.format(
                light=v.light,
                org=lex.org_label(v.org_id),
                state=lines.state(v) + lines.flags(v),
                invest=invest,
                date=texts.Q_DATE.format(date=date) if date else "",
            )
        )
    return Page(texts.Q_TITLE_PROJECT.format(number=item.number), head, rows)


def _project_one_unit(ctx: Context, lex: Lexicon, v: AssignmentView) -> list[str]:
    """The lines of a project with one unit: 形象进度, progress against 序时进度, the newest report."""
    rows: list[str] = []
    if v.physical_progress:
        rows.append(texts.Q_PROJECT_PHYSICAL.format(text=v.physical_progress))
    rows.append(
        texts.Q_PROJECT_PROGRESS.format(
            light=v.light, state=lines.state(v), flags=lines.flags(v), expected=fmt.number(v.expected)
        )
    )
    if v.last_report_at is not None:
        date = lines.report_day(ctx, v.last_report_at)
        rows.append(texts.Q_PROJECT_LAST.format(date=date, org=lex.org_name(v.org_id)))
    else:
        rows.append(texts.Q_PROJECT_NEVER)
    return rows


def _verdict(ctx: Context, item: Item, v: AssignmentView) -> str:
    """The verdict of `v` (progress.verdicts, as digest, export and plan show give it), with who judged it."""
    verdict = progress.verdict_of(ctx.session, item, v)
    return fmt.verdict_text(verdict.code, verdict.judged_by, verdict.reason)


def indicator(
    ctx: Context, lex: Lexicon, item: Item, views: list[AssignmentView], whole: list[AssignmentView] | None = None
) -> Answer:
    """An indicator: target, its figure, responsible units, sub-indicators, units' values. The figure of an
    indicator owned by several units is the city's (`progress.indicator_city` over `whole`, all its units), with
    the rule named; one unit's line (an official's own) adds that unit's newest value. An indicator owned by one
    unit: its newest value and verdict."""
    head = texts.Q_INDICATOR_HEADER.format(
        number=item.number,
        title=item.title,
        unit=texts.Q_INDICATOR_UNIT_SUFFIX.format(unit=item.unit) if item.unit else "",
        target=item.target_text or fmt.DASH,
        target_year=item.target_year_text or fmt.DASH,
    )
    rows: list[str] = []
    city = progress.indicator_city(ctx.session, item, whole if whole is not None else views)
    latest = progress.newest_report(views)
    if city.shared:
        rows.append(city_line(item, city))
        if len(views) == 1:
            rows.append(_own_line(ctx, lex, item, views[0]))
    elif latest is None:
        rows.append(texts.Q_INDICATOR_NONE)
    else:
        rows.append(
            texts.Q_INDICATOR_LATEST.format(
                value=latest.indicator_value or lines.state(latest),
                date=lines.report_day(ctx, latest.last_report_at),
                org=lex.org_name(latest.org_id),
                verdict=_verdict(ctx, item, latest),
            )
        )
    if len(views) > 3:
        rows.append(texts.Q_INDICATOR_RESPONSIBLE_N.format(n=len(views)))
    else:
        names = "、".join(lex.org_name(v.org_id) for v in views) or fmt.DASH
        inferred = texts.INFERRED_MARK if (item.extra or {}).get("responsible_inferred") else ""
        rows.append(texts.Q_INDICATOR_RESPONSIBLE.format(names=names + inferred))
    rows += _sub_indicator_lines(item)
    if len(views) > 1:
        rows += [_indicator_unit_line(ctx, lex, item, v) for v in lines.urgent_first(views)]
    return Page(texts.Q_TITLE_INDICATOR.format(number=item.number), head, rows)


def city_line(item: Item, city: progress.CityFigure) -> str:
    """The city's line of a shared indicator: "全市（7个单位均需达标）：达标3、未达标1、未填报3 → 待判定"."""
    return texts.Q_INDICATOR_CITY.format(
        rule=fmt.city_rule_label(city.rule, len(city.units)),
        figure=fmt.city_figure(city.rule, city.value, city.counts, item.unit),
        verdict=fmt.verdict_label(city.verdict),
    )


def _own_line(ctx: Context, lex: Lexicon, item: Item, v: AssignmentView) -> str:
    """One unit's newest value of a shared indicator, and its verdict."""
    if v.counted_report_id is None:
        return texts.Q_INDICATOR_OWN_NONE
    return texts.Q_INDICATOR_OWN.format(
        value=v.indicator_value or lines.state(v),
        date=lines.report_day(ctx, v.counted_report_at),
        org=lex.org_name(v.org_id),
        verdict=_verdict(ctx, item, v),
    )


def _sub_indicator_lines(item: Item) -> list[str]:
    subs = [c for c in item.children if c.active]
    if not subs:
        return []
    rows = [texts.Q_INDICATOR_SUBS]
    for s in subs:
        target = s.target_year_text or s.target_text or fmt.DASH
        rows.append(texts.Q_INDICATOR_SUB_LINE.format(key=(s.extra or {}).get("key", ""), name=s.title, target=target))
        if s.note:
            rows.append(texts.Q_INDICATOR_SUB_NOTE.format(text=s.note))
    return rows


def _indicator_unit_line(ctx: Context, lex: Lexicon, item: Item, v: AssignmentView) -> str:
    date = lines.report_day(ctx, v.last_report_at)
    value = v.indicator_value or (lines.state(v) if v.status is not None else "")
    return texts.Q_INDICATOR_UNIT.format(
        light=v.light,
        org=lex.org_label(v.org_id),
        value=f" {value}" if value else "",
        verdict=_verdict(ctx, item, v),
        date=texts.Q_DATE.format(date=date) if date else "",
    )
