"""Binding a chat account to an organisation and role with a one-time invite code.

Guessing codes is throttled: after `invite_max_failures` wrong codes within `invite_lock_minutes` from one user
or in one chat, code attempts there are refused without looking the code up (`db.repositories.throttle`). A
stranger is told how to bind once, then hears nothing for `stranger_quiet_minutes` except answers to codes.

Someone already bound who redeems a code for another organisation or role is asked first (`RebindState.CONFIRM`, a
firm state of the dialogue kernel holding the code): the code is used only on 确认更换, after checking it is still
good, and then every coordinator is told who moved from where to where (and that the old organisation has no
official left, when so).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from enum import StrEnum

from core.messages import Choice, Reply
from db.models import COORDINATOR, OFFICIAL, InviteCode, Person
from db.repositories import outbox, people, throttle
from handlers import formatting as fmt
from handlers import kernel, texts, vocabulary
from handlers.context import Context, Replies
from handlers.understanding.text import normalize

log = logging.getLogger(__name__)

INVITE_RE = re.compile(
    r"^(?:邀请|生成绑定码|/invite)\s*(\S+)?\s*(填报人|协调员|分管领导|official|coordinator|leader)?\s*$"
)
ROLE_BY_WORD = {"填报人": "official", "协调员": "coordinator", "分管领导": "leader"}
BIND_RE = re.compile(r"^(?:/start|绑定|綁定|bind)\s*[:：]?\s*([A-Za-z0-9]{4,40})?\s*$", re.IGNORECASE)


def match(text: str) -> re.Match[str] | None:
    return BIND_RE.match(text.strip())


def bind(ctx: Context, code: str | None) -> Replies:
    """Redeem `code` for the sender. A wrong, used or expired code binds nothing and counts as a failure; while
    the sender or the chat has too many failures, the code is not even looked up."""
    if not code:
        if ctx.person is not None:
            return [Reply(texts.WELCOME_BOUND.format(name=ctx.person.name))]
        return [Reply(texts.UNBOUND if ctx.msg.text.strip().startswith("/start") else texts.BIND_USAGE)]
    lock = _lock(ctx)
    if lock is not None:
        log.warning(
            "invite code attempt refused: too many wrong codes (channel=%s user=%s locked key=%s)",
            ctx.msg.channel,
            ctx.msg.user_id,
            lock[0],
        )
        return [Reply(_wait_text(lock[1]))]
    code = code.upper()
    now = ctx.clock.utcnow()
    invite = _usable(people.get_invite(ctx.session, code, lock=True), code, now)
    if isinstance(invite, str):
        throttle.record_failure(ctx.session, _throttle_keys(ctx), now)
        lock = _lock(ctx)  # this failure may have been the last one allowed: say so at once
        return [Reply(invite if lock is None else f"{invite}\n{_wait_text(lock[1])}")]
    return _redeem(ctx, invite)


def _usable(invite: InviteCode | None, code: str, now: dt.datetime) -> InviteCode | str:
    """The invite when it can be redeemed now, else why not (the text to answer)."""
    if invite is None:
        return texts.BIND_UNKNOWN.format(code=code)
    if invite.used_at is not None:
        return texts.BIND_USED.format(code=code)
    if invite.expires_at <= now:
        return texts.BIND_EXPIRED.format(code=code)
    return invite


def _redeem(ctx: Context, invite: InviteCode) -> Replies:
    now = ctx.clock.utcnow()
    org = invite.organisation
    role_name = texts.ROLE_NAMES.get(invite.role, invite.role)
    if ctx.person is not None:
        if ctx.person.organisation_id == org.id and ctx.person.role == invite.role:
            return [Reply(texts.BIND_ALREADY.format(org=org.name, role=role_name))]
        return _ask_rebind(ctx, ctx.person, invite)
    name = invite.person_name or ctx.msg.user_name or f"{org.name}{role_name}"
    person = people.add_person(ctx.session, name, org, invite.role, now)
    people.bind_identity(ctx.session, person, ctx.msg.channel, ctx.msg.user_id, now, chat_id=ctx.msg.chat_id)
    invite.used_at = now
    invite.used_by_id = person.id
    ctx.session.flush()
    ctx.person = person
    return [Reply(texts.BIND_OK.format(org=org.name, role=role_name))]


# ---- rebinding: asked first, coordinators told ---------------------------------------------------------------


class RebindState(StrEnum):
    CONFIRM = "binding.confirm"  # 确认更换 / 取消; data["code"] is the code, not used yet


def _org_name(person: Person) -> str:
    return person.organisation.name if person.organisation is not None else fmt.DASH


def _role_name(role: str) -> str:
    return texts.ROLE_NAMES.get(role, role)


def _officials_left(ctx: Context, person: Person) -> bool:
    """Whether `person`'s organisation keeps an official when `person` leaves it (True when that does not apply:
    `person` is no official, or has no organisation)."""
    if person.role != OFFICIAL or person.organisation_id is None:
        return True
    return any(p.id != person.id for p in people.people_of_org(ctx.session, person.organisation_id, (OFFICIAL,)))


def _ask_rebind(ctx: Context, person: Person, invite: InviteCode) -> Replies:
    """Someone bound elsewhere (or in another role) redeems `invite`: ask before anything changes."""
    ctx.go(RebindState.CONFIRM, code=invite.code)
    return [_question(ctx, person, invite)]


def _leaves_no_official(ctx: Context, person: Person, invite: InviteCode) -> bool:
    """Whether moving `person` as `invite` says leaves their organisation without any official."""
    moves_away = person.organisation_id != invite.organisation_id or invite.role != OFFICIAL
    return moves_away and not _officials_left(ctx, person)


def _question(ctx: Context, person: Person, invite: InviteCode) -> Reply:
    left_without = ""
    if _leaves_no_official(ctx, person, invite):
        left_without = texts.REBIND_LEFT_WITHOUT.format(org=_org_name(person), role=_role_name(OFFICIAL))
    text = texts.REBIND_ASK.format(
        old_org=_org_name(person),
        old_role=_role_name(person.role),
        new_org=invite.organisation.name,
        new_role=_role_name(invite.role),
        left_without=left_without,
    )
    choices = [
        Choice(texts.REBIND_CHOICE_CONFIRM, texts.REBIND_CHOICE_CONFIRM),
        Choice(texts.REBIND_CHOICE_CANCEL, texts.REBIND_CHOICE_CANCEL),
    ]
    return Reply(text, choices=choices)


def _pending_invite(ctx: Context) -> InviteCode | None:
    code = (ctx.data or {}).get("code")
    return people.get_invite(ctx.session, code) if isinstance(code, str) else None


def _on_confirm(ctx: Context, text: str) -> Replies:
    t = normalize(text)
    if t == texts.REBIND_CHOICE_CANCEL or vocabulary.CANCEL_RE.match(t):
        return kernel.end(ctx)
    if t != texts.REBIND_CHOICE_CONFIRM:
        return [Reply(texts.REBIND_PENDING), *_prompt(ctx)]
    code = str((ctx.data or {}).get("code", ""))
    person = ctx.person
    ctx.reset()
    if person is None or not code:
        return [Reply(texts.BIND_USAGE)]
    # The code may have been used or have expired since the question was asked: look again, under a lock.
    invite = _usable(people.get_invite(ctx.session, code, lock=True), code, ctx.clock.utcnow())
    if isinstance(invite, str):
        return [Reply(invite)]
    org = invite.organisation
    if person.organisation_id == org.id and person.role == invite.role:
        return [Reply(texts.BIND_ALREADY.format(org=org.name, role=_role_name(invite.role)))]
    return _rebind(ctx, person, invite)


def _rebind(ctx: Context, person: Person, invite: InviteCode) -> Replies:
    """Move `person` to the organisation and role of `invite`, use the code, and tell every coordinator."""
    now = ctx.clock.utcnow()
    old_org, old_role, old_org_id = _org_name(person), person.role, person.organisation_id
    leaves_none = _leaves_no_official(ctx, person, invite)
    org = invite.organisation
    person.organisation = org
    person.role = invite.role
    invite.used_at = now
    invite.used_by_id = person.id
    ctx.session.flush()
    note = texts.REBIND_NOTIFY.format(
        name=person.name,
        old_org=old_org,
        old_role=_role_name(old_role),
        new_org=org.name,
        new_role=_role_name(invite.role),
    )
    if leaves_none:
        note += "\n" + texts.REBIND_NOTIFY_LEFT_WITHOUT.format(org=old_org, role=_role_name(OFFICIAL))
    for coordinator in people.people_with_roles(ctx.session, (COORDINATOR,)):
        if coordinator.id != person.id:
            outbox.notify_person(ctx.session, coordinator, f"binding:{invite.code}", "binding", note, now)
    log.info("person %s rebound from org %s (%s) to org %s (%s)", person.id, old_org_id, old_role, org.id, invite.role)
    return [Reply(texts.REBIND_DONE.format(org=org.name, role=_role_name(invite.role)))]


def _prompt(ctx: Context) -> Replies:
    invite = _pending_invite(ctx)
    if invite is None or ctx.person is None:
        ctx.reset()
        return []
    return [_question(ctx, ctx.person, invite)]


def _accepts(ctx: Context, text: str) -> kernel.Fit:
    t = normalize(text)
    return kernel.Fit.YES if t in (texts.REBIND_CHOICE_CONFIRM, texts.REBIND_CHOICE_CANCEL) else kernel.Fit.NO


DIALOGUE = kernel.register(
    kernel.Dialogue(
        name="binding",
        states=RebindState,
        handlers={RebindState.CONFIRM: _on_confirm},
        prompt=_prompt,
        accepts=_accepts,
        cancel=kernel.end,
    )
)


def _throttle_keys(ctx: Context) -> list[str]:
    """The sender and the chat (in a private chat both name the same person)."""
    msg = ctx.msg
    return [throttle.user_key(msg.channel, msg.user_id), throttle.chat_key(msg.channel, msg.chat_id)]


def _lock(ctx: Context) -> tuple[str, dt.timedelta] | None:
    """The locked key of the sender or the chat with the longest wait left, and that wait; None when neither is."""
    window = dt.timedelta(minutes=ctx.settings.invite_lock_minutes)
    locks = throttle.locks(
        ctx.session, _throttle_keys(ctx), ctx.clock.utcnow(), ctx.settings.invite_max_failures, window
    )
    return max(locks.items(), key=lambda item: item[1], default=None)


def _wait_text(left: dt.timedelta) -> str:
    return texts.BIND_LOCKED.format(minutes=max(1, math.ceil(left.total_seconds() / 60)))


# Conversation data of a stranger: when the binding explanation was last given (naive UTC, ISO format).
EXPLAINED_AT = "stranger_explained_at"


def may_explain(ctx: Context) -> bool:
    """Whether a stranger may be told how to bind now. If so, the time is recorded: for the next
    `stranger_quiet_minutes` the stranger's messages get no answer (except answers to invite codes)."""
    now = ctx.clock.utcnow()
    told = _explained_at(ctx)
    if told is not None and dt.timedelta(0) <= now - told < dt.timedelta(minutes=ctx.settings.stranger_quiet_minutes):
        return False
    ctx.update(**{EXPLAINED_AT: now.isoformat()})
    return True


def _explained_at(ctx: Context) -> dt.datetime | None:
    value = (ctx.data or {}).get(EXPLAINED_AT)
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def invite(ctx: Context, text: str) -> Replies | None:
    """`邀请 单位 [填报人|协调员]` (admins): a one-time binding code, valid for 7 days."""
    m = INVITE_RE.match(text)
    if not m:
        return None
    if not ctx.is_admin:
        return [Reply(texts.NOT_ALLOWED)]
    if not m.group(1):
        return [Reply(texts.INVITE_USAGE)]
    from db.repositories import orgs

    org = orgs.find_org(ctx.session, m.group(1))
    if org is None:
        hint = orgs.name_index(ctx.session).closest(m.group(1))
        return [
            Reply(texts.INVITE_UNKNOWN_ORG.format(name=m.group(1), hint=("是否指：" + "、".join(hint)) if hint else ""))
        ]
    role = ROLE_BY_WORD.get(m.group(2) or "填报人", m.group(2) or "official")
    inv = people.new_invite(ctx.session, org, role, ctx.clock.utcnow(), dt.timedelta(days=7))
    expires = ctx.clock.to_local(inv.expires_at).strftime("%Y-%m-%d %H:%M")
    return [
        Reply(texts.INVITE_CREATED.format(org=org.name, role=texts.ROLE_NAMES[role], code=inv.code, expires=expires))
    ]
