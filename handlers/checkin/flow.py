"""The check-in dialogue's states: one handler each, the pending question of each, and how a text fits it.

The kernel (handlers/kernel.py) calls these; `取消`, `帮助`, expiry, stale choices and questions typed in between
are the kernel's, not repeated here.
"""

from __future__ import annotations

from core.messages import Choice, Reply
from db.models import Assignment, Organisation
from db.repositories import orgs, reports
from handlers import texts, vocabulary
from handlers.checkin import listing, questions
from handlers.checkin.model import KEEP, CheckinData, CheckinState, Draft, Fields, Step, draft_of, load, save
from handlers.checkin.summary import (
    assignment,
    begin_confirm,
    field_from_text,
    modify_choices,
    modify_error,
    submit,
    summary,
)
from handlers.context import Context, Replies
from handlers.kernel import Fit
from handlers.understanding.numbers import fmt_number, parse_amount
from handlers.understanding.text import normalize

S = CheckinState


def reporting_org(ctx: Context, data: CheckinData) -> Organisation | None:
    """The organisation this dialogue reports for: a coordinator may pick another with "汇报 单位"."""
    org_id = data.org_id or (ctx.person.organisation_id if ctx.person else None)
    return ctx.session.get(Organisation, org_id) if org_id else None


# ---- entry -----------------------------------------------------------------------------------------------------


def start(ctx: Context, org_name: str | None = None) -> Replies:
    """`汇报` (coordinators: `汇报 单位`): list the open tasks, most urgent first."""
    assert ctx.person is not None
    org: Organisation | None = ctx.person.organisation
    if org_name:
        target = orgs.find_org(ctx.session, org_name)
        if target is None:
            hint = orgs.name_index(ctx.session).closest(org_name)
            said = ("是否指：" + "、".join(hint)) if hint else ""
            return [Reply(texts.UNKNOWN_ORG_FOR_REPORT.format(name=org_name, hint=said))]
        if not ctx.is_coordinator and (org is None or target.id != org.id):
            own = org.name if org else "—"
            return [Reply(texts.OTHER_ORG_TASK.format(own=own, label="汇报", other=target.name))]
        org = target
    if org is None:
        return [Reply(texts.NO_ORG)]
    views = listing.own_open_assignments(ctx, org.id)
    if not views:
        ctx.reset()
        return [Reply(texts.NO_OPEN_TASKS.format(org=org.name))]
    save(ctx, S.PICK, CheckinData(org_id=org.id, options=[v.assignment_id for v in views]))
    reply = listing.list_reply(ctx, org.name, views, 0)
    kept = ctx.data.get(KEEP)
    if kept:
        a = ctx.session.get(Assignment, kept["data"]["draft"]["assignment_id"])
        if a is not None:
            reply.text += "\n" + texts.DRAFT_REPLACED_HINT.format(label=a.item.label)
    return [reply]


# ---- the pending question of each state -------------------------------------------------------------------------


def prompt(ctx: Context) -> Replies:
    """The question of the current state (asked on entry, after help, an interruption or `继续`)."""
    data = load(ctx)
    state = S(ctx.state)
    if state == S.PICK:
        org = reporting_org(ctx, data)
        views = listing.offered_views(ctx, org, data.options)
        return [listing.list_reply(ctx, org.name if org else "", views, data.page)]
    if state == S.ONELINER:
        return [Reply(texts.ONELINER_PICK, choices=listing.choices_for(ctx, data.options))]
    if state == S.NEXT:
        return [_next_offer(len(data.queue))]
    if state == S.PROMPTED:
        return []
    draft = draft_of(data)
    if state == S.CONFIRM:
        return [summary(ctx, draft)]
    if state == S.MODIFY:
        return [Reply(texts.Q_MODIFY, choices=modify_choices(ctx, draft))]
    if state == S.OVER:
        return [_over_reply(ctx, draft)]
    assert data.step is not None
    return [questions.question(data.step, assignment(ctx, draft).item, draft.fields.status)]


def _next_offer(n: int) -> Reply:
    choices = [Choice(texts.CHOICE_NEXT, texts.CHOICE_NEXT), Choice(texts.CHOICE_END, texts.CHOICE_END)]
    return Reply(texts.Q_NEXT_TASK.format(n=n), choices=choices)


def _over_reply(ctx: Context, draft: Draft) -> Reply:
    total = assignment(ctx, draft).item.investment_total
    return Reply(
        texts.Q_INVESTMENT_OVER.format(value=fmt_number(draft.fields.investment, 2), total=fmt_number(total, 2)),
        choices=[Choice(texts.CHOICE_CONFIRM, texts.CHOICE_CONFIRM), Choice(texts.CHOICE_RETRY, texts.CHOICE_RETRY)],
    )


def accepts(ctx: Context, text: str) -> Fit:
    """How `text` fits the pending question (the kernel asks before treating it as a question)."""
    data = load(ctx)
    state = S(ctx.state)
    t = normalize(text)
    if state in (S.PICK, S.ONELINER):
        aid, ambiguous = listing.pick_from(ctx, text, data.options)
        return Fit.YES if aid is not None or ambiguous or vocabulary.MORE_RE.match(t) else Fit.NO
    if state == S.CONFIRM:
        return Fit.YES if t in vocabulary.CONFIRM_WORDS or vocabulary.MODIFY_RE.match(t) else Fit.NO
    if state == S.MODIFY:
        return Fit.YES if field_from_text(ctx, draft_of(data), t) else Fit.NO
    if state == S.OVER:
        ok = t in vocabulary.YES_WORDS or t in vocabulary.RETRY_WORDS or parse_amount(t) is not None
        return Fit.YES if ok else Fit.NO
    if state == S.ASK and data.step is not None:
        draft = draft_of(data)
        return questions.fits(ctx, data.step, draft, assignment(ctx, draft).item, text)
    return Fit.NO


# ---- handlers ---------------------------------------------------------------------------------------------------


def on_pick(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    org = reporting_org(ctx, data)
    if vocabulary.MORE_RE.match(normalize(text)):
        page = data.page + 1
        data.page = page if page * listing.PAGE < len(data.options) else 0
        save(ctx, S.PICK, data)
        views = listing.offered_views(ctx, org, data.options)
        return [listing.list_reply(ctx, org.name if org else "", views, data.page)]
    aid, ambiguous = listing.pick_from(ctx, text, data.options)
    if aid is None and ambiguous:
        return [Reply(texts.PICK_AMBIGUOUS.format(text=text), choices=listing.choices_for(ctx, ambiguous))]
    if aid is None:
        other = listing.other_org_match(ctx, text)
        return [Reply(other or texts.PICK_NOT_FOUND.format(text=text, n=len(data.options)))]
    return begin_draft(ctx, aid, data.options)


def begin_draft(ctx: Context, assignment_id: int, options: list[int]) -> Replies:
    draft = Draft(assignment_id=assignment_id)
    a = assignment(ctx, draft)
    queue = [x for x in options if x != assignment_id]
    data = CheckinData(org_id=a.organisation_id, draft=draft, step=Step.STATUS, queue=queue, options=options)
    save(ctx, S.ASK, data)
    return [questions.header(ctx, a), *prompt(ctx)]


def on_oneliner(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    aid, _ = listing.pick_from(ctx, text, data.options)
    if aid is None:
        return [Reply(texts.PICK_NOT_FOUND.format(text=text, n=len(data.options)))]
    return begin_confirm(ctx, aid, data.oneliner or Fields())


def on_answer(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    draft = draft_of(data)
    step = data.step
    assert step is not None
    if step == Step.EVIDENCE:
        return _on_evidence(ctx, data, text)
    item = assignment(ctx, draft).item
    answer = questions.read_answer(ctx, step, draft, item, text)
    if answer.error or answer.fields is None:
        return [Reply(answer.error or texts.E_TEXT_SHORT), *prompt(ctx)]
    draft.fields = answer.fields
    if answer.over_total:
        save(ctx, S.OVER, data)
        return [_over_reply(ctx, draft)]
    return advance(ctx, data)


def _on_evidence(ctx: Context, data: CheckinData, text: str) -> Replies:
    draft = draft_of(data)
    if ctx.msg.attachments:
        now = ctx.clock.utcnow()
        names = []
        for att in ctx.msg.attachments:
            row = reports.add_attachment(
                ctx.session, att.kind, att.local_path, ctx.msg.channel, now, att.file_name, att.mime_type, att.size
            )
            draft.attachments.append(row.id)
            names.append(att.file_name or att.kind)
        save(ctx, S.ASK, data)
        reply = texts.EVIDENCE_GOT.format(n=len(draft.attachments), name="、".join(names))
        return [Reply(reply, choices=[Choice(texts.CHOICE_DONE, texts.CHOICE_DONE)])]
    t = normalize(text)
    if t in vocabulary.DONE_WORDS or vocabulary.is_skip(t):
        return advance(ctx, data)
    choices = [Choice(texts.CHOICE_DONE, texts.CHOICE_DONE), Choice(texts.CHOICE_SKIP, texts.CHOICE_SKIP)]
    return [Reply(texts.E_EVIDENCE, choices=choices)]


def advance(ctx: Context, data: CheckinData) -> Replies:
    """Count the current question answered and ask the next unanswered one, or show the summary."""
    draft = draft_of(data)
    assert data.step is not None
    if data.step not in draft.answered:
        draft.answered.append(data.step)
    kind = assignment(ctx, draft).item.kind
    steps = questions.steps_for(kind, draft.fields.status)
    if draft.editing:
        # A changed status may need a question it skipped before (e.g. 已完成 → 推进中 needs a %).
        missing = [
            s
            for s in steps
            if s not in draft.answered
            and s != Step.EVIDENCE
            and not (s == Step.PERCENT and draft.fields.percent is not None)
        ]
        draft.editing = bool(missing)
        if missing:
            data.step = missing[0]
            save(ctx, S.ASK, data)
            return prompt(ctx)
        save(ctx, S.CONFIRM, data)
        return [summary(ctx, draft)]
    idx = steps.index(data.step) + 1 if data.step in steps else 0
    while idx < len(steps) and steps[idx] in draft.answered:
        idx += 1
    if idx >= len(steps):
        save(ctx, S.CONFIRM, data)
        return [summary(ctx, draft)]
    data.step = steps[idx]
    save(ctx, S.ASK, data)
    return prompt(ctx)


def on_over(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    t = normalize(text)
    if t in vocabulary.YES_WORDS or t == "1":
        return advance(ctx, data)
    if t in vocabulary.RETRY_WORDS or t == "2":
        draft_of(data).fields.investment = None
        data.step = Step.INVESTMENT
        save(ctx, S.ASK, data)
        return prompt(ctx)
    if parse_amount(t) is not None:  # a new amount typed straight away re-enters it
        data.step = Step.INVESTMENT
        save(ctx, S.ASK, data)
        return on_answer(ctx, t)
    return [_over_reply(ctx, draft_of(data))]


def on_confirm(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    draft = draft_of(data)
    t = normalize(text)
    if t in vocabulary.CONFIRM_WORDS:
        return submit(ctx, data)
    m = vocabulary.MODIFY_RE.match(t)
    if m is None:
        return [Reply(texts.E_CONFIRM), summary(ctx, draft)]
    key = field_from_text(ctx, draft, m.group(1))
    if key:
        return modify(ctx, data, key)
    if m.group(1):
        return [Reply(modify_error(ctx, draft, m.group(1)))]
    save(ctx, S.MODIFY, data)
    return prompt(ctx)


def on_modify(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    draft = draft_of(data)
    key = field_from_text(ctx, draft, normalize(text))
    if key is None:
        return [Reply(modify_error(ctx, draft, text), choices=modify_choices(ctx, draft))]
    return modify(ctx, data, key)


def modify(ctx: Context, data: CheckinData, key: Step) -> Replies:
    draft_of(data).editing = True
    data.step = key
    save(ctx, S.ASK, data)
    return prompt(ctx)


def on_next(ctx: Context, text: str) -> Replies | None:
    """After a report: `下一项` starts the next task; anything else leaves the offer and is a new message."""
    data = load(ctx)
    t = normalize(text)
    if (t in vocabulary.NEXT_WORDS or t == "1") and data.queue:
        return begin_draft(ctx, data.queue[0], data.queue)
    if t in vocabulary.END_WORDS or t == "2":
        ctx.reset()
        return [Reply(texts.END_SESSION)]
    return None


def on_prompted(ctx: Context, text: str) -> Replies | None:
    """Armed by the weekly prompt: a short yes starts the check-in; anything else is a normal message."""
    if not vocabulary.PROMPT_YES_RE.match(text):
        return None
    ctx.reset()
    return start(ctx)


# ---- leaving ----------------------------------------------------------------------------------------------------


def park(ctx: Context) -> None:
    """Keep the current draft so `继续` can resume it, and leave the dialogue."""
    snapshot = {"state": ctx.state, "data": {k: v for k, v in ctx.data.items() if not k.startswith("keep_")}}
    ctx.reset()
    ctx.update(**{KEEP: snapshot})


def cancel(ctx: Context) -> Replies:
    if load(ctx).draft is not None:
        park(ctx)
        return [Reply(texts.CANCELLED_DRAFT_KEPT)]
    ctx.reset()
    return [Reply(texts.CANCELLED)]


def expire(ctx: Context) -> Replies | None:
    """Silence past the expiry: a draft is parked (and the user told); a list or an offer simply ends."""
    if load(ctx).draft is not None:
        park(ctx)
        return [Reply(texts.DRAFT_EXPIRED)]
    return None
