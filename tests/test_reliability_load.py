"""Load: 300 Telegram users do complete check-ins at the same time, through the real python-telegram-bot
channel, the engine and the database, against the fake Bot API server on 127.0.0.1.

Every user presses the buttons and types the answers of one check-in (汇报 → their task → 已完成 → a
description of their own → 跳过 ×3 → 确认 → 结束), each waiting for duban's answers before the next step, as a
person does; all 300 at once. Afterwards: every report is stored exactly once and is the right user's, every user
got every reply (and no apology for an internal error), and no user saw anything of another user's check-in.

duban's flood limiter is opened wide here: Telegram's limits (30 messages/s per bot) would make this a
ten-minute test of waiting, and the limiter has its own tests.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.limits import TelegramRateLimiter
from config.clock import Clock
from config.settings import Settings
from db.engine import transaction
from db.models import DONE, OFFICIAL, TASK, Assignment, Item, Organisation, Report
from db.repositories import people
from handlers import texts
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.serving import running

USERS = 300
FIRST_CHAT = 7_000_001
STEP_TIMEOUT = 180.0
TOKEN_RE = re.compile(r"〔U(\d{4})〕")
PLACEHOLDER_RE = re.compile(r"\{[a-z_0-9]*\}")  # a text constant sent without being formatted

pytestmark = pytest.mark.slow  # about a minute; in the default run and in CI, `-m "not slow"` leaves it out


@dataclass(frozen=True)
class User:
    n: int
    chat: int
    person_id: int
    assignment_id: int
    label: str
    org: str

    @property
    def token(self) -> str:
        return f"〔U{self.n:04d}〕"  # unique and easy to find in any text

    @property
    def description(self) -> str:
        return f"{self.token}第{self.n}号填报人：已按要求完成，材料已归档"


@pytest.fixture
def tg_app(settings: Settings, clock: Clock, api: FakeTelegramAPI) -> Iterator[App]:
    s = settings.model_copy(update={"telegram_token": api.token, "telegram_base_url": api.url})
    a = build_app(s, clock=clock)
    yield a
    a.close()


def make_users(app: App, n: int) -> list[User]:
    """n officials on Telegram, each with a task of their organisation no other user reports on."""
    now = app.clock.utcnow()
    with transaction(app.session_factory) as s:
        rows = s.execute(
            select(Assignment.id, Assignment.organisation_id, Item.short_name, Item.title, Organisation.name)
            .join(Item, Assignment.item_id == Item.id)
            .join(Organisation, Assignment.organisation_id == Organisation.id)
            .where(Item.kind == TASK, Item.active.is_(True), Assignment.active.is_(True))
            .order_by(Assignment.organisation_id, Assignment.id)
        ).all()
        by_org: dict[int, list[tuple[int, str, str]]] = {}
        for aid, org_id, short, title, org_name in rows:
            by_org.setdefault(org_id, []).append((aid, short or title, org_name))
        # Round-robin over organisations, so that many users of one organisation report at the same moment.
        picks: list[tuple[int, int, str, str]] = []
        depth = 0
        while len(picks) < n:
            added = False
            for org_id, tasks in by_org.items():
                if depth < len(tasks) and len(picks) < n:
                    aid, label, org_name = tasks[depth]
                    picks.append((org_id, aid, label, org_name))
                    added = True
            if not added:
                raise AssertionError(f"the plan has only {len(picks)} task assignments")
            depth += 1
        users = []
        orgs_by_id = {o.id: o for o in s.execute(select(Organisation)).scalars()}
        for i, (org_id, aid, label, org_name) in enumerate(picks):
            chat = FIRST_CHAT + i
            person = people.add_person(s, f"负载{i:04d}", orgs_by_id[org_id], OFFICIAL, now, {"telegram": str(chat)})
            users.append(User(i, chat, person.id, aid, label, org_name))
    return users


class Driver:
    def __init__(self, api: FakeTelegramAPI) -> None:
        self.api = api

    async def step(self, chat: int, act: object, replies: int) -> list[str]:
        """Do `act` (a zero-argument callable) and wait for `replies` new messages from duban in the chat."""
        before = len(self.api.sent(chat))
        act()  # type: ignore[operator]
        await self.api.wait_for(lambda: len(self.api.sent(chat)) >= before + replies, timeout=STEP_TIMEOUT)
        return self.api.texts(chat)[before:]

    async def check_in(self, u: User) -> int:
        """One complete check-in as a person does it; returns the number of replies expected in the chat."""
        api, chat = self.api, u.chat
        out = await self.step(chat, lambda: api.inject_message(chat, "汇报"), 1)
        assert u.org in out[0]
        listing = api.sent(chat)[-1]
        out = await self.step(chat, lambda: api.inject_callback(chat, f"#{u.assignment_id}", listing["message_id"]), 2)
        assert u.label in out[0] and u.org in out[0], out
        await self.step(chat, lambda: api.press(chat, "已完成"), 1)
        await self.step(chat, lambda: api.inject_message(chat, u.description), 1)
        await self.step(chat, lambda: api.inject_message(chat, "跳过"), 1)  # problems
        await self.step(chat, lambda: api.inject_message(chat, "跳过"), 1)  # next step
        out = await self.step(chat, lambda: api.inject_message(chat, "跳过"), 1)  # evidence → summary
        assert u.description in out[0] and u.label in out[0], out
        out = await self.step(chat, lambda: api.press(chat, "确认"), 2)
        assert u.label in out[0] and texts.STATUS_LABELS[DONE] in out[0], out
        expected = 10
        last = api.sent(chat)[-1]
        if any(label == texts.CHOICE_END for label, _ in api.buttons(last)):
            await self.step(chat, lambda: api.press(chat, texts.CHOICE_END), 1)
            expected += 1
        return expected


async def test_300_users_check_in_at_the_same_time(tg_app: App, api: FakeTelegramAPI) -> None:
    users = make_users(tg_app, USERS)
    assert len({u.assignment_id for u in users}) == USERS
    assert len({u.org for u in users}) > 10  # many organisations, several users in each
    channel = TelegramChannel(
        tg_app.settings, limiter=TelegramRateLimiter(overall_max_rate=1e6, chat_burst=1e6, chat_per_second=1e6)
    )
    driver = Driver(api)
    async with running(tg_app, channel):
        results = await asyncio.gather(*(driver.check_in(u) for u in users), return_exceptions=True)
    failures = [(u.n, r) for u, r in zip(users, results, strict=False) if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} users failed, first: {failures[:3]}"

    # Every user got every reply, none an apology, and nothing of anyone else's check-in.
    for u, expected in zip(users, results, strict=False):
        got = api.texts(u.chat)
        assert len(got) == expected, (u.n, expected, got)
        assert not any(texts.INTERNAL_ERROR in t for t in got), (u.n, got)
        assert not any(PLACEHOLDER_RE.search(t) for t in got), (u.n, [t for t in got if PLACEHOLDER_RE.search(t)])
        seen = {int(m) for t in got for m in TOKEN_RE.findall(t)}
        assert seen == {u.n}, f"user {u.n} saw the check-ins of users {sorted(seen - {u.n})}"
    # Every report stored exactly once, as its user entered it.
    with tg_app.session_factory() as s:
        reports = list(s.execute(select(Report)).scalars())
        assert len(reports) == USERS
        by_person = {r.person_id: r for r in reports}
        assert len(by_person) == USERS
        for u in users:
            r = by_person[u.person_id]
            assert (r.assignment_id, r.description, r.status, r.channel) == (
                u.assignment_id,
                u.description,
                DONE,
                "telegram",
            )
            a = s.get(Assignment, u.assignment_id)
            assert a is not None and a.last_report_id == r.id
    assert channel.updates_done == len(api.injected)
