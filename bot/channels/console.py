"""The console channel: chat with duban in a terminal, or pipe a script of lines through it.

Each input line is one message from the chosen person, handled through the shared edge like any channel's;
replies are printed with their choices numbered. A number typed back is sent as typed: the engine maps it to
the choice of the question it is waiting for. `/file PATH` and `/photo PATH` send a file as evidence: it is
checked and copied into the data directory (`evidence/console/`), as the other channels store their downloads.
In a terminal, lines are edited and recalled with readline (history per console user in the data directory).

Before every prompt (and so first of all when it opens), the console shows what the outbox holds for the person's
console chat: `duban serve` has no console channel, so nudges and notices addressed to it wait there (see
`bot.channels.console_outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import mimetypes
import os
import re
import shutil
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.app import App
from bot.channels.console_outbox import ConsoleOutbox
from bot.channels.edge import Edge, TextLimit
from core import ids
from core.messages import InAttachment, IncomingMessage, Reply
from db.models import Identity, Person
from handlers import texts
from scheduler.sender import Claimed

CHANNEL = ids.CONSOLE
PROMPT = "> "
NO_LIMIT = TextLimit(sys.maxsize)  # a terminal takes any length


def resolve_user(app: App, user: str) -> str:
    """The console identity for `user` (a console name or a person's name); unknown names stay as typed."""
    with app.session_factory() as s:
        ident = s.execute(
            select(Identity).where(Identity.channel == CHANNEL, Identity.external_id == user)
        ).scalar_one_or_none()
        if ident:
            return ident.external_id
        person = s.execute(select(Person).where(Person.name == user)).scalars().first()
        if person:
            for i in person.identities:
                if i.channel == CHANNEL:
                    return i.external_id
    return user


class BadAttachment(Exception):
    """A `/photo` or `/file` line that names no readable file; the message says what was expected."""


def parse_line(text: str) -> tuple[str, tuple[InAttachment, ...]]:
    """(text, attachments) of one input line: `/file PATH` and `/photo PATH` attach the file (as typed; see
    `store_evidence`).

    Raises:
        BadAttachment: `/file` or `/photo` without a path.
    """
    stripped = text.strip()
    if stripped in ("/file", "/photo"):
        raise BadAttachment(texts.CONSOLE_FILE_USAGE.format(command=stripped))
    if stripped.startswith("/file ") or stripped.startswith("/photo "):
        kind, path = stripped.split(" ", 1)
        return "", (InAttachment(kind="photo" if kind == "/photo" else "file", local_path=path.strip()),)
    return text, ()


def _extension(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def store_evidence(att: InAttachment, directory: Path) -> InAttachment:
    """Copy the file an input line names into `directory` (the report keeps it even if the original moves) and
    describe it: name, MIME type, size.

    Raises:
        BadAttachment: the path does not exist, is not a regular file, or cannot be read.
    """
    command = "/photo" if att.kind == "photo" else "/file"
    typed = att.local_path
    unquoted = typed[1:-1] if len(typed) > 1 and typed[0] == typed[-1] and typed[0] in "'\"" else typed
    source = Path(os.path.expanduser(unquoted))
    if not source.exists():
        raise BadAttachment(texts.CONSOLE_FILE_MISSING.format(path=typed, command=command))
    if not source.is_file():
        raise BadAttachment(texts.CONSOLE_FILE_NOT_REGULAR.format(path=typed, command=command))
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{uuid.uuid4().hex}{_extension(source.name)}"
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise BadAttachment(texts.CONSOLE_FILE_UNREADABLE.format(path=typed, error=exc.strerror or exc)) from exc
    return InAttachment(
        kind=att.kind,
        local_path=str(target.resolve()),
        file_name=source.name,
        mime_type=mimetypes.guess_type(source.name)[0],
        size=target.stat().st_size,
    )


HISTORY_LINES = 1000


def _terminal_reader(app: App, user_id: str) -> Callable[[], str] | None:
    """Reading lines from a terminal with line editing (← →, Home/End, Ctrl-A/E ...) and a history kept per
    console user in the data directory (↑ ↓, Ctrl-R), by the standard library's readline; None where it is
    missing (then lines are read plainly). The reader returns "" at the end of input (Ctrl-D)."""
    try:
        import readline
    except ImportError:  # a Python built without it
        return None
    folder = Path(app.settings.data_dir) / "console-history"
    history = folder / (re.sub(r"[^\w.-]", "_", user_id) or "_")
    readline.set_history_length(HISTORY_LINES)
    readline.clear_history()
    with contextlib.suppress(OSError):
        readline.read_history_file(history)

    def read() -> str:
        try:
            line = input(PROMPT)
        except EOFError:
            sys.stdout.write("\n")
            return ""
        with contextlib.suppress(OSError):
            folder.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(history)
        return line + "\n"

    return read


def run_console(app: App, user: str, inp: TextIO, out: TextIO) -> int:
    """Talk to duban as `user`, a line of `inp` at a time, until its end; replies go to `out`."""
    return asyncio.run(_converse(app, resolve_user(app, user), inp, out))


async def _converse(app: App, user_id: str, inp: TextIO, out: TextIO) -> int:
    edge = Edge(CHANNEL, NO_LIMIT)
    edge.attach(app)
    queued = ConsoleOutbox(app, user_id)
    evidence_dir = Path(app.settings.data_dir) / "evidence" / CHANNEL
    interactive = inp.isatty()
    read = _terminal_reader(app, user_id) if interactive and inp is sys.stdin and out is sys.stdout else None
    if interactive:
        out.write(texts.CONSOLE_WELCOME.format(user=user_id) + "\n" + texts.CONSOLE_EVIDENCE_HINT + "\n")
    session_tag = uuid.uuid4().hex[:12]  # message ids unique across console sessions
    counter = itertools.count(1)

    async def show(reply: Reply) -> None:
        for part in edge.plain_parts(reply):
            out.write(part + "\n")
        for a in reply.attachments:
            out.write(texts.CONSOLE_ATTACHMENT.format(name=a.file_name or a.path, path=a.path) + "\n")
        if any(cue in reply.text for cue in texts.CONSOLE_EVIDENCE_CUES):
            out.write(texts.CONSOLE_EVIDENCE_HINT + "\n")  # a terminal cannot send a photo: say how it is done
        out.flush()

    async def show_queued(rows: list[Claimed]) -> None:
        out.write(texts.CONSOLE_UNREAD.format(count=len(rows)) + "\n")
        for row in rows:
            await show(ConsoleOutbox.reply(row))

    while True:
        # What was queued for this chat meanwhile (by the scheduler, a coordinator, another process) comes first.
        await queued.deliver(show_queued)
        if read is not None:
            line = read()
        else:
            if interactive:
                out.write(PROMPT)
                out.flush()
            line = inp.readline()
        if not line:
            return 0
        text = line.rstrip("\n")
        if not text.strip():
            continue
        if not interactive:
            out.write(f"{PROMPT}{text}\n")
        try:
            text, attachments = parse_line(text)
            attachments = tuple([await asyncio.to_thread(store_evidence, a, evidence_dir) for a in attachments])
        except BadAttachment as exc:
            out.write(f"{exc}\n")
            out.flush()
            continue
        msg = IncomingMessage(
            channel=CHANNEL,
            chat_id=user_id,
            user_id=user_id,
            text=text,
            attachments=attachments,
            message_id=f"{session_tag}-{next(counter)}",
            user_name=user_id,
        )
        await edge.converse(msg, show)
