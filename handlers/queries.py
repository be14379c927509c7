"""Questions in plain Chinese. (Placeholder until the understanding layer lands.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Reply
from handlers.context import Context, Replies


def install(services: dict[str, Any], factory: sessionmaker[Session]) -> None:
    """Build the understanding layer once at start-up and keep it in `services`."""


def answer(ctx: Context, text: str, allow_report: bool) -> Replies:
    return [Reply("暂时无法理解。")]


def on_message(ctx: Context, text: str) -> Replies | None:
    return None
