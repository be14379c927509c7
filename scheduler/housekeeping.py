"""Housekeeping: delete what duban no longer needs, so the tables that grow with every message stay small.

`prune` is meant to run once a day (a scheduler job). It deletes in batches, each in a short transaction of its
own, until a batch deletes fewer rows than the batch size, so it never holds a lock for long:

- inbox rows handled (done, skipped, failed) and received more than `retention_days` ago (wall clock). Pending
  rows are never deleted, however old;
- processed_message rows older than the retention (their `created_at` is the app's clock): a platform redelivers
  a message within minutes or days, never a month later;
- outbox rows of kind "reply" that were sent or given up on, created more than the retention ago (app clock).
  Only replies: their dedupe keys are per incoming message and never made again. Every other kind is kept,
  because its dedupe key (a nudge's occasion, a weekly message) is what stops the scheduler from queueing the
  same message again; deleting it would send the reminder twice;
- auth_failure rows (wrong invite codes) older than a day by the app's clock, which stamps them (the invite
  throttle's window is minutes);
- worker rows not seen for a day (wall clock): processes that died without saying goodbye.
- the board's sign-in links and sessions that expired or ended more than a day ago (app clock).
- the workbooks the chat wrote for "导出" (`handlers.queries.workbook`), in folders named by their day: those of
  days before the retention (app clock, a day's margin for the time zone), when no kept reply names them.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from config.clock import wall_utcnow
from db.engine import transaction
from db.models import OUT_FAILED, OUT_SENT, REPLY, Outbox, ProcessedMessage, Worker
from db.repositories import board, inbox, throttle
from handlers.queries import workbook

if TYPE_CHECKING:
    from core.channel import Runtime as App

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1000
AUTH_FAILURE_KEPT = dt.timedelta(days=1)
WORKER_KEPT = dt.timedelta(days=1)
BOARD_KEPT = dt.timedelta(days=1)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _processed_messages(session: Session, before: dt.datetime, batch: int) -> int:
    keys = (
        select(ProcessedMessage.channel, ProcessedMessage.message_id)
        .where(ProcessedMessage.created_at < before)
        .limit(batch)
    )
    stmt = delete(ProcessedMessage).where(tuple_(ProcessedMessage.channel, ProcessedMessage.message_id).in_(keys))
    return _rowcount(session.execute(stmt.execution_options(synchronize_session=False)))


def _replies(session: Session, before: dt.datetime, batch: int) -> int:
    ids = (
        select(Outbox.id)
        .where(Outbox.kind == REPLY, Outbox.status.in_((OUT_SENT, OUT_FAILED)), Outbox.created_at < before)
        .limit(batch)
    )
    stmt = delete(Outbox).where(Outbox.id.in_(ids))
    return _rowcount(session.execute(stmt.execution_options(synchronize_session=False)))


def _workers(session: Session, before: dt.datetime, batch: int) -> int:
    ids = select(Worker.id).where(Worker.seen_at < before).limit(batch)
    stmt = delete(Worker).where(Worker.id.in_(ids))
    return _rowcount(session.execute(stmt.execution_options(synchronize_session=False)))


def _workbooks(data_dir: Path, before: dt.date) -> int:
    """Delete the chat's workbook folders of days before `before`; how many files went."""
    root = workbook.folder(data_dir)
    if not root.is_dir():
        return 0
    gone = 0
    for day in root.iterdir():
        try:
            old = dt.date.fromisoformat(day.name) < before
        except ValueError:
            continue  # not one of ours
        if old and day.is_dir():
            gone += sum(1 for f in day.rglob("*") if f.is_file())
            shutil.rmtree(day, ignore_errors=True)
    return gone


def _in_batches(app: App, step: Callable[[Session, dt.datetime, int], int], before: dt.datetime, batch: int) -> int:
    """Run `step` in transactions of its own until one deletes fewer than `batch` rows; the total deleted."""
    total = 0
    while True:
        with transaction(app.session_factory) as session:
            n = step(session, before, batch)
        total += n
        if n < batch:
            return total


def prune(
    app: App, now_wall: dt.datetime, now_app: dt.datetime, retention_days: int, batch: int = DEFAULT_BATCH
) -> dict[str, int]:
    """Delete what is no longer needed (see the module's docstring); how many rows of each table went.

    Args:
        app: the running app (its session factory).
        now_wall: the real time, naive UTC (inbox and worker stamps).
        now_app: the app's clock, naive UTC (`app.clock.utcnow()`: processed messages, outbox rows, wrong invite
            codes).
        retention_days: handled messages, message ids and replies are kept this many days.
        batch: rows deleted per transaction.

    Raises:
        ValueError: a retention under a day or a batch under one row (a mistake that would delete everything).
    """
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    keep = dt.timedelta(days=retention_days)
    counts = {
        "inbox": _in_batches(app, inbox.prune, now_wall - keep, batch),
        "processed_message": _in_batches(app, _processed_messages, now_app - keep, batch),
        "outbox": _in_batches(app, _replies, now_app - keep, batch),
        "auth_failure": _in_batches(app, throttle.prune, now_app - AUTH_FAILURE_KEPT, batch),
        "worker": _in_batches(app, _workers, now_wall - WORKER_KEPT, batch),
        "board": _in_batches(app, board.prune, now_app - BOARD_KEPT, batch),
        "exports": _workbooks(app.settings.data_dir, (now_app - keep).date() - dt.timedelta(days=1)),
    }
    log.info(
        "housekeeping: deleted %s (retention %d days)",
        ", ".join(f"{n} {table}" for table, n in counts.items()),
        retention_days,
    )
    return counts


def prune_now(app: App, batch: int = DEFAULT_BATCH) -> dict[str, int]:
    """`prune` at this moment with the app's settings (`retention_days`): what a daily job calls (blocking: run
    it in a worker thread)."""
    return prune(app, wall_utcnow(), app.clock.utcnow(), app.settings.retention_days, batch)
