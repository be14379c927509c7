"""What the scheduler sends and when, at one moment: every job together.

Planning is pure: `due_messages` looks at the database and the moment and returns the messages due;
`scheduler.messages.queue` writes them to the outbox. Running either twice is harmless (dedupe keys,
reminder_log). The jobs, each with its rules:

- `scheduler.deadlines`: nudges before a deadline, overdue notices after it, escalation to coordinators and
  leaders (the day's nudge scan alone: `deadlines.plan_nudges`);
- `scheduler.weekly`: the weekly prompt to report and the weekly digest;
- `scheduler.event_reminders`: a week before each plan event;
- `scheduler.planning`: what they share (pausing, quiet hours, which identity a person is reached on).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.orm import Session

from config.settings import Settings
from db.models import Plan
from scheduler.deadlines import DeadlineJobs
from scheduler.event_reminders import EventJobs
from scheduler.messages import Message
from scheduler.weekly import WeeklyJobs


class Planner(DeadlineJobs, WeeklyJobs, EventJobs):
    """Plans the messages due at one moment; the jobs share what the run loads once (`PlanningRun`).

    Args:
        session: an open session (only read from).
        plan: the plan to remind about.
        now: the moment, an aware datetime in the plan's timezone.
        settings: duban's settings.
        files_dir: where digests put their chart and workbook; None to skip rendering files (dry runs).
    """

    def due_messages(self) -> list[Message]:
        """Everything due at this moment (already-sent decisions excluded)."""
        out: list[Message] = []
        out += self.nudges()
        out += self.overdue()
        out += self.weekly_prompt()
        out += self.weekly_digest()
        out += self.event_reminders()
        return out


def due_messages(
    session: Session, plan: Plan, now: dt.datetime, settings: Settings, files_dir: Path | None = None
) -> list[Message]:
    """Every message due at `now` (aware) that has not been queued yet."""
    return Planner(session, plan, now, settings, files_dir).due_messages()
