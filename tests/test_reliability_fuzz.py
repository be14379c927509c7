"""Bad input: property-based fuzzing (hypothesis) of every dialogue state and of the understanding layer.

Each dialogue state is reached once by a scripted conversation; its stored state is then restored before every
example, so each example is one arbitrary message in exactly that state: emoji, control characters, 10,000
characters, SQL and markup fragments, format placeholders, commands out of place. After each: no exception
escaped (the engine's apology for an internal error is never the answer), every message got a non-empty reply,
and the stored data stays valid (report statuses known, percent within 0–100, investment not negative, every
conversation in a known state).

The WeCom callback's hostile inputs (forged signatures, foreign CorpIDs, truncated, oversized and
entity-expanding bodies) are in tests/test_reliability_faults.py next to the other platform faults.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from bot.app import App
from db.models import STATUSES, Conversation, Outbox, Report
from handlers import binding, texts
from handlers.checkin.model import CheckinState
from tests.conftest import Chat, pass_stranger_quiet_time

KNOWN_STATES = {
    "idle",
    CheckinState.PROMPTED,
    "checkin.pick",
    "checkin.ask",
    "checkin.over",
    "checkin.confirm",
    "checkin.modify",
    "checkin.next",
    "checkin.oneliner",
    "query.pick",
    "query.page",
    "review.pick",
    "review.show",
    "review.reason",
    "review.confirm_all",
}
ASK_STEPS = {
    "status",
    "percent",
    "investment",
    "physical",
    "indicator",
    "description",
    "problems",
    "next_step",
    "expected",
    "evidence",
}

FRAGMENTS = [
    "'; DROP TABLE report; --",
    '" OR 1=1 --',
    "1; DELETE FROM conversation",
    "<b>粗体</b>",
    "<script>alert(1)</script>",
    "*_`[链接](http://127.0.0.1)",
    "{text}",
    "{0}",
    "{label}",
    "%s%s%n",
    "\\x00",
    "\x00",
    "\u202e",
    "\ufeff",
    "\u200b",
    "😀",
    "👍🏻",
    "🇨🇳",
    "👨‍👩‍👧",
    "\r\n",
    "\t",
    "\x1b[31m",
    "\x7f",
    "汇报",
    "确认",
    "取消",
    "继续",
    "修改",
    "修改 进度",
    "#1",
    "#999999",
    "100%",
    "-5",
    "1e309",
    "NaN",
    "inf",
    "百分之一千",
    "9" * 40,
    "跳过",
    "完成",
    "墨脱县进度",
    "/start",
    "/report",
    "/cancel",
    "&amp;",
    "]]>",
    "<![CDATA[x]]>",
    "<!ENTITY a 'b'>",
    "　",
    "，",
    "下一项",
    "结束",
    "更多",
    "通过",
    "退回",
    "2099年13月45日",
    "0",
    "一二三",
    "受阻",
    "已完成",
]


def _long(pair: tuple[str, int]) -> str:
    piece, n = pair
    return (piece * (n // max(1, len(piece)) + 1))[:n]


TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join),
    st.tuples(st.sampled_from(FRAGMENTS + ["汉", "a", "😀"]), st.integers(1000, 10_000)).map(_long),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "So"]), max_size=50),
    st.builds(lambda a, b: a + b, st.sampled_from(FRAGMENTS), st.text(max_size=30)),
)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# ---- reaching each state ------------------------------------------------------------------------------------

OFFICIAL = "墨脱填报人"
TASK_TO = ["汇报", "1"]  # → checkin.ask (status) for the most urgent task
TASK_STEPS = ["推进中", "50", "开展了调研", "跳过", "跳过", "跳过", "跳过"]  # percent … evidence → confirm


def _file_report(app: App, user: str = "朗县填报人") -> None:
    c = Chat(app, user)
    for t in ["汇报", "1", "推进中", "40", "完成初稿", "跳过", "跳过", "跳过", "跳过", "确认", "结束"]:
        c.send(t)


SCRIPTS: dict[str, tuple[str, list[str]]] = {
    "idle-official": (OFFICIAL, []),
    "idle-coordinator": ("协调员", []),
    "checkin.pick": (OFFICIAL, ["汇报"]),
    "ask.status": (OFFICIAL, TASK_TO),
    "ask.percent": (OFFICIAL, TASK_TO + TASK_STEPS[:1]),
    "ask.description": (OFFICIAL, TASK_TO + TASK_STEPS[:2]),
    "ask.problems": (OFFICIAL, TASK_TO + TASK_STEPS[:3]),
    "ask.next_step": (OFFICIAL, TASK_TO + TASK_STEPS[:4]),
    "ask.expected": (OFFICIAL, TASK_TO + TASK_STEPS[:5]),
    "ask.evidence": (OFFICIAL, TASK_TO + TASK_STEPS[:6]),
    "checkin.confirm": (OFFICIAL, TASK_TO + TASK_STEPS),
    "checkin.modify": (OFFICIAL, TASK_TO + TASK_STEPS + ["修改"]),
    "checkin.next": (OFFICIAL, TASK_TO + TASK_STEPS + ["确认"]),
    "ask.investment": ("生态环境局填报人", ["汇报", "八及曲", "推进中", "60"]),
    "checkin.over": ("生态环境局填报人", ["汇报", "八及曲", "推进中", "60", "2500万"]),
    "ask.physical": ("生态环境局填报人", ["汇报", "八及曲", "推进中", "60", "1200"]),
    "ask.indicator": ("林草局填报人", ["汇报", "林草覆盖率", "推进中"]),
    "kept-draft": (OFFICIAL, TASK_TO + TASK_STEPS[:3] + ["取消"]),
    "query.page": ("协调员", ["全市进度"]),
    "review.pick": ("协调员", ["待审核"]),
    "review.show": ("协调员", ["待审核", "1"]),
    "review.reason": ("协调员", ["待审核", "1", "退回"]),
}
EXPECTED_STATE = {
    "idle-official": "idle",
    "idle-coordinator": "idle",
    "kept-draft": "idle",
    "checkin.pick": "checkin.pick",
    "checkin.confirm": "checkin.confirm",
    "checkin.modify": "checkin.modify",
    "checkin.next": "checkin.next",
    "checkin.over": "checkin.over",
    "query.page": "query.page",
    "review.pick": "review.pick",
    "review.show": "review.show",
    "review.reason": "review.reason",
}


def _reach(app: App, name: str) -> tuple[Chat, str, dict[str, Any]]:
    user, script = SCRIPTS[name]
    if name.startswith("review."):
        _file_report(app)
    chat = Chat(app, user)
    for t in script:
        chat.send(t)
    state, data = app.engine.conversation_state("console", user, user)
    if name.startswith("ask."):
        assert state == "checkin.ask" and data.get("step") == name.split(".", 1)[1], (name, state, data.get("step"))
    else:
        assert state == EXPECTED_STATE[name], (name, state)
    if name == "kept-draft":
        assert "keep_drafts" in data and len(data["keep_drafts"]) == 1
    return chat, state, data


def _restore(app: App, chat: Chat, state: str, data: dict[str, Any]) -> None:
    with app.session_factory() as s, s.begin():
        s.execute(
            update(Conversation)
            .where(
                Conversation.channel == chat.channel,
                Conversation.chat_id == chat.chat_id,
                Conversation.user_id == chat.user_id,
            )
            .values(state=state, data=data, updated_at=app.clock.utcnow())
        )


def check_invariants(app: App) -> None:
    """The stored data is valid whatever was typed."""
    with app.session_factory() as s:
        for status, percent, investment, indicator_value in s.execute(
            select(Report.status, Report.percent, Report.investment_done, Report.indicator_value)
        ):
            assert status in STATUSES, status
            assert percent is None or 0 <= percent <= 100, percent
            assert investment is None or investment >= 0, investment
            assert indicator_value is None or len(indicator_value) <= 100
        for state, data in s.execute(select(Conversation.state, Conversation.data)):
            assert state in KNOWN_STATES, state
            assert isinstance(data, dict)
            if state == "checkin.ask":
                assert data.get("step") in ASK_STEPS, data.get("step")
        for (text,) in s.execute(select(Outbox.text)):
            assert text and text.strip()


def check_reply(chat: Chat, sent: str) -> None:
    assert chat.last, f"no reply to {sent[:80]!r}"
    rendered = "\n".join(r.text for r in chat.last)
    assert texts.INTERNAL_ERROR not in rendered, f"internal error on {sent[:80]!r}"
    for r in chat.last:
        assert r.text.strip() or r.choices, f"empty reply to {sent[:80]!r}"
        for c in r.choices:
            assert c.label.strip() and c.value.strip()


@pytest.mark.parametrize("state_name", list(SCRIPTS))
def test_every_dialogue_state_survives_arbitrary_text(app: App, state_name: str) -> None:
    chat, state, data = _reach(app, state_name)

    @FUZZ
    @given(text=TEXT)
    def fuzz(text: str) -> None:
        _restore(app, chat, state, data)
        chat.send(text)
        check_reply(chat, text)
        check_invariants(app)

    fuzz()


def test_a_stranger_gets_a_reply_to_anything_and_nothing_is_stored(app: App) -> None:
    chat = Chat(app, "tg-stranger", channel="telegram")

    @FUZZ
    @given(text=TEXT)
    def fuzz(text: str) -> None:
        pass_stranger_quiet_time(app)  # within it a stranger told how to bind gets no answer at all
        chat.send(text)
        check_reply(chat, text)

    fuzz()
    with app.session_factory() as s:
        assert s.scalar(select(Report.id).limit(1)) is None
        rows = s.execute(select(Conversation.state, Conversation.data).where(Conversation.user_id == "tg-stranger"))
        for state, data in rows:
            assert state == "idle" and set(data) <= {binding.EXPLAINED_AT}, (state, data)


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXT)
def test_understanding_never_fails(shipped_nlu: Any, text: str) -> None:
    u = shipped_nlu.understand(text)
    assert isinstance(u.intent, str) and u.intent
    assert u.text == text
    assert all(isinstance(i, int) for i in u.org_ids)


def test_a_ten_thousand_character_answer_is_cut_not_stored_whole(app: App) -> None:
    chat, state, data = _reach(app, "ask.description")
    chat.send("很" * 10_000)
    check_reply(chat, "long")
    state_now, data_now = app.engine.conversation_state("console", OFFICIAL, OFFICIAL)
    # Refused as too long (the question is asked again) and nothing of it kept in the draft.
    assert state_now == "checkin.ask" and data_now["step"] == "description"
    assert "很" * 600 not in str(data_now)
