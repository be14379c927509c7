"""End-to-end smoke through the engine, on every backend: strangers get the binding explanation only, the demo
people exist, and a check-in begun in one process is finished in another (the conversation lives in the database,
so a restart or a second process sees the same state)."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from db.models import Item, Report
from db.repositories import people
from tests.conftest import Chat

pytestmark = pytest.mark.both_backends


def test_stranger_gets_only_binding_explanation(chat):
    out = chat("stranger-1").send("墨脱县进度")
    assert "绑定" in out
    assert "墨脱" not in out


def test_demo_people_exist(app):
    with app.session_factory() as s:
        names = {p.name for p in people.list_people(s)}
    assert "协调员" in names
    assert "墨脱填报人" in names


def test_checkin_begun_in_one_process_is_finished_in_another(app, settings, clock):
    first = Chat(app, "墨脱填报人")
    for text in ["汇报", "两山实施方案", "推进中", "50"]:
        first.send(text)
    second_app = build_app(settings, clock=clock, migrate=False, warm_nlu=False)
    try:
        second = Chat(second_app, "墨脱填报人")
        second.send("起草中")  # the description the first process asked for
        for _ in range(4):
            second.send("跳过")
        second.send("确认")
    finally:
        second_app.close()
    with app.session_factory() as s:
        report, code = s.execute(select(Report, Item.code).join(Report.assignment).join(Item)).one()
    assert code == "C3-4-04"
    assert (report.percent, report.description, report.channel) == (Decimal("50"), "起草中", "console")


def test_the_understanding_warmed_at_start_up_is_the_one_questions_use(app: App) -> None:
    """One understanding layer per process: the engine shares the app's services, so the first question does
    not build (and keep) a second one."""
    warmed = app.services["nlu"]
    assert app.engine.services is app.services
    Chat(app, "协调员").send("墨脱县进度")
    assert app.engine.services["nlu"] is warmed
