"""Binding a chat account to an organisation and role with a one-time invite code."""

from __future__ import annotations

import re

from bot.messages import Reply
from db.models import Person
from db.repositories import people
from handlers import texts
from handlers.context import Context, Replies

BIND_RE = re.compile(r"^(?:/start|绑定|綁定|bind)\s*[:：]?\s*([A-Za-z0-9]{4,40})?\s*$", re.IGNORECASE)


def match(text: str) -> re.Match[str] | None:
    return BIND_RE.match(text.strip())


def bind(ctx: Context, code: str | None) -> Replies:
    """Redeem `code` for the sender. A wrong, used or expired code binds nothing."""
    if not code:
        if ctx.person is not None:
            return [Reply(texts.WELCOME_BOUND.format(name=ctx.person.name))]
        return [Reply(texts.UNBOUND if ctx.msg.text.strip().startswith("/start") else texts.BIND_USAGE)]
    code = code.upper()
    invite = people.get_invite(ctx.session, code, lock=True)
    if invite is None:
        return [Reply(texts.BIND_UNKNOWN.format(code=code))]
    if invite.used_at is not None:
        return [Reply(texts.BIND_USED.format(code=code))]
    now = ctx.clock.utcnow()
    if invite.expires_at <= now:
        return [Reply(texts.BIND_EXPIRED.format(code=code))]
    org = invite.organisation
    role_name = texts.ROLE_NAMES.get(invite.role, invite.role)
    if ctx.person is not None:
        if ctx.person.organisation_id == org.id and ctx.person.role == invite.role:
            return [Reply(texts.BIND_ALREADY.format(org=org.name, role=role_name))]
        person: Person = ctx.person
        person.organisation = org
        person.role = invite.role
    else:
        name = invite.person_name or ctx.msg.user_name or f"{org.name}{role_name}"
        person = people.add_person(ctx.session, name, org, invite.role, now)
        people.bind_identity(ctx.session, person, ctx.msg.channel, ctx.msg.user_id, now, chat_id=ctx.msg.chat_id)
    invite.used_at = now
    invite.used_by_id = person.id
    ctx.session.flush()
    ctx.person = person
    return [Reply(texts.BIND_OK.format(org=org.name, role=role_name))]
