"""The scheduler's command-line verbs (`duban tick`, `duban digest`, `duban export`), wired in bot/cli.py.

`tick` runs once everything due at a moment: it queues the messages in the outbox and delivers those it can
(console rows are printed here; Telegram and WeCom rows are delivered here only when the caller passes those
channels, otherwise `duban serve` delivers them). `--dry-run` prints what would be queued and writes nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.messages import Reply, render_plain
from db.engine import transaction
from db.models import OUT_PENDING, Organisation, Outbox
from db.repositories import orgs, plans
from handlers import formatting as fmt
from handlers import texts
from scheduler import jobs
from scheduler.digest import build_digest
from scheduler.export import export_workbook
from scheduler.history import to_utc
from scheduler.messages import Message, queue
from scheduler.weekly import digest_files

if TYPE_CHECKING:
    from aiohttp import web

    from core.channel import Channel
    from core.channel import Runtime as App


class PrintChannel:
    """The console as a delivery channel: messages are written to `out` (used by `duban tick` and in tests)."""

    name = "console"

    def __init__(self, out: TextIO) -> None:
        self.out = out

    async def start(self, app: App, web_app: web.Application) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, chat_id: str, reply: Reply) -> None:
        self.out.write(texts.TICK_DELIVERED.format(chat=chat_id) + "\n")
        self.out.write(render_plain(reply) + "\n")
        for a in reply.attachments:
            self.out.write(texts.TICK_ATTACHMENT.format(name=a.file_name or a.path, path=a.path) + "\n")
        self.out.write("\n")


def digest_files_dir(app: App) -> Path:
    return app.settings.data_dir / "digests"


def tick(
    app: App,
    at: dt.datetime | None = None,
    dry_run: bool = False,
    out: TextIO | None = None,
    channels: dict[str, Channel] | None = None,
) -> int:
    """Run what is due at `at` (default now): queue it and deliver it, or with `dry_run` only print it.

    Args:
        at: the moment (naive values are in the configured timezone).
        channels: channels to deliver through besides the console (e.g. from `bot.serve.enabled_channels`).

    Returns:
        The exit code (1 when there is no plan in the database).
    """
    out = out or sys.stdout
    now = app.clock.localize(at) if at is not None else app.clock.now()
    now_utc = to_utc(now)
    if dry_run:
        with app.session_factory() as s:
            plan = plans.active_plan(s)
            if plan is None:
                out.write(texts.SCHED_NO_PLAN + "\n")
                return 1
            messages = jobs.due_messages(s, plan, now, app.settings, files_dir=None)
        _print_dry_run(messages, now, out)
        return 0
    with transaction(app.session_factory) as s:
        plan = plans.active_plan(s)
        if plan is None:
            out.write(texts.SCHED_NO_PLAN + "\n")
            return 1
        messages = jobs.due_messages(s, plan, now, app.settings, files_dir=digest_files_dir(app))
        created = queue(s, messages, now_utc)
        n_created = len(created)
    out.write(texts.TICK_QUEUED.format(at=fmt.minute(now), n=n_created, skipped=len(messages) - n_created) + "\n")
    from scheduler.sender import OutboxSender

    chans: dict[str, Channel] = dict(channels or {})
    chans.setdefault("console", PrintChannel(out))
    stats = asyncio.run(OutboxSender(app, chans).drain(now=now_utc))
    with app.session_factory() as s:
        waiting = (
            s.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.status == OUT_PENDING, Outbox.channel.not_in(list(chans)))
            )
            or 0
        )
    out.write(
        texts.TICK_SENT.format(sent=stats.sent, retried=stats.retried + stats.deferred, failed=stats.failed) + "\n"
    )
    if waiting:
        out.write(texts.TICK_WAITING.format(n=waiting) + "\n")
    return 0


def _print_dry_run(messages: list[Message], now: dt.datetime, out: TextIO) -> None:
    out.write(texts.TICK_DRY_HEADER.format(at=fmt.minute(now), n=len(messages)) + "\n")
    for m in messages:
        r = m.recipient
        out.write(
            "\n"
            + texts.TICK_DRY_LINE.format(
                kind=texts.SCHED_KIND_NAMES.get(m.kind, m.kind),
                name=r.name,
                channel=r.channel,
                chat=r.chat_id,
                key=m.dedupe_key,
            )
            + "\n"
        )
        if m.not_before is not None:
            out.write(texts.TICK_DRY_LATER.format(at=fmt.minute(m.not_before)) + "\n")
        out.write(m.text + "\n")
        for name in m.payload.get("attachments_planned", []):
            out.write(texts.TICK_ATTACHMENT.format(name=name, path="—") + "\n")
    if not messages:
        out.write(texts.TICK_NOTHING + "\n")


def _week_end(app: App, week: dt.date | None) -> tuple[dt.datetime, bool]:
    """The digest's moment for the week holding `week`: the week's end, or now if that is earlier."""
    now = app.clock.now()
    if week is None:
        return now, True
    sunday = week + dt.timedelta(days=6 - week.weekday())
    end = app.clock.localize(dt.datetime.combine(sunday, dt.time(23, 59, 59)))
    return (now, True) if end >= now else (end, False)


def _org_ids(app: App, session: object, name: str) -> tuple[list[int], str]:
    idx = orgs.name_index(session)  # type: ignore[arg-type]
    if name in idx.groups:
        return list(idx.groups[name]), name
    org = orgs.require_org(session, name)  # type: ignore[arg-type]
    return [org.id], org.name


def digest(
    app: App, org: str | None = None, week: dt.date | None = None, out: TextIO | None = None, files: bool = True
) -> int:
    """Print the weekly digest (of one organisation or group with `org`; of a past week with `week`) and write
    its chart and workbook (unless `files` is False), saying where."""
    out = out or sys.stdout
    at, current = _week_end(app, week)
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        if plan is None:
            out.write(texts.SCHED_NO_PLAN + "\n")
            return 1
        ids, label = _org_ids(app, s, org) if org else (None, None)
        d = build_digest(s, plan, at, org_ids=ids, org_filter=label, current=current)
    out.write(d.text() + "\n")
    if files:
        # The attachments the text promises ("详见附件"), beside the scheduled digests' own folders.
        folder = digest_files_dir(app) / "printed" / (at.date().isoformat() + (f"-{label}" if label else ""))
        chart, book = digest_files(d, folder)
        out.write(texts.DIGEST_FILES_WRITTEN.format(chart=chart.resolve(), book=book.resolve()) + "\n")
    return 0


def export(
    app: App,
    path: Path,
    at: dt.date | None = None,
    out: TextIO | None = None,
    approved_only: bool = False,
    org: str | None = None,
) -> int:
    """Write the completion workbook (as it stood at the end of day `at`, default now; only approved versions
    with `approved_only`; one unit's own workbook, its children's items included, with `org`)."""
    out = out or sys.stdout
    now = app.clock.now()
    moment, current = now, True
    if at is not None and at < now.date():
        moment, current = app.clock.localize(dt.datetime.combine(at, dt.time(23, 59, 59))), False
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        if plan is None:
            out.write(texts.SCHED_NO_PLAN + "\n")
            return 1
        ids, label = _org_ids(app, s, org) if org else (None, None)
        if ids is not None:
            ids = _with_children(s, ids)
        export_workbook(s, plan, Path(path), moment, current, approved_only=approved_only, org_ids=ids, org_label=label)
    day = fmt.iso_day(moment.date())
    done = texts.EXPORT_DONE_ORG.format(path=path, org=label, date=day) if label else None
    out.write((done or texts.EXPORT_DONE.format(path=path, date=day)) + "\n")
    return 0


def _with_children(session: Session, ids: list[int]) -> list[int]:
    """`ids` and every organisation below them (`Organisation.parent_id`, any depth)."""
    seen = list(dict.fromkeys(ids))
    frontier = set(seen)
    while frontier:
        below = set(
            session.execute(select(Organisation.id).where(Organisation.parent_id.in_(frontier))).scalars()
        ) - set(seen)
        seen += sorted(below)
        frontier = below
    return seen
