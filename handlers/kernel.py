"""The dialogue kernel: what every dialogue gets without writing it.

A dialogue declares, once: its named states (a `StrEnum`), a handler per state, the pending question of each state
(`prompt`), how plausible a text is as an answer to it (`accepts`), and what `取消` and expiry do. The kernel then
gives every dialogue the same handling of:

- choices: the question asked last is stored with the conversation (`Conversation.question`) with its choices, each
  stamped with a token naming the question. A button sends the token back; a number typed to a question whose
  choices are not listed in its text picks that choice. So "1" or a button means the same after a restart and on
  any process, and a press on an earlier question's button is refused with the current question repeated;
- `取消` (the dialogue's own cancel), `帮助` (help, then the pending question again), `继续` (the question again);
- expiry after `draft_expiry_hours` of silence (the dialogue decides what is kept);
- a question or command typed mid-dialogue: answered (or run) and the pending question asked again, never stored
  as an answer; when the text is both a plausible answer and a question, the user is asked which;
- soft states (a list's paging, a pick among names, an offer): a text that is no follow-up leaves the state and is
  handled as a new message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session

from core.messages import Choice, Reply, choice_token, parse_choice_token, parse_multi_choice, render_plain
from db.repositories import conversations
from handlers import texts, vocabulary
from handlers.context import IDLE, Context, Replies
from handlers.understanding.text import normalize

Handler = Callable[[Context, str], Replies]
SoftHandler = Callable[[Context, str], Replies | None]


class Fit(Enum):
    """How a text fits the pending question."""

    NO = "no"  # not an answer (it does not parse)
    YES = "yes"  # it parses as an answer
    FREE = "free"  # free text: anything is an answer, unless it is clearly a question


@dataclass(frozen=True)
class Interrupt:
    """A command or question recognised in a message typed mid-dialogue.

    Attributes:
        kind: "command" or "question".
        sure: clearly not free text written as an answer (a short recognised question).
        asks: it asks (a question mark, 哪些, 谁, 多少 ...): never an answer, even where the words would parse.
        starts: the dialogue the command starts, if it starts one (its name).
    """

    kind: str
    sure: bool
    asks: bool = False
    starts: str | None = None


class Interrupts(Protocol):
    """What the router offers the kernel: recognise a command or question, and run one."""

    def classify(self, ctx: Context, text: str) -> Interrupt | None: ...

    def run(self, ctx: Context, text: str) -> Replies: ...


@dataclass(frozen=True)
class Dialogue:
    """One dialogue, declared once.

    Attributes:
        name: the dialogue's name ("checkin").
        states: its states; their values are what the conversation row stores.
        handlers: the handler of each firm state: it gets the answer and returns the replies.
        soft: the handler of each soft state: None when the text is no follow-up (then it is a new message).
        prompt: the pending question of the current state, asked again after help or an interruption.
        accepts: how a text fits the pending question of the current state.
        cancel: what `取消` does (reset, or park a draft).
        discard: what `删除草稿 [which]` does, for a dialogue that keeps drafts (gets the words after it).
        resume: what `继续` does (default: the pending question again).
        busy: whether something is being written that a command starting this dialogue anew would leave (then
            the user is told to finish or cancel it); default: always.
        expire: what silence past the expiry does; None: the state is left and the message handled anew.
        expires: whether the dialogue expires at all.
        soft_keeps_questions: in a soft state, a question is answered and the state kept (an offer, a report
            under review); otherwise any text that is no follow-up starts over (a list's paging).
    """

    name: str
    states: type[StrEnum]
    handlers: Mapping[StrEnum, Handler]
    prompt: Callable[[Context], Replies]
    accepts: Callable[[Context, str], Fit]
    cancel: Callable[[Context], Replies]
    soft: Mapping[StrEnum, SoftHandler] = field(default_factory=dict)
    discard: Callable[[Context, str], Replies] | None = None
    resume: Callable[[Context], Replies] | None = None
    busy: Callable[[Context], bool] | None = None
    expire: Callable[[Context], Replies | None] | None = None
    expires: bool = True
    soft_keeps_questions: bool = True


def end(ctx: Context) -> Replies:
    """`取消` of a dialogue that keeps nothing: back to idle."""
    ctx.reset()
    return [Reply(texts.CANCELLED)]


_BY_STATE: dict[str, Dialogue] = {}
# A choice's number as people type it: "2", "2.", "2、", "第2个" (full-width digits are normalised before).
CHOICE_NUMBER_RE = re.compile(r"第?(\d{1,2})(?:[.、。)）]|个|项|号)?")
HOLD_ANSWER, HOLD_QUERY = "answer", "query"


def register(dialogue: Dialogue) -> Dialogue:
    """Make `dialogue`'s states known to the kernel. Each state belongs to one dialogue."""
    for state in dialogue.states:
        owner = _BY_STATE.get(state.value)
        if owner is not None and owner.name != dialogue.name:
            raise ValueError(f"state {state.value!r} is declared by {owner.name} and {dialogue.name}")
        if state not in dialogue.handlers and state not in dialogue.soft:
            raise ValueError(f"state {state.value!r} of {dialogue.name} has no handler")
        _BY_STATE[state.value] = dialogue
    return dialogue


def dialogue_of(state: str) -> Dialogue | None:
    return _BY_STATE.get(state)


# ---- the stored question ------------------------------------------------------------------------------------


@dataclass
class Question:
    """The question asked last, as stored with the conversation."""

    id: str
    choices: list[tuple[str, str]]
    listed: bool = False
    held: str | None = None  # a text that was both an answer and a question, waiting for "which?"
    asked: str = ""  # a digest of the question's text: the same question asked again keeps its id

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> Question | None:
        if not raw:
            return None
        return cls(
            id=str(raw["id"]),
            choices=[(str(label), str(value)) for label, value in raw.get("choices", [])],
            listed=bool(raw.get("listed", False)),
            held=raw.get("held"),
            asked=str(raw.get("asked", "")),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "choices": [list(c) for c in self.choices],
            "listed": self.listed,
            "held": self.held,
            "asked": self.asked,
        }


def record_question(ctx: Context, replies: Replies, held: str | None = None) -> Replies:
    """Store the question of this turn (the last reply with choices) and stamp its choices with tokens.

    Replies without choices end the previous question, so its buttons and numbers go stale. Returns the replies
    with tokens set (earlier replies' choices keep none: their buttons send their value as if typed).
    """
    if not replies:
        return replies
    last = next((i for i in range(len(replies) - 1, -1, -1) if replies[i].choices), None)
    if last is None:
        ctx.conversation.question = None
        return replies
    reply = replies[last]
    if reply.choices[0].token is not None:
        return replies  # recorded already (with a held text) earlier in this turn
    offered = [(c.label, c.value) for c in reply.choices]
    asked = hashlib.sha1(reply.text.encode()).hexdigest()[:12]
    previous = Question.load(ctx.conversation.question)
    same = (
        previous is not None
        and previous.held is None
        and held is None
        and previous.choices == offered
        and previous.asked == asked
    )
    # The same question asked again (after help, or a question in between) keeps its id: its buttons stay good.
    qid = previous.id if same and previous is not None else secrets.token_hex(4)
    stamped = [Choice(c.label, c.value, choice_token(qid, i)) for i, c in enumerate(reply.choices)]
    question = Question(qid, offered, reply.listed, held, asked)
    ctx.conversation.question = question.dump()
    out = list(replies)
    out[last] = reply.with_choices(stamped)
    return out


def offer(session: Session, channel: str, chat_id: str, user_id: str, choices: list[Choice], now: dt.datetime) -> bool:
    """A proactive message (a nudge, the weekly prompt) offers `choices`: store them as the pending question, so a
    number typed back picks one, unless a dialogue is asking a question of its own. True if stored."""
    conv = conversations.get_or_create(session, channel, chat_id, user_id, IDLE, now)
    dialogue = dialogue_of(conv.state)
    if dialogue is not None and dialogue.states(conv.state) not in dialogue.soft:
        return False
    conv.question = Question(secrets.token_hex(4), [(c.label, c.value) for c in choices]).dump()
    return True


# ---- one message in a dialogue ------------------------------------------------------------------------------


@dataclass
class _Resolved:
    text: str
    by_choice: bool = False
    stale: bool = False


def _resolve_choice(ctx: Context, text: str, question: Question | None) -> _Resolved:
    """A button press or a number typed for the pending question → the choice's value."""
    if ctx.msg.is_choice:
        token = parse_choice_token(text)
        several = parse_multi_choice(text) if token is None else None  # several choices taken at once (a vote)
        picked = [token] if token is not None else several[0] if several is not None else None
        if picked is None:
            return _Resolved(text)  # a proactive message's button: as if typed
        if question is None or any(qid != question.id or index >= len(question.choices) for qid, index in picked):
            return _Resolved(text, stale=True)
        values = [question.choices[index][1] for _qid, index in picked]
        if several is None:
            return _Resolved(values[0], by_choice=True)
        return _Resolved(",".join(values) + " " + several[1], by_choice=True)
    number = CHOICE_NUMBER_RE.fullmatch(text)
    if question is not None and question.choices and not question.listed and number:
        n = int(number.group(1))
        if 1 <= n <= len(question.choices):
            return _Resolved(question.choices[n - 1][1], by_choice=True)
    return _Resolved(text)


def stale_choice(ctx: Context) -> Replies:
    """A press on a button of an earlier question: refused; the pending question, if any, asked again."""
    dialogue = dialogue_of(ctx.state)
    if dialogue is None:
        return [Reply(texts.K_STALE_IDLE)]
    return [Reply(texts.K_STALE), *dialogue.prompt(ctx)]


def expired(ctx: Context) -> bool:
    updated = ctx.conversation.updated_at
    if updated is None:
        return False
    return ctx.clock.utcnow() - updated > dt.timedelta(hours=ctx.settings.draft_expiry_hours)


def handle(ctx: Context, text: str, interrupts: Interrupts) -> Replies | None:
    """Handle `text` in the running dialogue. None: no dialogue runs (any more); route it as a new message."""
    dialogue = dialogue_of(ctx.state)
    question = Question.load(ctx.conversation.question)
    resolved = _resolve_choice(ctx, text, question)
    if dialogue is None:
        if ctx.state != IDLE:
            ctx.reset()  # a state no dialogue declares any more (an old release's): start over
        if resolved.stale:
            return [Reply(texts.K_STALE_IDLE)]
        if resolved.by_choice:  # a choice of a proactive message (a nudge's 开始汇报): as if its value was typed
            ctx.msg = replace(ctx.msg, text=resolved.text, is_choice=False)
        return None
    if resolved.stale:
        return stale_choice(ctx)
    if dialogue.expires and expired(ctx):
        outcome = dialogue.expire(ctx) if dialogue.expire else None
        if outcome is not None:
            return outcome
        ctx.reset()
        return None
    if question is not None and question.held is not None and resolved.by_choice:
        return _on_held(ctx, dialogue, question.held, resolved.text, interrupts)
    if resolved.by_choice:
        # Handlers read what was chosen, also where they keep the typed text verbatim.
        ctx.msg = replace(ctx.msg, text=resolved.text, is_choice=False)
    return _in_dialogue(ctx, dialogue, resolved, interrupts)


def _in_dialogue(ctx: Context, dialogue: Dialogue, resolved: _Resolved, interrupts: Interrupts) -> Replies | None:
    text = resolved.text
    state = dialogue.states(ctx.state)
    if not resolved.by_choice:
        if vocabulary.CANCEL_RE.match(text):
            return dialogue.cancel(ctx)
        discard = vocabulary.DISCARD_DRAFT_RE.match(text)
        if discard and dialogue.discard is not None:
            return dialogue.discard(ctx, discard.group(1).strip())
        if vocabulary.HELP_RE.match(text):
            help_text = ctx.help_text
            return [Reply(help_text + "\n\n" + texts.K_PENDING), *dialogue.prompt(ctx)]
    if state in dialogue.soft:
        replies = dialogue.soft[state](ctx, text)
        if replies is not None:
            return replies
        interrupt = interrupts.classify(ctx, text) if dialogue.soft_keeps_questions else None
        if interrupt is not None and interrupt.kind == "question":
            return _interrupt(ctx, dialogue, text, interrupt, interrupts)
        ctx.reset()
        return None
    if resolved.by_choice:
        return dialogue.handlers[state](ctx, text)
    if vocabulary.RESUME_RE.match(text):
        return dialogue.resume(ctx) if dialogue.resume is not None else dialogue.prompt(ctx)
    interrupt = interrupts.classify(ctx, text)
    if interrupt is None:
        return dialogue.handlers[state](ctx, text)
    fit = dialogue.accepts(ctx, text)
    if interrupt.kind == "command" or interrupt.asks or fit is Fit.NO or (fit is Fit.FREE and interrupt.sure):
        return _interrupt(ctx, dialogue, text, interrupt, interrupts)
    if fit is Fit.YES:
        return dialogue.handlers[state](ctx, text)
    # Free text that reads like a question too: ask which it is; the text waits in the stored question.
    ask = Reply(
        texts.K_WHICH.format(text=text),
        choices=[Choice(texts.K_WHICH_ANSWER, HOLD_ANSWER), Choice(texts.K_WHICH_QUERY, HOLD_QUERY)],
    )
    return record_question(ctx, [ask], held=ctx.msg.text)


def _on_held(ctx: Context, dialogue: Dialogue, held: str, choice: str, interrupts: Interrupts) -> Replies:
    """The answer to "作为回答，还是查询？": the held text goes where the user said."""
    ctx.msg = replace(ctx.msg, text=held, is_choice=False)
    text = normalize(held)
    if choice == HOLD_ANSWER:
        return dialogue.handlers[dialogue.states(ctx.state)](ctx, text)
    interrupt = interrupts.classify(ctx, text) or Interrupt("question", True)
    return _interrupt(ctx, dialogue, text, interrupt, interrupts)


def _interrupt(ctx: Context, dialogue: Dialogue, text: str, interrupt: Interrupt, interrupts: Interrupts) -> Replies:
    """Answer the question or run the command, then ask the pending question again."""
    if interrupt.starts is not None:
        if interrupt.starts == dialogue.name:
            if dialogue.busy is None or dialogue.busy(ctx):
                return [Reply(texts.K_ALREADY_IN), *dialogue.prompt(ctx)]
            ctx.reset()  # nothing being written (a list): the command starts over
            return interrupts.run(ctx, text)
        # Another dialogue: this one is left the way 取消 leaves it (a draft is kept for 继续).
        parked = dialogue.cancel(ctx)
        return [*parked, *interrupts.run(ctx, text)]
    state, data = ctx.conversation.state, dict(ctx.conversation.data or {})
    ctx.nested = True
    try:
        answer = interrupts.run(ctx, text)
    finally:
        ctx.nested = False
    ctx.conversation.state, ctx.conversation.data = state, data
    # The answer's own follow-ups (a pick among names) do not run inside the dialogue: its choices become text.
    flat = [Reply(render_plain(r), attachments=r.attachments) if r.choices else r for r in answer]
    pending = dialogue.prompt(ctx)
    return [*flat, Reply(texts.K_BACK), *pending] if pending else flat
