"""Who is on leave: "谁请假了", "请假人员", "谁在休假", "请假名单" (and "墨脱县有人请假吗").

The people whose reminders are paused today or later (`Person.paused_until`, set by "请假到 6月5日"), with their
organisation, the last day of the leave, and whether their organisation has another person of the same role who
is not on leave. Coordinators and leaders see everyone (or the organisations they name); officials their own
organisation (`access.scope`).
"""

from __future__ import annotations

from core.messages import Reply
from db.models import Person
from db.repositories import people
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context
from handlers.queries import access
from handlers.queries.paging import Answer, Page
from handlers.understanding.nlu import Lexicon, Understanding


def on_leave(ctx: Context, lex: Lexicon, u: Understanding) -> Answer:
    """The people on leave in the organisations the question covers."""
    org_ids, refusal = access.scope(ctx, lex, u)
    if refusal is not None:
        return [refusal]
    today = ctx.clock.today()
    away = people.on_leave(ctx.session, today, org_ids)
    if not away:
        if org_ids is None:
            return [Reply(texts.ABSENCE_NONE)]
        return [Reply(texts.ABSENCE_NONE_OWN.format(org="、".join(lex.org_name(o) for o in org_ids)))]
    rows = [_line(ctx, i, p) for i, p in enumerate(away, 1)]
    scope = access.scope_title(lex, u, org_ids)
    return Page(texts.Q_TITLE.format(name=scope), texts.ABSENCE_HEADER.format(n=len(away)), rows)


def _line(ctx: Context, i: int, p: Person) -> str:
    role = texts.ROLE_NAMES.get(p.role, p.role)
    covered = p.organisation_id is not None and bool(
        people.present(ctx.session, p.organisation_id, p.role, ctx.clock.today(), besides=p)
    )
    cover = (texts.ABSENCE_COVERED if covered else texts.ABSENCE_UNCOVERED).format(role=role)
    org = p.organisation.name if p.organisation is not None else texts.ABSENCE_NO_ORG
    assert p.paused_until is not None
    return texts.ABSENCE_LINE.format(i=i, name=p.name, org=org, role=role, until=fmt.day(p.paused_until), cover=cover)
