"""The contract between `duban serve` and a chat channel (Telegram, WeCom, console), and delivery errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.clock import Clock
from config.settings import Settings
from core.inbox import Inbox
from core.messages import IncomingMessage, Reply

if TYPE_CHECKING:
    from aiohttp import web


class RetryLater(Exception):
    """The platform asked us to wait (rate limit, outage). The outbox retries after `seconds`."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        self.seconds = seconds
        super().__init__(reason or f"retry after {seconds}s")


class PermanentFailure(Exception):
    """The message can never be delivered (blocked by the user, unknown chat). The outbox gives up on it."""


class MessageHandler(Protocol):
    """What a channel hands incoming messages to (the engine)."""

    def handle(self, msg: IncomingMessage) -> list[Reply]: ...

    def mark_replied(self, msg: IncomingMessage) -> None: ...


class Runtime(Protocol):
    """What a running process offers its channels and jobs: settings, clock, database, message handler."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def db(self) -> Engine: ...

    @property
    def session_factory(self) -> sessionmaker[Session]: ...

    @property
    def engine(self) -> MessageHandler: ...

    @property
    def inbox(self) -> Inbox | None:
        """Where channels store what arrives (`duban serve`); None in processes without one."""


class Channel(Protocol):
    name: str

    async def start(self, app: Runtime, web_app: web.Application) -> None:
        """Connect to the platform; register HTTP routes on `web_app` (before the server starts) if needed."""

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one proactive message. Raises RetryLater or PermanentFailure; anything else is retried."""
