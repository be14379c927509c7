"""The questions of a plan under way (issue 15), answered on 2023-07-10 through the engine and the console
channel as a coordinator and as 墨脱县's official would ask them, with reports filed: items due in a window
(with the window stated), counts, lagging and blocked lists with reasons, the problems raised, indicators not
达标, who reported in a window, rankings, the review queue, returned reports, an official's own unreported items,
and an official's ambiguous words resolved within his own items.

The answers are checked, not only the understanding: each question's reply names what it must and leaves out
what it must not.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.channels.console import run_console
from config.clock import Clock
from config.settings import Settings
from db.models import Assignment, Item, Person, Report
from db.repositories import orgs, reports
from tests.conftest import Chat

NOW = dt.datetime(2023, 7, 10, 10, 0)  # a Monday
WECOM_LIMIT = 2048


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    a = build_app(settings.model_copy(update={"now": NOW}), clock=Clock("Asia/Shanghai", NOW, frozen=True))
    yield a
    a.close()


def _file(app: App, org_name: str, code: str, days_ago: float, **fields: Any) -> Report:
    with app.session_factory() as s, s.begin():
        org = orgs.require_org(s, org_name)
        a = s.execute(
            select(Assignment).join(Item).where(Item.code == code, Assignment.organisation_id == org.id)
        ).scalar_one()
        r = reports.add_report(s, a, None, "console", app.clock.utcnow() - dt.timedelta(days=days_ago), fields)
        s.flush()
        s.expunge(r)
        return r


def _return(app: App, report_id: int, reason: str) -> None:
    with app.session_factory() as s, s.begin():
        coordinator = s.execute(select(Person).where(Person.name == "协调员")).scalar_one_or_none()
        coordinator = coordinator or s.execute(select(Person).where(Person.role == "coordinator")).scalars().first()
        assert coordinator is not None
        report = s.get(Report, report_id)
        assert report is not None
        outcome = reports.review(s, report, coordinator, False, app.clock.utcnow(), reason)
        assert outcome.done


@pytest.fixture
def filed(app: App) -> App:
    """A week of reports: blocked, lagging, problems, a failed indicator, one returned, one this Monday."""
    _file(app, "墨脱县", "C3-2-05", 3, status="blocked", percent=10, problems="资金没到位")
    _file(app, "米林县", "C3-0-03", 2, status="in_progress", percent=5)  # far behind 序时进度
    _file(app, "市水利局", "D05-01", 1, status="in_progress", percent=50, problems="专业技术人员不足")
    _file(app, "市生态环境局", "P1", 2, status="blocked", percent=20, problems="征地手续未完成")
    _file(app, "市城市管理综合执法局", "I31", 1, status="in_progress", indicator_value="80%", indicator_number=80)
    sent_back = _file(app, "朗县", "C3-0-01", 4, status="done", percent=100)
    _return(app, sent_back.id, "缺少领导小组名单")
    _file(app, "墨脱县", "C3-0-01", 0, status="done", percent=100)  # this Monday
    return app


def _lines(out: str) -> list[str]:
    return out.splitlines()


def _ask(chat: Chat, text: str) -> str:
    chat.send("取消")
    out = chat.send(text)
    assert out.strip(), text
    assert all(len(r.text.encode()) <= WECOM_LIMIT for r in chat.last), text
    assert "抱歉，系统" not in out, text
    return out


# ---- as the coordinator ------------------------------------------------------------------------------------


def test_due_in_a_window_states_the_window(filed: App, chat: Any) -> None:
    c = chat("协调员")
    out = _ask(c, "本月到期的任务")
    assert "7月1日–7月31日" in out
    out = _ask(c, "下周有什么到期")
    assert "7月17日–7月23日" in out
    out = _ask(c, "这周有什么要交的")
    assert "7月10日–7月16日" in out
    out = _ask(c, "11月20号前要交什么")
    assert "7月10日–11月20日" in out and "年度完成情况总结" in out
    # both tasks due that day, with the four border counties on one line each
    out = _ask(c, "6月底到期的任务")
    assert out.startswith("6月30日到期的任务：8项")
    assert "国家示范县申报（米林、朗县、察隅、墨脱）" in out and "两山基地申报（米林、朗县、察隅、墨脱）" in out
    # 6月底 is past: the window runs from the year's start, and what fell due is overdue
    out = _ask(c, "6月底前要交的")
    assert out.startswith("1月1日–6月30日到期的")
    assert "逾期" in out and "5·22国际生物多样性日" in out
    out = _ask(c, "下个月有啥宣传活动")
    assert "8月生态文明宣传月" in out and "5·22" not in out


def test_counts_and_kinds(filed: App, chat: Any) -> None:
    c = chat("协调员")
    assert "41项" in _ask(c, "一共多少项指标")
    out = _ask(c, "有几个工程项目")
    assert "9个" in out and "15376" in out
    out = _ask(c, "巴宜区有多少项任务")
    assert re.search(r"巴宜区共有任务\d+项", out)
    out = _ask(c, "墨脱有哪些项目")
    assert "农村污水处理" in out and "两山实施方案" not in out  # projects, not tasks
    # a kind's name typed alone is that kind's overview, not a task whose title ends in it
    for q in ("工程项目", "项目", "工程项目进度"):
        out = _ask(c, q)
        assert "计划总投资15376万元" in out and "细化分解建设任务和工程项目" not in out, q
    for q in ("指标", "指标情况", "指标达标情况"):
        out = _ask(c, q)
        assert out.startswith("全市考核指标41项：达标") and "指标1 建设规划" in out, (q, out)
    out = _ask(c, "边境县的指标")
    assert out.startswith("边境县考核指标6项") and "· 4个单位" in out, out
    assert _ask(c, "墨脱县的指标").startswith("【墨脱县】共6项")  # one unit: its own lines


def test_what_is_done(filed: App, chat: Any) -> None:
    c = chat("协调员")
    for q in ("哪些任务完成了", "已完成的任务", "完成了哪些", "办结的事项有哪些"):
        out = _ask(c, q)
        assert out.startswith("全市已完成的事项：1项（共511项）"), (q, out)
        assert "墨脱｜" in out and "朗县｜" not in out  # 朗县's was returned: not counted
    out = _ask(c, "墨脱县已完成的事项")
    assert out.startswith("墨脱县已完成的事项：1项（共35项）") and "7月10日（待审核）" in out
    assert _ask(c, "米林县哪些任务完成了").startswith("米林县还没有已完成的事项")
    assert _ask(c, "上个月完成了哪些").startswith("6月1日–6月30日全市还没有已完成的事项")
    assert _ask(c, "本周完成了哪些").startswith("7月10日–7月16日全市已完成的事项：1项")
    o = chat("墨脱填报人")
    assert _ask(o, "我们完成了哪些").startswith("墨脱县已完成的事项：1项")
    assert "只能查询本单位" in _ask(o, "米林县哪些任务完成了")


def test_lists_that_need_action(filed: App, chat: Any) -> None:
    c = chat("协调员")
    for q in ("哪些任务滞后", "滞后任务清单"):
        out = _ask(c, q)
        assert "滞后的事项：" in out and "米林｜" in out and "序时" in out, q
    out = _ask(c, "受阻的任务")
    assert "资金没到位" in out and "征地手续未完成" in out and "墨脱｜" in out
    out = _ask(c, "监测中心受阻原因是什么")
    assert "征地手续未完成" in out and "资金没到位" not in out
    out = _ask(c, "有哪些困难问题需要协调")
    assert "【市水利局】" in out and "专业技术人员不足" in out and "【墨脱县】" in out
    out = _ask(c, "哪些指标没达标")
    assert "污水处理率 80%（目标≥95）" in out
    out = _ask(c, "被退回的报告")
    assert "缺少领导小组名单" in out and "朗县" in out
    out = _ask(c, "待审核的有几条")
    assert re.match(r"待审核：\d+条", out) and "墨脱" in out


def test_who_reported_in_a_window(filed: App, chat: Any) -> None:
    c = chat("协调员")
    out = _ask(c, "这周谁汇报了")
    first = _lines(out)[0]
    assert first.startswith("7月10日汇报情况：1个单位")
    assert "墨脱县" in out and "未汇报：" in out and "墨脱县" not in out.split("未汇报：")[1]
    out = _ask(c, "最近三天有哪些新汇报")
    assert out.startswith("7月7日–7月10日汇报情况：")
    assert "市水利局" in out and "米林县" in out
    # the counties only, not the departments
    out = _ask(c, "哪些县还没报进度")
    assert "巴宜区" in out and "市水利局" not in out and "市生态环境局" not in out


def test_ranking_by_completion(filed: App, chat: Any) -> None:
    out = _ask(chat("协调员"), "各县排名")
    ranked = [line for line in _lines(out) if re.match(r"\d+\. ", line)]
    assert len(ranked) == 7
    completions = [float(re.search(r" ([\d.]+)%", line).group(1)) for line in ranked]  # type: ignore[union-attr]
    assert completions == sorted(completions, reverse=True)
    assert "市水利局" not in out


# ---- as 墨脱县's official ----------------------------------------------------------------------------------


def test_an_officials_own_words(filed: App, chat: Any) -> None:
    c = chat("墨脱填报人")
    for q in ("我负责的活有哪些", "我负责的任务有哪些"):
        out = _ask(c, q)
        assert out.startswith("【墨脱县】共35项"), q
    out = _ask(c, "我还有什么没报")
    # one item was reported this Monday: 34 left, numbered as the check-in list numbers them
    assert out.startswith("墨脱县本周还有34项未汇报（共35项）")
    assert "充实完善领导小组" not in out and "完善领导小组" not in out
    out = _ask(c, "我们县有哪些项目")
    assert "农村污水处理" in out and "两山实施方案" not in out
    assert "汇报" in _ask(c, "怎么汇报")


def test_an_officials_ambiguous_words_stay_within_his_items(filed: App, chat: Any) -> None:
    c = chat("墨脱填报人")
    out = _ask(c, "两山方案是不是已经过期了")
    assert "两山实施方案" in out
    for other in ("巴宜", "米林", "朗县", "察隅", "生态文明办", "巩固两山基地成果", "两山观摩案例"):
        assert other not in out, other
    out = _ask(c, "两山方案进度")
    assert all("巴宜" not in label and "观摩" not in label for label in c.choices)
    # the coordinator's choices say whose each item is
    c = chat("协调员")
    _ask(c, "两山方案进度")
    assert any("（巴宜）" in label for label in c.choices)
    assert any("米林、朗县等4个单位" in label for label in c.choices)


def test_the_console_answers_the_issues_questions(filed: App) -> None:
    """`duban --now 2023-07-10T10:00 console --user 协调员`: the console channel answers every example question
    of the issue, none with "没太明白" or an internal error."""
    questions = [
        "本月到期的任务",
        "下周有什么到期",
        "6月底前要交的",
        "11月20号前要交什么",
        "6月底到期的任务",
        "下个月有啥宣传活动",
        "一共多少项指标",
        "墨脱有哪些项目",
        "哪些任务滞后",
        "滞后任务清单",
        "受阻的任务",
        "有哪些困难问题需要协调",
        "哪些指标没达标",
        "本周有哪些新汇报",
        "这周谁汇报了",
        "监测中心受阻原因是什么",
        "哪些县还没报进度",
        "各县排名",
    ]
    out = io.StringIO()
    script = "".join(f"{q}\n取消\n" for q in questions)
    assert run_console(filed, "协调员", io.StringIO(script), out) == 0
    text = out.getvalue()
    assert "没太明白" not in text and "抱歉，系统" not in text
    for needle in (
        "7月1日–7月31日",
        "7月17日–7月23日",
        "8月生态文明宣传月",
        "41项",
        "征地手续未完成",
        "专业技术人员不足",
    ):
        assert needle in text, needle


def test_a_question_typed_mid_check_in_is_answered_not_stored(filed: App, chat: Any) -> None:
    c = chat("墨脱填报人")
    c.send("汇报")
    assert "当前状态" in c.send("2")
    for question, needle in (("本月到期的有哪些", "7月1日–7月31日"), ("哪些任务滞后", "滞后")):
        out = c.send(question)
        assert needle in out and "回到刚才的问题" in out and "当前状态" in out, question
    assert "完成进度百分比" in c.send("推进中")  # the dialogue went on where it was
    with filed.session_factory() as s:
        texts_stored = [r.description or "" for r in s.execute(select(Report)).scalars()]
    assert not any("到期" in t or "滞后" in t for t in texts_stored)


def test_a_coordinator_chases_mid_review(filed: App, chat: Any) -> None:
    c = chat("协调员")
    assert "待审核" in c.send("审核")
    out = c.send("催一下米林县")
    assert "已催办 米林县" in out


def test_questions_in_the_list_are_answered_not_taken_for_task_names(filed: App, chat: Any) -> None:
    c = chat("墨脱填报人")
    c.send("汇报")
    out = c.send("两山方案是不是已经过期了")
    assert "两山实施方案" in out and "逾期" in out and "没有找到" not in out
    out = c.send("怎么汇报")
    assert "我可以帮您" in out and "没有找到" not in out
    # in a free-text answer the same words may be the answer: the kernel asks which
    c.send("2")
    c.send("推进中")
    c.send("30")
    assert "作为当前问题的回答，还是要查询" in c.send("不知道怎么填")


def test_my_unreported_items_carry_the_numbers_of_the_list_on_screen(filed: App, chat: Any) -> None:
    c = chat("墨脱填报人")
    listed = c.send("汇报")
    names = dict(re.findall(r"^(\d+)\. \S*?([\u4e00-\u9fa5“”]+)｜", listed, re.M))
    c.send("3 推进中 60")
    c.send("5 完成")  # done: the list a new 汇报 would show moves it to the end
    c.send("跳过")
    out = c.send("我还有什么没报")
    lines = dict(re.findall(r"^(\d+)\. ([\u4e00-\u9fa5“”]+)", out, re.M))
    assert "3" not in lines and "5" not in lines  # reported just now
    shown = [n for n in names if n in lines]
    assert len(shown) >= 5
    assert all(lines[n] == names[n] for n in shown), (names, lines)
