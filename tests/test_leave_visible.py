"""Leave is visible and pauses only the person's own reminders: "谁请假了" for coordinators (everyone) and
officials (their own organisation), the digest's line of who is on leave, and what a pause holds back (nudges,
prompts) and what it does not (review notices, the digest, nudges to the organisation's other officials)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.app import App
from db.engine import transaction
from db.models import Outbox, Person
from db.repositories import orgs, people, plans
from handlers import queries, texts
from handlers.understanding import nlu as nlu_mod
from scheduler import digest as digest_mod
from scheduler.messages import DIGEST, NUDGE, OVERDUE, PROMPT
from tests.conftest import Chat
from tests.test_jobs import at, of_kind, plan_messages

ASKS = ("谁请假了", "请假人员", "谁在休假", "请假名单")


def _second_official(app: App, org_name: str, user: str) -> Chat:
    """A second official of `org_name`, bound with a fresh code on Telegram as `user`."""
    with app.session_factory() as s, s.begin():
        code = people.new_invite(
            s, orgs.require_org(s, org_name), "official", app.clock.utcnow(), dt.timedelta(days=1)
        ).code
    c = Chat(app, user, channel="telegram")
    assert "绑定成功" in c.send(f"绑定 {code}")
    return c


def _pause(app: App, name: str, until: dt.date) -> None:
    with transaction(app.session_factory) as s:
        s.execute(select(Person).where(Person.name == name)).scalar_one().paused_until = until


@pytest.mark.parametrize("text", ASKS)
def test_the_questions_are_understood_as_who_is_on_leave(app: App, text: str) -> None:
    nlu = app.services["nlu"]
    assert nlu.understand(text).intent == nlu_mod.ON_LEAVE
    assert nlu_mod.ON_LEAVE in queries.QUESTION_INTENTS


def test_leave_commands_are_not_questions(app: App) -> None:
    nlu = app.services["nlu"]
    for text in ("墨脱县进度", "谁还没汇报", "哪些任务逾期了"):
        assert nlu.understand(text).intent != nlu_mod.ON_LEAVE, text
    c = Chat(app, "墨脱填报人")
    assert "暂停给您的提醒" in c.send("请假到 5月31日")


@pytest.mark.parametrize("text", ASKS)
def test_a_coordinator_sees_everyone_on_leave(app: App, text: str) -> None:
    coord = Chat(app, "协调员")
    assert texts.ABSENCE_NONE in coord.send(text)
    Chat(app, "墨脱填报人").send("请假到 5月31日")
    Chat(app, "米林填报人").send("请假到 6月2日")
    out = coord.send(text)
    assert "正在请假的人员（2人）" in out
    assert "墨脱填报人（墨脱县，填报人）请假到5月31日；本单位没有其他填报人在岗" in out
    assert "米林填报人（米林县，填报人）请假到6月2日" in out
    # nothing about the plan is shown instead
    assert "逾期" not in out


def test_another_official_present_is_shown(app: App) -> None:
    _second_official(app, "墨脱县", "tg-motuo-2")
    Chat(app, "墨脱填报人").send("请假到 5月31日")
    out = Chat(app, "协调员").send("谁请假了")
    assert "墨脱填报人（墨脱县，填报人）请假到5月31日；本单位另有填报人在岗" in out


def test_a_leave_that_has_ended_is_not_listed(app: App) -> None:
    _pause(app, "墨脱填报人", dt.date(2023, 5, 23))  # yesterday
    assert texts.ABSENCE_NONE in Chat(app, "协调员").send("谁请假了")


def test_an_official_sees_only_their_own_organisation(app: App) -> None:
    other = _second_official(app, "墨脱县", "tg-motuo-2")
    Chat(app, "墨脱填报人").send("请假到 5月31日")
    Chat(app, "米林填报人").send("请假到 6月2日")
    out = other.send("谁请假了")
    assert "墨脱填报人" in out and "米林填报人" not in out
    assert "本单位另有填报人在岗" in out  # the asker is the other official, not on leave
    assert texts.ABSENCE_NONE_OWN.format(org="朗县") in Chat(app, "朗县填报人").send("请假人员")
    # asking about another organisation is refused
    assert "只能查询本单位" in Chat(app, "朗县填报人").send("米林县有人请假吗")


def test_a_coordinator_may_ask_about_one_organisation(app: App) -> None:
    Chat(app, "墨脱填报人").send("请假到 5月31日")
    Chat(app, "米林填报人").send("请假到 6月2日")
    out = Chat(app, "协调员").send("米林县有人请假吗")
    assert "米林填报人" in out and "墨脱填报人" not in out


def test_asked_in_the_middle_of_a_check_in_it_is_answered_and_the_question_repeated(app: App) -> None:
    Chat(app, "墨脱填报人").send("请假到 5月31日")
    coord = Chat(app, "协调员")
    assert "待汇报任务" in coord.send("汇报 朗县")
    out = coord.send("谁请假了")
    assert "墨脱填报人" in out and texts.K_BACK in out


# ---- the digest ----------------------------------------------------------------------------------------------


def _digest_text(app: App) -> str:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        return digest_mod.build_digest(s, plan, app.clock.now()).text()


def test_the_digest_lists_who_is_on_leave(app: App) -> None:
    assert "请假人员" not in _digest_text(app)
    Chat(app, "墨脱填报人").send("请假到 5月31日")
    text = _digest_text(app)
    assert "【本周请假人员（1人）】" in text
    assert "· 墨脱填报人（墨脱县）请假到5月31日" in text


# ---- what a pause holds back, and what it does not -----------------------------------------------------------


def _file_done_report(app: App, user: str) -> None:
    c = Chat(app, user)
    c.send("汇报")
    c.send("两山实施方案")
    c.send("已完成")
    c.send("实施方案已印发")
    c.send("跳过")
    c.send("跳过")
    c.send("跳过")
    assert "已提交" in c.send("确认") or "提交" in c.last[0].text


def test_a_paused_official_gets_the_review_notice_but_no_nudges(app: App) -> None:
    assert "朗县填报人" in {m.recipient.name for m in plan_messages(app, at(app, 2023, 5, 24))}
    assert "暂停" in Chat(app, "朗县填报人").send("请假到 5月31日")
    planned = plan_messages(app, at(app, 2023, 5, 24))
    assert "朗县填报人" not in {m.recipient.name for m in planned}
    assert "米林填报人" in {m.recipient.name for m in planned}  # the other counties' officials are still nudged
    _file_done_report(app, "朗县填报人")  # a paused official may still report
    coord = Chat(app, "协调员")
    coord.send("待审核")
    coord.send("1")
    assert "已通过" in coord.send("通过")
    with app.session_factory() as s:
        note = s.execute(select(Outbox).where(Outbox.kind == "review")).scalar_one()
        assert note.chat_id == "朗县填报人" and "通过审核" in note.text


def test_nudges_of_a_paused_official_go_to_the_other_official(app: App) -> None:
    _second_official(app, "墨脱县", "tg-motuo-2")
    with app.session_factory() as s:
        other = s.execute(select(Person).join(Person.identities).where(Person.name != "墨脱填报人")).scalars()
        other_ids = {p.id for p in other if p.organisation.name == "墨脱县"}
    assert len(other_ids) == 1
    before = {m.recipient.person_id for m in plan_messages(app, at(app, 2023, 5, 24))}
    assert other_ids <= before
    Chat(app, "墨脱填报人").send("请假到 5月31日")
    msgs = [m for m in plan_messages(app, at(app, 2023, 5, 24)) if m.kind in (NUDGE, OVERDUE, PROMPT)]
    names = {m.recipient.name for m in msgs}
    assert "墨脱填报人" not in names
    assert other_ids <= {m.recipient.person_id for m in msgs}


def test_a_paused_coordinator_still_gets_the_digest(app: App) -> None:
    friday = at(app, 2023, 6, 2, 17)
    _pause(app, "协调员", dt.date(2023, 6, 5))
    msgs = of_kind(plan_messages(app, friday), DIGEST)
    assert "协调员" in {m.recipient.name for m in msgs}
