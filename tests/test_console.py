"""The console channel: lines in, replies out through the shared edge, replies confirmed once printed."""

from __future__ import annotations

import dataclasses
import io

from sqlalchemy import select

from bot.app import App
from bot.channels.console import run_console
from core.messages import Choice, IncomingMessage, Reply
from db.models import ProcessedMessage
from handlers import texts


class StubEngine:
    def __init__(self, replies: list[Reply]) -> None:
        self.replies = replies
        self.received: list[IncomingMessage] = []
        self.confirmed: list[IncomingMessage] = []

    def handle(self, msg: IncomingMessage) -> list[Reply]:
        self.received.append(msg)
        return self.replies

    def mark_replied(self, msg: IncomingMessage) -> None:
        self.confirmed.append(msg)


def test_a_script_of_lines_is_answered_and_the_replies_confirmed(app: App) -> None:
    out = io.StringIO()
    assert run_console(app, "墨脱填报人", io.StringIO("帮助\n\n取消\n"), out) == 0
    assert out.getvalue() == f"> 帮助\n{texts.HELP_OFFICIAL}\n> 取消\n{texts.NOTHING_TO_CANCEL}\n"
    with app.session_factory() as s:
        rows = list(s.execute(select(ProcessedMessage).where(ProcessedMessage.channel == "console")).scalars())
    assert len(rows) == 2 and all(r.replied_at is not None for r in rows)


def test_choices_are_numbered_and_a_number_goes_to_the_engine_as_typed(app: App) -> None:
    engine = StubEngine(
        [Reply("选哪项？", choices=[Choice("污水处理", "#17", "~q1.0"), Choice("垃圾分类", "#18", "~q1.1")])]
    )
    out = io.StringIO()
    run_console(
        dataclasses.replace(app, engine=engine), "墨脱填报人", io.StringIO("汇报\n2\n/photo /tmp/site.jpg\n"), out
    )
    assert "选哪项？\n\n1. 污水处理\n2. 垃圾分类\n" in out.getvalue()
    first, number, photo = engine.received
    assert (number.text, number.is_choice) == ("2", False)  # the engine maps it to the question it asked
    assert photo.text == "" and [(a.kind, a.local_path) for a in photo.attachments] == [("photo", "/tmp/site.jpg")]
    assert len({m.message_id for m in engine.received}) == 3 and engine.confirmed == engine.received
