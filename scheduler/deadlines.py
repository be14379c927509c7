"""The deadline jobs: nudges before a task's deadline, overdue notices after it, and escalation.

Rules (all dates in the plan's calendar, working days per `scheduler.calendar`):
- Nudges (the 蓝 stage): `settings.nudge_days_before` days before the deadline (default 7, 3, 1, 0), from
  `DAILY_AT` on the day. A day off moves the nudge to the next working day; if that passes the deadline it moves
  back to the last working day before it instead, and nudges landing on the same day merge (the nearer one wins).
- Overdue: on the 1st working day after the deadline and every `overdue_every_workdays` working days after.
- Escalation: when the working days overdue reach `escalate_after_workdays` (default 3 → 黄, 10 → 红) the
  coordinators are told; at the last level (红) also the organisation's leaders. Each level is sent once per
  deadline; a scheduler that was down on the exact day catches up while the level lasts.

One message goes to a person per kind and day, listing every task concerned, so an official with forty tasks
due at year end gets one reminder, not forty; each task in it is a `Decision` for reminder_log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from config.settings import Settings
from db.models import COORDINATOR, LEADER, OFFICIAL, Person, Plan
from db.repositories import progress
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import texts
from scheduler.calendar import next_workday, previous_workday, workdays_between
from scheduler.messages import ESCALATION, NUDGE, OVERDUE, Decision, Message
from scheduler.planning import PlanningRun

MAX_LISTED = 15  # tasks listed in one reminder; the rest are counted

TaskDecisions = list[tuple[AssignmentView, Decision]]
LineFormat = Callable[[int, AssignmentView, Decision], str]


def ladder(settings: Settings) -> list[tuple[int, str]]:
    """The escalation ladder as (working days overdue, colour), lowest first; the last level is 红."""
    steps = sorted(set(int(x) for x in settings.escalate_after_workdays if int(x) > 0))
    colours = texts.SCHED_LEVEL_COLOURS  # 黄, 橙, 红
    out: list[tuple[int, str]] = []
    for i, n in enumerate(steps):
        if i == len(steps) - 1:
            colour = colours[-1]
        elif i == 0:
            colour = colours[0]
        else:
            colour = colours[1]
        out.append((n, colour))
    return out


def _short_hash(parts: Iterable[str]) -> str:
    return hashlib.sha1("|".join(sorted(parts)).encode()).hexdigest()[:12]


class DeadlineJobs(PlanningRun):
    """Nudges, overdue notices and escalations due at the run's moment."""

    # -- nudges --

    def nudge_day(self, due: dt.date, n: int) -> dt.date:
        """The working day the "n days before `due`" nudge goes out."""
        nominal = due - dt.timedelta(days=n)
        day = next_workday(nominal)
        if day > due:
            # Moving forward would pass the deadline (a deadline on a weekend): remind before it instead.
            day = previous_workday(nominal)
        return day

    def nudge_schedule(self, due: dt.date) -> dict[dt.date, int]:
        """{working day: n} of the nudges for a deadline; nudges merging on one day keep the smallest n."""
        out: dict[dt.date, int] = {}
        for n in sorted(set(int(x) for x in self.settings.nudge_days_before), reverse=True):
            if n < 0:
                continue
            out[self.nudge_day(due, n)] = n
        return out

    def nudges(self) -> list[Message]:
        if not self.daily_jobs_due():
            return []
        by_org: dict[int, TaskDecisions] = defaultdict(list)
        for v in self.open_views:
            if not self.is_open(v) or v.due < self.today:
                continue
            n = self.nudge_schedule(v.due).get(self.today)
            if n is None:
                continue
            by_org[v.org_id].append((v, Decision(NUDGE, f"d-{n}:{v.due.isoformat()}", v.assignment_id)))
        out: list[Message] = []
        for org_id, items in by_org.items():
            out += self._to_people(org_id, (OFFICIAL,), NUDGE, items, texts.SCHED_NUDGE_HEADER, self._nudge_line)
        return out

    # -- overdue notices and escalation --

    def overdue(self) -> list[Message]:
        """Overdue notices to the officials, then escalations to the coordinators and (at 红) the leaders."""
        if not self.daily_jobs_due():
            return []
        every = max(1, int(self.settings.overdue_every_workdays))
        levels = ladder(self.settings)
        to_officials: dict[int, TaskDecisions] = defaultdict(list)
        escalated: list[tuple[AssignmentView, str, bool]] = []  # view, colour, last level
        for v in self.open_views:
            if not self.is_open(v) or not v.overdue:
                continue
            k = workdays_between(v.due, self.today)
            if k >= 1 and (k - 1) % every == 0:
                to_officials[v.org_id].append((v, Decision(OVERDUE, f"w{k}:{v.due.isoformat()}", v.assignment_id)))
            reached = [(i, c) for i, (n, c) in enumerate(levels) if k >= n]
            if reached:
                i, colour = reached[-1]
                escalated.append((v, colour, i == len(levels) - 1))
        out: list[Message] = []
        for org_id, items in to_officials.items():
            out += self._to_people(org_id, (OFFICIAL,), OVERDUE, items, texts.SCHED_OVERDUE_HEADER, self._overdue_line)
        if escalated:
            out += self._escalations(escalated)
        return out

    def _escalations(self, escalated: list[tuple[AssignmentView, str, bool]]) -> list[Message]:
        """Every escalated task to each coordinator; those at the last level also to their organisation's
        leaders."""
        esc_items = [
            (v, Decision(ESCALATION, f"{colour}:{v.due.isoformat()}", v.assignment_id))
            for v, colour, _last in escalated
        ]
        out = self._to_people(
            None, (COORDINATOR,), ESCALATION, esc_items, texts.SCHED_ESCALATION_HEADER, self._escalation_line
        )
        red_by_org: dict[int, TaskDecisions] = defaultdict(list)
        for (v, _colour, last), item in zip(escalated, esc_items, strict=True):
            if last:
                red_by_org[v.org_id].append(item)
        for org_id, items in red_by_org.items():
            out += self._to_people(
                org_id, (LEADER,), ESCALATION, items, texts.SCHED_LEADER_HEADER, self._escalation_line
            )
        return out

    # -- the message --

    def _to_people(
        self,
        org_id: int | None,
        roles: tuple[str, ...],
        kind: str,
        items: TaskDecisions,
        header: str,
        line: LineFormat,
    ) -> list[Message]:
        """One message listing `items` to each person of `roles` in `org_id` (None: every organisation)."""
        out: list[Message] = []
        # Most urgent first, sorted once for all the recipients (a stable sort: each person's own selection keeps
        # that order). An escalation lists every escalated task of the plan to each coordinator.
        items = sorted(items, key=lambda vd: progress.urgency_key(vd[0]))
        for person in self.people_of(org_id, roles):
            msg = self._task_message(kind, person, items, header, line)
            if msg:
                out.append(msg)
        return out

    def _task_message(
        self, kind: str, person: Person, items: TaskDecisions, header: str, line: LineFormat
    ) -> Message | None:
        """One message to `person` listing the tasks of `items` (most urgent first) not yet sent to them for that
        occasion."""
        if self.paused(person):
            return None
        fresh = [(v, d) for v, d in items if not self.logged(d.kind, d.occasion, d.assignment_id, person.id)]
        if not fresh:
            return None
        rcpt = self.recipient(person)
        if rcpt is None:
            return None
        orgs = sorted({v.org_name for v, _ in fresh})
        lines = [line(i, v, d) for i, (v, d) in enumerate(fresh[:MAX_LISTED], 1)]
        if len(fresh) > MAX_LISTED:
            more = texts.SCHED_MORE if kind in (NUDGE, OVERDUE) else texts.SCHED_MORE_ESCALATION
            lines.append(more.format(n=len(fresh)))
        text = "\n".join(
            [
                header.format(name=person.name, org="、".join(orgs), n=len(fresh)),
                *lines,
                texts.SCHED_REPORT_HINT if kind in (NUDGE, OVERDUE) else texts.SCHED_ESCALATION_HINT,
            ]
        )
        decisions = [d for _, d in fresh]
        key = f"{kind}:{person.id}:{self.today.isoformat()}:" + _short_hash(
            f"{d.assignment_id}:{d.occasion}" for d in decisions
        )
        payload: dict[str, Any] = {}
        if kind in (NUDGE, OVERDUE):
            payload["choices"] = [list(c) for c in texts.SCHED_CHOICES]
        return Message(kind, key, rcpt, text, payload, decisions, self.not_before())

    def _nudge_line(self, i: int, v: AssignmentView, d: Decision) -> str:
        left = (v.due - self.today).days
        when = texts.SCHED_DUE_TODAY if left == 0 else texts.SCHED_DAYS_LEFT.format(n=left)
        return texts.SCHED_TASK_LINE.format(
            i=i,
            label=v.label,
            org=v.org_name,
            due=fmt.day(v.due),
            when=when,
            progress=fmt.status_with_percent(v.status, v.percent),
        )

    def _overdue_line(self, i: int, v: AssignmentView, d: Decision) -> str:
        k = workdays_between(v.due, self.today)
        return texts.SCHED_TASK_LINE.format(
            i=i,
            label=v.label,
            org=v.org_name,
            due=fmt.day(v.due),
            when=texts.SCHED_OVERDUE_DAYS.format(n=k),
            progress=fmt.status_with_percent(v.status, v.percent),
        )

    def _escalation_line(self, i: int, v: AssignmentView, d: Decision) -> str:
        k = workdays_between(v.due, self.today)
        colour = d.occasion.split(":", 1)[0]
        return texts.SCHED_ESCALATION_LINE.format(
            i=i,
            mark=texts.SCHED_LEVEL_MARKS.get(colour, ""),
            colour=colour,
            org=v.org_name,
            label=v.label,
            due=fmt.day(v.due),
            n=k,
            progress=fmt.status_with_percent(v.status, v.percent),
        )


def plan_nudges(session: Session, plan: Plan, now: dt.datetime, settings: Settings) -> list[Message]:
    """Deadline nudges plus overdue notices and escalations due at `now` (the day's nudge scan)."""
    jobs = DeadlineJobs(session, plan, now, settings)
    with progress.gc_paused():  # tens of thousands of views, decisions and lines, none in a reference cycle
        return jobs.nudges() + jobs.overdue()
