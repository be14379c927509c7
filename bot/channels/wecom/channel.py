"""The WeCom (企业微信 / 政务微信) channel: duban as a self-built application (自建应用).

Inbound: each callback is checked and decrypted (`callback`), stored in the inbox, committed, and only then
answered with an empty 200. WeCom waits 5 seconds for the answer and otherwise retries the callback (three times
in all, "企业微信服务器在五秒内收不到响应会断掉连接，并且重新发起请求，总共重试三次"); a commit takes milliseconds, and
a retry of a stored callback is a no-op (unique MsgId). The inbox worker then asks `prepare` for the message:
text, images and files (downloaded then) become one `IncomingMessage` for the engine, handled in order per
user, and the replies go out through the outbox and the message/send API (`client`), paced per member.

WeCom text has no buttons: choices are numbered, and a number typed back goes to the engine as typed; the
engine maps it to the choice of the question it stored with the conversation.

The group robot (群机器人) is a second, simpler target for digests: `send(ROBOT_CHAT_ID, reply)` posts to
`DUBAN_WECOM_GROUP_WEBHOOK` (see `robot`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import mimetypes
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.edge import plain_parts, split
from bot.channels.wecom.callback import BadRequest, CallbackCrypto, Inbound
from bot.channels.wecom.client import API_TIMEOUT, MARKDOWN_LIMIT, TEXT_LIMIT, WecomApiError, WecomClient, classify
from bot.channels.wecom.robot import ROBOT_CHAT_ID, send_group_robot
from config.settings import Settings
from core import ids
from core.channel import PermanentFailure, Runtime
from core.inbox import Inbox, Prepared, Row
from core.inbox import Update as InboxUpdate
from core.messages import InAttachment, IncomingMessage, OutAttachment, Reply, render_plain
from handlers import texts

log = logging.getLogger(__name__)

CHANNEL = ids.WECOM
ENTER_WELCOME_EVERY = 12 * 3600.0  # enter_agent fires each time the app is opened: welcome at most this often
WELCOMED_KEPT = 10_000
API_THREADS = 8

_EXT_BY_TYPE = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


def render_payloads(reply: Reply, markdown: bool = True) -> list[dict[str, Any]]:
    """The message/send payloads for `reply`'s text: markdown when the reply has a markdown rendering and no
    choices (choices must be numbered plain text so a number can answer them), text otherwise."""
    if markdown and reply.markdown and not reply.choices:
        return [{"msgtype": "markdown", "markdown": {"content": p}} for p in split(reply.markdown, MARKDOWN_LIMIT)]
    return [{"msgtype": "text", "text": {"content": p}} for p in plain_parts(reply, TEXT_LIMIT)]


class WecomChannel:
    """WeCom self-built application: callback routes on the shared aiohttp server, replies via message/send."""

    name = CHANNEL

    def __init__(self, settings: Settings, client: WecomClient | None = None) -> None:
        if not settings.wecom_enabled:
            raise ValueError("WeCom needs DUBAN_WECOM_CORP_ID, _AGENT_ID, _SECRET, _TOKEN and _AES_KEY")
        self.settings = settings
        corp_id = str(settings.wecom_corp_id)
        self.callback = CallbackCrypto(
            str(settings.wecom_token),
            str(settings.wecom_aes_key),
            corp_id,
            window_seconds=settings.wecom_callback_window_seconds,
        )
        self.client = client or WecomClient(corp_id, str(settings.wecom_secret), settings.wecom_api_base_url)
        agent = str(settings.wecom_agent_id).strip()
        self.agent_id: int | str = int(agent) if agent.isdigit() else agent
        self.markdown: bool = bool(getattr(settings, "wecom_markdown", True))
        self.evidence_dir = Path(settings.data_dir) / "evidence" / "wecom"
        self._inbox: Inbox | None = None
        # WeCom's API is called with blocking requests (wechatpy), each up to API_TIMEOUT: in threads of their
        # own, so that a slow API never holds up the inbox's commits or anything else in asyncio's shared pool.
        self._calls = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="duban-wecom")
        self._welcomed: dict[str, float] = {}
        self._robot_session: aiohttp.ClientSession | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, app: Runtime, web_app: web.Application) -> None:
        self._inbox = app.inbox
        if app.inbox is None:
            log.info("no inbox in this process: the WeCom channel only sends")
            return
        app.inbox.add(self)
        path = self.settings.wecom_callback_path
        web_app.router.add_get(path, self._on_verify)
        web_app.router.add_post(path, self._on_callback)
        log.info("WeCom callback at %s, API at %s", path, self.client.API_BASE_URL)

    async def stop(self) -> None:
        self._calls.shutdown(wait=False)
        if self._robot_session is not None:
            await self._robot_session.close()
            self._robot_session = None
        self.client.close()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until the messages received so far are handled and answered (tests)."""
        if self._inbox is not None:
            await self._inbox.idle(timeout)

    # ---- HTTP handlers ------------------------------------------------------------------------------------

    async def _on_verify(self, request: web.Request) -> web.Response:
        return self.callback.verify_url(request)

    async def _on_callback(self, request: web.Request) -> web.Response:
        try:
            inbound = await self.callback.accept(request)
        except BadRequest as exc:
            log.warning("WeCom callback refused (%d) from %s: %s", exc.status, request.remote, exc)
            return web.Response(status=exc.status, text=str(exc) if exc.status != 403 else "forbidden")
        if inbound is not None and self._inbox is not None:
            entry = InboxUpdate(inbound.message_id, inbound.user_id, inbound.user_id, dataclasses.asdict(inbound))
            try:
                await self._inbox.accept(CHANNEL, [entry], [self.ready(inbound)])
            except Exception:
                # Not stored: no 200, so WeCom sends the callback again.
                log.exception("a WeCom callback could not be stored")
                return web.Response(status=503)
        # An empty 200: the reply goes through message/send.
        return web.Response(status=200, text="")

    # ---- handling -----------------------------------------------------------------------------------------

    def ready(self, inbound: Inbound) -> Prepared | None:
        """A text message as the engine's message, made as it arrives; None for what only `prepare` can make (an
        event, a file to fetch)."""
        if inbound.event or inbound.msg_type != "text":
            return None
        return Prepared(self._message(inbound, ()))

    def _message(self, inbound: Inbound, attachments: tuple[InAttachment, ...]) -> IncomingMessage:
        return IncomingMessage(
            channel=CHANNEL,
            chat_id=inbound.user_id,
            user_id=inbound.user_id,
            text=inbound.text,
            attachments=attachments,
            message_id=inbound.message_id,
            event=inbound.event,
        )

    async def prepare(self, row: Row) -> Prepared:
        """A stored callback as the message for the engine (media downloaded now)."""
        inbound = Inbound(**row.payload)
        user = inbound.user_id
        if inbound.event == "enter":
            now = time.monotonic()
            last = self._welcomed.get(user)
            if last is not None and now - last < ENTER_WELCOME_EVERY:
                return Prepared(None)
            self._welcomed[user] = now
            if len(self._welcomed) > WELCOMED_KEPT:  # forget welcomes old enough to be given again anyway
                self._welcomed = {u: t for u, t in self._welcomed.items() if now - t < ENTER_WELCOME_EVERY}
        attachments: tuple[InAttachment, ...] = ()
        if inbound.msg_type in ("image", "file", "video") and inbound.media_id:
            try:
                attachments = (await self._fetch_media(inbound),)
            except (WecomApiError, OSError) as exc:
                log.error("WeCom media %s of %s not fetched: %s", inbound.media_id, user, exc)
                return Prepared(None, [Reply(texts.WECOM_MEDIA_FAILED)])
        elif not inbound.event and inbound.msg_type != "text":
            return Prepared(None, [Reply(texts.WECOM_UNSUPPORTED)])
        return Prepared(self._message(inbound, attachments))

    async def _fetch_media(self, inbound: Inbound) -> InAttachment:
        loop = asyncio.get_running_loop()
        content, ctype, disposition_name = await loop.run_in_executor(
            self._calls, self.client.download_media, inbound.media_id
        )
        file_name = inbound.file_name or disposition_name
        ext = _extension(file_name, ctype, inbound.msg_type)
        self.evidence_dir.mkdir(parents=True, exist_ok=True)
        path = self.evidence_dir / f"{uuid.uuid4().hex}{ext}"
        await asyncio.to_thread(path.write_bytes, content)
        return InAttachment(
            kind="photo" if inbound.msg_type == "image" else "file",
            local_path=str(path),
            file_name=file_name,
            mime_type=ctype or mimetypes.guess_type(path.name)[0],
            size=len(content),
        )

    # ---- sending ------------------------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> None:
        """Deliver one proactive message to a WeCom userid (or to the group robot for ROBOT_CHAT_ID).

        Raises:
            RetryLater: rate limited (45009, 45033) or WeCom busy.
            PermanentFailure: the userid does not exist or is outside the app's visible range.
            WecomApiError: anything else (retried by the outbox).
        """
        if chat_id == ROBOT_CHAT_ID:
            if not self.settings.wecom_group_webhook:
                raise PermanentFailure("DUBAN_WECOM_GROUP_WEBHOOK is not set")
            await send_group_robot(
                self.settings.wecom_group_webhook, render_plain(reply), reply.markdown, session=self._robot()
            )
            return
        loop = asyncio.get_running_loop()
        for step in self._steps(chat_id, reply):
            await loop.run_in_executor(self._calls, step)

    def _steps(self, user: str, reply: Reply) -> list[Callable[[], None]]:
        """One blocking call per WeCom message, so a retry repeats only the message that failed."""
        steps: list[Callable[[], None]] = []
        steps += [functools.partial(self._send_payload, user, p) for p in render_payloads(reply, self.markdown)]
        steps += [functools.partial(self._send_attachment, user, a) for a in reply.attachments]
        return steps

    def _send_payload(self, user: str, payload: dict[str, Any]) -> None:
        try:
            self.client.send_message(self.agent_id, user, payload)
        except WecomApiError as exc:
            raise classify(exc) from exc

    def _send_attachment(self, user: str, att: OutAttachment) -> None:
        media_type = "image" if att.kind == "photo" else "file"
        try:
            media_id = self.client.upload_media(media_type, Path(att.path))
            self.client.send_message(self.agent_id, user, {"msgtype": media_type, media_type: {"media_id": media_id}})
        except WecomApiError as exc:
            raise classify(exc) from exc

    def _robot(self) -> aiohttp.ClientSession:
        if self._robot_session is None or self._robot_session.closed:
            self._robot_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
        return self._robot_session


def _extension(file_name: str | None, content_type: str | None, kind: str) -> str:
    if file_name:
        suffix = Path(file_name).suffix.lower()
        if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix):
            return suffix
    if content_type:
        ext = _EXT_BY_TYPE.get(content_type) or mimetypes.guess_extension(content_type)
        if ext:
            return ext
    return ".jpg" if kind == "image" else ".bin"
