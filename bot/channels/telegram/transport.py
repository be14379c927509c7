"""PTB's HTTP transport on aiohttp: `AiohttpRequest`, a `telegram.request.BaseRequest` (PTB's documented extension
point) used instead of PTB's default `HTTPXRequest`.

py-spy put PTB's httpx client at a quarter of duban's CPU per Telegram message (issue 18); aiohttp is already
duban's HTTP server and client. Everything else (the Bot, its methods, the rate limiter, error handling by HTTP
status in `BaseRequest`) stays PTB's.

It mirrors `telegram.request.HTTPXRequest` (PTB 22):

- the same constructor defaults (pool of 256 connections, 5 s read/write/connect, 1 s pool, 20 s write for
  uploads) and the same timeout semantics in `do_request`: a timeout left at `BaseRequest.DEFAULT_NONE` takes the
  instance's value, an explicit `None` means no limit;
- the same bodies: no body without parameters, `application/x-www-form-urlencoded` for parameters alone,
  `multipart/form-data` (fields first, then the files as (filename, bytes, MIME type), encoded byte for byte as
  httpx encodes them) as soon as a file is uploaded;
- the same errors: a timeout raises `TimedOut` (a full pool with httpx's "Pool timeout" message), any other client
  error `NetworkError("aiohttp.<class>: <error>")`; HTTP statuses are `BaseRequest`'s business;
- proxies: none is passed to it, as none was passed to HTTPXRequest; like httpx it honours the standard proxy
  variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), read once when the session is made.

How the four timeouts map onto aiohttp: the pool is a semaphore of `connection_pool_size` slots held for a whole
request (the connector has as many connections, so aiohttp itself never queues); connect is aiohttp's `connect`
and `sock_connect` (name resolution and the TCP/TLS handshake); read is `sock_read` (the longest silence while the
answer is awaited or read; aiohttp starts it once the body is written); write bounds each chunk of an upload body
(64 KiB) from being handed to aiohttp until aiohttp asks for the next one, as httpx bounds each socket write. A
parameters-only body is a few KB written into the socket's buffer at once, so no write wait applies to it.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
import re
import urllib.request
from collections.abc import AsyncIterator
from typing import IO, Any
from urllib.parse import urlencode

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_TIMEOUT_MESSAGE = (  # HTTPXRequest's words
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)
FORM = "application/x-www-form-urlencoded"
CHUNK = 64 * 1024  # upload chunk; each must be taken by aiohttp within the write timeout

# httpx's escaping of multipart parameter values (the HTML5 form encoding).
_FORM_REPLACEMENTS = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_FORM_RE = re.compile("|".join(re.escape(c) for c in _FORM_REPLACEMENTS))


def _form_param(name: str, value: str) -> bytes:
    return f'{name}="{_FORM_RE.sub(lambda m: _FORM_REPLACEMENTS[m.group(0)], value)}"'.encode()


def multipart_body(fields: dict[str, str], files: dict[str, Any], boundary: bytes) -> list[bytes]:
    """The parts of a multipart/form-data body as httpx writes it: data fields, then files (name →
    (filename, bytes or binary file, MIME type)), each part closed by CRLF, then the closing boundary."""
    parts: list[bytes] = []
    for name, value in fields.items():
        parts += [b"--%s\r\n" % boundary, b"Content-Disposition: form-data; ", _form_param("name", name)]
        parts += [b"\r\n\r\n", value.encode(), b"\r\n"]
    for name, (filename, content, mimetype) in files.items():
        parts += [b"--%s\r\n" % boundary, b"Content-Disposition: form-data; ", _form_param("name", name)]
        if filename:
            parts += [b"; ", _form_param("filename", filename)]
        content_type = mimetype or (
            (mimetypes.guess_type(filename)[0] or "application/octet-stream") if filename else None
        )
        if content_type:
            parts += [b"\r\nContent-Type: ", content_type.encode()]
        parts += [b"\r\n\r\n", _file_bytes(content), b"\r\n"]
    parts.append(b"--%s--\r\n" % boundary)
    return parts


def _file_bytes(content: bytes | IO[bytes]) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, io.TextIOBase):
        raise TypeError("Multipart file uploads must be opened in binary mode, not text mode.")
    if hasattr(content, "seek"):  # as httpx: from the start
        try:
            content.seek(0)
        except io.UnsupportedOperation:
            pass
    return content.read()


class _EnvProxies:
    """The proxy for a URL from HTTP_PROXY/HTTPS_PROXY/ALL_PROXY/NO_PROXY, read once (as httpx reads them when its
    client is made), remembered per scheme and host."""

    def __init__(self) -> None:
        self.proxies = urllib.request.getproxies()
        self._by_origin: dict[str, str | None] = {}

    def for_url(self, url: str) -> str | None:
        origin = url[: url.find("/", url.find("//") + 2)]  # scheme://host:port
        if origin not in self._by_origin:
            scheme, _, netloc = origin.partition("://")
            host = netloc.rsplit("@", 1)[-1]
            proxy = self.proxies.get(scheme) or self.proxies.get("all")
            if proxy and urllib.request.proxy_bypass(host.split(":", 1)[0] if not host.startswith("[") else host):
                proxy = None
            if proxy and not proxy.startswith(("http://", "https://")):
                raise RuntimeError(f"unsupported proxy {proxy!r} for {origin} (duban's Telegram transport speaks HTTP)")
            self._by_origin[origin] = proxy
        return self._by_origin[origin]


class AiohttpRequest(BaseRequest):
    """`BaseRequest` on one `aiohttp.ClientSession` per instance (keep-alive connections, made inside the running
    loop by `initialize` or the first request). Arguments as `HTTPXRequest`'s; see the module docstring."""

    __slots__ = (
        "_connect_timeout",
        "_default_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_slots",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._default_timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._slots: asyncio.Semaphore | None = None
        self._proxies: _EnvProxies | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (see `BaseRequest.read_timeout`)."""
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        return self._pool_size

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session: None before the first `initialize` or request; closed after `shutdown`."""
        return self._session

    async def initialize(self) -> None:
        """Make the session (in the running loop); nothing if it is open already."""
        if self._session is None or self._session.closed:
            self._open()

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._pool_size)
        self._session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": self.USER_AGENT}, timeout=self._default_timeout
        )
        self._slots = asyncio.Semaphore(self._pool_size)
        proxies = _EnvProxies()
        self._proxies = proxies if proxies.proxies else None
        return self._session

    async def shutdown(self) -> None:
        """Close the session and its connections; nothing if there is none open."""
        session = self._session
        if session is None or session.closed:
            return
        await session.close()  # closes the connector it owns

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See `BaseRequest.do_request`."""
        session = self._session
        if session is None:
            session = self._open()  # as HTTPXRequest, usable before `initialize`
        elif session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        slots = self._slots
        assert slots is not None

        files = request_data.multipart_data if request_data is not None else None
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        timeout = self._default_timeout
        if not isinstance(read_timeout, DefaultValue) or not isinstance(connect_timeout, DefaultValue):
            read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
            connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
            timeout = aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)

        if slots.locked():
            try:
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            except TimeoutError as err:
                raise TimedOut(message=POOL_TIMEOUT_MESSAGE) from err
        else:
            await slots.acquire()  # a free slot: taken at once
        try:
            headers: dict[str, str] | None = None
            body: bytes | AsyncIterator[bytes] | None = None
            async with asyncio.timeout(None) as writing:
                if files:
                    boundary = os.urandom(16).hex().encode()
                    parts = multipart_body(request_data.json_parameters if request_data else {}, files, boundary)
                    whole = b"".join(parts)
                    headers = {
                        "Content-Type": f"multipart/form-data; boundary={boundary.decode()}",
                        "Content-Length": str(len(whole)),
                    }
                    body = _chunks(whole, writing, write_timeout)
                elif request_data is not None:
                    fields = request_data.json_parameters
                    if fields:
                        body = urlencode(fields).encode()  # = RequestData.url_encoded_parameters()
                        headers = {"Content-Type": FORM}
                proxy = self._proxies.for_url(url) if self._proxies is not None else None
                async with session.request(
                    method, url, data=body, headers=headers, timeout=timeout, proxy=proxy
                ) as response:
                    return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's connect and read timeouts are TimeoutErrors too
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err
        finally:
            slots.release()


async def _chunks(body: bytes, writing: asyncio.Timeout, write_timeout: float | None) -> AsyncIterator[bytes]:
    """`body` in chunks of CHUNK bytes; each must be written within `write_timeout` (aiohttp asks for the next chunk
    once it has written the previous one), then the deadline is lifted: the answer has the read timeout."""
    loop = asyncio.get_running_loop()
    for start in range(0, len(body), CHUNK):
        if write_timeout is not None:
            writing.reschedule(loop.time() + write_timeout)
        yield body[start : start + CHUNK]
    writing.reschedule(None)
