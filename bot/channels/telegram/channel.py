"""The Telegram channel: python-telegram-bot 22 on one side, duban's engine (through the shared edge) on the other.

PTB hands every update over, one at a time, to `_on_update`, which only queues it with the edge in its chat's
turn: updates of one chat are handled strictly in order, different chats concurrently. Handling an update means
converting it into one `IncomingMessage` (photos and documents are downloaded into the data directory first),
the engine in a worker thread, and its replies back as messages with inline keyboards (see `outbound`).
Outgoing requests pass `TelegramRateLimiter`. Polling is the default; with `DUBAN_TELEGRAM_WEBHOOK_URL` updates
arrive on the shared aiohttp server, checked against the secret-token header. A Telegram or network error is
logged, never fatal: the user's input is already committed by the engine before any reply is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from telegram import BotCommand, CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, ExtBot, TypeHandler

from bot.channels.edge import Edge, Send
from bot.channels.telegram import inbound, outbound
from bot.channels.telegram.limits import TelegramRateLimiter, chat_ref, retry_seconds
from config.settings import Settings
from core import ids
from core.channel import PermanentFailure, RetryLater, Runtime
from core.messages import TOKEN_PREFIX, InAttachment, IncomingMessage, Reply, parse_choice_token
from handlers import texts

log = logging.getLogger(__name__)

T = TypeVar("T")

CHANNEL = ids.TELEGRAM
TELEGRAM_ROOT = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
STOP_GRACE = 10.0  # seconds the updates received before a stop get to finish


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
        self.edge = Edge(CHANNEL, outbound.TEXT_LIMIT, expected_errors=(TelegramError,))
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.evidence_dir = settings.data_dir / "evidence" / "telegram"
        self.connected = asyncio.Event()
        self.retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)  # network-error retries of a reply
        self.updates_done = 0  # updates completely handled, replies sent (tests and benchmarks wait on it)
        self._connector: asyncio.Task[None] | None = None
        self._initialized = False
        self._secret = webhook_secret(settings) if settings.telegram_webhook_url else ""

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
        """PTB's application. It dispatches updates one at a time (its default): `_on_update` only queues them
        with the edge, which keeps each chat's order and runs different chats concurrently."""
        base_url, base_file_url = api_urls(self.settings)
        builder = (
            ApplicationBuilder()
            .token(self.settings.telegram_token or "")
            .base_url(base_url)
            .base_file_url(base_file_url)
            .rate_limiter(self.limiter)
            .job_queue(None)  # duban's scheduler does the timing; PTB's job queue would be a second one
        )
        if self.webhook_mode:
            builder = builder.updater(None)
        application = builder.build()
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)
        return application

    async def start(self, app: Runtime, web_app: web.Application) -> None:
        """Register the webhook route if configured, then connect; a network failure is retried in the background.

        Raises:
            InvalidToken: the token is refused (retrying would not help).
        """
        self.edge.attach(app)
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        self.application = self.build_application()
        if self.webhook_mode:
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
        if not application.running:
            await application.start()
        if self.webhook_mode:
            await self.bot.set_webhook(
                url=self.settings.telegram_webhook_url or "", secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("Telegram webhook set for @%s at %s", self.bot.username, self.settings.telegram_webhook_url)
        else:
            assert application.updater is not None
            if not application.updater.running:
                await application.updater.start_polling(
                    timeout=30,
                    allowed_updates=ALLOWED_UPDATES,
                    bootstrap_retries=3,
                    error_callback=self._on_polling_error,
                )
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
        """Stop taking updates, let those received finish (up to STOP_GRACE seconds), then disconnect."""
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        application = self.application
        if application is None:
            return
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await self.edge.close(STOP_GRACE)  # before shutdown: the updates still need the bot
        if self._initialized:
            await application.shutdown()
            self._initialized = False
        self.connected.clear()

    def _on_polling_error(self, exc: TelegramError) -> None:
        # PTB retries polling by itself; one line is enough, not a traceback per try.
        log.warning("Telegram polling error: %s", exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error handling a Telegram update: %s", context.error, exc_info=context.error)

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
        # Queued for the application's update task; Telegram wants a quick 200.
        await application.update_queue.put(update)
        return web.Response(text="ok")

    # ---- incoming -------------------------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Queue the update in its chat's turn. Returns at once: PTB waits for this before the next update."""
        chat = update.effective_chat
        self.edge.submit(chat.id if chat is not None else "-", functools.partial(self._process, update))

    async def _process(self, update: Update) -> None:
        try:
            if update.callback_query is not None:
                await self._on_callback(update.callback_query)
            elif update.message is not None:
                await self._on_message(update.message)
        except Exception:
            # One bad update must not disturb the others.
            log.exception("error handling Telegram update %s", update.update_id)
        finally:
            self.updates_done += 1

    async def _on_message(self, message: Message) -> None:
        user, chat = message.from_user, message.chat
        if user is None or user.is_bot or chat.type == ChatType.CHANNEL:
            return
        is_group = chat.type != ChatType.PRIVATE
        text = message.text if message.text is not None else (message.caption or "")
        username = self.bot.username or self.settings.telegram_bot_username or ""
        addressed, text = inbound.addressing(message, text, username, self.bot.id)
        if is_group and not addressed:
            return  # the router would answer nothing; no need to touch the database
        text = inbound.command_to_text(text)
        send = self._sender(chat.id)
        attachments: tuple[InAttachment, ...] = ()
        if not is_group and inbound.has_media(message):
            try:
                attachments = (await inbound.download(message, self.evidence_dir, self._retrying),)
            except inbound.TooLarge:
                await self.edge.deliver([Reply(texts.TG_FILE_TOO_LARGE)], send)
                return
            except Exception as exc:
                log.warning("could not download a file from chat %s: %s", chat.id, exc)
                await self.edge.deliver([Reply(texts.TG_MEDIA_FAILED)], send)
                return
        elif not text.strip() and not is_group:
            await self.edge.deliver([Reply(texts.TG_UNSUPPORTED)], send)
            return
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
        await self.edge.converse(msg, send)

    async def _on_callback(self, query: CallbackQuery) -> None:
        """A button press: its callback data goes to the engine as the text of a choice."""
        data, message = query.data, query.message
        if not data or message is None or _is_legacy_button(data):
            await self._answer(query, texts.TG_BUTTON_EXPIRED)
            return
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
        replies = await self.edge.handle(msg)
        if replies and not _is_error(replies) and isinstance(message, Message):
            await self._mark_chosen(message, data)
        await self.edge.deliver(replies, self._sender(chat.id), confirm=msg)

    async def _answer(self, query: CallbackQuery, text: str | None = None) -> None:
        try:
            await query.answer(text=text, show_alert=bool(text))
        except TelegramError as exc:
            log.warning("could not answer callback query %s: %s", query.id, exc)

    async def _mark_chosen(self, message: Message, data: str) -> None:
        """Replace the keyboard of a pressed message by the choice made, so it cannot be pressed again."""
        rows = message.reply_markup.inline_keyboard if message.reply_markup else ()
        label = next((b.text for row in rows for b in row if b.callback_data == data), None)
        if message.text and label:
            new_text = f"{message.text}\n\n{texts.TG_CHOSEN.format(label=label)}"
            if self.edge.limit.measure(new_text) <= self.edge.limit.size:

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

    def _sender(self, chat_id: int) -> Send:
        """Delivers a reply to `chat_id`, retrying network errors (the edge's way to send)."""

        async def send(reply: Reply) -> None:
            await outbound.deliver(self.bot, chat_id, reply, self.retry_delays)

        return send

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        return await outbound.retrying(call, self.retry_delays)


def _is_legacy_button(data: str) -> bool:
    """Callback data of a release that mapped long values in memory ("~" and a hash): it means nothing now."""
    return data.startswith(TOKEN_PREFIX) and parse_choice_token(data) is None


def _is_error(replies: list[Reply]) -> bool:
    return len(replies) == 1 and replies[0].text == texts.INTERNAL_ERROR
