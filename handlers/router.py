"""Routes one incoming message: binding for strangers, the running dialogue, commands, then free questions."""

from __future__ import annotations

import re

from core.messages import Reply
from handlers import binding, checkin, leave, queries, review, texts
from handlers.context import IDLE, Context, Replies
from handlers.understanding.text import normalize

CANCEL_RE = re.compile(r"^(取消|/cancel|退出|算了|不填了|cancel)$", re.IGNORECASE)
HELP_RE = re.compile(r"^(帮助|/help|help|\?|？|怎么用|使用说明|菜单)$", re.IGNORECASE)
REPORT_RE = re.compile(r"^(汇报|/report|填报|报进度|开始汇报|我要汇报|报送进展|上报|/start_report)$", re.IGNORECASE)
RESUME_RE = re.compile(r"^(继续|/continue|继续填写|接着填)$", re.IGNORECASE)
EDIT_LAST_RE = re.compile(r"^(修改上次汇报|修改上一次汇报|更正上次汇报|/edit)$", re.IGNORECASE)


def dispatch(ctx: Context) -> Replies:
    msg = ctx.msg
    text = normalize(msg.text)
    if msg.is_group and not msg.addressed:
        return []
    bind_match = binding.match(text)
    if bind_match:
        if msg.is_group:
            return [Reply(texts.GROUP_PRIVATE_ONLY)]
        return binding.bind(ctx, bind_match.group(1))
    if ctx.person is None:
        return [Reply(texts.UNBOUND)]
    if msg.event in ("enter", "subscribe") and not text:
        return [Reply(texts.WELCOME_BOUND.format(name=ctx.person.name))]
    if HELP_RE.match(text):
        return [Reply(texts.HELP_COORDINATOR if ctx.is_coordinator else texts.HELP_OFFICIAL)]
    if CANCEL_RE.match(text):
        return _cancel(ctx)
    if msg.is_group:
        # Dialogues are for one person: in a group only questions are answered.
        if REPORT_RE.match(text) or RESUME_RE.match(text) or EDIT_LAST_RE.match(text):
            return [Reply(texts.GROUP_PRIVATE_ONLY)]
        return queries.answer(ctx, text, allow_report=False)
    state = ctx.state
    if state.startswith("checkin."):
        return checkin.on_message(ctx, text)
    if state.startswith("review."):
        replies = review.on_message(ctx, text)
        if replies is not None:
            return replies
    if state.startswith("query."):
        replies = queries.on_message(ctx, text)
        if replies is not None:
            return replies
    if REPORT_RE.match(text):
        return checkin.start(ctx)
    if RESUME_RE.match(text):
        return checkin.resume(ctx)
    if EDIT_LAST_RE.match(text):
        return checkin.edit_last(ctx)
    for module_command in (leave.command, review.command, binding.invite):
        replies = module_command(ctx, text)
        if replies is not None:
            return replies
    replies = checkin.command(ctx, text)
    if replies is not None:
        return replies
    if msg.attachments:
        return checkin.attachment_outside_dialogue(ctx)
    return queries.answer(ctx, text, allow_report=True)


def _cancel(ctx: Context) -> Replies:
    if ctx.state.startswith("checkin."):
        return checkin.cancel(ctx)
    if ctx.state == IDLE:
        return [Reply(texts.NOTHING_TO_CANCEL)]
    ctx.reset()
    return [Reply(texts.CANCELLED)]
