"""`duban console` delivers what the outbox holds for its person's console chat, and takes evidence files that exist.

`duban serve` has no console channel: a notice addressed to a person's console identity (a coordinator's 退回, a
deadline nudge) waits in the outbox until that person opens the console, which shows it once, oldest first, and
marks it sent as the background sender would.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.console_outbox import ConsoleOutbox
from bot.cli import main
from db.models import OUT_PENDING, OUT_SENT, Attachment, Outbox, Person, ProcessedMessage
from db.repositories import outbox
from handlers import texts

NOW = "2023-05-24T09:00"


class Typed(io.StringIO):
    """Piped input whose `before(n)` runs just before line number `n` (0-based) is handed to the console: what
    another process does while the person is typing that line."""

    def __init__(self, text: str, before: dict[int, Callable[[], None]]) -> None:
        super().__init__(text)
        self.before = before
        self.lines = 0

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        hook = self.before.get(self.lines)
        if hook is not None:
            hook()
        self.lines += 1
        return super().readline(-1 if size is None else size)


def console(
    monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path, user: str, script: str | io.StringIO, now: str = NOW
) -> str:
    """Run `duban console --user USER` with `script` piped in; its output."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(script) if isinstance(script, str) else script)
    out = io.StringIO()
    args = ["--database-url", db_url, "--data-dir", str(tmp_path / "data"), "--now", now]
    assert main([*args, "console", "--user", user], out=out) == 0
    return out.getvalue()


def notify(app: App, name: str, key: str, text: str, not_before: dt.datetime | None = None) -> int:
    """Queue a notice for the person called `name`, the way handlers and jobs do; the row's id."""
    with app.session_factory() as s, s.begin():
        person = s.execute(select(Person).where(Person.name == name)).scalar_one()
        row = outbox.notify_person(s, person, key, "review", text, app.clock.utcnow(), not_before=not_before)
        assert row is not None
        return row.id


def rows(app: App) -> dict[int, Outbox]:
    with app.session_factory() as s:
        return {r.id: r for r in s.execute(select(Outbox)).scalars()}


def unread(count: int) -> str:
    return texts.CONSOLE_UNREAD.format(count=count)


# ---- delivery -------------------------------------------------------------------------------------------------


def test_queued_messages_are_shown_on_opening_oldest_first_and_only_once(app, db_url, tmp_path, monkeypatch):
    first = notify(app, "墨脱填报人", "t:first", "第一条：请于周五前汇报")
    second = notify(app, "墨脱填报人", "t:second", "第二条：您的汇报已通过")
    tomorrow = app.clock.utcnow() + dt.timedelta(days=1)
    later = notify(app, "墨脱填报人", "t:later", "明天才到的提醒", not_before=tomorrow)
    others = notify(app, "巴宜填报人", "t:other", "给巴宜的通知")

    out = console(monkeypatch, db_url, tmp_path, "墨脱填报人", "帮助\n")
    assert (
        out
        == f"{unread(2)}\n第一条：请于周五前汇报\n第二条：您的汇报已通过\n> 帮助\n{texts.HELP_OFFICIAL}\n{texts.CONSOLE_EVIDENCE_HINT}\n"
    )
    after = rows(app)
    assert [after[i].status for i in (first, second)] == [OUT_SENT, OUT_SENT]
    assert all(after[i].sent_at is not None and after[i].claimed_by is None for i in (first, second))
    assert after[later].status == OUT_PENDING and after[others].status == OUT_PENDING

    # a second opening shows none of them again
    assert (
        console(monkeypatch, db_url, tmp_path, "墨脱填报人", "帮助\n")
        == f"> 帮助\n{texts.HELP_OFFICIAL}\n{texts.CONSOLE_EVIDENCE_HINT}\n"
    )
    # the other person's notice is theirs
    assert console(monkeypatch, db_url, tmp_path, "巴宜填报人", "").startswith(f"{unread(1)}\n给巴宜的通知\n")
    # the console's clock (--now) decides what is due: the next day the later one is shown
    assert (
        console(monkeypatch, db_url, tmp_path, "墨脱填报人", "", now="2023-05-25T09:05")
        == f"{unread(1)}\n明天才到的提醒\n"
    )
    assert {r.status for r in rows(app).values()} == {OUT_SENT}


def test_a_message_queued_while_the_console_runs_is_shown_before_the_next_prompt(app, db_url, tmp_path, monkeypatch):
    typed = Typed("帮助\n取消\n帮助\n", before={1: lambda: notify(app, "墨脱填报人", "t:meanwhile", "新的提醒")})
    out = console(monkeypatch, db_url, tmp_path, "墨脱填报人", typed)
    assert out == (
        f"> 帮助\n{texts.HELP_OFFICIAL}\n{texts.CONSOLE_EVIDENCE_HINT}\n"
        f"> 取消\n{texts.NOTHING_TO_CANCEL}\n"
        f"{unread(1)}\n新的提醒\n"
        f"> 帮助\n{texts.HELP_OFFICIAL}\n{texts.CONSOLE_EVIDENCE_HINT}\n"
    )
    assert [r.status for r in rows(app).values()] == [OUT_SENT]


def test_a_coordinators_return_reaches_the_official_on_their_console(app, db_url, tmp_path, monkeypatch):
    report = "汇报\n两山实施方案\n已完成\n实施方案已印发\n跳过\n跳过\n跳过\n确认\n"
    filed = console(monkeypatch, db_url, tmp_path, "朗县填报人", report)
    assert "未读" not in filed and rows(app) == {}  # the console's own replies are printed, never queued
    reviewed = console(monkeypatch, db_url, tmp_path, "协调员", "待审核\n1\n退回\n请补充印发文件\n")
    assert "已退回" in reviewed and "未读" not in reviewed
    [note] = rows(app).values()
    assert (note.channel, note.chat_id, note.status) == ("console", "朗县填报人", OUT_PENDING)

    out = console(monkeypatch, db_url, tmp_path, "朗县填报人", "")
    assert out == f"{unread(1)}\n{note.text}\n" and "请补充印发文件" in note.text
    assert rows(app)[note.id].status == OUT_SENT


@pytest.mark.both_backends
def test_two_consoles_of_one_person_never_both_take_a_row(app):
    queued = {notify(app, "墨脱填报人", f"t:{i}", f"通知{i}") for i in range(40)}
    consoles = [ConsoleOutbox(app, "墨脱填报人") for _ in range(2)]
    taken: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def open_console(i: int) -> None:
        start.wait()
        taken[i] = [r.id for r in consoles[i].claim()]

    threads = [threading.Thread(target=open_console, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not set(taken[0]) & set(taken[1]) and set(taken[0]) | set(taken[1]) == queued
    assert all(ids == sorted(ids) for ids in taken)  # each shows its share oldest first


# ---- evidence -------------------------------------------------------------------------------------------------


def _counts(app: App) -> tuple[int, int]:
    with app.session_factory() as s:
        attachments = s.execute(select(func.count()).select_from(Attachment)).scalar_one()
        handled = s.execute(
            select(func.count()).select_from(ProcessedMessage).where(ProcessedMessage.channel == "console")
        ).scalar_one()
    return attachments, handled


def test_a_photo_path_that_is_not_a_file_is_refused_and_the_conversation_goes_on(app, db_url, tmp_path, monkeypatch):
    missing = tmp_path / "没有这张.jpg"
    script = f"/photo {missing}\n/file {tmp_path}\n/photo\n帮助\n"
    out = console(monkeypatch, db_url, tmp_path, "墨脱填报人", script)
    assert out == (
        f"> /photo {missing}\n{texts.CONSOLE_FILE_MISSING.format(path=missing, command='/photo')}\n"
        f"> /file {tmp_path}\n{texts.CONSOLE_FILE_NOT_REGULAR.format(path=tmp_path, command='/file')}\n"
        f"> /photo\n{texts.CONSOLE_FILE_USAGE.format(command='/photo')}\n"
        f"> 帮助\n{texts.HELP_OFFICIAL}\n{texts.CONSOLE_EVIDENCE_HINT}\n"
    )
    assert _counts(app) == (0, 1)  # only 帮助 reached the engine
    assert not (tmp_path / "data" / "evidence" / "console").exists() or not any(
        (tmp_path / "data" / "evidence" / "console").iterdir()
    )


def test_a_photo_during_the_evidence_step_is_kept_as_a_copy_in_the_data_dir(app, db_url, tmp_path, monkeypatch):
    photo = tmp_path / "现场照片.jpg"
    photo.write_bytes(b"\xff\xd8\xff fake jpeg")
    script = f"汇报\n观摩示范乡村\n推进中\n30\n已选定示范村\n跳过\n跳过\n跳过\n/photo {photo}\n完成\n确认\n"
    out = console(monkeypatch, db_url, tmp_path, "波密填报人", script)
    assert "第1份佐证材料" in out
    photo.unlink()  # the original goes away: the report keeps its copy
    with app.session_factory() as s:
        att = s.execute(select(Attachment)).scalar_one()
        assert att.report_id is not None and att.channel == "console" and att.kind == "photo"
        assert (att.file_name, att.mime_type, att.size) == ("现场照片.jpg", "image/jpeg", 13)
    stored = Path(att.path)
    assert stored.is_relative_to((tmp_path / "data" / "evidence" / "console").resolve())
    assert stored.read_bytes() == b"\xff\xd8\xff fake jpeg"


def test_a_person_with_a_telegram_account_gets_nothing_on_the_console(app, db_url, tmp_path, monkeypatch):
    args = ["--database-url", db_url, "--data-dir", str(tmp_path / "data"), "--now", NOW]
    person = ["person", "add", "次仁", "--org", "墨脱县", "--role", "official", "--telegram-id", "4711"]
    assert main([*args, *person, "--console", "次仁"], out=io.StringIO()) == 0
    note = notify(app, "次仁", "t:tg", "去 Telegram 的通知")
    assert console(monkeypatch, db_url, tmp_path, "次仁", "") == ""
    row = rows(app)[note]
    assert (row.channel, row.chat_id, row.status) == ("telegram", "4711", OUT_PENDING)
