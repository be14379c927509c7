"""Questions in plain Chinese: "墨脱县进度", "生态环境局有逾期的吗", "谁还没汇报", "八及曲项目", "林草覆盖率达标了吗".

The understanding layer (`handlers.nlu`) is built once at start-up (`install`) and kept in `services["nlu"]`;
every free-text message that is not part of a dialogue comes to `answer`. Answers are made for a phone: one
header line, then one short line per task/organisation, most urgent first, paged ("回复 更多 查看下一页")
so that no reply exceeds what a phone screen and WeCom (2048 bytes) accept.

Every figure comes from `db.repositories.progress` (traffic lights, 序时进度, 逾期, 滞后).

Follow-up states (conversation data is JSON):
- query.pick: a name was ambiguous; `data["u"]` is the understanding, `data["choices"]` the candidates.
- query.page: a long answer; `data["pages"]` are the pages not yet shown.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.messages import Choice, Reply
from db.models import BLOCKED, INDICATOR, LEADER, PROJECT, Item, Plan
from db.repositories import plans, progress, queries
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import nlu as nlu_mod
from handlers import texts
from handlers.context import Context, Replies
from handlers.nlu import NLU, Candidate, Understanding

log = logging.getLogger(__name__)

PAGE_LINES = 14
PAGE_BYTES = 1800  # WeCom rejects text messages over 2048 bytes; leave room for the page footer
UNREPORTED_DAYS = 7
ACK_RE = re.compile(
    r"^(谢谢|多谢|感谢|谢了|好的|好|收到|ok|okay|嗯|嗯嗯|知道了|明白|明白了|了解|辛苦了|辛苦|👍|🙏)$", re.IGNORECASE
)
MORE_RE = re.compile(r"^(更多|下一页|下页|翻页|继续看|还有呢|more|next|n)$", re.IGNORECASE)
LIGHT_ORDER = {progress.RED: 0, progress.YELLOW: 1, progress.GREEN: 2}


# ---- set-up -----------------------------------------------------------------------------------------------------


def install(services: dict[str, Any], factory: sessionmaker[Session]) -> None:
    """Build the understanding layer once at start-up (jieba and the plan's names) and keep it in `services`."""
    try:
        with factory() as session:
            services["nlu"] = NLU.from_session(session)
    except DBAPIError:
        # No schema yet (a tool that does not migrate): start with no names; the first question rebuilds.
        log.warning("understanding layer started without the database's names", exc_info=True)
        services["nlu"] = NLU()


def _nlu(ctx: Context, plan: Plan | None) -> NLU:
    nlu: NLU | None = ctx.services.get("nlu")
    if nlu is None:
        # Not installed (a tool built the app without warming it): build it now, once.
        nlu = NLU.from_session(ctx.session)
        ctx.services["nlu"] = nlu
    elif nlu.stamp != queries.plan_stamp(plan):
        # The plan was imported by another process since this one started.
        nlu.refresh(ctx.session)
    return nlu


# ---- entry points -----------------------------------------------------------------------------------------------


def answer(ctx: Context, text: str, allow_report: bool) -> Replies:
    """Answer an idle free-text message."""
    if ctx.state.startswith("query."):
        ctx.reset()
    if MORE_RE.match(text.strip()):
        return [Reply(texts.Q_NO_MORE)]  # "更多" after the last page, or with nothing paged
    plan = plans.active_plan(ctx.session)
    nlu = _nlu(ctx, plan)
    u = nlu.understand(text)
    return respond(ctx, nlu, plan, u, allow_report)


def on_message(ctx: Context, text: str) -> Replies | None:
    """Follow-ups: a number for an ambiguous name, "更多" for the next page. None: a new message."""
    state = ctx.state
    if state == "query.page":
        if MORE_RE.match(text.strip()):
            return _next_page(ctx)
        ctx.reset()
        return None
    if state == "query.pick":
        choices = [Candidate(**c) for c in ctx.data.get("choices", [])]
        picked = _pick(text, choices)
        if picked is None:
            ctx.reset()
            return None
        plan = plans.active_plan(ctx.session)
        nlu = _nlu(ctx, plan)
        u = nlu_mod.with_choice(Understanding.from_json(ctx.data["u"]), picked, nlu.lexicon)
        ctx.reset()
        return respond(ctx, nlu, plan, u, allow_report=False)
    ctx.reset()
    return None


def _pick(text: str, choices: list[Candidate]) -> Candidate | None:
    t = text.strip()
    if t.isdigit() and 1 <= int(t) <= len(choices):
        return choices[int(t) - 1]
    for c in choices:
        if t and (t == c.label or t in c.label and len(t) >= 2):
            return c
    return None


def respond(ctx: Context, nlu: NLU, plan: Plan | None, u: Understanding, allow_report: bool) -> Replies:
    """The answer to an understood message."""
    lex = nlu.lexicon
    if u.intent == nlu_mod.HELP:
        return [Reply(texts.HELP_COORDINATOR if ctx.is_coordinator else texts.HELP_OFFICIAL)]
    if u.intent == nlu_mod.UNKNOWN:
        if ACK_RE.match(u.text.strip()):
            return [Reply(texts.Q_ACK)]
        return [_unknown(ctx, nlu, u)]
    if plan is None:
        return [Reply(texts.Q_NO_PLAN)]
    if u.intent == nlu_mod.REPORT:
        return _report(ctx, nlu, plan, u, allow_report)
    if u.ambiguous:
        return _ask(ctx, u)
    if u.intent == nlu_mod.MY_TASKS:
        own = _own_org(ctx)
        if own is None:
            return [Reply(texts.Q_NO_ORG)]
        return _org_progress(ctx, lex, plan, own)
    if u.intent == nlu_mod.UNREPORTED:
        return _unreported(ctx, lex, plan, u)
    if u.intent == nlu_mod.OVERDUE:
        return _overdue(ctx, lex, plan, u)
    if u.intent == nlu_mod.INVESTMENT:
        return _investment(ctx, lex, plan, u)
    return _progress(ctx, lex, plan, u)


# ---- permissions ------------------------------------------------------------------------------------------------


def _sees_all(ctx: Context) -> bool:
    """Coordinators (and leaders) may ask about everyone; officials about their own organisation."""
    if ctx.settings.open_queries or ctx.is_coordinator:
        return True
    return ctx.person is not None and ctx.person.role == LEADER


def _own_org(ctx: Context) -> int | None:
    return ctx.person.organisation_id if ctx.person is not None else None


def _own_name(ctx: Context, lex: nlu_mod.Lexicon) -> str:
    own = _own_org(ctx)
    return lex.org_name(own) if own is not None else fmt.DASH


def _scope(ctx: Context, lex: nlu_mod.Lexicon, u: Understanding) -> tuple[list[int] | None, Reply | None]:
    """Which organisations a question covers (None: all), or the refusal an official gets."""
    wanted: list[int] | None = list(u.org_ids) if u.org_ids else None
    if u.own:
        own = _own_org(ctx)
        wanted = [own] if own is not None else wanted
    if _sees_all(ctx):
        return wanted, None
    own = _own_org(ctx)
    if own is None:
        return None, Reply(texts.Q_NO_ORG)
    if wanted is None:
        if u.scope_all or u.group:
            return None, Reply(texts.Q_NOT_ALLOWED_ALL.format(own=lex.org_name(own)))
        return [own], None  # an official's "进度" is about their own organisation
    if wanted != [own]:
        return None, Reply(texts.Q_NOT_ALLOWED_ORG.format(own=lex.org_name(own)))
    return wanted, None


# ---- formatting -------------------------------------------------------------------------------------------------


def _date(ctx: Context, stored: dt.datetime | None) -> str:
    return fmt.stored_day(stored, ctx.clock.tz)


def _state(v: AssignmentView) -> str:
    """The reported percentage, or the status when there is none."""
    if v.percent is None:
        return fmt.status_label(v.status, never=texts.Q_NEVER)
    return fmt.percent(v.percent)


def _flags(v: AssignmentView) -> str:
    if v.done:
        return ""
    if v.overdue:
        return texts.Q_FLAG_OVERDUE.format(days=-v.days_left)
    if v.status == BLOCKED:
        return texts.Q_FLAG_BLOCKED
    if v.lagging:
        return texts.Q_FLAG_LAGGING
    if v.days_left == 0:
        return texts.Q_FLAG_DUE_TODAY
    if 0 < v.days_left <= progress.DUE_SOON_DAYS:
        return texts.Q_FLAG_DUE_SOON.format(days=v.days_left)
    return ""


def _item_label(v: AssignmentView) -> str:
    if v.item_kind == PROJECT:
        return texts.Q_PROJECT_PREFIX + v.label
    if v.item_kind == INDICATOR:
        return texts.Q_INDICATOR_PREFIX + v.label
    return v.label


def _task_line(ctx: Context, v: AssignmentView, label: str) -> str:
    date = _date(ctx, v.last_report_at)
    return texts.Q_LINE.format(
        light=v.light,
        label=label,
        state=_state(v),
        flags=_flags(v),
        date=texts.Q_DATE.format(date=date) if date else "",
    )


def _urgent_first(views: list[AssignmentView]) -> list[AssignmentView]:
    # the organisation last: a stable order on every backend (PostgreSQL returns rows in no particular order)
    return sorted(views, key=lambda v: (LIGHT_ORDER.get(v.light, 3), progress.urgency_key(v), v.org_id))


def _paged(ctx: Context, title: str, head: str, lines: Sequence[str], tail: str = "") -> Replies:
    """`head` and `lines` in pages that fit a phone and WeCom; the rest waits for "更多"."""
    pages: list[list[str]] = []
    current: list[str] = []
    size = len(head.encode())
    for line in lines:
        n = len(line.encode()) + 1
        if current and (len(current) >= PAGE_LINES or size + n > PAGE_BYTES):
            pages.append(current)
            current, size = [], len(title.encode()) + 40
        current.append(line)
        size += n
    pages.append(current)
    rendered: list[str] = []
    total = len(pages)
    for i, page in enumerate(pages, 1):
        top = head if i == 1 else texts.Q_CONTINUED.format(title=title, page=i, pages=total)
        body = "\n".join([top, *page]) if page else top
        if i == total and tail:
            body += "\n" + tail
        rendered.append(body)
    if total == 1:
        return [Reply(rendered[0])]
    ctx.go("query.page", pages=rendered[1:], page=2, pages_total=total)
    return [_with_more(rendered[0], 1, total)]


def _with_more(text: str, page: int, total: int) -> Reply:
    return Reply(
        text + "\n" + texts.Q_MORE.format(page=page, pages=total),
        choices=[Choice(texts.Q_MORE_CHOICE, texts.Q_MORE_CHOICE)],
    )


def _next_page(ctx: Context) -> Replies:
    pages = list(ctx.data.get("pages") or [])
    if not pages:
        ctx.reset()
        return [Reply(texts.Q_NO_MORE)]
    page = int(ctx.data.get("page", 2))
    total = int(ctx.data.get("pages_total", page))
    current = pages.pop(0)
    if pages:
        ctx.go("query.page", pages=pages, page=page + 1, pages_total=total)
        return [_with_more(current, page, total)]
    ctx.reset()
    return [Reply(current)]


# ---- ambiguity and unknown --------------------------------------------------------------------------------------


def _ask(ctx: Context, u: Understanding) -> Replies:
    choices = list(u.ambiguous[: nlu_mod.MAX_CHOICES])
    ctx.go("query.pick", u=u.to_json(), choices=[{"kind": c.kind, "id": c.id, "label": c.label} for c in choices])
    return [Reply(texts.Q_PICK, choices=[Choice(c.label, str(i)) for i, c in enumerate(choices, 1)])]


def _unknown(ctx: Context, nlu: NLU, u: Understanding) -> Reply:
    examples = texts.Q_EXAMPLES_COORDINATOR[:3] if _sees_all(ctx) else texts.Q_EXAMPLES_OFFICIAL
    hint = ""
    words = [w for w in u.unknown_words if len(w) >= 2]
    if words and _sees_all(ctx):
        # Only here, on the slow path, compare loosely against every organisation name.
        names = {n: o.id for o in nlu.lexicon.orgs.values() for n in (o.name, o.label)}
        close: list[str] = []
        for w in words:
            for m in difflib.get_close_matches(w, list(names), n=3, cutoff=0.5):
                full = nlu.lexicon.org_name(names[m])
                if full not in close:
                    close.append(full)
        if close:
            hint = texts.Q_UNKNOWN_HINT.format(names="、".join(close[:3]))
    text = u.text.strip()
    if len(text) > 20:
        text = text[:20] + "…"
    return Reply(
        texts.Q_UNKNOWN.format(
            text=text, hint=hint, examples="\n".join(texts.Q_EXAMPLE_LINE.format(text=e) for e in examples)
        )
    )


# ---- one-line reports -------------------------------------------------------------------------------------------


def report_candidates(ctx: Context, nlu: NLU, plan: Plan, u: Understanding, org_id: int) -> list[int]:
    """Open assignments of `org_id` that the one-line report `u` may be about, best first."""
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=[org_id])
    items = nlu.lexicon.items
    pairs = [(v.assignment_id, items[v.item_id]) for v in views if not v.closed and v.item_id in items]
    return nlu_mod.rank_for_report(u, pairs)


def _report(ctx: Context, nlu: NLU, plan: Plan, u: Understanding, allow_report: bool) -> Replies:
    if not allow_report:
        return [Reply(texts.Q_REPORT_GROUP)]
    own = _own_org(ctx)
    if own is None:
        return [Reply(texts.Q_REPORT_NO_ORG)]
    org_id = own
    if ctx.is_coordinator and u.org_id is not None:
        org_id = u.org_id  # a coordinator may report for a unit it names ("墨脱县污水处理厂完成80%")
    candidates = report_candidates(ctx, nlu, plan, u, org_id)
    from handlers import checkin  # lazily: checkin imports this module's neighbours

    return checkin.start_from_oneliner(ctx, candidates, u.percent, u.status, u.text.strip())


# ---- progress ---------------------------------------------------------------------------------------------------


def _progress(ctx: Context, lex: nlu_mod.Lexicon, plan: Plan, u: Understanding) -> Replies:
    if u.item_id is not None:
        return _item_progress(ctx, lex, plan, u)
    org_ids, refusal = _scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    if org_ids is None:
        return _summary(ctx, lex, plan, texts.Q_WHOLE_CITY, None)
    if len(org_ids) == 1:
        return _org_progress(ctx, lex, plan, org_ids[0])
    if u.group or len(org_ids) > 3:
        return _summary(ctx, lex, plan, u.group or "、".join(lex.org_label(o) for o in org_ids), org_ids)
    replies: Replies = []
    for oid in org_ids:
        replies += _org_progress(ctx, lex, plan, oid, paged=False)
    return replies


def _org_progress(ctx: Context, lex: nlu_mod.Lexicon, plan: Plan, org_id: int, paged: bool = True) -> Replies:
    name = lex.org_name(org_id)
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=[org_id])
    if not views:
        return [Reply(texts.Q_NO_TASKS.format(name=name))]
    c = progress.count(views)
    head = texts.Q_ORG_HEADER.format(
        name=name,
        total=c.total,
        done=c.done,
        in_progress=c.in_progress,
        not_started=c.not_started,
        blocked=c.blocked,
        overdue=c.overdue,
    )
    lines = [_task_line(ctx, v, _item_label(v)) for v in _urgent_first(views)]
    if not paged:
        # several organisations in one answer: each is cut to one page
        shown = lines[:PAGE_LINES]
        more = len(lines) - len(shown)
        tail = f"\n……另有{more}项，发送“{lex.org_label(org_id)}进度”查看全部" if more else ""
        return [Reply("\n".join([head, *shown]) + tail)]
    return _paged(ctx, f"【{name}】", head, lines)


def _summary(ctx: Context, lex: nlu_mod.Lexicon, plan: Plan, title: str, org_ids: list[int] | None) -> Replies:
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids)
    by_org: dict[int, list[AssignmentView]] = {}
    for v in views:
        by_org.setdefault(v.org_id, []).append(v)
    c = progress.count(views)
    head = texts.Q_GROUP_HEADER.format(
        name=title,
        n=len(by_org),
        total=c.total,
        completion=fmt.number(c.completion),
        done=c.done,
        in_progress=c.in_progress,
        not_started=c.not_started,
        blocked=c.blocked,
        overdue=c.overdue,
        lagging=c.lagging,
    )
    rows = []
    for oid, vs in by_org.items():
        oc = progress.count(vs)
        light = progress.RED if oc.overdue or oc.blocked else (progress.YELLOW if oc.lagging else progress.GREEN)
        rows.append((LIGHT_ORDER[light], -oc.overdue, -oc.lagging, oc.completion, oid, light, oc))
    rows.sort(key=lambda r: r[:5])
    lines = [
        texts.Q_GROUP_LINE.format(
            light=light,
            name=lex.org_label(oid),
            completion=fmt.number(oc.completion),
            lagging=oc.lagging,
            overdue=oc.overdue,
        )
        for *_, oid, light, oc in rows
    ]
    example = lex.org_label(rows[0][4]) if rows else "墨脱"
    return _paged(ctx, f"【{title}】", head, lines, texts.Q_GROUP_FOOTER.format(example=example))


def _item_progress(ctx: Context, lex: nlu_mod.Lexicon, plan: Plan, u: Understanding) -> Replies:
    assert u.item_id is not None
    item = queries.item_with_children(ctx.session, u.item_id)
    if item is None:
        return [Reply(texts.Q_NO_PLAN)]
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), item_ids=[item.id])
    if u.org_ids:
        # "墨脱县污水处理厂": that organisation's line only (when it is one of the item's units)
        views = [v for v in views if v.org_id in u.org_ids] or views
    if not _sees_all(ctx):
        own = _own_org(ctx)
        views = [v for v in views if v.org_id == own]
        if not views:
            return [Reply(texts.Q_NOT_ALLOWED_ITEM.format(label=lex.item_label(item.id), own=_own_name(ctx, lex)))]
    if item.kind == PROJECT:
        return _project(ctx, lex, item, views)
    if item.kind == INDICATOR:
        return _indicator(ctx, lex, item, views)
    return _task(ctx, lex, item, views)


def _task(ctx: Context, lex: nlu_mod.Lexicon, item: Item, views: list[AssignmentView]) -> Replies:
    if len(views) == 1:
        v = views[0]
        date = _date(ctx, v.last_report_at) or texts.Q_NEVER
        problems = texts.Q_ITEM_PROBLEMS.format(text=v.problems) if v.problems else ""
        return [
            Reply(
                texts.Q_TASK_ONE.format(
                    org=lex.org_name(v.org_id),
                    title=item.title,
                    due=fmt.day(v.due),
                    light=v.light,
                    state=_state(v),
                    flags=_flags(v),
                    expected=fmt.number(v.expected),
                    date=date,
                    problems=problems,
                )
            )
        ]
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
    lines = [_task_line(ctx, v, lex.org_label(v.org_id)) for v in _urgent_first(views)]
    return _paged(ctx, f"【{item.short_name or item.title}】", head, lines)


def _project(ctx: Context, lex: nlu_mod.Lexicon, item: Item, views: list[AssignmentView]) -> Replies:
    lead = (item.extra or {}).get("lead") or fmt.DASH
    head = texts.Q_PROJECT_HEADER.format(number=item.number, title=item.title, lead=lead, years=item.years or fmt.DASH)
    total = item.investment_total
    done = queries.decimal_sum([v.investment_done for v in views])
    lines: list[str] = []
    if done is None:
        lines.append(texts.Q_PROJECT_INVEST_NONE.format(total=fmt.money(total)))
    else:
        lines.append(
            texts.Q_PROJECT_INVEST.format(done=fmt.money(done), total=fmt.money(total), pct=fmt.share(done, total))
        )
    if len(views) == 1:
        v = views[0]
        if v.physical_progress:
            lines.append(texts.Q_PROJECT_PHYSICAL.format(text=v.physical_progress))
        lines.append(
            texts.Q_PROJECT_PROGRESS.format(
                light=v.light, state=_state(v), flags=_flags(v), expected=fmt.number(v.expected)
            )
        )
        if v.last_report_at is not None:
            lines.append(texts.Q_PROJECT_LAST.format(date=_date(ctx, v.last_report_at), org=lex.org_name(v.org_id)))
        else:
            lines.append(texts.Q_PROJECT_NEVER)
        return [Reply("\n".join([head, *lines]))]
    latest = max(
        (v for v in views if v.last_report_at), key=lambda v: v.last_report_at or dt.datetime.min, default=None
    )
    if latest is not None and latest.physical_progress:
        lines.append(
            texts.Q_PROJECT_PHYSICAL.format(text=f"{latest.physical_progress}（{lex.org_label(latest.org_id)}）")
        )
    for v in _urgent_first(views):
        date = _date(ctx, v.last_report_at)
        invest = (
            texts.Q_PROJECT_UNIT_INVEST.format(done=fmt.money(v.investment_done))
            if v.investment_done is not None
            else ""
        )
        lines.append(
            texts.Q_PROJECT_UNIT_LINE.format(
                light=v.light,
                org=lex.org_label(v.org_id),
                state=_state(v) + _flags(v),
                invest=invest,
                date=texts.Q_DATE.format(date=date) if date else "",
            )
        )
    return _paged(ctx, f"【项目{item.number}】", head, lines)


def _verdict(item: Item, v: AssignmentView) -> str:
    return progress.indicator_verdict(item.check_op, item.check_value, v.indicator_number, v.status)


def _indicator(ctx: Context, lex: nlu_mod.Lexicon, item: Item, views: list[AssignmentView]) -> Replies:
    unit = f"（{item.unit}）" if item.unit else ""
    head = texts.Q_INDICATOR_HEADER.format(
        number=item.number,
        title=item.title,
        unit=unit,
        target=item.target_text or fmt.DASH,
        target_year=item.target_year_text or fmt.DASH,
    )
    lines: list[str] = []
    latest = progress.newest_report(views)
    if latest is None:
        lines.append(texts.Q_INDICATOR_NONE)
    else:
        value = latest.indicator_value or _state(latest)
        lines.append(
            texts.Q_INDICATOR_LATEST.format(
                value=value,
                date=_date(ctx, latest.last_report_at),
                org=lex.org_name(latest.org_id),
                verdict=fmt.verdict_label(_verdict(item, latest)),
            )
        )
    if len(views) > 3:
        lines.append(texts.Q_INDICATOR_RESPONSIBLE_N.format(n=len(views)))
    else:
        names = "、".join(lex.org_name(v.org_id) for v in views) or fmt.DASH
        lines.append(texts.Q_INDICATOR_RESPONSIBLE.format(names=names))
    subs = [c for c in item.children if c.active]
    if subs:
        lines.append(texts.Q_INDICATOR_SUBS)
        for s in subs:
            key = (s.extra or {}).get("key", "")
            lines.append(
                texts.Q_INDICATOR_SUB_LINE.format(
                    key=key, name=s.title, target=s.target_year_text or s.target_text or fmt.DASH
                )
            )
    if len(views) > 1:
        for v in _urgent_first(views):
            date = _date(ctx, v.last_report_at)
            value = v.indicator_value or (_state(v) if v.status is not None else "")
            lines.append(
                texts.Q_INDICATOR_UNIT.format(
                    light=v.light,
                    org=lex.org_label(v.org_id),
                    value=f" {value}" if value else "",
                    verdict=fmt.verdict_label(_verdict(item, v)),
                    date=texts.Q_DATE.format(date=date) if date else "",
                )
            )
    return _paged(ctx, f"【指标{item.number}】", head, lines)


# ---- overdue, unreported, investment ----------------------------------------------------------------------------


def _scope_title(lex: nlu_mod.Lexicon, u: Understanding, org_ids: list[int] | None) -> str:
    if org_ids is None:
        return texts.Q_WHOLE_CITY
    if u.group and not u.own:
        return u.group
    return "、".join(lex.org_name(o) for o in org_ids)


def _overdue(ctx: Context, lex: nlu_mod.Lexicon, plan: Plan, u: Understanding) -> Replies:
    org_ids, refusal = _scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    item_ids = [u.item_id] if u.item_id is not None else None
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids, item_ids=item_ids)
    scope = _scope_title(lex, u, org_ids)
    views = _urgent_first(views)
    overdue = [v for v in views if v.overdue]
    several_orgs = org_ids is None or len(org_ids) > 1
    if overdue:
        head = texts.Q_OVERDUE_HEADER.format(scope=scope, n=len(overdue))
        lines = [
            texts.Q_OVERDUE_LINE.format(
                org=lex.org_label(v.org_id) if several_orgs else "",
                label=_item_label(v),
                days=-v.days_left,
                state=_state(v),
            ).replace("🔴｜", "🔴")
            for v in overdue
        ]
        return _paged(ctx, f"【{scope}】", head, lines)
    soon = [v for v in views if not v.done and 0 <= v.days_left <= progress.DUE_SOON_DAYS]
    head = texts.Q_OVERDUE_NONE.format(scope=scope)
    if not soon:
        return [Reply(head)]
    lines = [texts.Q_DUE_SOON_HEADER.format(n=len(soon))] + [
        texts.Q_DUE_SOON_LINE.format(
            org=lex.org_label(v.org_id) if several_orgs else "",
            label=_item_label(v),
            due=fmt.day(v.due),
            state=_state(v),
        ).replace("🟡｜", "🟡")
        for v in soon
    ]
    return _paged(ctx, f"【{scope}】", head, lines)


def _unreported(ctx: Context, lex: nlu_mod.Lexicon, plan: Plan, u: Understanding) -> Replies:
    org_ids, refusal = _scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    if org_ids is None and not _sees_all(ctx):
        return [Reply(texts.Q_NOT_ALLOWED_ALL.format(own=_own_name(ctx, lex)))]
    now = ctx.clock.utcnow()
    since = now - dt.timedelta(days=UNREPORTED_DAYS)
    since_text = fmt.stored_day(since, ctx.clock.tz)
    activity = queries.reporting_activity(ctx.session, plan, org_ids)
    if org_ids is not None and len(org_ids) == 1 and not u.group:
        name = lex.org_name(org_ids[0])
        if not activity:
            return [Reply(texts.Q_ORG_NO_OPEN.format(org=name))]
        a = activity[0]
        if a.last_report_at is not None and a.last_report_at >= since:
            return [Reply(texts.Q_ORG_REPORTED.format(org=name, date=_date(ctx, a.last_report_at)))]
        last = (
            texts.Q_UNREPORTED_LAST.format(date=_date(ctx, a.last_report_at))
            if a.last_report_at
            else texts.Q_UNREPORTED_NEVER
        )
        return [Reply(texts.Q_ORG_NOT_REPORTED.format(org=name, last=last))]
    silent = [a for a in activity if a.last_report_at is None or a.last_report_at < since]
    if not silent:
        return [Reply(texts.Q_UNREPORTED_NONE.format(since=since_text))]
    # Never reported first, then the longest silent.
    silent.sort(key=lambda a: (a.last_report_at is not None, a.last_report_at or dt.datetime.min, a.org_id))
    people = queries.reporters_of(ctx.session, [a.org_id for a in silent])
    lines = []
    for i, a in enumerate(silent, 1):
        names = people.get(a.org_id, [])
        lines.append(
            texts.Q_UNREPORTED_LINE.format(
                i=i,
                org=a.org_name,
                people=texts.Q_UNREPORTED_PEOPLE.format(names="、".join(names[:3])) if names else "",
                last=texts.Q_UNREPORTED_LAST.format(date=_date(ctx, a.last_report_at))
                if a.last_report_at
                else texts.Q_UNREPORTED_NEVER,
            )
        )
    head = texts.Q_UNREPORTED_SUMMARY.format(since=since_text, reported=len(activity) - len(silent), n=len(silent))
    return _paged(ctx, "【未汇报】", head, lines)


def _investment(ctx: Context, lex: nlu_mod.Lexicon, plan: Plan, u: Understanding) -> Replies:
    if u.item_id is not None and u.item_kind == PROJECT:
        return _item_progress(ctx, lex, plan, u)
    org_ids, refusal = _scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=org_ids, kinds=(PROJECT,))
    by_item: dict[int, list[AssignmentView]] = {}
    for v in views:
        by_item.setdefault(v.item_id, []).append(v)
    if not by_item:
        return [Reply(texts.Q_NO_PROJECTS.format(name=_scope_title(lex, u, org_ids)))]
    total = Decimal(0)
    done_all = Decimal(0)
    lines = []
    for _item_id, vs in sorted(by_item.items(), key=lambda kv: (kv[1][0].item_number or 0, kv[0])):
        v0 = vs[0]
        planned = Decimal(str(v0.investment_total or 0))
        total += planned
        done = queries.decimal_sum([v.investment_done for v in vs])
        done_all += done or 0
        light = min((v.light for v in vs), key=lambda x: LIGHT_ORDER.get(x, 3))
        last = max((v.last_report_at for v in vs if v.last_report_at), default=None)
        date = _date(ctx, last)
        if done is None:
            lines.append(
                texts.Q_INVEST_LINE_NONE.format(
                    light=light, number=v0.item_number, label=v0.label, total=fmt.money(planned)
                )
            )
            continue
        lines.append(
            texts.Q_INVEST_LINE.format(
                light=light,
                number=v0.item_number,
                label=v0.label,
                done=fmt.money(done),
                total=fmt.money(planned),
                pct=fmt.share(done, planned),
                date=texts.Q_DATE.format(date=date) if date else "",
            )
        )
    head = texts.Q_INVEST_HEADER.format(
        n=len(by_item), total=fmt.money(total), done=fmt.money(done_all), pct=fmt.share(done_all, total)
    )
    return _paged(ctx, "【项目投资】", head, lines)
