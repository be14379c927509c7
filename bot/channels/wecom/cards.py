"""WeCom template cards (模板卡片): a question's choices as buttons to tap, and the card updated in place once
answered.

A reply with choices becomes a `button_interaction` card: up to six buttons, or a drop-down (`button_selection`)
and a submit button for up to ten choices. Where several of its choices may be taken at once (a check-in list:
"which have not changed?"), a `vote_interaction` card with a checkbox each follows it. More than ten (no question
of duban's has that many: a list pages by eight) stay numbered text. A question's text longer than a card shows goes first as a text message, and the
card under it carries the buttons.

Every button sends back the choice's payload (its token: the question it belongs to and its place, so a tap on
an old question's card is known as stale by the engine, on any process and after a restart), with the text
the button showed, so that the card can be updated to say what was chosen without remembering anything. The
`task_id` of each card is unique (WeCom refuses a repeated one) and names its question.

Limits are WeCom's documented ones (message/send, 模板卡片类型): `check_card` holds a payload to them, and the
fake WeCom API of the tests refuses a card that breaks one.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from core.messages import Choice, Reply, multi_choice, parse_choice_token
from handlers import texts

BUTTONS_MAX = 6
OPTIONS_MAX = 10
SELECTS_MAX = 3
TITLE_MAX = 36  # characters: main_title.title
DESC_MAX = 44  # main_title.desc
SUB_TITLE_MAX = 160  # sub_title_text
BUTTON_TEXT_MAX = 10
OPTION_TEXT_MAX = 16
CHECKBOX_MAX = 20  # a vote card's options
CHECKBOX_TEXT_MAX = 17
KEY_MAX_BYTES = 1024  # a button's key, a question_key
OPTION_ID_MAX_BYTES = 128
TASK_ID_RE = re.compile(r"^[0-9A-Za-z_\-@]{1,128}$")
CARD_TYPES = frozenset({"text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction"})

# Errcodes of a deployment that does not take template cards (some 政务微信 versions): "invalid message type"
# and "unsupported msgtype". Seen once, numbered text is sent from then on.
CARDS_REFUSED_ERRORS = frozenset({40008, 301025})
# update_template_card with a response_code already used (or the card already updated): the card is done.
ALREADY_UPDATED = 60140

_SEP = "»»"  # between a button's payload and the text it showed (which never holds it; the payload may)
SELECT_KEY = "choice"  # the question_key of the drop-down
SUBMIT_PREFIX = "submit:"
SEVERAL_KEY = "several"  # the question_key of a vote card's checkboxes
SEVERAL_PREFIX = "several:"


@dataclass(frozen=True)
class CardClick:
    """What a tap on a card sent back: the payload of the choice made and the text it showed."""

    payload: str
    shown: str


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def task_id(choices: list[Choice]) -> str:
    """A new task_id for a card of `choices`: the question's id (when the choices carry tokens), then a random part
    (WeCom refuses a task_id used before in the application)."""
    parsed = parse_choice_token(choices[0].payload) if choices else None
    question = parsed[0] if parsed else "notice"
    return f"{question}-{uuid.uuid4().hex}"


def cardable(reply: Reply) -> bool:
    """Whether `reply` is asked as a card: it offers choices, few enough for one card, each fitting a key."""
    if not reply.choices or len(reply.choices) > OPTIONS_MAX:
        return False
    return all(0 < len(c.payload.encode()) <= OPTION_ID_MAX_BYTES for c in reply.choices)


def render(reply: Reply, title: str, long_text: str | None, task: str) -> dict[str, Any]:
    """The `template_card` of a cardable reply.

    Args:
        title: the card's title (the question's first line, or `texts.CARD_CHOOSE` under a question sent apart).
        long_text: the rest of the question when it fits the card (sub_title_text), else None.
        task: the card's task_id.
    """
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": _cut(title, TITLE_MAX)},
        "task_id": task,
    }
    if long_text:
        card["sub_title_text"] = long_text
    choices = reply.choices
    if len(choices) <= BUTTONS_MAX:
        buttons = []
        for i, c in enumerate(choices):
            shown = _cut(c.label.replace(_SEP, ""), BUTTON_TEXT_MAX)
            buttons.append(
                {
                    "type": 0,
                    "text": shown,
                    "style": 1 if i == 0 else 2,
                    "key": c.payload + _SEP + shown,  # within KEY_MAX_BYTES: the payload is cardable, the text cut
                }
            )
        card["button_list"] = buttons
        return card
    options = [{"id": c.payload, "text": _cut(c.label, OPTION_TEXT_MAX)} for c in choices]
    labels = {o["id"]: o["text"] for o in options}
    submit = SUBMIT_PREFIX + json.dumps(labels, ensure_ascii=False, separators=(",", ":"))
    if len(submit.encode()) > KEY_MAX_BYTES:
        submit = SUBMIT_PREFIX + "{}"  # the card then says only that an answer was given
    card["button_selection"] = {"question_key": SELECT_KEY, "title": texts.CARD_SELECT_TITLE, "option_list": options}
    card["button_list"] = [{"type": 0, "text": texts.CARD_SUBMIT, "style": 1, "key": submit}]
    return card


def render_several(reply: Reply, task: str) -> dict[str, Any] | None:
    """A `vote_interaction` card to take several of the reply's choices at once (those `Reply.several` names:
    "which of these have not changed?"); None when the reply offers none, or fewer than two."""
    if reply.several is None:
        return None
    indexes, word = reply.several
    picks = [reply.choices[i] for i in indexes if 0 <= i < len(reply.choices)][:CHECKBOX_MAX]
    if len(picks) < 2 or not all(parse_choice_token(c.payload) for c in picks):
        return None  # only a question's own choices (with tokens) can be taken together
    return {
        "card_type": "vote_interaction",
        "main_title": {"title": _cut(texts.CARD_SEVERAL.format(word=word), TITLE_MAX)},
        "task_id": task,
        "checkbox": {
            "question_key": SEVERAL_KEY,
            "mode": 1,
            "option_list": [
                {"id": c.payload, "text": _cut(c.label, CHECKBOX_TEXT_MAX), "is_checked": False} for c in picks
            ],
        },
        "submit_button": {"text": _cut(word, BUTTON_TEXT_MAX), "key": SEVERAL_PREFIX + word},
    }


def split_text(text: str) -> tuple[str, str | None, bool]:
    """(title, sub-title, fits) of a question's text on a card: its first line as the title and the rest below
    it; a first line too long for a title puts the whole text below a short one; `fits` is False when the text
    is longer than a card shows (then it goes as a message of its own, above the card)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return texts.CARD_CHOOSE, None, True
    title, rest = lines[0], "\n".join(lines[1:]) or None
    if len(title) <= TITLE_MAX and (rest is None or len(rest) <= SUB_TITLE_MAX):
        return title, rest, True
    whole = "\n".join(lines)
    if len(whole) <= SUB_TITLE_MAX:
        return texts.CARD_CHOOSE, whole, True
    return texts.CARD_CHOOSE, None, False


def click(event_key: str, selected: dict[str, list[str]]) -> CardClick | None:
    """The choice a card event stands for: a button's key, or the drop-down's option with the submit button.
    None for an event no card of duban's sends (a forged or foreign key)."""
    if event_key.startswith(SEVERAL_PREFIX):
        word = event_key[len(SEVERAL_PREFIX) :]
        tokens = [t for t in selected.get(SEVERAL_KEY) or [] if parse_choice_token(t)]
        if not tokens or not word:
            return None
        return CardClick(multi_choice(tokens, word), texts.CARD_SEVERAL_DONE.format(n=len(tokens), word=word))
    if event_key.startswith(SUBMIT_PREFIX):
        options = selected.get(SELECT_KEY) or []
        if len(options) != 1 or not options[0]:
            return None
        try:
            shown = json.loads(event_key[len(SUBMIT_PREFIX) :])
        except ValueError:
            shown = {}
        label = shown.get(options[0]) if isinstance(shown, dict) else None
        return CardClick(options[0], label if isinstance(label, str) else "")
    payload, sep, shown = event_key.rpartition(_SEP)
    if not payload or not sep:
        return None
    return CardClick(payload, shown)


def _option_problems(options: list[dict[str, Any]], most: int, text_max: int) -> list[str]:
    """The limits a drop-down's or a vote's options break: how many, unique ids of at most 128 bytes, texts."""
    problems = [] if 1 <= len(options) <= most else [f"{len(options)} options"]
    ids = [o.get("id", "") for o in options]
    if len(set(ids)) != len(ids):
        problems.append("repeated option id")
    for o in options:
        if not 0 < len(o.get("id", "").encode()) <= OPTION_ID_MAX_BYTES:
            problems.append("option id missing or over 128 bytes")
        if len(o.get("text", "")) > text_max:
            problems.append(f"option text {o.get('text')!r}")
    return problems


def check_card(card: dict[str, Any]) -> list[str]:
    """Every documented limit `card` breaks (empty: WeCom takes it). Used by the fake WeCom API of the tests and
    by duban's own tests of rendering."""
    problems: list[str] = []
    if card.get("card_type") not in CARD_TYPES:
        problems.append(f"card_type {card.get('card_type')!r}")
    task = card.get("task_id")
    if card.get("card_type") != "text_notice" and (not isinstance(task, str) or not TASK_ID_RE.match(task)):
        problems.append(f"task_id {task!r}")
    title = (card.get("main_title") or {}).get("title", "")
    if len(title) > TITLE_MAX:
        problems.append(f"main_title.title of {len(title)} characters")
    desc = (card.get("main_title") or {}).get("desc", "")
    if len(desc) > DESC_MAX:
        problems.append(f"main_title.desc of {len(desc)} characters")
    if len(card.get("sub_title_text", "")) > SUB_TITLE_MAX:
        problems.append("sub_title_text over 160 characters")
    buttons = card.get("button_list") or []
    if len(buttons) > BUTTONS_MAX:
        problems.append(f"{len(buttons)} buttons")
    keys = [b.get("key", "") for b in buttons]
    if len(set(keys)) != len(keys):
        problems.append("repeated button key")
    for b in buttons:
        if len(b.get("text", "")) > BUTTON_TEXT_MAX:
            problems.append(f"button text {b.get('text')!r}")
        if b.get("type", 0) == 0 and not (0 < len(b.get("key", "").encode()) <= KEY_MAX_BYTES):
            problems.append("button key missing or over 1024 bytes")
    selection = card.get("button_selection")
    selects = [selection] if selection else list(card.get("select_list") or [])
    if len(selects) > SELECTS_MAX:
        problems.append(f"{len(selects)} selects")
    for sel in selects:
        problems += _option_problems(sel.get("option_list") or [], OPTIONS_MAX, OPTION_TEXT_MAX)
        if not 0 < len(str(sel.get("question_key", "")).encode()) <= KEY_MAX_BYTES:
            problems.append("question_key missing or over 1024 bytes")
    if card.get("card_type") == "button_interaction" and not buttons:
        problems.append("button_interaction without buttons")
    checkbox = card.get("checkbox")
    if card.get("card_type") == "vote_interaction":
        problems += _option_problems((checkbox or {}).get("option_list") or [], CHECKBOX_MAX, CHECKBOX_TEXT_MAX)
        submit = card.get("submit_button") or {}
        if not 0 < len(str(submit.get("key", "")).encode()) <= KEY_MAX_BYTES:
            problems.append("submit_button key missing or over 1024 bytes")
        if len(submit.get("text", "")) > BUTTON_TEXT_MAX:
            problems.append(f"submit text {submit.get('text')!r}")
    return problems
