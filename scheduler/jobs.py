"""What the scheduler sends and when: deadline nudges, overdue notices, escalation, weekly prompts and digests,
event reminders. Planning is pure: `due_messages` looks at the database and the moment and returns the
messages due; `queue` writes them to the outbox. Running either twice is harmless (dedupe keys, reminder_log).

Rules (all dates in the plan's calendar, working days per `scheduler.calendar`):
- Nudges (the 蓝 stage): `settings.nudge_days_before` days before the deadline (default 7, 3, 1, 0), from
  `DAILY_AT` on the day. A day off moves the nudge to the next working day; if that passes the deadline it moves
  back to the last working day before it instead, and nudges landing on the same day merge (the nearer one wins).
- Overdue: on the 1st working day after the deadline and every `overdue_every_workdays` working days after.
- Escalation: when the working days overdue reach `escalate_after_workdays` (default 3 → 黄, 10 → 红) the
  coordinators are told; at the last level (红) also the organisation's leaders. Each level is sent once per
  deadline; a scheduler that was down on the exact day catches up while the level lasts.
- Weekly prompt (`weekly_prompt`, default mon 09:30): officials of organisations with open tasks that have no
  report in the last 7 days. Weekly digest (`weekly_digest`, default fri 17:00): coordinators, plus the
  configured Telegram group / WeCom group robot. A day off moves them to the next working day of that week;
  when the week has none left, that week is skipped.
- Event reminders: a week before each plan event (5·22 → 5·15, 6·5 → 5·29, 8月 → 7·25), to the responsible unit.
- Nobody is sent anything while paused (`paused_until` ≥ today); inside quiet hours rows are queued with their
  first attempt at the end of the window.

One message goes to a person per kind and day, listing every task concerned, so an official with forty tasks
due at year end gets one reminder, not forty. Each (kind, occasion, assignment, person) decision is written to
reminder_log, so a task is never nudged twice for the same occasion even when the message it went out in had
other tasks. Messages go to one identity per person: the enabled channel the person last talked to duban on
(console only when the person has no other identity).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from config.settings import Settings
from core.ids import WECOM_ROBOT_CHAT_ID
from core.messages import Choice
from db.models import (
    COORDINATOR,
    EVENT,
    LEADER,
    OFFICIAL,
    Assignment,
    Conversation,
    Identity,
    Item,
    Outbox,
    Person,
    Plan,
    ReminderLog,
)
from db.repositories import progress
from db.repositories.progress import AssignmentView
from handlers import checkin, kernel, texts
from handlers import formatting as fmt
from scheduler import outbox
from scheduler.calendar import QuietHours, is_workday, next_workday, previous_workday, workdays_between

DAILY_AT = dt.time(9, 0)  # nudges, overdue notices, escalations and event reminders go out from this time
EVENT_LEAD_DAYS = 7
PROMPT_SILENCE = dt.timedelta(days=7)
MAX_LISTED = 15  # tasks listed in one reminder; the rest are counted

NUDGE, OVERDUE, ESCALATION, PROMPT, DIGEST, EVENT_REMINDER = (
    "nudge",
    "overdue",
    "escalation",
    "prompt",
    "digest",
    "event",
)
KINDS = (NUDGE, OVERDUE, ESCALATION, PROMPT, DIGEST, EVENT_REMINDER)

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


@dataclass(frozen=True)
class Recipient:
    person_id: int | None  # None for a group chat
    name: str
    channel: str
    chat_id: str


@dataclass(frozen=True)
class Decision:
    """One thing decided for one person: the reminder_log row written when the message is queued."""

    kind: str
    occasion: str
    assignment_id: int | None = None


@dataclass
class Message:
    kind: str
    dedupe_key: str
    recipient: Recipient
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    not_before: dt.datetime | None = None  # aware local; None: as soon as possible


# ---- settings helpers ---------------------------------------------------------------------------------------


def parse_weekly(spec: str) -> tuple[int, dt.time]:
    """ "mon 09:30" → (0, 09:30). Accepts English three-letter days and 周一…周日."""
    parts = spec.strip().lower().split()
    if len(parts) != 2 or parts[0] not in WEEKDAYS:
        raise ValueError(f"无效的每周时间“{spec}”，应为如 mon 09:30 或 周一 09:30")
    hh, _, mm = parts[1].partition(":")
    return WEEKDAYS[parts[0]], dt.time(int(hh), int(mm or 0))


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


def enabled_channel_names(settings: Settings) -> set[str]:
    names = {"console"}
    if settings.telegram_enabled:
        names.add("telegram")
    if settings.wecom_enabled:
        names.add("wecom")
    return names


def _short_hash(parts: Iterable[str]) -> str:
    return hashlib.sha1("|".join(sorted(parts)).encode()).hexdigest()[:12]


# ---- one planning run ---------------------------------------------------------------------------------------


class Planner:
    """Plans the messages due at one moment. Loads what it needs once; `due_messages` is the entry point.

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
        self._people: list[Person] | None = None
        self._people_by_org: dict[int | None, list[Person]] | None = None
        self._logged: set[tuple[str, str, int | None, int | None]] | None = None
        self._recency: dict[tuple[str, str], dt.datetime] | None = None
        self.enabled = enabled_channel_names(settings)

    # -- shared data --

    @property
    def views(self) -> list[AssignmentView]:
        if self._views is None:
            self._views = progress.assignment_views(self.session, self.plan, self.today)
        return self._views

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
        return [p for p in self._people_by_org.get(org_id, []) if p.role in roles]

    def recipient(self, person: Person) -> Recipient | None:
        """Where to reach `person`: the enabled channel they last talked on (see the module docstring)."""
        if not person.identities:
            return None
        if self._recency is None:
            recency: dict[tuple[str, str], dt.datetime] = {}
            for ch, user, at in self.session.execute(
                select(Conversation.channel, Conversation.user_id, Conversation.updated_at)
            ):
                key = (ch, user)
                if key not in recency or at > recency[key]:
                    recency[key] = at
            self._recency = recency
        recency = self._recency

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

    def not_before(self) -> dt.datetime | None:
        return self.quiet.end_after(self.now) if self.quiet.contains(self.now) else None

    def at_or_after(self, t: dt.time) -> bool:
        return self.now.time().replace(tzinfo=None) >= t

    # -- the jobs --

    def due_messages(self) -> list[Message]:
        """Everything due at this moment (already-sent decisions excluded)."""
        out: list[Message] = []
        out += self.nudges()
        out += self.overdue()
        out += self.weekly_prompt()
        out += self.weekly_digest()
        out += self.event_reminders()
        return out

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

    def _open(self, v: AssignmentView) -> bool:
        return not v.done and not v.closed

    def nudges(self) -> list[Message]:
        if not self.at_or_after(DAILY_AT) or not is_workday(self.today):
            return []
        by_org: dict[int, list[tuple[AssignmentView, Decision]]] = defaultdict(list)
        for v in self.views:
            if not self._open(v) or v.due < self.today:
                continue
            n = self.nudge_schedule(v.due).get(self.today)
            if n is None:
                continue
            by_org[v.org_id].append((v, Decision(NUDGE, f"d-{n}:{v.due.isoformat()}", v.assignment_id)))
        out: list[Message] = []
        for org_id, items in by_org.items():
            for person in self.people_of(org_id, (OFFICIAL,)):
                msg = self._task_message(NUDGE, person, items, texts.SCHED_NUDGE_HEADER, self._nudge_line)
                if msg:
                    out.append(msg)
        return out

    def overdue(self) -> list[Message]:
        if not self.at_or_after(DAILY_AT) or not is_workday(self.today):
            return []
        every = max(1, int(self.settings.overdue_every_workdays))
        levels = ladder(self.settings)
        to_officials: dict[int, list[tuple[AssignmentView, Decision]]] = defaultdict(list)
        escalated: list[tuple[AssignmentView, int, str, bool]] = []  # view, days overdue, colour, last level
        for v in self.views:
            if not self._open(v) or not v.overdue:
                continue
            k = workdays_between(v.due, self.today)
            if k >= 1 and (k - 1) % every == 0:
                to_officials[v.org_id].append((v, Decision(OVERDUE, f"w{k}:{v.due.isoformat()}", v.assignment_id)))
            reached = [(i, n, c) for i, (n, c) in enumerate(levels) if k >= n]
            if reached:
                i, _n, colour = reached[-1]
                escalated.append((v, k, colour, i == len(levels) - 1))
        out: list[Message] = []
        for org_id, items in to_officials.items():
            for person in self.people_of(org_id, (OFFICIAL,)):
                msg = self._task_message(OVERDUE, person, items, texts.SCHED_OVERDUE_HEADER, self._overdue_line)
                if msg:
                    out.append(msg)
        if escalated:
            esc_items = [
                (v, Decision(ESCALATION, f"{colour}:{v.due.isoformat()}", v.assignment_id))
                for v, _k, colour, _last in escalated
            ]
            for person in self.people_of(None, (COORDINATOR,)):
                msg = self._task_message(
                    ESCALATION, person, esc_items, texts.SCHED_ESCALATION_HEADER, self._escalation_line
                )
                if msg:
                    out.append(msg)
            red_by_org: dict[int, list[tuple[AssignmentView, Decision]]] = defaultdict(list)
            for (v, _k, _colour, last), item in zip(escalated, esc_items, strict=True):
                if last:
                    red_by_org[v.org_id].append(item)
            for org_id, items in red_by_org.items():
                for person in self.people_of(org_id, (LEADER,)):
                    msg = self._task_message(
                        ESCALATION, person, items, texts.SCHED_LEADER_HEADER, self._escalation_line
                    )
                    if msg:
                        out.append(msg)
        return out

    def _task_message(
        self, kind: str, person: Person, items: list[tuple[AssignmentView, Decision]], header: str, line: Any
    ) -> Message | None:
        """One message to `person` listing the tasks of `items` not yet sent to them for that occasion."""
        if self.paused(person):
            return None
        fresh = [(v, d) for v, d in items if not self.logged(d.kind, d.occasion, d.assignment_id, person.id)]
        if not fresh:
            return None
        rcpt = self.recipient(person)
        if rcpt is None:
            return None
        fresh.sort(key=lambda vd: progress.urgency_key(vd[0]))
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
            payload["choices"] = [[texts.SCHED_CHOICE_REPORT, "汇报"]]
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

    # -- weekly --

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

    def weekly_prompt(self) -> list[Message]:
        when = self._weekly_day(self.settings.weekly_prompt)
        if when is None:
            return []
        nominal = when[0]
        silent_since = self.now_utc - PROMPT_SILENCE
        waiting: dict[int, list[AssignmentView]] = defaultdict(list)
        for v in self.views:
            if not self._open(v) or v.start > self.today:
                continue
            if v.last_report_at is None or v.last_report_at < silent_since:
                waiting[v.org_id].append(v)
        out: list[Message] = []
        done = self.queued(f"prompt:{p.id}:{nominal.isoformat()}" for p in self.people_of(None, (OFFICIAL,)))
        for org_id, vs in waiting.items():
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
                        {"choices": [[texts.SCHED_CHOICE_REPORT, "汇报"]]},
                        [Decision(PROMPT, nominal.isoformat())],
                        self.not_before(),
                    )
                )
        return out

    def weekly_digest(self) -> list[Message]:
        when = self._weekly_day(self.settings.weekly_digest)
        if when is None:
            return []
        nominal = when[0]
        targets: list[tuple[str, Recipient]] = []
        for person in self.people_of(None, (COORDINATOR,)):
            rcpt = None if self.paused(person) else self.recipient(person)
            if rcpt is not None:
                targets.append((f"digest:{person.id}:{nominal.isoformat()}", rcpt))
        if self.settings.telegram_digest_chat_id:
            g = Recipient(None, texts.DIGEST_GROUP_TELEGRAM, "telegram", self.settings.telegram_digest_chat_id)
            targets.append((f"digest:group:{g.channel}:{g.chat_id}:{nominal.isoformat()}", g))
        if self.settings.wecom_group_webhook:
            g = Recipient(None, texts.DIGEST_GROUP_WECOM, "wecom", WECOM_ROBOT_CHAT_ID)
            targets.append((f"digest:group:{g.channel}:{g.chat_id}:{nominal.isoformat()}", g))
        done = self.queued(k for k, _ in targets)
        targets = [(k, r) for k, r in targets if k not in done]
        if not targets:
            return []
        from scheduler import digest as digest_mod

        d = digest_mod.build_digest(self.session, self.plan, self.now)
        payload: dict[str, Any] = {"markdown": d.markdown()}
        if self.files_dir is not None:
            folder = self.files_dir / nominal.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            chart = digest_mod.render_chart(d, folder / "completion.png")
            book = digest_mod.render_xlsx(d, folder / "digest.xlsx")
            payload["attachments"] = [
                ["photo", str(chart), texts.DIGEST_CHART_FILE.format(date=nominal.isoformat())],
                ["file", str(book), texts.DIGEST_XLSX_FILE.format(date=nominal.isoformat())],
            ]
        else:
            payload["attachments_planned"] = [
                texts.DIGEST_CHART_FILE.format(date=nominal.isoformat()),
                texts.DIGEST_XLSX_FILE.format(date=nominal.isoformat()),
            ]
        text = d.text()
        return [
            Message(DIGEST, key, rcpt, text, dict(payload), [Decision(DIGEST, nominal.isoformat())], self.not_before())
            for key, rcpt in targets
        ]

    # -- events --

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
        if not self.at_or_after(DAILY_AT) or not is_workday(self.today):
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
            occasion = f"{item.code}:{when.isoformat()}"
            date_text = fmt.day(when) if item.event_day else fmt.month(when.month)
            for a in item.assignments:
                if not a.active:
                    continue
                for person in self.people_of(a.organisation_id, (OFFICIAL, COORDINATOR)):
                    if self.paused(person) or self.logged(EVENT_REMINDER, occasion, a.id, person.id):
                        continue
                    rcpt = self.recipient(person)
                    if rcpt is None:
                        continue
                    text = texts.SCHED_EVENT.format(
                        name=person.name, event=item.title, date=date_text, text=item.text or ""
                    )
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


def due_messages(
    session: Session, plan: Plan, now: dt.datetime, settings: Settings, files_dir: Path | None = None
) -> list[Message]:
    """Every message due at `now` (aware) that has not been queued yet."""
    return Planner(session, plan, now, settings, files_dir).due_messages()


def plan_nudges(session: Session, plan: Plan, now: dt.datetime, settings: Settings) -> list[Message]:
    """Deadline nudges plus overdue notices and escalations due at `now`."""
    p = Planner(session, plan, now, settings)
    return p.nudges() + p.overdue()


# ---- queueing -----------------------------------------------------------------------------------------------


def _log_insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def queue(session: Session, messages: Iterable[Message], now_utc: dt.datetime) -> list[Outbox]:
    """Write `messages` to the outbox and their decisions to reminder_log. Returns the rows created.

    A message whose dedupe key exists already is skipped with its decisions (they were logged with it).
    """
    created: list[Outbox] = []
    insert = _log_insert(session)
    for m in messages:
        not_before = None
        if m.not_before is not None:
            not_before = m.not_before.astimezone(dt.UTC).replace(tzinfo=None)
        payload = {k: v for k, v in m.payload.items() if k != "attachments_planned"}
        row = outbox.enqueue(
            session,
            m.dedupe_key,
            m.kind,
            m.recipient.channel,
            m.recipient.chat_id,
            m.text,
            person_id=m.recipient.person_id,
            payload=payload,
            now=now_utc,
            not_before=not_before,
        )
        if row is None:
            continue
        created.append(row)
        rcpt = m.recipient
        if m.kind == PROMPT:
            # A short reply to the prompt ("好", "1") starts the check-in at once (private chats: chat = user).
            checkin.arm_weekly_prompt(session, rcpt.channel, rcpt.chat_id, rcpt.chat_id, now_utc)
        if m.payload.get("choices") and rcpt.person_id is not None:
            # A number typed back (WeCom, console) picks the offered choice.
            offered = [Choice(label, value) for label, value in m.payload["choices"]]
            kernel.offer(session, rcpt.channel, rcpt.chat_id, rcpt.chat_id, offered, now_utc)
        for d in m.decisions:
            session.execute(
                insert(ReminderLog)
                .values(
                    kind=d.kind,
                    occasion=d.occasion,
                    assignment_id=d.assignment_id,
                    person_id=m.recipient.person_id,
                    outbox_id=row.id,
                    created_at=now_utc,
                )
                .on_conflict_do_nothing(index_elements=["kind", "occasion", "assignment_id", "person_id"])
            )
    session.flush()
    return created
