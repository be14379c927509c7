"""Event reminders: a week before each plan event (5·22 → 5·15, 6·5 → 5·29, 8月 → 7·25), to the officials and
coordinators of the responsible units, from `DAILY_AT` on a working day.

A reminder day off moves to the next working day, or back to the last one before it when that would pass the
event. Each (event, assignment, person) is written to reminder_log, so a reminder goes out once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from db.models import COORDINATOR, EVENT, OFFICIAL, Assignment, Item
from handlers import formatting as fmt
from handlers import texts
from scheduler.calendar import next_workday, previous_workday
from scheduler.messages import EVENT_REMINDER, Decision, Message
from scheduler.planning import PlanningRun

EVENT_LEAD_DAYS = 7


class EventJobs(PlanningRun):
    """The event reminders due at the run's moment."""

    def event_date(self, item: Item) -> dt.date | None:
        if item.event_month is None:
            return None
        try:
            return dt.date(self.plan.year, item.event_month, item.event_day or 1)
        except ValueError:
            return None

    def event_reminder_day(self, when: dt.date) -> dt.date:
        nominal = when - dt.timedelta(days=EVENT_LEAD_DAYS)
        day = next_workday(nominal)
        return day if day <= when else previous_workday(nominal)

    def event_reminders(self) -> list[Message]:
        if not self.daily_jobs_due():
            return []
        items = self.session.execute(
            select(Item)
            .where(Item.plan_id == self.plan.id, Item.kind == EVENT, Item.active.is_(True))
            .options(selectinload(Item.assignments))
        ).scalars()
        out: list[Message] = []
        for item in items:
            when = self.event_date(item)
            if when is None or self.event_reminder_day(when) != self.today:
                continue
            for a in item.assignments:
                if a.active:
                    out += self._remind(item, when, a)
        return out

    def _remind(self, item: Item, when: dt.date, a: Assignment) -> list[Message]:
        """The reminders of event `item` on `when` to the people of assignment `a` not yet reminded."""
        occasion = f"{item.code}:{when.isoformat()}"
        date_text = fmt.day(when) if item.event_day else fmt.month(when.month)
        out: list[Message] = []
        for person in self.people_of(a.organisation_id, (OFFICIAL, COORDINATOR)):
            if self.paused(person) or self.logged(EVENT_REMINDER, occasion, a.id, person.id):
                continue
            rcpt = self.recipient(person)
            if rcpt is None:
                continue
            text = texts.SCHED_EVENT.format(name=person.name, event=item.title, date=date_text, text=item.text or "")
            out.append(
                Message(
                    EVENT_REMINDER,
                    f"event:{item.id}:{person.id}:{when.isoformat()}",
                    rcpt,
                    text.strip(),
                    {},
                    [Decision(EVENT_REMINDER, occasion, a.id)],
                    self.not_before(),
                )
            )
        return out
