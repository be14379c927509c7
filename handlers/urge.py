"""催办: a coordinator (or a leader) chases a unit: `催办 米林县`, `催一下边境县`, `提醒朗县尽快汇报`.

For each unit named (a group: each of its units) the reminder names what the unit has overdue and what it has not
reported (never, or not in the last UNREPORTED_DAYS days: the notion of `谁还没汇报`), and is queued through the
outbox to each bound active person of the unit (officials first), with a dedupe key holding the urge's id so a
retried message never sends it twice. Each unit chased is recorded (`db.repositories.urges`): who, when, the
counts and the text; the unit's progress answer shows the latest (`history_line`) and the digest lists them.

A unit is chased once per local day: a second 催办 the same day, or a 催办 of a unit with nothing overdue or
unreported, asks first (确认 / 取消), in a small kernel dialogue whose one soft state keeps the units waiting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select

from core.messages import Choice, Reply
from db.models import FINISHED, LEADER, OFFICIAL, Identity, Person, Plan, Urge
from db.repositories import orgs, outbox, plans, progress, urges
from db.repositories.progress import AssignmentView
from handlers import formatting as fmt
from handlers import kernel, texts, vocabulary
from handlers.context import Context, Replies
from handlers.understanding.nlu import Lexicon
from handlers.understanding.text import normalize

UNREPORTED_DAYS = 7  # the same window as `谁还没汇报` (handlers.queries.lists.UNREPORTED_DAYS)
HISTORY_DAYS = 30  # the progress answer shows the unit's latest urge within this many days
LISTED = 3  # items named per list in the reminder; the rest are counted
NOTICE = "urge"  # the outbox kind


class UrgeState(StrEnum):
    CONFIRM = "urge.confirm"  # units chased today already (or with nothing to chase): 确认 sends, 取消 does not


@dataclass
class _Unit:
    """What one unit would be told, and who would be told."""

    org_id: int
    name: str
    overdue: list[AssignmentView] = field(default_factory=list)
    unreported: list[AssignmentView] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    today: list[Urge] = field(default_factory=list)  # its urges earlier today

    @property
    def nothing(self) -> bool:
        return not self.overdue and not self.unreported


def may_urge(ctx: Context) -> bool:
    """Coordinators (and admins) and leaders may chase a unit."""
    return ctx.is_coordinator or (ctx.person is not None and ctx.person.role == LEADER)


# ---- entry point ------------------------------------------------------------------------------------------------


def answer(ctx: Context, lex: Lexicon, plan: Plan, org_ids: list[int], group: str | None) -> Replies:
    """`催办 <单位>` understood: chase each unit named that was not chased today; ask about the others."""
    if not may_urge(ctx):
        return [Reply(texts.URGE_NOT_ALLOWED)]
    if not org_ids:
        return [Reply(texts.URGE_ASK_UNIT)]
    units = [_unit(ctx, plan, oid) for oid in _top_units(ctx, org_ids)]
    lines: list[str] = []
    waiting: list[_Unit] = []
    several = group is not None or len(units) > 1
    for unit in units:
        if not unit.people:
            lines.append(texts.URGE_NO_PEOPLE.format(org=unit.name))
        elif unit.today:
            waiting.append(unit)
        elif unit.nothing:
            if several:
                lines.append(texts.URGE_NOTHING.format(org=unit.name, days=UNREPORTED_DAYS))
            else:
                waiting.append(unit)
        else:
            lines.append(_chase(ctx, unit))
    if not waiting:
        ctx.reset()
        return [Reply("\n".join(lines))]
    replies = [Reply("\n".join(lines))] if lines else []
    return [*replies, _ask(ctx, waiting)]


def _top_units(ctx: Context, org_ids: list[int]) -> list[int]:
    """`org_ids` without the units below another of them (their items and people are the parent's)."""
    up = orgs.roll_up(ctx.session, org_ids)
    return [o for o in dict.fromkeys(org_ids) if up.get(o, o) == o or up.get(o, o) not in org_ids]


def _unit(ctx: Context, plan: Plan, org_id: int) -> _Unit:
    """The unit's overdue and unreported items (its units below it included), its people, its urges today."""
    session = ctx.session
    today = ctx.clock.today()
    since = ctx.clock.utcnow() - dt.timedelta(days=UNREPORTED_DAYS)
    views = progress.assignment_views(session, plan, today, org_ids=[org_id])
    open_views = [v for v in views if v.status not in FINISHED and not v.closed]
    ordered = sorted(open_views, key=progress.urgency_key)
    overdue = [v for v in ordered if v.overdue]
    unreported = [v for v in ordered if v.last_report_at is None or v.last_report_at < since]
    name = orgs.names_of(session, [org_id]).get(org_id, str(org_id))
    return _Unit(org_id, name, overdue, unreported, _people(ctx, org_id), urges.on_day(session, org_id, today))


def _people(ctx: Context, org_id: int) -> list[Person]:
    """The unit's active people with a chat account (its units below included), officials first; not the one who
    chases."""
    unit_ids = orgs.descendants(ctx.session, [org_id])
    q = (
        select(Person)
        .where(
            Person.organisation_id.in_(unit_ids),
            Person.active.is_(True),
            Person.id.in_(select(Identity.person_id)),
        )
        .order_by(Person.id)
    )
    me = ctx.person.id if ctx.person is not None else None
    found = [p for p in ctx.session.execute(q).scalars() if p.id != me]
    return sorted(found, key=lambda p: (p.role != OFFICIAL, p.id))


# ---- chasing ----------------------------------------------------------------------------------------------------


def who_label(person: Person | None) -> str:
    """The one who chases as the reminder names them: 协调员张三 (the demo's 协调员 stays 协调员)."""
    if person is None:
        return texts.URGE_SOMEONE
    role = texts.ROLE_NAMES.get(person.role, "")
    return person.name if role in person.name else role + person.name


def _listed(views: list[AssignmentView], overdue: bool) -> str:
    shown = [
        texts.URGE_ITEM_OVERDUE.format(label=v.label, days=-v.days_left)
        if overdue
        else texts.URGE_ITEM.format(label=v.label)
        for v in views[:LISTED]
    ]
    more = texts.URGE_ITEMS_MORE.format(n=len(views)) if len(views) > LISTED else ""
    return "、".join(shown) + more


def notice_text(ctx: Context, unit: _Unit) -> str:
    """What the unit's people are sent."""
    parts = []
    if unit.overdue:
        parts.append(texts.URGE_NOTICE_OVERDUE.format(n=len(unit.overdue), items=_listed(unit.overdue, True)))
    if unit.unreported:
        # those not named as overdue just above first: the reminder names as many different items as it can
        named = [v for v in unit.unreported if not v.overdue] + [v for v in unit.unreported if v.overdue]
        parts.append(
            texts.URGE_NOTICE_UNREPORTED.format(n=len(named), days=UNREPORTED_DAYS, items=_listed(named, False))
        )
    details = "\n".join(parts) if parts else texts.URGE_NOTICE_NOTHING
    return texts.URGE_NOTICE.format(who=who_label(ctx.person), org=unit.name, details=details)


def _chase(ctx: Context, unit: _Unit) -> str:
    """Queue the reminder to each of the unit's people and record the urge; the line the chaser is told."""
    now = ctx.clock.utcnow()
    text = notice_text(ctx, unit)
    urge = urges.record(
        ctx.session,
        unit.org_id,
        ctx.person.id if ctx.person is not None else None,
        now,
        ctx.clock.today(),
        recipients=0,
        overdue=len(unit.overdue),
        unreported=len(unit.unreported),
        text=text,
    )
    reached = [p for p in unit.people if outbox.notify_person(ctx.session, p, f"urge:{urge.id}", NOTICE, text, now)]
    urge.recipients = len(reached)
    return texts.URGE_DONE.format(
        org=unit.name,
        overdue=len(unit.overdue),
        unreported=len(unit.unreported),
        n=len(reached),
        names="、".join(p.name for p in reached),
    )


# ---- confirmation -----------------------------------------------------------------------------------------------


def _choices() -> list[Choice]:
    return [Choice(texts.CHOICE_CONFIRM, texts.CHOICE_CONFIRM), Choice(texts.CHOICE_CANCEL, texts.CHOICE_CANCEL)]


def _at(ctx: Context, urge: Urge) -> str:
    return fmt.local(urge.created_at, ctx.clock.tz).strftime("%H:%M")


def _ask(ctx: Context, waiting: list[_Unit]) -> Reply:
    """Ask whether to chase `waiting` anyway (chased today, or nothing to chase); they wait in the state. In a
    group chat (dialogues are for one person) the question is only told, to be confirmed in private."""
    if len(waiting) == 1:
        unit = waiting[0]
        if unit.today:
            text = texts.URGE_AGAIN.format(time=_at(ctx, unit.today[-1]), org=unit.name)
        else:
            text = texts.URGE_NOTHING_ASK.format(org=unit.name, days=UNREPORTED_DAYS)
    else:
        listed = "、".join(texts.URGE_AGAIN_UNIT.format(org=u.name, time=_at(ctx, u.today[-1])) for u in waiting)
        text = texts.URGE_AGAIN_MANY.format(orgs=listed)
    if ctx.msg.is_group:
        ctx.reset()
        return Reply(f"{text}\n{texts.URGE_CONFIRM_PRIVATE}")
    if ctx.nested:
        # asked in the middle of another dialogue, which resumes after this answer: no question of its own
        return Reply(f"{text}\n{texts.URGE_CONFIRM_LATER}")
    ctx.go(UrgeState.CONFIRM, org_ids=[u.org_id for u in waiting])
    return Reply(text, choices=_choices())


def _on_confirm(ctx: Context, text: str) -> Replies | None:
    """确认 chases the units waiting (whatever was chased today); 取消 or no drops them; else a new message."""
    t = normalize(text)
    if t == texts.CHOICE_CANCEL or t in vocabulary.END_WORDS or t in vocabulary.RETRY_WORDS:
        return kernel.end(ctx)
    if t not in vocabulary.YES_WORDS and t not in vocabulary.CONFIRM_WORDS:
        return None
    org_ids = [int(o) for o in ctx.data.get("org_ids", [])]
    ctx.reset()
    plan = plans.active_plan(ctx.session)
    if plan is None or not may_urge(ctx):
        return [Reply(texts.URGE_NOT_ALLOWED if plan is not None else texts.Q_NO_PLAN)]
    lines = []
    for oid in org_ids:
        unit = _unit(ctx, plan, oid)
        lines.append(_chase(ctx, unit) if unit.people else texts.URGE_NO_PEOPLE.format(org=unit.name))
    return [Reply("\n".join(lines))]


def _prompt(ctx: Context) -> Replies:
    return [Reply(texts.URGE_PENDING, choices=_choices())]


DIALOGUE = kernel.register(
    kernel.Dialogue(
        name="urge",
        states=UrgeState,
        handlers={},
        soft={UrgeState.CONFIRM: _on_confirm},
        prompt=_prompt,
        accepts=lambda ctx, text: kernel.Fit.FREE,
        cancel=kernel.end,
        soft_keeps_questions=False,
    )
)


# ---- history ----------------------------------------------------------------------------------------------------


def history_line(ctx: Context, org_id: int) -> str | None:
    """ "最近催办：7月10日 10:05 协调员张三（共2次）" when the unit was chased in the last HISTORY_DAYS days."""
    recent = urges.recent(ctx.session, org_id, ctx.clock.utcnow() - dt.timedelta(days=HISTORY_DAYS))
    if not recent:
        return None
    last = recent[0]
    local = fmt.local(last.created_at, ctx.clock.tz)
    return texts.URGE_HISTORY.format(
        day=fmt.day(local.date()), time=local.strftime("%H:%M"), who=who_label(last.urged_by), n=len(recent)
    )
