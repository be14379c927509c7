"""The storage contract: the repositories and the engine factory behave the same on every backend.

One suite, run against SQLite and PostgreSQL (as aiogram runs one storage suite against every storage): values
come back as they went in (decimals, dates, naive UTC times, JSON, long Chinese text), a transaction is all or
nothing, unique keys hold under concurrent writers, a row locked for an invite is redeemed once, and the
repositories' queries (people, organisations, reports and review, progress, reporting activity, conversations)
give the same answers.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.engine import is_postgres, make_engine, make_session_factory, transaction
from db.models import (
    COORDINATOR,
    DONE,
    IN_PROGRESS,
    OFFICIAL,
    PENDING,
    TASK,
    Assignment,
    Conversation,
    Item,
    Organisation,
    Person,
    Report,
)
from db.repositories import conversations, orgs, people, plans, progress, queries, reports
from tests.plan_facts import FACTS

pytestmark = pytest.mark.both_backends

NOW = dt.datetime(2023, 5, 24, 1, 0)  # naive UTC
TODAY = dt.date(2023, 5, 24)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    e = make_engine(db_url)
    yield e
    e.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def assignment_of(s: Session, org_name: str, code: str) -> Assignment:
    return s.execute(
        select(Assignment).join(Item).join(Organisation).where(Item.code == code, Organisation.name == org_name)
    ).scalar_one()


def person(s: Session, name: str) -> Person:
    return s.execute(select(Person).where(Person.name == name)).scalar_one()


# ---- engine and types ---------------------------------------------------------------------------------------


def test_values_come_back_as_they_went_in(factory: sessionmaker[Session]) -> None:
    long_text = "墨脱县城生活污水处理厂已完成主体工程，" * 500
    data = {"step": "percent", "draft": {"percent": 62.5, "note": "资金已到位"}, "choices": [["1", "推进中"]]}
    at = dt.datetime(2023, 12, 31, 23, 59, 59)
    with transaction(factory) as s:
        a = assignment_of(s, "墨脱县", "C3-2-03")
        r = reports.add_report(
            s,
            a,
            person(s, "墨脱填报人"),
            "console",
            at,
            {
                "status": IN_PROGRESS,
                "percent": "62.5",
                "investment_done": Decimal("1234567.89"),
                "indicator_number": 0.0001,
                "description": long_text,
                "expected_date": "2023-06-30",
            },
        )
        report_id = r.id
        s.add(
            Conversation(channel="wecom", chat_id="zhangsan", user_id="zhangsan", state="x", data=data, updated_at=at)
        )
    with factory() as s:
        r = s.get(Report, report_id)
        assert r is not None
        assert (r.percent, r.investment_done, r.indicator_number) == (
            Decimal("62.5"),
            Decimal("1234567.89"),
            Decimal("0.0001"),
        )
        assert r.expected_date == dt.date(2023, 6, 30) and r.created_at == at and r.created_at.tzinfo is None
        assert r.description == long_text
        conv = s.get(Conversation, ("wecom", "zhangsan", "zhangsan"))
        assert conv is not None and conv.data == data


def test_a_transaction_is_all_or_nothing(factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), transaction(factory) as s:
        people.add_person(s, "临时人员", orgs.find_org(s, "朗县"), OFFICIAL, NOW, {"telegram": "555"})
        raise RuntimeError("the message could not be handled")
    with factory() as s:
        assert people.find_by_identity(s, "telegram", "555") is None
        assert s.scalar(select(func.count()).select_from(Person).where(Person.name == "临时人员")) == 0


def test_engine_factory_names_the_backend(engine: Engine, backend: str) -> None:
    assert is_postgres(engine) is (backend == "postgresql")
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(Item).where(Item.kind == TASK)) > 100


# ---- concurrency --------------------------------------------------------------------------------------------


def run_together(n: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run work(i) in n threads released at the same moment; returns the exceptions raised."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def test_one_chat_account_is_bound_once_under_concurrent_writers(db_url: str) -> None:
    engines = [make_engine(db_url) for _ in range(4)]
    try:

        def bind(i: int) -> None:
            with transaction(make_session_factory(engines[i])) as s:
                people.add_person(s, f"并发{i}", orgs.find_org(s, "察隅县"), OFFICIAL, NOW, {"wecom": "same-account"})

        errors = run_together(4, bind)
        with make_session_factory(engines[0])() as s:
            owner = people.find_by_identity(s, "wecom", "same-account")
        assert owner is not None and owner.name.startswith("并发")
        # Everyone else was refused: by the repository's check or by the unique key, never silently.
        assert len(errors) == 3 and all(isinstance(e, IntegrityError | ValueError) for e in errors), errors
    finally:
        for e in engines:
            e.dispose()


def test_an_invite_locked_for_redeeming_is_redeemed_once(db_url: str, factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        code = people.new_invite(s, orgs.require_org(s, "波密县"), OFFICIAL, NOW, dt.timedelta(days=7)).code
    engines = [make_engine(db_url) for _ in range(4)]
    winners: list[int] = []
    try:

        def redeem(i: int) -> None:
            with transaction(make_session_factory(engines[i])) as s:
                invite = people.get_invite(s, code, lock=True)
                assert invite is not None
                if invite.used_at is None:
                    invite.used_at = NOW
                    winners.append(i)

        assert run_together(4, redeem) == []
    finally:
        for e in engines:
            e.dispose()
    assert len(winners) == 1


# ---- people and organisations -------------------------------------------------------------------------------


def test_people_identities_and_roles(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        milin = orgs.require_org(s, "米林市")  # the county's later name finds it
        p = people.add_person(s, "张三", milin, OFFICIAL, NOW, {"telegram": "9001", "wecom": "zhangsan"})
        with pytest.raises(ValueError):
            people.bind_identity(s, person(s, "协调员"), "telegram", "9001", NOW)
        assert people.bind_identity(s, p, "telegram", "9001", NOW).person_id == p.id  # binding again is a no-op
        people.remember_chat(s, p, "telegram", "9001", "-100777")
    with transaction(factory) as s:
        found = people.find_by_identity(s, "telegram", "9001")
        assert found is not None and found.name == "张三" and found.organisation.name == "米林县"
        assert {i.chat_id for i in found.identities if i.channel == "telegram"} == {"-100777"}
        assert [x.name for x in people.people_of_org(s, found.organisation_id, (OFFICIAL,))] == ["米林填报人", "张三"]
        assert "协调员" in [x.name for x in people.people_with_roles(s, (COORDINATOR,))]
        found.active = False
    with factory() as s:
        assert people.find_by_identity(s, "telegram", "9001") is None  # deactivated: a stranger again
        assert people.get_invite(s, "nonexistent") is None


def test_organisations_by_any_name(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        for spelling, name in FACTS["spellings"].items():
            org = orgs.find_org(s, spelling)
            assert org is not None and org.name == name, spelling
        assert orgs.find_org(s, "墨脱").name == "墨脱县"
        with pytest.raises(orgs.UnknownOrganisation) as err:
            orgs.require_org(s, "墨托县")
        assert "墨脱县" in err.value.suggestions
        index = orgs.name_index(s)
        assert set(index.groups["边境县"]) == {index.orgs[n] for n in FACTS["border_counties"]}


# ---- reports, review, progress ------------------------------------------------------------------------------


def test_report_versions_review_and_progress(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        a = assignment_of(s, "墨脱县", "C3-4-04")
        official = person(s, "墨脱填报人")
        first = reports.add_report(s, a, official, "console", NOW, {"status": IN_PROGRESS, "percent": 40})
        second = reports.add_report(
            s, a, official, "console", NOW + dt.timedelta(hours=1), {"status": DONE, "percent": 100}, supersedes=first
        )
        assignment_id, first_id, second_id = a.id, first.id, second.id
    with transaction(factory) as s:
        assert [r.id for r in reports.history(s, assignment_id)] == [first_id, second_id]
        assert reports.last_report_by(s, person(s, "墨脱填报人")).id == second_id
        assert [r.id for r in reports.pending_reviews(s)] == [second_id]  # only the newest version waits
        assert reports.item_of(s, s.get(Report, second_id)).code == "C3-4-04"
        # An older version cannot be decided (nothing changes); approving the newest 已完成 closes the task.
        older = reports.review(s, s.get(Report, first_id), person(s, "协调员"), False, NOW, "补充材料")
        assert older.refused == reports.SUPERSEDED and not older.closed
        assert reports.review(s, s.get(Report, second_id), person(s, "协调员"), True, NOW).closed
    with factory() as s:
        assert s.get(Report, first_id).review_state == PENDING
        assert s.get(Assignment, assignment_id).closed
        plan = plans.active_plan(s)
        assert plan is not None
        views = progress.assignment_views(s, plan, TODAY, org_ids=[s.get(Assignment, assignment_id).organisation_id])
        view = next(v for v in views if v.assignment_id == assignment_id)
        assert (view.status, view.percent, view.last_report_id, view.closed) == (DONE, Decimal(100), second_id, True)
        counts = progress.count(views)
        assert counts.total == len(views) and counts.done == 1 and counts.unreported == len(views) - 1
        activity = {a.org_name: a for a in queries.reporting_activity(s, plan)}
        assert activity["墨脱县"].last_report_at == NOW + dt.timedelta(hours=1)
        assert activity["巴宜区"].last_report_at is None
    with transaction(factory) as s:
        a = s.get(Assignment, assignment_id)
        assert a is not None
        reports.add_report(s, a, None, "console", NOW + dt.timedelta(days=1), {"status": IN_PROGRESS, "percent": 90})
    with factory() as s:
        assert not s.get(Assignment, assignment_id).closed  # a new version reopens the task
        assert [r.review_state for r in reports.history(s, assignment_id)][-1] == PENDING


def test_progress_figures_over_the_whole_plan(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        views = progress.assignment_views(s, plan, TODAY)
        projects = progress.assignment_views(s, plan, TODAY, kinds=("project",))
        ov = plans.overview(s, plan)
    assert len({v.item_id for v in projects}) == len(FACTS["projects"]["items"])
    assert sum({v.item_id: v.investment_total or 0 for v in projects}.values()) == FACTS["projects"]["total_investment"]
    assert progress.count(views).unreported == len(views) and ov.indicators == len(FACTS["indicators"])
    due_may = {v.item_code for v in views if v.due == dt.date(2023, 5, 31)}
    assert due_may == {"C3-4-04"}
    assert views == sorted(views, key=progress.urgency_key)  # most urgent first, on every backend


# ---- conversations ------------------------------------------------------------------------------------------


def test_a_conversation_moves_only_from_the_states_allowed(factory: sessionmaker[Session]) -> None:
    """What the weekly prompt does (arm a one-tap check-in) without disturbing a dialogue in progress: the
    repository stores state names it is given and knows none of its own."""
    with transaction(factory) as s:
        assert conversations.move_if_in(s, "telegram", "1", "1", {"idle"}, "armed", NOW)  # new: created armed
        conversations.get_or_create(s, "telegram", "2", "2", "busy", NOW)
        conversations.get_or_create(s, "telegram", "3", "3", "idle", NOW)
    with transaction(factory) as s:
        assert not conversations.move_if_in(s, "telegram", "2", "2", {"idle"}, "armed", NOW)
        assert conversations.move_if_in(s, "telegram", "3", "3", {"idle"}, "armed", NOW)
        assert conversations.get_or_create(s, "telegram", "2", "2", "idle", NOW).state == "busy"  # found, kept
    with factory() as s:
        states = dict(s.execute(select(Conversation.chat_id, Conversation.state)).tuples().all())
    assert states == {"1": "armed", "2": "busy", "3": "armed"}
