"""duban's database schema: SQLAlchemy 2 typed models.

Times are stored as naive UTC (`Clock.utcnow()`); dates (deadlines) as plain dates in the plan's calendar.
Reports are append-only: an edit adds a new row that supersedes the old one, so every version is kept.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Kinds of plan item
GOAL, TASK, PROJECT, INDICATOR, SUB_INDICATOR, EVENT = "goal", "task", "project", "indicator", "sub_indicator", "event"
REPORTABLE_KINDS = (TASK, PROJECT, INDICATOR)

# Report status
NOT_STARTED, IN_PROGRESS, DONE, BLOCKED = "not_started", "in_progress", "done", "blocked"
NOT_APPLICABLE = "not_applicable"  # the item does not apply to this unit (with a reason; reviewed like any report)
STATUSES = (NOT_STARTED, IN_PROGRESS, DONE, BLOCKED, NOT_APPLICABLE)
FINISHED = frozenset({DONE, NOT_APPLICABLE})  # approved, the assignment is closed

# Review state of a report
PENDING, APPROVED, RETURNED = "pending", "approved", "returned"

# Roles of people
OFFICIAL, COORDINATOR, ADMIN, LEADER = "official", "coordinator", "admin", "leader"
ROLES = (OFFICIAL, COORDINATOR, ADMIN, LEADER)

# Outbox states
OUT_PENDING, OUT_SENDING, OUT_SENT, OUT_FAILED = "pending", "sending", "sent", "failed"

# Inbox states: waiting to be handled; handled; stored but deliberately not handled (an unbound user's flood);
# given up on (the handling failed every time).
IN_PENDING, IN_DONE, IN_SKIPPED, IN_FAILED = "pending", "done", "skipped", "failed"

# Outbox kind of the engine's answers to incoming messages
REPLY = "reply"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Plan(Base):
    """One year's work plan; a database can hold several."""

    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    issuer: Mapped[str | None] = mapped_column(String(100))
    document_no: Mapped[str | None] = mapped_column(String(100))
    summary_due: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source_digest: Mapped[str | None] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    items: Mapped[list[Item]] = relationship(back_populates="plan")


class Organisation(Base):
    """A responsible unit: a county, a city department, a county government, a branch office..."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    short_name: Mapped[str | None] = mapped_column(String(50))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    note: Mapped[str | None] = mapped_column(Text)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id])
    aliases: Mapped[list[OrgAlias]] = relationship(back_populates="organisation", cascade="all, delete-orphan")


class OrgAlias(Base):
    """Another name people use for an organisation (short form, older or later official name)."""

    __tablename__ = "org_alias"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="alias")  # short | alias | former

    organisation: Mapped[Organisation] = relationship(back_populates="aliases")


class OrgGroup(Base):
    """A named set of organisations, such as 边境县 or 各县区."""

    __tablename__ = "org_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    aliases: Mapped[list[Any]] = mapped_column(JSON, default=list)

    members: Mapped[list[Organisation]] = relationship(secondary="org_group_member", order_by="Organisation.id")


class OrgGroupMember(Base):
    __tablename__ = "org_group_member"

    group_id: Mapped[int] = mapped_column(ForeignKey("org_group.id", ondelete="CASCADE"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True)


class Item(Base):
    """Anything of a plan that is tracked: a goal, a task, a project, an indicator (and its sub-indicators), an event.

    Kind-specific fields: projects use `investment_total`, `years`; indicators use `number`, `domain`,
    `category`, `unit`, `target_text`, `target_year_text`, `check_op`/`check_value`; tasks use `targets`.
    """

    __tablename__ = "item"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    code: Mapped[str] = mapped_column(String(40))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    number: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    short_name: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str | None] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(String(200))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)
    targets: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # projects
    investment_total: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    years: Mapped[str | None] = mapped_column(String(40))
    # indicators
    domain: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(40))
    target_text: Mapped[str | None] = mapped_column(Text)
    target_year_text: Mapped[str | None] = mapped_column(Text)
    check_op: Mapped[str | None] = mapped_column(String(8))
    check_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    # events
    event_month: Mapped[int | None] = mapped_column(Integer)
    event_day: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    plan: Mapped[Plan] = relationship(back_populates="items")
    parent: Mapped[Item | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Item]] = relationship(back_populates="parent", order_by="Item.id")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="item", cascade="all, delete-orphan")

    @property
    def label(self) -> str:
        """The name shown to people: the short name when there is one."""
        return self.short_name or self.title


class Assignment(Base):
    """An item assigned to one organisation; each assignee reports separately."""

    __tablename__ = "assignment"
    __table_args__ = (UniqueConstraint("item_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default="responsible")  # lead | responsible
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Denormalised from the newest report so that listings and scans need no per-row subquery.
    last_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("report.id", use_alter=True, name="fk_assignment_last_report_id_report")
    )
    closed: Mapped[bool] = mapped_column(Boolean, default=False)  # 办结: an approved 已完成 report

    item: Mapped[Item] = relationship(back_populates="assignments")
    organisation: Mapped[Organisation] = relationship()
    last_report: Mapped[Report | None] = relationship(foreign_keys=[last_report_id], post_update=True)


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    paused_until: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)

    organisation: Mapped[Organisation | None] = relationship()
    identities: Mapped[list[Identity]] = relationship(back_populates="person", cascade="all, delete-orphan")


class Identity(Base):
    """A person's account on one channel (Telegram user id, WeCom userid, console name)."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    chat_id: Mapped[str | None] = mapped_column(String(100))  # where to send proactive messages
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)

    person: Mapped[Person] = relationship(back_populates="identities")


class Report(Base):
    """One version of a progress report on an assignment. Never updated in place except for review fields."""

    __tablename__ = "report"
    __table_args__ = (Index("ix_report_assignment_created", "assignment_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"))
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    status: Mapped[str] = mapped_column(String(20))
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    investment_done: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    physical_progress: Mapped[str | None] = mapped_column(Text)  # 形象进度
    indicator_value: Mapped[str | None] = mapped_column(String(100))
    indicator_number: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    description: Mapped[str | None] = mapped_column(Text)
    problems: Mapped[str | None] = mapped_column(Text)
    next_step: Mapped[str | None] = mapped_column(Text)
    expected_date: Mapped[dt.date | None] = mapped_column(Date)
    # A weekly confirmation that nothing changed: the previous version's values carried forward.
    no_change: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))  # done so far, in the target's unit
    quantity_unit: Mapped[str | None] = mapped_column(String(20))
    percent_low: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))  # an approximate percent's range ("七八成")
    percent_high: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    review_state: Mapped[str] = mapped_column(String(20), default=PENDING)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    review_comment: Mapped[str | None] = mapped_column(Text)

    assignment: Mapped[Assignment] = relationship(foreign_keys=[assignment_id])
    person: Mapped[Person | None] = relationship(foreign_keys=[person_id])
    attachments: Mapped[list[Attachment]] = relationship(back_populates="report")


class Attachment(Base):
    """Evidence (佐证材料): a photo or file stored in the data directory."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # photo | file
    path: Mapped[str] = mapped_column(String(500))
    file_name: Mapped[str | None] = mapped_column(String(200))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)

    report: Mapped[Report | None] = relationship(back_populates="attachments")


class Conversation(Base):
    """The state of one dialogue, keyed by (channel, chat, user)."""

    __tablename__ = "conversation"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(60), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The pending question: {"id": str, "choices": [[label, value], ...], "listed": bool, "held": str | None}.
    # Written by the dialogue kernel; the repository only stores it.
    question: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ProcessedMessage(Base):
    """Platform message ids already handled, so a redelivered message is handled once."""

    __tablename__ = "processed_message"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    replies: Mapped[list[Any] | None] = mapped_column(JSON)  # what the engine answered, for a redelivery
    replied_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the channel confirmed they were sent


class Inbox(Base):
    """An incoming update, stored and committed before the platform is told it arrived.

    The unique (channel, message_id) makes a redelivery a no-op. `payload` is what the channel needs to turn the
    update into an `IncomingMessage` later (the platform's update, or the decrypted callback's fields). Rows of
    one (channel, chat_id) are handled in id order, one at a time, by whichever process holds the chat's lease
    (`InboxChat`).
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "message_id"),
        Index("ix_inbox_chat_status", "channel", "chat_id", "status", "id"),
        Index("ix_inbox_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str] = mapped_column(String(200))
    chat_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default=IN_PENDING)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)  # wall-clock UTC (latency, depth, pruning)
    handled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxChat(Base):
    """The lease on one chat's inbox: the worker holding it is the only one handling that chat's rows."""

    __tablename__ = "inbox_chat"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Revision(Base):
    """One row: counters bumped by every transaction that changes the plan's tables (plan, units, items,
    assignments) or the people's (people, their accounts). A process caches what those tables hold and reads the
    counters with each message's first statement (`db.cache`): a change made by any process is seen at once."""

    __tablename__ = "revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan: Mapped[int] = mapped_column(BigInteger, default=0)
    people: Mapped[int] = mapped_column(BigInteger, default=0)


class Worker(Base):
    """A running `duban serve` process. Its heartbeat (`seen_at`, wall-clock UTC) says it is alive; the inbox
    chats and outbox rows claimed by a worker that stopped beating are handed to others."""

    __tablename__ = "worker"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class AuthFailure(Base):
    """A wrong invite code, kept for a while so that guessing codes is throttled across processes."""

    __tablename__ = "auth_failure"
    __table_args__ = (Index("ix_auth_failure_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # e.g. "user:telegram:42", "chat:wecom:zhangsan"
    at: Mapped[dt.datetime] = mapped_column(DateTime)


class Outbox(Base):
    """A proactive message waiting to be sent, sent, or failed. The dedupe key makes creation idempotent."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_chat", "channel", "chat_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20))
    chat_id: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=OUT_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ReminderLog(Base):
    """What reminder was decided for which assignment and occasion (the scheduler's memory)."""

    __tablename__ = "reminder_log"
    __table_args__ = (UniqueConstraint("kind", "occasion", "assignment_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))  # nudge | overdue | escalation | prompt | digest | event
    occasion: Mapped[str] = mapped_column(String(100))
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class InviteCode(Base):
    """A one-time code that binds a chat account to an organisation and role."""

    __tablename__ = "invite_code"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    role: Mapped[str] = mapped_column(String(20))
    person_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    organisation: Mapped[Organisation] = relationship()


class Judgement(Base):
    """A coordinator's verdict on an indicator (`判定 指标N 达标|未达标 [理由]`), for one unit or (organisation
    None) every unit. It stands for the reports filed up to `created_at`; a newer report is judged by its rule
    again."""

    __tablename__ = "judgement"
    __table_args__ = (Index("ix_judgement_item", "item_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    verdict: Mapped[str] = mapped_column(String(20))  # met | not_met
    reason: Mapped[str | None] = mapped_column(String(200))
    judged_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class Urge(Base):
    """A coordinator's 催办 of one unit: who chased it, when (and on which local day, for the once-a-day rule),
    how many people were reached, what was overdue and unreported then, and the text sent."""

    __tablename__ = "urge"
    __table_args__ = (Index("ix_urge_org_created", "organisation_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    urged_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    local_day: Mapped[dt.date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    unreported: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)

    organisation: Mapped[Organisation] = relationship()
    urged_by: Mapped[Person | None] = relationship()


class BoardToken(Base):
    """A one-time sign-in link to the board (`看板`): only the token's SHA-256 is kept. Used once, within minutes."""

    __tablename__ = "board_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class BoardSession(Base):
    """A browser signed in to the board: the cookie's SHA-256, whose it is, its CSRF token and when it ends
    (`expires_at`, pushed forward while used; `ended_at` once signed out)."""

    __tablename__ = "board_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    person: Mapped[Person] = relationship()
