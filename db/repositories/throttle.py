"""Wrong invite codes, counted per key so that guessing codes is throttled across processes and restarts.

A key names who or where the guesses come from: `user:<channel>:<user_id>` and `chat:<channel>:<chat_id>`.
This is the "per address" limit of a web login, but a chat platform gives the bot no client IP address: the
platform's user and chat ids are the only addresses there are. A key is locked while it has `max_failures`
failures within the last `window` (a `max_failures` below 1 turns the limit off). Attempts refused during the
lock are not recorded, so the lock ends when promised however often the sender tries meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import AuthFailure


def user_key(channel: str, user_id: str) -> str:
    return f"user:{channel}:{user_id}"


def chat_key(channel: str, chat_id: str) -> str:
    return f"chat:{channel}:{chat_id}"


def record_failure(session: Session, keys: Iterable[str], now: dt.datetime) -> None:
    """Record one failed attempt at `now` (naive UTC) for each of `keys`."""
    session.add_all(AuthFailure(key=key, at=now) for key in dict.fromkeys(keys))
    session.flush()


def locks(
    session: Session, keys: Iterable[str], now: dt.datetime, max_failures: int, window: dt.timedelta
) -> dict[str, dt.timedelta]:
    """The locked ones of `keys`, each with how long its lock still lasts."""
    found = {}
    for key in dict.fromkeys(keys):
        left = _lock_left(session, key, now, max_failures, window)
        if left is not None:
            found[key] = left
    return found


def locked_for(
    session: Session, keys: Iterable[str], now: dt.datetime, max_failures: int, window: dt.timedelta
) -> dt.timedelta | None:
    """How long the longest lock of `keys` still lasts; None when none of them is locked."""
    return max(locks(session, keys, now, max_failures, window).values(), default=None)


def _lock_left(
    session: Session, key: str, now: dt.datetime, max_failures: int, window: dt.timedelta
) -> dt.timedelta | None:
    # The lock lasts until the `max_failures`-th newest failure in the window leaves it.
    if max_failures < 1:
        return None
    at = session.execute(
        select(AuthFailure.at)
        .where(AuthFailure.key == key, AuthFailure.at > now - window, AuthFailure.at <= now)
        .order_by(AuthFailure.at.desc())
        .offset(max_failures - 1)
        .limit(1)
    ).scalar_one_or_none()
    return None if at is None else at + window - now


def prune(session: Session, before: dt.datetime, batch: int = 1000) -> int:
    """Delete up to `batch` failures recorded before `before`. Returns how many were deleted."""
    ids = select(AuthFailure.id).where(AuthFailure.at < before).limit(batch)
    return int(
        session.execute(
            delete(AuthFailure).where(AuthFailure.id.in_(ids)).execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    )
