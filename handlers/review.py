"""Coordinator review: `待审核` lists new reports; `通过` approves, `退回 理由` returns with a reason.

A task counts as 办结 only when a 已完成 report is approved. The official who reported is told, through
the outbox (a proactive message). Declared as a dialogue of the kernel: the list and the report shown are soft
states (anything else is a new message), the reason asked for is a firm one.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field

from core.messages import Choice, Reply
from db.models import DONE, Report
from db.repositories import outbox, reports
from handlers import formatting as fmt
from handlers import kernel, texts, vocabulary
from handlers.context import Context, Replies
from handlers.understanding.numbers import fmt_number
from handlers.understanding.text import normalize

LIST_SIZE = 10


class ReviewState(StrEnum):
    PICK = "review.pick"  # the numbered list of reports waiting
    SHOW = "review.show"  # one report: 通过 / 退回 理由
    REASON = "review.reason"  # 退回 without a reason: ask for it


class ReviewData(BaseModel):
    options: list[int] = Field(default_factory=list)
    report_id: int | None = None


def _load(ctx: Context) -> ReviewData:
    return ReviewData.model_validate({k: v for k, v in ctx.data.items() if not k.startswith("keep_")})


def _save(ctx: Context, state: ReviewState, data: ReviewData) -> None:
    ctx.go(state, **data.model_dump(mode="json", exclude_defaults=True))


def command(ctx: Context, text: str) -> Replies | None:
    if not vocabulary.REVIEW_LIST_RE.match(text):
        return None
    if not ctx.is_coordinator:
        return [Reply(texts.NOT_ALLOWED)]
    return _list(ctx)


def _local(ctx: Context, r: Report) -> str:
    return fmt.stored_short_minute(r.created_at, ctx.clock.tz)


def _pct(r: Report) -> str:
    return f" {fmt_number(r.percent)}%" if r.percent is not None and r.status != DONE else ""


def _list(ctx: Context) -> Replies:
    pending = reports.pending_reviews(ctx.session)
    if not pending:
        ctx.reset()
        return [Reply(texts.REVIEW_NONE)]
    lines = [texts.REVIEW_LIST_HEADER.format(n=len(pending))]
    choices = []
    for i, r in enumerate(pending[:LIST_SIZE], 1):
        a = r.assignment
        line = texts.REVIEW_LINE.format(
            org=a.organisation.name,
            label=a.item.label,
            status=texts.STATUS_LABELS[r.status],
            percent=_pct(r),
            date=_local(ctx, r),
        )
        lines.append(f"{i}. {line}")
        choices.append(Choice(f"{i}. {a.organisation.short_name or a.organisation.name} {a.item.label}", f"#{r.id}"))
    _save(ctx, ReviewState.PICK, ReviewData(options=[r.id for r in pending[:LIST_SIZE]]))
    return [Reply("\n".join(lines), choices=choices, listed=True)]


def _on_pick(ctx: Context, text: str) -> Replies | None:
    if not ctx.is_coordinator:
        return None
    options = _load(ctx).options
    t = normalize(text)
    m = re.fullmatch(r"#?(\d+)", t)
    if not m:
        return None
    n = int(m.group(1))
    rid = n if t.startswith("#") else (options[n - 1] if 1 <= n <= len(options) else None)
    if rid is None or rid not in options:
        return [Reply(texts.REVIEW_PICK_ERROR.format(n=len(options)))]
    return _show(ctx, rid)


def _on_show(ctx: Context, text: str) -> Replies | None:
    if not ctx.is_coordinator:
        return None
    rid = _load(ctx).report_id
    assert rid is not None
    t = normalize(text)
    if vocabulary.PASS_RE.match(t):
        return _decide(ctx, rid, True, None)
    m = vocabulary.RETURN_RE.match(t)
    if m is None:
        return None
    reason = m.group(1).strip()
    if not reason:
        _save(ctx, ReviewState.REASON, ReviewData(report_id=rid))
        return [Reply(texts.REVIEW_ASK_REASON)]
    return _decide(ctx, rid, False, reason)


def _on_reason(ctx: Context, text: str) -> Replies:
    t = normalize(text)
    rid = _load(ctx).report_id
    if len(t) < 2 or rid is None or not ctx.is_coordinator:
        return [Reply(texts.REVIEW_ASK_REASON)]
    return _decide(ctx, rid, False, t)


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
    _save(ctx, ReviewState.SHOW, ReviewData(report_id=rid))
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
        key = f"review:{r.id}:{'pass' if approve else 'return'}"
        outbox.notify_person(ctx.session, r.person, key, "review", note, ctx.clock.utcnow())
    ctx.reset()
    return [Reply(reply + "\n" + texts.REVIEW_NEXT_HINT)]


def _prompt(ctx: Context) -> Replies:
    state = ReviewState(ctx.state)
    data = _load(ctx)
    if state == ReviewState.PICK:
        return _list(ctx)
    if state == ReviewState.SHOW and data.report_id is not None:
        return _show(ctx, data.report_id)
    return [Reply(texts.REVIEW_ASK_REASON)]


DIALOGUE = kernel.register(
    kernel.Dialogue(
        name="review",
        states=ReviewState,
        handlers={ReviewState.REASON: _on_reason},
        soft={ReviewState.PICK: _on_pick, ReviewState.SHOW: _on_show},
        prompt=_prompt,
        accepts=lambda ctx, text: kernel.Fit.FREE,
        cancel=kernel.end,
        expires=False,
    )
)
