"""One truth for a unit's figures: random check-ins on 墨脱县's 35 items give the same counts, completion, 逾期 and
滞后 in the chat ("墨脱县进度"), the weekly digest and the 11月20日 workbook, and those equal what the reports
say, computed here independently of the code under test (statuses counted, 序时进度 from each item's start to its
deadline, 滞后 more than 10 points below it, 逾期 past the deadline and not done)."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import delete, select, update

from bot.app import App
from db.engine import transaction
from db.models import BLOCKED, DONE, IN_PROGRESS, NOT_STARTED, Assignment, Item, Organisation, Plan, Report
from db.repositories import plans, reports
from handlers import formatting as fmt
from handlers import texts
from scheduler import digest as digest_mod
from scheduler.commands import export as export_cmd
from tests.conftest import Chat

pytestmark = pytest.mark.both_backends

ORG = "墨脱县"
TODAY = dt.date(2023, 7, 10)
LAG_POINTS = Decimal(10)

# One item's report: none, or (status, percent).
REPORT = st.one_of(
    st.none(),
    st.just((NOT_STARTED, None)),
    st.just((DONE, None)),
    st.tuples(st.just(IN_PROGRESS), st.integers(min_value=0, max_value=99)),
    st.tuples(st.just(BLOCKED), st.integers(min_value=0, max_value=99)),
)


def _items(app: App) -> list[dict[str, Any]]:
    """墨脱县's active assignments of reportable items, with what the figures depend on."""
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        rows = s.execute(
            select(Assignment, Item)
            .join(Item, Assignment.item_id == Item.id)
            .join(Organisation, Assignment.organisation_id == Organisation.id)
            .where(
                Organisation.name == ORG,
                Assignment.active.is_(True),
                Item.active.is_(True),
                Item.kind.in_(("task", "project", "indicator")),
            )
            .order_by(Assignment.id)
        ).all()
        p = s.get(Plan, plan.id)
        assert p is not None
        out = []
        for a, item in rows:
            out.append(
                {
                    "id": a.id,
                    "code": item.code,
                    "kind": item.kind,
                    "start": item.start_date or p.start_date,
                    "due": a.due_date or item.due_date or p.end_date,
                }
            )
    return out


def _expected_percent(start: dt.date, due: dt.date) -> Decimal:
    if TODAY <= start:
        return Decimal(0)
    if TODAY >= due or due <= start:
        return Decimal(100)
    return (Decimal((TODAY - start).days) * 100 / Decimal((due - start).days)).quantize(Decimal("0.1"))


def _reset(app: App, ids: list[int]) -> None:
    with transaction(app.session_factory) as s:
        s.execute(update(Assignment).where(Assignment.id.in_(ids)).values(last_report_id=None, closed=False))
        s.execute(delete(Report).where(Report.assignment_id.in_(ids)))


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(data=st.data())
def test_random_check_ins_give_one_set_of_figures_everywhere(app: App, tmp_path: Path, data: st.DataObject) -> None:
    app.clock.set(dt.datetime.combine(TODAY, dt.time(10, 0)), frozen=True)
    items = _items(app)
    assert len(items) == 35
    said = data.draw(st.lists(REPORT, min_size=len(items), max_size=len(items)))
    when = app.clock.utcnow() - dt.timedelta(days=1)
    try:
        with transaction(app.session_factory) as s:
            for it, report in zip(items, said, strict=True):
                if report is None:
                    continue
                status, pct = report
                a = s.get(Assignment, it["id"])
                assert a is not None
                fields = {"status": status, "percent": pct if pct is not None else None}
                reports.add_report(s, a, None, "console", when, fields)

        # What the reports say, computed here.
        status_of = [r[0] if r else None for r in said]
        pct_of = [
            Decimal(100) if s == DONE else Decimal(r[1]) if r and r[1] is not None else Decimal(0)
            for s, r in zip(status_of, said, strict=True)
        ]
        done = status_of.count(DONE)
        in_progress = status_of.count(IN_PROGRESS)
        blocked = status_of.count(BLOCKED)
        not_started = status_of.count(NOT_STARTED) + status_of.count(None)
        overdue = sum(1 for it, s in zip(items, status_of, strict=True) if it["due"] < TODAY and s != DONE)
        lagging = sum(
            1
            for it, s, p in zip(items, status_of, pct_of, strict=True)
            if s is not None and s != DONE and p + LAG_POINTS < _expected_percent(it["start"], it["due"])
        )
        completion = (sum(pct_of, Decimal(0)) / len(items)).quantize(Decimal("0.1"))

        # The chat.
        head = Chat(app, "协调员").send(f"{ORG}进度").splitlines()[0]
        assert head == texts.Q_ORG_HEADER.format(
            name=ORG,
            total=len(items),
            done=done,
            in_progress=in_progress,
            not_started=not_started,
            blocked=blocked,
            overdue=overdue,
        )
        # The digest.
        with app.session_factory() as s:
            plan = plans.active_plan(s)
            assert plan is not None
            text = digest_mod.build_digest(s, plan, app.clock.now()).text()
        m = re.search(rf"{ORG} ([0-9.]+)%（[^）]*）完成(\d+)/(\d+) 逾期(\d+) 滞后(\d+)", text)
        assert m is not None, text
        assert m.groups() == (fmt.number(completion), str(done), str(len(items)), str(overdue), str(lagging))
        # The workbook: every sheet's rows of 墨脱县.
        path = tmp_path / "wb.xlsx"
        export_cmd(app, path, out=io.StringIO())
        wb = load_workbook(path)
        by_code = {it["code"]: (it, s) for it, s in zip(items, status_of, strict=True)}
        ws = wb[texts.EXPORT_SHEET_TASKS]
        seen = 0
        for row in ws.iter_rows(min_row=3, values_only=True):
            if row[4] != ORG or row[1] not in by_code:
                continue
            it, s = by_code[row[1]]
            seen += 1
            assert row[6] == (texts.STATUS_LABELS[s] if s else texts.SCHED_NEVER_REPORTED)
            assert bool(row[-1]) == (it["due"] < TODAY and s != DONE)
        assert seen == sum(1 for it in items if it["kind"] == "task")
    finally:
        _reset(app, [it["id"] for it in items])
