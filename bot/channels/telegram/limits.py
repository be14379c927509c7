"""Telegram's flood limits: PTB's `AIORateLimiter`, extended by what duban needs of it.

Telegram allows a bot about 30 messages a second overall, 20 a minute in one group and about one a second in
one chat, and answers 429 (`RetryAfter`) beyond that. `AIORateLimiter` keeps the first two; this subclass adds
the per-chat limit and waits out a 429 for the chat it came for only, where `AIORateLimiter` would halt every
request of the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.constants import FloodLimit
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)

TRY_ONCE = 1  # rate_limit_args of a call whose 429 the caller handles (the outbox reschedules)
MAX_IDLE_ENTRIES = 1024  # forget idle per-chat state beyond this many chats

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]


def retry_seconds(exc: RetryAfter) -> float:
    """How long a 429 asks to wait, in seconds (PTB 22 warns on `.retry_after`; the timedelta is kept aside)."""
    value = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def chat_ref(chat_id: object) -> int | str:
    """Numeric chat ids as int; "@channelname" stays a string."""
    try:
        return int(str(chat_id))
    except ValueError:
        return str(chat_id)


class _Throttled(Exception):
    """A 429 carried past `AIORateLimiter`, which would otherwise halt every chat for it."""

    def __init__(self, error: RetryAfter) -> None:
        super().__init__(str(error))
        self.error = error


class TelegramRateLimiter(AIORateLimiter):
    """`AIORateLimiter` (overall and per-group rates) plus a per-chat rate and per-chat waits on 429.

    New messages to a chat (`send*` calls) pass a per-chat limiter: a burst of `chat_burst`, then
    `chat_per_second`. A 429 pauses that chat (a request naming no chat: the whole bot) for the time Telegram
    asks and the request is tried again, up to `max_retries` times, unless the wait asked for exceeds
    `max_wait`; then the `RetryAfter` is raised. A call may pass `rate_limit_args=n` to be tried at most `n`
    times (`TRY_ONCE`: raise the first 429). PTB drops a falsy value, so the count includes the first try.

    Args:
        overall_max_rate: requests per second over all chats.
        group_max_rate: requests per minute to one group.
        chat_burst: messages a chat may get at once before the per-chat rate applies.
        chat_per_second: the sustained rate of messages to one chat.
        max_retries: retries after a 429 when the call does not say.
        max_wait: a 429 asking to wait longer than this is raised at once rather than waited out.
    """

    def __init__(
        self,
        overall_max_rate: float = FloodLimit.MESSAGES_PER_SECOND,
        group_max_rate: float = FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP,
        chat_burst: float = 3,
        chat_per_second: float = 1.0,
        max_retries: int = 3,
        max_wait: float = 60.0,
    ) -> None:
        # max_retries=0 upstream: 429s never reach AIORateLimiter's own retry (see _Throttled).
        super().__init__(overall_max_rate=overall_max_rate, group_max_rate=group_max_rate, max_retries=0)
        self.chat_burst = chat_burst
        self.chat_period = chat_burst / chat_per_second
        self.max_retries = max_retries
        self.max_wait = max_wait
        self._chats: dict[int | str, AsyncLimiter] = {}
        self._paused_until: dict[int | str | None, float] = {}

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        tries = rate_limit_args or self.max_retries + 1
        raw_chat = data.get("chat_id")
        chat = None if raw_chat is None else chat_ref(raw_chat)
        new_message = endpoint.startswith("send") and endpoint != "sendChatAction"

        async def throttled(*a: Any, **kw: Any) -> ApiResult:
            try:
                return await callback(*a, **kw)
            except RetryAfter as exc:
                raise _Throttled(exc) from exc

        attempt = 1
        while True:
            await self._wait_pause(chat)
            limiter = self._chat_limiter(chat) if chat is not None and new_message else contextlib.nullcontext()
            try:
                async with limiter:
                    return await super().process_request(throttled, args, kwargs, endpoint, data, None)
            except _Throttled as exc:
                seconds = retry_seconds(exc.error)
                self._pause(chat, seconds)
                if attempt >= tries or seconds > self.max_wait:
                    raise exc.error from None
                attempt += 1
                log.info("Telegram asked to wait %.1fs (%s, chat %s); try %d", seconds, endpoint, chat, attempt)

    def _chat_limiter(self, chat: int | str) -> AsyncLimiter:
        if len(self._chats) > MAX_IDLE_ENTRIES:
            # Forget limiters that are idle (full capacity) so the table does not grow without bound.
            for key, lim in list(self._chats.items()):
                if key != chat and lim.has_capacity(lim.max_rate):
                    del self._chats[key]
        limiter = self._chats.get(chat)
        if limiter is None:
            limiter = self._chats[chat] = AsyncLimiter(self.chat_burst, self.chat_period)
        return limiter

    def _pause(self, chat: int | str | None, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        if len(self._paused_until) > MAX_IDLE_ENTRIES:
            self._paused_until = {k: t for k, t in self._paused_until.items() if t > now}
        self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), now + seconds)

    async def _wait_pause(self, chat: int | str | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            until = max(self._paused_until.get(chat, 0.0), self._paused_until.get(None, 0.0))
            delay = until - loop.time()
            if delay <= 0:
                return
            await asyncio.sleep(delay)
