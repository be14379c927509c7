"""Crash: `duban serve` is killed with SIGKILL in the middle of check-ins and started again.

The real command runs as a subprocess with Telegram pointed at the fake Bot API server. The day's nudges are
queued first (what `duban tick` does) and delivered by the running process; then four officials are at
different points of their check-ins (one has just confirmed a report and started another, one is halfway, one
has only asked for the list, one is at the summary), and the process is killed without warning; one user answers
while it is down. After the restart every user continues where they were, the report confirmed before the kill
is there once, the answer sent during the outage is handled exactly once, and no nudge is sent twice.

(The kill comes at a moment the test chooses, not after a guessed delay. Kills at random moments in bursts are
the inbox reliability test's.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from config.clock import Clock
from config.settings import Settings
from db.engine import transaction
from db.models import IN_DONE, OUT_SENT, REPLY, Inbox, Outbox, ReminderLog, Report
from db.repositories import people
from handlers import texts
from scheduler.service import run_due
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.serving import Serve, serve_env

NOW = dt.datetime(2023, 5, 24, 9, 30)  # a Wednesday: tasks due 5月31日 get their 7-day nudge today
USERS = {"墨脱填报人": 810001, "巴宜填报人": 810002, "朗县填报人": 810003, "米林填报人": 810004}
A, B, C, D = (USERS[n] for n in USERS)
TIMEOUT = 60.0

pytestmark = pytest.mark.both_backends  # `duban serve` end to end: what survives a crash is what was stored


@pytest.fixture
def crash_app(settings: Settings, api: FakeTelegramAPI) -> Iterator[App]:
    """The test's own view of the database (the subprocess has its own)."""
    s = settings.model_copy(update={"telegram_token": api.token, "telegram_base_url": api.url})
    a = build_app(s, clock=Clock("Asia/Shanghai", NOW, frozen=True), warm_nlu=False)
    with transaction(a.session_factory) as sess:
        by_name = {p.name: p for p in people.list_people(sess)}
        for name, chat in USERS.items():
            people.bind_identity(sess, by_name[name], "telegram", str(chat), a.clock.utcnow())
    yield a
    a.close()


@pytest.fixture
async def serve(crash_app: App, api: FakeTelegramAPI, tmp_path: Path) -> AsyncIterator[Serve]:
    env = serve_env(
        crash_app.settings,
        tmp_path / "data",
        DUBAN_TELEGRAM_TOKEN=api.token,
        DUBAN_TELEGRAM_BASE_URL=api.url,
        DUBAN_NOW=NOW.isoformat(),
    )
    s = Serve(env, tmp_path)
    yield s
    if s.proc is not None and s.proc.poll() is None:
        await asyncio.to_thread(s.terminate)


async def step(api: FakeTelegramAPI, chat: int, text: str, replies: int = 1) -> list[str]:
    """Send `text` as the user of `chat` and wait for `replies` new messages from duban."""
    before = len(api.sent(chat))
    api.inject_message(chat, text)
    await api.wait_for(lambda: len(api.sent(chat)) >= before + replies, timeout=TIMEOUT)
    return api.texts(chat)[before:]


async def steps(api: FakeTelegramAPI, chat: int, script: list[tuple[str, int]]) -> list[str]:
    out: list[str] = []
    for text, n in script:
        out += await step(api, chat, text, n)
    return out


def state_of(app: App, chat: int) -> tuple[str, dict[str, Any]]:
    return app.engine.conversation_state("telegram", str(chat), str(chat))


def count(app: App, model: Any, *where: Any) -> int:
    with app.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def telegram_outbox(app: App) -> list[tuple[int, str, str, str]]:
    with app.session_factory() as s:
        return [
            tuple(r)
            for r in s.execute(
                select(Outbox.id, Outbox.chat_id, Outbox.text, Outbox.status)
                .where(Outbox.channel == "telegram", Outbox.kind != REPLY)  # the nudges, not the replies
                .order_by(Outbox.id)
            )
        ]  # type: ignore[misc]


# The check-in of the most urgent task with status 已完成 (no % and no date asked).
DONE_CHECKIN = [
    ("汇报", 1),
    ("1", 2),
    ("已完成", 1),
    ("按时完成，文件已印发", 1),
    ("跳过", 1),
    ("跳过", 1),
    ("跳过", 1),
]


async def test_sigkill_mid_checkin_loses_nothing_and_sends_no_nudge_twice(
    crash_app: App, api: FakeTelegramAPI, serve: Serve
) -> None:
    app = crash_app
    # The day's nudges are queued before the process starts (duban tick), then delivered by it.
    queued = run_due(app, app.clock.now())
    nudges = telegram_outbox(app)
    assert queued >= 1 and nudges, "no nudge due on the test day: the plan or the scheduler changed"
    await serve.start()
    await api.wait_for(lambda: all(r[3] == OUT_SENT for r in telegram_outbox(app)), timeout=TIMEOUT)

    # Four users at four points of their check-ins.
    await asyncio.gather(
        steps(api, A, DONE_CHECKIN + [("确认", 2), ("结束", 1), ("汇报", 1), ("2", 2), ("推进中", 1)]),
        steps(api, B, [("汇报", 1), ("1", 2), ("推进中", 1), ("70", 1)]),
        steps(api, C, [("汇报", 1)]),
        steps(api, D, DONE_CHECKIN),
    )
    confirmed = count(app, Report)
    assert confirmed == 1
    with app.session_factory() as s:
        first_report = s.execute(select(Report.id, Report.assignment_id, Report.description)).one()
    assert (state_of(app, A)[0], state_of(app, A)[1].get("step")) == ("checkin.ask", "percent")
    assert (state_of(app, B)[0], state_of(app, B)[1].get("step")) == ("checkin.ask", "description")
    assert state_of(app, C)[0] == "checkin.pick"
    assert state_of(app, D)[0] == "checkin.confirm"
    processed_before = count(app, Inbox, Inbox.status == IN_DONE)

    # The process dies without warning; C answers while it is down.
    await asyncio.to_thread(serve.kill)
    sent_at_kill = {chat: len(api.sent(chat)) for chat in USERS.values()}
    api.inject_message(C, "1")

    await serve.start()
    # The message that waited is handled exactly once: C gets the task and the status question once.
    await api.wait_for(lambda: len(api.sent(C)) >= sent_at_kill[C] + 2, timeout=TIMEOUT)
    assert state_of(app, C)[0] == "checkin.ask" and state_of(app, C)[1].get("step") == "status"
    assert count(app, Inbox, Inbox.status == IN_DONE) == processed_before + 1
    # Everyone continues where they were.
    out_a, out_b, out_c, out_d = await asyncio.gather(
        steps(
            api, A, [("30", 1), ("完成现场调研", 1), ("跳过", 1), ("跳过", 1), ("跳过", 1), ("跳过", 1), ("确认", 2)]
        ),
        steps(
            api, B, [("完成初稿，正在征求意见", 1), ("资金不足", 1), ("跳过", 1), ("跳过", 1), ("跳过", 1), ("确认", 2)]
        ),
        steps(api, C, [("已完成", 1), ("已完成并通过验收", 1), ("跳过", 1), ("跳过", 1), ("跳过", 1), ("确认", 2)]),
        steps(api, D, [("确认", 2)]),
    )
    for out in (out_a, out_b, out_c, out_d):
        assert not any(texts.INTERNAL_ERROR in t for t in out), out
        assert not any(re.search(r"\{[a-z_0-9]*\}", t) for t in out), out  # a text sent unformatted
        assert any("✅" in t for t in out), out
    assert "70%" in "\n".join(out_b)  # B's percentage entered before the kill is in the summary

    # No confirmed report lost, none doubled.
    with app.session_factory() as s:
        rows = s.execute(select(Report.id, Report.person_id, Report.assignment_id, Report.description)).all()
        kept = {(r.id, r.assignment_id, r.description) for r in rows}
    assert (first_report.id, first_report.assignment_id, first_report.description) in kept
    assert len(rows) == confirmed + 4
    assert len({(r.person_id, r.assignment_id) for r in rows}) == len(rows)

    # No nudge sent twice: after the restart (which plans the day again) the outbox has the same rows, all sent,
    # and each chat got each of its nudges exactly once.
    after = telegram_outbox(app)
    assert [(r[0], r[1], r[2]) for r in after] == [(r[0], r[1], r[2]) for r in nudges]
    assert all(r[3] == OUT_SENT for r in after)
    for _id, chat_id, text, _status in after:
        assert api.texts(chat_id).count(text) == 1, (chat_id, text[:60])
    assert count(app, ReminderLog) == len({(r.kind, r.occasion, r.assignment_id, r.person_id) for r in _reminders(app)})
    assert all(len(api.sent(chat)) > sent_at_kill[chat] for chat in USERS.values())
    assert (await asyncio.to_thread(serve.terminate))[0] == 0, serve.log()


def _reminders(app: App) -> list[Any]:
    with app.session_factory() as s:
        return list(s.execute(select(ReminderLog)).scalars())
