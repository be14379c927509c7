"""A coordinator's verdict on an indicator (`判定 指标12 达标 [理由]`, one unit: `判定 指标12 墨脱县 未达标 理由`),
and the answer to `序时进度是什么` (how 序时进度, 滞后, the lights and the rankings are computed).

The verdict is stored (`progress.judge_indicator`) and stands over the indicator's rule for the reports filed up
to then; chat, digest, export and plan show all read it through `progress.verdicts` and show who judged.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from core.messages import Reply
from db.models import INDICATOR, Assignment, Item, Organisation
from db.repositories import plans, progress
from handlers import formatting as fmt
from handlers import queries, texts
from handlers.context import Context, Replies

JUDGE_RE = re.compile(r"^判定\s*(?:指标\s*)?(\d+)?\s*(.*?)\s*(未达标|不达标|达标)\s*[:：，,]?\s*(.*)$")
JUDGE_WORD_RE = re.compile(r"^判定(\s|指标|$)")
EXPECTED_RE = re.compile(
    r"^(?:什么是|啥是)?(?:序时进度|滞后)(?:是什么意思|是什么|是啥|什么意思|怎么算|怎么计算|的意思)?[?？]?$"
)


def is_command(text: str) -> bool:
    """`text` is `判定 …` or `序时进度是什么` (a command even in the middle of a dialogue)."""
    return bool(JUDGE_WORD_RE.match(text) or EXPECTED_RE.match(text))


def command(ctx: Context, text: str) -> Replies | None:
    """`判定 …` (coordinators only) and `序时进度是什么`; None: neither."""
    if EXPECTED_RE.match(text):
        return [Reply(explain_expected(ctx))]
    if not JUDGE_WORD_RE.match(text):
        return None
    if not ctx.is_coordinator:
        return [Reply(texts.NOT_ALLOWED)]
    m = JUDGE_RE.match(text)
    if m is None or m.group(1) is None:
        return [Reply(texts.JUDGE_USAGE)]
    number, org_text, word, reason = int(m.group(1)), m.group(2).strip(), m.group(3), m.group(4).strip()
    plan = plans.active_plan(ctx.session)
    item = (
        ctx.session.execute(
            select(Item).where(Item.plan_id == plan.id, Item.kind == INDICATOR, Item.number == number)
        ).scalar_one_or_none()
        if plan is not None
        else None
    )
    if item is None:
        return [Reply(texts.JUDGE_NO_INDICATOR.format(number=number))]
    org_id: int | None = None
    if org_text:
        org_id = _org(ctx, item, org_text)
        if org_id is None:
            return [Reply(texts.JUDGE_NO_ORG.format(name=org_text, number=number))]
    verdict = progress.NOT_MET if word in ("未达标", "不达标") else progress.MET
    progress.judge_indicator(
        ctx.session,
        item,
        verdict,
        ctx.clock.utcnow(),
        ctx.person.id if ctx.person else None,
        org_id,
        reason or None,
    )
    org = texts.JUDGE_ORG.format(org=_org_name(ctx, org_id)) if org_id is not None else texts.JUDGE_ALL
    return [
        Reply(
            texts.JUDGE_DONE.format(
                number=number,
                label=item.short_name or item.title,
                org=org,
                verdict=fmt.verdict_label(verdict),
                reason=texts.VERDICT_JUDGED_REASON.format(reason=reason) if reason else "",
            )
        )
    ]


def _org(ctx: Context, item: Item, name: str) -> int | None:
    """The responsible unit of `item` that `name` names (None: none, or not one of its units)."""
    assigned = set(
        ctx.session.execute(
            select(Assignment.organisation_id).where(Assignment.item_id == item.id, Assignment.active.is_(True))
        ).scalars()
    )
    found = [o for o in queries.understand(ctx, name).org_ids if o in assigned]
    return found[0] if len(found) == 1 else None


def _org_name(ctx: Context, org_id: int) -> str:
    org = ctx.session.get(Organisation, org_id)
    return org.name if org is not None else str(org_id)


def explain_expected(ctx: Context) -> str:
    """How 序时进度, 滞后, the lights and the rankings are computed, with the margins in force."""
    plan = plans.active_plan(ctx.session)
    return texts.EXPECTED_EXPLAINED.format(
        start=fmt.day_or_dash(plan.start_date if plan is not None else None),
        lag=progress.THRESHOLDS.lag_points,
        grace=progress.THRESHOLDS.grace_days,
    )
