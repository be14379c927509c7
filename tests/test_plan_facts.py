"""The shipped plan against the facts of the published document (tests/data/plan_facts.yaml).

The plan is loaded as the product loads it (`load_plan_file` on the default plan file) and compared entry by
entry: organisations and groups, the section each task comes from, dated tasks, the quantities tasks set, goals,
events, the nine projects of 附件1 and the 41 indicators of 附件2 with their targets, how each target is judged
and who answers for it. The facts themselves are checked against the document by `.ci/check_shared.py`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from config.plan.files import load_plan_file
from config.plan.schema import Check, PlanDocument, Task
from config.settings import DEFAULT_PLAN
from db.repositories import orgs
from tests.plan_facts import FACTS, expand, expected_check, norm


def check_of(check: Check | None) -> tuple[str, Decimal | None] | None:
    return None if check is None else (check.op, check.value)


@pytest.fixture(scope="module")
def doc() -> PlanDocument:
    return load_plan_file(DEFAULT_PLAN)


def tasks_of(doc: PlanDocument, org: str) -> list[Task]:
    return [t for t in doc.tasks if org in expand(t.assignees)]


# ---- the facts file itself ----------------------------------------------------------------------------------


def test_the_facts_file_adds_up() -> None:
    projects = FACTS["projects"]
    assert [p["number"] for p in projects["items"]] == list(range(1, 10))
    assert sum(Decimal(str(p["investment"])) for p in projects["items"]) == projects["total_investment"] == 15376
    assert [i["number"] for i in FACTS["indicators"]] == list(range(1, 42))
    covered = [n for c in FACTS["indicator_categories"] for n in range(c["numbers"][0], c["numbers"][1] + 1)]
    assert covered == list(range(1, 42))
    assert len({c["domain"] for c in FACTS["indicator_categories"]}) == 6  # 六大领域
    assert [d["number"] for d in FACTS["departments"]] == list(range(1, 14))
    assert set(FACTS["border_counties"]) < set(FACTS["counties"]) and len(FACTS["counties"]) == 7


# ---- plan, organisations, groups ----------------------------------------------------------------------------


def test_plan_header(doc: PlanDocument) -> None:
    facts = FACTS["plan"]
    assert norm(doc.plan.title) == norm(facts["title"])
    assert doc.plan.document_no == facts["document_no"]
    assert doc.plan.issuer == facts["issuer"]
    assert doc.plan.year == facts["year"]
    assert doc.plan.start == facts["issued"]
    assert doc.plan.summary_due == facts["summary_due"]


def test_counties_departments_and_groups(doc: PlanDocument) -> None:
    kinds = {o.name: o.kind for o in doc.organisations}
    assert [o.name for o in doc.organisations if o.kind == "county"] == FACTS["counties"]
    for unit in [d["name"] for d in FACTS["departments"]] + FACTS["other_units"]:
        assert kinds.get(unit) in ("department", "office"), unit
    groups = {g.name: g.members for g in doc.groups}
    for name, members in FACTS["groups"].items():
        assert groups[name] == members, name
    aliases = {a: g.name for g in doc.groups for a in g.aliases}
    for spelling, name in FACTS["group_spellings"].items():
        assert aliases.get(spelling) == name, spelling
    city_units = set(groups["市直成员单位"])
    assert {d["name"] for d in FACTS["departments"]} | set(FACTS["other_units"]) <= city_units


def test_the_documents_other_spellings_find_the_same_unit(app: Any) -> None:
    with app.session_factory() as s:
        for spelling, name in FACTS["spellings"].items():
            org = orgs.find_org(s, spelling)
            assert org is not None and org.name == name, spelling


# ---- tasks --------------------------------------------------------------------------------------------------


def test_county_sections_assign_their_counties(doc: PlanDocument) -> None:
    for section in FACTS["county_sections"]:
        tasks = [t for t in doc.tasks if t.section.startswith(section["section"])]
        assert tasks, section["section"]
        assigned = set().union(*(expand(t.assignees) for t in tasks))
        assert assigned == set(section["counties"]), section["section"]


def test_every_department_has_its_own_numbered_section(doc: PlanDocument) -> None:
    for dept in FACTS["departments"]:
        prefix = f"三 {dept['number']} "
        tasks = [t for t in doc.tasks if t.section.startswith(prefix)]
        assert tasks, f"no tasks of section {prefix}"
        assert all(t.section == prefix + dept["name"] for t in tasks)
        assert all(t.assignees == [dept["name"]] for t in tasks), dept["name"]


def test_dated_tasks_are_exactly_the_documents_deadlines(doc: PlanDocument) -> None:
    # A deadline the document does not give is marked inferred (due_inferred, with a note) and not counted here.
    dated = sorted(
        (t.due, frozenset(expand(t.assignees)), t.title) for t in doc.tasks if t.due is not None and not t.due_inferred
    )
    assert len(dated) == len(FACTS["deadlines"])
    for fact in FACTS["deadlines"]:
        matches = [
            d for d in dated if d[0] == fact["due"] and d[1] == expand(fact["orgs"]) and fact["title_has"] in d[2]
        ]
        assert len(matches) == 1, fact


def test_quantities_of_county_and_department_tasks(doc: PlanDocument) -> None:
    for fact in FACTS["task_targets"]:
        for org in expand([fact["org"]]):
            tasks = [t for t in tasks_of(doc, org) if fact["title_has"] in t.title]
            assert len(tasks) == 1, (org, fact["title_has"], [t.code for t in tasks])
            targets = {(t.value, t.unit, t.op) for t in tasks[0].targets}
            assert (Decimal(str(fact["value"])), fact["unit"], ">=") in targets, (org, fact, targets)


def test_goals_and_events(doc: PlanDocument) -> None:
    assert len(doc.goals) == FACTS["goals"]["count"]
    for fact in FACTS["goals"]["targets"]:
        goal = doc.goals[fact["goal"] - 1]
        assert (Decimal(str(fact["value"])), fact["unit"], fact["op"]) in {
            (t.value, t.unit, t.op) for t in goal.targets
        }, fact
    events = FACTS["events"]
    assert len(doc.events) == len(events["dates"])
    for fact, event in zip(events["dates"], doc.events, strict=True):
        assert fact["name"] in event.name
        assert (event.month, event.day) == (fact["month"], fact.get("day"))
        assert event.responsible == [events["organiser"]]


# ---- 附件1 projects ------------------------------------------------------------------------------------------


def test_projects_match_annex_1(doc: PlanDocument) -> None:
    facts = FACTS["projects"]
    assert [p.number for p in doc.projects] == [p["number"] for p in facts["items"]]
    for fact, project in zip(facts["items"], doc.projects, strict=True):
        where = f"project {fact['number']}"
        assert project.name == fact["name"], where
        assert project.investment == Decimal(str(fact["investment"])), where
        assert project.years == fact["years"], where
        years = [int(y) for y in re.findall(r"\d{4}", fact["years"])]
        assert (project.start_year, project.end_year) == (years[0], years[-1]), where
        assert project.lead == fact["lead"], where
        assert set(project.assignees) == set(fact.get("counties", [])), where
    assert sum(p.investment for p in doc.projects) == facts["total_investment"]


# ---- 附件2 indicators ----------------------------------------------------------------------------------------


def test_indicators_match_annex_2(doc: PlanDocument) -> None:
    category = {
        n: (c["domain"], c["category"])
        for c in FACTS["indicator_categories"]
        for n in range(c["numbers"][0], c["numbers"][1] + 1)
    }
    assert [i.number for i in doc.indicators] == [f["number"] for f in FACTS["indicators"]]
    for fact, ind in zip(FACTS["indicators"], doc.indicators, strict=True):
        where = f"indicator {fact['number']}"
        assert ind.name == fact["name"], where
        assert (ind.domain, ind.category) == category[fact["number"]], where
        if "unit" in fact:
            assert ind.unit == fact["unit"], where
        if fact["responsible"]:
            assert ind.responsible == fact["responsible"], where
        else:
            assert ind.responsible, f"{where}: the plan must name someone where the document does not"
        if "target" in fact:
            assert norm(ind.target) == norm(fact["target"]), where
            assert norm(ind.target_year) == norm(fact.get("target_2023", fact["target"])), where
            assert check_of(ind.check) == expected_check(fact["target"]), where
            assert not ind.sub_indicators, where
        else:
            parts = fact["parts"]
            assert [s.key for s in ind.sub_indicators] == [p["key"] for p in parts], where
            assert ind.check is None, f"{where}: judged part by part"
            for part, sub in zip(parts, ind.sub_indicators, strict=True):
                at = f"{where}, part {part['key']}"
                assert sub.name == part["name"], at
                assert sub.unit == part["unit"], at
                assert norm(sub.target) == norm(sub.target_year) == norm(part["target"]), at
                assert check_of(sub.check) == expected_check(part["target"]), at
                assert norm(part["target"]) in norm(ind.target), at


def test_numeric_targets_are_judged_by_their_number() -> None:
    assert expected_check("≥ 80") == (">=", Decimal("80"))
    assert expected_check(">20") == (">", Decimal("20"))
    assert expected_check("100") == (">=", Decimal("100"))
    assert expected_check("≥4.5") == (">=", Decimal("4.5"))
    assert expected_check("完成上级管控目标") == ("text", None)
