"""The Telegram channel: python-telegram-bot 22 on one side, duban's inbox and outbox on the other.

Every update is stored in the inbox (`bot.inbox`), committed, before Telegram is told it arrived:

- Polling is duban's own getUpdates loop, not PTB's updater, because the Bot API confirms an update as soon as
  getUpdates is called with an offset higher than its update_id ("An update is considered confirmed as soon as
  getUpdates is called with an offset higher than its update_id"); PTB's updater moves the offset on before the
  update is handled. Here the offset moves past a batch only after the batch is committed; a crash before that
  gets the same updates again, and storing them again is a no-op (unique update id).
- With `DUBAN_TELEGRAM_WEBHOOK_URL` updates arrive on the shared aiohttp server, checked against the
  secret-token header, and the webhook answers 200 only after the update is committed. Any other answer makes
  Telegram deliver the update again later.

The inbox worker later asks `prepare` to turn a stored update into one `IncomingMessage` (photos and documents
are downloaded into the data directory then), and its replies go out through the outbox and `send` (inline
keyboards, see `outbound`). Outgoing requests pass `TelegramRateLimiter`, and PTB sends them through duban's
aiohttp transport (`transport`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web
from telegram import BotCommand, CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.channels.edge import refused_as_stale
from bot.channels.telegram import inbound, outbound
from bot.channels.telegram.limits import TelegramRateLimiter, chat_ref, retry_seconds
from bot.channels.telegram.transport import AiohttpRequest
from config.settings import Settings
from core import ids
from core.channel import PermanentFailure, RetryLater, Runtime
from core.inbox import Inbox, Prepared, Row
from core.inbox import Update as InboxUpdate
from core.messages import TOKEN_PREFIX, InAttachment, IncomingMessage, Reply, parse_choice_token
from handlers import texts

log = logging.getLogger(__name__)

T = TypeVar("T")

CHANNEL = ids.TELEGRAM
TELEGRAM_ROOT = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
POLL_TIMEOUT = 30  # seconds a getUpdates waits for updates (long polling)
POLL_RETRY_FIRST, POLL_RETRY_MAX = 1.0, 30.0  # waits after a failed getUpdates (doubling)
POLL_CONFLICT_WAIT = 5.0


def api_urls(settings: Settings) -> tuple[str, str]:
    """The `base_url` and `base_file_url` PTB wants (it appends the token) from duban's settings.

    `DUBAN_TELEGRAM_BASE_URL` is the server root of a Bot API server (e.g. http://127.0.0.1:8081); a URL that
    already ends in "/bot" or contains "{token}" is taken as PTB's form. The file URL defaults to the same
    server's "/file/bot".
    """
    base = (settings.telegram_base_url or TELEGRAM_ROOT).rstrip("/")
    if "{token}" in base or base.endswith("/bot"):
        api = base
        root = base.split("/bot", 1)[0] if base.endswith("/bot") else None
    else:
        api, root = f"{base}/bot", base
    file_base = settings.telegram_base_file_url
    if file_base:
        file_base = file_base.rstrip("/")
        files = file_base if ("{token}" in file_base or file_base.endswith("/file/bot")) else f"{file_base}/file/bot"
    else:
        files = f"{root or TELEGRAM_ROOT}/file/bot"
    return api, files


def webhook_secret(settings: Settings) -> str:
    """The configured secret, or one derived from the token: stable across restarts and processes."""
    if settings.telegram_webhook_secret:
        return settings.telegram_webhook_secret
    assert settings.telegram_token
    return hashlib.sha256(f"duban-webhook:{settings.telegram_token}".encode()).hexdigest()[:48]


def _key(update: Update) -> str:
    """The inbox key of an update: what it says, not how it came. A message redelivered in another update, or
    pushed where it was polled before, is the same message; the presses of one keyboard (by one user, in a group)
    are one choice. The engine uses the same ids (`IncomingMessage.message_id`)."""
    query, message = update.callback_query, update.message
    if query is not None and query.message is not None:
        chat = query.message.chat
        by = f":{query.from_user.id}" if chat.type != ChatType.PRIVATE else ""
        return f"cb:{chat.id}:{query.message.message_id}{by}"
    if query is None and message is not None:
        return f"m:{message.chat.id}:{message.message_id}"
    return f"u:{update.update_id}"


class TelegramChannel:
    """duban on Telegram. See the module docstring.

    Args:
        settings: duban's settings (token, base URLs, webhook).
        limiter: the rate limiter (tests pass one with other limits).
    """

    name = CHANNEL

    def __init__(self, settings: Settings, limiter: TelegramRateLimiter | None = None) -> None:
        if not settings.telegram_token:
            raise ValueError("DUBAN_TELEGRAM_TOKEN is not set")
        self.settings = settings
        self.limiter = limiter or TelegramRateLimiter()
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.evidence_dir = settings.data_dir / "evidence" / "telegram"
        self.connected = asyncio.Event()
        self.retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)  # network-error retries of a reply
        self.ignored = 0  # updates seen and not handled: not for duban, redelivered, or over a stranger's cap
        self._answering: set[asyncio.Task[None]] = set()  # answers to repeated button presses, going out
        self._connector: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._inbox: Inbox | None = None
        self._initialized = False
        self._secret = webhook_secret(settings) if settings.telegram_webhook_url else ""

    @property
    def inbox(self) -> Inbox:
        if self._inbox is None:
            raise RuntimeError("the Telegram channel is not started")
        return self._inbox

    @property
    def updates_done(self) -> int:
        """Updates completely handled, replies sent, or not to be handled (tests and benchmarks wait on it)."""
        return self.ignored + (self._inbox.handled[CHANNEL] if self._inbox is not None else 0)

    @property
    def webhook_mode(self) -> bool:
        return bool(self.settings.telegram_webhook_url)

    @property
    def bot(self) -> ExtBot[Any]:
        if self.application is None:
            raise RuntimeError("the Telegram channel is not started")
        return self.application.bot

    # ---- lifecycle ------------------------------------------------------------------------------------------

    def build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        """PTB's application: the bot, its HTTP client and the rate limiter. Updates do not pass through it.

        The HTTP client is duban's aiohttp transport (`transport.AiohttpRequest`), with the pool sizes and timeouts
        PTB's builder gives its own httpx one: 256 connections for the bot's requests, 1 for getUpdates.
        """
        base_url, base_file_url = api_urls(self.settings)
        builder = (
            ApplicationBuilder()
            .token(self.settings.telegram_token or "")
            .base_url(base_url)
            .base_file_url(base_file_url)
            .request(AiohttpRequest(connection_pool_size=256))
            .get_updates_request(AiohttpRequest(connection_pool_size=1))
            .rate_limiter(self.limiter)
            .job_queue(None)  # duban's scheduler does the timing; PTB's job queue would be a second one
        )
        # No updater: duban polls itself, so that the offset moves only past what is stored (see the docstring).
        return builder.updater(None).build()

    async def start(self, app: Runtime, web_app: web.Application) -> None:
        """Register the webhook route if configured, then connect; a network failure is retried in the background.

        Raises:
            InvalidToken: the token is refused (retrying would not help).
        """
        self._inbox = app.inbox
        if app.inbox is not None:
            app.inbox.add(self)
        else:
            log.info("no inbox in this process: the Telegram channel only sends")
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        self.application = self.build_application()
        if self.webhook_mode and self._inbox is not None:
            web_app.router.add_post(self.settings.telegram_webhook_path, self._webhook)
        try:
            await self._connect()
        except InvalidToken:
            log.error("the Telegram token was refused (check DUBAN_TELEGRAM_TOKEN)")
            await self.stop()
            raise
        except (TelegramError, OSError) as exc:
            log.warning("Telegram not reachable yet (%s); retrying in the background", exc)
            self._connector = asyncio.create_task(self._connect_forever(), name="telegram-connect")

    async def _connect_forever(self) -> None:
        delay = 2.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect()
                return
            except InvalidToken:
                log.error("the Telegram token was refused; the Telegram channel is off")
                return
            except (TelegramError, OSError) as exc:
                delay = min(delay * 2, 60.0)
                log.warning("Telegram still not reachable (%s); next try in %.0fs", exc, delay)

    async def _connect(self) -> None:
        application = self.application
        assert application is not None
        if not self._initialized:  # a failed earlier try may have got this far
            await application.initialize()
            self._initialized = True
        await self._set_commands()
        if self.webhook_mode and self._inbox is not None:
            await self.bot.set_webhook(
                url=self.settings.telegram_webhook_url or "", secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("Telegram webhook set for @%s at %s", self.bot.username, self.settings.telegram_webhook_url)
        elif self._poller is None and self._inbox is not None:
            await self.bot.delete_webhook()  # getUpdates is refused (409) while a webhook is set
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
            log.info("Telegram polling started for @%s", self.bot.username)
        self.connected.set()

    async def _set_commands(self) -> None:
        commands = [BotCommand(cmd, desc) for cmd, desc in texts.TG_COMMANDS]
        try:
            await self.bot.set_my_commands(commands)
        except InvalidToken:
            raise
        except TelegramError as exc:
            # The menu is a convenience; typing still works without it.
            log.warning("could not set the Telegram command menu: %s", exc)

    async def stop(self) -> None:
        """Stop taking updates and disconnect (the inbox worker has finished with the bot before this)."""
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._poller is not None:
            # An unanswered getUpdates confirms nothing: cancelling it loses no update.
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        application = self.application
        if application is None:
            return
        if self._initialized:
            await application.shutdown()
            self._initialized = False
        self.connected.clear()

    # ---- polling --------------------------------------------------------------------------------------------

    async def _poll(self) -> None:
        """getUpdates until cancelled; the offset moves past a batch only once the inbox has committed it."""
        offset: int | None = None  # None: Telegram starts at the oldest update not yet confirmed
        delay = POLL_RETRY_FIRST
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES
                )
                if updates:
                    await self._store(updates)
                    offset = updates[-1].update_id + 1
                delay = POLL_RETRY_FIRST
            except asyncio.CancelledError:
                raise
            except InvalidToken:
                log.error("the Telegram token was refused; polling stops")
                return
            except Conflict as exc:
                log.warning("Telegram refused getUpdates (%s): another process polls this bot", exc)
                await asyncio.sleep(POLL_CONFLICT_WAIT)
            except Exception as exc:  # network errors, 5xx, 429, the database refusing the batch
                log.warning("Telegram polling: %s; again in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, POLL_RETRY_MAX)

    async def _store(self, updates: Sequence[Update]) -> None:
        """Commit `updates` to the inbox (raises when they were not stored). Updates not meant for duban (group
        chatter not addressed to the bot, channel posts) are not stored."""
        kept = [(u, e) for u, e in ((u, self._entry(u)) for u in updates) if e is not None]
        self.ignored += len(updates) - len(kept)
        entries = [e for _, e in kept]
        stored = await self.inbox.accept(CHANNEL, entries, [self.ready(u) for u, _ in kept])
        self.ignored += sum(1 for s in stored if not s.new or s.skipped)
        for (update, _), result in zip(kept, stored, strict=True):
            if not result.new and update.callback_query is not None:
                # A second press of a pressed keyboard is the same choice: its button just stops spinning (an old
                # release's button is told it expired, as on a first press).
                query = update.callback_query
                note = texts.TG_BUTTON_EXPIRED if not query.data or _is_legacy_button(query.data) else None
                task = asyncio.create_task(self._answer(query, note))
                self._answering.add(task)
                task.add_done_callback(self._answering.discard)

    def _entry(self, update: Update) -> InboxUpdate | None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or user.is_bot or chat.type == ChatType.CHANNEL:
            return None
        message = update.message
        if update.callback_query is None and message is None:
            return None
        if message is not None and chat.type != ChatType.PRIVATE:
            text = message.text if message.text is not None else (message.caption or "")
            username = self.bot.username or self.settings.telegram_bot_username or ""
            if not inbound.addressing(message, text, username, self.bot.id)[0]:
                return None  # the router would answer nothing; no need to keep it
        return InboxUpdate(_key(update), str(chat.id), str(user.id), update.to_dict())

    # ---- webhook --------------------------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            return web.Response(status=403, text="forbidden")
        application = self.application
        if application is None:
            return web.Response(status=503)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except Exception:
            log.warning("unreadable Telegram webhook body")
            return web.Response(status=400)
        if update is None:
            return web.Response(status=400)
        try:
            await self._store([update])
        except Exception:
            log.exception("a Telegram webhook update could not be stored; Telegram will deliver it again")
            return web.Response(status=503)
        return web.Response(text="ok")  # only now: the update is committed

    # ---- incoming -------------------------------------------------------------------------------------------

    async def prepare(self, row: Row) -> Prepared:
        """A stored update as the message for the engine (media downloaded now)."""
        update = Update.de_json(row.payload, self.bot)
        if update.callback_query is not None:
            return await self._on_callback(update.callback_query)
        if update.message is not None:
            return await self._on_message(update.message)
        return Prepared(None)

    def ready(self, update: Update) -> Prepared | None:
        """The message of an update that needs no call to Telegram (text: no file to download, no button to
        answer), ready for the engine as it arrives; None when only `prepare` can make it."""
        message = update.message
        if update.callback_query is not None or message is None:
            return None
        if message.chat.type == ChatType.PRIVATE and inbound.has_media(message):
            return None
        return self._on_text(message, ())

    async def _on_message(self, message: Message) -> Prepared:
        if message.from_user is None or message.chat.type != ChatType.PRIVATE or not inbound.has_media(message):
            return self._on_text(message, ())
        try:
            attachment = await inbound.download(message, self.evidence_dir, self._retrying)
        except inbound.TooLarge:
            return Prepared(None, [Reply(texts.TG_FILE_TOO_LARGE)])
        except Exception as exc:
            log.warning("could not download a file from chat %s: %s", message.chat.id, exc)
            return Prepared(None, [Reply(texts.TG_MEDIA_FAILED)])
        return self._on_text(message, (attachment,))

    def _on_text(self, message: Message, attachments: tuple[InAttachment, ...]) -> Prepared:
        """A message as the engine's, with its file already fetched (if it has one)."""
        user, chat = message.from_user, message.chat
        if user is None:
            return Prepared(None)
        is_group = chat.type != ChatType.PRIVATE
        text = message.text if message.text is not None else (message.caption or "")
        username = self.bot.username or self.settings.telegram_bot_username or ""
        addressed, text = inbound.addressing(message, text, username, self.bot.id)
        if is_group and not addressed:
            return Prepared(None)
        text = inbound.command_to_text(text)
        if not attachments and not text.strip() and not is_group:
            return Prepared(None, [Reply(texts.TG_UNSUPPORTED)])
        msg = IncomingMessage(
            channel=CHANNEL,
            chat_id=str(chat.id),
            user_id=str(user.id),
            text=text.strip(),
            attachments=attachments,
            message_id=f"m:{chat.id}:{message.message_id}",  # the same whether polled or pushed
            is_group=is_group,
            addressed=addressed,
            user_name=user.full_name or user.username,
        )
        return Prepared(msg)

    async def _on_callback(self, query: CallbackQuery) -> Prepared:
        """A button press: its callback data goes to the engine as the text of a choice."""
        data, message = query.data, query.message
        if not data or message is None or _is_legacy_button(data):
            await self._answer(query, texts.TG_BUTTON_EXPIRED)
            return Prepared(None)
        await self._answer(query)  # first: the button stops spinning while the engine works
        chat = message.chat
        is_group = chat.type != ChatType.PRIVATE
        # One press per keyboard in a private chat: a double tap is a duplicate to the engine.
        mid = f"cb:{chat.id}:{message.message_id}" + (f":{query.from_user.id}" if is_group else "")
        msg = IncomingMessage(
            channel=CHANNEL,
            chat_id=str(chat.id),
            user_id=str(query.from_user.id),
            text=data,
            message_id=mid,
            is_group=is_group,
            addressed=True,
            user_name=query.from_user.full_name or query.from_user.username,
            is_choice=True,
        )
        after = functools.partial(self._mark_chosen, message, data) if isinstance(message, Message) else None
        return Prepared(msg, after=after)

    async def _answer(self, query: CallbackQuery, text: str | None = None) -> None:
        try:
            await query.answer(text=text, show_alert=bool(text))
        except TelegramError as exc:
            log.warning("could not answer callback query %s: %s", query.id, exc)

    async def _mark_chosen(self, message: Message, data: str, answer: list[str]) -> None:
        """Replace the keyboard of a pressed message by the choice made (or, when the engine refused a press on an
        old question's button, by a note that it has expired), so that it cannot be pressed again and the chat
        reads as a record."""
        rows = message.reply_markup.inline_keyboard if message.reply_markup else ()
        label = next((b.text for row in rows for b in row if b.callback_data == data), None)
        mark = (
            texts.TG_EXPIRED_MARK
            if refused_as_stale(answer)
            else texts.TG_CHOSEN.format(label=label)
            if label
            else None
        )
        if message.text and mark:
            new_text = f"{message.text}\n\n{mark}"
            if outbound.TEXT_LIMIT.measure(new_text) <= outbound.TEXT_LIMIT.size:

                async def edit_text() -> Any:
                    return await message.edit_text(new_text, reply_markup=None)

                try:
                    await self._retrying(edit_text)
                    return
                except TelegramError as exc:
                    log.info("could not edit the pressed message: %s", exc)

        async def edit_markup() -> Any:
            return await message.edit_reply_markup(reply_markup=None)

        try:
            await self._retrying(edit_markup)
        except TelegramError as exc:
            log.info("could not remove the keyboard of the pressed message: %s", exc)

    # ---- outgoing -------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one proactive message (called by the outbox sender).

        Raises:
            RetryLater: Telegram asked to wait, or the bot is not connected yet.
            PermanentFailure: the user blocked the bot, or the chat does not exist.
        """
        if self.application is None or not self.connected.is_set():
            raise RetryLater(5.0, "Telegram is not connected")
        try:
            try:
                await outbound.deliver(self.bot, chat_ref(chat_id), reply, self.retry_delays, proactive=True)
            except ChatMigrated as exc:
                # The group became a supergroup; its new id takes the message.
                await outbound.deliver(self.bot, exc.new_chat_id, reply, self.retry_delays, proactive=True)
        except RetryAfter as exc:
            raise RetryLater(retry_seconds(exc), str(exc)) from exc
        except Forbidden as exc:
            raise PermanentFailure(str(exc)) from exc
        except BadRequest as exc:
            if outbound.is_unknown_chat(exc):
                raise PermanentFailure(str(exc)) from exc
            raise

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        return await outbound.retrying(call, self.retry_delays)


def _is_legacy_button(data: str) -> bool:
    """Callback data of a release that mapped long values in memory ("~" and a hash): it means nothing now."""
    return data.startswith(TOKEN_PREFIX) and parse_choice_token(data) is None
