"""The weekly loop as an official lives it: a light check-in over 墨脱县's 35 items (nothing changed: 3 messages;
5 changed: ≤ 15), one-line answers that ask only what is missing, several drafts, 同上, and the small things that
went wrong before (question numbering, the target's internal note, 已完成 → 推进中 without a percentage)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.app import App
from db.models import BLOCKED, DONE, IN_PROGRESS, INDICATOR, PROJECT, Assignment, Item, Organisation, Report
from db.repositories import people, plans, progress, reports
from handlers import texts
from tests.conftest import Chat

OFFICIAL = "墨脱填报人"
MONDAY = dt.datetime(2023, 7, 10, 10, 0)  # a Monday: the week's check-in


def _open(app: App, org: str) -> list[progress.AssignmentView]:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        oid = s.execute(select(Organisation.id).where(Organisation.name == org)).scalar_one()
        return [v for v in progress.assignment_views(s, plan, app.clock.today(), org_ids=[oid]) if not v.closed]


def _file_last_week(app: App, org: str, person: str = OFFICIAL) -> dict[int, Report]:
    """A report on every open item of `org`, filed a week ago: in progress at 40 %, with the figures each kind
    needs. Returns them by assignment id."""
    at = app.clock.utcnow() - dt.timedelta(days=7)
    out = {}
    views = _open(app, org)
    with app.session_factory() as s, s.begin():
        who = people.find_by_identity(s, "console", person)
        for v in views:
            a = s.get(Assignment, v.assignment_id)
            assert a is not None
            values: dict[str, object] = {"status": IN_PROGRESS, "percent": Decimal(40), "description": "上周的工作"}
            if a.item.kind == PROJECT:
                values["investment_done"] = Decimal(100)
            if a.item.kind == INDICATOR:
                values["indicator_value"], values["indicator_number"] = "50", Decimal(50)
            out[a.id] = reports.add_report(s, a, who, "console", at, values)
        s.expunge_all()
    return out


def _this_week(app: App, aids: list[int]) -> dict[int, Report]:
    monday = dt.datetime(2023, 7, 9, 16, 0)  # Monday 00:00 in Asia/Shanghai, as stored (UTC)
    with app.session_factory() as s:
        rows = s.execute(select(Report).where(Report.assignment_id.in_(aids), Report.created_at >= monday)).scalars()
        out = {r.assignment_id: r for r in rows}
        s.expunge_all()
    return out


def _at_monday(app: App) -> None:
    app.clock.set(MONDAY, frozen=True)


def test_nothing_changed_on_35_items_takes_three_messages(app: App) -> None:
    _at_monday(app)
    views = _open(app, "墨脱县")
    assert len(views) == 35
    before = _file_last_week(app, "墨脱县")
    c = Chat(app, OFFICIAL)
    sent = 0
    for text in ("汇报", "全部无变化", "确认"):
        out = c.send(text)
        sent += 1
    assert sent == 3
    assert "35项" in out and "都已汇报" in out
    now = _this_week(app, list(before))
    assert set(now) == set(before), "every item has a new version this week"
    for aid, r in now.items():
        old = before[aid]
        assert r.no_change and r.id != old.id
        assert (r.status, r.percent, r.investment_done, r.indicator_value) == (
            old.status,
            old.percent,
            old.investment_done,
            old.indicator_value,
        )
    # The history shows the confirmation.
    with app.session_factory() as s:
        aid = next(iter(before))
        assert [x.no_change for x in reports.history(s, aid)] == [False, True]


def test_the_weekly_prompt_answered_with_no_change_takes_two(app: App) -> None:
    _at_monday(app)
    _file_last_week(app, "墨脱县")
    from handlers import checkin

    with app.session_factory() as s, s.begin():
        assert checkin.arm_weekly_prompt(s, "console", OFFICIAL, OFFICIAL, app.clock.utcnow())
    c = Chat(app, OFFICIAL)
    assert "35项" in c.send("都没变化")
    assert "都已汇报" in c.send("确认")


def test_five_changed_in_at_most_fifteen_messages(app: App) -> None:
    _at_monday(app)
    views = _open(app, "墨脱县")
    before = _file_last_week(app, "墨脱县")
    kinds = {i: v.item_kind for i, v in enumerate(views, 1)}
    project = next(i for i, k in kinds.items() if k == PROJECT)
    indicator = next(i for i, k in kinds.items() if k == INDICATOR)
    tasks = [i for i, k in kinds.items() if k not in (PROJECT, INDICATOR)]
    c = Chat(app, OFFICIAL)
    script = [
        "汇报",
        f"{tasks[0]} 推进中 60",
        f"{tasks[1]} 完成",
        "跳过",  # evidence for 已完成
        f"{tasks[2]} 受阻 资金未到位",
        f"{project} 推进中 70",
        "1500",  # the project's investment
        f"{indicator} 65",
        "其余无变化",
        "确认",
    ]
    for text in script:
        out = c.send(text)
    assert len(script) <= 15
    assert "都已汇报" in out
    now = _this_week(app, list(before))
    assert set(now) == set(before)
    by_pos = {i: now[v.assignment_id] for i, v in enumerate(views, 1)}
    assert (by_pos[tasks[0]].status, by_pos[tasks[0]].percent) == (IN_PROGRESS, Decimal(60))
    assert by_pos[tasks[1]].status == DONE and by_pos[tasks[1]].percent == 100
    assert by_pos[tasks[2]].status == BLOCKED and by_pos[tasks[2]].problems == "资金未到位"
    assert by_pos[tasks[2]].percent == 40  # carried from last week
    assert (by_pos[project].percent, by_pos[project].investment_done) == (Decimal(70), Decimal(1500))
    assert by_pos[indicator].indicator_number == 65
    changed = {tasks[0], tasks[1], tasks[2], project, indicator}
    assert all(not r.no_change for i, r in by_pos.items() if i in changed)
    assert all(r.no_change for i, r in by_pos.items() if i not in changed)


def test_a_range_of_no_change_and_the_list_marks(app: App) -> None:
    _at_monday(app)
    _file_last_week(app, "墨脱县")
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("1-5 无变化")
    assert "已为5项提交“无变化”" in out and "本周已报5/35项" in out
    out = c.send("汇报")
    assert "本周已报5项" in out and out.count(texts.TASK_MARK_THIS_WEEK) == 5
    assert "超出了列表范围" in c.send("30-40 无变化")


def test_never_reported_items_cannot_be_confirmed_as_unchanged(app: App) -> None:
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("全部无变化")
    assert "还没有汇报过" in out
    assert _this_week(app, [v.assignment_id for v in _open(app, "墨脱县")]) == {}
    out = c.send("2 无变化")
    assert "还没有汇报过" in out


def test_a_line_that_says_nothing_is_refused_with_examples(app: App) -> None:
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("3 嗯嗯")
    assert "没看懂“3 嗯嗯”" in out and "3 推进中 60" in out
    assert "150" in c.send("3 150%")
    # the list is still there: a number picks a task
    assert "当前状态" in c.send("3")


def test_blocked_without_a_reason_asks_for_it_then_files_and_returns_to_the_list(app: App) -> None:
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("4 受阻")
    assert "受阻的原因" in out
    out = c.send("设计单位未确定")
    assert "已提交" in out and "受阻：设计单位未确定" in out
    assert "已提交" in c.send("5 30")  # still in the list


def test_a_line_for_another_task_typed_while_a_detail_is_asked_waits_and_is_filed_after(app: App) -> None:
    """ "3 差不多一半" typed while 2's percentage is asked is 3's line, not 2's answer (it was stored as 2's 50 %):
    it is kept, and filed (or asks its own detail) once 2 is filed."""
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    assert "完成进度百分比" in c.send("2 推进中")
    out = c.send("3 差不多一半")
    assert "已记下“3 差不多一半”" in out and "完成进度百分比" in out and "已提交" not in out, out
    out = c.send("60")
    assert re.search(r"2\.「[^」]+」已提交：推进中 60%", out) and re.search(r"3\.「[^」]+」已提交：推进中 50%", out), (
        out
    )
    assert "本周已报2/35项" in out
    ids = [v.assignment_id for v in _open(app, "墨脱县")]
    assert sorted(r.percent for r in _this_week(app, ids).values()) == [50, 60]
    # at the evidence question too; the waiting line then asks its own detail
    assert "佐证材料" in c.send("4 完成")
    out = c.send("5 受阻")
    assert "已记下“5 受阻”" in out and "佐证材料" in out, out
    out = c.send("跳过")
    assert "4.「" in out and "已提交：已完成" in out and "受阻的原因" in out, out
    out = c.send("资金没到位")
    assert "受阻：资金没到位" in out and "本周已报4/35项" in out, out
    # a figure alone is the answer, not a line: "7" to the percentage question is 7 %
    c.send("6 推进中")
    assert "6.「" in c.send("7") and 7 in [r.percent for r in _this_week(app, ids).values()]


def test_all_unchanged_at_the_list_numbers_the_tasks_as_the_list_on_screen(app: App) -> None:
    """ "其余无变化" after a task was filed as done: the tasks it cannot carry forward are named by the numbers of
    the list on screen (the list was built again without the done task, and every number after it was one less)."""
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    listed = c.send("汇报")
    on_screen = {int(n): label for n, label in re.findall(r"^(\d+)\. \S*?[🔴🟡🟢⚪](.+?)｜", listed, re.M)}
    assert len(on_screen) >= 5, listed
    assert "佐证材料" in c.send("1 完成")
    assert "已提交：已完成" in c.send("跳过")
    out = c.send("其余无变化")
    named = re.findall(r"(\d+)\.([^、，。\n等]+)", out.split("无法沿用", 1)[1])
    assert len(named) >= 3, out
    for n, label in named:
        if int(n) in on_screen:
            assert on_screen[int(n)] == label, (n, label, on_screen)
    assert "1." + on_screen[1] not in out  # the one filed is not among them


def test_a_line_typed_without_spaces_reads_as_with_them(app: App) -> None:
    """ "3推进中60" asked for 3's percentage again (the 60 was glued to 推进中); "6 完成60" is 60 % done, not
    finished; "8完成" typed while 4's reason is asked is 8's line, while "2个乡镇资金没到位" is the reason."""
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    assert re.search(r"3\.「[^」]+」已提交：推进中 60%", c.send("3推进中60"))
    assert re.search(r"6\.「[^」]+」已提交：推进中 60%", c.send("6 完成60"))
    assert "受阻的原因" in c.send("4受阻30%")
    assert "已记下“8完成”" in c.send("8完成")
    out = c.send("2 个乡镇资金没到位")  # a reason that starts with a number, not 2's line
    assert re.search(r"4\.「[^」]+」已提交：受阻 30%：2 个乡镇资金没到位", out) and "佐证材料" in out, out
    assert re.search(r"8\.「[^」]+」已提交：已完成", c.send("跳过"))
    ids = [v.assignment_id for v in _open(app, "墨脱县")]
    assert sorted((r.status, r.percent) for r in _this_week(app, ids).values()) == sorted(
        [(IN_PROGRESS, 60), (IN_PROGRESS, 60), (BLOCKED, 30), (DONE, 100)]
    )


def test_a_line_at_the_first_question_of_a_task_opened_from_the_list_is_a_line(app: App) -> None:
    """6 opened, then "5 推进中 60": 6 was filed as 推进中 (and its 60 dropped). Nothing of 6 was answered, so the
    line is taken as the list takes it; "2 推进中" there still answers with choice 2."""
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    assert "当前状态" in c.send("6")
    out = c.send("5 推进中 60")
    assert re.search(r"5\.「[^」]+」已提交：推进中 60%", out), out
    ids = [v.assignment_id for v in _open(app, "墨脱县")]
    assert [(r.assignment_id, r.percent) for r in _this_week(app, ids).values()] == [(ids[4], 60)]
    assert "当前状态" in c.send("7")
    assert "完成进度百分比" in c.send("2 推进中")  # the choice's number with its label: the answer
    c.send("取消")


def test_a_line_may_name_its_task_instead_of_its_number(app: App) -> None:
    """ "两山实施方案 八成", "污水处理厂建设完成了": the task by its own words, then what it states, as "N …" would;
    a name that says nothing more opens the task; a guess at a name is no line."""
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("两山实施方案 八成")
    assert re.search(r"\d+\.「两山实施方案」已提交：推进中 80%", out), out
    out = c.send("完善领导小组推进中")
    assert "「完善领导小组」还需要补充" in out and "完成进度百分比" in out, out
    assert "「完善领导小组」已提交：推进中 60%" in c.send("六成")
    assert "已为1项提交“无变化”：两山实施方案" in c.send("两山实施方案 没有变化")
    assert "还没有汇报过" in c.send("确定创建目标 无变化")  # nothing to carry forward
    # an indicator's value, a project's investment
    assert re.search(r"\d+\.「农村污水治理率」已提交：推进中 45%", c.send("农村污水治理率 45%"))
    assert "「农村污水处理」还需要补充" in c.send("农村污水处理 投资300万")
    assert "「农村污水处理」已提交：推进中 80% 投资300万元" in c.send("八成")
    out = c.send("细化规划分工 嗯")
    assert "当前状态" in out and "已提交" not in out, out  # opened, as before
    c.send("取消")
    c.send("汇报")
    for alone in ("八成", "推进中", "差不多一半"):  # a line without its task: which one, with an example
        assert c.send(alone) == texts.PICK_LINE_WITHOUT_TASK.format(text=alone, n=35)
    ids = [v.assignment_id for v in _open(app, "墨脱县")]
    assert sorted(r.percent for r in _this_week(app, ids).values() if r.percent is not None) == [60, 80, 80]


def test_a_line_for_a_task_with_a_parked_draft_replaces_the_draft(app: App) -> None:
    """A draft left at "已完成, 佐证?" and then "两山实施方案 八成" at the list: the line is what the task stands at;
    the stale draft is dropped (it was resumed instead, and 八成 was lost), and the person is told."""
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    assert "佐证材料" in c.send("两山实施方案 完成")
    assert "草稿已保存" in c.send("取消")
    c.send("汇报")
    out = c.send("两山实施方案 八成")
    assert "「两山实施方案」已提交：推进中 80%" in out and "之前保存的「两山实施方案」草稿已由这次汇报代替" in out, out
    assert "没有保存的草稿" in c.send("继续") or "草稿" not in c.send("汇报").split("\n")[1]
    # a one-line report outside the list, confirmed, replaces a parked draft too
    c.send("汇报")
    assert "佐证材料" in c.send("两山实施方案 完成")
    c.send("取消")
    c.send("两山实施方案推进中90")
    out = c.send("确认")
    assert "已提交：两山实施方案（推进中 90%）" in out and "草稿已由这次汇报代替" in out, out
    assert "没有未完成的汇报草稿" in c.send("继续")
    # a line refused leaves the draft alone
    c.send("汇报")
    assert "佐证材料" in c.send("完善领导小组 完成")
    c.send("取消")
    c.send("汇报")
    assert "已提交" not in c.send("完善领导小组 150%")
    assert "完善领导小组" in c.send("继续")


def test_percent_typed_as_a_fraction_is_asked_once(app: App) -> None:
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("6 0.8")
    assert "是指完成了 80%" in out
    out = c.pick("80%")
    assert "推进中 80%" in out
    views = _open(app, "墨脱县")
    assert _this_week(app, [views[5].assignment_id])[views[5].assignment_id].percent == 80


def test_a_quantity_in_the_targets_unit_gives_the_progress(app: App) -> None:
    _at_monday(app)
    c = Chat(app, "林草局填报人")
    out = c.send("汇报")
    views = _open(app, "市林草局")
    pos = next(i for i, v in enumerate(views, 1) if v.label == "国土绿化")
    out = c.send(f"{pos} 已完成8000亩")
    assert "已提交" in out
    r = _this_week(app, [views[pos - 1].assignment_id])[views[pos - 1].assignment_id]
    assert r.status == IN_PROGRESS and r.quantity_unit == "万亩" and r.quantity == Decimal("0.8")
    assert r.percent == Decimal("66.7")
    assert "单位不一致" in c.send(f"{pos} 完成3个")


def test_the_target_shows_no_internal_note(app: App) -> None:
    _at_monday(app)
    c = Chat(app, "林草局填报人")
    c.send("汇报")
    out = c.send("国土绿化")
    assert "1.2万亩" in out and "value" not in out and "以万亩计" not in out


def test_questions_are_numbered_in_the_order_asked(app: App) -> None:
    c = Chat(app, "生态环境局填报人")
    c.send("汇报")
    numbers = []
    for text in ("八及曲", "推进中", "60", "1200", "护坡完工", "跳过"):
        out = c.send(text)
        numbers.append(next(ch for ch in out if ch in texts.QUESTION_NUMBERS))
    assert numbers == list(texts.QUESTION_NUMBERS[:6])


def test_same_as_last_time_keeps_each_answer(app: App) -> None:
    _at_monday(app)
    _file_last_week(app, "墨脱县")
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("1")
    assert "上次：推进中 40%" in out and "无变化" in out
    assert "上次：40%" in c.send("推进中")
    assert "上次：上周的工作" in c.send("同上")
    views = _open(app, "墨脱县")
    out = c.send("同上")
    for _ in range(5):
        if "请核对" in out:
            break
        out = c.send("跳过")
    assert "• 进度：40%" in out and "• 工作情况：上周的工作" in out
    c.send("确认")
    r = _this_week(app, [views[0].assignment_id])[views[0].assignment_id]
    assert r.percent == 40 and not r.no_change


def test_no_change_to_the_status_question_files_at_once(app: App) -> None:
    _at_monday(app)
    before = _file_last_week(app, "墨脱县")
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    c.send("2")
    out = c.send("无变化")
    assert "已为1项提交“无变化”" in out
    views = _open(app, "墨脱县")
    r = _this_week(app, [views[1].assignment_id])[views[1].assignment_id]
    assert r.no_change and r.percent == before[views[1].assignment_id].percent


def test_several_drafts_resumed_and_discarded_one_by_one(app: App) -> None:
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    # 2 and 3: after the overdue 选取两山创建主体 (due 4月30日), the first two due
    c.send("2")
    c.send("推进中")
    c.send("50")
    assert "草稿已保存" in c.send("取消")
    c.send("汇报")
    c.send("3")
    c.send("受阻")
    c.send("取消")
    out = c.send("汇报")
    assert out.count("📝草稿") == 2
    out = c.send("继续")
    assert "2份未完成的草稿" in out
    out = c.send("2")  # the second draft listed: task 2, at its percentage
    assert "国家示范县申报" in out and "完成进度百分比" in out
    out = c.send("删除草稿")
    assert "已删除" in out
    out = c.send("继续")  # one left: resumed at once, where it was left
    assert "两山实施方案" in out and "做了哪些工作" in out
    c.send("取消")
    assert "已删除" in c.send("删除草稿")
    assert "没有未完成的汇报草稿" in c.send("继续")


def test_picking_a_task_with_a_draft_resumes_it(app: App) -> None:
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    c.send("1")
    c.send("推进中")
    c.send("取消")
    c.send("汇报")
    out = c.send("1")
    assert "接着填写" in out and "完成进度百分比" in out


def test_edit_from_done_to_in_progress_asks_the_percentage(app: App) -> None:
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    c.send("1")
    c.send("已完成")
    for _ in range(6):
        out = c.send("跳过")
        if "请核对" in out:
            break
    c.send("确认")
    c.send("结束")
    c.send("修改上次汇报")
    c.send("修改 状态")
    out = c.send("推进中")
    assert "完成进度百分比" in out
    out = c.send("70")
    assert "• 进度：70%" in out
    out = c.send("确认")
    assert "已更正" in out
    with app.session_factory() as s:
        newest = s.execute(select(Report).order_by(Report.id.desc()).limit(1)).scalar_one()
        assert (newest.status, newest.percent) == (IN_PROGRESS, Decimal(70))


def test_after_a_correction_the_unreported_count_is_true(app: App) -> None:
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    c.send("1 推进中 30")
    c.send("结束")
    c.send("修改上次汇报")
    c.send("修改 进度")
    c.send("35")
    out = c.send("确认")
    assert "还有34项" in out and "都已汇报" not in out


def test_items_of_the_plan_each_kind_reachable_in_the_list(app: App) -> None:
    """墨脱县's list holds its tasks, projects and indicators (35 in all)."""
    with app.session_factory() as s:
        kinds = {
            k
            for (k,) in s.execute(
                select(Item.kind)
                .join(Assignment, Assignment.item_id == Item.id)
                .join(Organisation)
                .where(Organisation.name == "墨脱县")
            )
        }
    assert {PROJECT, INDICATOR} <= kinds


def test_the_percentage_question_takes_a_quantity_against_the_target(app: App) -> None:
    _at_monday(app)
    c = Chat(app, "林草局填报人")
    c.send("汇报")
    c.send("国土绿化")
    out = c.send("推进中")
    assert "目标1.2万亩" in out
    out = c.send("已完成8000亩")
    assert "做了哪些工作" in out
    for _ in range(5):
        out = c.send("跳过") if "请核对" not in out else out
    assert "• 进度：66.7%" in out
    c.send("确认")
    views = _open(app, "市林草局")
    aid = next(v.assignment_id for v in views if v.label == "国土绿化")
    r = _this_week(app, [aid])[aid]
    assert (r.percent, r.quantity, r.quantity_unit) == (Decimal("66.7"), Decimal("0.8"), "万亩")


def test_all_unchanged_typed_out_of_the_blue_asks_to_confirm(app: App) -> None:
    _at_monday(app)
    _file_last_week(app, "墨脱县")
    c = Chat(app, OFFICIAL)
    assert "将为本周还未汇报的35项提交“无变化”" in c.send("全部无变化")
    assert "都已汇报" in c.send("确认")


# ---- what people type, as the check-in stores it ---------------------------------------------------------------

# A line of the list (task 3 is a task of 墨脱县 with no quantified target) → (status, percent, low, high).
LINES = [
    ("3 推进中 60", IN_PROGRESS, "60", None, None),
    ("3 60", IN_PROGRESS, "60", None, None),
    ("3 八成", IN_PROGRESS, "80", None, None),
    ("3 七八成", IN_PROGRESS, "75", "70", "80"),
    ("3 差不多一半", IN_PROGRESS, "50", None, None),
    ("3 40左右", IN_PROGRESS, "40", None, None),
    ("3 约40%", IN_PROGRESS, "40", None, None),
    ("3 三分之一", IN_PROGRESS, "33.3", None, None),
    ("3 百分之百", DONE, "100", None, None),
    ("3 在弄了 30", IN_PROGRESS, "30", None, None),
    ("3 正在推进，六七成", IN_PROGRESS, "65", "60", "70"),
    ("3 已经完成", DONE, "100", None, None),
    ("3 完成", DONE, "100", None, None),
    ("3 搞定了", DONE, "100", None, None),
    ("3 还没开始", "not_started", "0", None, None),
    ("3 受阻 资金未到位", BLOCKED, None, None, None),
    ("3：推进中，60%", IN_PROGRESS, "60", None, None),
    ("第3项 推进中 60", IN_PROGRESS, "60", None, None),
]


@pytest.mark.parametrize(("typed", "status", "percent", "low", "high"), LINES, ids=[x[0] for x in LINES])
def test_a_line_typed_as_people_do_is_stored_as_meant(app: App, typed, status, percent, low, high) -> None:
    _at_monday(app)
    aid = _open(app, "墨脱县")[2].assignment_id
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send(typed)
    if "佐证材料" in out:
        out = c.send("跳过")
    assert "已提交" in out, out
    r = _this_week(app, [aid])[aid]
    assert r.status == status
    assert r.percent == (Decimal(percent) if percent is not None else None)
    assert (r.percent_low, r.percent_high) == (
        Decimal(low) if low else None,
        Decimal(high) if high else None,
    )


# Answers to the full check-in's questions → what the summary shows.
ANSWERS = [
    ("percent", "七八成", "75%（70–80%）"),
    ("percent", "约40", "40%"),
    ("percent", "三分之一", "33.3%"),
    ("percent", "一半多", "50%"),
    ("date", "下周五", "7月21日（周五）"),
    ("date", "月底", "7月31日（周一）"),
    ("date", "9月", "9月30日（周六）"),
    ("date", "国庆前", "9月28日（周四）"),
    ("date", "20230630", None),  # in the past on 2023-07-10: refused
    ("date", "20231115", "11月15日（周三）"),
    ("date", "年底", "12月31日（周日）"),
    ("date", "2月30日", None),
]


@pytest.mark.parametrize(("step", "typed", "shown"), ANSWERS, ids=[f"{x[0]}-{x[1]}" for x in ANSWERS])
def test_an_answer_typed_as_people_do_is_read_back(app: App, step, typed, shown) -> None:
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    c.send("3")
    c.send("推进中")
    if step == "percent":
        out = c.send(typed)
        assert "做了哪些工作" in out
        c.send("做了一些工作")
        for _ in range(4):
            out = c.send("跳过")
        assert f"• 进度：{shown}" in out
        return
    c.send("50")
    c.send("做了一些工作")
    c.send("跳过")
    c.send("跳过")
    out = c.send(typed)
    if shown is None:
        assert "预计完成日期" in out and ("没看懂" in out or "已经过去" in out)
        return
    assert f"预计完成日期记为：{shown}" in out
    out = c.send("跳过")
    assert f"• 预计完成：{shown}" in out


def test_impossible_values_are_refused_and_nothing_is_lost(app: App) -> None:
    _at_monday(app)
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    c.send("3")
    c.send("推进中")
    assert "0 到 100" in c.send("120")
    assert "0–100" in c.send("十三成")
    assert "0–100" in c.send("百分之负十")
    out = c.send("60")
    assert "做了哪些工作" in out
    c.send("取消")
    out = c.send("继续")
    assert "做了哪些工作" in out  # the 60 is kept with the draft


def test_not_applicable_with_a_reason_is_reviewed_and_closes_the_item(app: App) -> None:
    _at_monday(app)
    views = _open(app, "墨脱县")
    aid = views[1].assignment_id  # 国家示范县申报: "符合条件的县…", which may not apply
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    out = c.send("2 不适用")
    assert "不适用的理由" in out
    out = c.send("本县暂不符合申报条件")
    assert "已提交" in out and "不适用" in out
    r = _this_week(app, [aid])[aid]
    assert (r.status, r.percent, r.description) == ("not_applicable", None, "本县暂不符合申报条件")
    coordinator = Chat(app, "协调员")
    coordinator.send("待审核")
    out = coordinator.send("1")
    assert "不适用" in out and "本县暂不符合申报条件" in out
    coordinator.send("通过")
    assert aid not in {v.assignment_id for v in _open(app, "墨脱县")}


def test_not_applicable_in_the_full_walk_through_needs_a_reason(app: App) -> None:
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    c.send("2")
    out = c.send("不适用")
    assert "不适用的理由" in out and "跳过" not in out
    assert "太短" in c.send("无")  # a reason is required: "无" is no reason
    c.send("本县不是国家示范县申报对象")
    out = c.send("跳过")  # evidence
    assert "• 状态：不适用" in out and "• 进度" not in out
