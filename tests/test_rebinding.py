"""Rebinding: someone already bound who redeems a code for another organisation or role is asked first; the code
is used only on 确认更换 (and only while it is still good), and the coordinators are told who moved where."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.app import App
from db.models import COORDINATOR, InviteCode, Outbox, Person
from db.repositories import orgs, people
from handlers import texts
from tests.conftest import Chat


def _invite(app: App, org_name: str, role: str = "official", ttl: dt.timedelta = dt.timedelta(days=7)) -> str:
    with app.session_factory() as s, s.begin():
        return people.new_invite(s, orgs.require_org(s, org_name), role, app.clock.utcnow(), ttl).code


def _person(app: App, name: str) -> tuple[str, str]:
    """(organisation name, role) of the demo person `name`."""
    with app.session_factory() as s:
        p = s.execute(select(Person).where(Person.name == name)).scalar_one()
        return p.organisation.name, p.role


def _used(app: App, code: str) -> bool:
    with app.session_factory() as s:
        invite = s.get(InviteCode, code)
        assert invite is not None
        return invite.used_at is not None


def _binding_notes(app: App) -> list[Outbox]:
    with app.session_factory() as s:
        return list(s.execute(select(Outbox).where(Outbox.kind == "binding").order_by(Outbox.id)).scalars())


def test_a_code_for_another_organisation_asks_first_and_uses_nothing(app: App) -> None:
    code = _invite(app, "墨脱县")
    c = Chat(app, "巴宜填报人")
    out = c.send(f"绑定 {code}")
    assert "您目前是巴宜区的填报人" in out and "改为墨脱县的填报人" in out and "确认更换吗" in out
    # 巴宜区 has no other official: the question says it will be left without one
    assert "巴宜区将没有填报人" in out
    assert c.choices == [texts.REBIND_CHOICE_CONFIRM, texts.REBIND_CHOICE_CANCEL]
    assert not _used(app, code)
    assert _person(app, "巴宜填报人") == ("巴宜区", "official")
    assert _binding_notes(app) == []


def test_cancel_changes_nothing_and_the_code_stays_good(app: App) -> None:
    code = _invite(app, "墨脱县")
    c = Chat(app, "巴宜填报人")
    c.send(f"绑定 {code}")
    assert "已取消" in c.pick(texts.REBIND_CHOICE_CANCEL)
    assert _person(app, "巴宜填报人") == ("巴宜区", "official")
    assert not _used(app, code)
    assert _binding_notes(app) == []
    # typed 取消 works the same
    c.send(f"绑定 {code}")
    assert "已取消" in c.send("取消")
    assert _person(app, "巴宜填报人") == ("巴宜区", "official")
    # the code, still unused, binds someone else
    assert "绑定成功" in Chat(app, "tg-77", channel="telegram").send(f"绑定 {code}")
    assert _used(app, code)


def test_confirm_moves_uses_the_code_and_tells_the_coordinators(app: App) -> None:
    code = _invite(app, "墨脱县")
    c = Chat(app, "巴宜填报人")
    c.send(f"绑定 {code}")
    out = c.pick(texts.REBIND_CHOICE_CONFIRM)
    assert "墨脱县的填报人" in out
    assert _person(app, "巴宜填报人") == ("墨脱县", "official")
    assert _used(app, code)
    notes = _binding_notes(app)
    with app.session_factory() as s:
        coordinators = {p.id for p in people.people_with_roles(s, (COORDINATOR,))}
    assert coordinators and {n.person_id for n in notes} == coordinators
    for n in notes:
        assert "巴宜填报人已从巴宜区的填报人改为墨脱县的填报人" in n.text
        assert "巴宜区目前没有填报人" in n.text
        assert n.dedupe_key.startswith(f"binding:{code}:")
    # the person now reports for 墨脱县
    assert "墨脱县" in c.send("我的任务")


def test_confirm_typed_and_no_left_without_when_another_official_stays(app: App) -> None:
    first = _invite(app, "巴宜区")
    assert "绑定成功" in Chat(app, "tg-88", channel="telegram").send(f"绑定 {first}")  # a second 巴宜区 official
    code = _invite(app, "墨脱县")
    c = Chat(app, "巴宜填报人")
    out = c.send(f"绑定 {code}")
    assert "将没有" not in out
    assert "墨脱县的填报人" in c.send(texts.REBIND_CHOICE_CONFIRM)
    [note] = _binding_notes(app)
    assert "改为墨脱县的填报人" in note.text and "目前没有" not in note.text


def test_a_code_used_meanwhile_is_refused_at_confirmation(app: App) -> None:
    code = _invite(app, "墨脱县")
    c = Chat(app, "巴宜填报人")
    c.send(f"绑定 {code}")
    assert "绑定成功" in Chat(app, "tg-99", channel="telegram").send(f"绑定 {code}")
    out = c.pick(texts.REBIND_CHOICE_CONFIRM)
    assert "已被使用" in out
    assert _person(app, "巴宜填报人") == ("巴宜区", "official")
    assert _binding_notes(app) == []


def test_a_code_expired_meanwhile_is_refused_at_confirmation(app: App) -> None:
    code = _invite(app, "墨脱县", ttl=dt.timedelta(minutes=10))
    c = Chat(app, "巴宜填报人")
    c.send(f"绑定 {code}")
    app.clock.set(app.clock.now() + dt.timedelta(minutes=15), frozen=True)
    out = c.send(texts.REBIND_CHOICE_CONFIRM)
    assert "已过期" in out
    assert _person(app, "巴宜填报人") == ("巴宜区", "official")
    assert not _used(app, code)
    assert _binding_notes(app) == []


def test_another_role_in_the_same_organisation_asks_too(app: App) -> None:
    code = _invite(app, "巴宜区", role="leader")
    c = Chat(app, "巴宜填报人")
    out = c.send(f"绑定 {code}")
    assert "改为巴宜区的分管领导" in out and "巴宜区将没有填报人" in out
    c.pick(texts.REBIND_CHOICE_CONFIRM)
    assert _person(app, "巴宜填报人") == ("巴宜区", "leader")


def test_the_same_organisation_and_role_is_already_bound(app: App) -> None:
    code = _invite(app, "巴宜区")
    c = Chat(app, "巴宜填报人")
    assert "无需重复绑定" in c.send(f"绑定 {code}")
    assert c.choices == []
    assert not _used(app, code)


def test_other_text_while_asked_repeats_the_question(app: App) -> None:
    code = _invite(app, "墨脱县")
    c = Chat(app, "巴宜填报人")
    c.send(f"绑定 {code}")
    out = c.send("嗯")
    assert "确认更换吗" in out
    assert _person(app, "巴宜填报人") == ("巴宜区", "official")
    assert not _used(app, code)


def test_wrong_codes_from_a_bound_person_are_still_throttled(app: App) -> None:
    c = Chat(app, "巴宜填报人")
    for _ in range(app.settings.invite_max_failures):
        c.send("绑定 ZZZZZZZZ")
    code = _invite(app, "墨脱县")
    out = c.send(f"绑定 {code}")
    assert "分钟后再试" in out and "确认更换" not in out
    assert not _used(app, code)
    assert _person(app, "巴宜填报人") == ("巴宜区", "official")
