"""The WeCom API client: wechatpy's, with every URL under the configured base and bounded token retries.

Every URL it calls (gettoken, message/send, message/update_template_card, media/get, media/upload, ...)
follows `DUBAN_WECOM_API_BASE_URL`, which is how a private deployment (政务微信) is reached. wechatpy is synchronous (requests): callers run it in
worker threads. Its own retry on an expired token recurses without a bound; here a rejected token is refreshed
at most `MAX_TOKEN_REFRESHES` times. `classify` maps WeCom's error codes to what the outbox understands.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.enterprise.client.api import WeChatMaterial, WeChatMedia
from wechatpy.exceptions import WeChatClientException

from bot.channels.edge import TextLimit, Unit
from core.channel import PermanentFailure, RetryLater

log = logging.getLogger(__name__)

T = TypeVar("T")

PUBLIC_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"  # what wechatpy hard-codes
TEXT_LIMIT = TextLimit(2048, Unit.UTF8)  # WeCom truncates longer text messages
MARKDOWN_LIMIT = TextLimit(4096, Unit.UTF8)
MEDIA_MAX_BYTES = 20 * 1024 * 1024  # WeCom's own limit for files
API_TIMEOUT = 15.0  # seconds per HTTP call to the WeCom API
MAX_TOKEN_REFRESHES = 2
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, expired token
RATE_ERRORS = frozenset({45009, 45033})  # over the call frequency / concurrency limit
BUSY_ERRORS = frozenset({-1})  # 系统繁忙
RECIPIENT_ERRORS = frozenset({40003, 60111, 81013})  # invalid userid / not found / none reachable
RATE_RETRY_SECONDS = 60.0


class WecomApiError(Exception):
    """The WeCom API refused a call (errcode) or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str = "") -> None:
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"WeCom API error {errcode}: {errmsg}")


def classify(exc: WecomApiError) -> Exception:
    """Map a WeCom error to what the outbox understands: RetryLater, PermanentFailure, or itself (retried)."""
    if exc.errcode in RATE_ERRORS:
        return RetryLater(RATE_RETRY_SECONDS, f"WeCom rate limit {exc.errcode}")
    if exc.errcode in BUSY_ERRORS:
        return RetryLater(5.0, "WeCom busy")
    if exc.errcode in RECIPIENT_ERRORS:
        return PermanentFailure(f"WeCom user unreachable ({exc.errcode}: {exc.errmsg})")
    return exc


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

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
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
        response: requests.Response = self._client._http.get(self.get_url(media_id))
        return response


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

    def close(self) -> None:
        self._http.close()

    def fetch_access_token(self) -> dict[str, Any]:
        token: dict[str, Any] = self._fetch_access_token(
            url=f"{self.API_BASE_URL}gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret}
        )
        return token

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
        """message/send to one userid.

        Raises:
            WecomApiError: refused, or the userid is not one the application can reach (81013).
        """

        def send() -> dict[str, Any]:
            result: dict[str, Any] = self.message.send(agent_id, user_id, msg=payload)
            return result

        result = self.call("message/send", send)
        invalid = str(result.get("invaliduser") or "")
        if user_id in invalid.split("|"):
            raise WecomApiError(81013, f"invaliduser {invalid}")
        return result

    def update_template_card(
        self, agent_id: int | str, user_ids: list[str], response_code: str, replace_name: str
    ) -> None:
        """message/update_template_card: the buttons of the card `response_code` came with (from message/send or
        from the click's callback; usable once, for 72 hours) replaced by one that cannot be tapped, reading
        `replace_name`. wechatpy has no call for it.

        Raises:
            WecomApiError: refused (60140: the code was used or has expired).
        """

        def update() -> dict[str, Any]:
            data = {
                "userids": user_ids,
                "agentid": agent_id,
                "response_code": response_code,
                "button": {"replace_name": replace_name},
            }
            result: dict[str, Any] = self.post("message/update_template_card", data=data)
            return result

        self.call("message/update_template_card", update)

    def upload_media(self, media_type: str, path: Path) -> str:
        def upload() -> dict[str, Any]:
            with path.open("rb") as f:
                result: dict[str, Any] = self.media.upload(media_type, f)
                return result

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
            self._raise_json_error(content)
        return content, ctype, _filename_from_disposition(disposition)

    def _raise_json_error(self, content: bytes) -> None:
        """Errors come back as JSON instead of the file."""
        try:
            data = json.loads(content.decode("utf-8", "replace"))
        except ValueError:
            return
        if isinstance(data, dict) and int(data.get("errcode", 0) or 0) != 0:
            raise WeChatClientException(int(data["errcode"]), data.get("errmsg", ""), client=self)


def _errcode(exc: WeChatClientException) -> int | None:
    try:
        return int(exc.errcode) if exc.errcode is not None else None
    except (TypeError, ValueError):
        return None


def _filename_from_disposition(value: str) -> str | None:
    m = re.search(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", value, re.IGNORECASE)
    if not m:
        return None
    name = Path(unquote(m.group(1))).name  # never a path from the outside
    return name or None
