"""The shipped plan in the database: counts, and spot-checks of every organisation, project and indicator
against the facts of the published plan (tests/data/plan_facts.yaml), plus idempotent and corrective re-import.

The plan file itself is compared with the facts entry by entry in test_plan_facts.py; here the imported rows are.
"""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest
import yaml
from sqlalchemy import func, select

from config.plan.files import load_plan_file
from config.plan.schema import validate_plan_data
from config.settings import DEFAULT_PLAN
from db.models import EVENT, GOAL, INDICATOR, PROJECT, SUB_INDICATOR, TASK, Assignment, Item, Organisation, Report
from db.repositories import plans
from db.repositories.plans import import_plan
from tests.plan_facts import FACTS

COUNTIES = FACTS["counties"]
DEPARTMENTS = [d["name"] for d in FACTS["departments"]]
PROJECTS = {p["number"]: p for p in FACTS["projects"]["items"]}


def test_overview_counts(app):
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        ov = plans.overview(s, plan)
    assert ov.counties == len(COUNTIES) == 7
    assert ov.departments_with_tasks == len(DEPARTMENTS) == 13
    assert ov.projects == len(PROJECTS) == 9
    assert ov.investment_total == Decimal(FACTS["projects"]["total_investment"]) == Decimal("15376")
    assert ov.indicators == len(FACTS["indicators"]) == 41
    assert ov.goals == FACTS["goals"]["count"]
    assert ov.events == len(FACTS["events"]["dates"])
    assert ov.tasks > 100


def test_every_county_and_department_has_tasks_of_its_own(app):
    with app.session_factory() as s:
        for name in COUNTIES + DEPARTMENTS:
            org = s.execute(select(Organisation).where(Organisation.name == name)).scalar_one()
            items = list(
                s.execute(
                    select(Item).join(Assignment).where(Assignment.organisation_id == org.id, Item.kind == TASK)
                ).scalars()
            )
            named = [
                i
                for i in items
                if name in (i.extra or {}).get("assignees", [])
                or any(name in g for g in (i.extra or {}).get("assignees", []))
            ]
            assert named, f"{name} has no task of its own"
            assert all(i.text for i in named), f"{name}: a task without the plan's sentence"


def test_border_counties_share_the_two_mountains_tasks_with_deadlines(app):
    with app.session_factory() as s:
        rows = s.execute(
            select(Item.due_date, Organisation.name)
            .join(Assignment, Assignment.item_id == Item.id)
            .join(Organisation)
            .where(Item.code == "C3-4-04")
        ).all()
        assert sorted(n for _, n in rows) == sorted(["米林县", "朗县", "察隅县", "墨脱县"])
        assert {d for d, _ in rows} == {dt.date(2023, 5, 31)}
        due = dict(s.execute(select(Item.code, Item.due_date).where(Item.code.in_(["C3-4-05", "S-01"]))).all())
        assert due == {"C3-4-05": dt.date(2023, 6, 30), "S-01": dt.date(2023, 11, 20)}
        # 墨脱县 alone must finish its county-seat sewage plant
        moto_only = (
            s.execute(select(Organisation.name).join(Assignment).join(Item).where(Item.code == "C3-2-03"))
            .scalars()
            .all()
        )
        assert moto_only == ["墨脱县"]


def test_department_actions_and_quantitative_targets(app):
    with app.session_factory() as s:
        eco = s.execute(select(Organisation).where(Organisation.name == "市生态环境局")).scalar_one()
        n = s.scalar(
            select(func.count())
            .select_from(Item)
            .join(Assignment)
            .where(Assignment.organisation_id == eco.id, Item.kind == TASK, Item.code.like("D02-%"))
        )
        assert n > 12
        targets = [t for (ts,) in s.execute(select(Item.targets).where(Item.kind == TASK)) for t in ts]
    values = {(Decimal(str(t["value"])), t.get("unit")) for t in targets if "value" in t}
    for expected in [
        (Decimal("1.2"), "万亩"),
        (Decimal("7000"), "人"),
        (Decimal("6"), "个"),
        (Decimal("16"), "家"),
        (Decimal("90"), "%"),
        (Decimal("20"), "个"),
        (Decimal("50"), "个"),
        (Decimal("60"), "个"),
    ]:
        assert expected in values, expected


def test_every_project_matches_annex_1(app):
    with app.session_factory() as s:
        rows = {i.number: i for i in s.execute(select(Item).where(Item.kind == PROJECT)).scalars()}
        assert sorted(rows) == list(range(1, 10))
        for number, fact in PROJECTS.items():
            item = rows[number]
            assert item.title == fact["name"]
            assert Decimal(str(item.investment_total)) == Decimal(str(fact["investment"]))
            lead_row = s.execute(
                select(Organisation.name)
                .join(Assignment)
                .where(Assignment.item_id == item.id, Assignment.role == "lead")
            ).scalar_one()
            assert lead_row == fact["lead"]
        assert sum(Decimal(str(i.investment_total)) for i in rows.values()) == FACTS["projects"]["total_investment"]


def test_every_indicator_matches_annex_2(app):
    with app.session_factory() as s:
        rows = {i.number: i for i in s.execute(select(Item).where(Item.kind == INDICATOR)).scalars()}
        assert sorted(rows) == list(range(1, 42))
        facts = {f["number"]: f for f in FACTS["indicators"]}
        for number, item in rows.items():
            assert item.title == facts[number]["name"], number
            assert item.text, f"indicator {number} has no explanation"
            responsible = s.execute(select(Assignment).where(Assignment.item_id == item.id)).scalars().all()
            assert responsible, f"indicator {number} has no responsible unit"
        subs = {}
        for sub in s.execute(select(Item).where(Item.kind == SUB_INDICATOR)).scalars():
            subs.setdefault(sub.number, []).append(sub)
        for number, fact in facts.items():
            assert len(subs.get(number, [])) == len(fact.get("parts", [])), number
        assert rows[15].title == "林草覆盖率" and rows[15].check_op == ">=" and rows[15].check_value == 80
        assert rows[31].title == "城镇污水处理率" and rows[31].check_value == 95
        lcr = (
            s.execute(select(Organisation.name).join(Assignment).where(Assignment.item_id == rows[15].id))
            .scalars()
            .all()
        )
        assert lcr == ["市林草局"]


def test_goals_and_events(app):
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.kind == GOAL)) == 5
        events = {(i.event_month, i.event_day) for i in s.execute(select(Item).where(Item.kind == EVENT)).scalars()}
        assert events == {(5, 22), (6, 5), (8, None)}


@pytest.mark.both_backends  # the plan repository: upserts by natural key
def test_reimport_is_idempotent(app):
    doc = load_plan_file(DEFAULT_PLAN)
    with app.session_factory() as s, s.begin():
        before = s.scalar(select(func.count()).select_from(Assignment))
        result = import_plan(s, doc, app.clock.utcnow())
        assert result.unchanged
    # forcing a full pass (digest cleared) still changes nothing
    with app.session_factory() as s, s.begin():
        plans.active_plan(s).source_digest = None
    with app.session_factory() as s, s.begin():
        result = import_plan(s, doc, app.clock.utcnow())
        assert not result.created and not result.deactivated
        assert s.scalar(select(func.count()).select_from(Assignment)) == before


@pytest.mark.both_backends
def test_corrected_plan_updates_in_place_and_keeps_reports(app, chat):
    c = chat("墨脱填报人")
    c.send("汇报")
    c.send("两山实施方案")
    c.send("推进中")
    c.send("50")
    c.send("起草中")
    for _ in range(4):
        c.send("跳过")
    c.send("确认")
    data = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    corrected = copy.deepcopy(data)
    for t in corrected["tasks"]:
        if t["code"] == "C3-4-04":
            t["due"] = dt.date(2023, 6, 15)
            t["short"] = "两山基地实施方案"
    corrected["tasks"] = [t for t in corrected["tasks"] if t["code"] != "C3-0-04"]
    doc, problems = validate_plan_data(corrected)
    assert not problems
    with app.session_factory() as s, s.begin():
        result = import_plan(s, doc, app.clock.utcnow())
        assert result.updated.get("task") == 1 and result.deactivated.get("task") == 1
    with app.session_factory() as s:
        item = s.execute(select(Item).where(Item.code == "C3-4-04")).scalar_one()
        assert item.due_date == dt.date(2023, 6, 15) and item.short_name == "两山基地实施方案"
        assert s.scalar(select(func.count()).select_from(Report)) == 1
        gone = s.execute(select(Item).where(Item.code == "C3-0-04")).scalar_one()
        assert not gone.active
    assert "两山基地实施方案" in c.send("汇报")
