"""The shortcuts the national-scale digest and nudge scan take give the same views as the plain paths.

- `progress.assignment_views(open_only=True)` (closed and done assignments left out in SQL) equals the open views
  of the whole listing, including an assignment whose newest version, 已完成, was returned (the counted version
  decides) and one whose counted version is 已完成 under a returned newer one;
- `history.views_at(current=...)` (starting from views already built for another day) equals `views_at` reading
  them again;
- `PlanningRun.open_views` is the same whether or not the whole listing was loaded first;
- the view copy of `as_counted` / `judged_at` is `dataclasses.replace`; `gc_paused` restores the collector.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from db.engine import transaction
from db.models import BLOCKED, DONE, IN_PROGRESS, Assignment, Item, Person, Report
from db.repositories import plans, progress, reports
from scheduler.history import views_at
from scheduler.planning import PlanningRun

pytestmark = pytest.mark.both_backends


def _file(app: App, a_id: int, when: dt.datetime, **fields: Any) -> Report:
    with transaction(app.session_factory) as s:
        a = s.get(Assignment, a_id)
        assert a is not None
        r = reports.add_report(s, a, None, "console", when, fields)
        s.expunge(r)
        return r


def _review(app: App, report_id: int, approve: bool, when: dt.datetime) -> None:
    with transaction(app.session_factory) as s:
        coordinator = s.execute(select(Person).where(Person.role == "coordinator")).scalars().first()
        assert coordinator is not None
        r = s.get(Report, report_id)
        assert r is not None
        outcome = reports.review(s, r, coordinator, approve, when, None if approve else "请补充材料")
        assert outcome.refused is None


def _histories(app: App) -> dict[str, int]:
    """Report histories covering every way an assignment is open or not; {what: assignment id}."""
    now = app.clock.utcnow()
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        ids = list(
            s.execute(
                select(Assignment.id)
                .join(Item, Assignment.item_id == Item.id)
                .where(Item.plan_id == plan.id, Assignment.active.is_(True), Item.active.is_(True))
                .order_by(Assignment.id)
                .limit(7)
            ).scalars()
        )
    assert len(ids) == 7
    which = dict(
        zip(
            ("closed", "done", "returned_done", "done_under_returned", "blocked", "late_report", "progress"),
            ids,
            strict=True,
        )
    )
    ago = [now - dt.timedelta(days=d) for d in range(20)]
    # approved 已完成: closed
    _review(app, _file(app, which["closed"], ago[12], status=DONE).id, True, ago[11])
    # 已完成, not reviewed: done, not closed
    _file(app, which["done"], ago[12], status=DONE)
    # 推进中 60%, then 已完成 returned: the counted version is the 60% one (open)
    _file(app, which["returned_done"], ago[15], status=IN_PROGRESS, percent=60)
    _review(app, _file(app, which["returned_done"], ago[5], status=DONE).id, False, ago[4])
    # 已完成, then a 推进中 version returned: the counted version is 已完成 (not open, though its newest is not done)
    _file(app, which["done_under_returned"], ago[15], status=DONE)
    _review(app, _file(app, which["done_under_returned"], ago[5], status=IN_PROGRESS, percent=90).id, False, ago[4])
    _file(app, which["blocked"], ago[9], status=BLOCKED, problems="资金不足")
    # 推进中 before last week, 已完成 since: last week's view differs from today's
    _file(app, which["late_report"], ago[14], status=IN_PROGRESS, percent=40)
    _file(app, which["late_report"], ago[2], status=DONE)
    _file(app, which["progress"], ago[3], status=IN_PROGRESS, percent=20)
    return which


def test_open_only_listing_is_the_open_views_of_the_whole_listing(app: App) -> None:
    which = _histories(app)
    today = app.clock.now().date()
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        every = progress.assignment_views(s, plan, today)
        expected = [v for v in every if not v.done and not v.closed]
        got = progress.assignment_views(s, plan, today, open_only=True)
        # the same views, in the same urgency order (ties between equal keys may come in another row order)
        assert {v.assignment_id: v for v in got} == {v.assignment_id: v for v in expected}
        assert [progress.urgency_key(v) for v in got] == [progress.urgency_key(v) for v in expected]
        assert len(got) < len(every)
        by_id = {v.assignment_id: v for v in every}
        open_ids = {v.assignment_id for v in got}
        assert which["closed"] not in open_ids and by_id[which["closed"]].closed
        assert which["done"] not in open_ids and by_id[which["done"]].done
        # the returned 已完成 counts its 60% version: open, with the 60% figure
        assert which["returned_done"] in open_ids and by_id[which["returned_done"]].percent == 60
        assert by_id[which["returned_done"]].returned
        # the returned 推进中 version leaves the 已完成 one counted: not open
        assert which["done_under_returned"] not in open_ids and by_id[which["done_under_returned"]].done
        assert {which["blocked"], which["progress"]} <= open_ids
        # restricted to some units: the same rule
        org_ids = sorted({by_id[a].org_id for a in which.values()})
        some = progress.assignment_views(s, plan, today, org_ids=org_ids, open_only=True)
        some_expected = [
            v for v in progress.assignment_views(s, plan, today, org_ids=org_ids) if not v.done and not v.closed
        ]
        assert {v.assignment_id: v for v in some} == {v.assignment_id: v for v in some_expected}


def test_views_at_from_views_already_built_equals_views_at(app: App) -> None:
    which = _histories(app)
    now = app.clock.now()
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        today_views = progress.assignment_views(s, plan, now.date())
        for days in (1, 3, 7, 13, 30):
            at = now - dt.timedelta(days=days)
            plain = views_at(s, plan, at)
            reused = views_at(s, plan, at, current=today_views)
            assert {v.assignment_id: v for v in reused} == {v.assignment_id: v for v in plain}
            assert [progress.urgency_key(v) for v in reused] == [progress.urgency_key(v) for v in plain]
        # last week the late report's assignment was 40% done, judged as of that day
        week_ago = {v.assignment_id: v for v in views_at(s, plan, now - dt.timedelta(days=7), current=today_views)}
        late = week_ago[which["late_report"]]
        assert late.percent == 40 and late.status == IN_PROGRESS
        assert late.days_left == (late.due - (now - dt.timedelta(days=7)).date()).days


def test_open_views_are_the_same_with_or_without_the_whole_listing(app: App) -> None:
    _histories(app)
    now = app.clock.now().replace(hour=9, minute=30)
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        alone = PlanningRun(s, plan, now, app.settings).open_views
        run = PlanningRun(s, plan, now, app.settings)
        from_all = [v for v in run.views if run.is_open(v)]
        assert {v.assignment_id: v for v in alone} == {v.assignment_id: v for v in run.open_views}
        assert {v.assignment_id for v in alone} == {v.assignment_id for v in from_all}
        assert alone and all(PlanningRun.is_open(v) for v in alone)


def test_a_view_copy_is_dataclasses_replace(app: App) -> None:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        v = progress.assignment_views(s, plan, app.clock.now().date())[0]
    later = v.due + dt.timedelta(days=3)
    judged = progress.judged_at(v, later)
    expected, overdue, lagging, light = progress.classify(v.status, v.percent, v.start, v.due, later)
    assert judged == dataclasses.replace(
        v, expected=expected, overdue=overdue, lagging=lagging, light=light, days_left=-3
    )
    assert judged.overdue and judged.light == progress.RED
    assert v.days_left != -3  # the original is untouched
    with pytest.raises(TypeError):
        progress._replaced(v, no_such_field=1)


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with progress.gc_paused():
        assert not gc.isenabled()
        with progress.gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # nested: the outer one resumes it
    assert gc.isenabled()
    with pytest.raises(RuntimeError), progress.gc_paused():
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with progress.gc_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
