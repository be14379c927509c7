"""WeCom's callback: URL verification, signature check and decryption, and the XML of what users send.

WeCom calls our callback URL. The GET URL verification answers the decrypted echostr; a POST is signature-checked
and decrypted with wechatpy's WeCom crypto (which also checks the CorpID the message was encrypted for) and
reduced to an `Inbound`: a message, an event, or a tap on a template card (`template_card_event`, which
wechatpy does not parse). Anything not from WeCom is refused with `BadRequest` before it is stored or handled.

A correctly signed callback is still refused when its `timestamp` is far from the real time (more than
`window_seconds` either way): a captured request cannot be replayed days later. WeCom retries a callback it got
no answer to within seconds, with the same timestamp, so a window of a day never refuses a real retry. The
URL verification (GET) is not limited: replaying it only echoes a string back.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import xmltodict
from aiohttp import web
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from config.clock import wall_utcnow

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a real callback is about 1 KiB; anything near this is not from WeCom
EVENTS = {"enter_agent": "enter", "subscribe": "subscribe"}
CARD_EVENTS = frozenset({"template_card_event", "template_card_menu_event"})  # a tap on a template card
CARD = "card"

_UNSAFE_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

DEFAULT_WINDOW_SECONDS = 86400.0
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def wall_seconds() -> float:
    """The real time, seconds since the epoch (WeCom stamps real time; the plan's clock may pretend another
    year). Read through `config.clock`, the one place that reads the wall clock."""
    return wall_utcnow().replace(tzinfo=dt.UTC).timestamp()


class BadRequest(Exception):
    """A callback we refuse; `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


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
    # a tap on a template card (event CARD): the key of the button, the card's task_id, the code that updates
    # the card once, and what its drop-downs held (question_key → option ids)
    event_key: str = ""
    task_id: str = ""
    response_code: str = ""
    selected: dict[str, list[str]] = field(default_factory=dict)


class CallbackCrypto:
    """The callback's signature check and decryption for one application.

    Args:
        window_seconds: a signed callback whose timestamp is further than this from the real time is refused;
            None accepts any timestamp.

    Raises:
        ValueError: the EncodingAESKey is not a valid one.
    """

    def __init__(
        self, token: str, aes_key: str, corp_id: str, window_seconds: float | None = DEFAULT_WINDOW_SECONDS
    ) -> None:
        self.window_seconds = window_seconds
        try:
            self.crypto = WeChatCrypto(token, aes_key, corp_id)
        except Exception as exc:
            raise ValueError("DUBAN_WECOM_AES_KEY must be the 43-character EncodingAESKey of the application") from exc

    def verify_url(self, request: web.Request) -> web.Response:
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

    async def accept(self, request: web.Request) -> Inbound | None:
        """Check, decrypt and parse one callback POST; None for what duban ignores.

        Raises:
            BadRequest: anything not from WeCom.
        """
        q = request.query
        sig, ts, nonce = q.get("msg_signature", ""), q.get("timestamp", ""), q.get("nonce", "")
        if not (sig and ts and nonce):
            raise BadRequest(400, "missing msg_signature/timestamp/nonce")
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise BadRequest(413, f"body of {request.content_length} bytes")
        outer = parse_xml(await _read_capped(request, MAX_BODY))
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
        self.check_timestamp(ts)  # the signature covers the timestamp: it is WeCom's
        return inbound_from_xml(parse_xml(inner_xml))

    def check_timestamp(self, ts: str) -> None:
        """Refuse a signed callback sent too long ago (a replay) or too far ahead.

        Raises:
            BadRequest: 400 for a timestamp that is not a number of seconds, 403 for one outside the window.
        """
        if not _TIMESTAMP.fullmatch(ts):
            raise BadRequest(400, f"timestamp {ts[:40]!r} is not a number of seconds")
        sent = int(ts)
        if self.window_seconds is None:
            return
        skew = wall_seconds() - sent
        if abs(skew) > self.window_seconds:
            when = "old" if skew > 0 else "ahead"
            raise BadRequest(403, f"timestamp {ts} is {abs(skew):.0f} s {when} (window {self.window_seconds:.0f} s)")


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


def inbound_from_xml(doc: dict[str, Any]) -> Inbound | None:
    """The message in a decrypted callback, or None for what duban ignores (other events, no sender)."""
    user = _field(doc, "FromUserName")
    msg_type = _field(doc, "MsgType").lower()
    if not user or not msg_type:
        return None
    msg_id = _field(doc, "MsgId")
    if msg_type == "event" and _field(doc, "Event").lower() in CARD_EVENTS:
        task_id = _field(doc, "TaskId")
        if not task_id:
            return None
        # One tap per card: WeCom's retries of the callback, and a second tap, are the same message.
        return Inbound(
            user,
            msg_type,
            f"card:{user}:{task_id}",
            event=CARD,
            event_key=_field(doc, "EventKey"),
            task_id=task_id,
            response_code=_field(doc, "ResponseCode"),
            selected=_selected(doc.get("SelectedItems")),
        )
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


def _selected(items: Any) -> dict[str, list[str]]:
    """`<SelectedItems><SelectedItem><QuestionKey/><OptionIds><OptionId/>...` as question_key → option ids
    (xmltodict gives one child as a dict and several as a list)."""

    def many(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value] if value is not None else []

    out: dict[str, list[str]] = {}
    if not isinstance(items, dict):
        return out
    for item in many(items.get("SelectedItem")):
        if not isinstance(item, dict):
            continue
        key = _field(item, "QuestionKey")
        ids = item.get("OptionIds")
        options = many(ids.get("OptionId")) if isinstance(ids, dict) else []
        if key:
            out[key] = [o.strip() for o in options if isinstance(o, str) and o.strip()]
    return out


def _field(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    return value.strip() if isinstance(value, str) else ""


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
