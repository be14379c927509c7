"""The edge every channel shares: splitting under a limit, per-chat order, and confirming replies only once
every one of them was delivered. Channel-free: a scripted engine and a recording `send`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.edge import Edge, TextLimit, Unit, plain_parts, split
from core.channel import PermanentFailure, Runtime
from core.messages import Choice, IncomingMessage, Reply
from handlers import texts

# ---- text ---------------------------------------------------------------------------------------------------


def test_split_keeps_lines_together_under_the_limit() -> None:
    assert split("", TextLimit(10)) == []
    assert split("short", TextLimit(10)) == ["short"]
    assert split("aaaa\nbbbb\ncccc", TextLimit(9)) == ["aaaa\nbbbb", "cccc"]
    assert split("x" * 25, TextLimit(10)) == ["x" * 10, "x" * 10, "x" * 5]  # a line longer than the limit is cut


def test_split_counts_utf8_bytes_and_never_cuts_a_character() -> None:
    text = "汇报进度" * 3  # 12 characters, 36 bytes
    assert split(text, TextLimit(12)) == [text]
    parts = split(text, TextLimit(10, Unit.UTF8))
    assert parts == ["汇报进", "度汇报", "进度汇", "报进度"] and all(len(p.encode()) <= 10 for p in parts)


@given(
    st.text(alphabet=st.sampled_from(list("汇报ab1\n🌲")), max_size=500),
    st.integers(min_value=4, max_value=64),
    st.sampled_from(list(Unit)),
)
def test_split_loses_nothing_but_line_breaks(text: str, size: int, unit: Unit) -> None:
    limit = TextLimit(size, unit)
    parts = split(text, limit)
    assert all(0 < limit.measure(p) <= size for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


def test_plain_parts_number_the_choices() -> None:
    reply = Reply("选哪项？", choices=[Choice("污水处理", "#17", "~q.0"), Choice("垃圾分类", "#18", "~q.1")])
    assert plain_parts(reply, TextLimit(100)) == ["选哪项？\n\n1. 污水处理\n2. 垃圾分类"]
    assert plain_parts(Reply("已列出：1. 甲", [Choice("甲", "a")], listed=True), TextLimit(100)) == ["已列出：1. 甲"]
    assert plain_parts(Reply(""), TextLimit(100)) == []


# ---- the direct round trip (the console) ------------------------------------------------------------------


@dataclass
class RecordingEngine:
    replies: list[Reply] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    fail: bool = False

    def handle(self, msg: IncomingMessage) -> list[Reply]:
        self.events.append(f"handle {msg.text}")
        if self.fail:
            raise RuntimeError("engine exploded")
        return list(self.replies)

    def mark_replied(self, msg: IncomingMessage) -> None:
        self.events.append(f"confirm {msg.text}")


@dataclass
class FakeRuntime:
    engine: RecordingEngine


def make_edge(engine: RecordingEngine) -> Edge:
    edge = Edge("test", TextLimit(100))
    edge.attach(cast(Runtime, FakeRuntime(engine)))
    return edge


MSG = IncomingMessage(channel="test", chat_id="c", user_id="u", text="hi", message_id="m1")


async def test_replies_are_confirmed_only_after_every_one_was_delivered() -> None:
    engine = RecordingEngine([Reply("one"), Reply("two")])
    edge = make_edge(engine)

    async def send(reply: Reply) -> None:
        await asyncio.sleep(0.01)
        engine.events.append(f"sent {reply.text}")

    assert await edge.converse(MSG, send)
    assert engine.events == ["handle hi", "sent one", "sent two", "confirm hi"]


async def test_a_reply_not_delivered_is_not_confirmed_and_the_next_still_goes() -> None:
    engine = RecordingEngine([Reply("one"), Reply("two")])
    edge = make_edge(engine)

    async def send(reply: Reply) -> None:
        if reply.text == "one":
            raise PermanentFailure("blocked")
        engine.events.append(f"sent {reply.text}")

    assert not await edge.converse(MSG, send)
    assert engine.events == ["handle hi", "sent two"]


async def test_no_replies_no_confirmation_and_a_failing_engine_apologises() -> None:
    engine = RecordingEngine([])
    edge = make_edge(engine)
    sent: list[str] = []

    async def send(reply: Reply) -> None:
        sent.append(reply.text)

    # A duplicate gets no replies: its replies belong to the delivery still in flight, which confirms them.
    assert await edge.converse(MSG, send)
    assert engine.events == ["handle hi"] and sent == []
    engine.fail = True
    assert await edge.converse(MSG, send)
    assert sent == [texts.INTERNAL_ERROR]


async def test_an_edge_without_a_runtime_refuses_to_work() -> None:
    with pytest.raises(RuntimeError):
        Edge("test", TextLimit(10)).app  # noqa: B018
