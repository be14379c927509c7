"""Access: who may see and do what. An unbound user, an official of another organisation, a deactivated
account, a used, expired or unknown invite code: each is refused with a clear message, and no plan data is shown
or changed.

"No data shown" is checked on the reply's content: no traffic-light lines (every listing of tasks has them),
no task status words, no other organisation's name in a listing, and nothing written to the database.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.app import App
from db.engine import transaction
from db.models import Assignment, Identity, InviteCode, Item, Organisation, Person, Report
from db.repositories import orgs, people
from handlers import texts
from tests.conftest import Chat, pass_stranger_quiet_time

LIGHTS = ("🔴", "🟡", "🟢")
QUESTIONS = [
    "墨脱县进度",
    "巴宜区进度",
    "全市进度",
    "各县区进度",
    "谁还没汇报",
    "有逾期的吗",
    "八及曲项目",
    "林草覆盖率达标了吗",
    "项目投资完成了多少",
    "汇报",
    "/report",
    "我的任务",
    "继续",
    "修改上次汇报",
    "待审核",
    "通过",
    "邀请 墨脱县 official",
    "帮助",
    "#1",
    "1",
]


def shows_data(text: str) -> bool:
    return any(light in text for light in LIGHTS) or any(w in text for w in ("未汇报", "推进中", "已完成", "截止"))


def counts(app: App) -> tuple[int, int, int, int]:
    with app.session_factory() as s:
        return tuple(
            int(s.scalar(select(func.count()).select_from(m)) or 0)  # type: ignore[return-value]
            for m in (Report, Person, Identity, InviteCode)
        )


def invite(app: App, org: str, ttl: dt.timedelta = dt.timedelta(days=7), role: str = "official") -> str:
    with transaction(app.session_factory) as s:
        return people.new_invite(s, orgs.require_org(s, org), role, app.clock.utcnow(), ttl).code


@pytest.mark.parametrize("channel", ["telegram", "wecom", "console"])
def test_an_unbound_user_sees_nothing_and_changes_nothing(app: App, channel: str) -> None:
    before = counts(app)
    c = Chat(app, "nobody-42", channel=channel)
    for q in QUESTIONS:
        out = c.send(q)
        assert out == texts.UNBOUND, (q, out)
        assert not shows_data(out)
        assert c.send(q) == "", q  # told a moment ago: no answer within the quiet time
        pass_stranger_quiet_time(app)
    assert counts(app) == before
    assert app.engine.conversation_state(channel, "nobody-42", "nobody-42")[0] == "idle"


def test_an_official_cannot_see_or_report_for_another_organisation(app: App) -> None:
    c = Chat(app, "墨脱填报人")
    with app.session_factory() as s:
        names = {o.name for o in s.execute(select(Organisation)).scalars()} - {"墨脱县"}
    for q in ["巴宜区进度", "巴宜区有逾期的吗", "各县区进度", "全市进度", "生态环境局进度"]:
        out = c.send(q)
        assert "墨脱县" in out and not shows_data(out), (q, out)
    out = c.send("八及曲项目")  # a project of another organisation
    assert "不是本单位" in out and not shows_data(out)
    out = c.send("汇报 巴宜区")
    assert "只能汇报本单位" in out
    assert c.send("待审核") == texts.NOT_ALLOWED
    assert c.send("邀请 巴宜区 official") == texts.NOT_ALLOWED
    # Its own progress is shown, and names no other organisation.
    own = c.send("墨脱县进度")
    assert shows_data(own) and not any(n in own for n in names)
    assert counts(app)[0] == 0


def test_a_forged_button_for_another_organisations_task_is_refused(app: App) -> None:
    with app.session_factory() as s:
        other = s.execute(
            select(Assignment.id).join(Item).join(Organisation).where(Organisation.name == "巴宜区").limit(1)
        ).scalar_one()
    c = Chat(app, "墨脱填报人")
    c.send("汇报")
    out = c.send(f"#{other}", is_choice=True)  # what a tampered or stale button would send
    assert "没有找到" in out and not shows_data(out.split("\n", 1)[0])
    state, data = app.engine.conversation_state("console", "墨脱填报人", "墨脱填报人")
    assert state == "checkin.pick" and other not in data["options"]
    # Even a draft pointing at another organisation's task (a tampered state) is not filed.
    with transaction(app.session_factory) as s:
        from db.models import Conversation

        conv = s.get(Conversation, ("console", "墨脱填报人", "墨脱填报人"))
        assert conv is not None
        conv.state = "checkin.confirm"
        conv.data = {
            "org_id": 1,
            "draft": {
                "assignment_id": other,
                "fields": {"status": "done"},
                "attachments": [],
                "supersedes": None,
                "editing": False,
            },
        }
    out = c.send("确认")
    assert "只能汇报本单位" in out
    assert counts(app)[0] == 0


def test_a_used_invite_code_is_refused_and_binds_nobody(app: App) -> None:
    code = invite(app, "波密县")
    assert "绑定成功" in Chat(app, "tg-1", channel="telegram").send(f"/start {code}")
    before = counts(app)
    thief = Chat(app, "tg-2", channel="telegram")
    out = thief.send(f"绑定 {code}")
    assert "已被使用" in out and not shows_data(out)
    assert thief.send("波密县进度") == texts.UNBOUND
    assert counts(app) == before
    with app.session_factory() as s:
        assert people.find_by_identity(s, "telegram", "tg-2") is None
        first = people.find_by_identity(s, "telegram", "tg-1")
        assert first is not None and first.organisation.name == "波密县"


def test_an_expired_or_unknown_invite_code_is_refused(app: App) -> None:
    code = invite(app, "朗县", ttl=dt.timedelta(hours=1))
    app.clock.set(app.clock.now() + dt.timedelta(hours=2), frozen=True)
    before = counts(app)
    c = Chat(app, "wx-9", channel="wecom")
    out = c.send(f"绑定 {code}")
    assert "已过期" in out and not shows_data(out)
    out = c.send("绑定 ZZZZ9999")
    assert "不存在" in out
    out = c.send("绑定 ' OR 1=1 --")
    assert not shows_data(out)
    pass_stranger_quiet_time(app)
    assert c.send("朗县进度") == texts.UNBOUND
    assert counts(app) == before
    with app.session_factory() as s:
        row = s.get(InviteCode, code)
        assert row is not None and row.used_at is None


def test_a_deactivated_official_is_treated_as_a_stranger(app: App) -> None:
    c = Chat(app, "墨脱填报人")
    c.send("汇报")
    with transaction(app.session_factory) as s:
        person = s.execute(select(Person).where(Person.name == "墨脱填报人")).scalar_one()
        person.active = False
    for q in ["1", "墨脱县进度", "汇报"]:
        assert c.send(q) == texts.UNBOUND
        pass_stranger_quiet_time(app)
    assert counts(app)[0] == 0
