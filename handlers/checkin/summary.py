"""The end of a draft: the summary to confirm, changing one item of it, and filing the report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.messages import Choice, Reply
from db.bounds import OutOfBounds
from db.models import DONE, IN_PROGRESS, INDICATOR, RETURNED, Assignment, Item, Report
from db.repositories import orgs, progress, reports
from handlers import formatting as fmt
from handlers import texts
from handlers.checkin import drafts
from handlers.checkin.listing import own_open_assignments, reported_this_week
from handlers.checkin.model import CheckinData, CheckinState, Draft, Fields, Step, draft_of, save
from handlers.checkin.questions import FIELD_NAMES, bounds_error, steps_for, unit
from handlers.context import Context, Replies
from handlers.understanding.numbers import fmt_number

FIELD_ALIASES = {
    "状态": Step.STATUS,
    "进度": Step.PERCENT,
    "百分比": Step.PERCENT,
    "完成率": Step.PERCENT,
    "投资": Step.INVESTMENT,
    "完成投资": Step.INVESTMENT,
    "资金": Step.INVESTMENT,
    "形象进度": Step.PHYSICAL,
    "形象": Step.PHYSICAL,
    "指标": Step.INDICATOR,
    "指标值": Step.INDICATOR,
    "数值": Step.INDICATOR,
    "工作情况": Step.DESCRIPTION,
    "说明": Step.DESCRIPTION,
    "情况": Step.DESCRIPTION,
    "描述": Step.DESCRIPTION,
    "困难": Step.PROBLEMS,
    "问题": Step.PROBLEMS,
    "困难问题": Step.PROBLEMS,
    "下一步": Step.NEXT_STEP,
    "计划": Step.NEXT_STEP,
    "预计完成": Step.EXPECTED,
    "日期": Step.EXPECTED,
    "完成日期": Step.EXPECTED,
    "时间": Step.EXPECTED,
    "佐证": Step.EVIDENCE,
    "佐证材料": Step.EVIDENCE,
    "附件": Step.EVIDENCE,
    "照片": Step.EVIDENCE,
}


def assignment(ctx: Context, draft: Draft) -> Assignment:
    a = ctx.session.get(Assignment, draft.assignment_id)
    assert a is not None
    return a


def shown_percent(f: Fields) -> str:
    """The percentage answered, with its range when one was typed: "75%（70–80%）"."""
    assert f.percent is not None
    shown = f"{fmt_number(f.percent)}%"
    if f.percent_low is not None and f.percent_high is not None:
        shown += texts.PERCENT_RANGE.format(low=fmt_number(f.percent_low), high=fmt_number(f.percent_high))
    return shown


def _value(step: Step, draft: Draft, item: Item, today: dt.date) -> str:
    f = draft.fields
    none = texts.NONE_TEXT
    if step == Step.STATUS:
        return texts.STATUS_LABELS.get(f.status or "", none)
    if step == Step.PERCENT:
        if f.percent is None:
            return none
        shown = shown_percent(f)
        if f.quantity is not None:
            shown += texts.PERCENT_OF_QUANTITY.format(quantity=f"{fmt_number(f.quantity, 4)}{f.quantity_unit or ''}")
        return shown
    if step == Step.INVESTMENT:
        if not f.investment:
            return none
        return f"{fmt_number(f.investment, 2)} 万元 / 总投资 {fmt_number(item.investment_total, 2)} 万元"
    if step == Step.INDICATOR:
        if not f.indicator:
            return none
        verdict = fmt.verdict_label(
            progress.indicator_verdict(
                item.check_op,
                item.check_value,
                f.indicator_number,
                f.status,
                text=f.indicator,
                target=item.target_year_text or item.target_text,
            )
        )
        return f"{f.indicator}（目标 {item.target_year_text or '—'}{unit(item)}，{verdict}）"
    if step == Step.EXPECTED:
        return fmt.fmt_date_back(f.expected, today) if f.expected else none
    if step == Step.EVIDENCE:
        return texts.EVIDENCE_COUNT.format(n=len(draft.attachments)) if draft.attachments else none
    value = getattr(f, step.value)
    return str(value) if value else none


def summary(ctx: Context, draft: Draft) -> Reply:
    a = assignment(ctx, draft)
    item = a.item
    steps = steps_for(item.kind, draft.fields.status)
    if Step.PERCENT not in steps and draft.fields.percent is not None:
        steps.insert(1, Step.PERCENT)
    lines = [texts.SUMMARY_HEADER, f"【{item.label}】{a.organisation.name}"]
    lines += _last_time(ctx, draft, a)
    lines += [f"• {FIELD_NAMES[step]}：{_value(step, draft, item, ctx.clock.today())}" for step in steps]
    lines.append(texts.SUMMARY_FOOTER)
    choices = [Choice(c, c) for c in (texts.CHOICE_CONFIRM, texts.CHOICE_MODIFY, texts.CHOICE_CANCEL)]
    return Reply("\n".join(lines), choices=choices)


def _last_time(ctx: Context, draft: Draft, a: Assignment) -> list[str]:
    """What the newest version said, when this one is a new version (not a correction of it), and a warning when
    this one says less: 已完成 before and not now, or a lower percentage (a slip of the finger, or a correction
    that belongs in 修改上次汇报)."""
    last = a.last_report
    if last is None or draft.supersedes is not None or draft.fields.no_change:
        return []
    said = fmt.status_with_percent(last.status, last.percent)
    review = fmt.review_label(last.review_state)
    when = fmt.stored_day(last.created_at, ctx.clock.tz)
    out = [texts.SUMMARY_LAST.format(said=said, date=when, review=("，" + review) if review else "")]
    now_pct, last_pct = draft.fields.percent, last.percent
    undone = last.status == DONE and draft.fields.status not in (DONE, None)
    lower = now_pct is not None and last_pct is not None and now_pct < last_pct
    if last.review_state != RETURNED and (undone or lower):
        out.append(texts.SUMMARY_LOWER)
    return out


def modifiable(ctx: Context, draft: Draft) -> list[Step]:
    kind = assignment(ctx, draft).item.kind
    steps = steps_for(kind, draft.fields.status)
    if Step.PERCENT not in steps and kind != INDICATOR:
        steps.insert(1, Step.PERCENT)
    return steps


def field_from_text(ctx: Context, draft: Draft, t: str) -> Step | None:
    """The item of the summary `t` names: its number in the summary, or a word for it."""
    t = t.strip()
    if not t:
        return None
    options = modifiable(ctx, draft)
    if t.isdigit() and 1 <= int(t) <= len(options):
        return options[int(t) - 1]
    key = FIELD_ALIASES.get(t)
    if key is None:
        key = next((k for alias, k in FIELD_ALIASES.items() if alias in t), None)
    return key if key in options else None


def modify_choices(ctx: Context, draft: Draft) -> list[Choice]:
    return [Choice(FIELD_NAMES[s], FIELD_NAMES[s]) for s in modifiable(ctx, draft)]


def modify_error(ctx: Context, draft: Draft, text: str) -> str:
    return texts.E_MODIFY.format(text=text, fields="、".join(FIELD_NAMES[s] for s in modifiable(ctx, draft)))


def begin_confirm(ctx: Context, assignment_id: int, fields: Fields, supersedes: int | None = None) -> Replies:
    """A draft whose answers are known (a one-liner, an edit): straight to the summary."""
    a = ctx.session.get(Assignment, assignment_id)
    assert a is not None
    draft = Draft(assignment_id=assignment_id, fields=fields, supersedes=supersedes, answered=list(Step))
    save(ctx, CheckinState.CONFIRM, CheckinData(org_id=a.organisation_id, draft=draft))
    return [summary(ctx, draft)]


def file_report(
    ctx: Context,
    a: Assignment,
    fields: Fields,
    supersedes: Report | None = None,
    attachment_ids: list[int] | None = None,
) -> Report | None:
    """File `fields` as a new version of `a`'s report; None when the sender may not report for `a`'s unit."""
    if not ctx.is_coordinator and (
        ctx.person is None or not orgs.covers(ctx.session, ctx.person.organisation_id, a.organisation_id)
    ):
        return None
    fields = fields.model_copy()
    fields.status = fields.status or IN_PROGRESS
    if fields.status == DONE:
        fields.percent = Decimal(100)
    ids = list(attachment_ids or [])
    if supersedes is not None:
        ids += _copy_attachments(ctx, supersedes)  # an edit keeps the evidence of the version it corrects
    return reports.add_report(
        ctx.session,
        a,
        ctx.person,
        ctx.msg.channel,
        ctx.clock.utcnow(),
        fields.report_values(),
        supersedes=supersedes,
        attachment_ids=ids,
    )


def submit(ctx: Context, data: CheckinData) -> Replies:
    """File the draft as a new report version, then offer the next open task of this sitting."""
    draft = draft_of(data)
    a = assignment(ctx, draft)
    supersedes = ctx.session.get(Report, draft.supersedes) if draft.supersedes else None
    try:
        report = file_report(ctx, a, draft.fields, supersedes, list(draft.attachments))
    except OutOfBounds as e:  # a draft from before the answers were checked: nothing stored, the draft kept
        return [Reply(texts.E_BOUND_AT_SUBMIT.format(reason=bounds_error(e)))]
    if report is None:
        ctx.reset()
        own = ctx.person.organisation.name if ctx.person and ctx.person.organisation else "—"
        return [Reply(texts.OTHER_ORG_TASK.format(own=own, label=a.item.label, other=a.organisation.name))]
    pct = f" {fmt_number(report.percent)}%" if report.percent is not None and report.status != DONE else ""
    template = texts.SUBMITTED
    if supersedes is not None:
        template = texts.SUBMITTED_AGAIN if draft.returned_reason is not None else texts.SUBMITTED_EDIT
    done = Reply(template.format(label=a.item.label, status=texts.STATUS_LABELS[report.status], percent=pct))
    if drafts.discard(ctx, a.id):  # a draft parked for the task said something older: it would file that again
        done = Reply(done.text + "\n" + texts.QUICK_DRAFT_REPLACED.format(label=a.item.label))
    return [done, *after_submit(ctx, data, a)]


def after_submit(ctx: Context, data: CheckinData, a: Assignment) -> Replies:
    """Offer the tasks of this sitting not reported yet this week; or say how many of the unit's are left."""
    org_id = a.organisation_id
    open_ids = [v.assignment_id for v in own_open_assignments(ctx, org_id)]
    reported = reported_this_week(ctx, open_ids)
    queue = [aid for aid in data.queue if aid != a.id and aid in open_ids and aid not in reported]
    if queue:
        save(ctx, CheckinState.NEXT, CheckinData(org_id=org_id, queue=queue, options=data.options))
        choices = [Choice(texts.CHOICE_NEXT, texts.CHOICE_NEXT), Choice(texts.CHOICE_END, texts.CHOICE_END)]
        return [Reply(texts.Q_NEXT_TASK.format(n=len(queue)), choices=choices)]
    ctx.reset()
    left = [aid for aid in open_ids if aid not in reported]
    if left:
        return [Reply(texts.WEEK_LEFT_AFTER.format(left=len(left), n=len(open_ids)))]
    if not data.queue and not data.options and data.draft is not None and data.draft.supersedes is None:
        return []
    return [Reply(texts.WEEK_ALL_REPORTED.format(n=len(open_ids)))]


def _copy_attachments(ctx: Context, old: Report) -> list[int]:
    """Copies of the corrected version's evidence, for the new version (the old keeps its own). Returns their ids."""
    now = ctx.clock.utcnow()
    copies = [
        reports.add_attachment(
            ctx.session, att.kind, att.path, att.channel, now, att.file_name, att.mime_type, att.size
        )
        for att in old.attachments
    ]
    return [c.id for c in copies]
