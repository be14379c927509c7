"""The reply to a message that is not understood: what it was, a guess at the organisation meant (for those who
may ask about every organisation), and examples of what can be asked.
"""

from __future__ import annotations

import difflib

from core.messages import Reply
from handlers import texts
from handlers.context import Context
from handlers.queries import access
from handlers.understanding.nlu import NLU, Understanding


def unknown_reply(ctx: Context, nlu: NLU, u: Understanding) -> Reply:
    """ "没太明白…", with close organisation names and example questions."""
    examples = texts.Q_EXAMPLES_COORDINATOR[:3] if access.sees_all(ctx) else texts.Q_EXAMPLES_OFFICIAL
    hint = ""
    words = [w for w in u.unknown_words if len(w) >= 2]
    if words and access.sees_all(ctx):
        close = _close_org_names(nlu, words)
        if close:
            hint = texts.Q_UNKNOWN_HINT.format(names="、".join(close[:3]))
    text = u.text.strip()
    if len(text) > 20:
        text = text[:20] + "…"
    return Reply(
        texts.Q_UNKNOWN.format(
            text=text, hint=hint, examples="\n".join(texts.Q_EXAMPLE_LINE.format(text=e) for e in examples)
        )
    )


def _close_org_names(nlu: NLU, words: list[str]) -> list[str]:
    """Organisations whose name or label looks like one of `words` (only here, on the slow path, loosely)."""
    names = {n: o.id for o in nlu.lexicon.orgs.values() for n in (o.name, o.label)}
    close: list[str] = []
    for w in words:
        for m in difflib.get_close_matches(w, list(names), n=3, cutoff=0.5):
            full = nlu.lexicon.org_name(names[m])
            if full not in close:
                close.append(full)
    return close
