"""Coordinator review: `待审核` lists new reports; `通过` approves, `退回 理由` returns with a reason.

A task counts as 办结 only when a 已完成 report is approved. The official who reported is told, through
the outbox (a proactive message).
"""

from __future__ import annotations

import re

from core.messages import Choice, Reply
from db.models import DONE, Report
from db.repositories import outbox, reports
from handlers import texts
from handlers.context import IDLE, Context, Replies
from handlers.understanding.numbers import fmt_number
from handlers.understanding.text import normalize

LIST_RE = re.compile(r"^(待审核|审核|/review|待审|审核汇报)$")
PASS_RE = re.compile(r"^(通过|同意|审核通过|pass|ok)$", re.IGNORECASE)
RETURN_RE = re.compile(r"^(?:退回|驳回|不通过)\s*[:：,，]?\s*(.*)$")


def command(ctx: Context, text: str) -> Replies | None:
    if not LIST_RE.match(text):
        return None
    if not ctx.is_coordinator:
        return [Reply(texts.NOT_ALLOWED)]
    return _list(ctx)


def _local(ctx: Context, r: Report) -> str:
    return ctx.clock.to_local(r.created_at).strftime("%m-%d %H:%M")


def _pct(r: Report) -> str:
    return f" {fmt_number(r.percent)}%" if r.percent is not None and r.status != DONE else ""


def _list(ctx: Context) -> Replies:
    pending = reports.pending_reviews(ctx.session)
    if not pending:
        ctx.go(IDLE)
        return [Reply(texts.REVIEW_NONE)]
    lines = [texts.REVIEW_LIST_HEADER.format(n=len(pending))]
    choices = []
    for i, r in enumerate(pending[:10], 1):
        a = r.assignment
        lines.append(
            f"{i}. "
            + texts.REVIEW_LINE.format(
                org=a.organisation.name,
                label=a.item.label,
                status=texts.STATUS_LABELS[r.status],
                percent=_pct(r),
                date=_local(ctx, r),
            )
        )
        choices.append(Choice(f"{i}. {a.organisation.short_name or a.organisation.name} {a.item.label}", f"#{r.id}"))
    ctx.go("review.pick", options=[r.id for r in pending[:10]])
    return [Reply("\n".join(lines), choices=choices, listed=True)]


def on_message(ctx: Context, text: str) -> Replies | None:
    if not ctx.is_coordinator:
        ctx.go(IDLE)
        return None
    t = normalize(text)
    if ctx.state == "review.pick":
        options: list[int] = ctx.data.get("options", [])
        m = re.fullmatch(r"#?(\d+)", t)
        if not m:
            ctx.go(IDLE)
            return None
        n = int(m.group(1))
        rid = n if t.startswith("#") else (options[n - 1] if 1 <= n <= len(options) else None)
        if rid is None or rid not in options:
            return [Reply(texts.REVIEW_PICK_ERROR.format(n=len(options)))]
        return _show(ctx, rid)
    if ctx.state == "review.show":
        rid = ctx.data["report_id"]
        if PASS_RE.match(t):
            return _decide(ctx, rid, True, None)
        m = RETURN_RE.match(t)
        if m:
            reason = m.group(1).strip()
            if not reason:
                ctx.go("review.reason", report_id=rid)
                return [Reply(texts.REVIEW_ASK_REASON)]
            return _decide(ctx, rid, False, reason)
        ctx.go(IDLE)
        return None
    if ctx.state == "review.reason":
        if len(t) < 2:
            return [Reply(texts.REVIEW_ASK_REASON)]
        return _decide(ctx, ctx.data["report_id"], False, t)
    ctx.go(IDLE)
    return None


def _show(ctx: Context, rid: int) -> Replies:
    r = ctx.session.get(Report, rid)
    assert r is not None
    a = r.assignment
    details = []
    for name, value in (
        (texts.F_INVESTMENT, f"{fmt_number(r.investment_done, 2)} 万元" if r.investment_done is not None else None),
        (texts.F_PHYSICAL, r.physical_progress),
        (texts.F_INDICATOR, r.indicator_value),
        (texts.F_DESCRIPTION, r.description),
        (texts.F_PROBLEMS, r.problems),
        (texts.F_NEXT, r.next_step),
        (texts.F_EXPECTED, r.expected_date.isoformat() if r.expected_date else None),
        (texts.F_EVIDENCE, texts.EVIDENCE_COUNT.format(n=len(r.attachments)) if r.attachments else None),
    ):
        if value:
            details.append(f"{name}：{value}")
    ctx.go("review.show", report_id=rid)
    text = texts.REVIEW_DETAIL.format(
        label=a.item.label,
        org=a.organisation.name,
        person=r.person.name if r.person else "—",
        channel=r.channel,
        date=_local(ctx, r),
        status=texts.STATUS_LABELS[r.status],
        percent=_pct(r),
        details="\n".join(details),
    )
    choices = [
        Choice(texts.REVIEW_CHOICE_PASS, texts.REVIEW_CHOICE_PASS),
        Choice(texts.REVIEW_CHOICE_RETURN, texts.REVIEW_CHOICE_RETURN),
    ]
    return [Reply(text, choices=choices)]


def _decide(ctx: Context, rid: int, approve: bool, reason: str | None) -> Replies:
    assert ctx.person is not None
    r = ctx.session.get(Report, rid)
    assert r is not None
    outcome = reports.review(ctx.session, r, ctx.person, approve, ctx.clock.utcnow(), reason)
    a = r.assignment
    closed = texts.REVIEW_CLOSED if outcome.closed else ""
    if approve:
        note = texts.REVIEW_NOTIFY_PASSED.format(label=a.item.label, closed=closed)
        reply = texts.REVIEW_PASSED.format(org=a.organisation.name, label=a.item.label, closed=closed)
    else:
        note = texts.REVIEW_NOTIFY_RETURNED.format(label=a.item.label, reason=reason)
        reply = texts.REVIEW_RETURNED.format(org=a.organisation.name, label=a.item.label, reason=reason)
    if r.person is not None:
        outbox.notify_person(
            ctx.session,
            r.person,
            f"review:{r.id}:{'pass' if approve else 'return'}",
            "review",
            note,
            ctx.clock.utcnow(),
        )
    ctx.go(IDLE)
    return [Reply(reply + "\n" + texts.REVIEW_NEXT_HINT)]
