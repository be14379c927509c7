"""Scripted check-in dialogues through the engine: binding, reporting on a task, a project and an indicator,
every validation path, cancel and resume across a restart, editing, review, and access control."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from bot.engine import Engine
from db.models import (
    APPROVED,
    DONE,
    IN_PROGRESS,
    RETURNED,
    Assignment,
    Attachment,
    Item,
    Organisation,
    Outbox,
    Report,
)
from db.repositories import orgs, people
from handlers import texts
from tests.conftest import Chat, pass_stranger_quiet_time


def _invite(app, org_name: str, role: str = "official", ttl: dt.timedelta = dt.timedelta(days=7)) -> str:
    with app.session_factory() as s, s.begin():
        org = orgs.require_org(s, org_name)
        return people.new_invite(s, org, role, app.clock.utcnow(), ttl).code


def _reports(app) -> list[Report]:
    with app.session_factory() as s:
        return list(s.execute(select(Report).order_by(Report.id)).scalars())


def _assignment_id(app, org_name: str, code: str) -> int:
    with app.session_factory() as s:
        return s.execute(
            select(Assignment.id).join(Item).join(Organisation).where(Organisation.name == org_name, Item.code == code)
        ).scalar_one()


def _start_task(c: Chat, label: str) -> str:
    out = c.send("汇报")
    assert "待汇报任务" in out
    return c.send(label)


# ---- binding -----------------------------------------------------------------------------------------------


def test_bind_with_valid_code_then_used_code(app):
    code = _invite(app, "波密县")
    a = Chat(app, "tg-100", channel="telegram")
    out = a.send(f"/start {code}")
    assert "绑定成功" in out and "波密县" in out
    with app.session_factory() as s:
        p = people.find_by_identity(s, "telegram", "tg-100")
        assert p is not None and p.organisation.name == "波密县" and p.role == "official"
    b = Chat(app, "tg-101", channel="telegram")
    out = b.send(f"绑定 {code}")
    assert "已被使用" in out
    with app.session_factory() as s:
        assert people.find_by_identity(s, "telegram", "tg-101") is None


def test_bind_with_expired_and_wrong_code(app):
    code = _invite(app, "朗县", ttl=dt.timedelta(minutes=1))
    app.clock.set(app.clock.now() + dt.timedelta(minutes=5), frozen=True)
    c = Chat(app, "wx-1", channel="wecom")
    assert "已过期" in c.send(f"绑定 {code}")
    assert "不存在" in c.send("绑定 ZZZZZZZZ")
    assert "绑定 绑定码" in c.send("绑定")
    with app.session_factory() as s:
        assert people.find_by_identity(s, "wecom", "wx-1") is None
    # still a stranger: nothing of the plan is shown (once the quiet time after "绑定" has passed)
    pass_stranger_quiet_time(app)
    out = c.send("汇报")
    assert "还没有绑定" in out and "两山" not in out


def test_coordinator_invite_binds_coordinator_role(app):
    code = _invite(app, "市委生态文明办", role="coordinator")
    c = Chat(app, "tg-7", channel="telegram")
    assert "协调员" in c.send(f"/start {code}")
    assert "待审核" in c.send("帮助")


# ---- a full check-in ---------------------------------------------------------------------------------------


def test_full_checkin_for_a_task(app):
    c = Chat(app, "墨脱填报人")
    out = c.send("汇报")
    # most urgent first: the overdue 选取两山创建主体 (due 4月30日), then 两山实施方案 (due 5月31日)
    assert out.splitlines()[1].startswith("1. 🔴") and "选取两山创建主体" in out.splitlines()[1]
    assert out.splitlines()[2].startswith("2. ") and "两山实施方案" in out.splitlines()[2]
    assert "未汇报" in out
    out = c.send("2")
    assert "两山实施方案" in out and "当前状态" in out
    assert c.choices == ["未启动", "推进中", "已完成", "受阻", "不适用"]
    assert "完成进度" in c.pick("推进中")
    assert "做了哪些工作" in c.send("百分之八十")
    assert "困难问题" in c.send("实施方案初稿已完成，正在征求意见")
    assert "下一步" in c.send("资金不足")
    assert "预计完成日期" in c.send("报县委常委会审定")
    assert "佐证材料" in c.send("6月底")
    out = c.send("完成")
    assert "请核对" in out and "80%" in out and "6月30日（周五）" in out and "资金不足" in out
    out = c.send("确认")
    assert "已提交" in out and "下一项" in out
    rows = _reports(app)
    assert len(rows) == 1
    r = rows[0]
    assert r.status == IN_PROGRESS and r.percent == Decimal("80") and r.problems == "资金不足"
    assert r.expected_date == dt.date(2023, 6, 30) and r.channel == "console" and r.review_state == "pending"
    assert r.assignment_id == _assignment_id(app, "墨脱县", "C3-4-04")
    # one sitting covers the next task too
    out = c.send("下一项")
    assert "当前状态" in out
    assert "结束" not in out


def test_full_checkin_for_a_project_with_investment_over_total(app):
    c = Chat(app, "生态环境局填报人")
    c.send("汇报")
    out = c.send("八及曲")
    assert "八及曲" in out and "总投资2335万元" in out
    c.pick("推进中")
    assert "累计完成投资" in c.send("60%")
    out = c.send("2500万")
    assert "超过了总投资" in out
    out = c.send("重新填写")
    assert "累计完成投资" in out
    assert "形象进度" in c.send("一千二百万")
    assert "做了哪些工作" in c.send("护坡工程完工，正在建设围栏")
    c.send("跳过")  # description is skippable for projects
    c.send("无")
    c.send("跳过")
    c.send("跳过")
    out = c.send("跳过")
    assert "1200 万元 / 总投资 2335 万元" in out
    c.send("确认")
    r = _reports(app)[-1]
    assert r.investment_done == Decimal("1200") and r.percent == Decimal("60")
    assert r.physical_progress == "护坡工程完工，正在建设围栏"


def test_investment_over_total_accepted_after_confirmation(app):
    c = Chat(app, "生态环境局填报人")
    c.send("汇报")
    c.send("监测中心")
    c.send("推进中")
    c.send("90")
    assert "超过了总投资" in c.send("1700")
    assert "形象进度" in c.send("确认")


def test_full_checkin_for_an_indicator(app):
    c = Chat(app, "林草局填报人")
    c.send("汇报")
    out = c.send("林草覆盖率")
    assert "林草覆盖率" in out and "≥80" in out
    c.send("推进中")
    assert "指标当前值" in c.last[-1].text
    c.send("82.5")
    c.send("跳过")
    c.send("跳过")
    c.send("跳过")
    out = c.send("跳过")
    assert "82.5" in out and "达标" in out and "未达标" not in out
    c.send("确认")
    r = _reports(app)[-1]
    assert r.indicator_value == "82.5" and r.indicator_number == Decimal("82.5")


def test_indicator_below_target_is_marked_not_met(app):
    c = Chat(app, "林草局填报人")
    c.send("汇报")
    c.send("林草覆盖率")
    c.send("推进中")
    c.send("75")
    for _ in range(4):
        out = c.send("跳过")
    assert "未达标" in out


# ---- validation ----------------------------------------------------------------------------------------------


def test_every_validation_path_keeps_what_was_entered(app):
    c = Chat(app, "米林填报人")
    c.send("汇报")
    assert "没有找到" in c.send("不存在的任务名称")
    assert "没有找到" in c.send("99")
    c.send("两山实施方案")
    assert "没看懂这个状态" in c.send("还行吧")
    c.send("推进中")
    assert "0–100" in c.send("很多")
    assert "0 到 100" in c.send("150")
    c.send("一半")
    assert "太短" in c.send("好")
    assert "太长" in c.send("字" * 600)
    c.send("已完成初稿")
    c.send("跳过")
    c.send("跳过")
    assert "没看懂这个日期" in c.send("下下下周吧")
    assert "已经过去" in c.send("2023-01-05")
    c.send("2023-06-15")
    assert "请发送照片或文件" in c.send("这是什么")
    out = c.send("跳过")
    # nothing entered before the mistakes was lost
    assert "50%" in out and "已完成初稿" in out and "6月15日（周四）" in out
    assert "请回复“确认”" in c.send("嗯")
    assert "没有“颜色”这一项" in c.send("修改 颜色")


def test_percent_typed_as_people_do(app):
    c = Chat(app, "察隅填报人")
    for typed, expected in [("八成", "80"), ("80%", "80"), ("百分之六十", "60"), ("完成了一半", "50"), ("75", "75")]:
        c.send("汇报")
        c.send("两山实施方案")
        c.send("推进中")
        c.send(typed)
        c.send("做了一些工作")
        for _ in range(4):
            out = c.send("跳过")
        assert f"{expected}%" in out, typed
        assert "已删除" in c.send("删除草稿")


def test_status_step_accepts_a_percentage_directly(app):
    c = Chat(app, "朗县填报人")
    c.send("汇报")
    c.send("两山实施方案")
    out = c.send("完成了70%")
    assert "做了哪些工作" in out  # % taken from the status answer, question skipped


def test_status_and_percentage_in_one_answer(app):
    """ "推进中 60%" (or 六成) answers both questions: the percentage is not asked again."""
    c = Chat(app, "朗县填报人")
    for typed, expected in [("推进中 60%", "60%"), ("推进中 六成", "60%"), ("在推进，大概七成", "70%")]:
        c.send("汇报")
        c.send("两山实施方案")
        out = c.send(typed)
        assert "做了哪些工作" in out and "百分比" not in out, (typed, out)
        c.send("做了一些工作")
        for _ in range(4):
            out = c.send("跳过")
        assert f"进度：{expected}" in out, typed
        assert "已删除" in c.send("删除草稿")


def test_done_status_skips_percent_and_records_100(app):
    c = Chat(app, "朗县填报人")
    c.send("汇报")
    c.send("两山实施方案")
    assert "做了哪些工作" in c.pick("已完成")
    c.send("实施方案已印发")
    c.send("无")
    c.send("无")
    out = c.send("完成")
    assert "已完成" in out and "100%" in out
    c.send("确认")
    r = _reports(app)[-1]
    assert r.status == DONE and r.percent == Decimal("100")


def to_evidence(app: Any) -> Chat:
    """波密填报人 in a check-in of 观摩示范乡村 (推进中 30%), at the question for evidence."""
    c = Chat(app, "波密填报人")
    for text in ("汇报", "观摩示范乡村", "推进中", "30", "已选定示范村", "跳过", "跳过", "跳过"):
        c.send(text)
    return c


def test_evidence_photo_is_stored_and_linked(app, tmp_path):
    photo = tmp_path / "site.jpg"
    photo.write_bytes(b"\xff\xd8\xff fake jpeg")
    from core.messages import InAttachment

    c = to_evidence(app)
    out = c.send("", attachments=(InAttachment("photo", str(photo), "site.jpg", "image/jpeg", 18),))
    assert "第1份佐证材料" in out
    assert "1份" in c.send("完成")
    c.send("确认")
    last_id = _reports(app)[-1].id
    with app.session_factory() as s:
        att = s.execute(select(Attachment)).scalar_one()
        assert att.report_id == last_id and att.path == str(photo)


# ---- cancel, resume, restart, edit ---------------------------------------------------------------------------


def test_cancel_keeps_draft_and_resume_after_restart(app, settings):
    c = Chat(app, "墨脱填报人")
    c.send("汇报")
    c.send("两山实施方案")
    c.send("推进中")
    c.send("40")
    assert "草稿已保存" in c.send("取消")
    assert _reports(app) == []
    # a new engine object on the same database is a restarted process
    app.engine = Engine(app.session_factory, app.clock, settings, app.services)
    c2 = Chat(app, "墨脱填报人")
    out = c2.send("继续")
    assert "两山实施方案" in out and "做了哪些工作" in out
    c2.send("方案已起草")
    for _ in range(4):
        out = c2.send("跳过")
    assert "40%" in out
    c2.send("确认")
    assert len(_reports(app)) == 1


def test_interrupted_draft_survives_a_question_and_expires_into_kept(app):
    c = Chat(app, "墨脱填报人")
    c.send("汇报")
    c.send("两山实施方案")
    c.send("受阻")
    app.clock.set(app.clock.now() + dt.timedelta(hours=30), frozen=True)
    assert "超时" in c.send("资金没到位")
    out = c.send("继续")
    assert "完成进度" in out or "受阻" in out or "困难" in out


def test_edit_last_report_keeps_every_version(app):
    c = Chat(app, "墨脱填报人")
    c.send("汇报")
    c.send("两山实施方案")
    c.send("推进中")
    c.send("50")
    c.send("起草中")
    for _ in range(4):
        c.send("跳过")
    c.send("确认")
    c.send("结束")
    # a filed report is never withdrawn: what to do instead is said, and nothing changes
    for typed in ("撤回刚才的汇报", "删除上次汇报", "我要撤销汇报"):
        assert c.send(typed) == texts.WITHDRAW_HOW, typed
    assert len(_reports(app)) == 1
    out = c.send("修改上次汇报")
    assert "原汇报会留痕" in out and "50%" in out
    assert "完成进度" in c.send("修改 进度")
    out = c.send("70")
    assert "70%" in out and "请核对" in out
    assert "已更正" in c.send("确认")
    rows = _reports(app)
    assert [r.percent for r in rows] == [Decimal("50"), Decimal("70")]
    assert rows[1].supersedes_id == rows[0].id
    with app.session_factory() as s:
        a = s.get(Assignment, rows[0].assignment_id)
        assert a.last_report_id == rows[1].id


def test_oneliner_report_is_confirmed_and_filed(app):
    from db.models import Conversation
    from handlers import checkin
    from handlers.context import Context

    aid = _assignment_id(app, "墨脱县", "C3-2-03")
    c = Chat(app, "墨脱填报人")
    with app.session_factory() as s, s.begin():
        from core.messages import IncomingMessage

        person = people.find_by_identity(s, "console", "墨脱填报人")
        conv = Conversation(
            channel="console",
            chat_id="墨脱填报人",
            user_id="墨脱填报人",
            state="idle",
            data={},
            updated_at=app.clock.utcnow(),
        )
        s.add(conv)
        ctx = Context(
            s, app.clock, app.settings, IncomingMessage("console", "墨脱填报人", "墨脱填报人", "x"), conv, person
        )
        out = checkin.start_from_oneliner(ctx, [aid], Decimal(80), None, "污水处理设施建设完成80%")
        assert "请核对" in out[0].text and "80%" in out[0].text
    assert "已提交" in c.send("确认")
    r = _reports(app)[-1]
    assert r.assignment_id == aid and r.percent == Decimal("80") and r.description == "污水处理设施建设完成80%"


# ---- review --------------------------------------------------------------------------------------------------


def _file_done_report(app, user: str = "朗县填报人") -> None:
    c = Chat(app, user)
    c.send("汇报")
    c.send("两山实施方案")
    c.send("已完成")
    c.send("实施方案已印发")
    c.send("跳过")
    c.send("跳过")
    c.send("跳过")
    c.send("确认")


def test_review_pass_closes_a_done_task_and_tells_the_official(app):
    _file_done_report(app)
    coord = Chat(app, "协调员")
    out = coord.send("待审核")
    assert "朗县" in out and "两山实施方案" in out
    out = coord.send("1")
    assert "实施方案已印发" in out and "通过" in out
    assert "已通过" in coord.send("通过") and "办结" in coord.last[0].text
    r = _reports(app)[-1]
    assert r.review_state == APPROVED
    with app.session_factory() as s:
        assert s.get(Assignment, r.assignment_id).closed
        note = s.execute(select(Outbox).where(Outbox.kind == "review")).scalar_one()
        assert note.chat_id == "朗县填报人" and "通过审核" in note.text
    # a closed task is no longer offered for reporting
    official = Chat(app, "朗县填报人")
    assert "两山实施方案" not in official.send("汇报").split("\n")[1]


def test_review_return_with_reason(app):
    _file_done_report(app)
    coord = Chat(app, "协调员")
    coord.send("待审核")
    coord.send("1")
    assert "退回理由" in coord.send("退回")
    assert "已退回" in coord.send("请补充印发文件")
    r = _reports(app)[-1]
    assert r.review_state == RETURNED and r.review_comment == "请补充印发文件"
    with app.session_factory() as s:
        assert not s.get(Assignment, r.assignment_id).closed
        note = s.execute(select(Outbox).where(Outbox.kind == "review")).scalar_one()
        assert "请补充印发文件" in note.text
    assert "没有待审核" in coord.send("待审核")


def test_official_cannot_review(app):
    _file_done_report(app)
    assert "没有这项操作的权限" in Chat(app, "墨脱填报人").send("待审核")


# ---- access ----------------------------------------------------------------------------------------------------


def test_official_cannot_report_on_another_organisations_task(app):
    c = Chat(app, "墨脱填报人")
    assert "只能汇报本单位" in c.send("汇报 巴宜区")
    c.send("汇报")
    out = c.send("推广典型经验")  # a 巴宜区 task
    assert "只能汇报本单位" in out and "巴宜区" in out
    assert _reports(app) == []


def test_coordinator_can_report_for_any_organisation(app):
    c = Chat(app, "协调员")
    out = c.send("汇报 巴宜")
    assert "巴宜区待汇报任务" in out


def test_duplicate_message_is_handled_once(app):
    from core.messages import IncomingMessage

    msg = IncomingMessage("telegram", "500", "500", "汇报", message_id="upd-1")
    with app.session_factory() as s, s.begin():
        org = orgs.require_org(s, "墨脱县")
        people.add_person(s, "张三", org, "official", app.clock.utcnow(), {"telegram": "500"})
    first = app.engine.handle(msg)
    second = app.engine.handle(msg)
    assert first and second == []
    state, _ = app.engine.conversation_state("telegram", "500", "500")
    assert state == "checkin.pick"


def test_group_chat_never_runs_a_dialogue(app):
    c = Chat(app, "墨脱填报人")
    c.chat_id = "group-1"
    out = c.send("汇报", is_group=True)
    assert "私聊" in out
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Report)) == 0


def test_admin_creates_invite_in_chat_and_it_binds(app):
    admin = Chat(app, "管理员")
    out = admin.send("邀请 墨脱 填报人")
    assert "绑定码" in out
    code = out.split("绑定码：")[1][:8]
    assert "绑定成功" in Chat(app, "new-user", channel="wecom").send(f"绑定 {code}")
    assert "没有这项操作的权限" in Chat(app, "墨脱填报人").send("邀请 墨脱县")
    assert "是否指" in admin.send("邀请 墨托县")


def test_reply_to_weekly_prompt_starts_checkin_but_a_question_is_answered(app):
    from handlers.checkin import arm_weekly_prompt

    with app.session_factory() as s, s.begin():
        assert arm_weekly_prompt(s, "console", "墨脱填报人", "墨脱填报人", app.clock.utcnow())
        assert arm_weekly_prompt(s, "console", "朗县填报人", "朗县填报人", app.clock.utcnow())
    assert "待汇报任务" in Chat(app, "墨脱填报人").send("好的")
    out = Chat(app, "朗县填报人").send("修改上次汇报")
    assert "还没有提交过汇报" in out
    state, _ = app.engine.conversation_state("console", "朗县填报人", "朗县填报人")
    assert state == "idle"
    # a dialogue in progress is never overwritten by the prompt
    with app.session_factory() as s, s.begin():
        assert not arm_weekly_prompt(s, "console", "墨脱填报人", "墨脱填报人", app.clock.utcnow())


def test_redelivered_message_gets_its_unsent_replies_after_a_crash_but_never_twice(app):
    """A message handled and committed, whose answer never went out (the process died), is answered when
    the platform delivers it again; once the channel confirmed delivery, a redelivery stays silent."""
    from core.messages import IncomingMessage

    with app.session_factory() as s, s.begin():
        org = orgs.require_org(s, "墨脱县")
        people.add_person(s, "李四", org, "official", app.clock.utcnow(), {"telegram": "600"})
    msg = IncomingMessage("telegram", "600", "600", "汇报", message_id="m:600:1")
    first = app.engine.handle(msg)
    assert "待汇报任务" in first[0].text
    assert app.engine.handle(msg) == []  # a platform retry racing the first answer: silent
    app.clock.set(app.clock.now() + dt.timedelta(minutes=2), frozen=True)
    again = app.engine.handle(msg)  # the crash case: same answer, state not advanced twice
    assert [r.text for r in again] == [r.text for r in first] and again[0].choices == first[0].choices
    state, _ = app.engine.conversation_state("telegram", "600", "600")
    assert state == "checkin.pick"
    app.engine.mark_replied(msg)
    assert app.engine.handle(msg) == []


def test_edit_keeps_the_evidence_of_the_corrected_version(app, tmp_path):
    from core.messages import InAttachment

    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"\xff\xd8 jpeg")
    c = to_evidence(app)
    c.send("", attachments=(InAttachment("photo", str(photo), "p.jpg"),))
    c.send("完成")
    c.send("确认")
    c.send("修改上次汇报")
    c.send("修改 进度")
    c.send("40")
    c.send("确认")
    old, new = _reports(app)[-2:]
    with app.session_factory() as s:
        by_report = {
            r: [a.path for a in s.execute(select(Attachment).where(Attachment.report_id == r)).scalars()]
            for r in (old.id, new.id)
        }
    assert by_report == {old.id: [str(photo)], new.id: [str(photo)]}
