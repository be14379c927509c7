"""What a handler gets for one incoming message: the database session, the clock, the settings, who is
talking, and the conversation's named state with its JSON data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from config.clock import Clock
from config.settings import Settings
from core.messages import IncomingMessage, Reply
from db.models import ADMIN, COORDINATOR, LEADER, Conversation, Person
from handlers import texts

IDLE = "idle"


def coordinates(person: Person | None) -> bool:
    """Coordinators and admins: they review, judge, chase and see every unit (in the chat and on the board)."""
    return person is not None and person.role in (COORDINATOR, ADMIN)


@dataclass
class Context:
    session: Session
    clock: Clock
    settings: Settings
    msg: IncomingMessage
    conversation: Conversation
    person: Person | None
    services: dict[str, Any] = field(default_factory=dict)
    # True while a question typed mid-dialogue is answered: the answer must not start a follow-up of its own.
    nested: bool = False

    @property
    def state(self) -> str:
        return self.conversation.state

    @property
    def data(self) -> dict[str, Any]:
        return self.conversation.data

    def go(self, state: str, **data: Any) -> None:
        """Move the dialogue to `state`, replacing its data with `data`.

        Keys starting with `keep_` (a kept check-in draft) survive, so asking a question in between does
        not lose an interrupted report.
        """
        kept = {k: v for k, v in (self.conversation.data or {}).items() if k.startswith("keep_")}
        self.conversation.state = state
        self.conversation.data = {**kept, **data}

    def update(self, **data: Any) -> None:
        """Merge `data` into the dialogue's data (a new dict, so the JSON column sees the change)."""
        merged = dict(self.conversation.data or {})
        merged.update(data)
        self.conversation.data = merged

    def reset(self) -> None:
        self.go(IDLE)

    @property
    def is_coordinator(self) -> bool:
        return coordinates(self.person)

    @property
    def help_text(self) -> str:
        """帮助 for this person's role: a coordinator's is what he asks and decides; a leader's what he asks."""
        if self.is_coordinator:
            return texts.HELP_COORDINATOR
        if self.person is not None and self.person.role == LEADER:
            return texts.HELP_LEADER
        return texts.HELP_OFFICIAL

    @property
    def is_admin(self) -> bool:
        return self.person is not None and self.person.role == ADMIN


Replies = list[Reply]
