"""`看板` (or /board): a personal one-time link to the web board (`bot.board`), valid for minutes, used once.

The link opens a browser session for the person who asked; what the board shows follows the chat's access rules.
In a group the link is not given (anyone there could open it first)."""

from __future__ import annotations

from core.messages import Reply
from db.repositories import board
from handlers import texts, vocabulary
from handlers.context import Context, Replies

LOGIN_PATH = "/board/login"


def is_command(text: str) -> bool:
    return vocabulary.BOARD_RE.match(text) is not None


def command(ctx: Context, text: str) -> Replies | None:
    if not is_command(text):
        return None
    if ctx.msg.is_group:
        return [Reply(texts.BOARD_PRIVATE_ONLY)]
    assert ctx.person is not None
    token = board.issue_token(ctx.session, ctx.person, ctx.clock.utcnow())
    url = f"{ctx.settings.board_base_url}{LOGIN_PATH}?t={token}"
    minutes = int(board.TOKEN_TTL.total_seconds() // 60)
    return [Reply(texts.BOARD_LINK.format(url=url, minutes=minutes))]
