"""Platform-neutral messages: what a channel hands to the engine, and what the engine hands back.

A channel converts at its edge: a platform update becomes one `IncomingMessage`, a `Reply` becomes platform
calls. All ids are strings. Nothing past the edge knows the platform, except for formatting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ConversationKey:
    """Identifies one dialogue; also the primary key of the conversation table."""

    channel: str
    chat_id: str
    user_id: str


@dataclass(frozen=True)
class InAttachment:
    """A photo or file the user sent. Channels download it first and give its local path."""

    kind: str  # "photo" | "file"
    local_path: str
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class IncomingMessage:
    channel: str
    chat_id: str
    user_id: str
    text: str = ""
    attachments: tuple[InAttachment, ...] = ()
    message_id: str | None = None  # platform message / update id, for de-duplication
    is_group: bool = False
    addressed: bool = True  # in a group: the bot was mentioned or commanded
    user_name: str | None = None
    # A button was pressed: the text is the choice's token (see `choice_token`), or for a button of a proactive
    # message that names no question, the text the button stands for.
    is_choice: bool = False
    event: str | None = None  # platform events: "enter" (opened the app), "subscribe"

    @property
    def key(self) -> ConversationKey:
        return ConversationKey(self.channel, self.chat_id, self.user_id)


@dataclass(frozen=True)
class Choice:
    """One option offered to the user. Channels render it as a button or a numbered line.

    `token` names the question the choice belongs to and its place in it (set by the engine when it stores the
    question with the conversation); a button sends it back, so a press on an old question's button is known
    as stale, on any process and after a restart. Choices of proactive messages have none: their button sends
    `value` as if typed.
    """

    label: str
    value: str
    token: str | None = None

    @property
    def payload(self) -> str:
        """What a button for this choice sends back."""
        return self.token or self.value


TOKEN_PREFIX = "~"
_TOKEN_RE = re.compile(r"^~([0-9a-z]{1,16})\.(\d{1,3})$")


def choice_token(question_id: str, index: int) -> str:
    """The token of the `index`-th (0-based) choice of question `question_id`: short enough for any button."""
    return f"{TOKEN_PREFIX}{question_id}.{index}"


def parse_choice_token(text: str) -> tuple[str, int] | None:
    """(question id, index) of a choice token, or None when `text` is not one."""
    m = _TOKEN_RE.match(text)
    return (m.group(1), int(m.group(2))) if m else None


MULTI_MAX = 50  # choices taken at once: more than a page of any question


def multi_choice(tokens: list[str], then: str) -> str:
    """The message of several choices of one question taken at once (a vote card: "these have not changed"),
    followed by what is said of them: "~q1.0,~q1.3 无变化"."""
    return ",".join(tokens) + " " + then


def parse_multi_choice(text: str) -> tuple[list[tuple[str, int]], str] | None:
    """((question id, index) of each token, what is said of them) of a `multi_choice` message, or None when
    `text` is not one."""
    head, _, then = text.partition(" ")
    parsed = [parse_choice_token(t) for t in head.split(",")]
    if not then or then[0].isspace() or len(parsed) > MULTI_MAX or any(p is None for p in parsed):
        return None
    return [p for p in parsed if p is not None], then


@dataclass(frozen=True)
class OutAttachment:
    kind: str  # "photo" | "file"
    path: str
    file_name: str | None = None


@dataclass
class Reply:
    """What the bot says. `markdown` is an optional richer rendering for channels that support it."""

    text: str
    choices: list[Choice] = field(default_factory=list)
    attachments: list[OutAttachment] = field(default_factory=list)
    markdown: str | None = None
    listed: bool = False  # the text already lists the choices, numbered: text-only channels need not repeat them
    # (indexes, word): these choices may also be taken several at once, and `word` said of them ("无变化"): a
    # channel with cards offers them as a multiple choice; typed, the text explains how ("1-5 无变化")
    several: tuple[tuple[int, ...], str] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "choices": [[c.label, c.value, c.token] for c in self.choices],
            "attachments": [[a.kind, a.path, a.file_name] for a in self.attachments],
            "markdown": self.markdown,
            "listed": self.listed,
            "several": [list(self.several[0]), self.several[1]] if self.several else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=data["text"],
            choices=[Choice(*c) for c in data.get("choices", [])],
            attachments=[OutAttachment(k, p, n) for k, p, n in data.get("attachments", [])],
            markdown=data.get("markdown"),
            listed=bool(data.get("listed", False)),
            several=(tuple(int(i) for i in data["several"][0]), str(data["several"][1]))
            if data.get("several")
            else None,
        )

    def with_choices(self, choices: list[Choice]) -> Reply:
        return replace(self, choices=choices)


def render_plain(reply: Reply) -> str:
    """The reply as plain text with its choices numbered: how text-only channels show it."""
    if not reply.choices or reply.listed:
        return reply.text
    lines = [reply.text, ""] if reply.text else []
    lines += [f"{i}. {c.label}" for i, c in enumerate(reply.choices, 1)]
    return "\n".join(lines)
