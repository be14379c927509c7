"""The WeCom (企业微信 / 政务微信) channel: duban as a self-built application (自建应用).

Inbound: WeCom calls our callback URL. The GET URL verification answers the decrypted echostr; a POST is
signature-checked and decrypted with wechatpy's WeCom crypto (which also checks the CorpID the message was
encrypted for), answered at once with an empty 200 (WeCom retries after 5 seconds), and handled in a background
task: text, images and files become one `IncomingMessage` for the engine, and the replies go out through the
message/send API. Messages of one user are handled in order, one at a time.

Outbound: wechatpy's WeCom client, subclassed so that every URL it calls (gettoken, message/send, media/get,
media/upload, ...) follows `DUBAN_WECOM_API_BASE_URL`, which is how a private deployment (政务微信) is reached.
wechatpy is synchronous (requests), so it runs in worker threads. Its own retry on an expired token recurses
without a bound; here a rejected token is refreshed at most `MAX_TOKEN_REFRESHES` times.

WeCom text has no buttons: choices are numbered, and a number typed back is mapped to the choice it names.

The group robot (群机器人) webhook is a second, simpler target for digests: `send_group_robot`, or
`WecomChannel.send(ROBOT_CHAT_ID, reply)` when `DUBAN_WECOM_GROUP_WEBHOOK` is set.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import logging
import mimetypes
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import requests
import xmltodict
from aiohttp import web
from wechatpy.enterprise import WeChatClient
from wechatpy.enterprise.client.api import WeChatMaterial, WeChatMedia
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException, WeChatClientException

from core import ids
from core.channel import PermanentFailure, RetryLater, Runtime
from core.messages import Choice, InAttachment, IncomingMessage, OutAttachment, Reply, render_plain
from handlers import texts

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = ids.WECOM
ROBOT_CHAT_ID = ids.WECOM_ROBOT_CHAT_ID  # send(ROBOT_CHAT_ID, reply) posts to DUBAN_WECOM_GROUP_WEBHOOK
PUBLIC_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"  # what wechatpy hard-codes

MAX_BODY = 64 * 1024  # a real callback is about 1 KiB; anything near this is not from WeCom
TEXT_LIMIT = 2048  # bytes of UTF-8: WeCom truncates longer text messages
MARKDOWN_LIMIT = 4096  # bytes of UTF-8 for markdown messages
MEDIA_MAX_BYTES = 20 * 1024 * 1024  # WeCom's own limit for files
API_TIMEOUT = 15.0  # seconds per HTTP call to the WeCom API
MAX_TOKEN_REFRESHES = 2
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, expired token
RATE_ERRORS = frozenset({45009, 45033})  # over the call frequency / concurrency limit
BUSY_ERRORS = frozenset({-1})  # 系统繁忙
RECIPIENT_ERRORS = frozenset({40003, 60111, 81013})  # invalid userid / not found / none reachable
ROBOT_DEAD_ERRORS = frozenset({93000, 93004})  # webhook key invalid / robot removed
RATE_RETRY_SECONDS = 60.0
ENTER_WELCOME_EVERY = 12 * 3600.0  # enter_agent fires each time the app is opened: welcome at most this often
SEEN_IDS_KEPT = 10_000
REPLY_RATE_RETRIES = 2
REPLY_RATE_WAIT_MAX = 5.0
STOP_GRACE = 10.0

_UNSAFE_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CHOICE_NUMBER = re.compile(r"^\s*(\d{1,3})\s*[.。、)）]?\s*$")

T = TypeVar("T")


class WecomApiError(Exception):
    """The WeCom API refused a call (errcode) or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"WeCom API error {errcode}: {errmsg}")


class BadRequest(Exception):
    """A callback we refuse; `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


# ---- base URL -----------------------------------------------------------------------------------------------


def normalize_base_url(url: str) -> str:
    """`https://host[:port][/prefix]/cgi-bin/`: a bare host gets `/cgi-bin/`, and there is always one slash."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"DUBAN_WECOM_API_BASE_URL must be an http(s) URL, not {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("cgi-bin"):
        path += "/cgi-bin"
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


class _RedirectingSession(requests.Session):
    """A requests session that sends anything meant for the public WeCom host to the configured base.

    The client's own URLs are already built from the base; this catches URLs wechatpy hard-codes in places
    we did not override, so a 政务微信 deployment never leaks calls (and its secret) to the public service.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        url = url.decode() if isinstance(url, bytes) else url
        if url.startswith(PUBLIC_BASE_URL) and self.base_url != PUBLIC_BASE_URL:
            url = self.base_url + url[len(PUBLIC_BASE_URL) :]
        if kwargs.get("timeout") is None:
            # wechatpy fetches the token without a timeout: a hung server must not hang a worker thread forever.
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


class _Media(WeChatMedia):
    """wechatpy's media API with the download URLs built from the client's base URL."""

    def get_url(self, media_id: str) -> str:
        return f"{self._client.API_BASE_URL}media/get?access_token={self.access_token}&media_id={media_id}"

    def get_jssdk_url(self, media_id: str) -> str:
        return f"{self._client.API_BASE_URL}media/get/jssdk?access_token={self.access_token}&media_id={media_id}"

    def download(self, media_id: str) -> requests.Response:
        # wechatpy uses the module-level requests.get here: go through the client's session instead.
        return self._client._http.get(self.get_url(media_id))


class _Material(WeChatMaterial):
    """wechatpy's material API with its download URL built from the client's base URL."""

    def get_url(self, media_id: str) -> str:
        return f"{self._client.API_BASE_URL}material/get?access_token={self.access_token}&media_id={media_id}"


class WecomClient(WeChatClient):
    """wechatpy's WeCom client, every URL under `base_url`, with a bounded retry on rejected tokens.

    The access token is cached in wechatpy's session storage (memory) and fetched again shortly before it
    expires or when an API rejects it.
    """

    media = _Media()
    material = _Material()

    def __init__(
        self, corp_id: str, secret: str, base_url: str = PUBLIC_BASE_URL, timeout: float = API_TIMEOUT
    ) -> None:
        # auto_retry=False: wechatpy's own retry on an expired token recurses until the stack overflows if
        # the server keeps rejecting the token; `call` below retries a bounded number of times instead.
        super().__init__(corp_id, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = normalize_base_url(base_url)
        self._http = _RedirectingSession(self.API_BASE_URL, timeout)

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(  # type: ignore[no-any-return]
            url=f"{self.API_BASE_URL}gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one API call; on a rejected token fetch a new one and retry, at most MAX_TOKEN_REFRESHES times.

        Raises:
            WecomApiError: the API refused the call, or the token was still rejected after the refreshes.
        """
        for attempt in range(MAX_TOKEN_REFRESHES + 1):
            try:
                return fn()
            except WeChatClientException as exc:
                code = _errcode(exc)
                if code in TOKEN_ERRORS:
                    if attempt < MAX_TOKEN_REFRESHES:
                        log.info("WeCom %s: access token rejected (errcode %s), fetching a new one", what, code)
                        self._forget_token()
                        continue
                    log.error(
                        "WeCom %s: access token still rejected (errcode %s) after %d refreshes; giving up. "
                        "Check DUBAN_WECOM_CORP_ID, DUBAN_WECOM_SECRET and DUBAN_WECOM_API_BASE_URL (%s)",
                        what,
                        code,
                        MAX_TOKEN_REFRESHES,
                        self.API_BASE_URL,
                    )
                raise WecomApiError(code, str(exc.errmsg or exc)) from exc
            except requests.RequestException as exc:
                raise WecomApiError(None, f"{what}: {exc}") from exc
        raise AssertionError("unreachable")

    def _forget_token(self) -> None:
        # The next call's `access_token` fetches a fresh one through gettoken (under our base URL).
        self.session.delete(self.access_token_key)
        self.expires_at = None

    # ---- the calls duban makes ----------------------------------------------------------------------------

    def send_message(self, agent_id: int | str, user_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("message/send", lambda: self.message.send(agent_id, user_id, msg=payload))
        invalid = str(result.get("invaliduser") or "")
        if user_id in invalid.split("|"):
            raise WecomApiError(81013, f"invaliduser {invalid}")
        return result

    def upload_media(self, media_type: str, path: Path) -> str:
        def upload() -> dict[str, Any]:
            with path.open("rb") as f:
                return self.media.upload(media_type, f)  # type: ignore[no-any-return]

        return str(self.call("media/upload", upload)["media_id"])

    def download_media(self, media_id: str, max_bytes: int = MEDIA_MAX_BYTES) -> tuple[bytes, str | None, str | None]:
        """Fetch a temporary media file: (content, content type, file name from Content-Disposition)."""
        return self.call("media/get", lambda: self._download_once(media_id, max_bytes))

    def _download_once(self, media_id: str, max_bytes: int) -> tuple[bytes, str | None, str | None]:
        res = self._http.get(
            f"{self.API_BASE_URL}media/get",
            params={"access_token": self.access_token, "media_id": media_id},
            stream=True,
        )
        with res:
            if res.status_code >= 400:
                raise WecomApiError(None, f"media/get: HTTP {res.status_code}")
            ctype = (res.headers.get("Content-Type") or "").split(";")[0].strip().lower() or None
            disposition = res.headers.get("Content-Disposition") or ""
            chunks: list[bytes] = []
            size = 0
            for chunk in res.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise WecomApiError(None, f"media/get: file larger than {max_bytes} bytes")
                chunks.append(chunk)
            content = b"".join(chunks)
        if not disposition and ctype in (None, "application/json", "text/plain"):
            # Errors come back as JSON instead of the file.
            try:
                data = json.loads(content.decode("utf-8", "replace"))
            except ValueError:
                data = None
            if isinstance(data, dict) and int(data.get("errcode", 0) or 0) != 0:
                raise WeChatClientException(int(data["errcode"]), data.get("errmsg", ""), client=self)
        return content, ctype, _filename_from_disposition(disposition)


def _errcode(exc: WeChatClientException) -> int | None:
    try:
        return int(exc.errcode) if exc.errcode is not None else None
    except (TypeError, ValueError):
        return None


def _filename_from_disposition(value: str) -> str | None:
    m = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", value, re.IGNORECASE)
    if not m:
        return None
    from urllib.parse import unquote

    name = Path(unquote(m.group(1))).name  # never a path from the outside
    return name or None


# ---- formatting ---------------------------------------------------------------------------------------------


def split_utf8(text: str, limit: int) -> list[str]:
    """Split `text` into parts of at most `limit` UTF-8 bytes, at line breaks where possible.

    WeCom counts bytes, not characters: 683 Chinese characters already exceed 2048 bytes.
    """
    if len(text.encode()) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line.encode()) > limit:
            if current:
                parts.append(current)
                current = ""
            head = _utf8_prefix(line, limit)
            parts.append(head)
            line = line[len(head) :]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return [p for p in parts if p]


def _utf8_prefix(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `limit` bytes (never cuts a character)."""
    return text.encode()[:limit].decode("utf-8", errors="ignore")


def render_payloads(reply: Reply, markdown: bool = True) -> list[dict[str, Any]]:
    """The message/send payloads for `reply`'s text: markdown when the reply has a markdown rendering and no
    choices (choices must be numbered plain text so a number can answer them), text otherwise."""
    if markdown and reply.markdown and not reply.choices:
        return [{"msgtype": "markdown", "markdown": {"content": p}} for p in split_utf8(reply.markdown, MARKDOWN_LIMIT)]
    body = render_plain(reply)
    if not body.strip():
        return []
    return [{"msgtype": "text", "text": {"content": p}} for p in split_utf8(body, TEXT_LIMIT)]


# ---- callback parsing ---------------------------------------------------------------------------------------


def parse_xml(data: bytes | str) -> dict[str, Any]:
    """Parse one `<xml>...</xml>` document, refusing DTDs and entity declarations (entity expansion attacks).

    Raises:
        BadRequest: not a well-formed, DTD-free WeCom XML document.
    """
    raw = data.encode() if isinstance(data, str) else data
    if _UNSAFE_XML.search(raw):
        raise BadRequest(400, "XML with a DTD or entity declaration")
    try:
        doc = xmltodict.parse(raw, disable_entities=True)
    except Exception as exc:  # expat errors, encoding errors
        raise BadRequest(400, f"malformed XML: {exc}") from exc
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise BadRequest(400, "no <xml> root element")
    return root


def _field(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class Inbound:
    """One decrypted callback, reduced to what duban uses."""

    user_id: str
    msg_type: str
    message_id: str
    text: str = ""
    media_id: str = ""
    file_name: str | None = None
    event: str | None = None


EVENTS = {"enter_agent": "enter", "subscribe": "subscribe"}


def inbound_from_xml(doc: dict[str, Any]) -> Inbound | None:
    """The message in a decrypted callback, or None for what duban ignores (other events, no sender)."""
    user = _field(doc, "FromUserName")
    msg_type = _field(doc, "MsgType").lower()
    if not user or not msg_type:
        return None
    msg_id = _field(doc, "MsgId")
    if msg_type == "event":
        event = EVENTS.get(_field(doc, "Event").lower())
        if event is None:
            return None
        # Events carry no MsgId; WeCom's retries repeat the same CreateTime.
        return Inbound(user, msg_type, f"{user}:{_field(doc, 'CreateTime')}:{event}", event=event)
    msg_id = msg_id or f"{user}:{_field(doc, 'CreateTime')}:{msg_type}"
    if msg_type == "text":
        content = doc.get("Content")
        return Inbound(user, msg_type, msg_id, text=content if isinstance(content, str) else "")
    if msg_type == "voice" and _field(doc, "Recognition"):
        # With speech recognition switched on WeCom sends the transcript along.
        return Inbound(user, "text", msg_id, text=_field(doc, "Recognition"))
    if msg_type in ("image", "file", "video"):
        return Inbound(
            user, msg_type, msg_id, media_id=_field(doc, "MediaId"), file_name=_field(doc, "FileName") or None
        )
    return Inbound(user, msg_type, msg_id)  # voice, location, link: answered with "not supported"


def _choice_index(text: str, count: int) -> int | None:
    m = _CHOICE_NUMBER.match(unicodedata.normalize("NFKC", text))
    if not m:
        return None
    n = int(m.group(1))
    return n - 1 if 1 <= n <= count else None


_EXT_BY_TYPE = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}


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


# ---- the channel --------------------------------------------------------------------------------------------


class WecomChannel:
    """WeCom self-built application: callback routes on the shared aiohttp server, replies via message/send."""

    name = CHANNEL

    def __init__(self, settings: Settings, client: WecomClient | None = None) -> None:
        if not settings.wecom_enabled:
            raise ValueError("WeCom needs DUBAN_WECOM_CORP_ID, _AGENT_ID, _SECRET, _TOKEN and _AES_KEY")
        self.settings = settings
        corp_id = str(settings.wecom_corp_id)
        try:
            self.crypto = WeChatCrypto(str(settings.wecom_token), str(settings.wecom_aes_key), corp_id)
        except Exception as exc:
            raise ValueError("DUBAN_WECOM_AES_KEY must be the 43-character EncodingAESKey of the application") from exc
        self.client = client or WecomClient(corp_id, str(settings.wecom_secret), settings.wecom_api_base_url)
        agent = str(settings.wecom_agent_id).strip()
        self.agent_id: int | str = int(agent) if agent.isdigit() else agent
        self.markdown: bool = bool(getattr(settings, "wecom_markdown", True))
        self.evidence_dir = Path(settings.data_dir) / "evidence" / "wecom"
        self._app: Runtime | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._choices: dict[str, list[Choice]] = {}
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._welcomed: dict[str, float] = {}
        self._robot_session: aiohttp.ClientSession | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, app: Runtime, web_app: web.Application) -> None:
        self._app = app
        path = self.settings.wecom_callback_path
        web_app.router.add_get(path, self._on_verify)
        web_app.router.add_post(path, self._on_callback)
        log.info("WeCom callback at %s, API at %s", path, self.client.API_BASE_URL)

    async def stop(self) -> None:
        await self.drain(STOP_GRACE)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._robot_session is not None:
            await self._robot_session.close()
            self._robot_session = None
        self.client._http.close()

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until the messages received so far are handled (tests; a graceful stop)."""
        while self._tasks:
            done, _ = await asyncio.wait(set(self._tasks), timeout=timeout)
            if not done:
                return

    # ---- HTTP handlers ------------------------------------------------------------------------------------

    async def _on_verify(self, request: web.Request) -> web.Response:
        """URL verification when the callback is saved in the admin console: answer the decrypted echostr."""
        q = request.query
        sig, ts, nonce, echo = (q.get(k, "") for k in ("msg_signature", "timestamp", "nonce", "echostr"))
        if not (sig and ts and nonce and echo):
            return web.Response(status=400, text="missing parameters")
        # A '+' of the base64 echostr that arrives unescaped is decoded as a space; base64 has no spaces.
        echo = echo.replace(" ", "+")
        try:
            plain = self.crypto.check_signature(sig, ts, nonce, echo)
        except InvalidSignatureException:
            log.warning("WeCom URL verification with a bad signature from %s", request.remote)
            return web.Response(status=403, text="bad signature")
        except InvalidCorpIdException:
            log.warning("WeCom URL verification for another CorpID from %s", request.remote)
            return web.Response(status=403, text="wrong CorpID")
        except Exception:
            return web.Response(status=400, text="bad echostr")
        return web.Response(text=plain, content_type="text/plain")

    async def _on_callback(self, request: web.Request) -> web.Response:
        try:
            inbound = await self._accept(request)
        except BadRequest as exc:
            log.warning("WeCom callback refused (%d) from %s: %s", exc.status, request.remote, exc)
            return web.Response(status=exc.status, text=str(exc) if exc.status != 403 else "forbidden")
        if inbound is not None and self._first_time(inbound.message_id):
            task = asyncio.create_task(self._process(inbound), name=f"wecom-{inbound.message_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Empty 200 at once: the reply goes through message/send, and WeCom retries what is not answered in 5 s.
        return web.Response(status=200, text="")

    async def _accept(self, request: web.Request) -> Inbound | None:
        """Check, decrypt and parse one callback. Raises BadRequest for anything not from WeCom."""
        q = request.query
        sig, ts, nonce = q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", "")
        if not (sig and ts and nonce):
            raise BadRequest(400, "missing msg_signature/timestamp/nonce")
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise BadRequest(413, f"body of {request.content_length} bytes")
        body = await _read_capped(request, MAX_BODY)
        outer = parse_xml(body)
        encrypted = outer.get("Encrypt")
        if not isinstance(encrypted, str) or not encrypted.strip():
            raise BadRequest(400, "no Encrypt element")
        try:
            inner_xml = self.crypto.decrypt_message({"Encrypt": encrypted.strip()}, sig, ts, nonce)
        except InvalidSignatureException as exc:
            raise BadRequest(403, "bad signature") from exc
        except InvalidCorpIdException as exc:
            raise BadRequest(403, "encrypted for another CorpID") from exc
        except Exception as exc:  # bad base64, bad padding, truncated ciphertext
            raise BadRequest(400, f"cannot decrypt: {type(exc).__name__}") from exc
        return inbound_from_xml(parse_xml(inner_xml))

    def _first_time(self, message_id: str) -> bool:
        """In-memory guard against WeCom's retries (the engine's processed_message table is the real one);
        it also keeps a retried image from being downloaded twice."""
        if message_id in self._seen:
            log.info("WeCom retry of %s ignored", message_id)
            return False
        self._seen[message_id] = None
        while len(self._seen) > SEEN_IDS_KEPT:
            self._seen.popitem(last=False)
        return True

    # ---- handling -----------------------------------------------------------------------------------------

    async def _process(self, inbound: Inbound) -> None:
        lock = self._locks.setdefault(inbound.user_id, asyncio.Lock())
        async with lock:  # one user's messages in the order they came
            try:
                await self._handle(inbound)
            except Exception:
                log.exception("WeCom message %s from %s failed", inbound.message_id, inbound.user_id)

    async def _handle(self, inbound: Inbound) -> None:
        assert self._app is not None, "start() first"
        user = inbound.user_id
        if inbound.event == "enter":
            now = time.monotonic()
            last = self._welcomed.get(user)
            if last is not None and now - last < ENTER_WELCOME_EVERY:
                return
            self._welcomed[user] = now
        msg = await self._to_message(inbound)
        if msg is None:
            return
        replies = await asyncio.to_thread(self._app.engine.handle, msg)
        if await self._reply(user, replies):
            try:
                await asyncio.to_thread(self._app.engine.mark_replied, msg)
            except Exception:
                log.exception("could not record the replies to %s as delivered", msg.message_id)

    async def _to_message(self, inbound: Inbound) -> IncomingMessage | None:
        user = inbound.user_id
        base = {"channel": CHANNEL, "chat_id": user, "user_id": user, "message_id": inbound.message_id}
        if inbound.event:
            return IncomingMessage(**base, event=inbound.event)
        if inbound.msg_type == "text":
            text, is_choice = inbound.text, False
            offered = self._choices.get(user) or []
            idx = _choice_index(text, len(offered))
            if idx is not None:
                text, is_choice = offered[idx].value, True
            return IncomingMessage(**base, text=text, is_choice=is_choice)
        if inbound.msg_type in ("image", "file", "video") and inbound.media_id:
            try:
                attachment = await self._fetch_media(inbound)
            except (WecomApiError, OSError) as exc:
                log.error("WeCom media %s of %s not fetched: %s", inbound.media_id, user, exc)
                await self._reply(user, [Reply(texts.WECOM_MEDIA_FAILED)], keep_choices=True)
                return None
            return IncomingMessage(**base, attachments=(attachment,))
        await self._reply(user, [Reply(texts.WECOM_UNSUPPORTED)], keep_choices=True)
        return None

    async def _fetch_media(self, inbound: Inbound) -> InAttachment:
        content, ctype, disposition_name = await asyncio.to_thread(self.client.download_media, inbound.media_id)
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

    async def _reply(self, user: str, replies: list[Reply], keep_choices: bool = False) -> bool:
        """Send the replies to one message; a rate limit is waited out briefly, other failures are logged.

        Returns:
            True when every reply went out.
        """
        if not keep_choices:
            self._remember_choices(user, replies)
        for step in self._steps(user, replies):
            for attempt in range(REPLY_RATE_RETRIES + 1):
                try:
                    await asyncio.to_thread(step)
                    break
                except RetryLater as exc:
                    if attempt == REPLY_RATE_RETRIES:
                        log.error("WeCom reply to %s dropped: still rate limited (%s)", user, exc)
                        return False
                    await asyncio.sleep(min(exc.seconds, REPLY_RATE_WAIT_MAX))
                except (PermanentFailure, WecomApiError) as exc:
                    log.error("WeCom reply to %s not delivered: %s", user, exc)
                    return False
        return True

    def _steps(self, user: str, replies: list[Reply]) -> list[Callable[[], None]]:
        """One blocking call per WeCom message, so a retry repeats only the message that failed."""
        steps: list[Callable[[], None]] = []
        for reply in replies:
            steps += [functools.partial(self._send_payload, user, p) for p in render_payloads(reply, self.markdown)]
            steps += [functools.partial(self._send_attachment, user, a) for a in reply.attachments]
        return steps

    def _remember_choices(self, user: str, replies: list[Reply]) -> None:
        # Like the console: a number answers the last list offered; any other reply makes numbers plain text.
        last = next((r.choices for r in reversed(replies) if r.choices), None)
        if last:
            self._choices[user] = list(last)
        else:
            self._choices.pop(user, None)

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
        if reply.choices:
            self._choices[chat_id] = list(reply.choices)
        await self._send_reply(chat_id, reply)

    async def _send_reply(self, user: str, reply: Reply) -> None:
        for step in self._steps(user, [reply]):
            await asyncio.to_thread(step)

    def _send_payload(self, user: str, payload: dict[str, Any]) -> None:
        try:
            self.client.send_message(self.agent_id, user, payload)
        except WecomApiError as exc:
            raise _classify(exc) from exc

    def _send_attachment(self, user: str, att: OutAttachment) -> None:
        media_type = "image" if att.kind == "photo" else "file"
        try:
            media_id = self.client.upload_media(media_type, Path(att.path))
            self.client.send_message(self.agent_id, user, {"msgtype": media_type, media_type: {"media_id": media_id}})
        except WecomApiError as exc:
            raise _classify(exc) from exc

    def _robot(self) -> aiohttp.ClientSession:
        if self._robot_session is None or self._robot_session.closed:
            self._robot_session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
        return self._robot_session


def _classify(exc: WecomApiError) -> Exception:
    """Map a WeCom error to what the outbox understands."""
    if exc.errcode in RATE_ERRORS:
        return RetryLater(RATE_RETRY_SECONDS, f"WeCom rate limit {exc.errcode}")
    if exc.errcode in BUSY_ERRORS:
        return RetryLater(5.0, "WeCom busy")
    if exc.errcode in RECIPIENT_ERRORS:
        return PermanentFailure(f"WeCom user unreachable ({exc.errcode}: {exc.errmsg})")
    return exc


async def _read_capped(request: web.Request, limit: int) -> bytes:
    """The request body, refusing (413) more than `limit` bytes even without a Content-Length."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# ---- group robot (群机器人) ------------------------------------------------------------------------------------


async def send_group_robot(
    url: str,
    text: str,
    markdown: str | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
) -> None:
    """Post a digest to a WeCom group robot webhook: markdown if given, else text; split under the limits.

    Raises:
        RetryLater: rate limited (a robot takes 20 messages a minute) or the server failed.
        PermanentFailure: the webhook key is invalid or the robot was removed.
        WecomApiError: any other refusal.
    """
    if markdown:
        payloads = [{"msgtype": "markdown", "markdown": {"content": p}} for p in split_utf8(markdown, MARKDOWN_LIMIT)]
    else:
        payloads = [{"msgtype": "text", "text": {"content": p}} for p in split_utf8(text, TEXT_LIMIT)]
    own = session is None
    http = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT))
    try:
        for payload in payloads:
            try:
                async with http.post(url, json=payload) as res:
                    if res.status >= 500 or res.status == 429:
                        raise RetryLater(30.0, f"group robot HTTP {res.status}")
                    if res.status >= 400:
                        raise WecomApiError(None, f"group robot HTTP {res.status}")
                    data = await res.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise RetryLater(30.0, f"group robot unreachable: {exc}") from exc
            code = int(data.get("errcode", 0) or 0) if isinstance(data, dict) else 0
            if code == 0:
                continue
            err = WecomApiError(code, str(data.get("errmsg", "")))
            if code in ROBOT_DEAD_ERRORS:
                raise PermanentFailure(f"group robot webhook refused: {err}")
            raise _classify(err)
    finally:
        if own:
            await http.close()


class WecomRobotChannel:
    """Only the group robot (群机器人): used when `DUBAN_WECOM_GROUP_WEBHOOK` is set without the WeCom app,
    so digests still reach the coordinators' group. Messages to individual users cannot be delivered."""

    name = "wecom"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self, app: Runtime, web_app: web.Application) -> None:
        log.info("WeCom group robot only: digests go to the group; the WeCom app is not configured")

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, reply: Reply) -> None:
        if chat_id != ROBOT_CHAT_ID or not self.settings.wecom_group_webhook:
            raise PermanentFailure("the WeCom app is not configured: only the group robot can be reached")
        await send_group_robot(self.settings.wecom_group_webhook, render_plain(reply), reply.markdown)
