"""A coordinator sets the shares of a shared project in chat: `份额 项目8 墨脱县 300 [察隅县 400 …]` (these units'
shares, the others kept), `份额 项目8 平均` (the total split evenly, the remainder on the lead), `份额 项目8 清除`.

The same store as `duban plan share` (`plans.set_shares`): the shares survive a plan re-import unless the plan
gives its own.
"""

from __future__ import annotations

import re
from decimal import Decimal

from core.messages import Reply
from db.repositories import orgs, plans
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context, Replies

SHARE_WORD_RE = re.compile(r"^份额(\s|项目|$)")
SHARE_RE = re.compile(r"^份额\s*(?:项目\s*)?(\d+)\s*(.*)$")
_PAIR_RE = re.compile(r"([^\s\d=＝:：,，、；;]+)\s*[=＝:：]?\s*(\d+(?:\.\d+)?)\s*(?:万元|万)?")
_EVEN = ("平均", "均分", "平均分配")
_CLEAR = ("清除", "清空", "取消")


def is_command(text: str) -> bool:
    """`text` is `份额 …` (a command even in the middle of a dialogue)."""
    return bool(SHARE_WORD_RE.match(text))


def command(ctx: Context, text: str) -> Replies | None:
    """`份额 …` (coordinators only); None: not this command."""
    if not SHARE_WORD_RE.match(text):
        return None
    if not ctx.is_coordinator:
        return [Reply(texts.NOT_ALLOWED)]
    m = SHARE_RE.match(text.strip())
    rest = m.group(2).strip() if m else ""
    pairs = _PAIR_RE.findall(rest)
    if m is None or not (
        rest in _EVEN or rest in _CLEAR or (pairs and _PAIR_RE.sub("", rest).strip(" ,，、；;") == "")
    ):
        return [Reply(texts.SHARE_CHAT_USAGE)]
    plan = plans.active_plan(ctx.session)
    item = plans.find_project(ctx.session, plan, int(m.group(1))) if plan is not None else None
    if item is None:
        return [Reply(texts.SHARE_NO_PROJECT.format(text=m.group(1)))]
    units = plans.project_units(ctx.session, item)
    total = Decimal(str(item.investment_total or 0))
    shares: dict[str, Decimal] | None
    if rest in _CLEAR:
        shares = None
    elif rest in _EVEN:
        shares = plans.even_shares(total, units)
    else:
        shares = {u: Decimal(str(v)) for u, v in ((item.extra or {}).get("shares") or {}).items()}
        for name, amount in pairs:
            org = orgs.find_org(ctx.session, name)
            if org is None or org.name not in units:
                return [Reply(texts.SHARE_BAD_UNIT.format(org=name, number=item.number, units="、".join(units)))]
            shares[org.name] = Decimal(amount)
    by = ctx.person.name if ctx.person is not None else ""
    try:
        stored = plans.set_shares(ctx.session, item, shares, by, ctx.clock.utcnow())
    except plans.ShareError as exc:
        if exc.kind == "negative":
            return [Reply(texts.SHARE_NEGATIVE.format(org=exc.unit))]
        if exc.kind == "unit":
            return [Reply(texts.SHARE_BAD_UNIT.format(org=exc.unit, number=item.number, units="、".join(units)))]
        given = sum((shares or {}).values(), Decimal(0))
        return [Reply(texts.SHARE_OVER.format(sum=fmt.money(given), total=fmt.money(total)))]
    if not stored:
        return [Reply(texts.SHARE_CLEARED.format(number=item.number))]
    listed = "、".join(texts.SHARE_ITEM.format(org=u, share=fmt.money(stored[u])) for u in units if u in stored)
    unknown = [u for u in units if u not in stored]
    return [
        Reply(
            texts.SHARE_SET.format(
                number=item.number,
                shares=listed,
                sum=fmt.money(sum(stored.values(), Decimal(0))),
                total=fmt.money(total),
            )
            + (texts.SHARE_UNKNOWN_UNITS.format(units="、".join(unknown)) if unknown else "")
        )
    ]
