"""What the outbox holds for one console chat: `duban serve` has no console channel, so the console delivers its
person's messages itself (nudges, review notices: every row queued for their console identity).

It is a sender for one chat, with the outbox's own steps: `outbox.claim` hands it the chat's due rows (claimed
atomically, so two consoles of the same person never both show a row; what was queued to go at once counts as
due even when the console's `--now` clock lies behind the run that queued it), the console prints them, and
`outbox.mark_sent` records each as delivered, as the background sender does after a platform accepted a message.
A console that dies between claiming and marking leaves its rows claimed; like any sender's, the claim is a lease
and they are handed out again once it runs out.

The console's own replies are not outbox rows (it converses directly, see `bot.channels.edge`), so what it shows
here never repeats an answer it already printed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

from core import ids
from core.channel import Runtime
from core.messages import Reply
from scheduler import outbox
from scheduler.sender import Claimed, new_worker_id, reply_of

BATCH = 100


class ConsoleOutbox:
    """Delivers the due outbox rows of one console chat.

    Args:
        app: the running application (session factory, clock).
        chat_id: the console chat (the person's console identity).
        lease: how long a claim holds before the rows are handed out again (the sender's lease).
    """

    def __init__(self, app: Runtime, chat_id: str, lease: dt.timedelta = outbox.DEFAULT_LEASE) -> None:
        self.app = app
        self.chat_id = chat_id
        self.lease = lease
        self.worker_id = f"console-{new_worker_id()}"

    def claim(self) -> list[Claimed]:
        """Claim every due row of the chat, oldest first (each batch committed at once, as the sender does)."""
        claimed: list[Claimed] = []
        while True:
            with self.app.session_factory() as s, s.begin():
                rows = outbox.claim(
                    s,
                    self.worker_id,
                    self.app.clock.utcnow(),
                    BATCH,
                    channels=[ids.CONSOLE],
                    lease=self.lease,
                    chat_id=self.chat_id,
                    undeferred_due=True,
                )
                claimed += [Claimed.of(r) for r in rows]
            if len(rows) < BATCH:
                return sorted(claimed, key=lambda c: c.id)

    def mark_sent(self, row: Claimed) -> bool:
        """Record that `row` was shown. False when its claim had been taken over meanwhile."""
        with self.app.session_factory() as s, s.begin():
            return outbox.mark_sent(s, row.id, self.worker_id, self.app.clock.utcnow())

    async def deliver(self, show: Callable[[list[Claimed]], Awaitable[None]]) -> int:
        """Claim the chat's due rows, hand them to `show` (which prints them, oldest first), then mark them sent.

        Returns:
            How many rows were shown.
        """
        rows = await asyncio.to_thread(self.claim)
        if rows:
            await show(rows)
            for row in rows:
                await asyncio.to_thread(self.mark_sent, row)
        return len(rows)

    @staticmethod
    def reply(row: Claimed) -> Reply:
        """The message a row stands for, as the sender would deliver it."""
        return reply_of(row)
