"""The dialogue kernel, through the engine, for every state of every dialogue: a question typed mid-dialogue is
answered and the pending question asked again with nothing stored; `帮助` repeats the question; a press on an
earlier question's button is refused; a choice made after a restart (new engine, same database) picks the same."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from core.messages import Choice, IncomingMessage, parse_choice_token
from db.models import Assignment, Organisation, Report
from db.repositories import conversations, people
from handlers import checkin, kernel, texts
from handlers.checkin.model import CheckinState
from handlers.context import Context
from handlers.queries import QueryState
from handlers.review import ReviewState
from tests.conftest import Chat

OFFICIAL = "墨脱填报人"
TASK = ["汇报", "1"]  # the most urgent task → the status question
STEPS = ["推进中", "50", "开展了调研", "跳过", "跳过", "跳过", "跳过"]  # percent … evidence → the summary
PROJECT = ["汇报", "八及曲", "推进中", "60"]

# state name → (user, script, a fragment of the pending question)
FIRM: dict[str, tuple[str, list[str], str]] = {
    "checkin.pick": (OFFICIAL, ["汇报"], "仍在汇报"),
    "ask.status": (OFFICIAL, TASK, "当前状态"),
    "ask.percent": (OFFICIAL, TASK + STEPS[:1], "完成进度百分比"),
    "ask.description": (OFFICIAL, TASK + STEPS[:2], "做了哪些工作"),
    "ask.problems": (OFFICIAL, TASK + STEPS[:3], "困难问题"),
    "ask.next_step": (OFFICIAL, TASK + STEPS[:4], "下一步打算"),
    "ask.expected": (OFFICIAL, TASK + STEPS[:5], "预计完成日期"),
    "ask.evidence": (OFFICIAL, TASK + STEPS[:6], "佐证材料"),
    "ask.investment": ("生态环境局填报人", PROJECT, "累计完成投资"),
    "ask.physical": ("生态环境局填报人", [*PROJECT, "1200"], "形象进度"),
    "ask.indicator": ("林草局填报人", ["汇报", "林草覆盖率", "推进中"], "指标当前值"),
    "checkin.over": ("生态环境局填报人", [*PROJECT, "2500万"], "超过了总投资"),
    "checkin.confirm": (OFFICIAL, TASK + STEPS, "请核对"),
    "checkin.modify": (OFFICIAL, [*TASK, *STEPS, "修改"], "要修改哪一项"),
    "checkin.oneliner": (OFFICIAL, [], "对应哪项任务"),
    "checkin.no_change": (OFFICIAL, ["汇报", "全部无变化"], "确认吗"),
    "checkin.fraction": (OFFICIAL, [*TASK, "推进中", "0.8"], "是指完成了 80%"),
    "review.reason": ("协调员", ["待审核", "1", "退回"], "退回理由"),
}
SOFT: dict[str, tuple[str, list[str]]] = {
    "checkin.prompted": (OFFICIAL, []),
    "checkin.next": (OFFICIAL, [*TASK, *STEPS, "确认"]),
    "checkin.drafts": (OFFICIAL, [*TASK, "取消", "汇报", "2", "取消", "继续"]),
    "query.page": ("协调员", ["全市进度"]),
    "query.pick": ("协调员", ["湿地项目"]),
    "review.pick": ("协调员", ["待审核"]),
    "review.show": ("协调员", ["待审核", "1"]),
    "review.confirm_all": ("协调员", ["全部通过"]),
}
# A question each user may ask, and a fragment of its answer.
QUESTION = {
    OFFICIAL: ("我的任务", "【墨脱县】"),
    "生态环境局填报人": ("我的任务", "【市生态环境局】"),
    "林草局填报人": ("我的任务", "【市林草局】"),
    "协调员": ("墨脱县进度", "【墨脱县】"),
}


def _file_report(app: App, user: str = "朗县填报人") -> None:
    c = Chat(app, user)
    for t in ["汇报", "1", "推进中", "40", "完成初稿", "跳过", "跳过", "跳过", "跳过", "确认", "结束"]:
        c.send(t)


def _oneliner_state(app: App, c: Chat) -> None:
    """A one-line report that matches two tasks: the user is asked which."""
    with app.session_factory() as s, s.begin():
        ids = list(
            s.execute(
                select(Assignment.id)
                .join(Organisation)
                .where(Organisation.name == "墨脱县", Assignment.active.is_(True), Assignment.closed.is_(False))
                .order_by(Assignment.id)
                .limit(2)
            ).scalars()
        )
        person = people.find_by_identity(s, "console", OFFICIAL)
        conv = conversations.get_or_create(s, "console", OFFICIAL, OFFICIAL, "idle", app.clock.utcnow())
        ctx = Context(s, app.clock, app.settings, IncomingMessage("console", OFFICIAL, OFFICIAL, "x"), conv, person)
        replies = kernel.record_question(ctx, checkin.start_from_oneliner(ctx, ids, Decimal(80), None, "完成80%"))
    c.last = replies


def _reach(app: App, user: str, script: list[str], name: str) -> Chat:
    if name.startswith("review."):
        _file_report(app)
    c = Chat(app, user)
    if name == "checkin.no_change":
        _file_report(app, OFFICIAL)  # last week: something to carry forward
        app.clock.set(app.clock.now() + dt.timedelta(days=7), frozen=True)
    if name == "checkin.oneliner":
        _oneliner_state(app, c)
    elif name == "checkin.prompted":
        with app.session_factory() as s, s.begin():
            assert checkin.arm_weekly_prompt(s, "console", user, user, app.clock.utcnow())
    for t in script:
        c.send(t)
    return c


def _stored(app: App, user: str) -> tuple[str, dict[str, Any], int]:
    state, data = app.engine.conversation_state("console", user, user)
    with app.session_factory() as s:
        n = s.execute(select(func.count()).select_from(Report)).scalar_one()
    return state, data, n


def _expected_state(name: str) -> str:
    return "checkin.ask" if name.startswith("ask.") else name


def test_every_state_is_declared_once() -> None:
    states = [*CheckinState, *ReviewState, *QueryState]
    assert len({s.value for s in states}) == len(states)
    for s in states:
        assert kernel.dialogue_of(s.value) is not None
    covered = {_expected_state(n) for n in FIRM} | set(SOFT)
    assert covered == {s.value for s in states}


@pytest.mark.parametrize("name", sorted(FIRM))
def test_question_mid_dialogue_is_answered_and_nothing_stored(app: App, name: str) -> None:
    user, script, pending = FIRM[name]
    c = _reach(app, user, script, name)
    before = _stored(app, user)
    assert before[0] == _expected_state(name)
    question, answer = QUESTION[user]
    out = c.send(question)
    assert answer in out, out
    assert texts.K_BACK in out and pending in out, out
    assert _stored(app, user) == before


@pytest.mark.parametrize("name", sorted(FIRM))
def test_help_mid_dialogue_repeats_the_pending_question(app: App, name: str) -> None:
    user, script, pending = FIRM[name]
    c = _reach(app, user, script, name)
    before = _stored(app, user)
    out = c.send("帮助")
    assert "我可以帮您" in out and texts.K_PENDING in out and pending in out, out
    assert _stored(app, user) == before


@pytest.mark.parametrize("name", sorted(FIRM))
def test_a_press_on_an_earlier_questions_button_is_refused(app: App, name: str) -> None:
    user, script, pending = FIRM[name]
    c = Chat(app, user)
    c.send("帮助")
    old = Chat(app, user)
    old.send("汇报")  # a question with buttons, answered away below
    token = old.last[0].choices[0].token
    assert token is not None and parse_choice_token(token) is not None
    c.send("取消")
    c = _reach(app, user, script, name)
    before = _stored(app, user)
    out = c.send(token, is_choice=True)
    assert out.startswith(texts.K_STALE) and pending in out, out
    assert _stored(app, user) == before


@pytest.mark.parametrize("name", sorted(SOFT))
def test_question_in_a_soft_state(app: App, name: str) -> None:
    """An offer or a report under review waits while a question is answered; a list's paging or a pick among
    names is left for the new question."""
    user, script = SOFT[name]
    c = _reach(app, user, script, name)
    before = _stored(app, user)
    assert before[0] == name
    question, answer = QUESTION[user]
    out = c.send(question)
    assert answer in out
    after = _stored(app, user)
    assert after[2] == before[2]
    if name.startswith("query."):
        assert texts.K_BACK not in out and (after[0], after[1]) != (before[0], before[1])
    else:
        assert after == before
        dialogue = kernel.dialogue_of(name)
        assert dialogue is not None
        with app.session_factory() as s:  # read-only: the dialogue's pending question, asked of the stored state
            conv = conversations.get_or_create(s, "console", user, user, "idle", app.clock.utcnow())
            person = people.find_by_identity(s, "console", user)
            probe = Context(s, app.clock, app.settings, IncomingMessage("console", user, user, ""), conv, person)
            pending = [r.text for r in dialogue.prompt(probe)]
            s.rollback()
        assert all(p in out for p in pending) and (texts.K_BACK in out) == bool(pending)


def test_question_typed_as_an_answer_is_never_stored(app: App) -> None:
    """The defects seen: "墨脱县进度" became 下一步, "哪些任务逾期了" 工作情况, "汇报" 困难问题."""
    c = _reach(app, OFFICIAL, TASK + STEPS[:2], "ask.description")
    for text in ("墨脱县进度", "哪些任务逾期了", "我的任务"):
        out = c.send(text)
        assert texts.K_BACK in out and "做了哪些工作" in out, (text, out)
    out = c.send("汇报")
    assert texts.K_ALREADY_IN in out and "做了哪些工作" in out
    c.send("开展了实地调研")
    for _ in range(4):
        c.send("跳过")
    c.send("确认")
    with app.session_factory() as s:
        r = s.execute(select(Report).order_by(Report.id.desc())).scalars().first()
        assert r is not None and r.description == "开展了实地调研" and r.problems is None and r.next_step is None


def test_text_both_an_answer_and_a_question_asks_which(app: App) -> None:
    c = _reach(app, OFFICIAL, TASK + STEPS[:2], "ask.description")
    out = c.send("墨脱县的两山实施方案推进情况需要协调")
    assert "还是要查询" in out
    out = c.pick(texts.K_WHICH_ANSWER)
    assert "困难问题" in out
    state, data, _ = _stored(app, OFFICIAL)
    assert data["draft"]["fields"]["description"] == "墨脱县的两山实施方案推进情况需要协调"
    # and the other way: the held text is answered as a question, the description still to come
    out = c.send("墨脱县任务进展情况需要了解")
    assert "还是要查询" in out
    out = c.pick(texts.K_WHICH_QUERY)
    assert "【墨脱县】" in out and "困难问题" in out


def test_an_old_button_of_the_same_dialogue_is_stale_not_an_answer(app: App) -> None:
    """A press on the task list's button while answering 困难问题 was stored as the answer (#103)."""
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    list_token = c.last[0].choices[1].token
    c.send("1")
    status_token = c.last[-1].choices[2].token  # 已完成
    for t in STEPS[:3]:
        c.send(t)
    before = _stored(app, OFFICIAL)
    assert before[1]["step"] == "problems"
    for token in (list_token, status_token):
        out = c.send(token, is_choice=True)
        assert out.startswith(texts.K_STALE) and "困难问题" in out
    assert _stored(app, OFFICIAL) == before


@pytest.mark.both_backends
def test_choices_mean_the_same_after_a_restart(app: App, settings: Any, clock: Any) -> None:
    """A new engine on the same database (a restart, or another process) reads the same question."""
    c = Chat(app, OFFICIAL)
    c.send("汇报")
    second = c.last[0].choices[1]
    app2 = build_app(settings, clock=clock)
    try:
        c2 = Chat(app2, OFFICIAL)
        out = c2.send(second.payload, is_choice=True)
        label = second.label.split(". ", 1)[1]
        assert f"【{label}】" in out
        # a number typed to a question whose choices are not listed in its text (WeCom, console)
        out = c2.send("2")
        assert "完成进度百分比" in out
        assert app2.engine.conversation_state("console", OFFICIAL, OFFICIAL)[1]["draft"]["fields"]["status"] == (
            "in_progress"
        )
    finally:
        app2.close()


@pytest.mark.both_backends
def test_stored_draft_keeps_numbers_as_numbers(app: App) -> None:
    c = _reach(app, "生态环境局填报人", [*PROJECT, "1200"], "ask.physical")
    _, data, _ = _stored(app, "生态环境局填报人")
    fields = data["draft"]["fields"]
    assert fields["percent"] == 60 and fields["investment"] == 1200
    assert isinstance(fields["percent"], int | float) and isinstance(fields["investment"], int | float)
    c.send("取消")


def test_expired_draft_is_kept_and_the_message_not_taken_as_an_answer(app: App) -> None:
    c = _reach(app, OFFICIAL, TASK + STEPS[:2], "ask.description")
    app.clock.set(app.clock.now() + dt.timedelta(hours=30), frozen=True)
    assert "超时" in c.send("墨脱县进度")
    assert "做了哪些工作" in c.send("继续")
    c.send("写了方案")
    _, data, _ = _stored(app, OFFICIAL)
    assert data["draft"]["fields"]["description"] == "写了方案"


def test_a_number_answers_a_proactive_offer_but_not_a_dialogues_question(app: App) -> None:
    """A nudge offers "1. 开始汇报" as numbered text on WeCom: "1" starts the check-in. Mid-dialogue the nudge's
    offer is not stored, and "1" answers the question asked (1%)."""
    offered = [Choice(texts.SCHED_CHOICE_REPORT, "汇报")]
    with app.session_factory() as s, s.begin():
        assert kernel.offer(s, "console", OFFICIAL, OFFICIAL, offered, app.clock.utcnow())
    c = Chat(app, OFFICIAL)
    assert "待汇报任务" in c.send("1")
    c.send("1")
    c.send("推进中")
    with app.session_factory() as s, s.begin():
        assert not kernel.offer(s, "console", OFFICIAL, OFFICIAL, offered, app.clock.utcnow())
    assert "做了哪些工作" in c.send("1")
    _, data, _ = _stored(app, OFFICIAL)
    assert data["draft"]["fields"]["percent"] == 1


def test_the_same_question_asked_again_keeps_its_buttons_but_the_next_one_does_not(app: App) -> None:
    c = _reach(app, OFFICIAL, TASK + STEPS[:3], "ask.problems")
    skip_problems = c.last[-1].choices[0].token
    c.send("帮助")  # the question is asked again: its 跳过 button still answers it
    assert c.last[-1].choices[0].token == skip_problems
    assert "下一步打算" in c.send(skip_problems, is_choice=True)
    # 下一步打算 offers 跳过 too, but it is another question: the first 跳过 button is stale for it
    out = c.send(skip_problems, is_choice=True)
    assert out.startswith(texts.K_STALE) and "下一步打算" in out


def test_a_choice_number_as_people_type_it(app: App) -> None:
    """On WeCom the status question's choices are numbered text: "2、", "2." and "第2个" pick 推进中."""
    for typed in ("2、", "2.", "第2个", "２"):
        c = _reach(app, OFFICIAL, TASK, "ask.status")
        assert "完成进度百分比" in c.send(typed), typed
        assert "已删除" in c.send("删除草稿")
