"""The city's figure of an indicator owned by several units (issue 14): each rule (all, min, mean, sum) on
synthetic unit values, the plan's `city_rule`, and one figure in chat, digest, export and `plan show` for a shared
indicator — no longer one county's value shown as the city's."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from bot.app import App
from config.plan.files import load_plan_file
from config.plan.schema import validate_plan_data
from config.settings import DEFAULT_PLAN
from db.engine import transaction
from db.models import IN_PROGRESS, INDICATOR, Assignment, Item
from db.repositories import orgs, plans, progress, reports
from db.repositories.progress import MET, NOT_MET, UNJUDGED, UNREPORTED
from handlers import texts
from handlers.plan_text import describe
from scheduler.digest import build_digest
from scheduler.export import build_workbook

AT_LEAST_50 = progress.rule_of(">=", Decimal(50), "≥50")
AT_LEAST_100 = progress.rule_of(">=", Decimal(100), "≥100")
D = Decimal


# ---- each rule on synthetic unit values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        ([(D(60), MET), (D(55), MET)], (D(2), MET)),
        ([(D(60), MET), (D(40), NOT_MET), (None, UNREPORTED)], (D(1), NOT_MET)),  # any 未达标 decides
        ([(D(60), MET), (None, UNREPORTED)], (D(1), UNJUDGED)),  # a unit not reported: 待判定
        ([(D(60), MET), (None, UNJUDGED)], (D(1), UNJUDGED)),
        ([(None, UNREPORTED), (None, UNREPORTED)], (D(0), UNREPORTED)),
    ],
)
def test_rule_all(units: list[tuple[Decimal | None, str]], expected: tuple[Decimal, str]) -> None:
    assert progress.city_verdict(progress.CITY_ALL, AT_LEAST_50, units) == expected


@pytest.mark.parametrize(
    ("rule", "target", "numbers", "expected"),
    [
        (progress.CITY_MIN, AT_LEAST_50, [D(60), D(40)], (D(40), NOT_MET)),
        (progress.CITY_MIN, AT_LEAST_50, [D(60), D(55)], (D(55), MET)),
        (progress.CITY_MEAN, AT_LEAST_50, [D(60), D(40)], (D(50), MET)),
        (progress.CITY_MEAN, AT_LEAST_50, [D(60), D(30)], (D(45), NOT_MET)),
        (progress.CITY_SUM, AT_LEAST_100, [D(60), D(40)], (D(100), MET)),
        (progress.CITY_SUM, AT_LEAST_100, [D(60), D(39)], (D(99), NOT_MET)),
    ],
)
def test_rules_min_mean_sum(rule: str, target: progress.Rule, numbers: list[Decimal], expected: Any) -> None:
    units: list[tuple[Decimal | None, str]] = [(n, progress.judge(target, n, None, IN_PROGRESS)) for n in numbers]
    # a unit that has not reported is listed but adds no value
    value, code = progress.city_verdict(rule, target, [*units, (None, UNREPORTED)])
    assert (value, code) == expected


def test_min_mean_sum_without_any_value() -> None:
    for rule in (progress.CITY_MIN, progress.CITY_MEAN, progress.CITY_SUM):
        assert progress.city_verdict(rule, AT_LEAST_50, [(None, UNREPORTED)] * 3) == (None, UNREPORTED)
        assert progress.city_verdict(rule, AT_LEAST_50, [(None, UNJUDGED), (None, UNREPORTED)]) == (None, UNJUDGED)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.decimals(min_value=0, max_value=200, places=1, allow_nan=False)),
        min_size=2,
        max_size=9,
    )
)
def test_city_figure_properties(numbers: list[Decimal | None]) -> None:
    """For any unit values: min ≤ mean ≤ max, sum is the sum; "all" 达标 iff every unit 达标, 未达标 iff one is."""
    units = [(n, progress.judge(AT_LEAST_50, n, None, IN_PROGRESS) if n is not None else UNREPORTED) for n in numbers]
    given_ = [n for n in numbers if n is not None]
    lo, lo_code = progress.city_verdict(progress.CITY_MIN, AT_LEAST_50, units)
    mean, _ = progress.city_verdict(progress.CITY_MEAN, AT_LEAST_50, units)
    total, _ = progress.city_verdict(progress.CITY_SUM, AT_LEAST_50, units)
    met, all_code = progress.city_verdict(progress.CITY_ALL, AT_LEAST_50, units)
    codes = [c for _, c in units]
    assert met == codes.count(MET)
    if not given_:
        assert lo is mean is total is None and lo_code == all_code == UNREPORTED
        return
    assert lo is not None and mean is not None and total is not None
    assert lo == min(given_) and total == sum(given_) and min(given_) <= mean <= max(given_)
    assert lo_code == (MET if lo >= 50 else NOT_MET)
    assert all_code == (NOT_MET if NOT_MET in codes else MET if set(codes) == {MET} else UNJUDGED)
    if all_code == MET:
        assert lo_code == MET  # every unit 达标: the lowest too


def test_default_rule_per_kind() -> None:
    def item(unit: str | None, op: str | None, extra: dict[str, Any] | None = None) -> Any:
        value = D(50) if op not in (None, "text") else None
        return SimpleNamespace(
            unit=unit, check_op=op, check_value=value, target_year_text="≥50", target_text="≥50", extra=extra
        )

    assert progress.city_rule(item("%", ">=")) == progress.CITY_ALL  # a rate: every unit must 达标
    assert progress.city_rule(item("个", ">=")) == progress.CITY_SUM  # a count adds up
    assert progress.city_rule(item(None, "text")) == progress.CITY_ALL
    assert progress.city_rule(item("%", ">=", {"city_rule": "mean"})) == progress.CITY_MEAN  # stated in the plan


def test_plan_city_rule_is_validated_and_imported(app: App) -> None:
    doc = load_plan_file(DEFAULT_PLAN)
    data = doc.model_dump(mode="json", exclude_none=True)
    ind = next(i for i in data["indicators"] if i["number"] == 33)
    ind["city_rule"] = "median"
    assert validate_plan_data(data)[0] is None  # not one of all, min, mean, sum
    ind["city_rule"] = "min"
    checked, problems = validate_plan_data(data)
    assert checked is not None, problems
    with transaction(app.session_factory) as s:
        plans.import_plan(s, checked, app.clock.utcnow())
    with app.session_factory() as s:
        item = s.execute(select(Item).where(Item.code == "I33")).scalar_one()
        assert item.extra["city_rule"] == "min" and progress.city_rule(item) == progress.CITY_MIN
        other = s.execute(select(Item).where(Item.code == "I39")).scalar_one()
        assert "city_rule" not in other.extra and progress.city_rule(other) == progress.CITY_ALL


# ---- one figure in chat, digest, export and plan show ---------------------------------------------------------

CITY_RE = re.compile(r"^全市（(?P<rule>[^）]+)）：(?P<figure>.*) → (?P<verdict>\S+)$", re.M)


def _file(app: App, org: str, value: str, days_ago: int) -> None:
    with transaction(app.session_factory) as s:
        item = s.execute(select(Item).where(Item.code == "I33")).scalar_one()
        a = s.execute(
            select(Assignment).where(
                Assignment.item_id == item.id, Assignment.organisation_id == orgs.find_org(s, org).id
            )
        ).scalar_one()
        fields = {"status": IN_PROGRESS, "indicator_value": f"{value}%", "indicator_number": Decimal(value)}
        reports.add_report(s, a, None, "console", app.clock.utcnow() - dt.timedelta(days=days_ago), fields)


def _set_rule(app: App, rule: str) -> None:
    with transaction(app.session_factory) as s:
        item = s.execute(select(Item).where(Item.code == "I33")).scalar_one()
        item.extra = {**(item.extra or {}), "city_rule": rule}
        flag_modified(item, "extra")


def _surfaces(app: App, chat: Any) -> dict[str, Any]:
    """Indicator 33 as chat (the coordinator), the export's main row, plan show and the digest give it."""
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        wb = build_workbook(s, plan, app.clock.now())
        digest = build_digest(s, plan, app.clock.now())
        show = describe(s, plan, "指标33", app.clock) or ""
    row = next(r for r in wb[texts.EXPORT_SHEET_INDICATORS].iter_rows(min_row=3, values_only=True) if r[0] == 33)
    return {"chat": chat("协调员").send("指标33"), "row": row, "show": show, "digest": digest}


def _scenario(app: App) -> None:
    """The issue's scene: 墨脱县 reports 41.3% on 5月24日, after two counties on the target; four never report."""
    _file(app, "巴宜区", "60", days_ago=3)
    _file(app, "米林县", "55", days_ago=2)
    _file(app, "墨脱县", "41.3", days_ago=0)


def test_one_countys_value_is_no_longer_the_citys(app: App, chat: Any) -> None:
    _scenario(app)
    got = _surfaces(app, chat)
    out = got["chat"]
    assert "最新值：41.3%（5月24日，墨脱县）" not in out and "最新值" not in out, out
    city = "全市（7个单位均需达标）：达标2、未达标1、未填报4 → 未达标"
    assert city in out.splitlines(), out
    # then each unit's own value
    motuo = next(ln for ln in out.splitlines() if "墨脱" in ln and "41.3%" in ln)
    assert "未达标" in motuo and "5月24日" in motuo
    assert any("巴宜" in ln and "60%" in ln and " 达标" in ln for ln in out.splitlines()), out
    # the same city figure in the export, plan show and the digest's count
    assert got["row"][7:11] == ("达标2、未达标1、未填报4", texts.EXPORT_CITY_ORG, dt.date(2023, 5, 24), "未达标")
    assert got["row"][13] == "7个单位均需达标"
    assert city in got["show"].splitlines(), got["show"]
    assert got["digest"].verdicts.get(NOT_MET) == 1 and MET not in got["digest"].verdicts


def test_a_county_sees_its_own_value_and_the_city_line(app: App, chat: Any) -> None:
    _scenario(app)
    out = chat("墨脱填报人").send("指标33")
    assert "本单位最新值：41.3%（5月24日，墨脱县）→ 未达标" in out, out
    assert "全市（7个单位均需达标）：达标2、未达标1、未填报4 → 未达标" in out, out
    assert "巴宜" not in out and "60%" not in out  # the other units' values are not an official's to see


@pytest.mark.parametrize(
    ("rule", "label", "figure", "verdict"),
    [
        ("mean", "7个单位取平均值", "52.1%", texts.INDICATOR_MET),  # (60 + 55 + 41.3) / 3
        ("min", "7个单位取最低值", "41.3%", texts.INDICATOR_NOT_MET),
        ("sum", "7个单位合计", "156.3%", texts.INDICATOR_MET),
    ],
)
def test_every_view_agrees_under_a_stated_rule(
    app: App, chat: Any, rule: str, label: str, figure: str, verdict: str
) -> None:
    _set_rule(app, rule)
    _scenario(app)
    got = _surfaces(app, chat)
    m = CITY_RE.search(got["chat"])
    assert m is not None, got["chat"]
    assert (m["rule"], m["figure"], m["verdict"]) == (label, figure, verdict)
    assert got["row"][7:11] == (figure, texts.EXPORT_CITY_ORG, dt.date(2023, 5, 24), verdict)
    assert got["row"][13] == label
    assert m.group(0) in got["show"].splitlines()
    code = next(c for c, v in texts.VERDICT_LABELS.items() if v == verdict)
    assert got["digest"].verdicts.get(code) == 1


def test_an_indicator_of_one_unit_is_unchanged(app: App, chat: Any) -> None:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        item = s.execute(select(Item).where(Item.code == "I15", Item.kind == INDICATOR)).scalar_one()
        views = progress.assignment_views(s, plan, app.clock.today(), item_ids=[item.id])
        city = progress.indicator_city(s, item, views)
        assert len(city.units) == 1 and not city.shared and city.verdict == UNREPORTED
        wb = build_workbook(s, plan, app.clock.now())
    out = chat("协调员").send("指标15")
    assert "最新值：未填报" in out and "全市（" not in out
    row = next(r for r in wb[texts.EXPORT_SHEET_INDICATORS].iter_rows(min_row=3, values_only=True) if r[0] == 15)
    assert (row[8] or "", row[10], row[13] or "") == ("", texts.SCHED_NEVER_REPORTED, "")
