"""Who may ask about what: coordinators and leaders about every organisation, officials about their own.

`scope` turns the organisations a question names into the ones it covers, or into the refusal an official
gets when asking about others.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.settings import Settings
from core.messages import Reply
from db.models import LEADER, Person
from db.repositories import orgs
from handlers import formatting as fmt
from handlers import texts
from handlers.context import Context, coordinates
from handlers.understanding.nlu import Lexicon, Understanding


def sees_everyone(person: Person | None, settings: Settings) -> bool:
    """Coordinators (and leaders) may see every organisation; officials their own (unless `open_queries`). The
    chat's rule and the board's."""
    if settings.open_queries or coordinates(person):
        return True
    return person is not None and person.role == LEADER


def sees_all(ctx: Context) -> bool:
    return sees_everyone(ctx.person, ctx.settings)


def own_org(ctx: Context) -> int | None:
    """The organisation of the person asking, if any."""
    return ctx.person.organisation_id if ctx.person is not None else None


def own_name(ctx: Context, lex: Lexicon) -> str:
    """The name of the asker's organisation ("—" without one)."""
    own = own_org(ctx)
    return lex.org_name(own) if own is not None else fmt.DASH


def scope(ctx: Context, lex: Lexicon, u: Understanding) -> tuple[list[int] | None, Reply | None]:
    """Which organisations a question covers (None: all), or the refusal an official gets."""
    wanted: list[int] | None = list(u.org_ids) if u.org_ids else None
    if u.own:
        own = own_org(ctx)
        wanted = [own] if own is not None else wanted
    if sees_all(ctx):
        return wanted, None
    own = own_org(ctx)
    if own is None:
        return None, Reply(texts.Q_NO_ORG)
    if wanted is None:
        if u.scope_all or u.group:
            return None, Reply(texts.Q_NOT_ALLOWED_ALL.format(own=lex.org_name(own)))
        return [own], None  # an official's "进度" is about their own organisation
    # An official of a parent unit may ask about the units below it (工布江达县 about 工布江达县人民政府).
    if wanted != [own] and not set(wanted) <= set(orgs.descendants(ctx.session, [own])):
        return None, Reply(texts.Q_NOT_ALLOWED_ORG.format(own=lex.org_name(own)))
    return wanted, None


def scope_title(lex: Lexicon, u: Understanding, org_ids: list[int] | None) -> str:
    """How an answer names the organisations it covers: 全市, a group's name, or the organisations'."""
    if org_ids is None:
        return texts.Q_WHOLE_CITY
    if u.group and not u.own:
        return u.group
    return "、".join(lex.org_name(o) for o in org_ids)


@dataclass(frozen=True)
class Units:
    """The units a question covers, for a builder that takes units with those below them (the workbook, the
    digest): None throughout means the whole plan."""

    with_below: list[int] | None  # the units asked about and those below them (工布江达县人民政府 under 工布江达县)
    label: str | None  # how a title names them (a group's name, or the units')


def units(ctx: Context, lex: Lexicon, u: Understanding) -> Units | Reply:
    """`scope`'s units with those below them and their title; or the refusal an official gets."""
    org_ids, refusal = scope(ctx, lex, u)
    if refusal is not None:
        return refusal
    if org_ids is None:
        return Units(None, None)
    return Units(orgs.descendants(ctx.session, org_ids), scope_title(lex, u, org_ids))
