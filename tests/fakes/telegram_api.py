"""A fake Telegram Bot API server on 127.0.0.1, for tests, benchmarks and the reliability suite.

The real python-telegram-bot talks to it over HTTP exactly as it would to api.telegram.org (point the bot's
base URL at `FakeTelegramAPI.url`). It implements the part of the Bot API duban uses, with Telegram's
semantics where they matter to a bot: getUpdates long polling with offset confirmation, the 409 conflict
while a webhook is set, webhook delivery with the secret-token header, inline keyboards and callback
queries, file download, and error responses (429 with retry_after, 5xx, 403 for a blocked user) on demand.

Typical use::

    api = FakeTelegramAPI()
    await api.start()
    api.inject_message(chat_id=42, text="/start ABCD1234")
    await api.wait_for(lambda: api.sent(42), timeout=5)
    await api.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.wait import wait_for

DEFAULT_TOKEN = "123456789:TEST-duban-fake-token"

# Parameters PTB sends JSON-encoded inside form or multipart fields.
_JSON_PARAMS = {
    "reply_markup",
    "commands",
    "allowed_updates",
    "entities",
    "caption_entities",
    "scope",
    "link_preview_options",
    "reply_parameters",
}
_INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "reply_to_message_id", "max_connections"}


@dataclass
class ApiCall:
    """One request the bot made: the method, its decoded parameters, when, and the HTTP status answered; with the
    request's content type and its uploaded files (field → (file name, bytes, MIME type of the part))."""

    method: str
    params: dict[str, Any]
    at: float
    status: int = 200
    content_type: str = ""
    uploads: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    description: str


@dataclass
class _Outage:
    """Every call of a method fails until `until` (monotonic), with `statuses` in turn."""

    until: float
    statuses: tuple[int, ...]
    failed: int = 0

    def next_status(self) -> int | None:
        if time.monotonic() >= self.until:
            return None
        self.failed += 1
        return self.statuses[(self.failed - 1) % len(self.statuses)]


@dataclass
class _File:
    content: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None


def _utf16_len(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class FakeTelegramAPI:
    """A Bot API server for one bot. All public methods must be called from the event loop it runs on.

    Attributes:
        calls: every request, in order (including failed and long-poll ones).
        answered_callbacks: callback query id → parameters of answerCallbackQuery.
        commands: the last list set with setMyCommands.
        webhook: {"url", "secret_token", ...} while a webhook is set, else None.
        webhook_deliveries: (update_id, HTTP status) for every webhook push (0: no answer, e.g. nobody listening).
        webhook_retry_for: how long a push that got no 2xx is tried again, in seconds (Telegram keeps trying
            for hours); 0: three quick tries.
        webhook_given_up: update ids whose push never got a 2xx (dropped, as Telegram does in the end).
        injected: every update injected, in order.
    """

    token: str = DEFAULT_TOKEN
    bot_id: int = 7000001
    bot_username: str = "duban_test_bot"
    bot_name: str = "督办助手"
    host: str = "127.0.0.1"
    calls: list[ApiCall] = field(default_factory=list)
    answered_callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    webhook_deliveries: list[tuple[int, int]] = field(default_factory=list)
    webhook_retry_for: float = 0.0
    webhook_given_up: list[int] = field(default_factory=list)
    injected: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._pending: list[dict[str, Any]] = []  # updates not yet confirmed by an offset
        self._update_ids = itertools.count(100001)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat_id, message_id) → message
        self._bot_messages: dict[int, list[int]] = {}  # chat_id → ids of messages the bot sent, in order
        self._files: dict[str, _File] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._outages: dict[str, _Outage] = {}
        self._delays: dict[str, float] = {}
        self._blocked: set[int] = set()
        self._unknown_chats: set[int] = set()
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._push_tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # ---- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server  # the only way aiohttp exposes the bound port of port 0
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    def _add_routes(self, app: web.Application) -> None:
        """The Bot API's routes; a subclass may add its own (bench/tg_fake.py adds a control endpoint)."""
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)

    async def stop(self) -> None:
        self._closing = True
        self._notify()  # wake long polls so the server can shut down at once
        for task in list(self._push_tasks):
            task.cancel()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegramAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:40123 (what DUBAN_TELEGRAM_BASE_URL takes)."""
        return f"http://{self.host}:{self.port}"

    @property
    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_name, "username": self.bot_username}

    # ---- failure injection ----------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with an error (429 with retry_after by default)."""
        desc = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }.get(status, f"Error {status}")
        queue = self._failures.setdefault(method, deque())
        for _ in range(times):
            queue.append(_Failure(status, retry_after if status == 429 else None, desc))

    def fail_for(self, method: str, seconds: float, statuses: tuple[int, ...] = (500, 502, 429)) -> None:
        """An outage: every call of `method` in the next `seconds` fails, answered with `statuses` in turn (a 429
        asks to retry after 1 s)."""
        self._outages[method] = _Outage(time.monotonic() + seconds, statuses)

    def outage_failures(self, method: str) -> int:
        """Calls of `method` the last outage answered with an error."""
        outage = self._outages.get(method)
        return outage.failed if outage is not None else 0

    def set_delay(self, method: str, seconds: float) -> None:
        """Answer every call of `method` only after `seconds` (a slow or distant server)."""
        self._delays[method] = seconds

    def block(self, chat_id: int) -> None:
        """The user of this private chat blocked the bot: sending there fails with 403."""
        self._blocked.add(int(chat_id))

    def forget_chat(self, chat_id: int) -> None:
        """Sending to this chat fails with 400 "chat not found"."""
        self._unknown_chats.add(int(chat_id))

    # ---- what the bot did -----------------------------------------------------------------------------------

    def calls_of(self, method: str, ok_only: bool = False) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method and (not ok_only or c.status == 200)]

    def sent(self, chat_id: int | str) -> list[dict[str, Any]]:
        """Messages the bot sent to a chat, in order, as they are now (edits applied)."""
        cid = int(chat_id)
        return [self._messages[(cid, mid)] for mid in self._bot_messages.get(cid, [])]

    def texts(self, chat_id: int | str) -> list[str]:
        """Text (or caption) of every message the bot sent to a chat."""
        return [m.get("text") or m.get("caption") or "" for m in self.sent(chat_id)]

    @staticmethod
    def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline keyboard of a message."""
        markup = message.get("reply_markup") or {}
        return [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", []) for b in row]

    def last_keyboard_message(self, chat_id: int | str) -> dict[str, Any] | None:
        for m in reversed(self.sent(chat_id)):
            if self.buttons(m):
                return m
        return None

    @property
    def open_connections(self) -> int:
        """HTTP connections open to this server now, idle keep-alive ones included."""
        server = self._runner.server if self._runner is not None else None
        return len(server.connections) if server is not None else 0

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    @property
    def unconfirmed(self) -> set[int]:
        """Ids of the updates getUpdates has not been told (by a higher offset) that the bot has."""
        return {u["update_id"] for u in self._pending}

    # ---- injecting what users do ----------------------------------------------------------------------------

    def add_file(
        self, content: bytes, file_name: str | None = None, mime_type: str | None = None, kind: str = "documents"
    ) -> str:
        """Store a file on the server; returns its file_id."""
        n = next(self._file_ids)
        file_id = f"FILE{n:06d}"
        suffix = (
            file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "jpg" if kind == "photos" else "bin"
        )
        self._files[file_id] = _File(content, f"{kind}/file_{n}.{suffix}", mime_type, file_name)
        return file_id

    def file_content(self, file_id: str) -> bytes:
        """What a stored (or bot-uploaded) file holds."""
        return self._files[file_id].content

    def inject_message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "测试",
        username: str | None = None,
        caption: str | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes, str] | None = None,
        reply_to_message_id: int | None = None,
        title: str = "督办工作群",
    ) -> dict[str, Any]:
        """A user sends a message; returns the update (delivered by getUpdates or pushed to the webhook).

        Args:
            chat_id: the chat; for a private chat it is also the user id unless `user_id` is given.
            text: message text; entities (bot_command, mention) are computed as Telegram does.
            chat_type: "private", "group" or "supergroup".
            photo: image bytes (sent as a photo with two sizes).
            document: (file name, bytes, MIME type).
            reply_to_message_id: the message (usually one of the bot's) this one replies to.
        """
        uid = user_id if user_id is not None else chat_id
        user = {"id": uid, "is_bot": False, "first_name": first_name, "language_code": "zh-hans"}
        if username:
            user["username"] = username
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = title
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
        }
        if text is not None:
            message["text"] = text
            entities = self._entities(text)
            if entities:
                message["entities"] = entities
        if caption is not None:
            message["caption"] = caption
            entities = self._entities(caption)
            if entities:
                message["caption_entities"] = entities
        if photo is not None:
            big = self.add_file(photo, None, "image/jpeg", kind="photos")
            small = self.add_file(photo[: max(1, len(photo) // 4)], None, "image/jpeg", kind="photos")
            message["photo"] = [
                {
                    "file_id": small,
                    "file_unique_id": f"u{small}",
                    "width": 90,
                    "height": 90,
                    "file_size": len(photo) // 4,
                },
                {"file_id": big, "file_unique_id": f"u{big}", "width": 1280, "height": 960, "file_size": len(photo)},
            ]
        if document is not None:
            name, content, mime = document
            fid = self.add_file(content, name, mime)
            message["document"] = {
                "file_id": fid,
                "file_unique_id": f"u{fid}",
                "file_name": name,
                "mime_type": mime,
                "file_size": len(content),
            }
        if reply_to_message_id is not None:
            replied = self._messages.get((chat_id, reply_to_message_id))
            message["reply_to_message"] = replied or {
                "message_id": reply_to_message_id,
                "date": int(time.time()),
                "chat": chat,
            }
        self._messages[(chat_id, message["message_id"])] = message
        return self.inject_update({"message": message})

    def inject_callback(
        self, chat_id: int, data: str, message_id: int, *, user_id: int | None = None, first_name: str = "测试"
    ) -> dict[str, Any]:
        """A user presses an inline button with `data` on message `message_id` of the bot."""
        uid = user_id if user_id is not None else chat_id
        message = self._messages.get((int(chat_id), int(message_id)))
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        query = {
            "id": f"cbq{next(self._callback_ids)}",
            "from": {"id": uid, "is_bot": False, "first_name": first_name},
            "message": json.loads(json.dumps(message)),  # a snapshot, as Telegram sends it
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
        return self.inject_update({"callback_query": query})

    def press(self, chat_id: int, label_part: str, *, user_id: int | None = None) -> dict[str, Any]:
        """Press the button whose label contains `label_part` on the newest message of the chat that has one."""
        for m in reversed(self.sent(chat_id)):
            for label, data in self.buttons(m):
                if label_part in label:
                    return self.inject_callback(chat_id, data, m["message_id"], user_id=user_id)
        raise AssertionError(f"no button containing {label_part!r} in chat {chat_id}")

    def inject_update(self, body: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (an update_id is added); with a webhook set it is pushed there instead."""
        update = {"update_id": next(self._update_ids), **body}
        self.injected.append(update)
        if self.webhook is not None:
            task = asyncio.get_running_loop().create_task(self._push(update))
            self._push_tasks.add(task)
            task.add_done_callback(self._push_tasks.discard)
        else:
            self._pending.append(update)
            self._notify()
        return update

    async def push_webhook(
        self, update: dict[str, Any], secret: str | None | EllipsisType = ..., url: str | None = None
    ) -> int:
        """POST an update to the webhook as Telegram does; returns the HTTP status.

        Args:
            secret: the secret-token header to send; by default the one given to setWebhook, None for none.
            url: where to post; by default the URL given to setWebhook.
        """
        if url is None:
            assert self.webhook is not None, "no webhook set"
            url = str(self.webhook["url"])
        token = (self.webhook or {}).get("secret_token") if isinstance(secret, EllipsisType) else secret
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(token)
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(url, data=json.dumps(update), headers=headers) as resp:
            await resp.read()
            self.webhook_deliveries.append((update.get("update_id", 0), resp.status))
            self._notify()
            return resp.status

    async def _push(self, update: dict[str, Any]) -> None:
        # Telegram retries a failed webhook delivery: three quick tries, or for `webhook_retry_for` seconds.
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.webhook_retry_for
        attempt = 0
        while not self._closing:
            try:
                status = await self.push_webhook(update)
            except aiohttp.ClientError:
                status = 0
                self.webhook_deliveries.append((update["update_id"], status))
            if 200 <= status < 300:
                return
            attempt += 1
            if attempt >= 3 and loop.time() >= give_up:
                break
            await asyncio.sleep(min(1.0, 0.2 * attempt))
        self.webhook_given_up.append(update["update_id"])

    # ---- waiting --------------------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `predicate()` is truthy; returns its value. A failure lists the last calls to this server."""
        return await wait_for(predicate, timeout, what=lambda: f"last calls: {self._recent()}")

    def _recent(self) -> list[tuple[str, int]]:
        return [(c.method, c.status) for c in self.calls[-15:]]

    async def wait_for_call(
        self, method: str, count: int = 1, timeout: float = 5.0, ok_only: bool = True
    ) -> list[ApiCall]:
        """Wait until `method` was called at least `count` times; returns those calls."""
        return await self.wait_for(
            lambda: (calls := self.calls_of(method, ok_only)) and len(calls) >= count and calls, timeout
        )

    def _notify(self) -> None:
        # A fresh event per change: waiters of the old one wake up, new waiters wait for the next change.
        old, self._changed = self._changed, asyncio.Event()
        old.set()

    # ---- HTTP -----------------------------------------------------------------------------------------------

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]], dict[str, tuple[str, bytes, str]]]:
        """Decode parameters as Telegram does: query string, urlencoded, multipart or JSON body. Returns the
        parameters, the files (field → (file name, bytes)) and the same files with the MIME type of their part."""
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, tuple[str, bytes]] = {}
        uploads: dict[str, tuple[str, bytes, str]] = {}
        if request.method == "POST":
            if request.content_type == "application/json":
                raw.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        files[key] = (value.filename, value.file.read())
                        uploads[key] = (*files[key], value.content_type)
                    else:
                        raw[key] = value
        params: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str) and key in _JSON_PARAMS:
                value = json.loads(value)
            elif isinstance(value, str) and key in _INT_PARAMS:
                with contextlib.suppress(ValueError):
                    value = int(value)
            params[key] = value
        return params, files, uploads

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        params, files, uploads = await self._params(request)
        call = ApiCall(method, params, time.monotonic(), content_type=request.content_type, uploads=uploads)
        self.calls.append(call)
        try:
            delay = self._delays.get(method)
            if delay:
                await asyncio.sleep(delay)
            outage = self._outages.get(method)
            status = outage.next_status() if outage is not None else None
            if status is not None:
                call.status = status
                retry_after = 1 if status == 429 else None
                return self._error(status, f"Error {status} (outage)", retry_after)
            failures = self._failures.get(method)
            if failures:
                f = failures.popleft()
                call.status = f.status
                return self._error(f.status, f.description, f.retry_after)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                call.status = 404
                return self._error(404, "Not Found: method not found")
            response: web.Response = await handler(params, files)
            call.status = response.status
            return response
        finally:
            self._notify()

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        self.calls.append(ApiCall("file", {"path": path}, time.monotonic()))
        self._notify()
        for f in self._files.values():
            if f.file_path == path:
                return web.Response(body=f.content, content_type=f.mime_type or "application/octet-stream")
        return web.Response(status=404)

    # ---- Bot API methods ------------------------------------------------------------------------------------

    async def _m_getMe(self, p: dict[str, Any], _f: Any) -> web.Response:
        return self._ok(
            {
                **self.bot_user,
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _m_logOut(self, p: dict[str, Any], _f: Any) -> web.Response:
        return self._ok(True)

    async def _m_close(self, p: dict[str, Any], _f: Any) -> web.Response:
        return self._ok(True)

    async def _m_setWebhook(self, p: dict[str, Any], _f: Any) -> web.Response:
        if not p.get("url"):
            return await self._m_deleteWebhook(p, _f)
        self.webhook = {
            "url": p["url"],
            "secret_token": p.get("secret_token"),
            "allowed_updates": p.get("allowed_updates"),
        }
        if str(p.get("drop_pending_updates", "")).lower() == "true":
            self._pending.clear()
        return self._ok(True)

    async def _m_deleteWebhook(self, p: dict[str, Any], _f: Any) -> web.Response:
        self.webhook = None
        if str(p.get("drop_pending_updates", "")).lower() == "true":
            self._pending.clear()
        return self._ok(True)

    async def _m_getWebhookInfo(self, p: dict[str, Any], _f: Any) -> web.Response:
        info = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        return self._ok(info)

    async def _m_getUpdates(self, p: dict[str, Any], _f: Any) -> web.Response:
        if self.webhook is not None:
            return self._error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
            )
        offset = int(p.get("offset") or 0)
        limit = int(p.get("limit") or 100)
        timeout = float(p.get("timeout") or 0)
        if offset:
            # Telegram forgets every update below the offset: they are confirmed.
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._pending and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            event = self._changed
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        allowed = p.get("allowed_updates")
        batch = [u for u in self._pending if not allowed or any(k in u for k in allowed)][:limit]
        return self._ok(batch)

    async def _m_setMyCommands(self, p: dict[str, Any], _f: Any) -> web.Response:
        self.commands = list(p.get("commands") or [])
        return self._ok(True)

    async def _m_getMyCommands(self, p: dict[str, Any], _f: Any) -> web.Response:
        return self._ok(self.commands)

    async def _m_deleteMyCommands(self, p: dict[str, Any], _f: Any) -> web.Response:
        self.commands = []
        return self._ok(True)

    async def _m_sendChatAction(self, p: dict[str, Any], _f: Any) -> web.Response:
        return self._ok(True)

    def _refuse(self, chat_id: int) -> web.Response | None:
        if chat_id in self._blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        if chat_id in self._unknown_chats:
            return self._error(400, "Bad Request: chat not found")
        return None

    def _new_bot_message(self, chat_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        chat_type = "private" if chat_id > 0 else "group"
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type},
            "from": self.bot_user,
            **{k: v for k, v in fields.items() if v is not None},
        }
        self._messages[(chat_id, message["message_id"])] = message
        self._bot_messages.setdefault(chat_id, []).append(message["message_id"])
        return message

    async def _m_sendMessage(self, p: dict[str, Any], _f: Any) -> web.Response:
        chat_id = int(p["chat_id"])
        refused = self._refuse(chat_id)
        if refused is not None:
            return refused
        text = p.get("text") or ""
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if _utf16_len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        markup = p.get("reply_markup")
        if markup:
            for row in markup.get("inline_keyboard", []):
                for b in row:
                    data = b.get("callback_data")
                    if data is not None and not 1 <= len(data.encode()) <= 64:
                        return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
        return self._ok(self._new_bot_message(chat_id, {"text": text, "reply_markup": markup}))

    async def _send_file(self, p: dict[str, Any], files: dict[str, tuple[str, bytes]], field_name: str) -> web.Response:
        chat_id = int(p["chat_id"])
        refused = self._refuse(chat_id)
        if refused is not None:
            return refused
        ref = p.get(field_name)
        upload = files.get(field_name)
        if upload is None and isinstance(ref, str) and ref.startswith("attach://"):
            upload = files.get(ref[len("attach://") :])
        if upload is None:
            return self._error(400, f"Bad Request: there is no {field_name} in the request")
        name, content = upload
        fid = self.add_file(content, name, None, kind="photos" if field_name == "photo" else "documents")
        info: dict[str, Any] = {"file_id": fid, "file_unique_id": f"u{fid}", "file_size": len(content)}
        fields: dict[str, Any] = {"caption": p.get("caption"), "reply_markup": p.get("reply_markup")}
        if field_name == "photo":
            fields["photo"] = [{**info, "width": 800, "height": 600}]
        else:
            fields["document"] = {**info, "file_name": name}
        return self._ok(self._new_bot_message(chat_id, fields))

    async def _m_sendPhoto(self, p: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> web.Response:
        return await self._send_file(p, files, "photo")

    async def _m_sendDocument(self, p: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> web.Response:
        return await self._send_file(p, files, "document")

    def _bot_message(self, p: dict[str, Any]) -> dict[str, Any] | None:
        return self._messages.get((int(p.get("chat_id", 0)), int(p.get("message_id", 0))))

    async def _m_editMessageText(self, p: dict[str, Any], _f: Any) -> web.Response:
        message = self._bot_message(p)
        if message is None or message.get("from", {}).get("id") != self.bot_id:
            return self._error(400, "Bad Request: message to edit not found")
        text = p.get("text") or ""
        markup = p.get("reply_markup")
        if text == message.get("text") and markup == message.get("reply_markup"):
            return self._error(400, "Bad Request: message is not modified")
        message["text"] = text
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return self._ok(message)

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any], _f: Any) -> web.Response:
        message = self._bot_message(p)
        if message is None or message.get("from", {}).get("id") != self.bot_id:
            return self._error(400, "Bad Request: message to edit not found")
        markup = p.get("reply_markup")
        if markup == message.get("reply_markup") or (not markup and not message.get("reply_markup")):
            return self._error(400, "Bad Request: message is not modified")
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        return self._ok(message)

    async def _m_answerCallbackQuery(self, p: dict[str, Any], _f: Any) -> web.Response:
        self.answered_callbacks[str(p.get("callback_query_id"))] = p
        return self._ok(True)

    async def _m_getFile(self, p: dict[str, Any], _f: Any) -> web.Response:
        fid = str(p.get("file_id"))
        f = self._files.get(fid)
        if f is None:
            return self._error(400, "Bad Request: invalid file_id")
        return self._ok(
            {"file_id": fid, "file_unique_id": f"u{fid}", "file_size": len(f.content), "file_path": f.file_path}
        )

    # ---- helpers --------------------------------------------------------------------------------------------

    def _entities(self, text: str) -> list[dict[str, Any]]:
        """bot_command at the start and @mentions, with UTF-16 offsets, as Telegram computes them."""
        entities: list[dict[str, Any]] = []
        i = 0
        while i < len(text):
            ch = text[i]
            at_word_start = i == 0 or text[i - 1].isspace()
            if ch in "/@" and at_word_start:
                j = i + 1
                while j < len(text) and (text[j].isalnum() and text[j].isascii() or text[j] in "_@"):
                    j += 1
                if j > i + 1:
                    kind = "bot_command" if ch == "/" else "mention"
                    if kind == "mention" or i == 0:
                        entities.append({"type": kind, "offset": _utf16_len(text[:i]), "length": _utf16_len(text[i:j])})
                i = j
            else:
                i += 1
        return entities
