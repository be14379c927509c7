"""The check-in dialogue's states: one handler each, the pending question of each, and how a text fits it.

The kernel (handlers/kernel.py) calls these; `取消`, `帮助`, expiry, stale choices and questions typed in between
are the kernel's, not repeated here.
"""

from __future__ import annotations

from decimal import Decimal

from core.messages import Choice, Reply
from db.models import DONE, IN_PROGRESS, INDICATOR, PROJECT, RETURNED, Assignment, Organisation, Report
from db.repositories import orgs, reports
from handlers import formatting as fmt
from handlers import texts, vocabulary
from handlers.checkin import drafts, listing, questions, targets, weekly
from handlers.checkin.model import (
    CheckinData,
    CheckinState,
    Draft,
    Fields,
    Step,
    carried_forward,
    draft_of,
    fields_of,
    load,
    newest_report,
    save,
)
from handlers.checkin.summary import (
    after_submit,
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
from handlers.understanding.text import as_typed, normalize

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
        # an official may report for a unit below their own (工布江达县 for 工布江达县人民政府)
        if not ctx.is_coordinator and (org is None or not orgs.covers(ctx.session, org.id, target.id)):
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
    return [listing.list_reply(ctx, org.name, views, 0)]


def start_no_change(ctx: Context) -> Replies:
    """ "全部无变化" without the list (to the weekly prompt, or out of the blue): the confirmation at once."""
    listed = start(ctx)
    return weekly.ask_all(ctx, load(ctx)) if S(ctx.state) == S.PICK else listed


# ---- the pending question of each state -------------------------------------------------------------------------


def prompt(ctx: Context) -> Replies:
    """The question of the current state (asked on entry, after help, an interruption or `继续`)."""
    data = load(ctx)
    state = S(ctx.state)
    if state == S.PICK:
        # Asked again (after help, a question or a command in between): a reminder, not the whole list again;
        # the page's buttons stay.
        org = reporting_org(ctx, data)
        views = listing.offered_views(ctx, org, data.options)
        listed = listing.list_reply(ctx, org.name if org else "", views, data.page)
        return [Reply(texts.PICK_STILL.format(n=len(views)), choices=listed.choices, listed=True)]
    if state == S.ONELINER:
        return [Reply(texts.ONELINER_PICK, choices=listing.choices_for(ctx, data.options))]
    if state == S.NEXT:
        return [_next_offer(len(data.queue))]
    if state == S.PROMPTED:
        return []
    if state == S.DRAFTS:
        return [drafts_reply(ctx, data)]
    if state == S.NO_CHANGE:
        return weekly.ask_all(ctx, data)
    draft = draft_of(data)
    if state == S.FRACTION:
        return [weekly.fraction_question(data.fraction or Decimal(0))]
    if state == S.CONFIRM:
        return [summary(ctx, draft)]
    if state == S.MODIFY:
        return [Reply(texts.Q_MODIFY, choices=modify_choices(ctx, draft))]
    if state == S.OVER:
        return [_over_reply(ctx, draft)]
    assert data.step is not None
    return [questions.question_for(data.step, assignment(ctx, draft).item, draft)]


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
    if state == S.NO_CHANGE:
        return Fit.YES if t in vocabulary.CONFIRM_WORDS else Fit.NO
    if state == S.FRACTION:
        return Fit.YES if t in ("yes", "no") or t in vocabulary.YES_WORDS or t in vocabulary.RETRY_WORDS else Fit.NO
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
    t = normalize(text)
    if t in vocabulary.END_WORDS:
        ctx.reset()
        return [Reply(texts.END_SESSION)]
    which = vocabulary.RESUME_WHICH_RE.match(t)
    if which and drafts.parked(ctx):
        ctx.reset()
        return resume_parked(ctx, which.group(1))
    if vocabulary.MORE_RE.match(normalize(text)):
        page = data.page + 1
        data.page = page if page * listing.PAGE < len(data.options) else 0
        save(ctx, S.PICK, data)
        views = listing.offered_views(ctx, org, data.options)
        return [listing.list_reply(ctx, org.name if org else "", views, data.page)]
    quick = weekly.handle(ctx, data, text)
    if quick is not None:
        return [*quick, *prompt(ctx)] if ctx.state == S.ASK else quick
    aid, ambiguous = listing.pick_from(ctx, text, data.options)
    if aid is None and ambiguous:
        return [Reply(texts.PICK_AMBIGUOUS.format(text=text), choices=listing.choices_for(ctx, ambiguous))]
    if aid is None:
        other = listing.other_org_match(ctx, text)
        if other is None and weekly.states_alone(t):
            # "八成", "推进中" at the list: a line without its task
            return [Reply(texts.PICK_LINE_WITHOUT_TASK.format(text=text.strip(), n=len(data.options)))]
        return [Reply(other or texts.PICK_NOT_FOUND.format(text=text, n=len(data.options)))]
    return open_task(ctx, aid, data.options)


def open_task(ctx: Context, aid: int, options: list[int]) -> Replies:
    """A task picked from the list: its parked draft, its returned version to re-report, or a new draft."""
    if aid in drafts.parked(ctx):
        return restore(ctx, aid)
    last = newest_report(ctx, aid)
    if last is not None and last.review_state == RETURNED:
        return begin_rereport(ctx, last, options)
    return begin_draft(ctx, aid, options)


def begin_draft(ctx: Context, assignment_id: int, options: list[int]) -> Replies:
    a = ctx.session.get(Assignment, assignment_id)
    assert a is not None
    draft = Draft(assignment_id=assignment_id, previous=carried_forward(newest_report(ctx, assignment_id)))
    queue = [x for x in options if x != assignment_id]
    data = CheckinData(org_id=a.organisation_id, draft=draft, step=Step.STATUS, queue=queue, options=options)
    save(ctx, S.ASK, data)
    return [questions.header(ctx, a), *prompt(ctx)]


def begin_rereport(ctx: Context, returned: Report, options: list[int]) -> Replies:
    """`重新填报`: the returned version pre-filled, with the coordinator's reason, to correct and submit again."""
    a = ctx.session.get(Assignment, returned.assignment_id)
    assert a is not None
    draft = Draft(
        assignment_id=a.id,
        fields=fields_of(returned),
        supersedes=returned.id,
        answered=list(Step),
        returned_reason=returned.review_comment or "",
    )
    queue = [x for x in options if x != a.id]
    save(ctx, S.CONFIRM, CheckinData(org_id=a.organisation_id, draft=draft, queue=queue, options=options))
    intro = Reply(texts.REREPORT_INTRO.format(label=a.item.label, reason=returned.review_comment or texts.NONE_TEXT))
    return [intro, summary(ctx, draft)]


def restore(ctx: Context, aid: int) -> Replies:
    """Resume the parked draft of task `aid` at the question where it was left."""
    taken = drafts.take(ctx, aid)
    if taken is None:
        return [Reply(texts.NO_DRAFT)]
    state, data = taken
    save(ctx, S(state), data)
    intro = [Reply(texts.DRAFT_RESUMED)]
    if data.draft is not None:
        intro.append(questions.header(ctx, assignment(ctx, data.draft)))
    return [*intro, *prompt(ctx)]


def busy(ctx: Context) -> bool:
    """A draft is being written (a list or an offer is not)."""
    return load(ctx).draft is not None


def resume_in_dialogue(ctx: Context) -> Replies:
    """`继续` in the check-in: the question again while writing; from a list, the parked drafts."""
    if busy(ctx) or not drafts.parked(ctx):
        return prompt(ctx)
    ctx.reset()
    return resume_parked(ctx)


def resume_parked(ctx: Context, which: str = "") -> Replies:
    """`继续` (`继续 序号或名称`): a parked draft, at the question where it was left; several: which one."""
    kept = list(drafts.parked(ctx))
    if not kept:
        return [Reply(texts.NO_DRAFT)]
    aid = pick_draft(ctx, which, kept) if which else (kept[0] if len(kept) == 1 else None)
    if aid is not None:
        return restore(ctx, aid)
    save(ctx, S.DRAFTS, CheckinData())
    return [drafts_reply(ctx, CheckinData())]


def drafts_reply(ctx: Context, data: CheckinData) -> Reply:
    """The parked drafts, to pick the one to resume (or to discard)."""
    kept = list(drafts.parked(ctx))
    names = drafts.labels(ctx, kept)
    head = texts.DRAFTS_PICK_DISCARD if data.drafts_discard else texts.DRAFTS_PICK_RESUME
    lines = [head.format(n=len(kept))] + [f"{i}. {names[aid]}" for i, aid in enumerate(kept, 1)]
    choices = [Choice(f"{i}. {names[aid]}", f"#{aid}") for i, aid in enumerate(kept, 1)]
    return Reply("\n".join(lines), choices=choices, listed=True)


def on_drafts(ctx: Context, text: str) -> Replies | None:
    """Which parked draft: by its number, its button, or words of its task's name."""
    data = load(ctx)
    kept = list(drafts.parked(ctx))
    aid = pick_draft(ctx, text, kept)
    if aid is None:
        return None
    if data.drafts_discard:
        return discard_parked(ctx, aid)
    ctx.reset()
    return restore(ctx, aid)


def pick_draft(ctx: Context, text: str, kept: list[int]) -> int | None:
    aid, _ = listing.pick_from(ctx, text, kept)
    return aid


def discard_parked(ctx: Context, aid: int) -> Replies:
    label = drafts.labels(ctx, [aid])[aid]
    drafts.discard(ctx, aid)
    if S.DRAFTS.value == ctx.state:
        ctx.reset()
    return [Reply(texts.DRAFT_DISCARDED.format(label=label))]


def on_oneliner(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    aid, _ = listing.pick_from(ctx, text, data.options)
    if aid is None:
        return [Reply(texts.PICK_NOT_FOUND.format(text=text, n=len(data.options)))]
    return confirm_oneliner(ctx, aid, data.oneliner or Fields())


def confirm_oneliner(ctx: Context, aid: int, fields: Fields) -> Replies:
    """A one-line report's figures on its task, to confirm: a quantity becomes progress against the target."""
    a = ctx.session.get(Assignment, aid)
    assert a is not None
    if fields.quantity is not None and fields.quantity_unit and fields.percent is None:
        measured = targets.measure(a.item, fields.quantity, fields.quantity_unit)
        if isinstance(measured, str):
            return [Reply(measured)]
        fields.quantity, fields.quantity_unit, pct = measured.value, measured.unit, measured.percent
        if pct is not None:
            fields.percent = questions.rounded(pct, 1)
            fields.status = fields.status or (DONE if pct >= 100 else IN_PROGRESS)
    fields.status = fields.status or IN_PROGRESS
    if a.item.kind != PROJECT:
        fields.investment = None
    if a.item.kind == INDICATOR and fields.indicator is None and fields.percent is not None:
        # "生态环境信息公开率100%": the percentage is the indicator's value (it was stored as 指标值：无)
        fields.indicator = f"{fmt_number(fields.percent, 4)}%"
        fields.indicator_number = fields.percent
    return begin_confirm(ctx, aid, fields)


def on_answer(ctx: Context, text: str) -> Replies:
    data = load(ctx)
    draft = draft_of(data)
    step = data.step
    assert step is not None
    if step == Step.STATUS and weekly.line_at_status(ctx, data, text):
        # "5 推进中 60" at the first question of a task opened from the list: a line of the list. Nothing of this
        # draft was answered yet: it is dropped, and the line is taken as the list takes it.
        back = CheckinData(org_id=data.org_id, options=data.options, page=data.page)
        save(ctx, S.PICK, back)
        got = weekly.handle(ctx, back, text) or [Reply(texts.QUICK_NOT_UNDERSTOOD.format(text=text))]
        return [*got, *prompt(ctx)] if ctx.state == S.ASK else got
    if weekly.line_for_another(ctx, data, text):
        # "3 差不多一半" while 2's percentage is asked: 3's line, kept for when 2 is filed, not 2's answer
        line = as_typed(ctx.msg.text, text)
        data.later.append(line)
        save(ctx, S.ASK, data)
        label = assignment(ctx, draft).item.label
        return [Reply(texts.QUICK_LATER.format(line=line, label=label)), *prompt(ctx)]
    if step == Step.EVIDENCE:
        return _on_evidence(ctx, data, text)
    item = assignment(ctx, draft).item
    if step == Step.STATUS and draft.previous is not None and vocabulary.NO_CHANGE_RE.match(normalize(text)):
        return _no_change(ctx, data)
    if vocabulary.SAME_RE.match(normalize(text)) and questions.previous_value(step, draft) is not None:
        questions.keep_previous(step, draft)  # "同上": last time's answer again
        return advance(ctx, data)
    answer = questions.read_answer(ctx, step, draft, item, text)
    if answer.error or answer.fields is None:
        return [Reply(answer.error or texts.E_TEXT_SHORT), *prompt(ctx)]
    draft.fields = answer.fields
    if step == Step.STATUS and draft.fields.percent is None and Step.PERCENT in draft.answered:
        draft.answered.remove(Step.PERCENT)  # 已完成 → 推进中: the percentage must be asked again
    if answer.percent_given and Step.PERCENT not in draft.answered:
        draft.answered.append(Step.PERCENT)  # "推进中 60%": both answers in one
    if answer.fraction:
        data.fraction = draft.fields.percent
        save(ctx, S.FRACTION, data)
        return [weekly.fraction_question(draft.fields.percent or Decimal(0))]
    if answer.over_total:
        save(ctx, S.OVER, data)
        return [_over_reply(ctx, draft)]
    if step == Step.EXPECTED and draft.fields.expected is not None:
        said = fmt.fmt_date_back(draft.fields.expected, ctx.clock.today())
        return [Reply(texts.DATE_READ_BACK.format(date=said)), *advance(ctx, data)]
    return advance(ctx, data)


def _no_change(ctx: Context, data: CheckinData) -> Replies:
    """ "无变化" to the first question: last week's version again, filed at once."""
    draft = draft_of(data)
    filed, _, _ = weekly.file_no_change(ctx, [draft.assignment_id])
    if not filed:
        return [Reply(texts.NO_CHANGE_NONE_ABLE), *prompt(ctx)]
    a = assignment(ctx, draft)
    done = Reply(texts.NO_CHANGE_FILED_SOME.format(n=1, names=a.item.label))
    return [done, *after_submit(ctx, data, a)]


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
    if idx >= len(steps) and draft.quick:
        return _file_quick(ctx, data, draft)
    if idx >= len(steps):
        save(ctx, S.CONFIRM, data)
        return [summary(ctx, draft)]
    data.step = steps[idx]
    save(ctx, S.ASK, data)
    return prompt(ctx)


def _file_quick(ctx: Context, data: CheckinData, draft: Draft) -> Replies:
    """File a line's report, then take the lines typed for other tasks while its details were asked, in order,
    until one asks a question of its own (the rest wait behind it)."""
    out = weekly.file_quick(ctx, data, draft)
    while ctx.state == S.PICK:
        picked = load(ctx)
        if not picked.later:
            break
        line, picked.later = picked.later[0], picked.later[1:]
        save(ctx, S.PICK, picked)
        got = weekly.handle(ctx, picked, line)
        out += got if got is not None else [Reply(texts.QUICK_NOT_UNDERSTOOD.format(text=line))]
        if ctx.state == S.ASK:
            return [*out, *prompt(ctx)]
    return out


def on_fraction(ctx: Context, text: str) -> Replies:
    """ "0.8" typed for a percentage: 80 % (yes) or 0.8 % (no)."""
    data = load(ctx)
    draft = draft_of(data)
    t = normalize(text)
    value = data.fraction or draft.fields.percent or Decimal(0)
    if t == "yes" or t in vocabulary.YES_WORDS:
        draft.fields.percent = questions.rounded(value * 100, 1)
    elif t == "no" or t in vocabulary.RETRY_WORDS:
        draft.fields.percent = questions.rounded(value, 1)
    else:
        return [weekly.fraction_question(value)]
    data.fraction = None
    data.step = Step.PERCENT
    return advance(ctx, data)


def on_no_change(ctx: Context, text: str) -> Replies:
    return weekly.on_confirm_all(ctx, text, load(ctx))


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
    t = normalize(text)
    if vocabulary.ALL_NO_CHANGE_RE.match(t) or vocabulary.NO_CHANGE_RE.match(t):
        ctx.reset()
        return start_no_change(ctx)
    if not vocabulary.PROMPT_YES_RE.match(text):
        return None
    ctx.reset()
    return start(ctx)


# ---- leaving ----------------------------------------------------------------------------------------------------


def cancel(ctx: Context) -> Replies:
    draft = load(ctx).draft
    if draft is not None:
        drafts.park(ctx)
        return [Reply(texts.CANCELLED_DRAFT_KEPT.format(label=assignment(ctx, draft).item.label))]
    ctx.reset()
    return [Reply(texts.CANCELLED)]


def discard(ctx: Context, rest: str) -> Replies:
    """`删除草稿` in the dialogue: the draft being written is dropped (the list: a parked one, as when idle)."""
    draft = load(ctx).draft
    if draft is None:
        ctx.reset()
        return discard_command(ctx, rest)
    label = assignment(ctx, draft).item.label
    ctx.reset()
    return [Reply(texts.DRAFT_DISCARDED.format(label=label))]


def discard_command(ctx: Context, rest: str) -> Replies:
    """`删除草稿 [序号或名称]` outside a draft: one parked draft, or ask which."""
    kept = list(drafts.parked(ctx))
    if not kept:
        return [Reply(texts.NO_DRAFT)]
    aid = pick_draft(ctx, rest, kept) if rest else (kept[0] if len(kept) == 1 else None)
    if aid is not None:
        return discard_parked(ctx, aid)
    save(ctx, S.DRAFTS, CheckinData(drafts_discard=True))
    return [drafts_reply(ctx, load(ctx))]


def expire(ctx: Context) -> Replies | None:
    """Silence past the expiry: a draft is parked (and the user told); a list or an offer simply ends."""
    draft = load(ctx).draft
    if draft is not None:
        drafts.park(ctx)
        return [Reply(texts.DRAFT_EXPIRED.format(label=assignment(ctx, draft).item.label))]
    return None
