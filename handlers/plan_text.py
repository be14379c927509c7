"""`duban plan show NAME`: everything the plan says about one organisation, project, indicator or task.

NAME may be any name people use: full or short name, alias, keyword, plan number ("项目2", "指标15"), item
code ("C3-2-03", "P2", "I15"), even with a typo — the same lexicon as the chat understanding, without jieba.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.clock import Clock
from db.models import INDICATOR, PROJECT, Item, Organisation, Plan
from db.repositories import orgs, progress, queries
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from handlers.understanding.lexicon import GROUP, ITEM, ORG, Lexicon
from handlers.understanding.names import NUMBERED_RE, lookup, numbered_item
from handlers.understanding.text import normalize_for_matching


def describe(session: Session, plan: Plan, name: str, clock: Clock) -> str | None:
    """Details of the organisation / project / indicator / task called `name` as of `clock`'s today; None when
    nothing matches."""
    today = clock.today()
    lex = Lexicon.build(queries.vocabulary(session, plan))
    target = _resolve(lex, name)
    if target is None:
        return None
    kind, key = target
    if kind == "ambiguous":
        lines = [texts.PT_AMBIGUOUS_LINE.format(label=label) for label in key]
        return texts.PT_AMBIGUOUS.format(name=name.strip(), choices="\n".join(lines))
    if kind == ORG:
        return _describe_org(session, plan, lex, key, clock)
    if kind == GROUP:
        group = lex.groups[key]
        return "\n".join([key, "成员：" + "、".join(lex.org_name(o) for o in group.member_ids)])
    item = queries.item_with_children(session, key)
    if item is None:
        return None
    views = progress.assignment_views(session, plan, today, item_ids=[item.id])
    verdicts = {
        aid: fmt.verdict_text(v.code, v.judged_by, v.reason)
        for aid, v in (progress.verdicts(session, item, views) if item.kind == INDICATOR else {}).items()
    }
    city = progress.indicator_city(session, item, views) if item.kind == INDICATOR else None
    return _describe_item(session, lex, item, views, clock, verdicts, city)


def _resolve(lex: Lexicon, name: str) -> tuple[str, Any] | None:
    t = normalize_for_matching(name)
    if not t:
        return None
    by_code = {normalize_for_matching(i.code): i.id for i in lex.items.values()}
    if t in by_code:
        return ITEM, by_code[t]
    m = re.fullmatch(r"([pi])\s*(\d+)", t)
    if m:
        table = lex.projects if m.group(1) == "p" else lex.indicators
        if int(m.group(2)) in table:
            return ITEM, table[int(m.group(2))]
    m = NUMBERED_RE.fullmatch(t)
    item_id = numbered_item(lex, m) if m else None
    if item_id is not None:
        return ITEM, item_id
    refs = lookup(lex, name)
    if not refs:
        return None
    # An organisation's own name beats an item keyword; among items, a name beats a keyword.
    order = {ORG: 0, GROUP: 1, ITEM: 2}
    refs.sort(key=lambda r: (-r.weight, order.get(r.kind, 3)))
    best = refs[0]
    tied = [r for r in refs if r.weight == best.weight and r.kind == best.kind]
    if len(tied) > 1:
        labels = [lex.org_name(r.key) if r.kind == ORG else lex.item_label(r.key) for r in tied]
        return "ambiguous", labels
    return best.kind, best.key


def _state(v: AssignmentView) -> str:
    return fmt.status_with_percent(v.status, v.percent, never=texts.PT_NEVER)


def _date(v: AssignmentView, tz: dt.tzinfo) -> str:
    """The day of the newest report, in the plan's timezone (a report filed after 16:00 UTC is the next day)."""
    return fmt.iso_day(fmt.local_date(v.last_report_at, tz)) if v.last_report_at else texts.PT_NEVER


def _targets(targets: list[dict[str, Any]] | None) -> str:
    return "；".join(
        str(t.get("text") or f"{t.get('op', '')}{t.get('value', '')}{t.get('unit', '')}") for t in targets or []
    )


def _describe_org(session: Session, plan: Plan, lex: Lexicon, org_id: int, clock: Clock) -> str:
    today = clock.today()
    org = session.get(Organisation, org_id)
    assert org is not None
    lines = [texts.PT_ORG_HEADER.format(name=org.name, kind=texts.PT_KINDS.get(org.kind, org.kind))]
    if org.short_name:
        lines.append(texts.PT_SHORT.format(text=org.short_name))
    aliases = queries.org_aliases(session, org.id)
    plain = [a for a, kind in aliases if kind != "former"]
    former = [a for a, kind in aliases if kind == "former"]
    if plain:
        lines.append(texts.PT_ALIASES.format(text="、".join(plain)))
    if former:
        lines.append(texts.PT_FORMER.format(text="、".join(former)))
    if org.parent_id:
        lines.append(texts.PT_PARENT.format(text=lex.org_name(org.parent_id)))
    below = orgs.descendants(session, [org.id])[1:]
    if below:
        lines.append(texts.PT_CHILDREN.format(text="、".join(lex.org_name(o) for o in below)))
    groups = queries.groups_of(session, org.id)
    if groups:
        lines.append(texts.PT_GROUPS.format(text="、".join(groups)))
    if org.note:
        lines.append(texts.PT_NOTE.format(text=org.note))
    views = progress.assignment_views(session, plan, today, org_ids=[org.id])
    views.sort(key=lambda v: v.item_id)
    items = {i.id: i for i in _items(session, [v.item_id for v in views])}
    lines.append(texts.PT_ORG_TASKS.format(n=len(views), today=fmt.iso_day(today)))
    for i, v in enumerate(views, 1):
        item = items.get(v.item_id)
        target = _targets(item.targets if item else None)
        lines.append(
            texts.PT_ORG_TASK_LINE.format(
                i=i,
                code=v.item_code,
                title=v.title + (texts.PT_ORG_TASK_OF.format(org=v.org_name) if v.org_id != org.id else ""),
                due=fmt.iso_day(v.due),
                light=v.light,
                state=_state(v),
                target=texts.PT_TARGET.format(text=target) if target else "",
            )
        )
    return "\n".join(lines)


def _items(session: Session, ids: list[int]) -> list[Item]:
    if not ids:
        return []
    return list(session.execute(select(Item).where(Item.id.in_(ids))).scalars())


def _field(key: str, value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == ():
        return None
    if isinstance(value, (list, tuple)):
        value = "、".join(str(v) for v in value)
    elif isinstance(value, Decimal):
        value = fmt.number(value, 2)
    elif isinstance(value, dt.date):
        value = fmt.iso_day(value)
    return texts.PT_FIELD.format(name=texts.PT_FIELDS.get(key, key), value=value)


def _check(item: Item) -> str | None:
    """The rule the indicator (or sub-indicator) is judged by (`progress.item_rule`), in words."""
    if item.check_op is None:
        return None  # no rule of its own (an indicator judged by its sub-indicators)
    rule = progress.item_rule(item)
    if rule.kind == progress.NUMERIC:
        return texts.RULE_NUMERIC.format(op=texts.RULE_OPS.get(rule.op or "", rule.op), value=fmt.number(rule.value, 4))
    if rule.kind == progress.TREND:
        return texts.RULE_TREND_TEXT.format(trend=texts.RULE_TREND.get(rule.op or "", rule.op))
    if rule.kind == progress.ACTION:
        verb = next((w for w in progress.ACTION_VERBS if w in rule.target), rule.target)
        return texts.RULE_ACTION.format(verb=verb)
    return texts.RULE_MANUAL


def _investment(session: Session, item: Item, views: list[AssignmentView], clock: Clock) -> str:
    """The project's investment: the same figure as chat, digest and export (`progress.project_investments`)."""
    (p,) = progress.project_investments(session, views)
    today = fmt.iso_day(clock.today())
    shared = "".join(
        texts.PT_INVESTMENT_UNIT.format(
            org=u.org_name, done=fmt.against_share(u.done, u.share) if u.share is not None else fmt.money(u.done)
        )
        for u in p.units
        if p.shared and (u.done is not None or u.share is not None)
    )
    if p.done is None:  # no figure yet; the shares set are listed all the same
        return texts.PT_INVESTMENT_NONE.format(today=today, total=fmt.money(p.planned)) + shared
    return texts.PT_INVESTMENT.format(
        today=today,
        done=fmt.money(p.done),
        total=fmt.money(p.planned),
        pct=fmt.share(p.done, p.planned),
        shared=shared,
    )


def _describe_item(
    session: Session,
    lex: Lexicon,
    item: Item,
    views: list[AssignmentView],
    clock: Clock,
    verdicts: dict[int, str] | None = None,
    city: progress.CityFigure | None = None,
) -> str:
    """An item's fields, then each unit's progress (an indicator's with its verdict; a shared indicator's city
    figure, `progress.indicator_city`, after its units)."""
    header, fields = _item_fields(item)
    lines = [header] + [f for f in (_field(k, v) for k, v in fields) if f]
    if item.kind == INDICATOR:
        lines += _sub_indicator_lines(item)
    if item.kind == PROJECT and views:
        lines.append(_investment(session, item, views, clock))
    if views:
        lines.append(texts.PT_PROGRESS.format(today=fmt.iso_day(clock.today())))
        for view in sorted(views, key=lambda x: x.org_id):
            lines.append(
                texts.PT_PROGRESS_LINE.format(
                    light=view.light,
                    org=lex.org_name(view.org_id),
                    state=_state(view) + _verdict_suffix(verdicts, view),
                    date=_date(view, clock.tz),
                )
            )
    if city is not None and city.shared:
        lines.append(
            texts.PT_CITY.format(
                rule=fmt.city_rule_label(city.rule, len(city.units)),
                figure=fmt.city_figure(city.rule, city.value, city.counts, item.unit),
                verdict=fmt.verdict_label(city.verdict),
            )
        )
    return "\n".join(lines)


def _verdict_suffix(verdicts: dict[int, str] | None, view: AssignmentView) -> str:
    verdict = (verdicts or {}).get(view.assignment_id)
    if not verdict or view.counted_report_id is None:
        return ""  # never reported: 未汇报 says it
    return texts.PT_VERDICT.format(verdict=verdict)


def _item_fields(item: Item) -> tuple[str, list[tuple[str, Any]]]:
    """The header line of `item` and the (field, value) pairs shown for its kind (empty values are left out
    later)."""
    extra = item.extra or {}
    if item.kind == PROJECT:
        header = texts.PT_PROJECT_HEADER.format(number=item.number, title=item.title)
        return header, [
            ("short", item.short_name),
            ("content", item.text),
            ("investment", item.investment_total),
            ("years", item.years),
            ("lead", extra.get("lead")),
            ("assignees", extra.get("assignees")),
            ("due", item.due_date),
            ("keywords", item.keywords),
            ("note", item.note),
        ]
    if item.kind == INDICATOR:
        header = texts.PT_INDICATOR_HEADER.format(number=item.number, title=item.title)
        return header, [
            ("short", item.short_name),
            ("domain", item.domain),
            ("category", item.category),
            ("unit", item.unit),
            ("target", item.target_text),
            ("target_year", item.target_year_text),
            ("explanation", item.text),
            ("check", _check(item)),
            ("responsible", _responsible(extra)),
            ("keywords", item.keywords),
            ("note", item.note),
        ]
    header = texts.PT_TASK_HEADER.format(code=item.code, title=item.title)
    return header, [
        ("short", item.short_name),
        ("section", item.section),
        ("text", item.text),
        ("start", item.start_date),
        (
            "due",
            fmt.iso_day(item.due_date) + (texts.INFERRED_MARK if extra.get("due_inferred") else "")
            if item.due_date
            else None,
        ),
        ("targets", _targets(item.targets)),
        ("assignees", extra.get("assignees")),
        ("keywords", item.keywords),
        ("note", item.note),
    ]


def _responsible(extra: dict[str, Any]) -> str | None:
    """An indicator's responsible units, marked （推定） when the source leaves them empty."""
    names = extra.get("responsible") or []
    if not names:
        return None
    return "、".join(names) + (texts.INFERRED_MARK if extra.get("responsible_inferred") else "")


def _sub_indicator_lines(item: Item) -> list[str]:
    """The active sub-indicators of indicator `item`: a header each, then its fields indented."""
    lines: list[str] = []
    for sub in item.children:
        if not sub.active:
            continue
        lines.append(texts.PT_SUB_HEADER.format(key=(sub.extra or {}).get("key", ""), name=sub.title))
        for k, v in (
            ("unit", sub.unit),
            ("target", sub.target_text),
            ("target_year", sub.target_year_text),
            ("explanation", sub.text),
            ("check", _check(sub)),
            ("note", sub.note),
        ):
            line = _field(k, v)
            if line:
                lines.append("  " + line)
    return lines
