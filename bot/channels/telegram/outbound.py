"""From a `Reply` to Telegram messages: text in parts, an inline keyboard, attachments, retried network errors.

A button's callback data is its choice's payload: the token the engine stamped on a choice of the pending
question, or the value of a choice of a proactive message. Nothing is remembered in the process, so a button
means the same after a restart and on any process. A payload over Telegram's 64 bytes cannot be a button; such a
choice is left out of the keyboard and the text lists every choice, numbered, instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import ExtBot

from bot.channels.edge import TextLimit, plain_parts, split
from bot.channels.telegram.limits import TRY_ONCE
from core.messages import Choice, OutAttachment, Reply, render_plain
from handlers import texts

log = logging.getLogger(__name__)

T = TypeVar("T")

TEXT_LIMIT = TextLimit(MessageLimit.MAX_TEXT_LENGTH)  # 4096 characters
CALLBACK_DATA_LIMIT = 64  # bytes of UTF-8
MAX_BUTTONS = 100  # Telegram refuses bigger inline keyboards


def fits_a_button(choice: Choice) -> bool:
    """Whether the choice's payload can be a button's callback data."""
    return 0 < len(choice.payload.encode()) <= CALLBACK_DATA_LIMIT


def keyboard(choices: list[Choice]) -> tuple[InlineKeyboardMarkup | None, bool]:
    """The choices as inline buttons (short labels share a row), and whether every choice got one.

    A choice whose payload is too long for callback data, and any beyond Telegram's 100 buttons, get none.
    """
    fitting = [c for c in choices if fits_a_button(c)]
    if len(fitting) < len(choices):
        log.warning(
            "%d of %d choices cannot be buttons (payload over 64 bytes)", len(choices) - len(fitting), len(choices)
        )
    if len(fitting) > MAX_BUTTONS:
        log.warning("%d choices offered; only the first %d become buttons", len(fitting), MAX_BUTTONS)
        fitting = fitting[:MAX_BUTTONS]
    if not fitting:
        return None, not choices
    widest = max(len(c.label) for c in fitting)
    per_row = 1 if widest > 10 else 2 if widest > 5 else 3 if widest > 3 else 4
    buttons = [InlineKeyboardButton(c.label, callback_data=c.payload) for c in fitting]
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    return InlineKeyboardMarkup(rows), len(fitting) == len(choices)


async def deliver(
    bot: ExtBot[Any], chat_id: int | str, reply: Reply, delays: tuple[float, ...], proactive: bool = False
) -> None:
    """Send one reply: its text in parts within 4096 characters, the keyboard on the last part, then its
    attachments.

    A proactive first part is tried once (the outbox reschedules it); once a part went out the rest are
    retried here, so a resend by the outbox never duplicates the beginning of a message.

    Args:
        delays: the waits between retries of a network error.
    """
    markup, complete = keyboard(reply.choices)
    listed = reply.listed or not complete
    text = reply.text if complete else render_plain(reply)
    text = text if text.strip() else (texts.TG_CHOOSE if markup else "")
    parts = split(text, TEXT_LIMIT)
    first = True
    for i, part in enumerate(parts):
        part_markup = markup if i == len(parts) - 1 else None
        try:
            await _send_text(bot, chat_id, part, part_markup, delays, once=proactive and first)
        except BadRequest as exc:
            if part_markup is None or is_unknown_chat(exc):
                raise
            # A keyboard Telegram refuses must not cost the user the question: numbered text instead.
            log.warning("keyboard refused (%s); sending the choices as text", exc)
            for piece in plain_parts(Reply(part, reply.choices, listed=listed), TEXT_LIMIT):
                await _send_text(bot, chat_id, piece, None, delays, once=False)
        first = False
    for att in reply.attachments:
        await _send_attachment(bot, chat_id, att, delays, once=proactive and first)
        first = False


async def _send_text(
    bot: ExtBot[Any],
    chat_id: int | str,
    text: str,
    markup: InlineKeyboardMarkup | None,
    delays: tuple[float, ...],
    once: bool,
) -> None:
    async def send() -> Any:
        return await bot.send_message(chat_id, text, reply_markup=markup, rate_limit_args=TRY_ONCE if once else None)

    await (send() if once else retrying(send, delays))


async def _send_attachment(
    bot: ExtBot[Any], chat_id: int | str, att: OutAttachment, delays: tuple[float, ...], once: bool
) -> None:
    name = att.file_name or Path(att.path).name
    limit_args = TRY_ONCE if once else None

    async def send_file() -> Any:
        with open(att.path, "rb") as fh:
            if att.kind == "photo":
                return await bot.send_photo(chat_id, fh, filename=name, rate_limit_args=limit_args)
            return await bot.send_document(chat_id, fh, filename=name, rate_limit_args=limit_args)

    await (send_file() if once else retrying(send_file, delays))


async def retrying(call: Callable[[], Awaitable[T]], delays: tuple[float, ...]) -> T:
    """Run a Bot API call, retrying network errors and timeouts after each of `delays`.

    429s are waited out by the rate limiter below; other Telegram errors are final and raised.
    """
    for delay in (*delays, None):
        try:
            return await call()
        except (RetryAfter, BadRequest):
            raise  # waited out by the limiter already / a request Telegram refuses would be refused again
        except NetworkError as exc:  # TimedOut, 5xx, connection errors (PTB also derives BadRequest from it)
            if delay is None:
                raise
            log.info("Telegram network error (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def is_unknown_chat(exc: BadRequest) -> bool:
    message = str(exc).lower()
    return any(s in message for s in ("chat not found", "user not found", "peer_id_invalid", "chat_id is empty"))
