"""The messages the scheduler plans, and putting them in the outbox.

A `Message` is one text for one `Recipient` (a person's chosen identity, or a group chat), with the
`Decision`s it carries: the (kind, occasion, assignment) rows written to reminder_log when it is queued, so a
task is never nudged twice for the same occasion even when the message it went out in listed other tasks.
`queue` writes messages to the outbox (a dedupe key already there skips the message and its decisions) and
arms the conversation for a short answer to what the message offers.

Not to be confused with `core.messages`, the chat contract: these become outbox rows, which the sender turns
into a `Reply` at delivery.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.messages import Choice
from db.models import Outbox, ReminderLog
from handlers import checkin, kernel
from scheduler import outbox

NUDGE, OVERDUE, ESCALATION, PROMPT, DIGEST, EVENT_REMINDER = (
    "nudge",
    "overdue",
    "escalation",
    "prompt",
    "digest",
    "event",
)
KINDS = (NUDGE, OVERDUE, ESCALATION, PROMPT, DIGEST, EVENT_REMINDER)


@dataclass(frozen=True)
class Recipient:
    person_id: int | None  # None for a group chat
    name: str
    channel: str
    chat_id: str


@dataclass(frozen=True)
class Decision:
    """One thing decided for one person: the reminder_log row written when the message is queued."""

    kind: str
    occasion: str
    assignment_id: int | None = None


@dataclass
class Message:
    kind: str
    dedupe_key: str
    recipient: Recipient
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    not_before: dt.datetime | None = None  # aware local; None: as soon as possible


def queue(session: Session, messages: Iterable[Message], now_utc: dt.datetime) -> list[Outbox]:
    """Write `messages` to the outbox and their decisions to reminder_log. Returns the rows created.

    A message whose dedupe key exists already is skipped with its decisions (they were logged with it).
    """
    created: list[Outbox] = []
    insert = _log_insert(session)
    for m in messages:
        row = _enqueue(session, m, now_utc)
        if row is None:
            continue
        created.append(row)
        _arm_answer(session, m, now_utc)
        for d in m.decisions:
            session.execute(
                insert(ReminderLog)
                .values(
                    kind=d.kind,
                    occasion=d.occasion,
                    assignment_id=d.assignment_id,
                    person_id=m.recipient.person_id,
                    outbox_id=row.id,
                    created_at=now_utc,
                )
                .on_conflict_do_nothing(index_elements=["kind", "occasion", "assignment_id", "person_id"])
            )
    session.flush()
    return created


def _log_insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _enqueue(session: Session, m: Message, now_utc: dt.datetime) -> Outbox | None:
    """The outbox row of `m`; None when its dedupe key is there already."""
    not_before = None
    if m.not_before is not None:
        not_before = m.not_before.astimezone(dt.UTC).replace(tzinfo=None)
    payload = {k: v for k, v in m.payload.items() if k != "attachments_planned"}
    return outbox.enqueue(
        session,
        m.dedupe_key,
        m.kind,
        m.recipient.channel,
        m.recipient.chat_id,
        m.text,
        person_id=m.recipient.person_id,
        payload=payload,
        now=now_utc,
        not_before=not_before,
    )


def _arm_answer(session: Session, m: Message, now_utc: dt.datetime) -> None:
    """Let a short answer to the queued `m` mean what it offers (private chats: chat = user)."""
    rcpt = m.recipient
    if m.kind == PROMPT:
        # A short reply to the prompt ("好", "1") starts the check-in at once.
        checkin.arm_weekly_prompt(session, rcpt.channel, rcpt.chat_id, rcpt.chat_id, now_utc)
    if m.payload.get("choices") and rcpt.person_id is not None:
        # A number typed back (WeCom, console) picks the offered choice.
        offered = [Choice(label, value) for label, value in m.payload["choices"]]
        kernel.offer(session, rcpt.channel, rcpt.chat_id, rcpt.chat_id, offered, now_utc)
