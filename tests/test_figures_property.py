"""One figure for a shared project everywhere: chat, digest, the 11月20日 workbook and `plan show`.

Project 8 (农村污水处理, 2350 万元) is carried out by seven units (市生态环境局 leads; six counties). Each unit
reports its own completed investment; the project's figure is the sum over units of each unit's own newest
counted figure (a returned version is not counted), never double counted; the city's is the sum of the projects'.
The scenario of issue 14 (1500 + 350 = 1850, once everywhere), then a property test generating random report
histories on the shipped plan, on every configured backend.
"""

from __future__ import annotations

import dataclasses
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
from db.models import APPROVED, IN_PROGRESS, PENDING, RETURNED, Assignment, Item, Organisation, Person, Report
from db.repositories import plans, reports
from handlers import formatting as fmt
from handlers import texts
from handlers.plan_text import describe
from scheduler import digest as digest_mod
from scheduler.commands import export as export_cmd
from tests.conftest import Chat

pytestmark = pytest.mark.both_backends

CODE = "P8"
PLAN_TOTAL = Decimal(2350)
CITY_PLAN_TOTAL = Decimal(15376)


def _units(app: App) -> dict[str, int]:
    """{unit name: assignment id} of project 8."""
    with app.session_factory() as s:
        rows = s.execute(
            select(Organisation.name, Assignment.id)
            .join(Item, Assignment.item_id == Item.id)
            .join(Organisation, Assignment.organisation_id == Organisation.id)
            .where(Item.code == CODE, Assignment.active.is_(True))
        ).all()
    return {name: a_id for name, a_id in rows}


def _file(app: App, a_id: int, when: dt.datetime, investment: Decimal | None) -> int:
    with transaction(app.session_factory) as s:
        a = s.get(Assignment, a_id)
        assert a is not None
        fields: dict[str, Any] = {"status": IN_PROGRESS, "percent": 30}
        if investment is not None:
            fields["investment_done"] = investment
        return reports.add_report(s, a, None, "console", when, fields).id


def _decide(app: App, report_id: int, state: str, when: dt.datetime) -> None:
    """Set a version's review state as a coordinator's decision at `when` (any version: older versions were
    decided before newer ones were filed)."""
    with transaction(app.session_factory) as s:
        coordinator = s.execute(select(Person.id).where(Person.role == "coordinator")).scalars().first()
        s.execute(
            update(Report)
            .where(Report.id == report_id)
            .values(review_state=state, reviewed_at=when, reviewed_by_id=coordinator)
        )


def _reset(app: App, ids: list[int]) -> None:
    """Remove every report of project 8: the next example starts from the shipped plan again."""
    with transaction(app.session_factory) as s:
        s.execute(update(Assignment).where(Assignment.id.in_(ids)).values(last_report_id=None, closed=False))
        s.execute(delete(Report).where(Report.assignment_id.in_(ids)))


@dataclasses.dataclass
class Figures:
    """What each place says project 8's completed investment is."""

    chat_project: str
    chat_list: str
    digest: str
    export_cell: float | None
    export_units: float
    export_total_planned: float
    export_total_done: float
    plan_show: str


def _figures(app: App, tmp_path: Path, name: str = "wb.xlsx", approved_only: bool = False) -> tuple[Any, ...]:
    """The project sheet's row of project 8, its per-unit rows and the 合计 row."""
    path = tmp_path / name
    export_cmd(app, path, out=io.StringIO(), approved_only=approved_only)
    rows = list(load_workbook(path)[texts.EXPORT_SHEET_PROJECTS].iter_rows(min_row=3, values_only=True))
    i = next(n for n, r in enumerate(rows) if r[0] == 8)
    units = []
    for r in rows[i + 1 :]:
        if r[0] is not None:
            break
        units.append(r)
    return rows[i], units, rows[-1]


def _everywhere(app: App, tmp_path: Path) -> Figures:
    coordinator = Chat(app, "协调员")
    project = coordinator.send("项目8")
    listing = coordinator.send("项目投资完成情况")
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        digest = digest_mod.build_digest(s, plan, app.clock.now()).text()
        shown = describe(s, plan, "项目8", app.clock)
    assert shown is not None
    row, units, total = _figures(app, tmp_path)
    return Figures(
        chat_project=project,
        chat_list=listing,
        digest=digest,
        export_cell=row[5],
        export_units=round(sum(u[5] or 0 for u in units), 2),
        export_total_planned=total[4],
        export_total_done=total[5],
        plan_show=shown,
    )


def _check(f: Figures, expected: Decimal | None) -> None:
    """Every place gives `expected` (None: nobody reported) for project 8, the only project with reports."""
    assert f.export_total_planned == float(CITY_PLAN_TOTAL)
    if expected is None:
        assert "尚未填报完成投资" in f.chat_project
        assert "项目8 农村污水处理：计划2350万元，未填报" in f.chat_list
        assert f.export_cell is None and f.export_units == 0 and f.export_total_done == 0
        assert "尚未填报完成投资" in f.plan_show
        assert "累计完成投资 0 万元" in f.digest
        return
    done = fmt.money(expected)
    assert f"投资：已完成 {done} / 计划 2350 万元" in f.chat_project
    assert f"项目8 农村污水处理：{done}/2350万元" in f.chat_list
    assert re.search(rf"已完成{re.escape(done)}万元", f.chat_list.splitlines()[0])  # the city's total
    assert f"累计完成投资 {done} 万元 / 计划总投资 15376 万元" in f.digest
    assert f"项目8 农村污水处理（7个单位合计）：{done}/2350 万元" in f.digest
    assert f.export_cell == float(expected) == f.export_units == f.export_total_done
    assert f"已完成 {done} / 总投资 2350 万元" in f.plan_show


# ---- the scenario of issue 14 ---------------------------------------------------------------------------------


def test_shared_project_has_one_figure_everywhere(app: App, tmp_path: Path) -> None:
    units = _units(app)
    assert len(units) == 7 and {"市生态环境局", "墨脱县"} <= set(units)
    now = app.clock.utcnow()
    _file(app, units["市生态环境局"], now - dt.timedelta(hours=2), Decimal(1500))
    _file(app, units["墨脱县"], now - dt.timedelta(hours=1), Decimal(350))
    f = _everywhere(app, tmp_path)
    _check(f, Decimal(1850))
    # It was 1500 in the export (the lead's) and 3835 / 4185 for the city in the digest / chat.
    assert "（7个单位合计）" in f.chat_project and "78.7%" in f.chat_project
    assert "已完成1850万元" in f.chat_list.splitlines()[0]
    # The export: one row per unit under project 8, each with its own figure; the shares are unknown.
    row, unit_rows, total = _figures(app, tmp_path, "again.xlsx")
    own = {r[2].removesuffix(texts.EXPORT_UNIT_LEAD): r[5] for r in unit_rows}
    assert set(own) == set(units)
    assert own["市生态环境局"] == 1500 and own["墨脱县"] == 350
    assert all(own[u] is None for u in set(units) - {"市生态环境局", "墨脱县"})
    assert all(r[4] == texts.EXPORT_SHARE_UNKNOWN for r in unit_rows)
    assert total[0] == texts.EXPORT_TOTAL and total[4] == 15376 and total[5] == 1850
    # A unit's official sees the same project figure, and the unit's own part beside it.
    official = Chat(app, "墨脱填报人")
    out = official.send("项目投资完成情况")
    assert "项目8 农村污水处理：1850/2350万元（78.7%）" in out and "其中墨脱县350万元" in out
    out = official.send("农村污水处理进度")
    assert "投资：已完成 1850 / 计划 2350 万元" in out and "其中墨脱县：350 万元" in out
    # 墨脱县 corrects its figure: its newest version counts, the older one is not added again.
    _file(app, units["墨脱县"], now, Decimal(400))
    _check(_everywhere(app, tmp_path), Decimal(1900))


def test_each_unit_is_asked_for_its_own_part(app: App) -> None:
    chat = Chat(app, "生态环境局填报人")  # the lead unit of project 8 (and of others)
    chat.send("汇报")
    assert "农村污水处理" in chat.send("农村污水处理")
    chat.pick("推进中")
    out = chat.send("40%")
    assert "本单位累计完成投资" in out and "项目总投资 2350 万元" in out and "由7个单位共同实施" in out


# ---- the property: random histories ---------------------------------------------------------------------------

AMOUNTS = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=3000).map(Decimal),
    st.decimals(min_value=0, max_value=999, places=2, allow_nan=False, allow_infinity=False),
)
VERSION = st.tuples(AMOUNTS, st.sampled_from([PENDING, APPROVED, RETURNED]))
HISTORIES = st.lists(st.lists(VERSION, min_size=1, max_size=3), min_size=0, max_size=7)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example is a few database round trips
)
@given(histories=HISTORIES, data=st.data())
def test_random_histories_give_one_figure_everywhere(
    app: App, tmp_path: Path, histories: list[list[tuple[Decimal | None, str]]], data: st.DataObject
) -> None:
    units = _units(app)
    names = sorted(units)
    chosen = data.draw(st.permutations(names).map(lambda ns: ns[: len(histories)]))
    now = app.clock.utcnow()
    counted: dict[str, Decimal | None] = {}
    approved: dict[str, Decimal | None] = {}
    try:
        for name, versions in zip(chosen, histories, strict=True):
            counted[name] = approved[name] = None
            for k, (amount, state) in enumerate(versions):
                when = now - dt.timedelta(hours=10 - 3 * k)
                rid = _file(app, units[name], when, amount)
                if state != PENDING:
                    _decide(app, rid, state, when + dt.timedelta(minutes=30))
                # independent of the code under test: the newest version not returned, the newest approved
                if state != RETURNED:
                    counted[name] = amount
                if state == APPROVED:
                    approved[name] = amount
        known = [v for v in counted.values() if v is not None]
        expected = sum(known, Decimal(0)) if known else None
        _check(_everywhere(app, tmp_path), expected)
        # Only approved versions: the workbook's figure is the sum of the units' newest approved figures.
        row, unit_rows, total = _figures(app, tmp_path, "approved.xlsx", approved_only=True)
        known = [v for v in approved.values() if v is not None]
        assert row[5] == (float(sum(known, Decimal(0))) if known else None)
        assert total[5] == float(sum(known, Decimal(0))) == round(sum(r[5] or 0 for r in unit_rows), 2)
    finally:
        _reset(app, list(units.values()))
