"""Routes one incoming message: binding for strangers (told once, then quiet for a while), the running dialogue
(through the kernel), commands, then free questions. It is also what the kernel calls for a command or question
typed in the middle of a dialogue."""

from __future__ import annotations

import re

from core.messages import Reply
from handlers import binding, board, checkin, judgement, kernel, leave, queries, review, shares, texts, vocabulary
from handlers.context import IDLE, Context, Replies
from handlers.kernel import Interrupt
from handlers.understanding.nlu import HELP
from handlers.understanding.text import normalize

# A question typed mid-dialogue is clearly a question (not an answer) with one of these, or when it is short and
# names something of the plan without saying what was done.
QUESTION_MARK_RE = re.compile(r"[?？]$|[吗呢么嘛]$|怎么样$|如何$|哪些|哪个|哪几|谁|多少|几项|几个|有没有|是否")
QUERY_WORD_RE = re.compile(
    r"进度|进展|情况|逾期|超期|没汇报|未汇报|没报|达标|投资|任务$|项目$|指标$|清单$"
    r"|到期|截止|滞后|受阻的|困难|排名|退回|待审|审核的|催办|催一下|谁报|汇报了|请假|过期|是不是"
    r"|(怎么|怎样|如何|咋)(汇报|填报|报|填|用)|导出|汇总表|工作簿|周报"
)
SHORT_QUESTION = 12


def dispatch(ctx: Context) -> Replies:
    msg = ctx.msg
    text = normalize(msg.text)
    if msg.is_group and not msg.addressed:
        return []
    bind_match = binding.match(text)
    tries_code = bind_match is not None and bind_match.group(1) is not None
    if ctx.person is None and not tries_code and not binding.may_explain(ctx):
        return []  # a stranger told how to bind a moment ago: silence, except for invite codes
    if bind_match:
        if msg.is_group:
            return [Reply(texts.GROUP_PRIVATE_ONLY)]
        return binding.bind(ctx, bind_match.group(1))
    if ctx.person is None:
        return [Reply(texts.UNBOUND)]
    if msg.event in ("enter", "subscribe") and not text:
        return [Reply(texts.WELCOME_BOUND.format(name=ctx.person.name))]
    if msg.is_group:
        # Dialogues are for one person: in a group only questions are answered.
        if vocabulary.HELP_RE.match(text):
            return [Reply(ctx.help_text)]
        if vocabulary.CANCEL_RE.match(text):
            return _cancel(ctx)
        if board.is_command(text):
            return board.command(ctx, text) or []
        if _starts_dialogue(ctx, text) or vocabulary.RESUME_RE.match(text):
            return [Reply(texts.GROUP_PRIVATE_ONLY)]
        return queries.answer(ctx, text, allow_report=False)
    replies = kernel.handle(ctx, text, INTERRUPTS)
    if replies is not None:
        return replies
    return idle(ctx, normalize(ctx.msg.text), allow_report=True)  # the text of a choice, when one was made


def idle(ctx: Context, text: str, allow_report: bool) -> Replies:
    """A message outside any dialogue: a command, or a question."""
    if vocabulary.HELP_RE.match(text):
        return [Reply(ctx.help_text)]
    if vocabulary.CANCEL_RE.match(text):
        return _cancel(ctx)
    if vocabulary.REPORT_RE.match(text):
        return checkin.start(ctx)
    if vocabulary.ALL_NO_CHANGE_RE.match(text) or vocabulary.NO_CHANGE_RE.match(text):
        return checkin.start_no_change(ctx)
    if vocabulary.RESUME_RE.match(text):
        return checkin.resume(ctx)
    m = vocabulary.RESUME_WHICH_RE.match(text)
    if m:
        return checkin.resume(ctx, m.group(1).strip())
    m = vocabulary.DISCARD_DRAFT_RE.match(text)
    if m:
        return checkin.discard_draft(ctx, m.group(1).strip())
    if vocabulary.EDIT_LAST_RE.match(text):
        return checkin.edit_last(ctx)
    if vocabulary.WITHDRAW_RE.match(text):
        return [Reply(texts.WITHDRAW_HOW)]
    m = vocabulary.REREPORT_RE.match(text)
    if m:
        return checkin.rereport(ctx, m.group(1).strip())
    m = vocabulary.REPORT_ORG_RE.match(text)
    if m:
        return checkin.start(ctx, m.group(1).strip())
    for module_command in (
        board.command,
        leave.command,
        review.command,
        judgement.command,
        shares.command,
        binding.invite,
    ):
        replies = module_command(ctx, text)
        if replies is not None:
            return replies
    if ctx.msg.attachments:
        return checkin.attachment_outside_dialogue(ctx)
    return queries.answer(ctx, text, allow_report=allow_report)


def _cancel(ctx: Context) -> Replies:
    if ctx.state == IDLE:
        return [Reply(texts.NOTHING_TO_CANCEL)]
    ctx.reset()
    return [Reply(texts.CANCELLED)]


def _starts_dialogue(ctx: Context, text: str) -> str | None:
    """The dialogue `text` starts as a command, if any."""
    if (
        vocabulary.REPORT_RE.match(text)
        or vocabulary.EDIT_LAST_RE.match(text)
        or vocabulary.REPORT_ORG_RE.match(text)
        or vocabulary.REREPORT_RE.match(text)
        # "其余无变化" at the list is the list's own command: its confirmation numbers the tasks as the list did
        or (vocabulary.ALL_NO_CHANGE_RE.match(text) and not checkin.in_list(ctx))
    ):
        return checkin.DIALOGUE.name
    if (vocabulary.REVIEW_LIST_RE.match(text) or vocabulary.REVIEW_ALL_RE.match(text)) and ctx.is_coordinator:
        return review.DIALOGUE.name
    return None


class _Interrupts:
    """Commands and questions typed in the middle of a dialogue, for the kernel."""

    def classify(self, ctx: Context, text: str) -> Interrupt | None:
        starts = _starts_dialogue(ctx, text)
        if starts is not None:
            return Interrupt("command", True, starts=starts)
        if (
            leave.is_command(text)
            or board.is_command(text)
            or judgement.is_command(text)
            or shares.is_command(text)
            or binding.INVITE_RE.match(text)
        ):
            return Interrupt("command", True)
        if ctx.msg.attachments:
            return None
        return _question(ctx, text)

    def run(self, ctx: Context, text: str) -> Replies:
        return idle(ctx, text, allow_report=False)


def _question(ctx: Context, text: str) -> Interrupt | None:
    """Whether `text` asks something of the plan (and how surely it is not an answer)."""
    asks = QUESTION_MARK_RE.search(text) is not None
    if not asks and not QUERY_WORD_RE.search(text):
        # Asks nothing (at most names something of the plan): an answer. Most answers end here, before the
        # understanding layer and its plan lookup run for every message of a check-in.
        return None
    intent = queries.understand(ctx, text).intent
    if intent == HELP:
        # "怎么汇报" in the list is a question; in a free-text answer ("不知道怎么填") it may be the answer: the
        # kernel asks which
        return Interrupt("question", False)
    if intent not in queries.QUESTION_INTENTS:
        return None
    if asks:
        return Interrupt("question", True, asks=True)
    says_done = vocabulary.parse_status(text) is not None or any(ch.isdigit() for ch in text)
    return Interrupt("question", len(text) <= SHORT_QUESTION and not says_done)


INTERRUPTS = _Interrupts()
