"""Conversation rows: the stored state of one dialogue, keyed by (channel, chat, user).

The repository stores what the dialogue kernel gives it (a state name, JSON data, the pending question); it
knows no dialogue and no state name of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy.orm import Session

from db.models import Conversation


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
