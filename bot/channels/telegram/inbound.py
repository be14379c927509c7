"""From a Telegram update to what the engine reads: commands, addressing in groups, media downloads."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram import Audio, Document, File, Message, MessageEntity, PhotoSize, Video, Voice
from telegram.constants import ChatType

from core.messages import InAttachment

T = TypeVar("T")
Retrying = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]

MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files on the public Bot API

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


class TooLarge(Exception):
    """The file is over what the Bot API lets a bot download."""


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


def addressing(message: Message, text: str, bot_username: str, bot_id: int) -> tuple[bool, str]:
    """Whether a message is meant for the bot, and its text without the @mention of the bot.

    In a group that means: a command at the start (not one for another bot), an @mention of the bot, or a reply
    to one of the bot's messages. In a private chat everything is.
    """
    username = bot_username.lower()
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
    if reply_to is not None and reply_to.from_user is not None and reply_to.from_user.id == bot_id:
        addressed = True
    if cuts:
        for a, b in sorted(cuts, reverse=True):
            text = text[:a] + text[b:]
        text = re.sub(r"\s{2,}", " ", text).strip()
    return addressed, text


def has_media(message: Message) -> bool:
    return bool(message.photo or message.document or message.video or message.audio or message.voice)


async def download(message: Message, directory: Path, retrying: Retrying[Any]) -> InAttachment:
    """Download the photo or file of a message into `directory`.

    Args:
        retrying: runs a Bot API call with the channel's retries of network errors.

    Raises:
        TooLarge: the file is bigger than a bot may download.
    """
    kind, obj, file_name, mime = _media_of(message)
    if obj.file_size and obj.file_size > MAX_DOWNLOAD:
        raise TooLarge()
    tg_file: File = await retrying(obj.get_file)
    path = directory / f"{uuid.uuid4().hex}{_extension(file_name, tg_file.file_path, kind)}"
    path.parent.mkdir(parents=True, exist_ok=True)

    async def to_drive() -> Path:
        return await tg_file.download_to_drive(path)

    try:
        await retrying(to_drive)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return InAttachment(
        kind=kind, local_path=str(path.resolve()), file_name=file_name, mime_type=mime, size=path.stat().st_size
    )


def _media_of(message: Message) -> tuple[str, PhotoSize | Document | Video | Audio | Voice, str | None, str | None]:
    """(kind, PTB file object, file name, MIME type) of the media of a message."""
    if message.photo:
        return "photo", message.photo[-1], None, "image/jpeg"  # the last size is the largest
    media: tuple[Document | Video | Audio | Voice | None, ...] = (
        message.document,
        message.video,
        message.audio,
        message.voice,
    )
    for obj in media:
        if obj is not None:
            return "file", obj, getattr(obj, "file_name", None), obj.mime_type
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
