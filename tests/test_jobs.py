"""The scheduler's jobs on the shipped plan, with the clock set: deadline nudges, holiday shifting, overdue
notices and escalation, the weekly prompt, event reminders, quiet hours, pausing, and the `tick` command."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from core.messages import IncomingMessage
from db.engine import transaction
from db.models import (
    DONE,
    IN_PROGRESS,
    LEADER,
    OFFICIAL,
    Assignment,
    Conversation,
    Item,
    Organisation,
    Outbox,
    Person,
    ReminderLog,
)
from db.repositories import orgs, people, plans, progress, reports
from handlers import leave
from handlers.context import Context
from scheduler import jobs
from scheduler.commands import tick
from scheduler.deadlines import MAX_LISTED
from scheduler.jobs import Planner
from scheduler.messages import DIGEST, ESCALATION, EVENT_REMINDER, NUDGE, OVERDUE, PROMPT, Message, queue

BORDER = {"米林县", "朗县", "察隅县", "墨脱县"}
TZ = "Asia/Shanghai"


def at(app: App, y: int, m: int, d: int, h: int = 9, mi: int = 0) -> dt.datetime:
    return app.clock.localize(dt.datetime(y, m, d, h, mi))


def plan_messages(app: App, when: dt.datetime, **settings: Any) -> list[Message]:
    s = app.settings.model_copy(update=settings) if settings else app.settings
    with app.session_factory() as session:
        plan = plans.active_plan(session)
        assert plan is not None
        return jobs.due_messages(session, plan, when, s)


def run(app: App, when: dt.datetime, **settings: Any) -> list[Message]:
    """Plan and queue at `when`; returns the messages planned."""
    s = app.settings.model_copy(update=settings) if settings else app.settings
    with transaction(app.session_factory) as session:
        plan = plans.active_plan(session)
        assert plan is not None
        msgs = jobs.due_messages(session, plan, when, s)
        queue(session, msgs, when.astimezone(dt.UTC).replace(tzinfo=None))
    return msgs


def assignment(app: App, code: str, org: str) -> int:
    with app.session_factory() as s:
        return s.execute(
            select(Assignment.id)
            .join(Item)
            .join(Organisation, Assignment.organisation_id == Organisation.id)
            .where(Item.code == code, Organisation.name == org)
        ).scalar_one()


def file_report(app: App, code: str, org: str, when: dt.datetime, **fields: Any) -> None:
    with transaction(app.session_factory) as s:
        a = s.get(Assignment, assignment(app, code, org))
        reports.add_report(s, a, None, "console", when.astimezone(dt.UTC).replace(tzinfo=None), fields)


@pytest.fixture
def app(app: App) -> App:
    """The scenario of these tests has nothing overdue on 5月24日: the one task due earlier, 选取两山创建主体
    (C3-4-03, its deadline inferred as 4月30日), was done by the border counties on 4月28日."""
    for org in BORDER:
        file_report(app, "C3-4-03", org, at(app, 2023, 4, 28), status="done", percent=100)
    return app


def of_kind(msgs: list[Message], kind: str) -> list[Message]:
    return [m for m in msgs if m.kind == kind]


def org_of(app: App, person_id: int | None) -> str:
    with app.session_factory() as s:
        p = s.get(Person, person_id)
        assert p is not None and p.organisation is not None
        return p.organisation.name


# ---- nudges ------------------------------------------------------------------------------------------------


def test_2023_05_24_nudges_the_border_counties_about_the_two_mountains_plan(app: App) -> None:
    with app.session_factory() as s:
        assigned = {
            a.organisation.name for a in s.execute(select(Item).where(Item.code == "C3-4-04")).scalar_one().assignments
        }
    assert assigned == BORDER
    msgs = plan_messages(app, at(app, 2023, 5, 24))
    assert {m.kind for m in msgs} == {NUDGE}
    assert {org_of(app, m.recipient.person_id) for m in msgs} == BORDER
    for m in msgs:
        assert m.recipient.channel == "console" and m.recipient.name.endswith("填报人")
        assert "两山实施方案" in m.text and "5月31日截止" in m.text and "还有7天" in m.text and "汇报" in m.text
        [d] = m.decisions
        assert d.occasion == "d-7:2023-05-31"
        assert m.dedupe_key.startswith(f"nudge:{m.recipient.person_id}:2023-05-24:")
        assert m.payload["choices"] == [["开始汇报", "汇报"], ["全部无变化", "全部无变化"], ["请假", "请假"]]
    # Before the day's reminder time, nothing.
    assert plan_messages(app, at(app, 2023, 5, 24, 8, 59)) == []


def test_2023_06_30_due_today_nudges_and_escalation(app: App) -> None:
    with transaction(app.session_factory) as s:
        people.add_person(
            s, "墨脱县领导", orgs.find_org(s, "墨脱县"), LEADER, app.clock.utcnow(), {"console": "墨脱县领导"}
        )
    msgs = plan_messages(app, at(app, 2023, 6, 30))
    nudges = of_kind(msgs, NUDGE)
    assert {org_of(app, m.recipient.person_id) for m in nudges} == BORDER
    for m in nudges:
        assert {d.occasion for d in m.decisions} == {"d-0:2023-06-30"}
        assert "国家示范县申报" in m.text and "两山基地申报" in m.text and "今天截止" in m.text
    # 两山实施方案 was due 5月31日: 21 working days overdue → 红, to the coordinator and to 墨脱县's leader.
    esc = of_kind(msgs, ESCALATION)
    by_name = {m.recipient.name: m for m in esc}
    assert set(by_name) == {"协调员", "墨脱县领导"}
    assert {d.occasion for d in by_name["协调员"].decisions} == {"红:2023-05-31"}
    assert len(by_name["协调员"].decisions) == 4 and "已逾期21个工作日" in by_name["协调员"].text
    assert len(by_name["墨脱县领导"].decisions) == 1 and "墨脱县" in by_name["墨脱县领导"].text
    assert "米林县" not in by_name["墨脱县领导"].text
    # 21 working days: (21 − 1) is not a multiple of 3, so no overdue notice today.
    assert of_kind(msgs, OVERDUE) == []


def test_done_tasks_are_not_nudged(app: App) -> None:
    file_report(app, "C3-4-04", "墨脱县", at(app, 2023, 5, 20), status=DONE, percent=100)
    file_report(app, "C3-4-04", "米林县", at(app, 2023, 5, 20), status=IN_PROGRESS, percent=50)
    msgs = plan_messages(app, at(app, 2023, 5, 24))
    assert {org_of(app, m.recipient.person_id) for m in msgs} == BORDER - {"墨脱县"}
    [milin] = [m for m in msgs if m.recipient.name == "米林填报人"]
    assert "推进中 50%" in milin.text


def test_queue_is_idempotent_and_remembers_decisions(app: App) -> None:
    when = at(app, 2023, 5, 24)
    first = run(app, when)
    assert len(first) == 4
    assert run(app, when) == []  # decisions are in reminder_log: nothing new is planned
    later = run(app, at(app, 2023, 5, 24, 15, 30))
    assert later == []
    with app.session_factory() as s:
        rows = s.execute(select(Outbox)).scalars().all()
        logs = s.execute(select(ReminderLog)).scalars().all()
    assert len(rows) == 4
    assert {(log.kind, log.occasion) for log in logs} == {("nudge", "d-7:2023-05-31")}
    assert {log.outbox_id for log in logs} == {r.id for r in rows}
    # Queueing the very same messages again (a second process, a retry) creates nothing.
    with transaction(app.session_factory) as s:
        assert queue(s, first, app.clock.utcnow()) == []


def set_due(app: App, code: str, org: str, due: dt.date) -> int:
    aid = assignment(app, code, org)
    with transaction(app.session_factory) as s:
        s.get(Assignment, aid).due_date = due  # type: ignore[union-attr]
    return aid


def test_a_nudge_falling_on_the_national_day_holiday_moves_to_the_next_working_day(app: App) -> None:
    aid = set_due(app, "C3-4-04", "墨脱县", dt.date(2023, 10, 9))
    with app.session_factory() as s:
        planner = Planner(s, plans.active_plan(s), at(app, 2023, 10, 2), app.settings)  # type: ignore[arg-type]
        # 7 days before (10-02) and 3 before (10-06) are holidays → both land on Saturday 10-07 (a working day);
        # 1 before is Sunday 10-08, also a make-up working day.
        assert planner.nudge_schedule(dt.date(2023, 10, 9)) == {
            dt.date(2023, 10, 7): 3,
            dt.date(2023, 10, 8): 1,
            dt.date(2023, 10, 9): 0,
        }
        # A deadline on a Sunday: the nudges that would pass it come on the Friday before.
        assert planner.nudge_schedule(dt.date(2023, 12, 31)) == {
            dt.date(2023, 12, 25): 7,
            dt.date(2023, 12, 28): 3,
            dt.date(2023, 12, 29): 0,
        }

    def mine(day: dt.datetime) -> list[Message]:
        return [m for m in of_kind(plan_messages(app, day), NUDGE) if any(d.assignment_id == aid for d in m.decisions)]

    assert mine(at(app, 2023, 10, 2)) == []
    [m] = mine(at(app, 2023, 10, 7))
    assert m.recipient.name == "墨脱填报人" and "还有2天" in m.text
    assert [d.occasion for d in m.decisions if d.assignment_id == aid] == ["d-3:2023-10-09"]
    assert mine(at(app, 2023, 10, 6)) == []


def test_overdue_notices_every_few_working_days_and_the_escalation_ladder(app: App) -> None:
    with transaction(app.session_factory) as s:
        people.add_person(
            s, "察隅县领导", orgs.find_org(s, "察隅县"), LEADER, app.clock.utcnow(), {"console": "察隅县领导"}
        )
    for code_org in BORDER - {"察隅县"}:
        file_report(app, "C3-4-04", code_org, at(app, 2023, 5, 30), status=DONE, percent=100)
    seen: dict[dt.date, dict[str, list[Message]]] = {}
    day = dt.date(2023, 6, 1)
    while day <= dt.date(2023, 6, 16):
        msgs = run(app, at(app, day.year, day.month, day.day))
        seen[day] = {k: of_kind(msgs, k) for k in (OVERDUE, ESCALATION)}
        day += dt.timedelta(days=1)

    def overdue_days(kind: str) -> list[dt.date]:
        return [
            d
            for d, k in seen.items()
            if any(any(x.occasion.endswith("2023-05-31") for x in m.decisions) for m in k[kind])
        ]

    # Working days after 5月31日: 6/1 (1), 6/2 (2), 6/5 (3), 6/6 (4) … 6/9 (7) … 6/14 (10), 6/15 (11).
    assert overdue_days(OVERDUE) == [
        dt.date(2023, 6, 1),
        dt.date(2023, 6, 6),
        dt.date(2023, 6, 9),
        dt.date(2023, 6, 14),
    ]
    assert all(m.recipient.name == "察隅填报人" for d in seen for m in seen[d][OVERDUE])
    assert "已逾期4个工作日" in seen[dt.date(2023, 6, 6)][OVERDUE][0].text
    esc = {d: v[ESCALATION] for d, v in seen.items() if v[ESCALATION]}
    assert sorted(esc) == [dt.date(2023, 6, 5), dt.date(2023, 6, 14)]
    [yellow] = esc[dt.date(2023, 6, 5)]
    assert yellow.recipient.name == "协调员" and "🟡黄" in yellow.text and "察隅县" in yellow.text
    assert [d.occasion for d in yellow.decisions] == ["黄:2023-05-31"]
    red = {m.recipient.name: m for m in esc[dt.date(2023, 6, 14)]}
    assert set(red) == {"协调员", "察隅县领导"}
    assert all("🔴红" in m.text for m in red.values())


def test_a_custom_ladder_with_one_step_escalates_straight_to_red(app: App) -> None:
    msgs = plan_messages(app, at(app, 2023, 6, 2), escalate_after_workdays=[2], overdue_every_workdays=1)
    [esc] = of_kind(msgs, ESCALATION)
    assert {d.occasion for d in esc.decisions} == {"红:2023-05-31"}
    assert {d.occasion for m in of_kind(msgs, OVERDUE) for d in m.decisions} == {"w2:2023-05-31"}
    assert of_kind(plan_messages(app, at(app, 2023, 6, 1), escalate_after_workdays=[2]), ESCALATION) == []


# ---- weekly prompt -----------------------------------------------------------------------------------------


def test_weekly_prompt_skips_organisations_that_reported_this_week(app: App) -> None:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        motuo = orgs.find_org(s, "墨脱县")
        open_codes = [v.item_code for v in progress.assignment_views(s, plan, dt.date(2023, 5, 29), org_ids=[motuo.id])]  # type: ignore[arg-type, union-attr]
    for code in open_codes:
        file_report(app, code, "墨脱县", at(app, 2023, 5, 26, 15), status=IN_PROGRESS, percent=30)
    # 米林县 reported one task only: it still has silent tasks and is prompted.
    file_report(app, "C3-4-04", "米林县", at(app, 2023, 5, 26, 15), status=IN_PROGRESS, percent=30)
    monday = at(app, 2023, 5, 29, 9, 30)
    prompts = of_kind(plan_messages(app, monday), PROMPT)
    names = {m.recipient.name for m in prompts}
    assert "墨脱填报人" not in names
    assert {"米林填报人", "巴宜填报人", "朗县填报人"} <= names
    with app.session_factory() as s:
        officials = {p.name for p in people.people_with_roles(s, (OFFICIAL,)) if p.organisation.name != "墨脱县"}
    assert names <= officials
    [milin] = [m for m in prompts if m.recipient.name == "米林填报人"]
    assert "回复“汇报”" in milin.text and milin.dedupe_key == f"prompt:{milin.recipient.person_id}:2023-05-29"
    assert milin.payload["choices"] == [["开始汇报", "汇报"], ["全部无变化", "全部无变化"], ["请假", "请假"]]
    # Not before 09:30, not on Tuesday; once queued, not again.
    assert of_kind(plan_messages(app, at(app, 2023, 5, 29, 9, 29)), PROMPT) == []
    assert of_kind(plan_messages(app, at(app, 2023, 5, 30, 9, 30)), PROMPT) == []
    assert len(of_kind(run(app, monday), PROMPT)) == len(prompts)
    assert of_kind(run(app, at(app, 2023, 5, 29, 16)), PROMPT) == []


def test_weekly_prompt_on_a_holiday_monday_moves_within_the_week(app: App) -> None:
    assert of_kind(plan_messages(app, at(app, 2023, 10, 2, 10)), PROMPT) == []
    assert of_kind(plan_messages(app, at(app, 2023, 10, 7, 10)), PROMPT) != []  # make-up Saturday
    assert of_kind(plan_messages(app, at(app, 2023, 5, 1, 10)), PROMPT) == []
    assert of_kind(plan_messages(app, at(app, 2023, 5, 4, 10)), PROMPT) != []  # first working day after 五一


def test_weekly_digest_goes_to_coordinators_leaders_and_the_configured_groups(app: App) -> None:
    friday = at(app, 2023, 6, 2, 17)
    msgs = of_kind(
        plan_messages(app, friday, telegram_digest_chat_id="-1001", wecom_group_webhook="http://127.0.0.1:9/x"),
        DIGEST,
    )
    assert {(m.recipient.name, m.recipient.channel) for m in msgs} == {
        ("协调员", "console"),
        ("分管领导", "console"),  # a leader reads the whole plan on one page each week
        ("Telegram 工作群", "telegram"),
        ("企业微信群机器人", "wecom"),
    }
    assert [m.recipient.chat_id for m in msgs if m.recipient.channel == "wecom"] == ["group-robot"]
    assert all("督办周报" in m.text and m.payload["markdown"].startswith("**督办周报") for m in msgs)
    assert of_kind(plan_messages(app, at(app, 2023, 6, 2, 16, 59)), DIGEST) == []
    # Friday 9月29日 is the Mid-Autumn holiday and the week has no working day left: skipped, not doubled.
    assert of_kind(plan_messages(app, at(app, 2023, 9, 29, 17)), DIGEST) == []
    assert of_kind(plan_messages(app, at(app, 2023, 10, 7, 17)), DIGEST) != []  # week of 10月2日: Saturday
    keys = {m.dedupe_key for m in of_kind(plan_messages(app, at(app, 2023, 10, 7, 17)), DIGEST)}
    ids = {m.recipient.person_id for m in msgs if m.recipient.name in ("协调员", "分管领导")}
    assert keys == {f"digest:{person_id}:2023-10-06" for person_id in ids} and len(ids) == 2


# ---- events ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "event"), [((5, 15), "5·22"), ((5, 29), "6·5"), ((7, 25), "8月")])
def test_event_reminders_a_week_before(app: App, day: tuple[int, int], event: str) -> None:
    msgs = of_kind(plan_messages(app, at(app, 2023, *day)), EVENT_REMINDER)
    assert msgs and all(event in m.text for m in msgs)
    assert {m.recipient.name for m in msgs} == {"协调员", "生态文明办填报人"}
    assert all(org_of(app, m.recipient.person_id) == "市委生态文明办" for m in msgs)
    before = dt.date(2023, *day) - dt.timedelta(days=1)
    assert of_kind(plan_messages(app, at(app, before.year, before.month, before.day)), EVENT_REMINDER) == []


# ---- quiet hours, pause, channel choice --------------------------------------------------------------------


def test_quiet_hours_defer_the_first_attempt_to_the_end_of_the_window(app: App) -> None:
    late = at(app, 2023, 5, 24, 22, 15)
    msgs = run(app, late)
    assert len(msgs) == 4
    with app.session_factory() as s:
        rows = s.execute(select(Outbox)).scalars().all()
    # 08:00 on 5月25日 in Shanghai is 00:00 UTC.
    assert {r.next_attempt_at for r in rows} == {dt.datetime(2023, 5, 25, 0, 0)}
    assert {m.not_before for m in msgs} == {at(app, 2023, 5, 25, 8, 0)}
    # With quiet hours off, the same moment is sent at once.
    assert {m.not_before for m in plan_messages(app, at(app, 2023, 5, 24, 22, 15), quiet_hours="")} in ({None}, set())


def leave_ctx(app: App, session: Any, name: str) -> Context:
    person = session.execute(select(Person).where(Person.name == name)).scalar_one()
    msg = IncomingMessage(channel="console", chat_id=name, user_id=name, text="")
    conv = Conversation(
        channel="console", chat_id=name, user_id=name, state="idle", data={}, updated_at=app.clock.utcnow()
    )
    return Context(session=session, clock=app.clock, settings=app.settings, msg=msg, conversation=conv, person=person)


def test_pause_with_a_leave_message_and_resume(app: App) -> None:
    with transaction(app.session_factory) as s:
        ctx = leave_ctx(app, s, "墨脱填报人")
        [reply] = leave.command(ctx, "请假到 5月31日") or []
        assert "5月31日" in reply.text and "6月1日" in reply.text
        assert ctx.person.paused_until == dt.date(2023, 5, 31)  # type: ignore[union-attr]
        assert leave.command(ctx, "墨脱县进度") is None
    names = {m.recipient.name for m in plan_messages(app, at(app, 2023, 5, 24))}
    assert names == {"米林填报人", "朗县填报人", "察隅填报人"}
    # The pause ends after 5月31日: on 6月1日 the overdue notice reaches 墨脱 again.
    assert "墨脱填报人" in {m.recipient.name for m in plan_messages(app, at(app, 2023, 6, 1))}
    with transaction(app.session_factory) as s:
        ctx = leave_ctx(app, s, "墨脱填报人")
        [reply] = leave.command(ctx, "恢复提醒") or []
        assert ctx.person.paused_until is None  # type: ignore[union-attr]
    assert "墨脱填报人" in {m.recipient.name for m in plan_messages(app, at(app, 2023, 5, 24))}


def test_leave_command_variants(app: App) -> None:
    with transaction(app.session_factory) as s:
        ctx = leave_ctx(app, s, "米林填报人")
        assert "例如" in (leave.command(ctx, "请假") or [])[0].text
        leave.command(ctx, "请假3天")
        assert ctx.person.paused_until == dt.date(2023, 5, 26)  # type: ignore[union-attr]
        leave.command(ctx, "请假至2023-06-05")
        assert ctx.person.paused_until == dt.date(2023, 6, 5)  # type: ignore[union-attr]
        assert "过去" in (leave.command(ctx, "请假到2023-05-01") or [])[0].text
        assert "最长" in (leave.command(ctx, "请假到 12月31日") or [])[0].text
        assert ctx.person.paused_until == dt.date(2023, 6, 5)  # type: ignore[union-attr]
        assert "已恢复" in (leave.command(ctx, "取消请假") or [])[0].text
        assert "没有暂停" in (leave.command(ctx, "取消请假") or [])[0].text


def test_a_person_on_two_channels_gets_one_message_on_the_one_last_used(app: App) -> None:
    app.settings.telegram_token = "123:abc"  # telegram enabled (nothing is contacted: planning only)
    with transaction(app.session_factory) as s:
        p = s.execute(select(Person).where(Person.name == "墨脱填报人")).scalar_one()
        people.bind_identity(s, p, "telegram", "5001", app.clock.utcnow(), chat_id="5001")
        people.bind_identity(s, p, "wecom", "motuo", app.clock.utcnow())
        s.add(
            Conversation(
                channel="wecom",
                chat_id="motuo",
                user_id="motuo",
                state="idle",
                data={},
                updated_at=app.clock.utcnow() - dt.timedelta(days=1),
            )
        )
        s.add(
            Conversation(
                channel="telegram",
                chat_id="5001",
                user_id="5001",
                state="idle",
                data={},
                updated_at=app.clock.utcnow() - dt.timedelta(days=2),
            )
        )
    app.settings.wecom_corp_id = app.settings.wecom_agent_id = app.settings.wecom_secret = "x"
    app.settings.wecom_token = app.settings.wecom_aes_key = "x"
    [m] = [m for m in plan_messages(app, at(app, 2023, 5, 24)) if m.recipient.name == "墨脱填报人"]
    assert (m.recipient.channel, m.recipient.chat_id) == ("wecom", "motuo")
    app.settings.wecom_corp_id = None  # WeCom not configured here: Telegram, an enabled channel, wins
    [m] = [m for m in plan_messages(app, at(app, 2023, 5, 24)) if m.recipient.name == "墨脱填报人"]
    assert (m.recipient.channel, m.recipient.chat_id) == ("telegram", "5001")


# ---- duban tick --------------------------------------------------------------------------------------------


def test_tick_dry_run_prints_the_border_county_nudges_and_writes_nothing(app: App) -> None:
    out = io.StringIO()
    assert tick(app, at=dt.datetime(2023, 5, 24, 9, 0), dry_run=True, out=out) == 0
    text = out.getvalue()
    for county in ("米林", "朗县", "察隅", "墨脱"):
        assert f"{county}填报人" in text
    assert text.count("两山实施方案（5月31日截止，还有7天") == 4
    assert "巴宜填报人" not in text
    with app.session_factory() as s:
        assert s.execute(select(Outbox)).first() is None
        assert s.execute(select(ReminderLog)).first() is None


def test_tick_queues_and_delivers_console_rows_once(app: App) -> None:
    out = io.StringIO()
    assert tick(app, at=dt.datetime(2023, 5, 24, 9, 0), out=out) == 0
    text = out.getvalue()
    assert "新入队 4 条" in text and "已发送 4 条" in text and text.count("→ ") == 4
    out2 = io.StringIO()
    tick(app, at=dt.datetime(2023, 5, 24, 9, 10), out=out2)
    assert "新入队 0 条" in out2.getvalue() and "已发送 0 条" in out2.getvalue()
    with app.session_factory() as s:
        assert [r.status for r in s.execute(select(Outbox)).scalars()] == ["sent"] * 4


def test_tick_leaves_rows_of_other_channels_for_serve(app: App) -> None:
    with transaction(app.session_factory) as s:
        p = s.execute(select(Person).where(Person.name == "朗县填报人")).scalar_one()
        people.bind_identity(s, p, "telegram", "777", app.clock.utcnow())
    out = io.StringIO()
    tick(app, at=dt.datetime(2023, 5, 24, 9, 0), out=out)
    assert "已发送 3 条" in out.getvalue() and "另有 1 条" in out.getvalue()
    with app.session_factory() as s:
        tg = s.execute(select(Outbox).where(Outbox.channel == "telegram")).scalar_one()
    assert tg.status == "pending" and tg.chat_id == "777"


def test_one_message_per_person_lists_many_tasks_and_counts_the_rest(app: App) -> None:
    msgs = of_kind(plan_messages(app, at(app, 2023, 12, 25)), NUDGE)  # d-7 of 12月31日 (a Sunday → Monday)
    [bayi] = [m for m in msgs if m.recipient.name == "巴宜填报人"]
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        org = orgs.find_org(s, "巴宜区")
        due_then = [
            v
            for v in progress.assignment_views(s, plan, dt.date(2023, 12, 25), org_ids=[org.id])  # type: ignore[arg-type, union-attr]
            if v.due == dt.date(2023, 12, 31)
        ]
    assert len(bayi.decisions) == len(due_then) > MAX_LISTED
    assert {d.assignment_id for d in bayi.decisions} == {v.assignment_id for v in due_then}
    assert bayi.text.count("12月31日截止，还有6天") == MAX_LISTED
    assert f"……共{len(due_then)}项" in bayi.text
    assert len({m.recipient.person_id for m in msgs}) == len(msgs)  # one nudge per person
