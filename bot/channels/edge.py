"""The edge every channel shares: what happens between a platform and the engine, written once.

A channel converts platform updates into `IncomingMessage`s and `Reply`s into platform calls; everything else is
here:

- text: `split` cuts a text into parts under a channel's `TextLimit` (characters or UTF-8 bytes), at line breaks
  where possible; `plain_parts` renders a reply with its choices numbered (`render_plain`) and splits it, which is
  how text-only platforms show choices. A number typed back is plain text: the engine maps it to the choice of
  the question it stored with the conversation.
- the direct round trip (the console, where the person waits at the terminal and nothing needs storing first):
  `Edge.converse` runs the engine in a worker thread, delivers the replies in order through the channel's
  `send`, and only when every reply went out confirms them (`mark_replied`).

Telegram and WeCom do not converse directly: what they receive goes through the durable inbox (`bot.inbox`),
which keeps each chat's order across processes, and their replies through the outbox.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.channel import PermanentFailure, RetryLater, Runtime
from core.messages import IncomingMessage, Reply, render_plain
from handlers import texts

log = logging.getLogger(__name__)

Send = Callable[[Reply], Awaitable[None]]
"""Delivers one reply to the chat it is bound to; raises when the reply did not go out."""


# ---- text ---------------------------------------------------------------------------------------------------


class Unit(enum.Enum):
    """How a platform counts the length of a message."""

    CHARS = "characters"
    UTF8 = "UTF-8 bytes"


@dataclass(frozen=True)
class TextLimit:
    """The longest text one platform message may carry."""

    size: int
    unit: Unit = Unit.CHARS

    def measure(self, text: str) -> int:
        return len(text.encode()) if self.unit is Unit.UTF8 else len(text)

    def prefix(self, text: str) -> str:
        """The longest prefix of `text` within the limit; never cuts a character in two."""
        if self.unit is Unit.UTF8:
            return text.encode()[: self.size].decode("utf-8", errors="ignore")
        return text[: self.size]


def split(text: str, limit: TextLimit) -> list[str]:
    """Split `text` into non-empty parts within `limit`, at line breaks where possible.

    Joining the parts with line breaks gives the text back, except that empty lines where it was cut are dropped
    and a line longer than the limit is cut inside.
    """
    if limit.measure(text) <= limit.size:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while limit.measure(line) > limit.size:
            if current:
                parts.append(current)
                current = ""
            head = limit.prefix(line)
            parts.append(head)
            line = line[len(head) :]
        candidate = f"{current}\n{line}" if current else line
        if limit.measure(candidate) > limit.size:
            parts.append(current)
            current = line
        else:
            current = candidate
    parts.append(current)
    return [p for p in parts if p]


def refused_as_stale(answer: list[str]) -> bool:
    """Whether the engine refused a press or a tap as belonging to an earlier question, judged by the texts of
    its replies (`Prepared.after` gets them): the pressed message or card then says so instead of a choice."""
    return bool(answer) and answer[0] in (texts.K_STALE, texts.K_STALE_IDLE)


def plain_parts(reply: Reply, limit: TextLimit) -> list[str]:
    """The reply as numbered plain text (see `render_plain`), in parts within `limit`."""
    body = render_plain(reply)
    return split(body, limit) if body.strip() else []


# ---- the round trip -----------------------------------------------------------------------------------------


class Edge:
    """One channel's text limits, and the direct way to the engine: the engine in a worker thread, delivery,
    confirmation.

    Args:
        channel: the channel's name (logs, task names).
        limit: the longest text one message of the platform may carry.
        expected_errors: platform errors that mean "not delivered" and need no traceback in the log
            (RetryLater and PermanentFailure always count as such).
    """

    def __init__(
        self,
        channel: str,
        limit: TextLimit,
        expected_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self.channel = channel
        self.limit = limit
        self.expected_errors: tuple[type[Exception], ...] = (RetryLater, PermanentFailure, *expected_errors)
        self._app: Runtime | None = None

    def attach(self, app: Runtime) -> None:
        """Use `app`'s engine from now on (the channel's start)."""
        self._app = app

    @property
    def app(self) -> Runtime:
        if self._app is None:
            raise RuntimeError(f"the {self.channel} channel is not started")
        return self._app

    def split(self, text: str) -> list[str]:
        return split(text, self.limit)

    def plain_parts(self, reply: Reply) -> list[str]:
        return plain_parts(reply, self.limit)

    async def converse(self, msg: IncomingMessage, send: Send) -> bool:
        """Handle `msg`, deliver its replies through `send`, confirm them once all went out.

        Returns:
            True when every reply was delivered.
        """
        return await self.deliver(await self.handle(msg), send, confirm=msg)

    async def handle(self, msg: IncomingMessage) -> list[Reply]:
        """The engine's replies to `msg`; an apology if the engine itself failed."""
        try:
            # The engine is synchronous (SQLAlchemy); a worker thread keeps the event loop free.
            return await asyncio.to_thread(self.app.engine.handle, msg)
        except Exception:
            log.exception("%s: the engine failed on %s", self.channel, msg.key)
            return [Reply(texts.INTERNAL_ERROR)]

    async def deliver(self, replies: list[Reply], send: Send, confirm: IncomingMessage | None = None) -> bool:
        """Send `replies` in order. A reply that cannot be delivered is logged and the next one still tried: the
        user's input is already saved, and what does arrive is better than nothing.

        Args:
            confirm: the message these replies answer; marked replied when every one went out. A message without
                replies is not marked: its replies, if any, belong to another delivery of it, still in flight.

        Returns:
            True when every reply was delivered.
        """
        where = confirm.key if confirm is not None else "a chat"
        delivered = True
        for reply in replies:
            try:
                await send(reply)
            except self.expected_errors as exc:
                delivered = False
                log.warning("%s: a reply to %s was not delivered: %s", self.channel, where, exc)
            except Exception:
                delivered = False
                log.exception("%s: a reply to %s was not delivered", self.channel, where)
        if delivered and replies and confirm is not None:
            await self.confirm(confirm)
        return delivered

    async def confirm(self, msg: IncomingMessage) -> None:
        """Tell the engine the replies to `msg` were delivered: a redelivery of it then stays silent."""
        try:
            await asyncio.to_thread(self.app.engine.mark_replied, msg)
        except Exception:
            log.exception("%s: could not record the replies to %s as delivered", self.channel, msg.message_id)
