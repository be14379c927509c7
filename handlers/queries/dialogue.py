"""The query dialogue: where free-text questions enter, the follow-up states, and the dispatch to the answers.

The understanding layer (`handlers.understanding`) is built once at start-up (`install`) and kept in `services["nlu"]`;
every free-text message that is not part of another dialogue comes to `answer`. Answers are made for a phone:
one header line, then one short line per task/organisation, most urgent first, paged ("回复 更多 查看下一页")
so that no reply exceeds what a phone screen and WeCom (2048 bytes) accept (`paging`).

Every figure comes from `db.repositories.progress` (traffic lights, 序时进度, 逾期, 滞后).

Follow-up states (`QueryState`, soft states of the dialogue kernel; conversation data is JSON):
- pick: a name was ambiguous; `data["u"]` is the understanding, `data["choices"]` the candidates.
- page: a long answer; `data["pages"]` are the pages not yet shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from core.messages import Choice, Reply
from db.models import DONE, EVENT, PROJECT, Plan
from db.repositories import orgs, plans, progress, queries
from handlers import checkin, kernel, texts, urge, vocabulary
from handlers.context import Context, Replies
from handlers.queries import absence, access, attention, counts, lists, overview, paging, reporting, weekly, workbook
from handlers.queries.paging import Answer, Page
from handlers.queries.unknown import unknown_reply
from handlers.understanding import nlu as nlu_mod
from handlers.understanding.nlu import NLU, Candidate, Lexicon, Understanding
from handlers.understanding.text import as_typed

log = logging.getLogger(__name__)


class QueryState(StrEnum):
    PAGE = "query.page"  # an answer in pages: "更多" shows the next
    PICK = "query.pick"  # a name that means several things: pick one


# What a question typed mid-dialogue asks for: the plan's progress, lists and people, and the questions of a plan
# under way (催办 among them: a command a coordinator may give in the middle of a review).
QUESTION_INTENTS = (
    frozenset(
        {nlu_mod.PROGRESS, nlu_mod.OVERDUE, nlu_mod.UNREPORTED, nlu_mod.INVESTMENT, nlu_mod.MY_TASKS, nlu_mod.ON_LEAVE}
    )
    | nlu_mod.UNDER_WAY
)
OWN_LIST_INTENTS = frozenset({nlu_mod.MY_TASKS, nlu_mod.OVERDUE, nlu_mod.UNREPORTED, nlu_mod.MY_UNREPORTED})


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


def understand(ctx: Context, text: str) -> Understanding:
    """What `text` asks, with the understanding of the active plan."""
    return _understand(ctx, _nlu(ctx, plans.active_plan(ctx.session)), text)


def _understand(ctx: Context, nlu: NLU, text: str) -> Understanding:
    """`text` understood on the clock's day and, for an official, within his own units' items first."""
    own_orgs: list[int] | None = None
    own = access.own_org(ctx)
    if own is not None and not access.sees_all(ctx):
        own_orgs = orgs.descendants(ctx.session, [own])
    return nlu.understand(text, today=ctx.clock.today(), own_orgs=own_orgs)


def answer(ctx: Context, text: str, allow_report: bool) -> Replies:
    """Answer an idle free-text message."""
    if kernel.dialogue_of(ctx.state) is DIALOGUE:
        ctx.reset()
    if vocabulary.MORE_RE.match(text.strip()):
        return [Reply(texts.Q_NO_MORE)]  # "更多" after the last page, or with nothing paged
    plan = plans.active_plan(ctx.session)
    nlu = _nlu(ctx, plan)
    u = _understand(ctx, nlu, text)
    return respond(ctx, nlu, plan, u, allow_report)


def on_message(ctx: Context, text: str) -> Replies | None:
    """Follow-ups: a number for an ambiguous name, "更多" for the next page. None: a new message."""
    state = QueryState(ctx.state)
    if state == QueryState.PAGE:
        if vocabulary.MORE_RE.match(text.strip()):
            return _next_page(ctx)
        ctx.reset()
        return None
    if state == QueryState.PICK:
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
        return [Reply(ctx.help_text)]
    if u.intent == nlu_mod.UNKNOWN:
        if vocabulary.THANKS_RE.match(u.text.strip()):
            return [Reply(texts.Q_ACK)]
        return [unknown_reply(ctx, nlu, u)]
    if u.intent == nlu_mod.ON_LEAVE and not u.ambiguous:
        return _shown(ctx, absence.on_leave(ctx, lex, u))  # about people, not the plan: no plan needed
    if plan is None:
        return [Reply(texts.Q_NO_PLAN)]
    if u.intent == nlu_mod.REPORT:
        return _report(ctx, nlu, plan, u, allow_report)
    if u.ambiguous:
        return _ask(ctx, u)
    if u.intent == nlu_mod.URGE:
        return urge.answer(ctx, lex, plan, list(u.org_ids), u.group)
    if u.intent == nlu_mod.MY_TASKS:
        own = access.own_org(ctx)
        if own is None:
            return [Reply(texts.Q_NO_ORG)]
        return _shown(ctx, overview.org_progress(ctx, lex, plan, own))
    senseless = _senseless(u)
    if senseless is not None:
        return [Reply(senseless)]
    answer_of = ANSWERS.get(u.intent)
    if answer_of is not None:
        return _shown(ctx, answer_of(ctx, lex, plan, u))
    if u.intent == nlu_mod.UNREPORTED:
        return _shown(ctx, lists.unreported(ctx, lex, plan, u))
    if u.intent == nlu_mod.OVERDUE:
        return _shown(ctx, lists.overdue(ctx, lex, plan, u))
    if u.intent == nlu_mod.INVESTMENT:
        return _shown(ctx, lists.investment(ctx, lex, plan, u))
    return _shown(ctx, overview.progress_answer(ctx, lex, plan, u))


# The answers of the questions of a plan under way (issue 15), by intent.
ANSWERS: dict[str, Callable[[Context, Lexicon, Plan, Understanding], Answer]] = {
    nlu_mod.DUE: attention.due,
    nlu_mod.LAGGING: attention.lagging,
    nlu_mod.BLOCKED_LIST: attention.blocked,
    nlu_mod.PROBLEMS: attention.problems,
    nlu_mod.UNMET: attention.unmet,
    nlu_mod.REPORTED: reporting.reported,
    nlu_mod.REVIEW_QUEUE: reporting.review_queue,
    nlu_mod.RETURNED: reporting.returned,
    nlu_mod.MY_UNREPORTED: reporting.my_unreported,
    nlu_mod.COUNT: counts.count,
    nlu_mod.RANKING: counts.ranking,
    nlu_mod.EXPORT: workbook.workbook,
    nlu_mod.DONE_LIST: attention.done,
    nlu_mod.WEEKLY: weekly.weekly,
    nlu_mod.URGED: reporting.urged,
}


def _senseless(u: Understanding) -> str | None:
    """What to say to a combination that makes no sense ("哪些活动滞后", "哪些项目没达标"): what can be asked
    instead; None when it makes sense."""
    if u.kind == EVENT and u.intent in texts.Q_INTENT_WORDS:
        return texts.Q_KIND_NOT_ANSWERED.format(
            kind=texts.Q_KIND_NAMES[EVENT],
            what=texts.Q_INTENT_WORDS[u.intent],
            examples="、".join(texts.Q_EXAMPLES_EVENTS),
        )
    if u.kind == PROJECT and u.intent == nlu_mod.UNMET and u.item_id is None:
        return texts.Q_KIND_UNMET_PROJECT.format(examples="、".join(texts.Q_EXAMPLES_PROJECTS))
    return None


# ---- pages ------------------------------------------------------------------------------------------------------


def _shown(ctx: Context, a: Answer) -> Replies:
    """An answer as replies: a long one page by page."""
    if isinstance(a, Page):
        return _paged(ctx, a.title, a.head, a.lines, a.tail)
    return a


def _paged(ctx: Context, title: str, head: str, lines: Sequence[str], tail: str = "") -> Replies:
    """`head` and `lines` in pages that fit a phone and WeCom; the rest waits for "更多"."""
    rendered = paging.split(title, head, lines, tail)
    total = len(rendered)
    if total == 1:
        return [Reply(rendered[0])]
    if ctx.nested:
        # Asked in the middle of a dialogue: no paging follow-up of its own; say how to see the rest.
        return [Reply(rendered[0] + "\n" + texts.Q_MORE_AFTER_DIALOGUE.format(page=1, pages=total))]
    ctx.go(QueryState.PAGE, pages=rendered[1:], page=2, pages_total=total)
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
        ctx.go(QueryState.PAGE, pages=pages, page=page + 1, pages_total=total)
        return [_with_more(current, page, total)]
    ctx.reset()
    return [Reply(current)]


# ---- ambiguity --------------------------------------------------------------------------------------------------


def _ask(ctx: Context, u: Understanding) -> Replies:
    choices = list(u.ambiguous[: nlu_mod.MAX_CHOICES])
    ctx.go(QueryState.PICK, u=u.to_json(), choices=[{"kind": c.kind, "id": c.id, "label": c.label} for c in choices])
    return [Reply(texts.Q_PICK, choices=[Choice(c.label, str(i)) for i, c in enumerate(choices, 1)])]


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
    own = access.own_org(ctx)
    if own is None:
        return [Reply(texts.Q_REPORT_NO_ORG)]
    org_id = own
    if ctx.is_coordinator and u.org_id is not None:
        org_id = u.org_id  # a coordinator may report for a unit it names ("墨脱县污水处理厂完成80%")
    candidates = report_candidates(ctx, nlu, plan, u, org_id)

    quantity = (u.quantity, u.quantity_unit) if u.quantity is not None and u.quantity_unit else None
    # a day ahead in a report is when it is expected done ("推进中 60 预计下周五完成"); a day past is when it was
    expected = u.window_end if u.window_end is not None and u.window_end > ctx.clock.today() else None
    # "预计下周五全部完成" is not done yet: expected done then, in progress now
    status = None if expected is not None and u.status == DONE and u.percent is None else u.status
    # the description as typed: its Chinese punctuation kept ("差不多一半了，预计下周五完成")
    said = as_typed(ctx.msg.text, u.text)
    return checkin.start_from_oneliner(
        ctx, candidates, u.percent, status, said, amount=u.amount, quantity=quantity, expected=expected
    )


DIALOGUE = kernel.register(
    kernel.Dialogue(
        name="query",
        states=QueryState,
        handlers={},
        soft={QueryState.PAGE: on_message, QueryState.PICK: on_message},
        prompt=lambda ctx: [],
        accepts=lambda ctx, text: kernel.Fit.NO,
        cancel=kernel.end,
        expires=False,
        soft_keeps_questions=False,
    )
)
