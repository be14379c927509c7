"""The contract between `duban serve` and a chat channel (Telegram, WeCom, console)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.messages import Reply

if TYPE_CHECKING:
    from aiohttp import web

    from bot.app import App


class RetryLater(Exception):
    """The platform asked us to wait (rate limit, outage). The outbox retries after `seconds`."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        self.seconds = seconds
        super().__init__(reason or f"retry after {seconds}s")


class PermanentFailure(Exception):
    """The message can never be delivered (blocked by the user, unknown chat). The outbox gives up on it."""


class Channel(Protocol):
    name: str

    async def start(self, app: App, web_app: web.Application) -> None:
        """Connect to the platform; register HTTP routes on `web_app` (before the server starts) if needed."""

    async def stop(self) -> None: ...

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one proactive message. Raises RetryLater or PermanentFailure; anything else is retried."""
