"""Coordinator review: `待审核` lists new reports; `通过` approves, `退回 理由` returns with a reason.

A task counts as 办结 only when a 已完成 report is approved. Only an assignment's newest version can be decided,
and nobody overrides another coordinator's decision (`reports.review` refuses and says who decided). The
official who reported is told, through the outbox (a proactive message). After a decision the next waiting report
is shown at once; `下一条` skips to it, `全部通过` approves every report the confirmation listed. The list and the
detail show each report's reporter, evidence and, for a correction, what changed since the previous version.

Declared as a dialogue of the kernel: the list and the report shown are soft states (anything else is a new
message); the reason asked for and the batch confirmation are firm ones.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.clock import Clock
from core.messages import Choice, Reply
from db.models import DONE, PENDING, Person, Report
from db.repositories import outbox, reports
from handlers import formatting as fmt
from handlers import kernel, texts, vocabulary
from handlers.context import Context, Replies
from handlers.understanding.numbers import fmt_number
from handlers.understanding.text import clean, normalize

LIST_SIZE = 10
BATCH_LISTED = 5  # reports named in the batch confirmation; the rest are counted
BATCH_SIZE = 50  # reports one 全部通过 approves at most


class ReviewState(StrEnum):
    PICK = "review.pick"  # the numbered list of reports waiting
    SHOW = "review.show"  # one report: 通过 / 退回 理由
    REASON = "review.reason"  # 退回 without a reason: ask for it
    CONFIRM_ALL = "review.confirm_all"  # 全部通过: the reports listed, waiting for 确认 (soft)


class ReviewData(BaseModel):
    options: list[int] = Field(default_factory=list)
    report_id: int | None = None
    batch: list[int] = Field(default_factory=list)  # the reports 全部通过 listed (not ones that arrive later)


def _load(ctx: Context) -> ReviewData:
    return ReviewData.model_validate({k: v for k, v in ctx.data.items() if not k.startswith("keep_")})


def _save(ctx: Context, state: ReviewState, data: ReviewData) -> None:
    ctx.go(state, **data.model_dump(mode="json", exclude_defaults=True))


def command(ctx: Context, text: str) -> Replies | None:
    """`待审核`, `下一条` and `全部通过` outside the dialogue (None: not one of them)."""
    if vocabulary.REVIEW_NEXT_RE.match(text):
        # "下一条" is review's only for coordinators; anyone else's goes on to be understood otherwise
        return _next(ctx, None) if ctx.is_coordinator else None
    if not vocabulary.REVIEW_LIST_RE.match(text) and not vocabulary.REVIEW_ALL_RE.match(text):
        return None
    if not ctx.is_coordinator:
        return [Reply(texts.NOT_ALLOWED)]
    if vocabulary.REVIEW_ALL_RE.match(text):
        return _ask_all(ctx)
    return _list(ctx)


def _local(ctx: Context, r: Report) -> str:
    return fmt.stored_short_minute(r.created_at, ctx.clock.tz)


def _pct(r: Report) -> str:
    return f" {fmt_number(r.percent)}%" if r.percent is not None and r.status != DONE else ""


# ---- what a report shows: evidence, and what changed since the previous version --------------------------------


def _evidence(r: Report) -> str:
    """The report's evidence: how many, and each file's name and kind."""
    if not r.attachments:
        return texts.REVIEW_EVIDENCE_NONE
    files = "、".join(
        texts.REVIEW_EVIDENCE_FILE.format(
            name=a.file_name or texts.REVIEW_EVIDENCE_KINDS.get(a.kind, a.kind),
            kind=texts.REVIEW_EVIDENCE_KINDS.get(a.kind, a.kind),
        )
        for a in sorted(r.attachments, key=lambda a: a.id)
    )
    return texts.REVIEW_EVIDENCE_LINE.format(n=len(r.attachments), files=files)


def _previous(ctx: Context, r: Report) -> Report | None:
    """The version `r` corrects, or else the assignment's version filed just before it."""
    if r.supersedes_id is not None:
        return ctx.session.get(Report, r.supersedes_id)
    return ctx.session.execute(
        select(Report)
        .where(
            Report.assignment_id == r.assignment_id,
            (Report.created_at < r.created_at) | ((Report.created_at == r.created_at) & (Report.id < r.id)),
        )
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _value(r: Report, name: str) -> str:
    """One field of a report as shown in a comparison ("—" when empty)."""
    v: Any = getattr(r, name)
    if v is None or v == "":
        return fmt.DASH
    if name == "status":
        return fmt.status_label(v)
    if name == "percent":
        return fmt.percent(v)
    if name == "investment_done":
        return fmt.money_wan(v)
    if name == "expected_date":
        return str(fmt.iso_day(v))
    return str(v)


_COMPARED = (
    ("status", texts.F_STATUS),
    ("percent", texts.F_PERCENT),
    ("investment_done", texts.F_INVESTMENT),
    ("physical_progress", texts.F_PHYSICAL),
    ("indicator_value", texts.F_INDICATOR),
    ("description", texts.F_DESCRIPTION),
    ("problems", texts.F_PROBLEMS),
    ("next_step", texts.F_NEXT),
    ("expected_date", texts.F_EXPECTED),
)


def _changes(r: Report, prev: Report) -> list[tuple[str, str, str]]:
    """(field name, old, new) of each field that differs between `prev` and `r`."""
    out = []
    for name, label in _COMPARED:
        old, new = _value(prev, name), _value(r, name)
        if old != new:
            out.append((label, old, new))
    return out


# ---- the list ---------------------------------------------------------------------------------------------------


def _list(ctx: Context) -> Replies:
    pending = reports.pending_reviews(ctx.session)
    if not pending:
        ctx.reset()
        return [Reply(texts.REVIEW_NONE)]
    lines = [texts.REVIEW_LIST_HEADER.format(n=len(pending))]
    choices = []
    for i, r in enumerate(pending[:LIST_SIZE], 1):
        a = r.assignment
        extra = texts.REVIEW_LINE_EVIDENCE.format(n=len(r.attachments)) if r.attachments else ""
        if r.no_change:
            extra += texts.REVIEW_LINE_NO_CHANGE
        prev = _previous(ctx, r)
        if prev is not None and r.supersedes_id is not None:
            changed = "、".join(label for label, _, _ in _changes(r, prev))
            extra += texts.REVIEW_LINE_CORRECTION.format(fields=changed or fmt.DASH)
        line = texts.REVIEW_LINE.format(
            org=a.organisation.name,
            label=a.item.label,
            status=texts.STATUS_LABELS[r.status],
            percent=_pct(r),
            person=r.person.name if r.person else fmt.DASH,
            date=_local(ctx, r),
            extra=extra,
        )
        lines.append(f"{i}. {line}")
        choices.append(Choice(f"{i}. {a.organisation.short_name or a.organisation.name} {a.item.label}", f"#{r.id}"))
    _save(ctx, ReviewState.PICK, ReviewData(options=[r.id for r in pending[:LIST_SIZE]]))
    return [Reply("\n".join(lines), choices=choices, listed=True)]


def _next(ctx: Context, after: Report | None, lead: list[str] | None = None) -> Replies:
    """Show the waiting report after `after` (in the list's order; from the start when None or none follows),
    with `lead` (what was just done) above it; without one, say so and end the review."""
    lead = lead or []
    waiting = reports.pending_reviews(ctx.session)
    pending = [r for r in waiting if after is None or r.id != after.id]
    if not pending:
        if after is not None and not lead and after.review_state == PENDING:
            return [Reply(texts.REVIEW_NO_OTHER)]  # `下一条` on the only one waiting: it stays shown
        ctx.reset()
        done = texts.REVIEW_ALL_DONE if after is not None or lead else texts.REVIEW_NONE
        return [Reply("\n".join([*lead, done]))]
    later = (
        [r for r in pending if (r.created_at, r.id) > (after.created_at, after.id)] if after is not None else pending
    )
    nxt = (later or pending)[0]
    heading = texts.REVIEW_SHOWING_NEXT.format(n=len(waiting)) if after is not None or lead else ""
    return _show(ctx, nxt.id, [*lead, heading] if heading else lead)


def _on_pick(ctx: Context, text: str) -> Replies | None:
    if not ctx.is_coordinator:
        return None
    options = _load(ctx).options
    t = normalize(text)
    if vocabulary.REVIEW_NEXT_RE.match(t):
        return _next(ctx, None)
    if vocabulary.REVIEW_ALL_RE.match(t):
        return _ask_all(ctx)
    act = _act_in_list(t)
    if act is not None:
        # "2 通过", "退回 1 理由", or 通过 / 退回 with one report listed: decided without opening it
        number, approve, _ = act
        if number is None and len(options) != 1:
            return [Reply(texts.REVIEW_PICK_FIRST.format(n=len(options)))]
        n = number if number is not None else 1
        if not 1 <= n <= len(options):
            return [Reply(texts.REVIEW_PICK_ERROR.format(n=len(options)))]
        if approve:
            return _decide(ctx, options[n - 1], True, None)
        typed = _act_in_list(clean(ctx.msg.text))  # the reason as typed (Chinese punctuation kept)
        reason = (typed or act)[2]
        if not reason:
            _save(ctx, ReviewState.REASON, ReviewData(report_id=options[n - 1]))
            return [Reply(texts.REVIEW_ASK_REASON)]
        return _decide(ctx, options[n - 1], False, reason)
    m = re.fullmatch(r"#?(\d+)", t)
    if not m:
        return None
    n = int(m.group(1))
    rid = n if t.startswith("#") else (options[n - 1] if 1 <= n <= len(options) else None)
    if rid is None or rid not in options:
        return [Reply(texts.REVIEW_PICK_ERROR.format(n=len(options)))]
    return _show(ctx, rid)


def _act_in_list(t: str) -> tuple[int | None, bool, str] | None:
    """(list number or None, approve, reason) of a decision typed at the list: "2 通过", "2退回 理由",
    "退回 2 理由", "通过第1条", or "通过" / "退回 理由" alone; None: no decision."""
    m = vocabulary.LIST_DECISION_RE.match(t)
    if m is not None:
        number = m.group("n1") or m.group("n2")
        word = m.group("w1") or m.group("w2")
        return int(number), vocabulary.PASS_RE.match(word) is not None, (m.group("r1") or m.group("r2") or "").strip()
    if vocabulary.PASS_RE.match(t):
        return None, True, ""
    r = vocabulary.RETURN_RE.match(t)
    if r is not None:
        return None, False, r.group(1).strip()
    return None


def _on_show(ctx: Context, text: str) -> Replies | None:
    if not ctx.is_coordinator:
        return None
    rid = _load(ctx).report_id
    assert rid is not None
    t = normalize(text)
    if vocabulary.PASS_RE.match(t):
        return _decide(ctx, rid, True, None)
    if vocabulary.LIST_DECISION_RE.match(t):
        # "退回 2 理由" with one report on screen: the list's numbers have moved since it was shown; decide nothing
        r = ctx.session.get(Report, rid)
        assert r is not None
        label, org = r.assignment.item.label, r.assignment.organisation.name
        return [Reply(texts.REVIEW_NUMBER_IN_DETAIL.format(label=label, org=org), choices=_detail_choices())]
    if vocabulary.REVIEW_NEXT_RE.match(t):
        return _next(ctx, ctx.session.get(Report, rid))
    if vocabulary.REVIEW_ALL_RE.match(t):
        return _ask_all(ctx)
    m = vocabulary.RETURN_RE.match(t)
    if m is None:
        return None
    # the reason as typed (normalising would turn its Chinese punctuation into ASCII)
    typed = vocabulary.RETURN_RE.match(clean(ctx.msg.text))
    reason = (typed or m).group(1).strip()
    if not reason:
        _save(ctx, ReviewState.REASON, ReviewData(report_id=rid))
        return [Reply(texts.REVIEW_ASK_REASON)]
    return _decide(ctx, rid, False, reason)


def _on_reason(ctx: Context, text: str) -> Replies:
    t = normalize(text)
    rid = _load(ctx).report_id
    if len(t) < 2 or rid is None or not ctx.is_coordinator:
        return [Reply(texts.REVIEW_ASK_REASON)]
    return _decide(ctx, rid, False, clean(ctx.msg.text) or t)


def _show(ctx: Context, rid: int, lead: list[str] | None = None) -> Replies:
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
    ):
        if value:
            details.append(f"{name}：{value}")
    details.append(_evidence(r))
    prev = _previous(ctx, r)
    if prev is not None:
        changes = _changes(r, prev)
        date = fmt.stored_day(prev.created_at, ctx.clock.tz)
        if changes:
            listed = "；".join(texts.REVIEW_CHANGE.format(field=f, old=o, new=n) for f, o, n in changes)
            details.append(texts.REVIEW_PREVIOUS.format(date=date, changes=listed))
        else:
            details.append(texts.REVIEW_PREVIOUS_SAME.format(date=date))
    _save(ctx, ReviewState.SHOW, ReviewData(report_id=rid))
    text = texts.REVIEW_DETAIL.format(
        label=a.item.label,
        org=a.organisation.name,
        person=r.person.name if r.person else fmt.DASH,
        channel=texts.CHANNEL_NAMES.get(r.channel, r.channel),
        date=_local(ctx, r),
        status=texts.STATUS_LABELS[r.status],
        percent=_pct(r),
        details="\n".join(details),
    )
    replies = [Reply("\n".join(lead))] if lead else []
    return [*replies, Reply(text, choices=_detail_choices())]


def _detail_choices() -> list[Choice]:
    return [
        Choice(texts.REVIEW_CHOICE_PASS, texts.REVIEW_CHOICE_PASS),
        Choice(texts.REVIEW_CHOICE_RETURN, texts.REVIEW_CHOICE_RETURN),
    ]


# ---- deciding ---------------------------------------------------------------------------------------------------


def _refusal(person: Person, clock: Clock, outcome: reports.ReviewOutcome) -> str:
    """Why a decision was refused, as the coordinator is told (in the chat and on the board)."""
    if outcome.refused == reports.SUPERSEDED:
        return texts.REVIEW_SUPERSEDED
    if outcome.report.reviewed_by_id == person.id:
        who = texts.REVIEW_DECIDED_YOU
    else:
        who = outcome.decided_by or texts.REVIEW_DECIDED_NOBODY
    when = ""
    if outcome.decided_at is not None:
        when = fmt.stored_day(outcome.decided_at, clock.tz) + fmt.local(outcome.decided_at, clock.tz).strftime(" %H:%M")
    decision = texts.REVIEW_DECISIONS.get(outcome.decided_state or "", outcome.decided_state or "")
    return texts.REVIEW_DECIDED.format(who=who, when=when, decision=decision)


def _notify_key(r: Report) -> str:
    """One notice per decision: a reviewer who changes their decision sends a new one."""
    stamp = r.reviewed_at.isoformat() if r.reviewed_at else ""
    return f"review:{r.id}:{r.review_state}:{stamp}"


@dataclass(frozen=True)
class Decision:
    """A review decision as recorded: the outcome, and what the coordinator is told (the decision, or why it was
    refused)."""

    outcome: reports.ReviewOutcome
    said: str

    @property
    def done(self) -> bool:
        return self.outcome.done


def decide(
    session: Session, clock: Clock, person: Person, report: Report, approve: bool, reason: str | None
) -> Decision:
    """Approve or return `report` as `person`, and tell the official who reported through the outbox: the one way a
    decision is recorded, from the chat (`通过`, `退回 理由`) or the board's review queue."""
    outcome = reports.review(session, report, person, approve, clock.utcnow(), reason)
    r = outcome.report
    if not outcome.done:
        return Decision(outcome, _refusal(person, clock, outcome))
    a = r.assignment
    closed = texts.REVIEW_CLOSED if outcome.closed else ""
    if approve:
        note = texts.REVIEW_NOTIFY_PASSED.format(label=a.item.label, closed=closed)
        said = texts.REVIEW_PASSED.format(org=a.organisation.name, label=a.item.label, closed=closed)
    else:
        note = texts.REVIEW_NOTIFY_RETURNED.format(label=a.item.label, reason=reason)
        said = texts.REVIEW_RETURNED.format(org=a.organisation.name, label=a.item.label, reason=reason)
    if r.person is not None:
        outbox.notify_person(session, r.person, _notify_key(r), "review", note, clock.utcnow())
    return Decision(outcome, said)


def _decide(ctx: Context, rid: int, approve: bool, reason: str | None) -> Replies:
    assert ctx.person is not None
    r = ctx.session.get(Report, rid)
    assert r is not None
    decision = decide(ctx.session, ctx.clock, ctx.person, r, approve, reason)
    r = decision.outcome.report
    if not decision.done:
        if decision.outcome.refused == reports.SUPERSEDED:
            newest = r.assignment.last_report
            if newest is not None and newest.review_state == PENDING:
                return _show(ctx, newest.id, [decision.said])
    return _next(ctx, r, [decision.said])


# ---- 全部通过 ----------------------------------------------------------------------------------------------------


def _ask_all(ctx: Context) -> Replies:
    """List what 全部通过 would approve and ask to confirm; the ids are kept, so later arrivals are not approved."""
    pending = reports.pending_reviews(ctx.session, limit=BATCH_SIZE)
    if not pending:
        ctx.reset()
        return [Reply(texts.REVIEW_NONE)]
    lines = [
        f"{i}. "
        + texts.REVIEW_LINE.format(
            org=r.assignment.organisation.name,
            label=r.assignment.item.label,
            status=texts.STATUS_LABELS[r.status],
            percent=_pct(r),
            person=r.person.name if r.person else fmt.DASH,
            date=_local(ctx, r),
            extra=texts.REVIEW_LINE_EVIDENCE.format(n=len(r.attachments)) if r.attachments else "",
        )
        for i, r in enumerate(pending[:BATCH_LISTED], 1)
    ]
    if len(pending) > BATCH_LISTED:
        lines.append(texts.REVIEW_ALL_MORE.format(n=len(pending)))
    _save(ctx, ReviewState.CONFIRM_ALL, ReviewData(batch=[r.id for r in pending]))
    choices = [Choice(texts.CHOICE_CONFIRM, texts.CHOICE_CONFIRM), Choice(texts.CHOICE_CANCEL, texts.CHOICE_CANCEL)]
    return [Reply(texts.REVIEW_ALL_ASK.format(n=len(pending), lines="\n".join(lines)), choices=choices)]


def _on_confirm_all(ctx: Context, text: str) -> Replies | None:
    """确认 approves the listed reports, 取消 (or no) drops them; anything else is a new message."""
    if not ctx.is_coordinator:
        return None
    t = normalize(text)
    if t == texts.CHOICE_CANCEL or t in vocabulary.END_WORDS or t in vocabulary.RETRY_WORDS:
        return kernel.end(ctx)
    if t not in vocabulary.YES_WORDS and t not in vocabulary.CONFIRM_WORDS:
        return None
    return _approve_all(ctx, _load(ctx).batch)


def _approve_all(ctx: Context, ids: list[int]) -> Replies:
    """Approve each of `ids` still waiting as its assignment's newest version; tell each official once."""
    assert ctx.person is not None
    now = ctx.clock.utcnow()
    approved: dict[int, list[tuple[Report, bool]]] = defaultdict(list)
    skipped: list[str] = []
    n = 0
    for rid in ids:
        r = ctx.session.get(Report, rid)
        if r is None:
            continue
        if r.review_state != PENDING:
            outcome = None  # decided meanwhile (by anyone): a batch never changes a decision
        else:
            outcome = reports.review(ctx.session, r, ctx.person, True, now)
        if outcome is None or not outcome.done:
            skipped.append(f"{r.assignment.organisation.name}「{r.assignment.item.label}」")
            continue
        n += 1
        if r.person_id is not None:
            approved[r.person_id].append((r, outcome.closed))
    for person_id, done in approved.items():
        person = ctx.session.get(Person, person_id)
        if person is None:
            continue
        if len(done) == 1:
            r, closed = done[0]
            note = texts.REVIEW_NOTIFY_PASSED.format(
                label=r.assignment.item.label, closed=texts.REVIEW_CLOSED if closed else ""
            )
        else:
            labels = "、".join(f"「{r.assignment.item.label}」" for r, _ in done)
            note = texts.REVIEW_NOTIFY_PASSED_MANY.format(n=len(done), labels=labels)
        digest = hashlib.sha1(",".join(str(r.id) for r, _ in done).encode()).hexdigest()[:12]
        outbox.notify_person(ctx.session, person, f"review:batch:{digest}", "review", note, now)
    out = [texts.REVIEW_ALL_DONE_N.format(n=n)]
    if skipped:
        out.append(texts.REVIEW_ALL_SKIPPED.format(n=len(skipped), labels="、".join(skipped)))
    ctx.reset()
    return [Reply("\n".join(out))]


def _prompt(ctx: Context) -> Replies:
    state = ReviewState(ctx.state)
    data = _load(ctx)
    if state == ReviewState.PICK:
        return _list(ctx)
    if state == ReviewState.SHOW and data.report_id is not None:
        return _show(ctx, data.report_id)
    if state == ReviewState.CONFIRM_ALL:
        choices = [Choice(texts.CHOICE_CONFIRM, texts.CHOICE_CONFIRM), Choice(texts.CHOICE_CANCEL, texts.CHOICE_CANCEL)]
        return [Reply(texts.REVIEW_ALL_ASK_AGAIN, choices=choices)]
    return [Reply(texts.REVIEW_ASK_REASON)]


DIALOGUE = kernel.register(
    kernel.Dialogue(
        name="review",
        states=ReviewState,
        handlers={ReviewState.REASON: _on_reason},
        soft={ReviewState.PICK: _on_pick, ReviewState.SHOW: _on_show, ReviewState.CONFIRM_ALL: _on_confirm_all},
        prompt=_prompt,
        accepts=lambda ctx, text: kernel.Fit.FREE,
        cancel=kernel.end,
        expires=False,
    )
)
