"""Waiting in tests: for a condition, never for a length of time.

A test that needs something to have happened awaits `wait_for(predicate)`, which re-checks the predicate every few
milliseconds and returns as soon as it holds. The timeout only bounds a failure: a slow machine makes a passing
test a little slower, never a failing one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

T = TypeVar("T")

POLL_SECONDS = 0.01


async def wait_for(
    predicate: Callable[[], T | Awaitable[T]], timeout: float | None = 15.0, what: str | Callable[[], str] = ""
) -> T:
    """Wait until `predicate()` is truthy and return its value.

    Args:
        predicate: checked at once, then every POLL_SECONDS; it may be a coroutine function (a request to a server
            under test).
        timeout: seconds before giving up with an AssertionError; None waits as long as it takes (for a fake that
            holds a connection until its client gives up; the test's own time limit still applies).
        what: what was awaited, for the failure message (or a function giving it, called only on failure).

    Returns:
        The predicate's first truthy value.
    """
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        result = predicate()
        value = cast(T, await result if inspect.isawaitable(result) else result)
        if value:
            return value
        if deadline is not None and loop.time() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"condition not met within {timeout}s" + (f": {detail}" if detail else ""))
        await asyncio.sleep(POLL_SECONDS)
