"""催办: a coordinator (or a leader) chases a unit. The reminder reaches each bound person of the unit through the
outbox, naming what is overdue and what is not reported; every urge is recorded, shown in the unit's progress
answer and in the digest; a unit is chased once a local day unless the coordinator confirms; officials may not
chase; a unit nobody of which is bound is told, not chased; a group chases each of its units."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import App
from core.messages import IncomingMessage
from db.engine import make_engine, make_session_factory, transaction
from db.models import (
    FINISHED,
    LEADER,
    Assignment,
    Identity,
    Organisation,
    OrgGroup,
    OrgGroupMember,
    Outbox,
    Person,
    Urge,
)
from db.repositories import orgs, outbox, people, plans, progress, reports, urges
from handlers import texts
from handlers import urge as urge_mod
from handlers.understanding import nlu as nlu_mod
from scheduler import digest as digest_mod
from tests.conftest import Chat
from tests.test_leave_visible import _second_official

ORG = "米林县"
OFFICIAL = "米林填报人"


# ---- helpers ----------------------------------------------------------------------------------------------------


def _org_id(app: App, name: str) -> int:
    with app.session_factory() as s:
        return orgs.require_org(s, name).id


def _notices(app: App) -> list[Outbox]:
    with app.session_factory() as s:
        return list(s.execute(select(Outbox).where(Outbox.kind == urge_mod.NOTICE).order_by(Outbox.id)).scalars())


def _urges(app: App, org: str | None = None) -> list[Urge]:
    with app.session_factory() as s:
        q = select(Urge).order_by(Urge.id)
        if org is not None:
            q = q.where(Urge.organisation_id == orgs.require_org(s, org).id)
        return list(s.execute(q).scalars())


def _person_id(app: App, console_name: str) -> int:
    with app.session_factory() as s:
        p = people.find_by_identity(s, "console", console_name)
        assert p is not None
        return p.id


def second_id(app: App) -> int:
    """The person bound on Telegram by `_second_official`."""
    with app.session_factory() as s:
        return s.execute(select(Identity.person_id).where(Identity.channel == "telegram")).scalars().one()


def _views(app: App, org: str) -> list[progress.AssignmentView]:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        return progress.assignment_views(s, plan, app.clock.today(), org_ids=[orgs.require_org(s, org).id])


def _move(app: App, **delta: float) -> None:
    app.clock.set(app.clock.now() + dt.timedelta(**delta), frozen=True)


def _digest(app: App) -> str:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        return digest_mod.build_digest(s, plan, app.clock.now()).text()


# ---- understanding ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["催办 米林县", "催一下米林县", "米林县催一下", "提醒米林县尽快汇报", "催促米林县", "提醒一下米林县"]
)
def test_chasing_phrases_are_understood_with_their_unit(app: App, text: str) -> None:
    u = app.services["nlu"].understand(text)
    assert u.intent == nlu_mod.URGE
    assert list(u.org_ids) == [_org_id(app, ORG)]


@pytest.mark.parametrize(
    "text", ["米林县进度", "谁还没汇报", "米林县有逾期的吗", "请假到 6月5日", "这周谁被催过", "米林县被催了几次"]
)
def test_questions_are_not_chasing(app: App, text: str) -> None:
    assert app.services["nlu"].understand(text).intent != nlu_mod.URGE


def test_who_was_chased_is_the_record_not_a_chase(app: App) -> None:
    coord = Chat(app, "协调员")
    assert coord.send("这周谁被催过") == "5月22日–5月24日全市没有催办记录。"
    coord.send("催办 米林县")
    coord.send("催一下墨脱县")
    before = len(_notices(app))
    out = coord.send("这周谁被催过")
    assert out.startswith("5月22日–5月24日全市催办2次：")
    lines = out.splitlines()[1:]
    assert lines[0].startswith("· 墨脱县：5月24日") and lines[1].startswith("· 米林县：5月24日")  # newest first
    assert "协调员催办" in lines[0] and "通知" in lines[0]
    out = coord.send("米林县被催了几次")
    assert out.startswith("5月18日–5月24日米林县催办1次：") and "墨脱县" not in out
    assert len(_notices(app)) == before  # asking chased nobody
    official = Chat(app, "墨脱填报人")
    assert official.send("我们被催过吗").startswith("5月18日–5月24日墨脱县催办1次：")
    assert "只能查询本单位" in official.send("米林县被催过吗")


# ---- one unit ---------------------------------------------------------------------------------------------------


def test_a_unit_is_chased_through_the_outbox_naming_what_is_overdue_and_unreported(app: App) -> None:
    second = _second_official(app, ORG, "tg-milin-2")
    views = _views(app, ORG)
    overdue = [v for v in views if v.overdue]
    assert overdue, "the shipped plan has overdue items for 米林县 on the test day"
    # one item reported today is not "unreported" any more
    reported = next(v for v in views if not v.overdue)
    with transaction(app.session_factory) as s:
        a = s.get(Assignment, reported.assignment_id)
        assert a is not None
        who = people.find_by_identity(s, "console", OFFICIAL)
        reports.add_report(s, a, who, "console", app.clock.utcnow(), {"status": "in_progress", "percent": 30})
    open_items = [v for v in views if v.status not in FINISHED and not v.closed]

    coord = Chat(app, "协调员")
    answer = coord.send("催办 米林县")

    with app.session_factory() as ses:
        second_name = ses.get(Person, second_id(app)).name  # type: ignore[union-attr]
    assert answer == texts.URGE_DONE.format(
        org=ORG, overdue=len(overdue), unreported=len(open_items) - 1, n=2, names=f"{OFFICIAL}、{second_name}"
    )
    assert OFFICIAL in answer and "已通知2人" in answer
    notices = _notices(app)
    assert len(notices) == 2
    assert notices[0].person_id == _person_id(app, OFFICIAL)  # officials in the order they were added
    assert notices[1].channel == "telegram" and notices[1].chat_id == second.chat_id
    text = notices[0].text
    assert text == notices[1].text
    assert overdue[0].label in text and f"逾期{-overdue[0].days_left}天" in text
    assert f"逾期{len(overdue)}项" in text
    assert f"超过{urge_mod.UNREPORTED_DAYS}天未汇报{len(open_items) - 1}项" in text
    assert f"「{reported.label}」" not in text.split("未汇报")[1]
    assert "协调员提醒" in text and "回复“汇报”开始填报" in text

    [row] = _urges(app, ORG)
    assert row.urged_by_id == _person_id(app, "协调员")
    assert (row.recipients, row.overdue, row.unreported) == (2, len(overdue), len(open_items) - 1)
    assert row.text == text
    assert row.local_day == app.clock.today()
    assert all(f"urge:{row.id}:" in n.dedupe_key for n in notices)


def test_the_same_unit_twice_a_day_asks_first(app: App) -> None:
    coord = Chat(app, "协调员")
    assert coord.send("催办 米林县").startswith("已催办 米林县")
    assert len(_notices(app)) == 1

    asked = coord.send("催办 米林县")
    assert asked.startswith(texts.URGE_AGAIN.format(time="09:00", org=ORG))
    assert coord.choices == [texts.CHOICE_CONFIRM, texts.CHOICE_CANCEL]
    assert coord.pick(texts.CHOICE_CANCEL) == texts.CANCELLED
    assert len(_notices(app)) == 1 and len(_urges(app)) == 1

    coord.send("提醒米林县尽快汇报")
    assert coord.choices == [texts.CHOICE_CONFIRM, texts.CHOICE_CANCEL]
    assert coord.pick(texts.CHOICE_CONFIRM).startswith("已催办 米林县")
    notices, rows = _notices(app), _urges(app)
    assert len(notices) == 2 and len(rows) == 2
    assert notices[0].dedupe_key != notices[1].dedupe_key
    # after the confirmation the dialogue is over: a question is answered as usual
    assert "最近催办" in coord.send("米林县进度")


def test_a_typed_cancel_or_another_message_sends_nothing(app: App) -> None:
    coord = Chat(app, "协调员")
    coord.send("催办 米林县")
    coord.send("催办 米林县")
    assert coord.send("取消") == texts.CANCELLED
    coord.send("催办 米林县")
    assert "米林县" in coord.send("米林县进度")  # a new message: the question is dropped
    assert not coord.send("确认").startswith("已催办")  # nothing waits any more
    assert len(_notices(app)) == 1 and len(_urges(app)) == 1


def test_in_a_group_chat_a_second_urge_is_confirmed_in_private(app: App) -> None:
    group = Chat(app, "协调员", chat_id="group-1")
    assert group.send("催办 米林县", is_group=True).startswith("已催办 米林县")
    again = group.send("催办 米林县", is_group=True)
    assert texts.URGE_CONFIRM_PRIVATE in again and group.choices == []
    group.send("确认", is_group=True)
    assert len(_urges(app)) == 1 and len(_notices(app)) == 1


def test_the_next_local_day_needs_no_confirmation(app: App) -> None:
    coord = Chat(app, "协调员")
    coord.send("催办 米林县")
    # 00:30 the next day in Shanghai is still the same day in UTC: the rule follows the local day
    app.clock.set(dt.datetime.combine(app.clock.today() + dt.timedelta(days=1), dt.time(0, 30)), frozen=True)
    assert coord.send("催办 米林县").startswith("已催办 米林县")
    rows = _urges(app)
    assert len(rows) == 2 and rows[0].local_day != rows[1].local_day
    assert rows[0].created_at.date() == rows[1].created_at.date()  # the same UTC day


def test_an_official_may_not_chase_but_a_leader_may(app: App) -> None:
    official = Chat(app, OFFICIAL)
    assert official.send("催办 米林县") == texts.URGE_NOT_ALLOWED
    assert official.send("催一下朗县") == texts.URGE_NOT_ALLOWED
    assert _notices(app) == [] and _urges(app) == []

    with transaction(app.session_factory) as s:
        people.add_person(s, "王领导", None, LEADER, app.clock.utcnow(), {"console": "王领导"})
    leader = Chat(app, "王领导")
    assert leader.send("催办 米林县").startswith("已催办 米林县")
    assert "分管领导王领导提醒" in _notices(app)[0].text


def test_no_unit_named_asks_which(app: App) -> None:
    coord = Chat(app, "协调员")
    assert coord.send("催办") == texts.URGE_ASK_UNIT
    assert _urges(app) == []


def test_a_unit_nobody_of_which_is_bound_is_not_chased(app: App) -> None:
    with transaction(app.session_factory) as s:
        ids = select(Person.id).where(Person.organisation_id == orgs.require_org(s, ORG).id)
        s.execute(delete(Identity).where(Identity.person_id.in_(ids)))
    coord = Chat(app, "协调员")
    answer = coord.send("催办 米林县")
    assert answer == texts.URGE_NO_PEOPLE.format(org=ORG)
    assert "邀请 米林县 填报人" in answer
    assert _notices(app) == [] and _urges(app) == []


def test_a_unit_with_nothing_to_chase_is_chased_only_when_confirmed(app: App) -> None:
    with transaction(app.session_factory) as s:
        for a in s.execute(select(Assignment).where(Assignment.organisation_id == orgs.require_org(s, ORG).id)):
            a[0].closed = True
    coord = Chat(app, "协调员")
    assert coord.send("催办 米林县").startswith(texts.URGE_NOTHING_ASK.format(org=ORG, days=urge_mod.UNREPORTED_DAYS))
    assert _notices(app) == []
    assert coord.pick(texts.CHOICE_CONFIRM) == texts.URGE_DONE.format(
        org=ORG, overdue=0, unreported=0, n=1, names=OFFICIAL
    )
    [notice] = _notices(app)
    assert texts.URGE_NOTICE_NOTHING in notice.text and "逾期" not in notice.text


# ---- a group ----------------------------------------------------------------------------------------------------


def _members(app: App, group: str) -> list[str]:
    with app.session_factory() as s:
        return list(
            s.execute(
                select(Organisation.name)
                .join(OrgGroupMember, OrgGroupMember.organisation_id == Organisation.id)
                .join(OrgGroup, OrgGroup.id == OrgGroupMember.group_id)
                .where(OrgGroup.name == group)
            ).scalars()
        )


def test_a_group_chases_each_unit_not_chased_today_and_offers_the_others(app: App) -> None:
    members = _members(app, "边境县")
    assert ORG in members and len(members) > 2
    coord = Chat(app, "协调员")
    coord.send("催办 米林县")
    answer = coord.send("催一下边境县")
    others = [m for m in members if m != ORG]
    for name in others:
        assert f"已催办 {name}：" in answer
    assert f"已催办 {ORG}" not in answer
    assert texts.URGE_AGAIN.format(time="09:00", org=ORG) in answer
    assert {u.organisation_id for u in _urges(app)} == {_org_id(app, m) for m in members}
    assert len(_urges(app)) == len(members)
    assert coord.pick(texts.CHOICE_CONFIRM).startswith(f"已催办 {ORG}")
    assert len(_urges(app, ORG)) == 2 and len(_urges(app)) == len(members) + 1


def test_a_group_chased_twice_lists_every_unit_skipped(app: App) -> None:
    members = _members(app, "边境县")
    coord = Chat(app, "协调员")
    coord.send("催一下边境县")
    n = len(_notices(app))
    answer = coord.send("催办边境县")
    assert answer.startswith("今天已催办过：")
    for name in members:
        assert f"{name}（09:00）" in answer
    assert coord.pick(texts.CHOICE_CANCEL) == texts.CANCELLED
    assert len(_notices(app)) == n and len(_urges(app)) == len(members)


# ---- history and digest -----------------------------------------------------------------------------------------


def test_the_progress_answer_shows_the_latest_urge(app: App) -> None:
    coord = Chat(app, "协调员")
    assert "最近催办" not in coord.send("米林县进度")
    coord.send("催办 米林县")
    _move(app, hours=2)
    coord.send("催办 米林县")
    coord.pick(texts.CHOICE_CONFIRM)
    shown = coord.send("米林县进度")
    line = texts.URGE_HISTORY.format(day="5月24日", time="11:00", who="协调员", n=2)
    assert line in shown.splitlines()
    assert "最近催办" not in coord.send("朗县进度")
    _move(app, days=urge_mod.HISTORY_DAYS + 1)
    assert "最近催办" not in coord.send("米林县进度")


def test_the_digest_lists_the_urges_of_its_week(app: App) -> None:
    assert "催办" not in _digest(app)
    coord = Chat(app, "协调员")
    coord.send("催办 米林县")
    views = _views(app, ORG)
    overdue = sum(1 for v in views if v.overdue)
    text = _digest(app)
    assert texts.DIGEST_URGES.format(n=1) in text
    assert f"· {ORG}：5月24日 09:00 协调员催办，逾期{overdue}项" in text
    assert "通知1人" in text
    _move(app, days=8)
    assert "催办" not in _digest(app)


# ---- a message handled twice --------------------------------------------------------------------------------


def test_the_same_platform_message_twice_chases_once(app: App) -> None:
    msg = IncomingMessage(
        channel="console", chat_id="协调员", user_id="协调员", text="催办 米林县", message_id=f"m-{uuid.uuid4().hex}"
    )
    first = app.engine.handle(msg)
    assert first and first[0].text.startswith("已催办 米林县")
    assert app.engine.handle(msg) == []
    assert len(_notices(app)) == 1 and len(_urges(app)) == 1


def test_a_reminder_queued_again_is_not_queued_twice(app: App) -> None:
    Chat(app, "协调员").send("催办 米林县")
    [row] = _urges(app)
    with transaction(app.session_factory) as s:
        p = s.get(Person, _person_id(app, OFFICIAL))
        assert p is not None
        assert outbox.notify_person(s, p, f"urge:{row.id}", urge_mod.NOTICE, row.text, app.clock.utcnow()) is None
    assert len(_notices(app)) == 1


# ---- the repository, on every backend -------------------------------------------------------------------------


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()


@pytest.mark.both_backends
def test_urges_repository(engine: Engine) -> None:
    factory: sessionmaker[Session] = make_session_factory(engine)
    t0 = dt.datetime(2023, 5, 24, 1, 0)
    day = dt.date(2023, 5, 24)
    with transaction(factory) as s:
        milin, lang = orgs.require_org(s, "米林县").id, orgs.require_org(s, "朗县").id
        coord = people.find_by_identity(s, "console", "协调员")
        assert coord is not None
        first = urges.record(s, milin, coord.id, t0, day, recipients=2, overdue=3, unreported=5, text="第一次" * 300)
        assert first.id is not None
        urges.record(s, milin, None, t0 + dt.timedelta(hours=2), day, recipients=1, overdue=3, unreported=4, text="b")
        urges.record(
            s,
            lang,
            coord.id,
            t0 + dt.timedelta(days=1),
            day + dt.timedelta(days=1),
            recipients=1,
            overdue=0,
            unreported=1,
            text="c",
        )
    with factory() as s:
        today = urges.on_day(s, milin, day)
        assert [u.text[:3] for u in today] == ["第一次", "b"]
        assert today[0].urged_by is not None and today[0].urged_by.name == "协调员"
        assert today[0].created_at == t0 and today[0].local_day == day
        assert today[0].text == "第一次" * 300
        assert urges.on_day(s, milin, day + dt.timedelta(days=1)) == []
        assert [u.text for u in urges.recent(s, milin, t0 + dt.timedelta(hours=1))] == ["b"]
        assert [u.text[:1] for u in urges.recent(s, milin, t0)] == ["b", "第"]
        assert urges.count_since(s, milin, t0) == 2
        assert urges.count_since(s, lang, t0 + dt.timedelta(days=2)) == 0
        assert [u.text[:1] for u in urges.between(s, t0, t0 + dt.timedelta(days=2))] == ["第", "b", "c"]
        assert [u.text for u in urges.between(s, t0 + dt.timedelta(hours=1), t0 + dt.timedelta(days=2), [lang])] == [
            "c"
        ]
        assert urges.between(s, t0, t0) == []
