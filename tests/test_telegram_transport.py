"""duban's PTB transport on aiohttp (`AiohttpRequest`), against the fake Bot API server over real HTTP: what a Bot
sends through it arrives as it would from PTB's own httpx transport (form fields, multipart uploads, downloads),
timeouts and errors become PTB's exceptions, the session's lifecycle, and the channel using it.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import BaseRequest, HTTPXRequest

from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.limits import retry_seconds
from bot.channels.telegram.transport import POOL_TIMEOUT_MESSAGE, AiohttpRequest, multipart_body
from config.settings import Settings
from tests.fakes import free_port
from tests.fakes.telegram_api import FakeTelegramAPI

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\r\n--not-a-boundary--\r\n"  # the bytes must arrive unchanged


def make_bot(api: FakeTelegramAPI, request: BaseRequest, base_url: str | None = None) -> Bot:
    return Bot(
        api.token,
        base_url=base_url or f"{api.url}/bot",
        base_file_url=f"{api.url}/file/bot",
        request=request,
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )


@pytest.fixture
async def bot(api: FakeTelegramAPI) -> AsyncIterator[Bot]:
    async with make_bot(api, AiohttpRequest()) as b:
        yield b


# ---- what arrives -------------------------------------------------------------------------------------------


async def test_messages_buttons_edits_and_callbacks_arrive(bot: Bot, api: FakeTelegramAPI) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("完成 100%", callback_data="c:1&x=2")]])
    sent = await bot.send_message(42, "进度 & 下一步? a=b", reply_markup=keyboard)
    call = api.calls_of("sendMessage")[-1]
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["chat_id"] == 42 and call.params["text"] == "进度 & 下一步? a=b"
    assert api.buttons(call.params) == [("完成 100%", "c:1&x=2")]
    assert sent.text == "进度 & 下一步? a=b" and sent.message_id == api.sent(42)[0]["message_id"]

    update = api.inject_callback(42, "c:1&x=2", sent.message_id)
    query_id = update["callback_query"]["id"]
    assert await bot.answer_callback_query(query_id, text="已记录", show_alert=True) is True
    assert api.answered_callbacks[query_id]["text"] == "已记录"
    assert api.answered_callbacks[query_id]["show_alert"] == "true"

    edited = await bot.edit_message_text("进度：已完成", chat_id=42, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "进度：已完成"
    assert api.texts(42) == ["进度：已完成"] and not api.buttons(api.sent(42)[0])
    assert [c.method for c in api.calls] == ["getMe", "sendMessage", "answerCallbackQuery", "editMessageText"]


async def test_uploads_are_multipart_and_downloads_get_the_bytes(
    bot: Bot, api: FakeTelegramAPI, tmp_path: Path
) -> None:
    message = await bot.send_document(42, PDF, filename='两山 "方案".pdf', caption="第3周 证明")
    call = api.calls_of("sendDocument")[-1]
    assert call.content_type == "multipart/form-data"
    assert call.params == {"chat_id": 42, "caption": "第3周 证明"}
    # httpx's form escaping of the quotes, the MIME type PTB guessed from the name
    assert call.uploads == {"document": ("两山 %22方案%22.pdf", PDF, "application/pdf")}
    assert message.document is not None and message.document.file_name == "两山 %22方案%22.pdf"

    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == PDF
    target = tmp_path / "copy.pdf"
    await file.download_to_drive(target)
    assert target.read_bytes() == PDF
    assert [c.method for c in api.calls][-3:] == ["getFile", "file", "file"]

    # A file handle PTB does not read itself (read_file_handle=False) is sent from its start.
    source = tmp_path / "photo.jpg"
    source.write_bytes(PDF[::-1])
    with source.open("rb") as handle:
        handle.read(10)
        await bot.send_photo(42, InputFile(handle, filename="现场.jpg", read_file_handle=False))
    assert api.calls_of("sendPhoto")[-1].uploads == {"photo": ("现场.jpg", PDF[::-1], "image/jpeg")}


@pytest.mark.parametrize(
    ("fields", "files"),
    [
        ({}, {"document": ("a.pdf", b"%PDF", "application/pdf")}),
        (
            {"chat_id": "42", "caption": '引号" 反斜杠\\ 换行\n制表\t esc\x1b', "reply_markup": '{"a": [1]}'},
            {"photo": ('现场 "1".jpg', bytes(range(256)), "image/jpeg"), "thumb": ("", b"t", "image/png")},
        ),
        ({"media": '[{"type": "photo"}]'}, {"attached1": ("x", b"\r\n--b--\r\n", "application/octet-stream")}),
    ],
)
def test_multipart_bodies_are_byte_for_byte_what_httpx_sends(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> None:
    boundary = b"0123456789abcdef0123456789abcdef"
    ours = b"".join(multipart_body(fields, files, boundary))
    theirs = b"".join(httpx._multipart.MultipartStream(data=fields, files=files, boundary=boundary))
    assert ours == theirs


# ---- timeouts and errors ------------------------------------------------------------------------------------


async def test_a_slow_answer_times_out_after_the_read_timeout(api: FakeTelegramAPI) -> None:
    api.set_delay("sendMessage", 2.0)
    async with make_bot(api, AiohttpRequest(read_timeout=0.3)) as bot:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(42, "慢")
        assert 0.25 <= time.monotonic() - started < 1.9  # well before the 2 s answer
        # A timeout given with the call wins over the instance's, and an explicit None means no limit.
        api.set_delay("sendMessage", 0.6)
        assert (await bot.send_message(42, "等", read_timeout=10)).text == "等"
        assert (await bot.send_message(42, "一直等", read_timeout=None)).text == "一直等"
        with pytest.raises(TimedOut):
            await bot.send_message(42, "还是慢")  # the instance's 0.3 s again
    async with make_bot(api, AiohttpRequest(read_timeout=None)) as bot:
        assert (await bot.send_message(42, "不限")).text == "不限"


async def test_a_full_pool_times_out_without_sending(api: FakeTelegramAPI) -> None:
    api.set_delay("sendMessage", 0.5)
    async with make_bot(api, AiohttpRequest(connection_pool_size=1, pool_timeout=0.2)) as bot:
        first = asyncio.create_task(bot.send_message(42, "一"))
        await api.wait_for_call("sendMessage", ok_only=False)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(42, "二")
        assert (await first).text == "一"
        assert [c.params["text"] for c in api.calls_of("sendMessage", ok_only=False)] == ["一"]
        # pool_timeout=None waits for the slot
        first = asyncio.create_task(bot.send_message(42, "三"))
        await api.wait_for(lambda: len(api.calls_of("sendMessage", ok_only=False)) == 2)
        assert (await bot.send_message(42, "四", pool_timeout=None)).text == "四"
        assert (await first).text == "三"
    assert "Pool timeout" in POOL_TIMEOUT_MESSAGE


async def test_an_upload_the_server_does_not_take_times_out_after_the_write_timeout(api: FakeTelegramAPI) -> None:
    stalled: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest(read_timeout=30, media_write_timeout=0.5)
    bot = make_bot(api, request, base_url=f"http://127.0.0.1:{port}/bot")
    try:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_document(42, b"x" * (48 << 20), filename="big.bin")
        assert 0.45 <= time.monotonic() - started < 5
        assert stalled  # the connection was made; the body was what got stuck
        started = time.monotonic()
        with pytest.raises(TimedOut):  # a call's own write timeout applies as well
            await bot.send_document(42, b"x" * (48 << 20), filename="big.bin", write_timeout=0.2)
        assert time.monotonic() - started < 4
    finally:
        await request.shutdown()
        for writer in stalled:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_server_that_is_down_is_a_network_error(api: FakeTelegramAPI) -> None:
    request = AiohttpRequest()
    bot = make_bot(api, request, base_url=f"http://127.0.0.1:{free_port()}/bot")
    with pytest.raises(NetworkError) as raised:
        await bot.send_message(42, "有人吗")
    assert not isinstance(raised.value, TimedOut)
    assert raised.value.message.startswith("aiohttp.ClientConnectorError")
    await request.shutdown()


async def test_error_answers_become_ptbs_exceptions(bot: Bot, api: FakeTelegramAPI) -> None:
    api.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as retry:
        await bot.send_message(42, "快")
    assert retry_seconds(retry.value) == 7
    api.forget_chat(43)
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(43, "谁")
    api.block(44)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(44, "在吗")
    api.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(42, "网关")
    assert (await bot.send_message(42, "好了")).text == "好了"  # nothing stuck after the errors


# ---- the session ---------------------------------------------------------------------------------------------


async def test_initialize_and_shutdown_twice_keep_alive_and_close(api: FakeTelegramAPI) -> None:
    request = AiohttpRequest()
    assert request.read_timeout == 5.0 and AiohttpRequest(read_timeout=None).read_timeout is None
    await request.initialize()
    session = request.session
    await request.initialize()
    assert request.session is session and session is not None and not session.closed
    connector = session.connector
    bot = make_bot(api, request)
    for i in range(5):
        await bot.send_message(42, f"第{i}条")
    assert api.open_connections == 1  # one kept-alive connection for all five
    await request.shutdown()
    await request.shutdown()
    assert session.closed and connector is not None and connector.closed
    await api.wait_for(lambda: api.open_connections == 0, timeout=2)
    with pytest.raises(NetworkError, match="not initialized"):
        await bot.send_message(42, "关了")
    await request.initialize()  # open again, as HTTPXRequest can be
    assert request.session is not session
    assert (await bot.send_message(42, "又开了")).text == "又开了"
    await request.shutdown()


async def test_usable_before_initialize_and_as_a_context_manager(api: FakeTelegramAPI) -> None:
    request = AiohttpRequest()
    assert request.session is None
    bot = make_bot(api, request)
    assert (await bot.send_message(42, "未初始化")).text == "未初始化"  # HTTPXRequest allows it too
    async with request:
        assert request.session is not None and not request.session.closed
    assert request.session.closed


async def test_env_proxy_is_honoured_as_httpx_does(api: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "all_proxy", "ALL_PROXY", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", api.url)
    async with make_bot(api, AiohttpRequest(), base_url="http://api.telegram.invalid/bot") as bot:
        assert bot.username == api.bot_username  # getMe reached the fake through the "proxy"
    monkeypatch.setenv("NO_PROXY", "api.telegram.invalid")
    request = AiohttpRequest()
    with pytest.raises(NetworkError):  # bypassed: the name does not resolve
        await make_bot(api, request, base_url="http://api.telegram.invalid/bot").get_me()
    await request.shutdown()


class _NoSniffio(importlib.abc.MetaPathFinder):
    """Counts attempts to import sniffio and refuses them (as when it is not installed)."""

    def __init__(self) -> None:
        self.attempts = 0

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if name == "sniffio":
            self.attempts += 1
            raise ModuleNotFoundError("No module named 'sniffio'", name=name)
        return None


@pytest.mark.parametrize(("transport", "tries_sniffio"), [(AiohttpRequest, False), (HTTPXRequest, True)])
async def test_no_sniffio_import_per_request(
    api: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch, transport: type[BaseRequest], tries_sniffio: bool
) -> None:
    finder = _NoSniffio()
    monkeypatch.delitem(sys.modules, "sniffio", raising=False)
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    async with make_bot(api, transport()) as bot:
        before = finder.attempts
        for i in range(10):
            await bot.send_message(42, str(i))
        attempts = finder.attempts - before
        assert attempts >= 10 if tries_sniffio else attempts == 0


# ---- the channel ---------------------------------------------------------------------------------------------


async def test_the_channel_sends_through_aiohttp(settings: Settings, api: FakeTelegramAPI) -> None:
    tg = settings.model_copy(update={"telegram_token": api.token, "telegram_base_url": api.url})
    bot = TelegramChannel(tg).build_application().bot
    requests = bot._request  # (getUpdates, everything else), as PTB keeps them
    assert all(isinstance(r, AiohttpRequest) for r in requests)
    assert [r.connection_pool_size for r in requests if isinstance(r, AiohttpRequest)] == [1, 256]
    assert [r.read_timeout for r in requests] == [5.0, 5.0]
