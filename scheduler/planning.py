"""One planning run: the moment, the settings, and what the jobs read from the database once.

`PlanningRun` is the base of every job (`scheduler.deadlines`, `scheduler.weekly`, `scheduler.event_reminders`;
`scheduler.jobs.Planner` is all of them). Each thing it reads is loaded on first use and kept for the run, so
a scan that asks about every organisation still runs one query per kind of data.

Shared rules:
- A paused person (`paused_until` ≥ today, "请假到 6月5日") is sent none of their own nudges, overdue notices,
  escalations, event reminders or weekly prompts; the organisation's other officials still get theirs (nudges go to
  every official of the organisation), escalations about the paused person's tasks still reach the coordinators,
  and the weekly digest, review notices and replies are not held back. Inside quiet hours rows are queued with
  their first attempt at the end of the window (`not_before`).
- Messages go to one identity per person: the enabled channel the person last talked to duban on (console
  only when the person has no other identity).
- The daily jobs (nudges, overdue notices, escalations, event reminders) run on working days from `DAILY_AT`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from config.settings import Settings
from db.models import Assignment, Conversation, Identity, Item, Outbox, Person, Plan, ReminderLog
from db.repositories import orgs, progress
from db.repositories.progress import AssignmentView
from scheduler.calendar import QuietHours, is_workday
from scheduler.messages import ESCALATION, EVENT_REMINDER, NUDGE, OVERDUE, Recipient

DAILY_AT = dt.time(9, 0)  # nudges, overdue notices, escalations and event reminders go out from this time


def enabled_channel_names(settings: Settings) -> set[str]:
    names = {"console"}
    if settings.telegram_enabled:
        names.add("telegram")
    if settings.wecom_enabled:
        names.add("wecom")
    return names


class PlanningRun:
    """What the jobs share when planning the messages due at one moment.

    Args:
        session: an open session (only read from).
        plan: the plan to remind about.
        now: the moment, an aware datetime in the plan's timezone.
        settings: duban's settings.
        files_dir: where digests put their chart and workbook; None to skip rendering files (dry runs).
    """

    def __init__(
        self, session: Session, plan: Plan, now: dt.datetime, settings: Settings, files_dir: Path | None = None
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self.session, self.plan, self.now, self.settings = session, plan, now, settings
        self.today = now.date()
        self.now_utc = now.astimezone(dt.UTC).replace(tzinfo=None)
        self.files_dir = files_dir
        self.quiet = QuietHours(settings.quiet_hours)
        self._views: list[AssignmentView] | None = None
        self._open_views: list[AssignmentView] | None = None
        self._people: list[Person] | None = None
        self._people_by_org: dict[int | None, list[Person]] | None = None
        self._parents: dict[int, int] | None = None
        self._logged: set[tuple[str, str, int | None, int | None]] | None = None
        self._recency: dict[tuple[str, str], dt.datetime] | None = None
        self.enabled = enabled_channel_names(settings)

    # -- the moment --

    def at_or_after(self, t: dt.time) -> bool:
        return self.now.time().replace(tzinfo=None) >= t

    def daily_jobs_due(self) -> bool:
        """True on a working day from `DAILY_AT`: when the daily jobs look for what is due today."""
        return self.at_or_after(DAILY_AT) and is_workday(self.today)

    def not_before(self) -> dt.datetime | None:
        return self.quiet.end_after(self.now) if self.quiet.contains(self.now) else None

    # -- the plan --

    @property
    def views(self) -> list[AssignmentView]:
        if self._views is None:
            self._views = progress.assignment_views(self.session, self.plan, self.today)
        return self._views

    @property
    def open_views(self) -> list[AssignmentView]:
        """The open views (`is_open`), most urgent first: all the daily jobs look at. Read on their own (the done
        and closed ones, most of a plan late in the year, are never loaded) unless `views` is loaded already."""
        if self._open_views is None:
            if self._views is not None:
                self._open_views = [v for v in self._views if self.is_open(v)]
            else:
                self._open_views = progress.assignment_views(self.session, self.plan, self.today, open_only=True)
        return self._open_views

    @staticmethod
    def is_open(v: AssignmentView) -> bool:
        return not v.done and not v.closed

    # -- what was sent --

    def logged(self, kind: str, occasion: str, assignment_id: int | None, person_id: int | None) -> bool:
        if self._logged is None:
            self._logged = {
                (k, o, a, p)
                for k, o, a, p in self.session.execute(
                    select(
                        ReminderLog.kind, ReminderLog.occasion, ReminderLog.assignment_id, ReminderLog.person_id
                    ).where(
                        ReminderLog.kind.in_((NUDGE, OVERDUE, ESCALATION, EVENT_REMINDER)),
                        ReminderLog.assignment_id.in_(
                            select(Assignment.id).join(Item).where(Item.plan_id == self.plan.id)
                        ),
                    )
                )
            }
        return (kind, occasion, assignment_id, person_id) in self._logged

    def queued(self, keys: Iterable[str]) -> set[str]:
        """Those of `keys` already in the outbox (weekly messages are remembered by their dedupe key)."""
        keys = list(keys)
        if not keys:
            return set()
        return set(self.session.execute(select(Outbox.dedupe_key).where(Outbox.dedupe_key.in_(keys))).scalars())

    # -- the people --

    @property
    def people(self) -> list[Person]:
        if self._people is None:
            self._people = list(
                self.session.execute(
                    select(Person)
                    .where(Person.active.is_(True))
                    .options(selectinload(Person.identities))
                    .order_by(Person.id)
                ).scalars()
            )
        return self._people

    def paused(self, person: Person) -> bool:
        return person.paused_until is not None and person.paused_until >= self.today

    def people_of(self, org_id: int | None, roles: tuple[str, ...]) -> list[Person]:
        """Active people with one of `roles`, of organisation `org_id` (None: of every organisation)."""
        if org_id is None:
            return [p for p in self.people if p.role in roles]
        if self._people_by_org is None:
            # Indexed once per run: a scan asks this for every organisation with something due.
            by_org: dict[int | None, list[Person]] = {}
            for p in self.people:
                by_org.setdefault(p.organisation_id, []).append(p)
            self._people_by_org = by_org
        if self._parents is None:
            self._parents = orgs.parent_map(self.session)
        seen: set[int] = set()
        found: list[Person] = []
        # A unit below another with nobody of its own (工布江达县人民政府) is asked through its parent.
        while org_id is not None and org_id not in seen and not found:
            seen.add(org_id)
            found = [p for p in self._people_by_org.get(org_id, []) if p.role in roles]
            org_id = self._parents.get(org_id)
        return found

    def recipient(self, person: Person) -> Recipient | None:
        """Where to reach `person`: the enabled channel they last talked on (see the module docstring)."""
        if not person.identities:
            return None
        recency = self._conversation_recency()

        def rank(i: Identity) -> tuple[bool, bool, dt.datetime, int]:
            real = i.channel != "console"
            return (
                i.channel in self.enabled and real,
                real,
                recency.get((i.channel, i.external_id), dt.datetime.min),
                -i.id,
            )

        best = max(person.identities, key=rank)
        return Recipient(person.id, person.name, best.channel, best.chat_id or best.external_id)

    def _conversation_recency(self) -> dict[tuple[str, str], dt.datetime]:
        """{(channel, user id): when that user last talked to duban there}, read once per run."""
        if self._recency is None:
            recency: dict[tuple[str, str], dt.datetime] = {}
            for ch, user, at in self.session.execute(
                select(Conversation.channel, Conversation.user_id, Conversation.updated_at)
            ):
                key = (ch, user)
                if key not in recency or at > recency[key]:
                    recency[key] = at
            self._recency = recency
        return self._recency
