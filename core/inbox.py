"""The contract between the channels and the durable inbox: what a channel stores, what it gets back, and how it
turns a stored update into a message for the engine later (possibly in another process, after a restart)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.messages import IncomingMessage, Reply


@dataclass(frozen=True)
class Update:
    """One incoming update as a channel stores it: the platform's id for it, whose chat it belongs to, and what
    the channel needs to make a message of it later (JSON)."""

    message_id: str
    chat_id: str
    user_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Stored:
    """What storing one update did."""

    message_id: str
    chat_id: str
    new: bool  # False: it was stored before (a redelivery)
    skipped: bool  # stored, but an unbound user's queue is full: it will not be handled


@dataclass(frozen=True)
class Row:
    """A stored update waiting to be handled."""

    id: int
    channel: str
    message_id: str
    chat_id: str
    user_id: str
    payload: dict[str, Any]
    received_at: dt.datetime
    attempts: int


@dataclass(frozen=True)
class Prepared:
    """A stored update made ready for the engine.

    Attributes:
        msg: the message; None when the channel cannot make one (a file too large) and `replies` says so.
        replies: the channel's own answers, sent before the engine's.
        after: run once the message is handled and its replies queued, with the texts of those replies (e.g. a
            pressed keyboard is closed, saying what was chosen, or that the engine refused an old question's).
    """

    msg: IncomingMessage | None
    replies: list[Reply] = field(default_factory=list)
    after: Callable[[list[str]], Awaitable[None]] | None = None


class Preparer(Protocol):
    """A channel whose updates go through the inbox."""

    name: str

    async def prepare(self, row: Row) -> Prepared: ...


class Inbox(Protocol):
    """Where channels put what arrives. `accept` returns once the updates are committed: only then may the
    channel acknowledge them to the platform. `ready` gives, for each update, its message when the channel could
    make it without a call to its platform (a text): such a message may be handled in the very transaction that
    stores it."""

    handled: Counter[str]  # rows handled by this process, per channel

    def add(self, source: Preparer) -> None: ...

    async def accept(
        self, channel: str, updates: Sequence[Update], ready: Sequence[Prepared | None] | None = None
    ) -> list[Stored]: ...

    async def idle(self, timeout: float = 10.0) -> bool: ...
