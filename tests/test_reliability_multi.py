"""Two `duban serve` processes on one PostgreSQL database, behind a load balancer, and one of them SIGKILLed.

The test plays WeCom and the load balancer in front of two `duban serve` subprocesses (the real command, WeCom
channel, each on its own DUBAN_HTTP_PORT, both on the test's database, DUBAN_WORKER_TIMEOUT_SECONDS=3, scheduler
off) talking to the fake WeCom API (tests/fakes/wecom_api.py), whose message/send answers after a random 50–250 ms
as the real one does (so a chat's lease is held while its reply goes out, and a kill can fall during a send).

- 50 bound officials each send 6 numbered messages (300 in all), one after the other: the next once the callback of
  the previous one got its 200, after a short pause. Each text is unknown to the engine, which answers "没太明白
  “<text>”…": every reply is deterministic and tells its message apart, so the order of a user's replies at the
  fake is checked against the order of their messages.
- The balancer sends each callback to one of the two processes at random (seeded; the seed is printed, and
  DUBAN_TEST_SEED replays another); a callback that gets no 200 (refused, reset, timed out, an error status) is
  POSTed again, same MsgId, to the other process, and so on until one answers 200.
- Once half the callbacks are acknowledged, at a moment the victim (chosen by the seed) works on at least one chat
  (holds its lease, or sends a reply to it: a message handled as it arrived holds no lease), the victim is
  SIGKILLed. It is NOT restarted: the survivor alone must take over its chats (after the
  victim's heartbeat is older than the timeout) and its replies in flight, and handle everything still to come.

Afterwards: every message is in the inbox once and handled once (status done: the inbox row is the one record of a handled message); every
reply row is sent and the fake received, per user, exactly the reply rows, plus a duplicate only of a row whose
payload says it was taken over from the dead process (WeCom's message/send takes no idempotency key); each user got
the replies in the order of their messages, and the outbox rows' ids follow the inbox rows' ids; both processes
handled messages before the kill; the rows the victim was sending are exactly the rows taken over (one "taken over"
log line each in the survivor's log); and the survivor was seen working on chats the dead process worked on.
The measured numbers are printed.

PostgreSQL only (marker `postgresql_only`): several processes on one database is what PostgreSQL adds (on SQLite
one process works the database); without a PostgreSQL configured the test is deselected, not run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.app import App
from config.clock import wall_utcnow
from db.models import IN_DONE, IN_PENDING, OUT_SENDING, OUT_SENT, REPLY, Inbox, InboxChat, Outbox, Worker
from handlers import texts
from tests.fakes.wait import wait_for
from tests.fakes.wecom_api import Call, FakeWecomApi
from tests.serving import Serve, serve_env
from tests.test_reliability_inbox import NOW, bind, wecom_env
from tests.test_wecom import CORP_ID, SECRET, WeComSim

SEED = int(os.environ.get("DUBAN_TEST_SEED", "20230601"))
USERS, PER_USER = 50, 6  # 300 messages
MESSAGES = USERS * PER_USER
FIRST_MSG_ID = 7_300_000_000_000_000_001
KILL_AFTER = MESSAGES // 2  # callbacks acknowledged before the SIGKILL
WORKER_TIMEOUT = 3.0  # DUBAN_WORKER_TIMEOUT_SECONDS of both processes
SEND_LATENCY = (0.05, 0.25)  # seconds the fake's message/send takes to answer
PAUSE = (0.1, 0.6)  # seconds a user waits between two messages
TIMEOUT = 60.0
CHANNEL = "wecom"

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]


def say(line: str) -> None:
    print(f"[multi-process] {line}")


def message_text(user: int, n: int) -> str:
    """Message `n` (1-based) of user `user`: a text the engine does not understand, so it is echoed back."""
    return f"编号A{user:02d}B{n}"


def reply_text(text: str) -> str:
    """What the engine answers a bound official for `text` (handlers/queries/unknown.py, no close names)."""
    examples = "\n".join(texts.Q_EXAMPLE_LINE.format(text=e) for e in texts.Q_EXAMPLES_OFFICIAL)
    return texts.Q_UNKNOWN.format(text=text, hint="", examples=examples)


def message_of(dedupe_key: str) -> str:
    """The message id in a reply row's key: reply:<channel>:<message id>[@<arrival>]:<index>."""
    m = re.fullmatch(rf"reply:{CHANNEL}:([^@:]+)(?:@[0-9]+)?:0", dedupe_key)
    assert m is not None, dedupe_key
    return m.group(1)


# ---- the platform -------------------------------------------------------------------------------------------


@dataclass
class SlowWecom(FakeWecomApi):
    """The fake WeCom API, whose message/send takes a while to answer (the message is delivered at once: a sender
    killed while waiting for the answer does not know it went out), and which notes when each call arrived."""

    rng: random.Random = field(default_factory=lambda: random.Random(f"{SEED}:latency"))
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each call, parallel to `calls`

    def _record(self, request: web.Request, body: object = None) -> Call:
        call = super()._record(request, body)
        self.arrived.append(time.monotonic())
        return call

    async def _message_send(self, request: web.Request) -> web.Response:
        response = await super()._message_send(request)
        await asyncio.sleep(self.rng.uniform(*SEND_LATENCY))
        return response

    def delivered(self) -> dict[str, list[str]]:
        """User → texts message/send accepted, in the order they arrived."""
        out: dict[str, list[str]] = {}
        for c in self.calls:
            if c.path == "message/send" and c.ok:
                out.setdefault(str(c.body["touser"]), []).append(c.content or "")
        return out

    def last_send(self) -> float:
        return max(t for c, t in zip(self.calls, self.arrived, strict=True) if c.path == "message/send" and c.ok)


# ---- the load balancer --------------------------------------------------------------------------------------


@dataclass
class Balancer:
    """Sends each callback to a process chosen at random, and again to the other until one answers 200."""

    sim: WeComSim  # encrypts as WeCom does
    urls: list[str]
    acknowledged: int = 0
    acked_by: Counter[int] = field(default_factory=Counter)  # 200s per process
    posts: Counter[int] = field(default_factory=Counter)  # POSTs per process
    unanswered: int = 0  # POSTs without a 200 (made again to the other process)
    ack_seconds: list[float] = field(default_factory=list)  # how long each acknowledged POST took

    async def deliver(self, rng: random.Random, user: str, text: str, msg_id: str) -> None:
        query, body = self.sim.encrypt(self.sim.inner(user, "text", msg_id, Content=text))
        target = rng.randrange(len(self.urls))
        deadline = time.monotonic() + TIMEOUT
        tries = 0
        while True:
            tries += 1
            self.posts[target] += 1
            posted = time.monotonic()
            try:
                async with self.sim.http.post(
                    self.urls[target], params=query, data=body, timeout=aiohttp.ClientTimeout(total=5)
                ) as res:
                    status = res.status
                    await res.read()
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            if status == 200:
                self.ack_seconds.append(time.monotonic() - posted)
                self.acknowledged += 1
                self.acked_by[target] += 1
                return
            self.unanswered += 1
            assert time.monotonic() < deadline, f"callback {msg_id} never acknowledged"
            target = (target + 1) % len(self.urls)
            if tries % len(self.urls) == 0:
                await asyncio.sleep(0.2)  # every process refused it: wait a little, as WeCom does


# ---- the processes and the database -------------------------------------------------------------------------


def worker_of(app: App, serve: Serve) -> str:
    """The worker id of a running process (hostname-pid-random, registered before it listens)."""
    assert serve.proc is not None
    with app.session_factory() as s:
        ids = [w for w in s.scalars(select(Worker.id)) if f"-{serve.proc.pid}-" in w]
    assert len(ids) == 1, ids
    return ids[0]


async def handled_by(serve: Serve) -> int:
    """The process's duban_inbox_handled counter for WeCom (its /metrics)."""
    async with aiohttp.ClientSession() as http, http.get(serve.url + "/metrics") as res:
        body = await res.text()
    m = re.search(r'^duban_inbox_handled_total\{channel="wecom"\} ([0-9.e+]+)$', body, re.MULTILINE)
    return int(float(m.group(1))) if m else 0


def work_of(app: App, worker_id: str) -> set[str]:
    """The chats a process has work in hand for: it holds the chat's lease (rows waiting in its loop), or it is
    sending a reply to it (a message handled as it arrived holds no lease: its claimed reply rows are the work)."""
    with app.session_factory() as s:
        leased = set(s.scalars(select(InboxChat.chat_id).where(InboxChat.claimed_by == worker_id)))
        sending = s.scalars(
            select(Outbox.chat_id).where(
                Outbox.kind == REPLY, Outbox.status == OUT_SENDING, Outbox.claimed_by == worker_id
            )
        )
        return leased | set(sending)


@dataclass
class AtKill:
    """The database the moment the victim died (its claims are frozen from then on)."""

    at: float  # time.monotonic() of the SIGKILL
    last_beat: dt.datetime  # the victim's last heartbeat (wall-clock UTC, as the workers compare it)
    chats: set[str]  # chats the victim worked on (held the lease of, or was sending a reply to)
    done: set[int]  # inbox rows handled by then
    sending: set[int]  # reply rows the victim had claimed to send


def at_kill(app: App, victim: str, at: float) -> AtKill:
    with app.session_factory() as s:
        last_beat = s.execute(select(Worker.seen_at).where(Worker.id == victim)).scalar_one()
        done = set(s.scalars(select(Inbox.id).where(Inbox.channel == CHANNEL, Inbox.status == IN_DONE)))
        sending = set(
            s.scalars(
                select(Outbox.id).where(Outbox.kind == REPLY, Outbox.status == OUT_SENDING, Outbox.claimed_by == victim)
            )
        )
    return AtKill(at, last_beat, work_of(app, victim), done, sending)


def settled(app: App) -> bool:
    """All messages stored, none pending, and no reply waiting to be sent."""
    with app.session_factory() as s:
        stored = s.scalar(select(func.count()).select_from(Inbox).where(Inbox.channel == CHANNEL))
        pending = s.execute(
            select(Inbox.id).where(Inbox.channel == CHANNEL, Inbox.status == IN_PENDING).limit(1)
        ).first()
        waiting = s.execute(
            select(Outbox.id).where(Outbox.channel == CHANNEL, Outbox.kind == REPLY, Outbox.status != OUT_SENT).limit(1)
        ).first()
    return stored == MESSAGES and pending is None and waiting is None


# ---- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture
async def wecom() -> AsyncIterator[SlowWecom]:
    fake = await SlowWecom(corp_id=CORP_ID, secret=SECRET).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def pair(view: App, wecom: SlowWecom, tmp_path: Path) -> AsyncIterator[list[Serve]]:
    """Two `duban serve` processes (not started) on the test's database; stopped at the end if still running."""
    made = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        env = serve_env(
            view.settings,
            workdir / "data",
            DUBAN_NOW=NOW,
            DUBAN_SCHEDULER_ENABLED="false",  # no nudges: every message sent is a reply
            DUBAN_WORKER_TIMEOUT_SECONDS=str(WORKER_TIMEOUT),
            **wecom_env(wecom),
        )
        made.append(Serve(env, workdir))
    yield made
    for serve in made:
        if serve.proc is not None and serve.proc.poll() is None:
            await asyncio.to_thread(serve.terminate)


# ---- the test -----------------------------------------------------------------------------------------------


async def test_two_processes_one_sigkilled_lose_nothing_and_keep_order(
    view: App, wecom: SlowWecom, pair: list[Serve]
) -> None:
    started = time.monotonic()
    rng = random.Random(f"{SEED}:multi")
    say(f"seed {SEED}")
    users = [f"wx-m{i:02d}" for i in range(USERS)]
    bind(view, CHANNEL, users)
    await asyncio.gather(*(serve.start() for serve in pair))
    workers = [worker_of(view, serve) for serve in pair]
    victim_no = rng.randrange(len(pair))
    survivor_no = 1 - victim_no
    victim, survivor = pair[victim_no], pair[survivor_no]
    victim_id, survivor_id = workers[victim_no], workers[survivor_no]

    sim = WeComSim(pair[0].url + "/wecom/callback")
    balancer = Balancer(sim, [serve.url + "/wecom/callback" for serve in pair])
    sent: dict[str, tuple[str, str]] = {}  # msg id → (user, text), in the order they were acknowledged

    async def user(i: int) -> None:
        r = random.Random(f"{SEED}:user:{i}")
        await asyncio.sleep(r.uniform(0.0, 1.0))  # fifty people do not start at the same millisecond
        for n in range(1, PER_USER + 1):
            msg_id, text = str(FIRST_MSG_ID + i * PER_USER + n - 1), message_text(i, n)
            await balancer.deliver(r, users[i], text, msg_id)
            sent[msg_id] = (users[i], text)
            await asyncio.sleep(r.uniform(*PAUSE))

    kill: list[AtKill] = []
    before_kill: dict[str, int] = {}

    async def killer() -> None:
        await wait_for(lambda: balancer.acknowledged >= KILL_AFTER, TIMEOUT, what="half the callbacks acknowledged")
        before_kill["victim"], before_kill["survivor"] = await asyncio.gather(handled_by(victim), handled_by(survivor))
        # SIGKILL at a moment the victim works on some chat (the check and the kill are a few ms apart; a reply
        # takes the fake at least 50 ms to accept, and its row is claimed meanwhile).
        await wait_for(lambda: work_of(view, victim_id), 10.0, what="the victim working on a chat")
        killed = time.monotonic()
        victim.kill()
        say(f"SIGKILL process {'ab'[victim_no]} ({victim_id}) after {balancer.acknowledged} callbacks acknowledged")
        await asyncio.sleep(0.3)  # whatever the victim's connections had sent is processed by PostgreSQL
        kill.append(await asyncio.to_thread(at_kill, view, victim_id, killed))

    try:
        await asyncio.gather(killer(), *(user(i) for i in range(USERS)))
        assert len(sent) == MESSAGES
        state = kill[0]

        # Watch the survivor while it finishes: it must be seen working on chats the dead process worked on.
        taken: dict[str, tuple[float, dt.datetime]] = {}  # chat → when the survivor was first seen holding it

        async def watch() -> None:
            while True:
                held = await asyncio.to_thread(work_of, view, survivor_id)
                now = (time.monotonic(), wall_utcnow())
                for chat in held & state.chats:
                    taken.setdefault(chat, now)
                await asyncio.sleep(0.02)

        watcher = asyncio.create_task(watch())
        try:
            expected = Counter(user for user, _ in sent.values())

            async def done() -> bool:
                got = wecom.delivered()
                if any(len(got.get(u, [])) < n for u, n in expected.items()):
                    return False
                return await asyncio.to_thread(settled, view)

            await wait_for(done, TIMEOUT, what=lambda: f"{sum(map(len, wecom.delivered().values()))} replies delivered")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    finally:
        await sim.close()
    handled_survivor = await handled_by(survivor)

    # ---- every message stored once, handled once -------------------------------------------------------------
    with view.session_factory() as s:
        rows = s.execute(
            select(Inbox.id, Inbox.message_id, Inbox.chat_id, Inbox.status, Inbox.received_at, Inbox.handled_at).where(
                Inbox.channel == CHANNEL
            )
        ).all()
        replies = s.execute(
            select(Outbox.id, Outbox.dedupe_key, Outbox.chat_id, Outbox.text, Outbox.status, Outbox.payload).where(
                Outbox.channel == CHANNEL, Outbox.kind == REPLY
            )
        ).all()
        leases = {
            r.chat_id: r.claimed_by
            for r in s.execute(select(InboxChat.chat_id, InboxChat.claimed_by).where(InboxChat.channel == CHANNEL))
        }
    assert {r.message_id: r.chat_id for r in rows} == {m: u for m, (u, _) in sent.items()}
    assert len(rows) == MESSAGES
    assert Counter(r.status for r in rows) == {IN_DONE: MESSAGES}

    # ---- one reply row per message, each sent -------------------------------------------------------------------
    by_message = {message_of(r.dedupe_key): r for r in replies}
    assert len(replies) == MESSAGES and set(by_message) == set(sent), "one reply per message"
    assert Counter(r.status for r in replies) == {OUT_SENT: MESSAGES}
    for msg_id, (user_id, text) in sent.items():
        assert (by_message[msg_id].chat_id, by_message[msg_id].text) == (user_id, reply_text(text)), msg_id

    # ---- in order: inbox ids follow each user's sending order, outbox ids follow inbox ids ----------------------
    inbox_id = {r.message_id: r.id for r in rows}
    per_user: dict[str, list[str]] = {}  # user → message ids in the order sent
    for msg_id, (user_id, _) in sorted(sent.items(), key=lambda kv: int(kv[0])):
        per_user.setdefault(user_id, []).append(msg_id)
    for user_id, ids in per_user.items():
        assert [inbox_id[m] for m in ids] == sorted(inbox_id[m] for m in ids), f"{user_id}: stored out of order"
        assert [by_message[m].id for m in ids] == sorted(by_message[m].id for m in ids), (
            f"{user_id}: queued out of order"
        )

    # ---- every reply delivered, in order; twice only where its row was taken over -------------------------------
    assert all(c.ok for c in wecom.calls_to("message/send")), "a message/send failed"
    delivered = wecom.delivered()
    assert set(delivered) == set(per_user), "a reply went to someone who wrote nothing"
    taken_over_rows = {r.id: int((r.payload or {}).get("taken_over", 0)) for r in replies}
    duplicates = 0
    for user_id, ids in per_user.items():
        want = [reply_text(sent[m][1]) for m in ids]
        got = delivered[user_id]
        # In the order of the messages; a reply sent again (taken over) right after its first sending.
        assert [t for i, t in enumerate(got) if i == 0 or got[i - 1] != t] == want, f"{user_id}: {got}"
        for m in ids:
            extra = got.count(reply_text(sent[m][1])) - 1
            assert extra <= taken_over_rows[by_message[m].id], f"{user_id}: reply to {m} sent {extra + 1} times"
            duplicates += extra
        assert len(got) - len(ids) <= sum(taken_over_rows[by_message[m].id] for m in ids), user_id

    # ---- the dead process's work was taken over ------------------------------------------------------------------
    taken_over = {row_id for row_id, n in taken_over_rows.items() if n}
    assert taken_over == state.sending, "the rows the dead process was sending are the rows taken over"
    assert all(taken_over_rows[r] == 1 for r in taken_over)
    survivor_log = (survivor.workdir / "serve1.log").read_text(errors="replace")
    logged = re.findall(rf"outbox (\d+) taken over from {re.escape(victim_id)}", survivor_log)
    assert sorted(map(int, logged)) == sorted(taken_over), "one 'taken over' log line per row taken over"
    assert state.chats, "the victim worked on no chat when it was killed"
    later = {r.chat_id for r in rows if r.id not in state.done}  # chats with messages handled after the kill
    owed = state.chats & later  # the dead process's chats that had work left: only the survivor could do it
    assert owed, "none of the dead process's chats had anything left to handle"
    assert taken, "the survivor was never seen working on a chat of the dead process"
    assert not [c for c, holder in leases.items() if holder == victim_id and c in owed]
    first_taken = min(at for at, _ in taken.values()) - state.at
    # Nothing was taken over before the dead process's last heartbeat was older than the timeout.
    silent = min((wall - state.last_beat).total_seconds() for _, wall in taken.values())
    assert silent >= WORKER_TIMEOUT, f"a chat taken over {silent:.2f}s after the last heartbeat"
    beat_before_kill = (wall_utcnow() - state.last_beat).total_seconds() - (time.monotonic() - state.at)

    # ---- both processes worked ------------------------------------------------------------------------------------
    handled_victim = MESSAGES - handled_survivor  # all of it before the kill
    assert before_kill["victim"] > 0 and before_kill["survivor"] > 0, before_kill
    assert before_kill["victim"] <= handled_victim, (before_kill, handled_survivor)
    last_reply = wecom.last_send() - state.at
    waited = [(r.handled_at - r.received_at).total_seconds() for r in rows]  # stored → handled
    acks = balancer.ack_seconds

    code, _ = await asyncio.to_thread(survivor.terminate)
    assert code == 0, survivor.log()
    say(
        f"seed {SEED}: messages {MESSAGES} from {USERS} users; killed process {'ab'[victim_no]}, not restarted; "
        f"callbacks acknowledged per process {dict(sorted(balancer.acked_by.items()))}, "
        f"POSTs without a 200 (made again) {balancer.unanswered}; "
        f"handled: victim {handled_victim} (all before the kill), survivor {handled_survivor} "
        f"({before_kill['survivor']} by the time of the kill); "
        f"replies delivered {sum(map(len, delivered.values()))}, duplicates {duplicates}, "
        f"taken-over rows {len(taken_over)}; "
        f"chats the victim worked on at the kill {len(state.chats)}, with work left {len(owed)}, "
        f"seen taken over {len(taken)} (first {first_taken:.2f}s after the kill, "
        f"whose last heartbeat was {beat_before_kill:.2f}s before it); "
        f"kill to last reply {last_reply:.2f}s; "
        f"callback answered in median {statistics.median(acks):.3f}s, max {max(acks):.3f}s; "
        f"stored to handled median {statistics.median(waited):.2f}s, max {max(waited):.2f}s; "
        f"run {time.monotonic() - started:.1f}s"
    )
    sys.stdout.flush()
