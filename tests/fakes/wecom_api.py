"""A fake WeCom API server on 127.0.0.1 for tests: gettoken, message/send (template cards held to WeCom's
documented limits), message/update_template_card, media/get, media/upload and the group robot webhook,
recording every call and failing on demand (expired token, rate limit, HTTP 500, a deployment without cards).

It behaves like the real API where duban depends on it: tokens are issued by gettoken and checked on every
call (a revoked or unknown token gets 42001), errors are JSON with errcode/errmsg and HTTP 200, media/get
returns the file with a Content-Disposition header, or JSON when it fails.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.channels.wecom.cards import check_card
from tests.fakes.wait import wait_for

ERRMSG = {
    40001: "invalid credential",
    40013: "invalid corpid",
    40014: "invalid access_token",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45033: "api concurrent out of limit",
    40008: "invalid message type",
    40058: "invalid parameter",
    60111: "invalid string value `userid`. userid not found",
    60140: "response_code has been used or expired",
    81013: "user & party & tag all invalid",
    93000: "invalid webhook url",
}


@dataclass
class Call:
    """One request the fake received."""

    path: str
    query: dict[str, str]
    body: Any = None  # parsed JSON for JSON posts, field names for multipart uploads
    ok: bool = False  # answered with success

    @property
    def content(self) -> str | None:
        """The text or markdown content of a message/send or webhook call."""
        if not isinstance(self.body, dict):
            return None
        kind = self.body.get("msgtype")
        part = self.body.get(kind) if isinstance(kind, str) else None
        return part.get("content") if isinstance(part, dict) else None


@dataclass
class FakeWecomApi:
    corp_id: str
    secret: str
    token_ttl: int = 7200
    calls: list[Call] = field(default_factory=list)
    media: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)  # media_id → (content, type, name)
    valid_tokens: set[str] = field(default_factory=set)
    _errors: dict[str, list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # path → [errcode|-status]
    _outages: dict[str, tuple[float, tuple[int, ...]]] = field(default_factory=dict)  # path → (until, statuses)
    outage_failures: int = 0  # calls answered with an error by an outage (`fail_http_for`)
    cards_refused: bool = False  # a deployment without template cards (some 政务微信 versions): 40008
    # response_code → (userid, task_id, used): issued with each card sent and with each card click
    response_codes: dict[str, list[Any]] = field(default_factory=dict)
    card_updates: dict[str, str] = field(default_factory=dict)  # task_id → the text its buttons were replaced by
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    port: int = 0

    # ---- control ------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key=test-robot-key"

    def fail(self, path: str, errcode: int, times: int = 1) -> None:
        """Answer the next `times` calls of `path` (e.g. "message/send") with WeCom error `errcode`."""
        self._errors[path].append((errcode, times))

    def fail_http(self, path: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` calls of `path` with HTTP `status`."""
        self._errors[path].append((-status, times))

    def fail_http_for(self, path: str, seconds: float, statuses: tuple[int, ...] = (500, 502, 429)) -> None:
        """An outage: every call of `path` in the next `seconds` gets HTTP `statuses` in turn."""
        self._outages[path] = (time.monotonic() + seconds, statuses)

    def expire_tokens(self) -> None:
        """Every token issued so far is expired from now on (the next call gets 42001)."""
        self.valid_tokens.clear()

    def add_media(self, content: bytes, content_type: str = "image/jpeg", file_name: str = "photo.jpg") -> str:
        media_id = f"MEDIA_{next(self._ids)}"
        self.media[media_id] = (content, content_type, file_name)
        return media_id

    def issue_response_code(self, user: str, task_id: str) -> str:
        """A response_code as WeCom puts one in a card's click callback (usable once)."""
        code = f"RC_{next(self._ids)}"
        self.response_codes[code] = [user, task_id, False]
        return code

    def cards(self, user: str | None = None) -> list[dict[str, Any]]:
        """The template cards delivered (to `user`), in order."""
        return [
            c.body["template_card"]
            for c in self.calls
            if c.path == "message/send"
            and c.ok
            and c.body.get("msgtype") == "template_card"
            and (user is None or c.body.get("touser") == user)
        ]

    def calls_to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def sent_texts(self, user: str | None = None) -> list[str]:
        """Contents of successful message/send calls (to `user` if given), in order; template cards apart
        (`cards`)."""
        return [
            c.content or ""
            for c in self.calls
            if c.path == "message/send"
            and c.ok
            and c.body.get("msgtype") != "template_card"
            and (user is None or c.body.get("touser") == user)
        ]

    async def wait_sent(self, count: int, user: str | None = None, timeout: float = 15.0) -> list[str]:
        """Wait until `count` messages were delivered (to `user`), then return all delivered so far."""
        await wait_for(
            lambda: len(self.sent_texts(user)) >= count,
            timeout,
            what=lambda: f"expected {count} messages, got {self.sent_texts(user)}",
        )
        return self.sent_texts(user)

    # ---- server -------------------------------------------------------------------------------------------

    async def start(self) -> FakeWecomApi:
        app = web.Application(client_max_size=30 * 1024 * 1024)
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/message/send", self._message_send)
        app.router.add_post("/cgi-bin/message/update_template_card", self._update_template_card)
        app.router.add_get("/cgi-bin/media/get", self._media_get)
        app.router.add_post("/cgi-bin/media/upload", self._media_upload)
        app.router.add_post("/cgi-bin/webhook/send", self._webhook_send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _injected(self, path: str) -> web.Response | None:
        until, statuses = self._outages.get(path, (0.0, ()))
        if time.monotonic() < until:
            self.outage_failures += 1
            return web.Response(status=statuses[(self.outage_failures - 1) % len(statuses)], text="outage")
        queue = self._errors.get(path)
        if not queue:
            return None
        code, times = queue[0]
        if times <= 1:
            queue.pop(0)
        else:
            queue[0] = (code, times - 1)
        if code < 0:
            return web.Response(status=-code, text="internal error")
        return _error(code)

    def _record(self, request: web.Request, body: Any = None) -> Call:
        path = request.path.removeprefix("/cgi-bin/")
        call = Call(path, dict(request.query), body)
        self.calls.append(call)
        return call

    def _token_error(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if token not in self.valid_tokens:
            return _error(42001 if token.startswith("TOKEN_") else 40014)
        return None

    async def _gettoken(self, request: web.Request) -> web.Response:
        self._record(request)
        injected = self._injected("gettoken")
        if injected is not None:
            return injected
        if request.query.get("corpid") != self.corp_id:
            return _error(40013)
        if request.query.get("corpsecret") != self.secret:
            return _error(40001)
        token = f"TOKEN_{next(self._ids)}"
        self.valid_tokens.add(token)
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl})

    async def _message_send(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        call = self._record(request, body)
        failure = self._injected("message/send") or self._token_error(request)
        if failure is not None:
            return failure
        for key in ("touser", "agentid", "msgtype"):
            if not body.get(key):
                return _error(41000 + len(key), f"missing {key}")
        content = call.content
        limit = 4096 if body["msgtype"] == "markdown" else 2048
        if content is not None and len(content.encode()) > limit:
            return _error(45002, "content size out of limit")
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"msg{next(self._ids)}"}
        if body["msgtype"] == "template_card":
            if self.cards_refused:
                return _error(40008)
            card = body.get("template_card")
            problems = check_card(card) if isinstance(card, dict) else ["no template_card"]
            if not problems and any(card["task_id"] == t for _u, t, _used in self.response_codes.values()):
                problems = [f"task_id {card['task_id']} used before"]
            if problems:
                return _error(40058, "; ".join(problems))
            answer["response_code"] = self.issue_response_code(str(body["touser"]), card["task_id"])
        call.ok = True
        return web.json_response(answer)

    async def _update_template_card(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        call = self._record(request, body)
        failure = self._injected("message/update_template_card") or self._token_error(request)
        if failure is not None:
            return failure
        issued = self.response_codes.get(str(body.get("response_code", "")))
        replace = (body.get("button") or {}).get("replace_name")
        if issued is None or issued[2]:
            return _error(60140)
        if not body.get("agentid") or issued[0] not in (body.get("userids") or []) or not replace:
            return _error(40058, "userids, agentid and button.replace_name are required")
        issued[2] = True
        self.card_updates[issued[1]] = str(replace)
        call.ok = True
        return web.json_response({"errcode": 0, "errmsg": "ok", "invaliduser": []})

    async def _media_get(self, request: web.Request) -> web.Response:
        self._record(request)
        failure = self._injected("media/get") or self._token_error(request)
        if failure is not None:
            return failure
        item = self.media.get(request.query.get("media_id", ""))
        if item is None:
            return _error(40007, "invalid media_id")
        content, ctype, name = item
        return web.Response(
            body=content, content_type=ctype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    async def _media_upload(self, request: web.Request) -> web.Response:
        fields: list[str] = []
        reader = await request.multipart()
        async for part in reader:
            fields.append(f"{part.name}:{part.filename}")  # type: ignore[union-attr]
            await part.read()  # type: ignore[union-attr]
        self._record(request, {"fields": fields})
        failure = self._injected("media/upload") or self._token_error(request)
        if failure is not None:
            return failure
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "type": request.query.get("type"), "media_id": f"UP_{next(self._ids)}"}
        )

    async def _webhook_send(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        call = self._record(request, body)
        failure = self._injected("webhook/send")
        if failure is not None:
            return failure
        if request.query.get("key") != "test-robot-key":
            return _error(93000)
        call.ok = True
        return web.json_response({"errcode": 0, "errmsg": "ok"})


def _error(code: int, msg: str | None = None) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": msg or ERRMSG.get(code, "error")})
