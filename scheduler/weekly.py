"""The weekly jobs: the prompt to report and the digest.

- Weekly prompt (`weekly_prompt`, default mon 09:30): officials of organisations with open tasks that have no
  report in the last 7 days.
- Weekly digest (`weekly_digest`, default fri 17:00): coordinators, plus the configured Telegram group / WeCom
  group robot; its text, with the completion chart and the workbook attached.

A day off moves them to the next working day of that week; when the week has none left, that week is skipped.
Each goes to a recipient once a week, remembered by its dedupe key (`…:<the nominal date>`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.ids import WECOM_ROBOT_CHAT_ID
from db.models import COORDINATOR, LEADER, OFFICIAL
from db.repositories import progress
from db.repositories.progress import AssignmentView
from handlers import texts
from scheduler.calendar import next_workday
from scheduler.messages import DIGEST, PROMPT, Decision, Message, Recipient
from scheduler.planning import PlanningRun

if TYPE_CHECKING:
    from scheduler.digest import Digest

log = logging.getLogger(__name__)

PROMPT_SILENCE = dt.timedelta(days=7)

WEEKDAYS = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "周一": 0,
    "周二": 1,
    "周三": 2,
    "周四": 3,
    "周五": 4,
    "周六": 5,
    "周日": 6,
}


def digest_files(d: Digest, folder: Path) -> tuple[Path, Path]:
    """The digest's chart (completion.png) and workbook (digest.xlsx), written into `folder`."""
    from scheduler.digest import render_xlsx

    folder.mkdir(parents=True, exist_ok=True)
    return _chart(d, folder / "completion.png"), render_xlsx(d, folder / "digest.xlsx")


def _chart(d: Digest, path: Path) -> Path:
    """The digest's chart, drawn in a child process (matplotlib would stay in this one for good, ~40 MB); here
    when that fails."""
    from scheduler.apart import ApartError, call_apart
    from scheduler.digest import render_chart

    try:
        return Path(call_apart("scheduler.digest", "render_chart", d, path))
    except ApartError:
        log.warning("the digest's chart could not be drawn in a child process: drawn here", exc_info=True)
        return render_chart(d, path)


def parse_weekly(spec: str) -> tuple[int, dt.time]:
    """ "mon 09:30" → (0, 09:30). Accepts English three-letter days and 周一…周日."""
    parts = spec.strip().lower().split()
    if len(parts) != 2 or parts[0] not in WEEKDAYS:
        raise ValueError(f"无效的每周时间“{spec}”，应为如 mon 09:30 或 周一 09:30")
    hh, _, mm = parts[1].partition(":")
    return WEEKDAYS[parts[0]], dt.time(int(hh), int(mm or 0))


class WeeklyJobs(PlanningRun):
    """The weekly prompt and the weekly digest, when due at the run's moment."""

    def _weekly_day(self, spec: str) -> tuple[dt.date, dt.date, dt.time] | None:
        """(nominal date this week, working day it moves to, time) when that working day is today."""
        weekday, at = parse_weekly(spec)
        nominal = self.today - dt.timedelta(days=self.today.weekday()) + dt.timedelta(days=weekday)
        day = next_workday(nominal)
        if day.isocalendar()[:2] != nominal.isocalendar()[:2]:
            return None  # no working day left in that week: the next week's run covers it
        if day != self.today or not self.at_or_after(at):
            return None
        return nominal, day, at

    # -- the prompt --

    def weekly_prompt(self) -> list[Message]:
        when = self._weekly_day(self.settings.weekly_prompt)
        if when is None:
            return []
        nominal = when[0]
        out: list[Message] = []
        done = self.queued(f"prompt:{p.id}:{nominal.isoformat()}" for p in self.people_of(None, (OFFICIAL,)))
        for org_id, vs in self._silent_tasks().items():
            overdue = sum(v.overdue for v in vs)
            soon = sum(1 for v in vs if not v.overdue and v.days_left <= progress.DUE_SOON_DAYS)
            for person in self.people_of(org_id, (OFFICIAL,)):
                if self.paused(person) or f"prompt:{person.id}:{nominal.isoformat()}" in done:
                    continue
                rcpt = self.recipient(person)
                if rcpt is None:
                    continue
                extra = texts.SCHED_PROMPT_URGENT.format(overdue=overdue, soon=soon) if overdue or soon else ""
                text = texts.SCHED_PROMPT.format(name=person.name, org=vs[0].org_name, n=len(vs), urgent=extra)
                out.append(
                    Message(
                        PROMPT,
                        f"prompt:{person.id}:{nominal.isoformat()}",
                        rcpt,
                        text,
                        {"choices": [list(c) for c in texts.SCHED_CHOICES]},
                        [Decision(PROMPT, nominal.isoformat())],
                        self.not_before(),
                    )
                )
        return out

    def _silent_tasks(self) -> dict[int, list[AssignmentView]]:
        """{organisation: its open, started tasks with no report within `PROMPT_SILENCE`}."""
        silent_since = self.now_utc - PROMPT_SILENCE
        waiting: dict[int, list[AssignmentView]] = defaultdict(list)
        for v in self.open_views:
            if v.start > self.today:
                continue
            if v.last_report_at is None or v.last_report_at < silent_since:
                waiting[v.org_id].append(v)
        return waiting

    # -- the digest --

    def weekly_digest(self) -> list[Message]:
        when = self._weekly_day(self.settings.weekly_digest)
        if when is None:
            return []
        nominal = when[0]
        targets = self._digest_targets(nominal)
        done = self.queued(k for k, _ in targets)
        targets = [(k, r) for k, r in targets if k not in done]
        if not targets:
            return []
        # Imported when a digest is due: the digest module brings openpyxl with it.
        from scheduler.digest import build_digest

        d = build_digest(self.session, self.plan, self.now)
        payload = self._digest_payload(d, nominal)
        text = d.text()
        return [
            Message(DIGEST, key, rcpt, text, dict(payload), [Decision(DIGEST, nominal.isoformat())], self.not_before())
            for key, rcpt in targets
        ]

    def _digest_targets(self, nominal: dt.date) -> list[tuple[str, Recipient]]:
        """(dedupe key, recipient) of every coordinator and leader (分管领导: the whole plan on one page each week),
        then of the configured group chats. A coordinator on leave still gets the digest: a pause stops the
        person's own nudges and prompts, not reports."""
        targets: list[tuple[str, Recipient]] = []
        for person in self.people_of(None, (COORDINATOR, LEADER)):
            rcpt = self.recipient(person)
            if rcpt is not None:
                targets.append((f"digest:{person.id}:{nominal.isoformat()}", rcpt))
        if self.settings.telegram_digest_chat_id:
            g = Recipient(None, texts.DIGEST_GROUP_TELEGRAM, "telegram", self.settings.telegram_digest_chat_id)
            targets.append((f"digest:group:{g.channel}:{g.chat_id}:{nominal.isoformat()}", g))
        if self.settings.wecom_group_webhook:
            g = Recipient(None, texts.DIGEST_GROUP_WECOM, "wecom", WECOM_ROBOT_CHAT_ID)
            targets.append((f"digest:group:{g.channel}:{g.chat_id}:{nominal.isoformat()}", g))
        return targets

    def _digest_payload(self, d: Digest, nominal: dt.date) -> dict[str, Any]:
        """The digest's payload: its markdown and the chart and workbook rendered under `files_dir` (only their
        names on a dry run)."""
        payload: dict[str, Any] = {"markdown": d.markdown()}
        if self.files_dir is not None:
            chart, book = digest_files(d, self.files_dir / nominal.isoformat())
            payload["attachments"] = [
                ["photo", str(chart), texts.DIGEST_CHART_FILE.format(date=nominal.isoformat())],
                ["file", str(book), texts.DIGEST_XLSX_FILE.format(date=nominal.isoformat())],
            ]
        else:
            payload["attachments_planned"] = [
                texts.DIGEST_CHART_FILE.format(date=nominal.isoformat()),
                texts.DIGEST_XLSX_FILE.format(date=nominal.isoformat()),
            ]
        return payload
