"""The Telegram channel: python-telegram-bot 22 on one side, duban's engine on the other.

Every update becomes one `IncomingMessage` (photos and documents are downloaded into the data directory
first), the engine runs in a worker thread, and its replies go back as messages with inline keyboards.
Updates of one chat are handled strictly in order, different chats concurrently. Outgoing requests pass a
flood limiter (30/s overall, about 1/s per chat, 20/min per group) that waits out Telegram's 429 answers.
Polling is the default; with `DUBAN_TELEGRAM_WEBHOOK_URL` updates arrive on the shared aiohttp server,
checked against the secret-token header. A Telegram or network error is logged, never fatal: the user's
input is already committed by the engine before any reply is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiolimiter import AsyncLimiter
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from config.settings import Settings
from core import ids
from core.channel import PermanentFailure, RetryLater, Runtime
from core.messages import Choice, InAttachment, IncomingMessage, Reply, render_plain, split_text
from handlers import texts

log = logging.getLogger(__name__)

CHANNEL = ids.TELEGRAM
TELEGRAM_ROOT = "https://api.telegram.org"
TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
CALLBACK_DATA_LIMIT = 64  # bytes
MAX_BUTTONS = 100  # Telegram refuses bigger inline keyboards
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files on the public Bot API
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
MAPPED_PREFIX = "~"  # callback data that stands for a value too long for 64 bytes
NO_RETRY = {"retries": 0}  # rate_limit_args of a call whose 429 the caller handles

# Telegram commands must be latin; the engine understands the Chinese words.
COMMAND_WORDS = {
    "report": "汇报",
    "progress": "进度",
    "overdue": "逾期",
    "mytasks": "我的任务",
    "help": "帮助",
    "cancel": "取消",
}
# Commands whose argument names what to ask about: "/progress 墨脱县" → "墨脱县进度".
COMMAND_WITH_SUBJECT = {"progress", "overdue"}

T = TypeVar("T")


# ---- URLs ---------------------------------------------------------------------------------------------------


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


def _retry_seconds(exc: RetryAfter) -> float:
    value = getattr(exc, "_retry_after", None)  # a timedelta in PTB 22; `.retry_after` warns
    if value is None:
        value = exc.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


def _chat_ref(chat_id: str | int) -> int | str:
    """Numeric chat ids as int; "@channelname" stays a string."""
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return str(chat_id)


# ---- flood limits -------------------------------------------------------------------------------------------


class FloodLimiter(BaseRateLimiter[dict[str, int]]):
    """Keeps requests within Telegram's flood limits and waits out 429 answers.

    Requests that name a chat pass an overall limiter (30/s); new messages also a per-chat limiter (a burst
    of 3, then 1/s) and, in groups, a per-group limiter (20/min). A 429 pauses that chat (or, for chat-less
    requests, the bot) for retry_after and retries. A call may pass `rate_limit_args={"retries": n}` (PTB drops falsy
    values, hence a dict): the outbox's first part passes 0 to get the RetryAfter and let the outbox reschedule.

    Args:
        chat_burst: messages a chat may get at once before the per-chat rate applies.
        chat_per_second: the sustained rate of messages to one chat.
        max_retries: retries after a 429 when the call does not say.
        max_wait: a 429 asking to wait longer than this is raised at once rather than waited out.
    """

    def __init__(
        self,
        overall_per_second: float = 30,
        chat_burst: float = 3,
        chat_per_second: float = 1.0,
        group_per_minute: float = 20,
        max_retries: int = 3,
        max_wait: float = 60.0,
    ) -> None:
        self._overall = AsyncLimiter(overall_per_second, 1)
        self._chat_burst = chat_burst
        self._chat_period = chat_burst / chat_per_second
        self._group_per_minute = group_per_minute
        self._chats: dict[int | str, AsyncLimiter] = {}
        self._groups: dict[int | str, AsyncLimiter] = {}
        self._paused_until: dict[int | str | None, float] = {}
        self.max_retries = max_retries
        self.max_wait = max_wait

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    @staticmethod
    def _limiter(table: dict[int | str, AsyncLimiter], key: int | str, rate: float, period: float) -> AsyncLimiter:
        if len(table) > 1024:
            # Forget limiters that are idle (full capacity) so the table does not grow without bound.
            for k, lim in list(table.items()):
                if k != key and lim.has_capacity(lim.max_rate):
                    del table[k]
        limiter = table.get(key)
        if limiter is None:
            limiter = table[key] = AsyncLimiter(rate, period)
        return limiter

    async def _wait_pause(self, key: int | str | None) -> None:
        loop = asyncio.get_running_loop()
        while True:
            until = max(self._paused_until.get(key, 0.0), self._paused_until.get(None, 0.0))
            delay = until - loop.time()
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, int] | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        retries = (rate_limit_args or {}).get("retries", self.max_retries)
        raw_chat = data.get("chat_id")
        chat: int | str | None = None if raw_chat is None else _chat_ref(raw_chat)
        is_group = isinstance(chat, str) or (isinstance(chat, int) and chat < 0)
        attempt = 0
        while True:
            await self._wait_pause(chat)
            try:
                if chat is None:
                    return await callback(*args, **kwargs)
                if not endpoint.startswith("send") or endpoint == "sendChatAction":
                    # Edits and the like: only the overall limit; the per-chat limits are about new messages.
                    async with self._overall:
                        return await callback(*args, **kwargs)
                group_ctx: Any = (
                    self._limiter(self._groups, chat, self._group_per_minute, 60)
                    if is_group
                    else contextlib.nullcontext()
                )
                chat_lim = self._limiter(self._chats, chat, self._chat_burst, self._chat_period)
                async with group_ctx, chat_lim, self._overall:
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = _retry_seconds(exc)
                now = asyncio.get_running_loop().time()
                if len(self._paused_until) > 1024:
                    self._paused_until = {k: t for k, t in self._paused_until.items() if t > now}
                self._paused_until[chat] = max(self._paused_until.get(chat, 0.0), now + seconds)
                if attempt >= retries or seconds > self.max_wait:
                    raise
                attempt += 1
                log.info("Telegram asked to wait %.1fs (%s, chat %s); retry %d", seconds, endpoint, chat, attempt)


# ---- update ordering ----------------------------------------------------------------------------------------


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Handles updates of different chats concurrently and those of one chat strictly in arrival order.

    PTB starts one task per update in arrival order; each task takes its chat's lock before its first await,
    and asyncio locks are first-come first-served, so a chat's updates run one after another. The chat lock
    is taken before PTB's concurrency slot, so one busy chat queues up without holding slots others need.
    """

    def __init__(self, max_concurrent_updates: int = 32) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await super().process_update(update, coroutine)
            return
        key = chat.id
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await super().process_update(update, coroutine)  # the concurrency slot, then the handlers
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # forget idle chats
                del self._waiting[key]
                del self._locks[key]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


# ---- the channel --------------------------------------------------------------------------------------------


class TelegramChannel:
    """duban on Telegram. See the module docstring.

    Args:
        settings: duban's settings (token, base URLs, webhook).
        limiter: the flood limiter (tests pass one with other limits).
    """

    name = CHANNEL

    def __init__(self, settings: Settings, limiter: FloodLimiter | None = None) -> None:
        if not settings.telegram_token:
            raise ValueError("DUBAN_TELEGRAM_TOKEN is not set")
        self.settings = settings
        self.limiter = limiter or FloodLimiter()
        self.application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.app: Runtime | None = None
        self.evidence_dir = settings.data_dir / "evidence" / "telegram"
        self.connected = asyncio.Event()
        self.retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)  # network-error retries of a reply
        self.updates_done = 0  # updates completely handled, replies sent (tests and benchmarks wait on it)
        self._connector: asyncio.Task[None] | None = None
        self._initialized = False
        self._mapped: OrderedDict[str, str] = OrderedDict()  # callback token → long choice value
        self._secret = webhook_secret(settings) if settings.telegram_webhook_url else ""

    @property
    def webhook_mode(self) -> bool:
        return bool(self.settings.telegram_webhook_url)

    # ---- lifecycle ------------------------------------------------------------------------------------------

    def build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        base_url, base_file_url = api_urls(self.settings)
        builder = (
            ApplicationBuilder()
            .token(self.settings.telegram_token or "")
            .base_url(base_url)
            .base_file_url(base_file_url)
            .rate_limiter(self.limiter)
            .concurrent_updates(ChatOrderedProcessor())
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
        self.app = app
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
        bot = application.bot
        await self._set_commands()
        if not application.running:
            await application.start()
        if self.webhook_mode:
            await bot.set_webhook(
                url=self.settings.telegram_webhook_url or "",
                secret_token=self._secret,
                allowed_updates=ALLOWED_UPDATES,
            )
            log.info("Telegram webhook set for @%s at %s", bot.username, self.settings.telegram_webhook_url)
        else:
            assert application.updater is not None
            if not application.updater.running:
                await application.updater.start_polling(
                    timeout=30,
                    allowed_updates=ALLOWED_UPDATES,
                    bootstrap_retries=3,
                    error_callback=self._on_polling_error,
                )
            log.info("Telegram polling started for @%s", bot.username)
        self.connected.set()

    async def _set_commands(self) -> None:
        assert self.application is not None
        commands = [BotCommand(cmd, desc) for cmd, desc in texts.TG_COMMANDS]
        try:
            await self.application.bot.set_my_commands(commands)
        except InvalidToken:
            raise
        except TelegramError as exc:
            # The menu is a convenience; typing still works without it.
            log.warning("could not set the Telegram command menu: %s", exc)

    async def stop(self) -> None:
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
            data = await request.json()
            update = Update.de_json(data, application.bot)
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
        try:
            if update.callback_query is not None:
                await self._on_callback(update.callback_query)
            elif update.message is not None:
                await self._on_message(update.message)
        except Exception:
            # Nothing reaches PTB's error path: one bad update must not disturb the others.
            log.exception("error handling Telegram update %s", update.update_id)
        finally:
            self.updates_done += 1

    async def _on_message(self, message: Message) -> None:
        user = message.from_user
        chat = message.chat
        if user is None or user.is_bot or chat.type == ChatType.CHANNEL:
            return
        is_group = chat.type != ChatType.PRIVATE
        text = message.text if message.text is not None else (message.caption or "")
        addressed, text = self._addressing(message, text)
        if is_group and not addressed:
            return  # the router would answer nothing; no need to touch the database
        text = command_to_text(text)
        attachments: tuple[InAttachment, ...] = ()
        if not is_group and _has_media(message):
            try:
                attachments = (await self._download(message),)
            except _TooLarge:
                await self._send_replies(chat.id, [Reply(texts.TG_FILE_TOO_LARGE)])
                return
            except Exception as exc:
                log.warning("could not download a file from chat %s: %s", chat.id, exc)
                await self._send_replies(chat.id, [Reply(texts.TG_MEDIA_FAILED)])
                return
        elif not text.strip() and not is_group:
            await self._send_replies(chat.id, [Reply(texts.TG_UNSUPPORTED)])
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
        if await self._send_replies(chat.id, await self._handle(msg)):
            await self._confirm(msg)

    async def _on_callback(self, query: CallbackQuery) -> None:
        value = self._resolve(query.data)
        message = query.message
        answered = False
        try:
            if value is None or message is None:
                await self._answer(query, texts.TG_BUTTON_EXPIRED)
                answered = True
                return
            # Answered first: the button stops spinning while the engine works.
            await self._answer(query)
            answered = True
            chat = message.chat
            is_group = chat.type != ChatType.PRIVATE
            # One press per keyboard in a private chat: a double tap is a duplicate to the engine.
            mid = f"cb:{chat.id}:{message.message_id}" + (f":{query.from_user.id}" if is_group else "")
            msg = IncomingMessage(
                channel=CHANNEL,
                chat_id=str(chat.id),
                user_id=str(query.from_user.id),
                text=value,
                message_id=mid,
                is_group=is_group,
                addressed=True,
                user_name=query.from_user.full_name or query.from_user.username,
                is_choice=True,
            )
            replies = await self._handle(msg)
            if replies and not _is_error(replies) and isinstance(message, Message):
                await self._mark_chosen(message, query.data or "")
            if await self._send_replies(chat.id, replies):
                await self._confirm(msg)
        finally:
            if not answered:
                await self._answer(query)

    async def _answer(self, query: CallbackQuery, text: str | None = None) -> None:
        try:
            await query.answer(text=text, show_alert=bool(text))
        except TelegramError as exc:
            log.warning("could not answer callback query %s: %s", query.id, exc)

    async def _mark_chosen(self, message: Message, data: str) -> None:
        """Replace the keyboard of a pressed message by the choice made, so it cannot be pressed again."""
        label = next(
            (
                b.text
                for row in (message.reply_markup.inline_keyboard if message.reply_markup else ())
                for b in row
                if b.callback_data == data
            ),
            None,
        )
        if message.text and label:
            new_text = f"{message.text}\n\n{texts.TG_CHOSEN.format(label=label)}"
            if len(new_text) <= TEXT_LIMIT:
                try:
                    await self._retrying(lambda: message.edit_text(new_text, reply_markup=None))
                    return
                except TelegramError as exc:
                    log.info("could not edit the pressed message: %s", exc)
        try:
            await self._retrying(lambda: message.edit_reply_markup(reply_markup=None))
        except TelegramError as exc:
            log.info("could not remove the keyboard of the pressed message: %s", exc)

    def _addressing(self, message: Message, text: str) -> tuple[bool, str]:
        """Whether a message is meant for the bot, and its text without the @mention of the bot.

        In a group that means: a command at the start (not one for another bot), an @mention of the bot,
        or a reply to one of the bot's messages. In a private chat everything is.
        """
        assert self.application is not None
        bot = self.application.bot
        username = (bot.username or self.settings.telegram_bot_username or "").lower()
        entities = message.entities or message.caption_entities or ()
        source = text
        addressed = message.chat.type == ChatType.PRIVATE
        cuts: list[tuple[int, int]] = []  # spans (in Python characters) to remove from the text
        for entity in entities:
            fragment = _entity_text(source, entity)
            start = _py_index(source, entity.offset)
            if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
                target = fragment.split("@", 1)[1].lower() if "@" in fragment else None
                if target is None or target == username:
                    addressed = True
                    if target is not None:  # "/report@duban_bot" → "/report"
                        at = fragment.index("@")
                        cuts.append((start + at, start + len(fragment)))
                elif message.chat.type != ChatType.PRIVATE:
                    return False, text  # a command for another bot
            elif entity.type == MessageEntity.MENTION and fragment[1:].lower() == username:
                addressed = True
                cuts.append((start, start + len(fragment)))
        reply_to = message.reply_to_message
        if reply_to is not None and reply_to.from_user is not None and reply_to.from_user.id == bot.id:
            addressed = True
        if cuts:
            for a, b in sorted(cuts, reverse=True):
                text = text[:a] + text[b:]
            text = re.sub(r"\s{2,}", " ", text).strip()
        return addressed, text

    async def _handle(self, msg: IncomingMessage) -> list[Reply]:
        assert self.app is not None
        try:
            # The engine is synchronous (SQLAlchemy); a worker thread keeps the event loop free.
            return await asyncio.to_thread(self.app.engine.handle, msg)
        except Exception:
            log.exception("engine failed on %s", msg.key)
            return [Reply(texts.INTERNAL_ERROR)]

    async def _download(self, message: Message) -> InAttachment:
        """Download the photo or file of a message into the evidence directory."""
        kind, obj, file_name, mime = _media_of(message)
        if obj.file_size and obj.file_size > MAX_DOWNLOAD:
            raise _TooLarge()
        tg_file = await self._retrying(obj.get_file)
        ext = _extension(file_name, tg_file.file_path, kind)
        path = self.evidence_dir / f"{uuid.uuid4().hex}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await self._retrying(lambda: tg_file.download_to_drive(path))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return InAttachment(
            kind=kind, local_path=str(path.resolve()), file_name=file_name, mime_type=mime, size=path.stat().st_size
        )

    # ---- outgoing -------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one proactive message (called by the outbox sender).

        Raises:
            RetryLater: Telegram asked to wait, or the bot is not connected yet.
            PermanentFailure: the user blocked the bot, or the chat does not exist.
        """
        if self.application is None or not self.connected.is_set():
            raise RetryLater(5.0, "Telegram is not connected")
        target = _chat_ref(chat_id)
        try:
            try:
                await self._deliver(target, reply, proactive=True)
            except ChatMigrated as exc:
                # The group became a supergroup; its new id takes the message.
                await self._deliver(exc.new_chat_id, reply, proactive=True)
        except RetryAfter as exc:
            raise RetryLater(_retry_seconds(exc), str(exc)) from exc
        except Forbidden as exc:
            raise PermanentFailure(str(exc)) from exc
        except BadRequest as exc:
            if _is_unknown_chat(exc):
                raise PermanentFailure(str(exc)) from exc
            raise

    async def _send_replies(self, chat_id: int, replies: list[Reply]) -> bool:
        """Send the engine's replies in order; failures are logged (the input is already saved).

        Returns:
            True when every reply went out.
        """
        ok = True
        for reply in replies:
            try:
                await self._deliver(chat_id, reply)
            except TelegramError as exc:
                ok = False
                log.warning("could not deliver a reply to chat %s: %s", chat_id, exc)
            except Exception:
                ok = False
                log.exception("could not deliver a reply to chat %s", chat_id)
        return ok

    async def _confirm(self, msg: IncomingMessage) -> None:
        """Tell the engine the replies to `msg` were delivered (a redelivered update then stays silent)."""
        assert self.app is not None
        try:
            await asyncio.to_thread(self.app.engine.mark_replied, msg)
        except Exception:
            log.exception("could not record the replies to %s as delivered", msg.message_id)

    async def _deliver(self, chat_id: int | str, reply: Reply, proactive: bool = False) -> None:
        """Send one reply: its text in parts of at most 4096 characters, the keyboard on the last part,
        then its attachments.

        A proactive first part is tried once (the outbox reschedules it); once a part went out the rest
        are retried here, so a resend by the outbox never duplicates the beginning of a message.
        """
        assert self.application is not None
        bot = self.application.bot
        keyboard = self.keyboard(reply.choices)
        text = reply.text if reply.text.strip() else (texts.TG_CHOOSE if keyboard else "")
        parts = split_text(text, TEXT_LIMIT) if text else []
        first = True
        for i, part in enumerate(parts):
            markup = keyboard if i == len(parts) - 1 else None
            once = proactive and first

            async def send_part(
                part: str = part, markup: InlineKeyboardMarkup | None = markup, once: bool = once
            ) -> Any:
                return await bot.send_message(
                    chat_id, part, reply_markup=markup, rate_limit_args=NO_RETRY if once else None
                )

            try:
                await (send_part() if once else self._retrying(send_part))
            except BadRequest as exc:
                if markup is None or _is_unknown_chat(exc):
                    raise
                # A keyboard Telegram refuses must not cost the user the question: numbered text instead.
                log.warning("keyboard refused (%s); sending the choices as text", exc)
                plain = render_plain(Reply(part, reply.choices))
                for piece in split_text(plain, TEXT_LIMIT):
                    await self._retrying(lambda piece=piece: bot.send_message(chat_id, piece))
            first = False
        for att in reply.attachments:
            await self._send_attachment(chat_id, att.kind, att.path, att.file_name, once=proactive and first)
            first = False

    async def _send_attachment(
        self, chat_id: int | str, kind: str, path: str, file_name: str | None, once: bool
    ) -> None:
        assert self.application is not None
        bot = self.application.bot
        name = file_name or Path(path).name

        async def send_file() -> Any:
            with open(path, "rb") as fh:
                if kind == "photo":
                    return await bot.send_photo(chat_id, fh, filename=name, rate_limit_args=NO_RETRY if once else None)
                return await bot.send_document(chat_id, fh, filename=name, rate_limit_args=NO_RETRY if once else None)

        await (send_file() if once else self._retrying(send_file))

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a Bot API call, retrying network errors and timeouts with backoff.

        429s are waited out by the flood limiter below; other Telegram errors are final and raised.
        """
        for delay in (*self.retry_delays, None):
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

    def keyboard(self, choices: list[Choice]) -> InlineKeyboardMarkup | None:
        """Choices as inline buttons; short labels share a row."""
        if not choices:
            return None
        if len(choices) > MAX_BUTTONS:
            log.warning("%d choices offered; only the first %d become buttons", len(choices), MAX_BUTTONS)
            choices = choices[:MAX_BUTTONS]
        widest = max(len(c.label) for c in choices)
        per_row = 1 if widest > 10 else 2 if widest > 5 else 3 if widest > 3 else 4
        buttons = [InlineKeyboardButton(c.label, callback_data=self._callback_data(c.value)) for c in choices]
        rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
        return InlineKeyboardMarkup(rows)

    def _callback_data(self, value: str) -> str:
        """The value itself if it fits Telegram's 64 bytes, else a token remembered for the value."""
        if value and len(value.encode()) <= CALLBACK_DATA_LIMIT and not value.startswith(MAPPED_PREFIX):
            return value
        token = MAPPED_PREFIX + hashlib.sha256(value.encode()).hexdigest()[:32]
        self._mapped[token] = value
        self._mapped.move_to_end(token)
        while len(self._mapped) > 10000:
            self._mapped.popitem(last=False)
        return token

    def _resolve(self, data: str | None) -> str | None:
        """The choice value behind callback data; None for a token this process no longer knows."""
        if not data:
            return None
        if data.startswith(MAPPED_PREFIX):
            return self._mapped.get(data)
        return data


# ---- helpers ------------------------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


def command_to_text(text: str) -> str:
    """Latin Telegram commands to the words the engine understands ("/report" → "汇报").

    "/start CODE" and commands the engine knows itself ("/continue", "/edit") pass unchanged.
    """
    if not text.startswith("/"):
        return text
    head, _, rest = text.partition(" ")
    command = head[1:].split("@", 1)[0].lower()
    rest = rest.strip()
    word = COMMAND_WORDS.get(command)
    if word is None:
        return f"/{command} {rest}".strip() if command else text
    if command in COMMAND_WITH_SUBJECT and rest:
        return f"{rest}{word}"
    return word


def _has_media(message: Message) -> bool:
    return bool(message.photo or message.document or message.video or message.audio or message.voice)


def _media_of(message: Message) -> tuple[str, Any, str | None, str | None]:
    """(kind, PTB file object, file name, MIME type) of the media of a message."""
    if message.photo:
        return "photo", message.photo[-1], None, "image/jpeg"  # the last size is the largest
    for obj in (message.document, message.video, message.audio, message.voice):
        if obj is not None:
            return "file", obj, getattr(obj, "file_name", None), getattr(obj, "mime_type", None)
    raise ValueError("message has no media")


def _extension(file_name: str | None, file_path: str | None, kind: str) -> str:
    for candidate in (file_name, file_path):
        if candidate:
            suffix = Path(candidate).suffix.lower()
            if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
                return suffix
    return ".jpg" if kind == "photo" else ".bin"


def _py_index(text: str, utf16_offset: int) -> int:
    """The Python index of a UTF-16 offset (Telegram counts emoji as two)."""
    count = 0
    for i, ch in enumerate(text):
        if count >= utf16_offset:
            return i
        count += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


def _entity_text(text: str, entity: MessageEntity) -> str:
    encoded = text.encode("utf-16-le")
    return encoded[entity.offset * 2 : (entity.offset + entity.length) * 2].decode("utf-16-le")


def _is_unknown_chat(exc: BadRequest) -> bool:
    message = str(exc).lower()
    return any(s in message for s in ("chat not found", "user not found", "peer_id_invalid", "chat_id is empty"))


def _is_error(replies: list[Reply]) -> bool:
    return len(replies) == 1 and replies[0].text == texts.INTERNAL_ERROR
