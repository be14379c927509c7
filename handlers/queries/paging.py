"""Answers cut into pages that fit a phone screen and WeCom (2048 bytes a message): the first page starts with
the answer's header line, the others with its title and the page number; the tail ends the last page.

Building an answer gives a `Page` (what to show); `dialogue` shows it, keeping the pages not yet shown in the
conversation state until "更多".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.messages import Reply
from handlers import texts

PAGE_LINES = 14
PAGE_BYTES = 1800  # WeCom rejects text messages over 2048 bytes; leave room for the page footer


@dataclass(frozen=True)
class Page:
    """A long answer: a header line, one line per entry, a tail; `title` heads the pages after the first."""

    title: str
    head: str
    lines: Sequence[str]
    tail: str = ""


# An answer: the replies as they are, or a long one to be shown page by page.
Answer = list[Reply] | Page


SECTION_MARK = "【"  # a line that heads a section of a long answer


def split(title: str, head: str, lines: Sequence[str], tail: str = "") -> list[str]:
    """The text of each page: at most PAGE_LINES lines and about PAGE_BYTES bytes."""
    pages: list[list[str]] = []
    current: list[str] = []
    size = len(head.encode())
    for line in lines:
        n = len(line.encode()) + 1
        if current and (len(current) >= PAGE_LINES or size + n > PAGE_BYTES):
            # a section's heading ("【逾期任务（14项）】") goes with its lines, not alone at a page's end
            carry = [current.pop()] if len(current) > 1 and current[-1].startswith(SECTION_MARK) else []
            pages.append(current)
            current, size = carry, len(title.encode()) + 40 + sum(len(c.encode()) + 1 for c in carry)
        current.append(line)
        size += n
    pages.append(current)
    rendered: list[str] = []
    total = len(pages)
    for i, page in enumerate(pages, 1):
        top = head if i == 1 else texts.Q_CONTINUED.format(title=title, page=i, pages=total)
        body = "\n".join([top, *page]) if page else top
        if i == total and tail:
            body += "\n" + tail
        rendered.append(body)
    return rendered
