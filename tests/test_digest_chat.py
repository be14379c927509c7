""" "周报" in the chat: the scheduler's weekly digest on demand, the very text the Monday digest would carry at that
moment (one builder), for what the asker may see; a past week is replayed as it stood at that week's end."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from bot.app import App
from db.engine import transaction
from db.models import LEADER, Organisation
from db.repositories import orgs, people, plans
from handlers import texts
from handlers.queries import paging
from scheduler.digest import build_digest
from tests.conftest import Chat


def _digest(app: App, at: dt.datetime, current: bool, org: str | None = None) -> str:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        ids = None
        if org is not None:
            ids = orgs.descendants(s, [s.query(Organisation).filter_by(name=org).one().id])
        return build_digest(s, plan, at, org_ids=ids, org_filter=org, current=current).text()


PAGING = re.compile(r"^（第\d+/\d+页）.*|^【督办周报】（续.*|^1\. 更多$")


def _ask(c: Chat, question: str) -> str:
    """The whole answer, page after page ("更多"), without the paging lines; each page fits WeCom."""
    out = c.send(question)
    pages = [out]
    sizes = [len(r.text.encode()) for r in c.last]
    while "回复“更多”" in out:
        out = c.send("更多")
        pages.append(out)
        sizes += [len(r.text.encode()) for r in c.last]
    assert max(sizes) <= 2048
    for page in pages[:-1]:  # a section's heading is never left alone at a page's end
        body = [line for line in page.splitlines() if line.strip() and not PAGING.match(line)]
        assert not body[-1].startswith("【"), page
    lines = [line for page in pages for line in page.splitlines() if line.strip() and not PAGING.match(line)]
    return "\n".join(lines)


def _expected(digest: str, tail: str) -> str:
    return "\n".join([line for line in digest.splitlines() if line.strip()] + [tail])


def test_a_coordinator_s_digest_is_the_scheduler_s(app: App, chat: Any) -> None:
    c: Chat = chat("协调员")
    out = _ask(c, "周报")
    assert out == _expected(_digest(app, app.clock.now(), True), texts.WEEKLY_TAIL)
    # last week, as it stood on its Sunday night (2023-05-24 is a Wednesday)
    out = _ask(c, "上周周报")
    sunday = app.clock.localize(dt.datetime(2023, 5, 21, 23, 59, 59))
    assert out == _expected(_digest(app, sunday, False), texts.WEEKLY_TAIL_PAST)
    assert out.startswith("督办周报：5月15日—5月21日")
    # a unit named
    out = _ask(c, "墨脱县的周报")
    assert out == _expected(_digest(app, app.clock.now(), True, "墨脱县"), texts.WEEKLY_TAIL)
    assert "墨脱县" in out.splitlines()[0]


def test_an_official_gets_his_own_unit_s(app: App, chat: Any) -> None:
    c: Chat = chat("墨脱填报人")
    out = _ask(c, "周报")
    assert out == _expected(_digest(app, app.clock.now(), True, "墨脱县"), texts.WEEKLY_TAIL)
    out = c.send("米林县的周报")
    assert "只能查询本单位" in out and "督办周报" not in out


def test_a_leader_s_help_is_what_he_asks(app: App, chat: Any) -> None:
    with transaction(app.session_factory) as s:
        office = orgs.find_org(s, "市委生态文明办")
        assert office is not None
        people.add_person(s, "王副市长", office, LEADER, app.clock.utcnow(), {"console": "王副市长"})
    c: Chat = chat("王副市长")
    out = c.send("帮助")
    assert out == texts.HELP_LEADER
    assert "汇报：列出本单位任务" not in out and "周报" in out and "看板" in out
    assert chat("协调员").send("帮助") == texts.HELP_COORDINATOR
    assert chat("墨脱填报人").send("帮助") == texts.HELP_OFFICIAL
    # what it offers works for him: the whole plan, the digest
    assert c.send("全市进度").startswith("【全市】")
    assert _ask(c, "周报").startswith("督办周报")


def test_a_page_never_ends_with_a_section_heading() -> None:
    lines = [f"第{i}行" for i in range(13)] + ["【逾期任务（3项）】", "甲", "乙", "丙"]
    pages = paging.split("【督办周报】", "督办周报", lines)
    assert pages[0].splitlines()[-1] == "第12行" and len(pages[0].splitlines()) == 14
    assert pages[1].splitlines()[1:] == ["【逾期任务（3项）】", "甲", "乙", "丙"]
    # a heading alone on a page stays (nothing to go with)
    assert paging.split("T", "H", ["【一】"] * 20)[0].splitlines()[-1] == "【一】"
