"""The console channel: chat with duban in a terminal, or pipe a script of lines through it.

Each input line is one message from the chosen person; replies are printed with their choices numbered,
and a number typed after a list of choices picks that choice.
"""

from __future__ import annotations

import itertools
import uuid
from typing import TextIO

from sqlalchemy import select

from bot.app import App
from core import ids
from core.messages import Choice, InAttachment, IncomingMessage, render_plain
from db.models import Identity, Person

CHANNEL = ids.CONSOLE
PROMPT = "> "


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


def run_console(app: App, user: str, inp: TextIO, out: TextIO) -> int:
    user_id = resolve_user(app, user)
    interactive = inp.isatty()
    if interactive:
        out.write(f"督办助手控制台（用户：{user_id}）。输入“帮助”查看用法，Ctrl-D 退出。\n")
    choices: list[Choice] = []
    session_tag = uuid.uuid4().hex[:12]  # message ids unique across console sessions
    counter = itertools.count(1)
    while True:
        if interactive:
            out.write(PROMPT)
            out.flush()
        line = inp.readline()
        if not line:
            break
        text = line.rstrip("\n")
        if not text.strip():
            continue
        attachments: tuple[InAttachment, ...] = ()
        is_choice = False
        stripped = text.strip()
        if stripped.startswith("/file ") or stripped.startswith("/photo "):
            kind, path = stripped.split(" ", 1)
            attachments = (InAttachment(kind="photo" if kind == "/photo" else "file", local_path=path.strip()),)
            text = ""
        elif stripped.isdigit() and choices and 1 <= int(stripped) <= len(choices):
            text, is_choice = choices[int(stripped) - 1].value, True
        if not interactive:
            out.write(f"{PROMPT}{line if line.endswith(chr(10)) else line + chr(10)}")
        msg = IncomingMessage(
            channel=CHANNEL,
            chat_id=user_id,
            user_id=user_id,
            text=text,
            attachments=attachments,
            message_id=f"{session_tag}-{next(counter)}",
            user_name=user_id,
            is_choice=is_choice,
        )
        replies = app.engine.handle(msg)
        choices = []
        for r in replies:
            out.write(render_plain(r) + "\n")
            for a in r.attachments:
                out.write(f"[附件] {a.file_name or a.path}: {a.path}\n")
            if r.choices:
                choices = r.choices
        out.flush()
    return 0
