"""The weekly loop through `duban console`, as the people who use it would run it, one console session each:
the official reports, the coordinator returns it with a reason, the official sees the notice on opening the
console, finds the item first in the list marked 退回 with the reason, re-reports it pre-filled with a photo, the
coordinator approves, and the figures count it. Then a week with nothing changed in three messages."""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.cli import main
from db.models import APPROVED, DONE, RETURNED, Assignment, Item, Organisation, Report
from db.repositories import plans, progress
from tests.test_weekly_loop import _file_last_week

OFFICIAL, COORDINATOR = "墨脱填报人", "协调员"
REASON = "请上传竣工验收报告，并补充现场照片"


def console(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path, user: str, lines: list[str], now: str) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    out = io.StringIO()
    args = ["--database-url", db_url, "--data-dir", str(tmp_path / "data"), "--now", now]
    assert main([*args, "console", "--user", user], out=out) == 0
    return out.getvalue()


def _view(app: App, label: str) -> progress.AssignmentView:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        oid = s.execute(select(Organisation.id).where(Organisation.name == "墨脱县")).scalar_one()
        views = progress.assignment_views(s, plan, app.clock.today(), org_ids=[oid])
    return next(v for v in views if v.label == label)


def _versions(app: App, label: str) -> list[Report]:
    with app.session_factory() as s:
        rows = list(
            s.execute(
                select(Report)
                .join(Assignment, Assignment.id == Report.assignment_id)
                .join(Item)
                .join(Organisation)
                .where(Organisation.name == "墨脱县", Item.short_name == label)
                .order_by(Report.id)
            ).scalars()
        )
        for r in rows:
            _ = r.attachments
        s.expunge_all()
    return rows


def test_the_return_loop_end_to_end_in_the_console(app: App, db_url: str, tmp_path: Path, monkeypatch) -> None:
    run = lambda user, lines, now: console(monkeypatch, db_url, tmp_path, user, lines, now)  # noqa: E731
    label = "两山实施方案"
    out = run(
        OFFICIAL, ["汇报", f"{label}", "已完成", "实施方案已印发", "跳过", "跳过", "跳过", "确认"], "2023-07-03T10:00"
    )
    assert "已提交" in out
    out = run(COORDINATOR, ["待审核", "1", f"退回 {REASON}"], "2023-07-03T15:00")
    assert "已退回" in out
    returned = _versions(app, label)[-1]
    assert returned.review_state == RETURNED and returned.review_comment == REASON

    # The coordinator's figures do not count the returned data.
    view = _view(app, label)
    assert view.returned and view.status is None and view.percent is None
    out = run(COORDINATOR, ["墨脱县进度"], "2023-07-03T15:05")
    assert "已完成0" in out

    # The official opens the console: the notice, then the list with the returned item first, and its reason.
    out = run(OFFICIAL, ["汇报"], "2023-07-04T09:00")
    notice_at, list_at = out.index("未读"), out.index("待汇报任务")
    assert notice_at < list_at and REASON in out[:list_at] and "重新填报" in out[:list_at]
    first = out[list_at:].splitlines()[1]
    assert first.startswith("1.") and label in first and "退回" in first and REASON[:10] in first

    # 重新填报: pre-filled with what was returned, the reason shown; a photo added; submitted again.
    photo = tmp_path / "验收现场.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 a photo")
    out = run(OFFICIAL, ["重新填报", "修改 佐证", f"/photo {photo}", "完成", "确认"], "2023-07-04T09:10")
    assert REASON in out and "• 状态：已完成" in out and "1份" in out and "已重新提交" in out
    newest = _versions(app, label)[-1]
    assert newest.supersedes_id == returned.id and newest.status == DONE and len(newest.attachments) == 1
    assert not _view(app, label).returned

    # The coordinator approves the new version; now the figures count it and the task is closed.
    out = run(COORDINATOR, ["待审核", "1", "通过"], "2023-07-04T10:00")
    assert "已通过" in out
    assert _versions(app, label)[-1].review_state == APPROVED
    view = _view(app, label)
    assert view.status == DONE and view.closed
    out = run(COORDINATOR, ["墨脱县进度"], "2023-07-04T10:05")
    assert "已完成1" in out
    out = run(OFFICIAL, ["汇报"], "2023-07-04T10:10")
    assert "已通过" in out and label not in out.split("待汇报任务")[1]


def test_a_week_without_change_in_three_console_lines(app: App, db_url: str, tmp_path: Path, monkeypatch) -> None:
    app.clock.set(dt.datetime(2023, 7, 10, 10, 0), frozen=True)
    before = _file_last_week(app, "墨脱县")
    assert len(before) == 35
    out = console(monkeypatch, db_url, tmp_path, OFFICIAL, ["汇报", "全部无变化", "确认"], "2023-07-10T10:00")
    assert out.count("> ") == 3 and "本单位35项任务本周都已汇报" in out
    with app.session_factory() as s:
        confirmed = set(s.execute(select(Report.assignment_id).where(Report.no_change.is_(True))).scalars())
    assert confirmed == set(before)
