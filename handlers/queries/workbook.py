""" "导出", "汇总表", "墨脱县的工作簿": the completion workbook (the 11月20日 报送表) as a file in the chat.

The workbook is the export's (`scheduler.export.build_workbook`, the board's download and `duban export`): the
handlers layer cannot import the scheduler, so the application puts the builder into `services` under
`SERVICE`. Who gets which workbook follows the chat's access rules (`access.scope`): a coordinator the whole
plan or the units named; an official his own unit. Files are written under the data directory
(`exports/<day>/<random>/`), where a reply stored for a retry finds them again; the daily housekeeping deletes
them with the replies that name them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from core.messages import OutAttachment, Reply
from db.models import Plan
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context
from handlers.queries import access
from handlers.queries.paging import Answer
from handlers.understanding.nlu import Lexicon, Understanding

SERVICE = "workbook"
FOLDER = "exports"


class Workbook(Protocol):
    def save(self, filename: Any) -> None: ...


# (session, plan, at, org_ids=…, org_label=…) → an openpyxl workbook
Builder = Callable[..., Workbook]


def folder(data_dir: Path) -> Path:
    """Where the chat's workbooks are written."""
    return data_dir / FOLDER


def file_name(label: str | None, day: dt.date) -> str:
    """The workbook's file name: 完成情况汇总-[units-]day.xlsx (the chat's and the board's download)."""
    return texts.WORKBOOK_NAME.format(org=(label + "-") if label else "", date=day.isoformat())


def workbook(ctx: Context, lex: Lexicon, plan: Plan, u: Understanding) -> Answer:
    """The workbook of what the asker may see: the whole plan, or the units named (with the units below them)."""
    if ctx.msg.is_group:
        return [Reply(texts.EXPORT_PRIVATE_ONLY)]
    build: Builder | None = ctx.services.get(SERVICE)
    found = access.units(ctx, lex, u)
    if isinstance(found, Reply):
        return [found]
    if build is None:
        return [Reply(texts.EXPORT_UNAVAILABLE)]
    now = ctx.clock.now()
    label = found.label
    book = build(ctx.session, plan, now, org_ids=found.with_below, org_label=label)
    name = file_name(label, now.date())
    target = folder(ctx.settings.data_dir) / now.date().isoformat() / secrets.token_hex(6)
    target.mkdir(parents=True, exist_ok=True)
    path = target / name
    book.save(path)
    scope = label or texts.Q_WHOLE_CITY
    ready = texts.EXPORT_READY.format(scope=scope, date=fmt.day_minute(now))
    return [Reply(ready, attachments=[OutAttachment("file", str(path), name)])]
