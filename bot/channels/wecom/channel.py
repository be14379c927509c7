"""The WeCom (企业微信 / 政务微信) channel: duban as a self-built application (自建应用).

Inbound: each callback is checked and decrypted (`callback`), stored in the inbox, committed, and only then
answered with an empty 200. WeCom waits 5 seconds for the answer and otherwise retries the callback (three times
in all, "企业微信服务器在五秒内收不到响应会断掉连接，并且重新发起请求，总共重试三次"); a commit takes milliseconds, and
a retry of a stored callback is a no-op (unique MsgId). The inbox worker then asks `prepare` for the message:
text, images and files (downloaded then) become one `IncomingMessage` for the engine, handled in order per
user, and the replies go out through the outbox and the message/send API (`client`), paced per member.

A question with choices is asked with a template card (`cards`): buttons (or a drop-down) to tap. A tap comes
back as a callback like any message (`template_card_event`), goes through the inbox as the choice's token, and
once handled the card is updated in place (message/update_template_card) to read the choice made, or 已失效
when the engine refused a tap on an old question. A newer card closes the one before it. Where the deployment
refuses cards (`DUBAN_WECOM_CARDS=auto`: some 政务微信 versions), or with `DUBAN_WECOM_CARDS=off`, choices are
numbered text, and a number typed back goes to the engine as typed; the engine maps it to the choice of the
question it stored with the conversation (the same stored choices a card's buttons carry).

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

from bot.channels.edge import plain_parts, refused_as_stale, split
from bot.channels.wecom import cards
from bot.channels.wecom.callback import CARD, BadRequest, CallbackCrypto, Inbound
from bot.channels.wecom.client import API_TIMEOUT, MARKDOWN_LIMIT, TEXT_LIMIT, WecomApiError, WecomClient, classify
from bot.channels.wecom.robot import ROBOT_CHAT_ID, send_group_robot
from config.clock import Clock
from config.settings import Settings
from core import ids
from core.channel import PermanentFailure, Runtime
from core.inbox import Inbox, Prepared, Row
from core.inbox import Update as InboxUpdate
from core.messages import InAttachment, IncomingMessage, OutAttachment, Reply, render_plain
from handlers import formatting, texts

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
        self.cards_mode = settings.wecom_cards
        self.cards_refused = False  # the deployment refused a card (auto): numbered text from now on
        # userid → (task_id, response_code) of the cards of the last question sent and not tapped: closed when the
        # next question's card comes (in this process: a restart forgets them, and a late tap is refused as stale)
        self._live_cards: dict[str, list[tuple[str, str]]] = {}
        self._clock: Clock | None = None
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
        self._clock = app.clock
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
        """A text message or a card tap as the engine's message, made as it arrives; None for what only `prepare`
        can make (an event, a file to fetch)."""
        if inbound.event == CARD:
            return self._on_card(inbound)
        if inbound.event or inbound.msg_type != "text":
            return None
        return Prepared(self._message(inbound, ()))

    def _on_card(self, inbound: Inbound) -> Prepared:
        """A tap on a card: the choice's payload goes to the engine as a choice (it names its question: a tap on
        an old card is refused there), and once handled the card is updated to say what became of it."""
        tapped = cards.click(inbound.event_key, inbound.selected)
        if tapped is None:
            log.warning("WeCom card event from %s with a key no card of ours has", inbound.user_id)
            return Prepared(None)
        if inbound.response_code:  # the tapped card is updated with the tap's own code: no longer live
            live = self._live_cards.get(inbound.user_id, [])
            live[:] = [(task, code) for task, code in live if task != inbound.task_id]
        msg = IncomingMessage(
            channel=CHANNEL,
            chat_id=inbound.user_id,
            user_id=inbound.user_id,
            text=tapped.payload,
            message_id=inbound.message_id,
            is_choice=True,
        )
        after = functools.partial(self._card_answered, inbound, tapped) if inbound.response_code else None
        return Prepared(msg, after=after)

    async def _card_answered(self, inbound: Inbound, tapped: cards.CardClick, answer: list[str]) -> None:
        """Replace the buttons of the tapped card by the decision taken, or by 已失效 when the engine refused it."""
        if refused_as_stale(answer):
            replace = texts.CARD_EXPIRED
        elif tapped.shown:
            replace = texts.CARD_CHOSEN.format(label=tapped.shown, when=self._when())
        else:
            replace = texts.CARD_DONE.format(when=self._when())
        await self._update_card(inbound.user_id, inbound.response_code, replace)

    def _when(self) -> str:
        """The moment a card's update states: 7月10日 10:02 (the process's clock, so a rehearsal shows its year)."""
        return formatting.day_minute(self._clock.now()) if self._clock is not None else ""

    async def _update_card(self, user: str, response_code: str, replace: str) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._calls, self._replace_card, user, response_code, replace)

    def _replace_card(self, user: str, response_code: str, replace: str) -> None:
        """Replace a card's buttons by `replace` (blocking); a card that cannot be updated any more is left."""
        try:
            self.client.update_template_card(self.agent_id, [user], response_code, replace.strip())
        except WecomApiError as exc:
            if exc.errcode != cards.ALREADY_UPDATED:  # 60140: updated before (a retried callback), or expired
                log.warning("WeCom card of %s not updated: %s", user, exc)

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
        if inbound.event == CARD:
            return self._on_card(inbound)
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
        if self._cards_on() and cards.cardable(reply):
            title, rest, fits = cards.split_text(reply.text)
            if not fits:
                # The question goes first as a message of its own; the card under it carries the buttons.
                steps += [functools.partial(self._send_payload, user, p) for p in render_payloads(Reply(reply.text))]
            steps.append(functools.partial(self._send_card, user, reply, title, rest, fits))
            if reply.several is not None:
                steps.append(functools.partial(self._send_several, user, reply))
        else:
            steps += [functools.partial(self._send_payload, user, p) for p in render_payloads(reply, self.markdown)]
        steps += [functools.partial(self._send_attachment, user, a) for a in reply.attachments]
        return steps

    def _cards_on(self) -> bool:
        return self.cards_mode == "on" or (self.cards_mode == "auto" and not self.cards_refused)

    def _send_card(self, user: str, reply: Reply, title: str, rest: str | None, whole: bool) -> None:
        """One question as a card (a new task_id each time: WeCom refuses a repeated one); the cards sent before it
        to this user and not tapped are closed. Where the deployment refuses cards (auto), numbered text instead,
        and from then on."""
        card = cards.render(reply, title, rest, cards.task_id(reply.choices))
        try:
            self._send_template(user, card, sibling=False)
        except WecomApiError as exc:
            if self.cards_mode == "auto" and exc.errcode in cards.CARDS_REFUSED_ERRORS:
                log.warning("WeCom refused a template card (%s): choices go as numbered text from now on", exc)
                self.cards_refused = True
                fallback = reply if whole else Reply(texts.CARD_CHOOSE, choices=reply.choices)
                for payload in render_payloads(fallback, self.markdown):
                    self._send_payload(user, payload)
                return
            raise classify(exc) from exc

    def _send_several(self, user: str, reply: Reply) -> None:
        """The vote card under a question whose choices may be taken several at once (when cards are still on)."""
        card = cards.render_several(reply, cards.task_id(reply.choices))
        if card is None or not self._cards_on():
            return
        try:
            self._send_template(user, card, sibling=True)
        except WecomApiError as exc:
            raise classify(exc) from exc

    def _send_template(self, user: str, card: dict[str, Any], sibling: bool) -> None:
        """Send one card and remember it as live; unless it belongs to the same question as the cards before it
        (`sibling`), those are closed first."""
        result = self.client.send_message(self.agent_id, user, {"msgtype": "template_card", "template_card": card})
        previous = [] if sibling else self._live_cards.pop(user, [])
        code = str(result.get("response_code") or "")
        if code:
            self._live_cards.setdefault(user, []).append((card["task_id"], code))
        replaced = texts.CARD_REPLACED.format(when=self._when())
        for _task, old_code in previous:
            self._replace_card(user, old_code, replaced)

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
