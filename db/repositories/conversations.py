"""Conversation rows written from outside a dialogue (e.g. the weekly prompt arms a one-tap check-in)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from db.models import Conversation

PROMPTED = "checkin.prompted"


def arm_if_idle(session: Session, channel: str, chat_id: str, user_id: str, state: str, now: dt.datetime) -> bool:
    """Put an idle (or new) conversation into `state`; a dialogue in progress is left alone. True if armed."""
    conv = session.get(Conversation, (channel, chat_id, user_id))
    if conv is None:
        session.add(
            Conversation(channel=channel, chat_id=chat_id, user_id=user_id, state=state, data={}, updated_at=now)
        )
        return True
    if conv.state != "idle":
        return False
    conv.state = state
    conv.updated_at = now
    return True
