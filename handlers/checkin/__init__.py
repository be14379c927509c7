"""The check-in dialogue: an official reports progress on each of their organisation's tasks.

Declared once for the dialogue kernel: the states (`model.CheckinState`), the typed draft (`model.Draft`), a handler
per state (`flow`), the questions and how answers are read (`questions`), the summary and filing (`summary`), and
the task list (`listing`). This module holds the entry points the router calls.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from core.messages import Reply
from db.bounds import OutOfBounds
from db.models import DONE, IN_PROGRESS, NOT_STARTED, RETURNED, Assignment
from db.repositories import conversations, orgs, reports
from handlers import formatting as fmt
from handlers import kernel, texts
from handlers.checkin import flow, listing
from handlers.checkin.flow import start, start_no_change
from handlers.checkin.model import CheckinData, CheckinState, Fields, fields_of, newest_report, save
from handlers.checkin.questions import MAX_TEXT, bounds_error
from handlers.checkin.summary import begin_confirm
from handlers.context import IDLE, Context, Replies
from handlers.understanding.numbers import fmt_number

__all__ = [
    "DIALOGUE",
    "arm_weekly_prompt",
    "attachment_outside_dialogue",
    "discard_draft",
    "edit_last",
    "in_list",
    "rereport",
    "resume",
    "start",
    "start_from_oneliner",
    "start_no_change",
]

S = CheckinState


def in_list(ctx: Context) -> bool:
    """Whether the numbered check-in list is in front of the person (its numbers are the ones he types)."""
    return ctx.state == S.PICK


DIALOGUE = kernel.register(
    kernel.Dialogue(
        name="checkin",
        states=CheckinState,
        handlers={
            S.PICK: flow.on_pick,
            S.ASK: flow.on_answer,
            S.OVER: flow.on_over,
            S.CONFIRM: flow.on_confirm,
            S.MODIFY: flow.on_modify,
            S.ONELINER: flow.on_oneliner,
            S.NO_CHANGE: flow.on_no_change,
            S.FRACTION: flow.on_fraction,
        },
        soft={S.NEXT: flow.on_next, S.PROMPTED: flow.on_prompted, S.DRAFTS: flow.on_drafts},
        prompt=flow.prompt,
        accepts=flow.accepts,
        cancel=flow.cancel,
        discard=flow.discard,
        resume=flow.resume_in_dialogue,
        busy=flow.busy,
        expire=flow.expire,
    )
)


def arm_weekly_prompt(session: Session, channel: str, chat_id: str, user_id: str, now: dt.datetime) -> bool:
    """The weekly prompt went out: a short yes ("好", "1") to it starts the check-in. A dialogue in progress is
    left alone. True if armed."""
    return conversations.move_if_in(session, channel, chat_id, user_id, {IDLE}, S.PROMPTED, now)


def resume(ctx: Context, which: str = "") -> Replies:
    """`继续` (`继续 序号或名称`) outside the dialogue: a parked draft; several: which one."""
    return flow.resume_parked(ctx, which)


def discard_draft(ctx: Context, which: str = "") -> Replies:
    """`删除草稿` (`删除草稿 序号或名称`) outside a draft."""
    return flow.discard_command(ctx, which)


def rereport(ctx: Context, which: str = "") -> Replies:
    """`重新填报`: a returned report of the sender's unit, pre-filled; several returned: which one."""
    assert ctx.person is not None
    org_id = ctx.person.organisation_id
    if org_id is None:
        return [Reply(texts.NO_ORG)]
    views = listing.own_open_assignments(ctx, org_id)
    returned = [r for v in views if v.returned and (r := newest_report(ctx, v.assignment_id)) is not None]
    if not returned:
        return [Reply(texts.REREPORT_NONE)]
    options = [r.assignment_id for r in returned]
    if which:
        aid, _ = listing.pick_from(ctx, which, options)
        if aid is not None:
            return flow.begin_rereport(ctx, returned[options.index(aid)], options)
    if len(returned) == 1:
        return flow.begin_rereport(ctx, returned[0], options)
    save(ctx, S.PICK, CheckinData(org_id=org_id, options=options))
    return [Reply(texts.REREPORT_PICK.format(n=len(options)), choices=listing.choices_for(ctx, options))]


def attachment_outside_dialogue(ctx: Context) -> Replies:
    return [Reply(texts.ATTACHMENT_OUTSIDE)]


def edit_last(ctx: Context) -> Replies:
    """`修改上次汇报`: the sender's newest report, prefilled, to be corrected and confirmed as a new version."""
    assert ctx.person is not None
    last = reports.last_report_by(ctx.session, ctx.person)
    if last is None:
        return [Reply(texts.NO_LAST_REPORT)]
    if last.review_state == RETURNED:
        return flow.begin_rereport(ctx, last, [last.assignment_id])
    date = fmt.stored_day(last.created_at, ctx.clock.tz)
    intro = Reply(texts.EDIT_LAST_INTRO.format(date=date))
    return [intro, *begin_confirm(ctx, last.assignment_id, fields_of(last), last.id)]


def start_from_oneliner(
    ctx: Context,
    candidates: list[int],
    percent: Decimal | None,
    status: str | None,
    text: str,
    amount: Decimal | None = None,
    quantity: tuple[Decimal, str] | None = None,
    expected: dt.date | None = None,
) -> Replies:
    """A one-line report ("污水处理设施建设完成80%", "国土绿化完成8000亩"): find the task, take the figures, ask to
    confirm.

    Args:
        candidates: assignment ids that match the text, best first (the sender's organisation's open ones).
        percent: the percentage found in the text, if any.
        status: the status found in the text, if any.
        text: the message, kept as the description.
        amount: an investment in 万元 found in the text (a project's).
        quantity: an amount done in a unit ("8000亩"): progress against the task's target.
        expected: the day it is expected done ("预计下周五完成"), a date ahead that the text states.
    """
    assert ctx.person is not None
    allowed = _allowed_assignments(ctx, candidates)
    if not allowed:
        return [Reply(texts.ONELINER_NONE.format(text=text))]
    fields = _oneliner_fields(percent, status, text)
    fields.investment = amount
    fields.expected = expected
    if quantity is not None:
        fields.quantity, fields.quantity_unit = quantity
        if percent is None:
            fields.percent = None
            fields.status = status if status not in (DONE, None) else None
    try:
        reports.checked_values(fields.report_values())
    except OutOfBounds as e:  # refused here, with what is expected, rather than at 确认
        return [Reply(bounds_error(e))]
    if len(allowed) > 1:
        options = allowed[: listing.PAGE]
        save(ctx, S.ONELINER, CheckinData(options=options, oneliner=fields))
        return [Reply(texts.ONELINER_PICK, choices=listing.choices_for(ctx, options))]
    return flow.confirm_oneliner(ctx, allowed[0], fields)


def _allowed_assignments(ctx: Context, candidates: list[int]) -> list[int]:
    out = []
    for aid in candidates:
        a = ctx.session.get(Assignment, aid)
        if a is None or not a.active or a.closed:
            continue
        if ctx.is_coordinator or (
            ctx.person is not None and orgs.covers(ctx.session, ctx.person.organisation_id, a.organisation_id)
        ):
            out.append(aid)
    return out


def _oneliner_fields(percent: Decimal | None, status: str | None, text: str) -> Fields:
    if percent is not None and status is None:
        status = DONE if percent >= 100 else (NOT_STARTED if percent == 0 else IN_PROGRESS)
    if status == DONE:
        percent = Decimal(100)
    elif status == NOT_STARTED and percent is None:
        percent = Decimal(0)
    rounded = Decimal(fmt_number(percent, 2)) if percent is not None else None
    return Fields(status=status or IN_PROGRESS, percent=rounded, description=text[:MAX_TEXT])
