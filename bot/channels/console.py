"""The console channel: chat with duban in a terminal, or pipe a script of lines through it.

Each input line is one message from the chosen person, handled through the shared edge like any channel's;
replies are printed with their choices numbered. A number typed back is sent as typed: the engine maps it to
the choice of the question it is waiting for. `/file PATH` and `/photo PATH` send a file as evidence.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import uuid
from typing import TextIO

from sqlalchemy import select

from bot.app import App
from bot.channels.edge import Edge, TextLimit
from core import ids
from core.messages import InAttachment, IncomingMessage, Reply
from db.models import Identity, Person
from handlers import texts

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


def parse_line(text: str) -> tuple[str, tuple[InAttachment, ...]]:
    """(text, attachments) of one input line: `/file PATH` and `/photo PATH` attach the file."""
    stripped = text.strip()
    if stripped.startswith("/file ") or stripped.startswith("/photo "):
        kind, path = stripped.split(" ", 1)
        return "", (InAttachment(kind="photo" if kind == "/photo" else "file", local_path=path.strip()),)
    return text, ()


def run_console(app: App, user: str, inp: TextIO, out: TextIO) -> int:
    """Talk to duban as `user`, a line of `inp` at a time, until its end; replies go to `out`."""
    return asyncio.run(_converse(app, resolve_user(app, user), inp, out))


async def _converse(app: App, user_id: str, inp: TextIO, out: TextIO) -> int:
    edge = Edge(CHANNEL, NO_LIMIT)
    edge.attach(app)
    interactive = inp.isatty()
    if interactive:
        out.write(texts.CONSOLE_WELCOME.format(user=user_id) + "\n")
    session_tag = uuid.uuid4().hex[:12]  # message ids unique across console sessions
    counter = itertools.count(1)

    async def show(reply: Reply) -> None:
        for part in edge.plain_parts(reply):
            out.write(part + "\n")
        for a in reply.attachments:
            out.write(texts.CONSOLE_ATTACHMENT.format(name=a.file_name or a.path, path=a.path) + "\n")
        out.flush()

    while True:
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
        text, attachments = parse_line(text)
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
