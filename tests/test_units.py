"""The unit hierarchy (a unit may belong to a parent) and the plan's data fixes of issue 14.

工布江达县人民政府 (lead of projects 5 and 7) belongs to 工布江达县 and 市生态环境局工布江达县分局 (project 4) to
市生态环境局: a parent's views, summaries and digest include its children's items, an official of the parent may
report for them, a child's official sees only the child's own. Names: 林芝县 is 巴宜区's former name, 林芝市 is the
whole city. The plan's fixes are data with a note, shown where the fact is shown.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from bot.cli import main
from config.plan.files import load_plan_file
from config.plan.schema import validate_plan_data
from config.settings import DEFAULT_PLAN
from db.engine import make_engine, make_session_factory, transaction
from db.models import OFFICIAL, REPORTABLE_KINDS, Assignment, Item, Organisation, Person
from db.repositories import orgs, plans, progress
from handlers import texts
from scheduler import digest as digest_mod
from tests.conftest import Chat

GOV, BRANCH = "工布江达县人民政府", "市生态环境局工布江达县分局"


def _run(db_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        ["--database-url", db_url, "--data-dir", str(tmp_path / "data"), "--now", "2023-05-24T09:00", *args], out=out
    )
    return code, out.getvalue()


def _codes_assigned_to(s: Any, *names: str) -> set[str]:
    """Plain SQL, independent of the code under test: the codes of the active reportable items of `names`."""
    return set(
        s.execute(
            select(Item.code)
            .join(Assignment, Assignment.item_id == Item.id)
            .join(Organisation, Assignment.organisation_id == Organisation.id)
            .where(
                Organisation.name.in_(names),
                Item.kind.in_(REPORTABLE_KINDS),
                Item.active.is_(True),
                Assignment.active.is_(True),
            )
        ).scalars()
    )


def _views(app: Any, name: str) -> list[progress.AssignmentView]:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        return progress.assignment_views(s, plan, app.clock.today(), org_ids=[orgs.require_org(s, name).id])


def _all_pages(c: Chat, first: str) -> str:
    pages = [first]
    while "回复“更多”" in pages[-1] and len(pages) < 10:
        pages.append(c.send("更多"))
    return "\n".join(pages)


# ---- the hierarchy in the data -------------------------------------------------------------------------------


def test_children_have_their_parents_and_a_note(app):
    with app.session_factory() as s:
        gov, branch = orgs.require_org(s, GOV), orgs.require_org(s, BRANCH)
        assert gov.parent is not None and gov.parent.name == "工布江达县"
        assert branch.parent is not None and branch.parent.name == "市生态环境局"
        assert "工布江达县" in (gov.note or "") and "市生态环境局" in (branch.note or "")
        county, bureau = orgs.require_org(s, "工布江达县"), orgs.require_org(s, "市生态环境局")
        assert orgs.descendants(s, [county.id]) == [county.id, gov.id]
        assert orgs.descendants(s, [bureau.id]) == [bureau.id, branch.id]
        assert orgs.descendants(s, [gov.id]) == [gov.id]
        assert orgs.covers(s, county.id, gov.id) and not orgs.covers(s, gov.id, county.id)
        assert not orgs.covers(s, county.id, branch.id)
        # The projects the children lead (附件1 no. 4, 5, 7).
        assert {"P5", "P7"} <= _codes_assigned_to(s, GOV) and "P4" in _codes_assigned_to(s, BRANCH)


# ---- views include the children ------------------------------------------------------------------------------


def test_gongbujiangda_progress_includes_projects_5_and_7(app, chat):
    with app.session_factory() as s:
        own, child = _codes_assigned_to(s, "工布江达县"), _codes_assigned_to(s, GOV)
        short = dict(s.execute(select(Item.code, Item.short_name).where(Item.code.in_(["P5", "P7"]))).tuples().all())
    assert not {"P5", "P7"} & own  # only through the child
    views = _views(app, "工布江达县")
    assert {"P5", "P7"} <= {v.item_code for v in views}
    assert len(views) == len(own) + len(child)
    c = chat("协调员")
    out = _all_pages(c, c.send("工布江达县进度"))
    assert out.startswith(f"【工布江达县】共{len(own) + len(child)}项")
    for code in ("P5", "P7"):
        assert f"项目·{short[code]}{texts.Q_CHILD_UNIT.format(org=GOV)}" in out, code


def test_a_parents_views_include_the_childs_and_not_the_other_way(app, chat):
    assert "P4" in {v.item_code for v in _views(app, "市生态环境局")}
    assert {v.item_code for v in _views(app, BRANCH)} == {"P4"}
    with app.session_factory() as s:
        assert "P4" not in _codes_assigned_to(s, "市生态环境局")
        bureau_own = _codes_assigned_to(s, "市生态环境局")
    assert not bureau_own & {v.item_code for v in _views(app, BRANCH)}
    # plan show lists the child and its items under the parent, marked with the child's name
    with app.session_factory() as s:
        from handlers.plan_text import describe

        plan = plans.active_plan(s)
        assert plan is not None
        out = describe(s, plan, "市生态环境局", app.clock) or ""
    assert texts.PT_CHILDREN.format(text=BRANCH) in out
    assert re.search(r"\[P4\] .*（" + BRANCH + "）", out), out


def test_the_city_summary_and_the_digest_count_children_under_their_parent(app, chat):
    c = chat("协调员")
    out = _all_pages(c, c.send("全市进度"))
    with app.session_factory() as s:
        top = s.execute(select(Organisation.name).where(Organisation.parent_id.is_(None))).scalars()
        n_top = sum(1 for name in top if _codes_assigned_to(s, name))
    assert out.startswith(f"【全市】{n_top}个单位")
    assert "人民政府 完成" not in out and "分局 完成" not in out
    county, bureau = len(_views(app, "工布江达县")), len(_views(app, "市生态环境局"))
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        d = digest_mod.build_digest(s, plan, app.clock.now())  # type: ignore[arg-type]
        by_name = {ol.name: ol for ol in d.orgs}
        assert GOV not in by_name and BRANCH not in by_name
        assert by_name["工布江达县"].counts.total == county
        assert by_name["市生态环境局"].counts.total == bureau
        # restricted to the child alone, the child is its own line
        gov = orgs.require_org(s, GOV)
        d = digest_mod.build_digest(s, plan, app.clock.now(), org_ids=[gov.id])  # type: ignore[arg-type]
        assert [ol.name for ol in d.orgs] == [GOV]


def test_an_official_of_the_parent_reports_for_the_child_and_the_childs_sees_only_its_own(app):
    parent = Chat(app, "工布江达填报人")
    out = parent.send("汇报")
    assert "待汇报任务" in out
    # the child's items are in the parent's list (P5, P7), and the parent official may file one
    with app.session_factory() as s:
        short = s.execute(select(Item.short_name).where(Item.code == "P5")).scalar_one()
    out = parent.send(short)
    assert "只能汇报本单位" not in out
    assert "只能汇报本单位" not in parent.send(f"汇报 {GOV}")
    # asking about the child is allowed to the parent's official, not the other way round
    assert parent.send(f"{GOV}进度").startswith(f"【{GOV}】")
    child = Chat(app, f"{GOV}填报人")
    assert not child.send("工布江达县进度").startswith("【工布江达县】")
    assert "只能汇报本单位" in child.send("汇报 工布江达县")
    mine = child.send("我的任务")
    assert f"【{GOV}】" in mine or GOV in mine


def test_a_child_without_people_is_asked_through_its_parent(app):
    from scheduler.planning import PlanningRun

    with app.session_factory() as s, s.begin():
        gov = orgs.require_org(s, GOV)
        county = orgs.require_org(s, "工布江达县")
        gov_id, county_id = gov.id, county.id
        for p in s.execute(select(Person).where(Person.organisation_id == gov_id)).scalars():
            p.active = False  # the demo's official of the child leaves
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        run = PlanningRun(s, plan, app.clock.now(), app.settings)
        county_people = run.people_of(county_id, (OFFICIAL,))
        assert county_people and all(p.organisation_id == county_id for p in county_people)
        assert run.people_of(gov_id, (OFFICIAL,)) == county_people
        # a unit without a parent and without people gets nobody
        bureau = orgs.require_org(s, "市生态环境局")
        assert all(p.organisation_id == bureau.id for p in run.people_of(bureau.id, (OFFICIAL,)))


# ---- names ---------------------------------------------------------------------------------------------------


def test_linzhi_county_is_bayi_and_linzhi_city_is_the_whole_city(nlu, chat):
    assert nlu.understand("林芝县进度").org_names == ("巴宜区",)
    for text in ("林芝市进度", "林芝市", "林芝进度"):
        u = nlu.understand(text)
        assert "米林县" not in u.org_names, text
        assert u.org_ids == () and u.scope_all, text
    # names that start with 林芝市 still name their unit
    assert nlu.understand("林芝市巴宜区进展").org_names == ("巴宜区",)
    assert nlu.understand("林芝市水利局进度").org_names == ("市水利局",)
    assert nlu.understand("米林市进度").org_names == ("米林县",)
    c = chat("协调员")
    assert c.send("林芝县进度").startswith("【巴宜区】")
    out = c.send("林芝市进度")
    assert out.startswith("【全市】") and "【米林县】" not in out


# ---- the plan's data fixes -----------------------------------------------------------------------------------


def test_the_summary_is_not_assigned_to_the_office_that_receives_it(app):
    doc = load_plan_file(DEFAULT_PLAN)
    task = next(t for t in doc.tasks if t.code == "S-01")
    assert task.exclude == ["市委生态文明办"] and "市委生态文明办" in (task.note or "")
    with app.session_factory() as s:
        assigned = set(
            s.execute(
                select(Organisation.name)
                .join(Assignment, Assignment.organisation_id == Organisation.id)
                .join(Item)
                .where(Item.code == "S-01", Assignment.active.is_(True))
            ).scalars()
        )
    members = {m for g in doc.groups if g.name in ("各县区", "市直成员单位") for m in g.members}
    assert assigned == members - {"市委生态文明办"}
    # the children are asked through their parents, which are asked
    assert {"工布江达县", "市生态环境局"} <= assigned


def test_notes_and_inferred_marks_are_shown(app, chat, db_url):
    doc = load_plan_file(DEFAULT_PLAN)
    pick = next(t for t in doc.tasks if "选取一个创建主体" in t.title)
    plan_due = next(t for t in doc.tasks if t.code == "C3-4-04").due
    assert pick.due is not None and plan_due is not None and pick.due < plan_due and pick.due_inferred
    assert "不适用" in (next(t for t in doc.tasks if "符合条件的县" in t.title).note or "")
    ind23 = next(i for i in doc.indicators if i.number == 23)
    assert ind23.responsible_inferred and ind23.note
    sub = next(i for i in doc.indicators if i.number == 36).sub_indicators[1]
    assert sub.note and "95" in sub.note and "50" in sub.note and sub.check and sub.check.value == 95

    def show(name: str) -> str:
        with app.session_factory() as s:
            from handlers.plan_text import describe

            plan = plans.active_plan(s)
            assert plan is not None
            return describe(s, plan, name, app.clock) or ""

    assert f"责任单位：市水利局{texts.INFERRED_MARK}" in show("指标23")
    assert "责任单位：市城市管理综合执法局、各县区" in show("指标36")  # printed: no mark
    assert texts.INFERRED_MARK not in show("指标36")
    assert sub.note in show("指标36")
    assert f"截止日期：{pick.due.isoformat()}{texts.INFERRED_MARK}" in show(pick.code)
    assert texts.INFERRED_MARK not in show("C3-4-04")
    c = chat("协调员")
    assert texts.INFERRED_MARK in _all_pages(c, c.send("指标23"))
    assert sub.note in _all_pages(c, c.send("指标36"))


def test_plan_show_counts_agree_with_the_queries(app, chat, db_url, tmp_path):
    code, out = _run(db_url, tmp_path, "plan", "show")
    assert code == 0
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        n = len(progress.assignment_views(s, plan, app.clock.today()))
        ov = plans.overview(s, plan)
    m = re.search(r"合计 (\d+) 条", out)
    assert m is not None, out
    assert int(m.group(1)) == n == ov.reportable_assignments
    assert ov.assignments == n + ov.assignments_by_kind.get("event", 0)
    assert f"重点任务：{ov.tasks} 项（分解到单位 {ov.assignments_by_kind['task']} 条）" in out
    c = chat("协调员")
    assert re.search(rf"共{n}项", c.send("全市进度"))


# ---- import --------------------------------------------------------------------------------------------------


def test_reimporting_the_plan_is_idempotent_with_the_parents(db_url, tmp_path):
    code, out = _run(db_url, tmp_path, "plan", "import", str(DEFAULT_PLAN))
    assert code == 0 and "已是最新" in out
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with transaction(factory) as s:
            plan = plans.active_plan(s)
            assert plan is not None
            plan.source_digest = None  # forces a full pass over the same document
        doc = load_plan_file(DEFAULT_PLAN)
        with transaction(factory) as s:
            result = plans.import_plan(s, doc, dt.datetime(2023, 5, 24))
        assert not result.unchanged
        assert result.created == {} and result.updated == {} and result.deactivated == {}, result

        def parents(s: Any) -> dict[str, str]:
            up = aliased(Organisation)
            return dict(
                s.execute(select(Organisation.name, up.name).join(up, Organisation.parent_id == up.id)).tuples().all()
            )

        with factory() as s:
            assert parents(s) == {GOV: "工布江达县", BRANCH: "市生态环境局"}
        # a corrected plan without the parent clears it
        data = doc.model_dump(mode="json", exclude_defaults=True)
        for o in data["organisations"]:
            if o["name"] == GOV:
                o.pop("parent")
        changed, problems = validate_plan_data(data)
        assert problems == [] and changed is not None
        with transaction(factory) as s:
            result = plans.import_plan(s, changed, dt.datetime(2023, 5, 25))
        assert result.updated.get("organisation") == 1
        with factory() as s:
            assert parents(s) == {BRANCH: "市生态环境局"}
    finally:
        engine.dispose()


def test_schema_checks_exclusions_inferred_facts_and_parent_cycles():
    import yaml

    data = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    assert validate_plan_data(data)[1] == []
    bad = copy.deepcopy(data)
    s01 = next(t for t in bad["tasks"] if t["code"] == "S-01")
    s01["exclude"] = ["墨脱县", "市委生态文明办"]
    s01["assignees"] = ["市直成员单位"]
    _, problems = validate_plan_data(bad)
    assert any(p.where.endswith(".exclude[0]") and "不在 assignees" in p.message for p in problems), problems
    bad = copy.deepcopy(data)
    for o in bad["organisations"]:
        if o["name"] == "工布江达县":
            o["parent"] = GOV
    _, problems = validate_plan_data(bad)
    assert any("循环" in p.message for p in problems), problems
    bad = copy.deepcopy(data)
    next(i for i in bad["indicators"] if i["number"] == 23).pop("note")
    _, problems = validate_plan_data(bad)
    assert any(p.where.endswith("responsible_inferred") for p in problems), problems
    bad = copy.deepcopy(data)
    next(t for t in bad["tasks"] if t.get("due_inferred")).pop("note")
    _, problems = validate_plan_data(bad)
    assert any(p.where.endswith("due_inferred") for p in problems), problems


def test_reporting_activity_counts_a_child_under_its_parent(app, chat):
    from db.repositories import queries, reports

    with app.session_factory() as s, s.begin():
        gov = orgs.require_org(s, GOV)
        a = s.execute(
            select(Assignment).join(Item).where(Item.code == "P5", Assignment.organisation_id == gov.id)
        ).scalar_one()
        when = app.clock.utcnow() - dt.timedelta(days=1)
        reports.add_report(s, a, None, "console", when, {"status": "in_progress", "percent": 10})
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        activity = {x.org_name: x for x in queries.reporting_activity(s, plan)}
        assert GOV not in activity and BRANCH not in activity
        county = activity["工布江达县"]
        assert county.open_assignments == len(_codes_assigned_to(s, "工布江达县")) + len(_codes_assigned_to(s, GOV))
        assert county.last_report_at == when
        # restricted to the child, it is its own entry
        only = queries.reporting_activity(s, plan, [orgs.require_org(s, GOV).id])
        assert [x.org_name for x in only] == [GOV]
    out = chat("协调员").send("谁还没汇报")
    assert GOV not in out and "工布江达县（" not in out
