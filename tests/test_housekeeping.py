"""Housekeeping (scheduler.housekeeping.prune): old handled messages, message ids, delivered replies, wrong
invite codes and dead workers go, in batches; pending messages, recent rows and every outbox row whose dedupe
key keeps the scheduler from sending again stay."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from bot.app import App
from config.clock import wall_utcnow
from core.inbox import Update
from db.engine import transaction
from db.models import (
    IN_DONE,
    IN_FAILED,
    IN_PENDING,
    IN_SKIPPED,
    OUT_FAILED,
    OUT_PENDING,
    OUT_SENT,
    REPLY,
    AuthFailure,
    Inbox,
    Outbox,
    ProcessedMessage,
    Worker,
)
from db.repositories import inbox
from db.repositories.outbox import enqueue
from scheduler import housekeeping

pytestmark = pytest.mark.both_backends

# The app's clock pretends 2023 while the wall clock is today: each table is pruned by the clock it is stamped
# with.
WALL = dt.datetime(2026, 3, 1, 12, 0)
APP = dt.datetime(2023, 5, 24, 1, 0)
DAY = dt.timedelta(days=1)
RETENTION = 30


def add_inbox(app: App, message_id: str, status: str, received_at: dt.datetime) -> None:
    with transaction(app.session_factory) as s:
        inbox.store(s, "console", [Update(message_id, "chat", "user", {})], received_at, stranger_cap=0)
        row = s.execute(select(Inbox).where(Inbox.message_id == message_id)).scalar_one()
        row.status = status


def add_outbox(app: App, key: str, kind: str, status: str, created_at: dt.datetime) -> None:
    with transaction(app.session_factory) as s:
        row = enqueue(s, key, kind, "console", "chat", "text", now=created_at)
        assert row is not None
        row.status = status


def ids(app: App, column: object) -> set[str]:
    with app.session_factory() as s:
        return {str(v) for v in s.execute(select(column)).scalars()}  # type: ignore[call-overload]


def test_prune_deletes_old_rows_in_batches_and_keeps_the_rest(app: App, caplog: pytest.LogCaptureFixture) -> None:
    old_wall, old_app = WALL - (RETENTION + 1) * DAY, APP - (RETENTION + 1) * DAY
    new_wall, new_app = WALL - (RETENTION - 1) * DAY, APP - (RETENTION - 1) * DAY
    # Inbox (wall clock): five old handled rows go, in three batches of two; pending and recent rows stay.
    for i, status in enumerate([IN_DONE, IN_DONE, IN_SKIPPED, IN_FAILED, IN_DONE]):
        add_inbox(app, f"old-{i}", status, old_wall)
    add_inbox(app, "old-pending", IN_PENDING, old_wall - 300 * DAY)
    add_inbox(app, "recent-done", IN_DONE, new_wall)
    # An inbox row older than the retention by the app's clock but not by the wall clock stays.
    add_inbox(app, "wall-recent", IN_DONE, old_app)
    with transaction(app.session_factory) as s:
        s.execute(Inbox.__table__.update().where(Inbox.message_id == "wall-recent").values(received_at=new_wall))
    # Processed message ids (app clock).
    with transaction(app.session_factory) as s:
        for i in range(3):
            s.add(ProcessedMessage(channel="console", message_id=f"old-{i}", created_at=old_app))
        s.add(ProcessedMessage(channel="telegram", message_id="old-0", created_at=new_app))
        s.add(ProcessedMessage(channel="console", message_id="recent", created_at=new_app))
    # Outbox (app clock): only replies that are sent or failed go.
    add_outbox(app, "reply:console:a:0", REPLY, OUT_SENT, old_app)
    add_outbox(app, "reply:console:b:0", REPLY, OUT_FAILED, old_app)
    add_outbox(app, "reply:console:c:0", REPLY, OUT_SENT, old_app)
    add_outbox(app, "reply:console:d:0", REPLY, OUT_PENDING, old_app)  # not delivered yet
    add_outbox(app, "reply:console:e:0", REPLY, OUT_SENT, new_app)  # recent
    add_outbox(app, "nudge:2023-04-01:a1:p1", "nudge", OUT_SENT, old_app)  # its key stops a second nudge
    add_outbox(app, "digest:2023-W10", "digest", OUT_FAILED, old_app)
    # Wrong invite codes: a day (app clock); workers: a day without a beat (wall clock).
    with transaction(app.session_factory) as s:
        s.add_all(
            [
                AuthFailure(key="user:console:x", at=APP - 2 * DAY),
                AuthFailure(key="user:console:y", at=APP - dt.timedelta(hours=1)),
                AuthFailure(key="user:console:z", at=WALL - 2 * DAY),  # two days ago by the wall clock
                Worker(id="dead", started_at=WALL - 3 * DAY, seen_at=WALL - 2 * DAY),
                Worker(id="alive", started_at=WALL - 3 * DAY, seen_at=WALL - dt.timedelta(seconds=5)),
            ]
        )

    with caplog.at_level(logging.INFO, logger="scheduler.housekeeping"):
        counts = housekeeping.prune(app, WALL, APP, RETENTION, batch=2)

    assert counts == {
        "inbox": 5,
        "processed_message": 3,
        "outbox": 3,
        "auth_failure": 1,
        "worker": 1,
        "board": 0,
        "exports": 0,
    }
    assert ids(app, Inbox.message_id) == {"old-pending", "recent-done", "wall-recent"}
    with app.session_factory() as s:
        kept = {(p.channel, p.message_id) for p in s.execute(select(ProcessedMessage)).scalars()}
    assert kept == {("telegram", "old-0"), ("console", "recent")}
    assert ids(app, Outbox.dedupe_key) == {
        "reply:console:d:0",
        "reply:console:e:0",
        "nudge:2023-04-01:a1:p1",
        "digest:2023-W10",
    }
    assert ids(app, AuthFailure.key) == {"user:console:y", "user:console:z"}
    assert ids(app, Worker.id) == {"alive"}
    lines = [r.getMessage() for r in caplog.records if r.name == "scheduler.housekeeping"]
    assert lines == [
        "housekeeping: deleted 5 inbox, 3 processed_message, 3 outbox, 1 auth_failure, 1 worker, 0 board, 0 exports (retention 30 days)"
    ]

    # Nothing left to delete: a second run deletes nothing.
    assert set(housekeeping.prune(app, WALL, APP, RETENTION, batch=2).values()) == {0}


def test_each_batch_is_a_transaction_of_its_own(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        add_inbox(app, f"m{i}", IN_DONE, WALL - 40 * DAY)
    opened = 0
    real = housekeeping.transaction

    def counting(factory):  # type: ignore[no-untyped-def]
        nonlocal opened
        opened += 1
        return real(factory)

    monkeypatch.setattr(housekeeping, "transaction", counting)
    assert housekeeping.prune(app, WALL, APP, RETENTION, batch=2)["inbox"] == 5
    # inbox: 2 + 2 + 1 (three transactions); each other table: one transaction that deletes nothing.
    assert opened == 3 + 5  # inbox in 3 batches of 2, then one empty batch for each other table


def test_prune_refuses_a_retention_that_would_delete_everything(app: App) -> None:
    with pytest.raises(ValueError):
        housekeeping.prune(app, WALL, APP, 0)
    with pytest.raises(ValueError):
        housekeeping.prune(app, WALL, APP, RETENTION, batch=0)


def test_prune_now_uses_the_settings_and_both_clocks(app: App) -> None:
    add_inbox(app, "handled", IN_DONE, wall_utcnow() - (app.settings.retention_days + 1) * DAY)
    add_outbox(app, "reply:console:x:0", REPLY, OUT_SENT, app.clock.utcnow() - (app.settings.retention_days + 1) * DAY)
    counts = housekeeping.prune_now(app)
    assert (counts["inbox"], counts["outbox"]) == (1, 1)
