"""The conversation engine: one incoming message in, replies out, in one database transaction.

It de-duplicates by platform message id, finds who is talking, loads the conversation state stored in the
database (so a restart or a second process continues the same dialogue), runs the handlers and saves the
state. A failure rolls the whole message back and the user gets a short apology; nothing entered before is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config.clock import Clock, wall_utcnow
from config.settings import Settings
from core.inbox import Row
from core.messages import IncomingMessage, Reply
from db.cache import QueryCache
from db.models import IN_DONE, IN_FAILED, REPLY, Conversation, ProcessedMessage, Revision
from db.repositories import conversations, inbox, outbox, people
from handlers import kernel, router, texts
from handlers.context import IDLE, Context
from scheduler.sender import Claimed

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TEXT = 4000  # longer input is cut: nobody types more into a check-in, and it bounds the work per message
# A redelivered message whose replies were never confirmed sent is answered again, but only once the first
# handling is this old: a crash, not a platform retry racing the first answer.
REDELIVER_AFTER = dt.timedelta(seconds=30)


class Handled(NamedTuple):
    """What handling one inbox row did: the replies to send now (outbox rows claimed by the worker; none when
    they queue behind earlier replies of the chat that are not sent yet: the sender sends those in order), and
    whether the engine's work succeeded."""

    replies: list[Claimed]
    ok: bool


class _AlreadyHandled(Exception):
    """The inbox row was no longer pending: another worker handled it."""


class Engine:
    """Handles incoming messages. Thread-safe: every call uses its own session.

    Args:
        session_factory: sessionmaker bound to the database.
        clock: the settable clock.
        settings: duban's settings.
        services: shared objects handlers may use (e.g. "nlu": the understanding layer).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        services: dict[str, Any] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.clock = clock
        self.settings = settings
        self.services = services if services is not None else {}  # the same dict: what start-up warms is used
        self.cache = QueryCache()  # the plan's and the people's tables, as of the revision read with each message
        # (channel, user id) → bound to an active person, as last seen: which messages may be handled at once
        # (a stale answer only picks the slower path; the handling itself reads the person afresh)
        self.known_users: dict[tuple[str, str], bool] = {}
        self._chats: dict[tuple[str, str], tuple[tuple[int, int] | None, str]] = {}  # account → (revision, chat)

    def warm(self) -> None:
        """At start-up: who is bound (so their first message is handled as it arrives), under the revision read
        in the same transaction."""
        with self.session_factory() as session:
            revision = session.execute(select(Revision.plan, Revision.people).where(Revision.id == 1)).first()
            if revision is None:
                return
            self.cache.sync(int(revision[0]), int(revision[1]))
            self.known_users = {key: True for key in people.bound_accounts(session)}

    def handle(self, msg: IncomingMessage) -> list[Reply]:
        """Handle one message and return the replies to send (empty for a duplicate)."""
        try:
            replies = self._attempt(lambda: self._handle_once(msg), msg.key, passthrough=(IntegrityError,))
        except IntegrityError:
            # Another process handled the same platform message at the same moment.
            log.info("duplicate message %s/%s ignored", msg.channel, msg.message_id)
            return []
        return [Reply(texts.INTERNAL_ERROR)] if replies is None else replies

    def _attempt(self, work: Callable[[], T], what: object, passthrough: tuple[type[Exception], ...]) -> T | None:
        """Run `work` (one transaction), again after a database error, three times at most. None when it failed
        for good (logged); the `passthrough` exceptions are the caller's."""
        for attempt in range(3):
            try:
                return work()
            except passthrough:
                raise
            except OperationalError as exc:
                if attempt == 2:
                    log.exception("database error handling %s", what)
                    return None
                log.warning("retrying after database error: %s", exc)
            except Exception:
                log.exception("error handling %s", what)
                return None
        return None

    def handle_stored(self, row: Row, msg: IncomingMessage | None, replies: list[Reply], worker_id: str) -> Handled:
        """Handle one inbox row in one transaction: the engine's work, the row marked handled, and every reply
        queued in the outbox, claimed by `worker_id` so that it can be sent at once.

        Args:
            row: the pending inbox row.
            msg: the row as a message for the engine; None when the channel could not make one (e.g. a file too
                large) and `replies` already says so.
            replies: replies to send before the engine's (the channel's own answers).

        Returns:
            The outbox rows to send now, in order (none when the row was handled elsewhere meanwhile, or when they
            queue behind earlier replies), and False when the engine failed and the user got an apology instead.
        """
        what = f"inbox row {row.id} ({msg.key if msg else row.message_id})"
        try:
            queued = self._attempt(
                lambda: self._handle_stored_once(row, msg, replies, worker_id), what, passthrough=(_AlreadyHandled,)
            )
        except _AlreadyHandled:
            log.info("inbox row %s was handled elsewhere", row.id)
            return Handled([], True)
        if queued is not None:
            return Handled(queued, True)
        # The handling fails every time: the user is told, and the row is not tried again.
        try:
            ids = self._handle_stored_once(row, None, [Reply(texts.INTERNAL_ERROR)], worker_id, status=IN_FAILED)
        except _AlreadyHandled:
            ids = []
        return Handled(ids, False)

    def _handle_stored_once(
        self,
        row: Row,
        msg: IncomingMessage | None,
        replies: list[Reply],
        worker_id: str,
        status: str = IN_DONE,
    ) -> list[Claimed]:
        wall = wall_utcnow()
        now = self.clock.utcnow()
        with self.session_factory() as session, session.begin():
            if not inbox.finish(session, row.id, wall, status):
                raise _AlreadyHandled()
            # Behind an earlier reply still waiting (an outage), these wait too: the sender keeps the order.
            claimer = None if outbox.replies_waiting_in_chat(session, row.channel, row.chat_id) else worker_id
            return self.answer_stored(session, row, msg, replies, claimer, now)

    def answer_stored(
        self,
        session: Session,
        row: Row,
        msg: IncomingMessage | None,
        replies: list[Reply],
        claimer: str | None,
        now: dt.datetime,
    ) -> list[Claimed]:
        """The engine's work on a stored row inside the caller's transaction (which marks the row handled), its
        replies queued in the outbox: claimed by `claimer` to be sent at once (returned in order), or unclaimed
        behind the chat's earlier replies (None)."""
        answer = list(replies)
        if msg is not None:
            # The inbox row is unique by the message's own id (a channel keys its updates so: a redelivery, or two
            # presses of one keyboard, is one row): the message needs no record of its own.
            answer += self._dispatch(session, msg, now, dedupe=False)
        queued: list[Claimed] = []
        # The arrival time makes the key unique even if a platform reuses an id once the old row is pruned
        # (Telegram picks update ids at random after a week without updates).
        arrival = f"{row.message_id}@{row.received_at:%Y%m%d%H%M%S%f}"
        ids = outbox.enqueue_replies(session, row.channel, arrival, row.chat_id, answer, claimer, now=now)
        for row_id, reply in zip(ids, answer, strict=True):
            if row_id is not None and claimer is not None:
                payload = {"reply": reply.to_json()}
                queued.append(Claimed(row_id, REPLY, row.channel, row.chat_id, reply.text, payload, 0, now))
        return queued

    def _handle_once(self, msg: IncomingMessage) -> list[Reply]:
        now = self.clock.utcnow()
        with self.session_factory() as session, session.begin():
            return self._dispatch(session, msg, now, resend=True)

    def _dispatch(
        self, session: Session, msg: IncomingMessage, now: dt.datetime, resend: bool = False, dedupe: bool = True
    ) -> list[Reply]:
        """The engine's work on one message inside the caller's transaction.

        Args:
            resend: a message seen before whose replies were never confirmed sent gets them again (the direct
                path, without the inbox; inbox replies live in the outbox instead).
            dedupe: record the message id and ignore a message seen before (the direct path; an inbox row is
                unique by the platform's id already).
        """
        if len(msg.text) > MAX_TEXT or "\x00" in msg.text:
            # NUL never comes from a keyboard, and PostgreSQL text columns refuse it: drop it here, at the edge.
            msg = IncomingMessage(**{**msg.__dict__, "text": msg.text[:MAX_TEXT].replace("\x00", "")})
        processed: ProcessedMessage | None = None
        if msg.message_id and dedupe:
            seen = session.get(ProcessedMessage, (msg.channel, msg.message_id))
            if seen is not None:
                if resend and seen.replied_at is None and seen.replies and now - seen.created_at >= REDELIVER_AFTER:
                    # Handled and committed, but the process died before its answer went out.
                    log.info("resending the replies of %s/%s", msg.channel, msg.message_id)
                    return [Reply.from_json(r) for r in seen.replies]
                return []
            processed = ProcessedMessage(channel=msg.channel, message_id=msg.message_id, created_at=now)
            session.add(processed)
            session.flush()
        replies = self.respond(session, msg, now)
        if processed is not None and resend:
            processed.replies = [r.to_json() for r in replies]
        return replies

    def respond(self, session: Session, msg: IncomingMessage, now: dt.datetime) -> list[Reply]:
        """What duban answers to a new message: the conversation loaded, the handlers run, the state saved."""
        conv, revision = conversations.open_with_revision(session, msg.channel, msg.chat_id, msg.user_id, IDLE, now)
        if revision is not None:
            self.cache.sync(*revision)
            self.cache.attach(session)
        person = people.find_by_identity(session, msg.channel, msg.user_id)
        self.known_users[(msg.channel, msg.user_id)] = person is not None
        if person is not None and not msg.is_group:
            # Where proactive messages reach this person: written when it changes; the check itself loads the
            # person's accounts, so it is skipped while the database held that chat under this revision when it
            # was last made here (a change is remembered only once committed: it bumps the revision).
            seen = (revision, msg.chat_id)
            key = (msg.channel, msg.user_id)
            if revision is None or self._chats.get(key) != seen:
                if not people.remember_chat(session, person, msg.channel, msg.user_id, msg.chat_id):
                    self._chats[key] = seen
        ctx = Context(
            session=session,
            clock=self.clock,
            settings=self.settings,
            msg=msg,
            conversation=conv,
            person=person,
            services=self.services,
        )
        replies = kernel.record_question(ctx, router.dispatch(ctx))
        conv.updated_at = now
        return replies

    def mark_replied(self, msg: IncomingMessage) -> None:
        """The channel delivered every reply to `msg`: a later redelivery of it gets no answer again."""
        if not msg.message_id:
            return
        with self.session_factory() as session, session.begin():
            session.execute(
                update(ProcessedMessage)
                .where(ProcessedMessage.channel == msg.channel, ProcessedMessage.message_id == msg.message_id)
                .values(replied_at=self.clock.utcnow())
            )

    def conversation_state(self, channel: str, chat_id: str, user_id: str) -> tuple[str, dict[str, Any]]:
        """The stored state of one dialogue (for tests and the console)."""
        with self.session_factory() as session:
            conv = session.execute(
                select(Conversation).where(
                    Conversation.channel == channel, Conversation.chat_id == chat_id, Conversation.user_id == user_id
                )
            ).scalar_one_or_none()
            return (conv.state, dict(conv.data)) if conv else (IDLE, {})
