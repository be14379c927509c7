"""The one clock of duban: real time in the configured zone, or a pretended time (`--now` / `DUBAN_NOW`).

Code never calls `datetime.now()` directly; it asks a `Clock`. A pretended clock starts at the given moment
and then runs forward with real time, so a rehearsal of a past plan year behaves like a live day.
"""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo


def wall_utcnow() -> dt.datetime:
    """Real time as naive UTC, whatever time a `Clock` pretends: what the inbox, worker heartbeats and other
    process-level stamps use (liveness and latency are about real seconds, not about the plan's calendar)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Clock:
    """Aware datetimes in one timezone.

    Args:
        tz: IANA zone name, e.g. "Asia/Shanghai".
        start: pretend the current time is this (naive values are taken in `tz`); None for real time.
        frozen: with `start`, stay at that instant instead of running forward (tests).
    """

    def __init__(self, tz: str = "Asia/Shanghai", start: dt.datetime | None = None, frozen: bool = False) -> None:
        self.tz = ZoneInfo(tz)
        self._offset: dt.timedelta | None = None
        self._frozen: dt.datetime | None = None
        if start is not None:
            self.set(start, frozen=frozen)

    def set(self, when: dt.datetime, frozen: bool = False) -> None:
        """Move the clock to `when` (keeps running unless `frozen`)."""
        when = self.localize(when)
        if frozen:
            self._frozen, self._offset = when, None
        else:
            self._frozen = None
            self._offset = when - dt.datetime.fromtimestamp(time.time(), self.tz)

    def localize(self, when: dt.datetime) -> dt.datetime:
        return when.replace(tzinfo=self.tz) if when.tzinfo is None else when.astimezone(self.tz)

    def now(self) -> dt.datetime:
        if self._frozen is not None:
            return self._frozen
        real = dt.datetime.fromtimestamp(time.time(), self.tz)
        return real + self._offset if self._offset is not None else real

    def today(self) -> dt.date:
        return self.now().date()

    def utcnow(self) -> dt.datetime:
        """Naive UTC, the form stored in the database."""
        return self.now().astimezone(dt.UTC).replace(tzinfo=None)

    def to_local(self, stored: dt.datetime) -> dt.datetime:
        """A naive-UTC datetime read from the database, in the clock's zone."""
        return stored.replace(tzinfo=dt.UTC).astimezone(self.tz)
