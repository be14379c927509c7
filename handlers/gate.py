"""A pattern searched only when the message holds a character that every match of it needs.

Python's `re` scans fast for a pattern whose alternatives all start with a plain character; a pattern whose
alternatives start with a group, an optional part or a look-behind is tried at every position of the message, and
costs a few microseconds even when nothing matches. `Gated` puts a one-class search in front ("[报交收填汇提…]"),
built from the pattern itself (`required_chars`): when the message has none of those characters, no match is
possible and the pattern is not searched. The set is derived soundly from the pattern's parse: a part that may be
empty, or that matches too many characters, gives no set, and then the pattern is always searched.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

_parser: Any = importlib.import_module("re._parser")  # how `re` parses a pattern (re._parser in 3.11+)
_c: Any = importlib.import_module("re._constants")

MAX_CLASS = 64  # a character class larger than this gives no set
# Characters in most questions: a set with them filters nothing, so a part that needs rarer ones is preferred.
COMMON = frozenset("的了有是不没未我们在一这那个么吗呢什哪啥怎多几吧啊请问还都和要")


class Gated:
    """A compiled pattern with the character class one of which every match contains (`search` as re's)."""

    __slots__ = ("hint", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        required = required_chars(pattern)
        self.hint = re.compile("[" + "".join(re.escape(c) for c in sorted(required)) + "]") if required else None

    def may_match(self, text: str) -> bool:
        """Whether `text` holds a character every match needs (False: the pattern cannot match it)."""
        return self.hint is None or self.hint.search(text) is not None

    def search(self, text: str) -> re.Match[str] | None:
        hint = self.hint  # inline, not `may_match`: this runs dozens of times per message
        if hint is not None and hint.search(text) is None:
            return None
        return self.pattern.search(text)

    def match(self, text: str) -> re.Match[str] | None:
        hint = self.hint  # inline, as in `search`: the understanding layer calls it for every message
        if hint is not None and hint.search(text) is None:
            return None
        return self.pattern.match(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text) if self.may_match(text) else iter(())

    def sub(self, repl: str, text: str) -> str:
        return self.pattern.sub(repl, text) if self.may_match(text) else text


def required_chars(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """A set of characters one of which every match of `pattern` contains; None when there is no such set."""
    if pattern.flags & re.IGNORECASE:
        return None
    return _sequence(_parser.parse(pattern.pattern, pattern.flags))


def _sequence(items: Iterable[tuple[Any, Any]]) -> frozenset[str] | None:
    """A sequence needs each of its parts: any one part's set will do; the one with the fewest common
    characters, then the smallest, filters best."""
    best: frozenset[str] | None = None
    for op, av in items:
        found = _element(op, av)
        if found is not None and (best is None or _cost(found) < _cost(best)):
            best = found
    return best


def _cost(chars: frozenset[str]) -> tuple[int, int]:
    return len(chars & COMMON), len(chars)


def _element(op: Any, av: Any) -> frozenset[str] | None:
    if op is _c.LITERAL:
        return frozenset({chr(av)})
    if op is _c.IN:
        return _class(av)
    if op is _c.BRANCH:
        union: set[str] = set()
        for alternative in av[1]:
            found = _sequence(alternative)
            if found is None:
                return None  # an alternative that needs nothing we can name: the branch needs nothing
            union |= found
        return frozenset(union)
    if op is _c.SUBPATTERN:
        return _sequence(av[3])
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        low, _high, sub = av
        return _sequence(sub) if low >= 1 else None
    return None  # anchors, look-arounds, any character, categories, back-references: nothing required


def _class(items: list[tuple[Any, Any]]) -> frozenset[str] | None:
    out: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            out.add(chr(av))
        elif op is _c.RANGE and av[1] - av[0] < MAX_CLASS:
            out.update(chr(c) for c in range(av[0], av[1] + 1))
        else:
            return None  # a negated class or a category (\d, \s): too many characters
        if len(out) > MAX_CLASS:
            return None
    return frozenset(out)
