""" "导出" in the chat: the completion workbook as a file, the same workbook the export and the board build, for what
the asker may see (the whole plan, the units named, an official's own unit), refused in groups and for another
unit, answered in the middle of a check-in, and deleted by the housekeeping once its day is past the retention."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from openpyxl import load_workbook
from openpyxl.workbook import Workbook

from bot.app import App
from core.messages import Reply
from db.models import Organisation
from db.repositories import orgs, plans
from handlers import texts
from handlers.queries import workbook
from scheduler import export, housekeeping
from tests.conftest import Chat


def _file(replies: list[Reply]) -> str:
    files = [a for r in replies for a in r.attachments if a.kind == "file"]
    assert len(files) == 1, [r.text for r in replies]
    return files[0].path


def _cells(book: Workbook) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's values as a saved file holds them (a book just built is saved and read back)."""
    buf = io.BytesIO()
    book.save(buf)
    book = load_workbook(io.BytesIO(buf.getvalue()))
    return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def _exports(app: App) -> list[str]:
    root = workbook.folder(app.settings.data_dir)
    return sorted(str(p) for p in root.rglob("*.xlsx")) if root.exists() else []


def _org_id(app: App, name: str) -> int:
    with app.session_factory() as s:
        org = s.query(Organisation).filter_by(name=name).one()
        return org.id


def test_a_coordinator_gets_the_export_s_workbook(app: App, chat: Any) -> None:
    c: Chat = chat("协调员")
    out = c.send("导出")
    assert out.startswith(texts.Q_WHOLE_CITY + "完成情况汇总表")
    path = _file(c.last)
    assert path.startswith(str(workbook.folder(app.settings.data_dir)))
    got = load_workbook(path)
    assert got.sheetnames == [texts.EXPORT_SHEET_TASKS, texts.EXPORT_SHEET_PROJECTS, texts.EXPORT_SHEET_INDICATORS]
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        expected = export.build_workbook(s, plan, app.clock.now())
    # the very workbook of the export (and of the board's download): cell for cell
    assert _cells(got) == _cells(expected)
    projects = _cells(got)[texts.EXPORT_SHEET_PROJECTS]
    assert any(15376 in row for row in projects)

    # a unit named: that unit's own workbook
    c.send("墨脱县的汇总表")
    motuo = _org_id(app, "墨脱县")
    own = load_workbook(_file(c.last))
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        expected = export.build_workbook(
            s, plan, app.clock.now(), org_ids=orgs.descendants(s, [motuo]), org_label="墨脱县"
        )
    assert _cells(own) == _cells(expected)
    assert "墨脱县" in str(own.worksheets[0]["A1"].value)


def test_an_official_gets_his_own_unit_only(app: App, chat: Any) -> None:
    c: Chat = chat("墨脱填报人")
    for q in ("导出汇总表", "发我本单位的excel", "下载工作簿"):
        out = c.send(q)
        assert out.startswith("墨脱县完成情况汇总表"), (q, out)
        assert "墨脱县" in str(load_workbook(_file(c.last)).worksheets[0]["A1"].value)
    before = _exports(app)
    for q in ("导出米林县的汇总表", "导出全市汇总表"):
        c.send(q)
        assert not any(r.attachments for r in c.last), q
    assert _exports(app) == before  # nothing written for a refusal


def test_not_in_a_group(app: App) -> None:
    c = Chat(app, "协调员", chat_id="group-1")
    out = c.send("导出", is_group=True)
    assert out == texts.EXPORT_PRIVATE_ONLY
    assert not any(r.attachments for r in c.last)
    assert _exports(app) == []


def test_asked_in_the_middle_of_a_check_in(app: App, chat: Any) -> None:
    c: Chat = chat("墨脱填报人")
    c.send("汇报")
    question = c.send("1")
    assert "当前状态" in question
    out = c.send("导出")
    assert "墨脱县完成情况汇总表" in out
    _file(c.last)
    assert "当前状态" in out  # and the question again
    assert "完成进度百分比" in c.send("推进中")  # the check-in goes on, the answer taken


def test_housekeeping_deletes_old_workbooks(app: App, chat: Any) -> None:
    c: Chat = chat("协调员")
    c.send("导出")
    kept = _file(c.last)
    old_day = workbook.folder(app.settings.data_dir) / "2023-01-02" / "abc"
    old_day.mkdir(parents=True)
    (old_day / "old.xlsx").write_bytes(b"x")
    (workbook.folder(app.settings.data_dir) / "notes").mkdir()  # not a day: left alone
    now = app.clock.utcnow()
    counts = housekeeping.prune(app, now, now, retention_days=30)
    assert counts["exports"] == 1
    assert not old_day.exists()
    assert _exports(app) == [kept]
    assert (workbook.folder(app.settings.data_dir) / "notes").is_dir()
    assert housekeeping.prune(app, now + dt.timedelta(days=3), now + dt.timedelta(days=3), 1)["exports"] == 1
