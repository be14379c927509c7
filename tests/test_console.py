"""The console channel: lines in, replies out through the shared edge, replies confirmed once printed."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

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
    assert out.getvalue() == (
        f"> 帮助\n{texts.HELP_OFFICIAL}\n{texts.CONSOLE_EVIDENCE_HINT}\n> 取消\n{texts.NOTHING_TO_CANCEL}\n"
    )  # the help says evidence is sent; the console adds how a terminal sends it
    with app.session_factory() as s:
        rows = list(s.execute(select(ProcessedMessage).where(ProcessedMessage.channel == "console")).scalars())
    assert len(rows) == 2 and all(r.replied_at is not None for r in rows)


def test_choices_are_numbered_and_a_number_goes_to_the_engine_as_typed(app: App, tmp_path: Path) -> None:
    engine = StubEngine(
        [Reply("选哪项？", choices=[Choice("污水处理", "#17", "~q1.0"), Choice("垃圾分类", "#18", "~q1.1")])]
    )
    site = tmp_path / "site.JPG"
    site.write_bytes(b"\xff\xd8\xff jpeg")
    out = io.StringIO()
    run_console(dataclasses.replace(app, engine=engine), "墨脱填报人", io.StringIO(f"汇报\n2\n/photo {site}\n"), out)
    assert "选哪项？\n\n1. 污水处理\n2. 垃圾分类\n" in out.getvalue()
    first, number, photo = engine.received
    assert (number.text, number.is_choice) == ("2", False)  # the engine maps it to the question it asked
    assert photo.text == ""
    [att] = photo.attachments
    # a copy under the data directory, described as the other channels describe their downloads
    stored = Path(att.local_path)
    assert stored.parent == (app.settings.data_dir / "evidence" / "console").resolve() and stored.suffix == ".jpg"
    assert (att.kind, att.file_name, att.mime_type, att.size) == ("photo", "site.JPG", "image/jpeg", 8)
    assert stored.read_bytes() == site.read_bytes()
    assert len({m.message_id for m in engine.received}) == 3 and engine.confirmed == engine.received
