"""Conversation rows: the stored state of one dialogue, keyed by (channel, chat, user).

The repository stores what the dialogue kernel gives it (a state name, JSON data, the pending question); it
knows no dialogue and no state name of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from db.models import Conversation, Revision


def get_or_create(
    session: Session, channel: str, chat_id: str, user_id: str, initial_state: str, now: dt.datetime
) -> Conversation:
    """The conversation row, created in `initial_state` when there is none yet."""
    conv = session.get(Conversation, (channel, chat_id, user_id))
    if conv is None:
        conv = Conversation(
            channel=channel, chat_id=chat_id, user_id=user_id, state=initial_state, data={}, updated_at=now
        )
        session.add(conv)
    return conv


def open_with_revision(
    session: Session, channel: str, chat_id: str, user_id: str, initial_state: str, now: dt.datetime
) -> tuple[Conversation, tuple[int, int] | None]:
    """The conversation row (created in `initial_state` when there is none yet) and, read in the same statement,
    the counters of the cached tables (`db.cache`): (plan, people), or None in a database without them."""
    row = session.execute(
        select(Revision.plan, Revision.people, Conversation)
        .select_from(Revision)
        .outerjoin(
            Conversation,
            and_(Conversation.channel == channel, Conversation.chat_id == chat_id, Conversation.user_id == user_id),
        )
        .where(Revision.id == 1)
    ).first()
    if row is None:
        return get_or_create(session, channel, chat_id, user_id, initial_state, now), None
    conv = row[2]
    if conv is None:
        conv = Conversation(
            channel=channel, chat_id=chat_id, user_id=user_id, state=initial_state, data={}, updated_at=now
        )
        session.add(conv)
    return conv, (int(row[0]), int(row[1]))


def move_if_in(
    session: Session,
    channel: str,
    chat_id: str,
    user_id: str,
    allowed: Collection[str],
    state: str,
    now: dt.datetime,
) -> bool:
    """Put the conversation into `state` if it is in one of `allowed` states (or new); True if it moved.

    Used from outside a dialogue (the weekly prompt arms a one-tap check-in) without disturbing one in progress.
    """
    conv = session.get(Conversation, (channel, chat_id, user_id))
    if conv is None:
        session.add(
            Conversation(channel=channel, chat_id=chat_id, user_id=user_id, state=state, data={}, updated_at=now)
        )
        return True
    if conv.state not in allowed:
        return False
    conv.state = state
    conv.question = None
    conv.updated_at = now
    return True
