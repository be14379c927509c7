"""The inbox under fire: `duban serve` (the real command, a subprocess) against the fake Telegram and WeCom servers.

- Telegram polling, Telegram webhook, WeCom callbacks: 100 bound officials send 330 messages in bursts while the
  process is SIGKILLed four times at moments a seeded random.Random chooses (twice in the middle of a burst, twice
  while replies are going out) and started again. The platform behaves as it does: getUpdates hands out again what
  no offset confirmed; Telegram pushes a webhook update again until it gets a 2xx; WeCom posts a callback again, with
  the same MsgId, until it gets a 200.
- Telegram's sendMessage and WeCom's message/send fail (500, 502, 429) for a stretch while messages flow.
- A stranger floods 1000 messages while 10 officials chat; SIGTERM in the middle of it, and a restart. A stranger's
  100 updates in one getUpdates batch: no more than DUBAN_STRANGER_QUEUE_CAP of them are kept to be handled.

Afterwards every message is in the inbox once and handled once, every reply was delivered, and a reply was delivered
twice only where its outbox row was taken over from a killed process (payload "taken_over": Telegram and WeCom
take no idempotency key, so a send cut off by the kill may or may not have arrived). Each test prints what it
measured. The seed is printed too; DUBAN_TEST_SEED replays another run.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import App
from db.engine import transaction
from db.models import IN_DONE, IN_PENDING, IN_SKIPPED, OFFICIAL, OUT_SENT, REPLY, Inbox, Organisation, Outbox
from db.repositories import people
from handlers import texts
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.wait import wait_for
from tests.fakes.wecom_api import FakeWecomApi
from tests.serving import Serve, serve_env
from tests.test_wecom import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, WeComSim

SEED = int(os.environ.get("DUBAN_TEST_SEED", "20230524"))
NOW = "2023-05-24T10:00"
HELP = "帮助"  # one reply to a bound official: texts.HELP_OFFICIAL
USERS = 100
FIRST_CHAT = 8_200_001
BURSTS, BURST_SIZE = 6, 55  # 330 messages
KILLS = ("burst", "burst", "replies", "replies")  # where the SIGKILLs fall; the seed picks the bursts
TIMEOUT = 120.0

# On both backends: PostgreSQL is production, where several processes share the inbox and a dead one's chats are
# taken over by its silence (DUBAN_WORKER_TIMEOUT_SECONDS), not by the SQLite file's lock.
pytestmark = [pytest.mark.slow, pytest.mark.both_backends]


# ---- the process ----------------------------------------------------------------------------------------------


@pytest.fixture
async def launch(view: App, tmp_path: Path) -> AsyncIterator[Callable[..., Serve]]:
    """launch(DUBAN_X="...", ...) → a Serve on the test's database (not started); stopped at the end."""
    made: list[Serve] = []

    def make(**extra: str) -> Serve:
        env = serve_env(
            view.settings,
            tmp_path / "data",
            DUBAN_NOW=NOW,
            DUBAN_SCHEDULER_ENABLED="false",  # no nudges: every message sent is a reply
            DUBAN_WORKER_TIMEOUT_SECONDS="3",
            **extra,
        )
        made.append(Serve(env, tmp_path))
        return made[-1]

    yield make
    for serve in made:
        if serve.proc is not None and serve.proc.poll() is None:
            await asyncio.to_thread(serve.terminate)


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecomApi]:
    fake = await FakeWecomApi(corp_id=CORP_ID, secret=SECRET).start()
    yield fake
    await fake.stop()


def telegram_env(api: FakeTelegramAPI) -> dict[str, str]:
    return {"DUBAN_TELEGRAM_TOKEN": api.token, "DUBAN_TELEGRAM_BASE_URL": api.url}


def wecom_env(fake: FakeWecomApi) -> dict[str, str]:
    return {
        "DUBAN_WECOM_CORP_ID": CORP_ID,
        "DUBAN_WECOM_AGENT_ID": AGENT_ID,
        "DUBAN_WECOM_SECRET": SECRET,
        "DUBAN_WECOM_TOKEN": TOKEN,
        "DUBAN_WECOM_AES_KEY": AES_KEY,
        "DUBAN_WECOM_API_BASE_URL": fake.base_url,
    }


def bind(app: App, channel: str, ids: Sequence[str]) -> None:
    """One official of the first organisation per id, bound on `channel`."""
    with transaction(app.session_factory) as s:
        org = s.execute(select(Organisation).order_by(Organisation.id).limit(1)).scalar_one()
        for ext in ids:
            people.add_person(s, f"可靠性{channel}{ext}", org, OFFICIAL, app.clock.utcnow(), {channel: ext})


# ---- what the platforms got -----------------------------------------------------------------------------------


def telegram_delivered(api: FakeTelegramAPI) -> dict[str, list[str]]:
    """Chat → texts of the messages sendMessage accepted, in order."""
    out: dict[str, list[str]] = {}
    for c in api.calls_of("sendMessage", ok_only=True):
        out.setdefault(str(c.params["chat_id"]), []).append(c.params.get("text", ""))
    return out


def wecom_delivered(fake: FakeWecomApi) -> dict[str, list[str]]:
    """User → texts message/send accepted, in order."""
    out: dict[str, list[str]] = {}
    for c in fake.calls:
        if c.path == "message/send" and c.ok:
            out.setdefault(str(c.body["touser"]), []).append(c.content or "")
    return out


def telegram_updates(api: FakeTelegramAPI) -> dict[str, str]:
    """Inbox message id → chat of every update injected."""
    return {telegram_key(u): str(u["message"]["chat"]["id"]) for u in api.injected}


def telegram_key(update: dict[str, Any]) -> str:
    """The inbox key of an injected message update (the channel keys a message by chat and message id)."""
    return f"m:{update['message']['chat']['id']}:{update['message']['message_id']}"


async def post_until_acknowledged(sim: WeComSim, user: str, text: str, msg_id: str) -> int:
    """What WeCom does with a callback: POST it (5 s timeout) again and again, same MsgId, until it gets a 200.
    Returns the number of POSTs."""
    query, body = sim.encrypt(sim.inner(user, "text", msg_id, Content=text))
    deadline = time.monotonic() + TIMEOUT
    tries = 0
    while True:
        tries += 1
        try:
            status, _ = await sim.post_raw(query, body, timeout=aiohttp.ClientTimeout(total=5))
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        if status == 200:
            return tries
        assert time.monotonic() < deadline, f"callback {msg_id} never acknowledged"
        await asyncio.sleep(0.2)


# ---- the database ---------------------------------------------------------------------------------------------


def settled(app: App, channel: str, updates: int) -> bool:
    """All `updates` of `channel` stored, none pending, and no reply waiting to be sent."""
    with app.session_factory() as s:
        stored = s.scalar(select(func.count()).select_from(Inbox).where(Inbox.channel == channel))
        pending = s.execute(
            select(Inbox.id).where(Inbox.channel == channel, Inbox.status == IN_PENDING).limit(1)
        ).first()
        waiting = s.execute(
            select(Outbox.id).where(Outbox.channel == channel, Outbox.kind == REPLY, Outbox.status != OUT_SENT).limit(1)
        ).first()
    return stored == updates and pending is None and waiting is None


async def settle(
    app: App,
    channel: str,
    updates: int,
    delivered: Callable[[], Mapping[str, list[str]]],
    expected: Mapping[str, int],
) -> None:
    """Wait until the channel's `updates` are all stored and handled, each chat got at least `expected[chat]`
    replies, and nothing is left to send."""

    async def done() -> bool:
        got = delivered()
        if any(len(got.get(chat, [])) < n for chat, n in expected.items()):
            return False
        return await asyncio.to_thread(settled, app, channel, updates)

    await wait_for(done, TIMEOUT, what=lambda: f"{channel}: {sum(map(len, delivered().values()))} replies delivered")


@dataclass
class Replies:
    sent: int  # reply rows sent (any other status fails the test)
    taken_over: int


def replies_to(app: App, channel: str, chat: str) -> Replies:
    with app.session_factory() as s:
        rows = s.execute(
            select(Outbox.status, Outbox.payload).where(
                Outbox.channel == channel, Outbox.kind == REPLY, Outbox.chat_id == chat
            )
        ).all()
    assert {r.status for r in rows} <= {OUT_SENT}
    return Replies(len(rows), sum(int((r.payload or {}).get("taken_over", 0)) for r in rows))


@dataclass
class Outcome:
    messages: int
    delivered: int
    lost: int
    duplicated: int
    taken_over: int  # reply rows taken over from a killed process

    def report(self, name: str, **more: object) -> str:
        extra = "".join(f", {k} {v}" for k, v in more.items())
        line = (
            f"[inbox reliability] {name}: seed {SEED}, messages {self.messages}, replies delivered {self.delivered}, "
            f"lost {self.lost}, duplicated {self.duplicated}, taken-over rows {self.taken_over}{extra}"
        )
        print(line)
        return line


def check_exactly_once(
    app: App, channel: str, updates: Mapping[str, str], delivered: Mapping[str, list[str]], text: str
) -> Outcome:
    """Every update of the chats in `updates` (inbox message id → chat) stored once and handled once, its one reply
    (`text`) delivered; a reply delivered twice only where its outbox row was taken over from a dead process."""
    chats = set(updates.values())
    with app.session_factory() as s:
        every = s.execute(select(Inbox.message_id, Inbox.chat_id, Inbox.status).where(Inbox.channel == channel)).all()
        replies = s.execute(
            select(Outbox.chat_id, Outbox.status, Outbox.payload).where(
                Outbox.channel == channel, Outbox.kind == REPLY, Outbox.chat_id.in_(chats)
            )
        ).all()
    rows = [r for r in every if r.chat_id in chats]
    assert {r.message_id: r.chat_id for r in rows} == dict(updates)  # each update stored, once
    assert len(rows) == len(updates)
    assert Counter(r.status for r in rows) == {IN_DONE: len(updates)}
    # The inbox row is the one record of a handled message (a redelivery is refused by its key): handled once is
    # each row done, with one reply each (below).
    assert Counter(r.status for r in replies) == {OUT_SENT: len(updates)}  # none pending, sending or failed
    per_chat = Counter(r.chat_id for r in replies)
    assert per_chat == Counter(updates.values())  # one reply per message
    taken = Counter(r.chat_id for r in replies for _ in range(int((r.payload or {}).get("taken_over", 0))))
    lost = duplicated = 0
    for chat, n in per_chat.items():
        got = delivered.get(chat, [])
        assert set(got) <= {text}, (chat, got)
        lost += max(0, n - len(got))
        duplicated += max(0, len(got) - n)
        assert len(got) - n <= taken[chat], f"chat {chat}: {len(got) - n} extra replies, {taken[chat]} taken over"
    assert set(delivered) <= set(per_chat), "a reply went to a chat that wrote nothing"
    assert lost == 0
    return Outcome(len(updates), sum(map(len, delivered.values())), lost, duplicated, sum(taken.values()))


# ---- bursts with kills ----------------------------------------------------------------------------------------


@dataclass
class Storm:
    """BURSTS bursts of BURST_SIZE messages from random chats; SIGKILLs where the seed puts them (KILLS), each
    followed by a restart."""

    serve: Serve
    rng: random.Random
    say: Callable[[str], object]  # one message from this chat; the platform delivers it (again, until acknowledged)
    delivered: Callable[[], Mapping[str, list[str]]]  # chat → replies the platform accepted so far
    chats: list[str]
    sent: Counter[str] = field(default_factory=Counter)
    kills: list[tuple[str, int]] = field(default_factory=list)  # (where, replies outstanding)

    async def run(self) -> None:
        plan = dict(zip(self.rng.sample(range(BURSTS), len(KILLS)), KILLS, strict=True))
        for n in range(BURSTS):
            await self.burst(n, plan.get(n))
            await asyncio.sleep(self.rng.uniform(0.1, 1.0))

    async def burst(self, n: int, kill: str | None) -> None:
        """One burst. A "burst" kill falls after a random number of its messages, a "replies" kill once a random
        number of replies arrived since the burst began (the rest still being handled and sent); the burst goes on
        while the process is dead, and it is started again at the end of the burst."""
        at_message = self.rng.randint(5, BURST_SIZE - 5) if kill == "burst" else None
        at_reply = self.replies() + self.rng.randint(1, BURST_SIZE // 3) if kill == "replies" else None
        alive = True
        for i in range(BURST_SIZE):
            if alive and i == at_message:
                self.kill(f"{kill}: burst {n}, before message {i}")
                alive = False
            chat = self.rng.choice(self.chats)
            self.say(chat)
            self.sent[chat] += 1
            if alive and at_reply is not None and self.replies() >= at_reply:
                self.kill(f"{kill}: burst {n}, after message {i}")  # at least that message's reply outstanding
                alive = False
            await asyncio.sleep(self.rng.uniform(0.0, 0.03))
        if alive and at_reply is not None:
            await wait_for(lambda: self.replies() >= at_reply, TIMEOUT, what=f"{at_reply} replies delivered")
            self.kill(f"{kill}: burst {n}, after its last message")
            alive = False
        if not alive:
            await self.serve.start()

    def replies(self) -> int:
        return sum(map(len, self.delivered().values()))

    def kill(self, where: str) -> None:
        got = self.delivered()
        outstanding = sum(max(0, n - len(got.get(chat, []))) for chat, n in self.sent.items())
        self.serve.kill()
        self.kills.append((where, outstanding))
        print(f"[inbox reliability] SIGKILL {len(self.kills)} at {where}: {outstanding} replies outstanding")

    def check_kills(self) -> None:
        assert len(self.kills) == len(KILLS) and self.serve.starts == len(KILLS) + 1
        assert any(where.startswith("replies") and outstanding > 0 for where, outstanding in self.kills), self.kills


async def reply_latency(api: FakeTelegramAPI, chat: int, text: str) -> float:
    """Send `text` from `chat`; seconds until the fake received the reply's sendMessage."""
    before = len(api.sent(chat))
    injected = time.monotonic()
    api.inject_message(chat, text)
    await wait_for(lambda: len(api.sent(chat)) > before, TIMEOUT, what=f"a reply to {chat}")
    calls = [c for c in api.calls_of("sendMessage", ok_only=True) if str(c.params["chat_id"]) == str(chat)]
    return calls[before].at - injected


def rng_for(name: str) -> random.Random:
    print(f"[inbox reliability] {name}: seed {SEED}")
    return random.Random(f"{SEED}:{name}")


# ---- the tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_telegram_sigkill_in_bursts_loses_nothing(
    mode: str, view: App, api: FakeTelegramAPI, launch: Callable[..., Serve]
) -> None:
    chats = [str(FIRST_CHAT + i) for i in range(USERS)]
    bind(view, "telegram", chats)
    serve = launch(**telegram_env(api))
    if mode == "webhook":
        serve.env["DUBAN_TELEGRAM_WEBHOOK_URL"] = serve.url + "/telegram/webhook"
        api.webhook_retry_for = TIMEOUT  # as Telegram: a push without a 2xx is made again, and again
    await serve.start()
    storm = Storm(
        serve,
        rng_for(f"telegram {mode}"),
        lambda chat: api.inject_message(int(chat), HELP),
        lambda: telegram_delivered(api),
        chats,
    )
    await storm.run()
    await settle(view, "telegram", len(api.injected), lambda: telegram_delivered(api), storm.sent)
    if mode == "webhook":
        assert not api.webhook_given_up
    outcome = check_exactly_once(view, "telegram", telegram_updates(api), telegram_delivered(api), texts.HELP_OFFICIAL)
    storm.check_kills()
    failed_pushes = sum(1 for _, status in api.webhook_deliveries if status != 200)
    more = {"webhook pushes without a 200 (made again)": failed_pushes} if mode == "webhook" else {}
    outcome.report(f"telegram {mode}", kills=len(storm.kills), **more)
    code, _ = await asyncio.to_thread(serve.terminate)
    assert code == 0, serve.log()


async def test_wecom_sigkill_in_bursts_loses_nothing(
    view: App, wecom: FakeWecomApi, launch: Callable[..., Serve]
) -> None:
    users = [f"wx-{i:03d}" for i in range(USERS)]
    bind(view, "wecom", users)
    serve = launch(**wecom_env(wecom))
    await serve.start()
    sim = WeComSim(serve.url + "/wecom/callback")
    posts: list[asyncio.Task[int]] = []
    updates: dict[str, str] = {}

    def say(user: str) -> None:
        msg_id = str(7_100_000_000_000_000_001 + len(updates))
        updates[msg_id] = user
        posts.append(asyncio.create_task(post_until_acknowledged(sim, user, HELP, msg_id)))

    try:
        storm = Storm(serve, rng_for("wecom"), say, lambda: wecom_delivered(wecom), users)
        await storm.run()
        tries = await asyncio.gather(*posts)
    finally:
        await sim.close()
    await settle(view, "wecom", len(updates), lambda: wecom_delivered(wecom), storm.sent)
    outcome = check_exactly_once(view, "wecom", updates, wecom_delivered(wecom), texts.HELP_OFFICIAL)
    storm.check_kills()
    outcome.report("wecom", kills=len(storm.kills), **{"callbacks posted again": sum(tries) - len(tries)})
    code, _ = await asyncio.to_thread(serve.terminate)
    assert code == 0, serve.log()


async def test_platform_outages_lose_nothing_and_send_nothing_twice(
    view: App, api: FakeTelegramAPI, wecom: FakeWecomApi, launch: Callable[..., Serve]
) -> None:
    """sendMessage and message/send answer 500, 502 and 429 for four seconds in the middle of the traffic."""
    chats = [str(FIRST_CHAT + i) for i in range(40)]
    users = [f"wx-{i:03d}" for i in range(40)]
    bind(view, "telegram", chats)
    bind(view, "wecom", users)
    serve = launch(**telegram_env(api), **wecom_env(wecom))
    await serve.start()
    rng = rng_for("outage")
    sim = WeComSim(serve.url + "/wecom/callback")
    posts: list[asyncio.Task[int]] = []
    updates: dict[str, str] = {}
    sent: dict[str, Counter[str]] = {"telegram": Counter(), "wecom": Counter()}
    try:
        for n in range(4):
            for i in range(60):
                if (n, i) == (1, 20):
                    api.fail_for("sendMessage", 4.0)
                    wecom.fail_http_for("message/send", 4.0)
                chat, user = rng.choice(chats), rng.choice(users)
                api.inject_message(int(chat), HELP)
                msg_id = str(7_200_000_000_000_000_001 + len(updates))
                updates[msg_id] = user
                posts.append(asyncio.create_task(post_until_acknowledged(sim, user, HELP, msg_id)))
                sent["telegram"][chat] += 1
                sent["wecom"][user] += 1
                await asyncio.sleep(rng.uniform(0.0, 0.03))
            await asyncio.sleep(rng.uniform(0.5, 1.5))
        await asyncio.gather(*posts)
    finally:
        await sim.close()
    await settle(view, "telegram", len(api.injected), lambda: telegram_delivered(api), sent["telegram"])
    await settle(view, "wecom", len(updates), lambda: wecom_delivered(wecom), sent["wecom"])
    tg = check_exactly_once(view, "telegram", telegram_updates(api), telegram_delivered(api), texts.HELP_OFFICIAL)
    wc = check_exactly_once(view, "wecom", updates, wecom_delivered(wecom), texts.HELP_OFFICIAL)
    tg.report("telegram outage", **{"sends refused": api.outage_failures("sendMessage")})
    wc.report("wecom outage", **{"sends refused": wecom.outage_failures})
    assert api.outage_failures("sendMessage") > 0 and wecom.outage_failures > 0
    assert (tg.duplicated, tg.taken_over, wc.duplicated, wc.taken_over) == (0, 0, 0, 0)  # nothing was killed
    code, _ = await asyncio.to_thread(serve.terminate)
    assert code == 0, serve.log()


async def test_a_strangers_flood_neither_slows_officials_nor_delays_a_stop(
    view: App, api: FakeTelegramAPI, launch: Callable[..., Serve]
) -> None:
    """1000 messages from an unbound user while 10 officials chat (polling): each official's reply within a
    second; SIGTERM in the middle of the flood exits within 10 s; every update confirmed to Telegram is in the
    inbox; after a restart the officials' messages are all handled, the stranger's handled or skipped (over
    DUBAN_STRANGER_QUEUE_CAP)."""
    officials = [FIRST_CHAT + i for i in range(10)]
    stranger = FIRST_CHAT + 999
    bind(view, "telegram", [str(c) for c in officials])
    serve = launch(**telegram_env(api))
    await serve.start()
    rng = rng_for("stranger flood")
    latencies: list[float] = []

    async def official(chat: int) -> None:
        await asyncio.sleep(rng.uniform(0.0, 1.0))  # ten people do not write at the same millisecond
        for _ in range(6):
            latencies.append(await reply_latency(api, chat, HELP))
            await asyncio.sleep(rng.uniform(0.8, 1.2))  # a person reads the answer (and Telegram's 1/s per chat)

    async def flood() -> None:  # 1000 messages, 50 at a time, in about 11 s: longer than the officials chat
        for n in range(1000):
            api.inject_message(stranger, f"在吗{n}")
            if n % 50 == 49:
                await asyncio.sleep(0.55)

    flooding = asyncio.create_task(flood())
    await asyncio.gather(*(official(c) for c in officials))
    assert not flooding.done(), "the flood ended before the officials did: SIGTERM would not come in the middle"
    with view.session_factory() as s:
        pending = s.scalar(select(func.count()).select_from(Inbox).where(Inbox.status == IN_PENDING))
    code, stop_seconds = await asyncio.to_thread(serve.terminate)  # the flood goes on while it stops
    assert code == 0, serve.log()
    await flooding
    updates = telegram_updates(api)
    confirmed = {telegram_key(u) for u in api.injected if u["update_id"] not in api.unconfirmed}
    with view.session_factory() as s:
        stored = set(s.scalars(select(Inbox.message_id).where(Inbox.channel == "telegram")))
    assert confirmed <= stored, f"{len(confirmed - stored)} updates confirmed to Telegram but not stored"

    await serve.start()
    officials_replies = Counter({str(c): 6 for c in officials})
    await settle(view, "telegram", len(api.injected), lambda: telegram_delivered(api), officials_replies)
    with view.session_factory() as s:
        rows = s.execute(select(Inbox.message_id, Inbox.chat_id, Inbox.status).where(Inbox.channel == "telegram")).all()
    assert {r.message_id: r.chat_id for r in rows} == updates
    by_status = Counter(r.status for r in rows if r.chat_id == str(stranger))
    assert set(by_status) <= {IN_DONE, IN_SKIPPED}, by_status
    delivered = telegram_delivered(api)
    stranger_replies = replies_to(view, "telegram", str(stranger))
    got = delivered.get(str(stranger), [])
    assert set(got) <= {texts.UNBOUND} and 0 <= len(got) - stranger_replies.sent <= stranger_replies.taken_over
    bound = {m: c for m, c in updates.items() if c != str(stranger)}
    outcome = check_exactly_once(
        view, "telegram", bound, {c: delivered[c] for c in bound.values()}, texts.HELP_OFFICIAL
    )
    outcome.report(
        "stranger flood",
        **{
            "official replies latency": f"median {statistics.median(latencies):.3f}s, max {max(latencies):.3f}s",
            "SIGTERM exit": f"{stop_seconds:.2f}s (mid-flood, {pending} messages pending)",
            "stranger handled": by_status[IN_DONE],
            "stranger skipped": by_status[IN_SKIPPED],
        },
    )
    assert len(latencies) == 60 and max(latencies) < 1.0, sorted(latencies)[-5:]
    assert stop_seconds < 10.0
    code, _ = await asyncio.to_thread(serve.terminate)
    assert code == 0, serve.log()


async def test_a_strangers_batch_is_capped_too(view: App, api: FakeTelegramAPI, launch: Callable[..., Serve]) -> None:
    """getUpdates hands out up to 100 updates at once (what queued while the process was down, or a fast flood): of a
    stranger's 100, at most DUBAN_STRANGER_QUEUE_CAP are kept to be handled, the rest are skipped."""
    stranger = str(FIRST_CHAT + 999)
    for n in range(100):
        api.inject_message(int(stranger), f"在吗{n}")
    serve = launch(**telegram_env(api))
    await serve.start()

    def statuses() -> Counter[str]:
        with view.session_factory() as s:
            return Counter(s.scalars(select(Inbox.status).where(Inbox.chat_id == stranger)))

    stored = await wait_for(lambda: (c := statuses()).total() == 100 and c, TIMEOUT, what=lambda: str(statuses()))
    code, _ = await asyncio.to_thread(serve.terminate)
    assert code == 0, serve.log()
    cap = view.settings.stranger_queue_cap  # 20, as in the serve process
    assert stored.total() - stored[IN_SKIPPED] <= cap, f"{stored} with a cap of {cap}"
