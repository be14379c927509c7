"""Questions through the engine as people type them, on the shipped plan with reports filed: organisation,
group and whole-city progress, tasks, projects, indicators, overdue, unreported, investment, ambiguity choices,
paging, permissions, one-line reports and the understanding's refresh after a plan change."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import yaml
from sqlalchemy import select

from bot.app import build_app
from core.messages import IncomingMessage
from db.models import IN_PROGRESS, Assignment, Item, OrgAlias, Organisation, Plan, Report
from db.repositories import orgs, plans, progress, reports
from handlers import queries, texts
from handlers.queries.dialogue import report_candidates
from handlers.understanding.nlu import NLU, REPORT
from tests.conftest import Chat
from tests.test_nlu_cases import EXTRA_CASES

WECOM_LIMIT = 2048  # bytes of one text message


def _file(app: Any, org_name: str, code: str, days_ago: float = 0, **fields: Any) -> int:
    """File a report as if sent `days_ago` days before now; returns the assignment id."""
    with app.session_factory() as s, s.begin():
        org = orgs.require_org(s, org_name)
        a = s.execute(
            select(Assignment).join(Item).where(Item.code == code, Assignment.organisation_id == org.id)
        ).scalar_one()
        reports.add_report(s, a, None, "console", app.clock.utcnow() - dt.timedelta(days=days_ago), fields)
        return a.id


def _count(app: Any, org_name: str) -> progress.Counts:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        org = orgs.require_org(s, org_name)
        return progress.count(progress.assignment_views(s, plan, app.clock.today(), org_ids=[org.id]))


def _light_lines(out: str) -> list[str]:
    """The lines of an answer that start with a traffic light."""
    return [line for line in out.splitlines() if line[:1] and line[0] in "🔴🟡🟢"]


# ---- organisations --------------------------------------------------------------------------------------


def test_whether_an_item_was_reported_is_answered_for_the_item(app, chat):
    """ "两山实施方案报了吗" was answered for the whole unit ("墨脱县近7天已汇报"); it is the item, unit by unit."""
    _file(app, "墨脱县", "C3-4-04", days_ago=1, status="in_progress", percent=70)
    _file(app, "米林县", "C3-4-04", days_ago=9, status="in_progress", percent=20)
    out = chat("墨脱填报人").send("两山实施方案报了吗")
    assert out == "「两山实施方案」（墨脱县）5月23日已汇报：推进中 70%（待审核）", out
    out = chat("协调员").send("两山实施方案汇报了没有")
    assert out.startswith("「两山实施方案」近7天（5月17日以来）1个单位已汇报，3个未汇报："), out
    assert "米林：近7天没有汇报（上次：5月15日 推进中 20%）" in out and "朗县：还没有汇报过" in out, out
    assert out.splitlines()[-1].endswith("墨脱：5月23日已汇报：推进中 70%（待审核）"), out
    # a unit without the item: the unit's answer, as before
    assert chat("协调员").send("巴宜区汇报了吗").startswith("巴宜区近7天")


def test_what_a_unit_reported_lists_its_reports(app, chat):
    """ "我这周报了什么" was a table of units (one line: 墨脱县 2条); one unit's question lists its reports."""
    _file(app, "墨脱县", "C3-4-04", days_ago=1, status="in_progress", percent=70)
    _file(app, "墨脱县", "C3-2-05", days_ago=0.5, status="blocked", problems="资金没到位")
    _file(app, "米林县", "C3-4-04", days_ago=1, status="in_progress", percent=20)
    out = chat("墨脱填报人").send("我这周报了什么")
    lines_ = out.splitlines()
    assert lines_[0] == "5月22日–5月24日墨脱县报送2条：", out
    assert lines_[1].startswith("1. 填埋场应对方案 受阻（") and "待审核" in lines_[1], out
    assert lines_[2].startswith("2. 两山实施方案 推进中 70%（2023-05-23"), out
    assert "米林" not in out
    assert chat("协调员").send("米林县上周报了什么") == "5月15日–5月21日米林县没有汇报。"


def test_blocked_is_said_once_with_or_without_a_percentage(app, chat):
    _file(app, "墨脱县", "C3-2-05", days_ago=2, status="blocked", problems="资金没到位")
    out = chat("协调员").send("墨脱县进度")
    assert "🔴填埋场应对方案 受阻 · 5月22日" in out and "受阻 受阻" not in out, out
    _file(app, "墨脱县", "C3-2-05", days_ago=1, status="blocked", percent=10, problems="资金没到位")
    assert "🔴填埋场应对方案 10% 受阻 · 5月23日" in chat("协调员").send("墨脱县进度")


def test_org_progress_header_lines_and_urgency(app, chat):
    _file(app, "墨脱县", "C3-2-03", days_ago=4, status="in_progress", percent=30)
    _file(app, "墨脱县", "C3-0-01", days_ago=1, status="done", percent=100)
    _file(app, "墨脱县", "C3-2-05", days_ago=2, status="blocked", percent=10, problems="资金没到位")
    c = chat("协调员")
    out = c.send("墨脱进展怎么样")
    n, overdue = _count(app, "墨脱县").total, _count(app, "墨脱县").overdue
    first = out.splitlines()[0]
    # 逾期: 选取两山创建主体 (C3-4-03, its deadline inferred as 4月30日) is past due and never reported
    assert overdue == 1
    assert first == f"【墨脱县】共{n}项：已完成1、推进中1、未启动{n - 3}、受阻1、逾期{overdue}"
    assert "🔴填埋场应对方案 10% 受阻 · 5月22日" in out  # blocked: red, first
    assert out.splitlines()[1].startswith("🔴")
    # never reported past the grace period, due in a week: 🟡 未汇报, not 滞后 (nothing reported to lag)
    assert "🟡两山实施方案 未汇报 7天后到期" in out
    assert "未汇报 滞后" not in out
    # a reply fits WeCom and the phone: paged
    assert len(out.encode()) <= WECOM_LIMIT
    assert "回复“更多”查看下一页" in out
    pages = [out]
    while "回复“更多”" in pages[-1] and len(pages) < 10:
        pages.append(c.send("更多"))
    everything = "\n".join(pages)
    assert "🟢污水处理厂建设 30% · 5月20日" in everything  # 30% against ~27% expected for today: on track
    lines = _light_lines(everything)
    assert len(lines) == n
    order = {"🔴": 0, "🟡": 1, "🟢": 2}
    assert [order[line[0]] for line in lines] == sorted(order[line[0]] for line in lines)
    assert lines[-1] == "🟢完善领导小组 100% · 5月23日"  # done last


def test_paging_until_the_end(app, chat):
    _file(app, "墨脱县", "C3-0-01", days_ago=1, status="done", percent=100)
    c = chat("协调员")
    pages = [c.send("墨脱县进度")]
    while "回复“更多”" in pages[-1]:
        pages.append(c.send("更多"))
        assert len(pages) < 10
    assert len(pages) >= 2
    assert all(len(p.encode()) <= WECOM_LIMIT for p in pages)
    assert "续，第2/" in pages[1]
    shown = _light_lines("\n".join(pages))
    assert len(shown) == _count(app, "墨脱县").total
    assert "完善领导小组 100% · 5月23日" in pages[-1]  # done tasks come last
    assert c.send("更多") == "已经是最后一页了。"


def test_later_name_short_name_and_department_short_forms(app, chat):
    c = chat("协调员")
    assert c.send("米林市进度").startswith("【米林县】")
    assert c.send("工布江达").startswith("【工布江达县】")
    assert c.send("住建局进度").startswith("【市住房和城乡建设局】")
    assert c.send("交运局").startswith("【市交通局】")
    assert c.send("默脱进度").startswith("【墨脱县】")  # typed with the wrong homophone


def test_several_organisations_and_groups(app, chat):
    _file(app, "墨脱县", "C3-4-04", days_ago=1, status="in_progress", percent=20)
    c = chat("协调员")
    out = c.send("巴宜和波密进度")
    assert len(c.last) == 2
    assert c.last[0].text.startswith("【巴宜区】") and c.last[1].text.startswith("【波密县】")
    out = c.send("边境县进度")
    assert out.startswith("【边境县】4个单位")
    units = [line.split()[0][1:] for line in _light_lines(out)]
    assert sorted(units) == sorted(["米林", "朗县", "察隅", "墨脱"])
    assert re.search(rf"墨脱 完成\d+(\.\d)?% 滞后\d+ 逾期{_count(app, '墨脱县').overdue}", out)
    out = c.send("全市进度")
    assert out.startswith("【全市】")
    assert "回复“更多”" in out and len(out.encode()) <= WECOM_LIMIT


# ---- tasks, projects, indicators --------------------------------------------------------------------------


def test_task_of_one_organisation(app, chat):
    _file(app, "墨脱县", "C3-2-03", days_ago=3, status="in_progress", percent=60, problems="设备未到货")
    out = chat("协调员").send("墨脱县污水处理厂建设进度")
    assert out.startswith("【墨脱县】墨脱县尽快完成县城生活污水处理厂建设并投入运行")
    assert "60%" in out and "序时进度：" in out and "5月21日" in out and "设备未到货" in out


def test_project_investment_and_physical_progress(app, chat):
    _file(
        app,
        "市生态环境局",
        "P2",
        days_ago=4,
        status="in_progress",
        percent=40,
        investment_done=Decimal(800),
        physical_progress="生态护坡完成60%",
    )
    out = chat("协调员").send("八及曲项目")
    assert out.startswith("【项目2】尼洋河支流八及曲水生态修复项目")
    assert "投资：已完成 800 / 计划 2335 万元（34.3%）" in out
    assert "形象进度：生态护坡完成60%" in out
    assert "最近汇报：5月20日（市生态环境局）" in out


def test_investment_of_all_projects(app, chat):
    _file(app, "市生态环境局", "P2", status="in_progress", percent=40, investment_done=Decimal(800))
    _file(app, "墨脱县", "P8", status="in_progress", percent=40, investment_done=Decimal(100))
    _file(app, "朗县", "P8", status="in_progress", percent=40, investment_done=Decimal(50))
    out = chat("协调员").send("项目投资完成情况")
    assert out.startswith("工程项目9个，计划总投资15376万元，已完成950万元（6.2%）")
    assert "项目2 八及曲：800/2335万元（34.3%）" in out
    assert "项目8 农村污水处理：150/2350万元（6.4%）" in out
    assert "项目9 畜禽粪污：计划2998万元，未填报" in out


def test_indicator_met_not_met_unreported(app, chat):
    c = chat("协调员")
    out = c.send("林草覆盖率达标了吗")
    assert out.startswith("【指标15】林草覆盖率（%）")
    assert "目标：≥80" in out and "最新值：未填报" in out and "责任单位：市林草局" in out
    _file(
        app,
        "市林草局",
        "I15",
        days_ago=1,
        status="in_progress",
        indicator_value="79.5%",
        indicator_number=Decimal("79.5"),
    )
    assert "最新值：79.5%（5月23日，市林草局）→ 未达标" in c.send("林草覆盖率")
    _file(app, "市林草局", "I15", status="done", indicator_value="81.2%", indicator_number=Decimal("81.2"))
    assert "→ 达标" in c.send("森林覆盖率达标没")


def test_indicator_of_many_units(app, chat):
    _file(app, "墨脱县", "I1", days_ago=1, status="done", indicator_value="已印发实施")
    out = chat("协调员").send("指标1")
    assert out.startswith("【指标1】生态文明建设规划")
    # the city's figure (every unit must 达标), not 墨脱县's value as the city's
    assert "全市（24个单位均需达标）：达标1、未填报23 → 待判定" in out and "最新值" not in out
    assert re.search(r"责任单位：\d+个，各单位填报情况如下", out)
    assert "🟡巴宜 未填报" in out  # units in plan order within the same light
    assert len(out.encode()) <= WECOM_LIMIT


def test_indicator_with_sub_indicators(app, chat):
    out = chat("协调员").send("空气质量")
    assert out.startswith("【指标12】环境空气质量")
    assert "12.1 优良天数比例" in out and "12.2 PM2.5浓度下降幅度" in out


# ---- ambiguity ---------------------------------------------------------------------------------------------


def test_ambiguous_project_asks_then_answers(app, chat):
    c = chat("协调员")
    out = c.send("湿地项目")
    assert "您指的是哪一个" in out
    # each choice says whose it is
    assert c.choices == ["项目3·冲康村湿地（生态环境局）", "项目7·朱拉河湿地（工布江达县人民政府）"]
    assert app.engine.conversation_state("console", "协调员", "协调员")[0] == "query.pick"
    out = c.pick("朱拉河")
    assert out.startswith("【项目7】工布江达县朱拉河国家湿地保护与恢复工程")
    assert app.engine.conversation_state("console", "协调员", "协调员")[0] == "idle"
    # the organisation decides: 朗县 + 湿地 is the 冲康村 project
    assert chat("协调员").send("朗县湿地项目").startswith("【项目3】")


def test_ambiguous_organisation_numbered_choice_or_new_question(app, chat):
    c = chat("协调员")
    out = c.send("工布江达生态环境局")
    assert "1. 市生态环境局工布江达县分局" in out
    assert c.send("1").startswith("【市生态环境局工布江达县分局】")
    c.send("环境局进度")
    assert set(c.choices) == {"市生态环境局", "市生态环境局工布江达县分局"}
    # not a choice: taken as a new question
    assert c.send("墨脱县进度").startswith("【墨脱县】")


# ---- overdue, unreported ---------------------------------------------------------------------------------


def test_overdue_city_and_one_organisation(app, chat):
    for county in ("米林县", "朗县", "察隅县", "墨脱县"):  # the one task due before 5月24日 (选取两山创建主体), done
        _file(app, county, "C3-4-03", days_ago=30, status="done", percent=100)
    c = chat("协调员")
    out = c.send("哪些任务逾期了")
    assert out.startswith("【全市】目前没有逾期任务。")
    assert "7天内到期" in out and "墨脱｜两山实施方案 5月31日到期" in out
    _file(app, "墨脱县", "C3-4-04", status="done", percent=100)
    app.clock.set(dt.datetime(2023, 6, 5, 9, 0), frozen=True)
    out = c.send("超期任务")
    assert out.startswith("【全市】逾期任务3项：")
    assert "🔴米林｜两山实施方案 逾期5天 未汇报" in out
    assert "墨脱｜两山实施方案" not in out
    out = c.send("朗县有逾期的吗")
    assert out.startswith("【朗县】逾期任务1项：") and "两山实施方案 逾期5天" in out
    assert c.send("墨脱有没有超期的").startswith("【墨脱县】目前没有逾期任务。")
    # a kind asked: that kind only (the 3 overdue are tasks; this listed them as "逾期任务3项")
    assert c.send("逾期的项目").startswith("【全市】目前没有逾期项目。")
    assert c.send("哪些指标逾期了").startswith("【全市】目前没有逾期指标。")


def test_unreported_this_week(app, chat):
    _file(app, "墨脱县", "C3-2-03", days_ago=2, status="in_progress", percent=30)
    _file(app, "朗县", "C3-0-01", days_ago=10, status="in_progress", percent=30)
    c = chat("协调员")
    pages = [c.send("本周谁还没汇报")]
    while "回复“更多”" in pages[-1] and len(pages) < 10:
        pages.append(c.send("更多"))
    everything = "\n".join(pages)
    n_orgs = everything.splitlines()[0]
    assert n_orgs.startswith("近7天（5月17日以来）1个单位已汇报，") and n_orgs.endswith("个单位未汇报：")
    assert "墨脱县" not in everything
    assert "巴宜区（巴宜填报人）｜从未汇报" in everything
    assert "朗县（朗县填报人）｜上次汇报5月14日" in everything
    assert (
        c.send("墨脱汇报了吗")
        == "墨脱县近7天已汇报，最近一次：5月22日。\n其35项中有34项从未汇报，发送“墨脱县进度”查看。"
    )
    assert (
        c.send("朗县汇报了吗") == "朗县近7天没有汇报（上次汇报5月14日）。\n其34项中有33项从未汇报，发送“朗县进度”查看。"
    )
    assert c.send("米林县有几项没报").endswith("其34项都还没有汇报过，发送“米林县进度”查看。")


# ---- people and permissions ----------------------------------------------------------------------------------


def test_official_sees_own_organisation_only(app, chat, settings, clock):
    c = chat("墨脱填报人")
    assert c.send("我的任务").startswith("【墨脱县】")
    assert c.send("进度").startswith("【墨脱县】")
    assert "只能查询本单位（墨脱县）" in c.send("巴宜进度")
    assert "全市情况请向市委生态文明办了解" in c.send("全市进度")
    assert c.send("谁还没汇报").startswith("墨脱县近7天没有汇报（从未汇报）。\n")  # about their own organisation
    assert c.send("我们单位有逾期吗").startswith("【墨脱县】")
    assert "不是本单位（墨脱县）的任务" in c.send("八及曲项目")
    open_app = build_app(settings.model_copy(update={"open_queries": True}), clock=clock)
    try:
        assert Chat(open_app, "墨脱填报人").send("巴宜进度").startswith("【巴宜区】")
    finally:
        open_app.close()


def test_help_unknown_and_thanks(app, chat):
    c = chat("协调员")
    assert c.send("你能做什么") == texts.HELP_COORDINATOR
    out = c.send("今天天气怎么样")
    assert out.startswith("没太明白“今天天气怎么样”") and "• 墨脱县进度" in out
    assert "• 我的任务" in chat("墨脱填报人").send("哈哈哈")
    assert c.send("谢谢") == "不客气，有需要随时发消息给我。"


def test_every_question_gets_a_phone_sized_answer(app, chat):
    """Never silence, never too long: every non-report example of our own, as the coordinator (the public examples
    beside the repository: `.ci/check_shared.py`)."""
    cases = yaml.safe_load(EXTRA_CASES.read_text(encoding="utf-8"))
    c = chat("协调员")
    for case in cases:
        if case["intent"] == REPORT:
            continue
        c.send("取消")
        out = c.send(case["text"])
        assert out.strip(), case["text"]
        for r in c.last:
            assert len(r.text.encode()) <= WECOM_LIMIT, case["text"]
        assert "抱歉，系统刚才出了点问题" not in out, case["text"]


# ---- one-line reports ------------------------------------------------------------------------------------------


def test_oneliner_understanding_and_candidates(app):
    nlu: NLU = app.services["nlu"]
    u = nlu.understand("污水处理设施建设完成80%")
    assert (u.intent, u.percent, u.status) == (REPORT, Decimal(80), None)
    u2 = nlu.understand("两山基地实施方案已印发")
    assert (u2.intent, u2.status) == (REPORT, "done")
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        org = orgs.require_org(s, "墨脱县")
        codes = {
            a.id: a.item.code
            for a in s.execute(select(Assignment).where(Assignment.organisation_id == org.id)).scalars()
        }

        class _Ctx:  # what report_candidates needs of a Context
            session = s
            clock = app.clock

        found = [codes[i] for i in report_candidates(_Ctx(), nlu, plan, u, org.id)]  # type: ignore[arg-type]
        assert found and set(found) <= {"C3-2-02", "C3-2-03", "C3-2-01", "P8"}
        assert "C3-2-02" in found[:2]
        found2 = [codes[i] for i in report_candidates(_Ctx(), nlu, plan, u2, org.id)]  # type: ignore[arg-type]
        assert found2[0] == "C3-4-04"
        u3 = nlu.understand("今天天气不错已完成")
        assert report_candidates(_Ctx(), nlu, plan, u3, org.id) == []  # type: ignore[arg-type]


def test_oneliner_through_engine_starts_checkin(app, chat):
    c = chat("墨脱填报人")
    out = c.send("污水处理厂建设完成80%")
    state, data = app.engine.conversation_state("console", "墨脱填报人", "墨脱填报人")
    assert state.startswith("checkin."), out
    assert "污水处理厂建设" in out and "80" in out
    c.send("确认")
    with app.session_factory() as s:
        rep = s.execute(select(Report).order_by(Report.id.desc())).scalars().first()
        assert rep is not None and rep.percent == Decimal(80)
        assert s.get(Item, s.get(Assignment, rep.assignment_id).item_id).code == "C3-2-03"


def test_oneliner_with_a_bare_number_after_the_status_and_a_day_ahead(app, chat):
    """ "推进中 60" is 60 % as in the check-in list's "3 推进中 60"; a day ahead is the expected day, a day past is
    not (the default clock is Wednesday 2023-05-24: 下周五 is 6月2日)."""
    c = chat("墨脱填报人")
    out = c.send("两山基地申报 推进中 60 预计下周五完成")
    assert "进度：60%" in out and "预计完成：6月2日" in out, out
    c.send("确认")
    with app.session_factory() as s:
        rep = s.execute(select(Report).order_by(Report.id.desc())).scalars().first()
        assert rep is not None and rep.percent == Decimal(60) and rep.expected_date == dt.date(2023, 6, 2)
    c.send("取消")
    out = c.send("两山实施方案 进行中 45")
    assert "进度：45%" in out and "预计完成：无" in out, out
    c.send("取消")
    out = c.send("两山实施方案5月20日已完成")
    assert "状态：已完成" in out and "预计完成：5月" not in out, out


def test_an_item_said_done_on_a_day_ahead_is_a_report_of_when_it_is_expected_done(app, chat):
    """ "污水处理厂下周五前完成" states no status or figure: the item is in progress and expected done then (the
    default clock is Wednesday 2023-05-24: 下周五 is 6月2日); "全部完成" on a day ahead is not done yet."""
    c = chat("墨脱填报人")
    out = c.send("污水处理厂下周五前完成")
    assert "请核对本次汇报" in out and "状态：推进中" in out and "预计完成：6月2日" in out, out
    c.send("确认")
    with app.session_factory() as s:
        rep = s.execute(select(Report).order_by(Report.id.desc())).scalars().first()
        assert rep is not None and rep.status == IN_PROGRESS and rep.expected_date == dt.date(2023, 6, 2)
        assert rep.percent is None
    out = c.send("污水处理厂预计下周五全部完成")
    assert "状态：推进中" in out and "预计完成：6月2日" in out, out
    c.send("取消")
    out = c.send("污水处理厂差不多一半了，预计下周五完成！")
    assert "工作情况：污水处理厂差不多一半了，预计下周五完成！" in out, out  # as typed, punctuation kept
    c.send("取消")
    # asked, or what falls due: no report
    for question in ("污水处理厂下周五前完成吗", "下周五前完成的任务", "污水处理厂下周五要完成"):
        out = c.send(question)
        assert "请核对本次汇报" not in out, (question, out)
    assert "已完成的事项" not in c.send("下周五前完成的任务")  # a day ahead: what falls due, not what is done


def test_the_summary_shows_last_time_and_warns_when_this_one_says_less(app, chat):
    c = chat("墨脱填报人")
    first = c.send("两山实施方案 推进中 60")
    assert "上次汇报" not in first  # nothing before
    c.send("确认")
    c.send("取消")
    more = c.send("两山实施方案 推进中 80")
    assert "（上次汇报：推进中 60%，5月24日，待审核）" in more and texts.SUMMARY_LOWER not in more
    c.send("确认")
    c.send("取消")
    less = c.send("两山实施方案 推进中 30")
    assert "（上次汇报：推进中 80%" in less and texts.SUMMARY_LOWER in less
    c.send("取消")
    c.send("两山实施方案 已完成")
    c.send("确认")
    c.send("取消")
    undone = c.send("两山实施方案 受阻 资金未到位")
    assert "（上次汇报：已完成 100%" in undone and texts.SUMMARY_LOWER in undone


def test_oneliner_in_a_group_is_not_taken(app):
    msg = IncomingMessage(
        channel="console",
        chat_id="group-1",
        user_id="墨脱填报人",
        text="污水处理厂建设完成80%",
        message_id="g-1",
        is_group=True,
        addressed=True,
    )
    replies = app.engine.handle(msg)
    assert replies and "私聊" in replies[0].text


# ---- refresh -----------------------------------------------------------------------------------------------------


def test_understanding_follows_a_plan_change(app, chat):
    c = chat("协调员")
    assert c.send("莲花秘境进度").startswith("没太明白")
    with app.session_factory() as s, s.begin():
        org = s.execute(select(Organisation).where(Organisation.name == "墨脱县")).scalar_one()
        s.add(OrgAlias(organisation_id=org.id, alias="莲花秘境", kind="alias"))
        plan = s.execute(select(Plan)).scalars().first()
        assert plan is not None
        plan.source_digest = "changed"  # what a re-import does
    assert c.send("莲花秘境进度").startswith("【墨脱县】")


def test_install_without_schema_still_understands(empty_db_url):
    from db.engine import make_engine, make_session_factory

    engine = make_engine(empty_db_url)
    try:
        services: dict[str, Any] = {}
        queries.install(services, make_session_factory(engine))
        nlu = services["nlu"]
        assert nlu.understand("谁还没汇报").intent == "unreported"
        assert nlu.understand("墨脱县进度").org_ids == ()
    finally:
        engine.dispose()
