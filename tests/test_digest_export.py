"""The weekly digest's figures and the completion workbook, checked against the database."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from bot.app import App
from db.engine import transaction
from db.models import (
    BLOCKED,
    DONE,
    IN_PROGRESS,
    INDICATOR,
    PROJECT,
    REPORTABLE_KINDS,
    TASK,
    Assignment,
    Item,
    Organisation,
    Person,
    Report,
)
from db.repositories import plans, progress, reports
from db.repositories.orgs import UnknownOrganisation
from handlers import texts
from scheduler import digest as digest_mod
from scheduler.commands import digest as digest_cmd
from scheduler.commands import export as export_cmd
from scheduler.export import build_workbook
from scheduler.history import views_at

NOW = dt.datetime(2023, 5, 24, 9, 0)


def utc(app: App, y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return app.clock.localize(dt.datetime(y, m, d, h)).astimezone(dt.UTC).replace(tzinfo=None)


def aid(s: Any, code: str, org: str) -> int:
    return s.execute(
        select(Assignment.id)
        .join(Item)
        .join(Organisation, Assignment.organisation_id == Organisation.id)
        .where(Item.code == code, Organisation.name == org)
    ).scalar_one()


def file(app: App, code: str, org: str, when: dt.datetime, **fields: Any) -> None:
    with transaction(app.session_factory) as s:
        a = s.get(Assignment, aid(s, code, org))
        reports.add_report(s, a, None, "console", when, fields)


@pytest.fixture
def reported(app: App) -> App:
    """A small history of reports, some older than a week before the clock's 2023-05-24 09:00."""
    file(app, "C3-4-04", "墨脱县", utc(app, 2023, 5, 10), status=IN_PROGRESS, percent=20, description="起草中")
    file(
        app,
        "C3-4-04",
        "墨脱县",
        utc(app, 2023, 5, 22),
        status=IN_PROGRESS,
        percent=60,
        description="已征求意见",
        problems="专家评审未安排",
    )
    file(app, "C3-4-05", "墨脱县", utc(app, 2023, 5, 22), status=BLOCKED, percent=10, problems="缺少申报经费")
    file(app, "C3-4-04", "米林县", utc(app, 2023, 5, 20), status=DONE, percent=100, description="已印发")
    file(
        app,
        "P1",
        "市生态环境局",
        utc(app, 2023, 5, 23),
        status=IN_PROGRESS,
        percent=50,
        investment_done=800,
        physical_progress="主体完工",
    )
    file(
        app,
        "P2",
        "市生态环境局",
        utc(app, 2023, 5, 12),
        status=IN_PROGRESS,
        percent=40,
        investment_done=1000,
        physical_progress="护坡施工",
    )
    file(app, "I2", "市委组织部", utc(app, 2023, 5, 15), status=IN_PROGRESS, indicator_value="25%", indicator_number=25)
    file(app, "I15", "市林草局", utc(app, 2023, 5, 16), status=IN_PROGRESS, indicator_value="78%", indicator_number=78)
    file(app, "I33", "巴宜区", utc(app, 2023, 5, 20), status=IN_PROGRESS, indicator_value="60%", indicator_number=60)
    file(app, "I33", "墨脱县", utc(app, 2023, 5, 22), status=IN_PROGRESS, indicator_value="40%", indicator_number=40)
    return app


def db_latest(s: Any, cutoff: dt.datetime | None = None) -> dict[int, Report]:
    """Independent of the code under test: the newest report per assignment, by plain SQL."""
    q = select(Report).order_by(Report.created_at, Report.id)
    if cutoff is not None:
        q = q.where(Report.created_at <= cutoff)
    out: dict[int, Report] = {}
    for r in s.execute(q).scalars():
        out[r.assignment_id] = r
    return out


def db_completion(s: Any, cutoff: dt.datetime | None, org: str | None = None) -> Decimal:
    q = (
        select(Assignment.id)
        .join(Item)
        .join(Organisation, Assignment.organisation_id == Organisation.id)
        .where(Item.kind.in_(REPORTABLE_KINDS), Item.active.is_(True), Assignment.active.is_(True))
    )
    if org:
        # a unit's line counts the units below it (工布江达县人民政府 under 工布江达县, a 分局 under its 局)
        parent = aliased(Organisation)
        q = q.outerjoin(parent, Organisation.parent_id == parent.id).where(
            or_(Organisation.name == org, parent.name == org)
        )
    ids = list(s.execute(q).scalars())
    latest = db_latest(s, cutoff)
    total = Decimal(0)
    for i in ids:
        r = latest.get(i)
        if r is not None:
            total += Decimal(100) if r.status == DONE else (r.percent or Decimal(0))
    return (total / len(ids)).quantize(Decimal("0.1"))


def test_digest_figures_match_the_database(reported: App) -> None:
    app = reported
    now = app.clock.now()
    week_ago = (now - dt.timedelta(days=7)).astimezone(dt.UTC).replace(tzinfo=None)
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        d = digest_mod.build_digest(s, plan, now)  # type: ignore[arg-type]
        assert d.overall.completion == db_completion(s, None)
        assert d.overall_before == db_completion(s, week_ago)
        by_name = {ol.name: ol for ol in d.orgs}
        for org in ("墨脱县", "米林县", "市生态环境局", "巴宜区", "市委组织部"):
            assert by_name[org].completion == db_completion(s, None, org), org
            assert by_name[org].before == db_completion(s, week_ago, org), org
        n_motuo = by_name["墨脱县"].counts.total
        assert by_name["墨脱县"].completion == (Decimal(70) / n_motuo).quantize(Decimal("0.1"))
        assert by_name["墨脱县"].before == (Decimal(20) / n_motuo).quantize(Decimal("0.1"))
        assert by_name["米林县"].counts.done == 1
        # Every organisation with assignments has a line (a unit below another: its parent's line), completion
        # sorted high to low.
        parent = aliased(Organisation)
        orgs_with_work = set(
            s.execute(
                select(func.coalesce(parent.name, Organisation.name))
                .select_from(Organisation)
                .outerjoin(parent, Organisation.parent_id == parent.id)
                .join(Assignment, Assignment.organisation_id == Organisation.id)
                .join(Item)
                .where(Item.kind.in_(REPORTABLE_KINDS), Item.active.is_(True), Assignment.active.is_(True))
            ).scalars()
        )
        assert set(by_name) == orgs_with_work
        assert {"工布江达县人民政府", "市生态环境局工布江达县分局"}.isdisjoint(by_name)
        assert [ol.completion for ol in d.orgs] == sorted((ol.completion for ol in d.orgs), reverse=True)
        # Blocked tasks with their problems; on 5月24日 only 选取两山创建主体 (due 4月30日, inferred) is overdue.
        assert [(v.org_name, v.label, v.problems) for v in d.blocked] == [("墨脱县", "两山基地申报", "缺少申报经费")]
        assert sorted((v.org_name, v.item_code) for v in d.overdue) == sorted(
            (c, "C3-4-03") for c in ("米林县", "朗县", "察隅县", "墨脱县")
        )
        assert all(v.lagging and not v.overdue for v in d.lagging)
        # Who has not reported in the last 7 days: everyone but the organisations that filed since 5月17日.
        silent = {ol.name for ol in d.silent}
        assert {"墨脱县", "米林县", "市生态环境局", "巴宜区"}.isdisjoint(silent)
        assert {"市委组织部", "市林草局", "波密县"} <= silent  # their last reports are older than a week
        # Investment: planned is every project's total; completed is what the lead units reported.
        planned = sum(i.investment_total for i in s.execute(select(Item).where(Item.kind == PROJECT)).scalars())
        assert d.invest_planned == planned
        assert d.invest_done == Decimal(1800)
    text = d.text()
    assert "督办周报：5月18日—5月24日" in text
    assert f"墨脱县 {by_name['墨脱县'].completion.normalize():f}%（↑" in text
    assert "墨脱县｜两山基地申报：缺少申报经费" in text
    assert "累计完成投资 1800 万元 / 计划总投资 15376 万元" in text
    assert d.markdown().startswith("**督办周报")


def test_digest_for_one_organisation_and_a_group(reported: App) -> None:
    out = io.StringIO()
    assert digest_cmd(reported, org="墨脱", out=out) == 0
    text = out.getvalue()
    assert "督办周报（墨脱县）" in text and "缺少申报经费" in text and "米林县" not in text
    out = io.StringIO()
    digest_cmd(reported, org="边境县", out=out)
    assert "米林县" in out.getvalue() and "巴宜区" not in out.getvalue()
    with pytest.raises(UnknownOrganisation):
        digest_cmd(reported, org="火星县", out=io.StringIO())


def test_digest_of_a_past_week_replays_the_history(reported: App) -> None:
    out = io.StringIO()
    digest_cmd(reported, org="墨脱县", week=dt.date(2023, 5, 10), out=out)
    text = out.getvalue()
    assert "5月8日—5月14日" in text
    assert "缺少申报经费" not in text  # filed on 5月22日, after that week
    with reported.session_factory() as s:
        plan = plans.active_plan(s)
        end = reported.clock.localize(dt.datetime(2023, 5, 14, 23, 59, 59))
        views = {v.item_code: v for v in views_at(s, plan, end) if v.org_name == "墨脱县"}  # type: ignore[arg-type]
    assert views["C3-4-04"].percent == Decimal(20) and views["C3-4-04"].description == "起草中"
    assert views["C3-4-05"].status is None


def test_chart_and_digest_workbook(reported: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with reported.session_factory() as s:
        d = digest_mod.build_digest(s, plans.active_plan(s), reported.clock.now())  # type: ignore[arg-type]
    png = digest_mod.render_chart(d, tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    monkeypatch.setattr(digest_mod, "cjk_font", lambda: None)  # no Chinese font: numbered bars, still a chart
    png2 = digest_mod.render_chart(d, tmp_path / "c2.png")
    assert png2.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    book = load_workbook(digest_mod.render_xlsx(d, tmp_path / "d.xlsx"))
    assert book.sheetnames == [
        texts.DIGEST_SHEET_ORGS,
        texts.DIGEST_SHEET_OVERDUE,
        texts.DIGEST_SHEET_LAGGING,
        texts.DIGEST_SHEET_BLOCKED,
    ]
    orgs = book[texts.DIGEST_SHEET_ORGS]
    assert orgs.max_row == len(d.orgs) + 1
    rows = {r[0]: r for r in orgs.iter_rows(min_row=2, values_only=True)}
    motuo = [ol for ol in d.orgs if ol.name == "墨脱县"][0]
    assert rows["墨脱县"][1] == motuo.counts.total and rows["墨脱县"][9] == float(motuo.completion)
    assert rows["墨脱县"][10] == float(motuo.delta)
    blocked = list(book[texts.DIGEST_SHEET_BLOCKED].iter_rows(min_row=2, values_only=True))
    assert blocked == [
        (
            "墨脱县",
            "C3-4-05",
            "两山基地申报",
            dt.datetime(2023, 6, 30),
            "受阻",
            10.0,
            float(d.blocked[0].expected),
            None,
            "缺少申报经费",
        )
    ]
    assert book[texts.DIGEST_SHEET_LAGGING].max_row == len(d.lagging) + 1


# ---- the completion workbook -------------------------------------------------------------------------------


def _status(r: Report | None) -> str:
    return texts.STATUS_LABELS[r.status] if r else texts.SCHED_NEVER_REPORTED


def body(ws: Any) -> list[tuple[Any, ...]]:
    """A sheet's data rows: after the title (row 1) and the header (row 2), without the 合计 row (the last)."""
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    assert rows[-1][0] == texts.EXPORT_TOTAL
    return rows[:-1]


def main_rows(ws: Any) -> list[tuple[Any, ...]]:
    """The data rows of the items themselves (a per-unit row under a shared item has no 序号)."""
    return [r for r in body(ws) if r[0] is not None]


def unit_row(ws: Any, number: int, org: str) -> tuple[Any, ...]:
    """The per-unit row of `org` under shared item `number`."""
    rows = body(ws)
    start = next(i for i, r in enumerate(rows) if r[0] == number)
    below = []
    for r in rows[start + 1 :]:
        if r[0] is not None:
            break
        below.append(r)
    return next(r for r in below if r[6] == org)


def test_export_workbook_cell_by_cell(reported: App, tmp_path: Path) -> None:
    path = tmp_path / "完成情况.xlsx"
    out = io.StringIO()
    assert export_cmd(reported, path, out=out) == 0
    assert str(path) in out.getvalue()
    wb = load_workbook(path)
    assert wb.sheetnames == ["重点工作任务", "年度工程清单", "指标分工任务"]
    with reported.session_factory() as s:
        latest = db_latest(s)
        # 重点工作任务: one row per task × organisation, every cell from the database.
        ws = wb["重点工作任务"]
        assert [c.value for c in ws[2]] == list(texts.EXPORT_TASK_HEADERS)
        pairs = s.execute(
            select(Assignment, Item, Organisation.name)
            .join(Item)
            .join(Organisation, Assignment.organisation_id == Organisation.id)
            .where(Item.kind == TASK, Item.active.is_(True), Assignment.active.is_(True))
        ).all()
        expected = {(item.code, org): (a, item) for a, item, org in pairs}
        seen = set()
        for i, row in enumerate(body(ws), 1):
            no, code, section, title, org, due, status, pct, desc, problems, when, review, overdue = row
            a, item = expected[(code, org)]
            seen.add((code, org))
            r = latest.get(a.id)
            assert no == i and title == item.title and section == (item.section or "")
            assert due.date() == (a.due_date or item.due_date)
            assert status == _status(r)
            assert pct == (float(100 if r.status == DONE else r.percent) if r and r.percent is not None else None)
            assert (desc or "") == ((r.description or "") if r else "")
            assert (problems or "") == ((r.problems or "") if r else "")
            assert (when.date() if when else None) == (reported.clock.to_local(r.created_at).date() if r else None)
            # on 5月24日 only what was due before and is not done is overdue (选取创建主体, due 4月30日)
            due_day = a.due_date or item.due_date
            late = (dt.date(2023, 5, 24) - due_day).days if due_day < dt.date(2023, 5, 24) else 0
            done = r is not None and r.status == DONE
            assert (overdue or "") == (f"逾期{late}天" if late > 0 and not done else "")
        assert seen == set(expected)
        assert {r[1] for r in body(ws) if r[-1]} == {"C3-4-03"}  # the one task overdue on 5月24日
        motuo = [r for r in body(ws) if r[1] == "C3-4-04" and r[4] == "墨脱县"][0]
        assert motuo[6:10] == ("推进中", 60.0, "已征求意见", "专家评审未安排")

        # 年度工程清单: planned (total) and completed investment, 形象进度.
        ws = wb["年度工程清单"]
        assert [c.value for c in ws[2]] == list(texts.EXPORT_PROJECT_HEADERS)
        projects = {
            i.number: i for i in s.execute(select(Item).where(Item.kind == PROJECT, Item.active.is_(True))).scalars()
        }
        got = {r[0]: r for r in main_rows(ws)}
        assert set(got) == set(projects)
        for number, item in projects.items():
            row = got[number]
            assert row[1] == item.title and row[2] == item.extra["lead"] and row[3] == item.years
            assert row[4] == float(item.investment_total)
            # completed: the sum of every unit's own newest figure (it was the lead unit's figure only before)
            units = s.execute(select(Assignment.id).where(Assignment.item_id == item.id)).scalars().all()
            reps = [latest[u] for u in units if u in latest]
            figures = [r.investment_done for r in reps if r.investment_done is not None]
            assert row[5] == (float(sum(figures)) if figures else None)
            newest = max((r for r in reps if r.physical_progress), key=lambda r: (r.created_at, r.id), default=None)
            assert (row[7] or "") == (newest.physical_progress if newest else "")
        assert got[1][5:8] == (800.0, round(800 * 100 / float(projects[1].investment_total), 1), "主体完工")
        # the 合计 row: the plan's total (15376 万元 for the shipped plan) and the sum of the projects' figures
        total = list(ws.iter_rows(min_row=ws.max_row, values_only=True))[0]
        assert total[0] == texts.EXPORT_TOTAL
        assert total[4] == float(sum(i.investment_total for i in projects.values())) == 15376.0
        assert total[5] == sum(r[5] or 0 for r in got.values()) == 1800.0

        # 指标分工任务: target, the newest report, 达标? (the verdict chat gives)
        ws = wb["指标分工任务"]
        assert [c.value for c in ws[2]] == [*texts.EXPORT_INDICATOR_HEADERS, texts.EXPORT_CITY_RULE_HEADER]
        indicators = {
            i.number: i for i in s.execute(select(Item).where(Item.kind == INDICATOR, Item.active.is_(True))).scalars()
        }
        got = {r[0]: r for r in main_rows(ws)}
        assert set(got) == set(indicators)
        by_item: dict[int, list[Report]] = defaultdict(list)
        for r in latest.values():
            by_item[s.get(Assignment, r.assignment_id).item_id].append(r)  # type: ignore[union-attr]
        for number, item in indicators.items():
            row = got[number]
            assert (
                row[3] == item.title
                and (row[5] or "") == (item.target_text or "")
                and (row[4] or "") == (item.unit or "")
            )
            reps = by_item.get(item.id, [])
            n_units = len(s.execute(select(Assignment.id).where(Assignment.item_id == item.id)).scalars().all())
            if n_units > 1:
                # a shared indicator: the city's figure (every unit must 达标, the default rule), not one unit's
                codes = [
                    progress.indicator_verdict(item.check_op, item.check_value, r.indicator_number, r.status)
                    for r in reps
                ]
                city = (
                    texts.SCHED_NEVER_REPORTED
                    if not reps
                    else texts.INDICATOR_NOT_MET
                    if progress.NOT_MET in codes
                    else texts.INDICATOR_MET
                    if codes.count(progress.MET) == n_units
                    else texts.INDICATOR_UNKNOWN
                )
                assert (row[8], row[10]) == (texts.EXPORT_CITY_ORG, city), number
                assert row[13] == texts.CITY_RULE_LABELS["all"].format(n=n_units), number
                continue
            if not reps:
                assert (row[7] or "") == "" and row[10] == texts.SCHED_NEVER_REPORTED
                continue
            newest = max(reps, key=lambda r: (r.created_at, r.id))
            assert (row[7] or "") == (newest.indicator_value or "")
            verdict = progress.indicator_verdict(
                item.check_op, item.check_value, newest.indicator_number, newest.status
            )
            assert row[10] == texts.VERDICT_LABELS[verdict]
        assert got[2][7:11] == ("25%", "市委组织部", dt.datetime(2023, 5, 15), "达标")
        assert got[15][7] == "78%" and got[15][10] == "未达标"
        # indicator 33 (seven counties): the city's figure, not 墨脱县's 40% as the city's; 墨脱县's own row has it
        assert got[33][7:11] == ("达标1、未达标1、未填报5", "全市", dt.datetime(2023, 5, 22), "未达标")
        assert unit_row(ws, 33, "墨脱县")[7:11] == ("40%", "墨脱县", dt.datetime(2023, 5, 22), "未达标")

    # Formatted for printing.
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A3"
        assert all(c.font.bold for c in ws[2])
        assert ws.print_title_rows == "$1:$2"  # the title and the header on every printed page
        assert ws.page_setup.orientation == "landscape"
        assert ws.column_dimensions["B"].width >= 10
    tasks = wb["重点工作任务"]
    assert tasks.column_dimensions["I"].width == 40 and tasks["I3"].alignment.wrap_text
    assert tasks["F3"].number_format == "yyyy-mm-dd"


def test_export_at_a_past_date_leaves_out_later_reports(reported: App, tmp_path: Path) -> None:
    path = tmp_path / "old.xlsx"
    export_cmd(reported, path, at=dt.date(2023, 5, 21), out=io.StringIO())
    ws = load_workbook(path)["重点工作任务"]
    rows = {(r[1], r[4]): r for r in body(ws)}
    assert rows[("C3-4-04", "墨脱县")][6:9] == ("推进中", 20.0, "起草中")
    assert rows[("C3-4-05", "墨脱县")][6] == "未汇报"
    assert rows[("C3-4-04", "米林县")][6:8] == ("已完成", 100.0)
    ind = {r[0]: r for r in main_rows(load_workbook(path)["指标分工任务"])}
    # on 5月21日 only 巴宜区 had reported on indicator 33 (seven counties): 60% is its figure, not the city's
    assert ind[33][7:11] == ("达标1、未填报6", "全市", dt.datetime(2023, 5, 20), "待判定")
    assert unit_row(load_workbook(path)["指标分工任务"], 33, "巴宜区")[7:11] == (
        "60%",
        "巴宜区",
        dt.datetime(2023, 5, 20),
        "达标",
    )


def test_indicator_checks() -> None:
    verdict = progress.indicator_verdict
    assert verdict(">", Decimal(20), Decimal(25), IN_PROGRESS) == progress.MET
    assert verdict(">", Decimal(20), Decimal(20), IN_PROGRESS) == progress.NOT_MET
    assert verdict(">=", Decimal(80), Decimal(80), IN_PROGRESS) == progress.MET
    assert verdict("<=", Decimal(5), Decimal(6), IN_PROGRESS) == progress.NOT_MET
    # A qualitative target to do (开展) is met by an equivalent answer or a report 已完成; not met by a negative
    # answer; otherwise, and for other text targets, 待判定 until a coordinator judges it.
    assert verdict("text", None, Decimal(1), IN_PROGRESS, text="1", target="开展") == progress.UNJUDGED
    assert verdict("text", None, None, IN_PROGRESS, text="开展", target="开展") == progress.MET
    assert verdict("text", None, None, IN_PROGRESS, text="未开展", target="开展") == progress.NOT_MET
    assert verdict("text", None, None, DONE, target="开展") == progress.MET
    assert verdict("text", None, None, DONE, target="完成上级规定的考核任务") == progress.UNJUDGED
    assert verdict(">=", Decimal(80), None, IN_PROGRESS) == progress.UNJUDGED
    assert verdict(">=", Decimal(80), None, None) == progress.UNREPORTED


def test_build_workbook_on_an_empty_history(app: App) -> None:
    with app.session_factory() as s:
        wb = build_workbook(s, plans.active_plan(s), app.clock.now())  # type: ignore[arg-type]
    rows = body(wb["重点工作任务"])
    assert rows and all(r[6] == "未汇报" and r[7] is None for r in rows)


# ---- the 11月20日 workbook: title, per-unit rows, 逾期, 审核, approved only, one unit's own -----------------


def test_export_title_per_unit_indicator_rows_and_overdue(reported: App, tmp_path: Path) -> None:
    path = tmp_path / "wb.xlsx"
    export_cmd(reported, path, out=io.StringIO())
    wb = load_workbook(path)
    with reported.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        title = plan.title
    for ws in wb.worksheets:
        assert ws["A1"].value.startswith(title) and "截至 2023年5月24日" in ws["A1"].value
        assert ws.max_row >= 4 and ws.cell(ws.max_row, 1).value == texts.EXPORT_TOTAL
    # Indicator 33 is owned by several counties: a row per unit with its own value and verdict under it.
    rows = list(wb[texts.EXPORT_SHEET_INDICATORS].iter_rows(min_row=3, values_only=True))
    i = next(n for n, r in enumerate(rows) if r[0] == 33)
    units = []
    for r in rows[i + 1 :]:
        if r[0] is not None:
            break
        units.append(r)
    with reported.session_factory() as s:
        owners = set(
            s.execute(
                select(Organisation.name)
                .join(Assignment, Assignment.organisation_id == Organisation.id)
                .join(Item)
                .where(Item.code == "I33", Assignment.active.is_(True))
            ).scalars()
        )
    by_org = {r[6]: r for r in units}
    assert set(by_org) == owners and len(owners) > 2
    assert by_org["巴宜区"][7] == "60%" and by_org["巴宜区"][10] == "达标" and by_org["巴宜区"][12] == "待审核"
    assert by_org["墨脱县"][7] == "40%" and by_org["墨脱县"][10] == "未达标"
    assert all(by_org[o][10] == texts.SCHED_NEVER_REPORTED for o in owners - {"巴宜区", "墨脱县"})
    # Indicators 合计: the number of indicators and how many are met, as the rows say.
    main = [r for r in rows[:-1] if r[0] is not None]
    assert rows[-1][3] == texts.EXPORT_TOTAL_INDICATORS.format(n=len(main), met=sum(r[10] == "达标" for r in main))

    # 逾期: on 7月5日 the 两山基地申报 (due 6月30日) of 墨脱县 is 5 days overdue.
    reported.clock.set(dt.datetime(2023, 7, 5, 9, 0), frozen=True)
    export_cmd(reported, path, out=io.StringIO())
    tasks = {(r[1], r[4]): r for r in body(load_workbook(path)[texts.EXPORT_SHEET_TASKS])}
    assert tasks[("C3-4-05", "墨脱县")][12] == texts.EXPORT_OVERDUE_YES.format(days=5)
    assert tasks[("C3-4-04", "米林县")][12] in ("", None)  # done


def test_export_approved_only_and_one_units_own_workbook(reported: App, tmp_path: Path) -> None:
    from bot.cli import build_parser

    args = build_parser().parse_args(["export", "x.xlsx", "--approved-only", "--org", "墨脱县"])
    assert args.approved_only and args.org == "墨脱县"
    with transaction(reported.session_factory) as s:
        coordinator = s.execute(select(Person).where(Person.role == "coordinator")).scalars().first()
        assert coordinator is not None
        r = s.get(Report, s.get(Assignment, aid(s, "C3-4-04", "米林县")).last_report_id)  # type: ignore[union-attr]
        assert r is not None
        assert reports.review(s, r, coordinator, True, reported.clock.utcnow()).closed
    path = tmp_path / "approved.xlsx"
    export_cmd(reported, path, out=io.StringIO(), approved_only=True)
    wb = load_workbook(path)
    assert texts.EXPORT_TITLE_APPROVED in wb[texts.EXPORT_SHEET_TASKS]["A1"].value
    tasks = {(r[1], r[4]): r for r in body(wb[texts.EXPORT_SHEET_TASKS])}
    assert tasks[("C3-4-04", "米林县")][6:8] == ("已完成", 100.0) and tasks[("C3-4-04", "米林县")][11] == "已通过"
    assert tasks[("C3-4-04", "墨脱县")][6] == "未汇报"  # filed, not approved: not counted
    projects = {r[0]: r for r in main_rows(wb[texts.EXPORT_SHEET_PROJECTS])}
    assert projects[1][5] is None  # 800 万元 waits for review

    # One unit's own workbook: only its items, its own figures.
    path = tmp_path / "motuo.xlsx"
    out = io.StringIO()
    export_cmd(reported, path, out=out, org="墨脱")
    assert "墨脱县" in out.getvalue()
    wb = load_workbook(path)
    assert "墨脱县" in wb[texts.EXPORT_SHEET_TASKS]["A1"].value
    with reported.session_factory() as s:
        own = set(
            s.execute(
                select(Item.code)
                .join(Assignment)
                .join(Organisation, Assignment.organisation_id == Organisation.id)
                .where(Organisation.name == "墨脱县", Assignment.active.is_(True), Item.active.is_(True))
            ).scalars()
        )
        mine = list(s.execute(select(Item).where(Item.code.in_(own))).scalars())
        numbers = {(i.kind, i.number) for i in mine if i.kind != TASK}
        task_codes = {i.code for i in mine if i.kind == TASK}
    tasks_rows = body(wb[texts.EXPORT_SHEET_TASKS])
    assert tasks_rows and {r[4] for r in tasks_rows} == {"墨脱县"}
    assert {r[1] for r in tasks_rows} == task_codes
    assert {(PROJECT, r[0]) for r in main_rows(wb[texts.EXPORT_SHEET_PROJECTS])} == {
        n for n in numbers if n[0] == PROJECT
    }
    assert {(INDICATOR, r[0]) for r in main_rows(wb[texts.EXPORT_SHEET_INDICATORS])} == {
        n for n in numbers if n[0] == INDICATOR
    }

    # A unit with children: the children's items are in its workbook (Organisation.parent_id).
    with transaction(reported.session_factory) as s:
        child = s.execute(select(Organisation).where(Organisation.name == "市生态环境局工布江达县分局")).scalar_one()
        child.parent_id = None  # as if apart
    path = tmp_path / "bureau-alone.xlsx"
    export_cmd(reported, path, out=io.StringIO(), org="市生态环境局")
    assert 4 not in {r[0] for r in main_rows(load_workbook(path)[texts.EXPORT_SHEET_PROJECTS])}
    with transaction(reported.session_factory) as s:
        parent = s.execute(select(Organisation).where(Organisation.name == "市生态环境局")).scalar_one()
        child = s.execute(select(Organisation).where(Organisation.name == "市生态环境局工布江达县分局")).scalar_one()
        child.parent_id = parent.id
    path = tmp_path / "bureau.xlsx"
    export_cmd(reported, path, out=io.StringIO(), org="市生态环境局")
    wb = load_workbook(path)
    units = {r[4] for r in body(wb[texts.EXPORT_SHEET_TASKS])} | {
        r[2] for r in body(wb[texts.EXPORT_SHEET_PROJECTS]) if r[0] is None
    }
    numbers = {r[0] for r in main_rows(wb[texts.EXPORT_SHEET_PROJECTS])}
    assert 4 in numbers  # project 4 belongs to the 分局
    assert units <= {
        "市生态环境局",
        "市生态环境局（牵头）",
        "市生态环境局工布江达县分局",
        "市生态环境局工布江达县分局（牵头）",
    }


def test_a_units_share_where_the_plan_gives_one(app: App, tmp_path: Path) -> None:
    """`extra["shares"]` ({unit: 万元}) gives a unit's part of a shared project's total; the others stay unknown."""
    with transaction(app.session_factory) as s:
        item = s.execute(select(Item).where(Item.code == "P8")).scalar_one()
        item.extra = {**(item.extra or {}), "shares": {"墨脱县": 300}}
    file(app, "P8", "墨脱县", utc(app, 2023, 5, 23), status=IN_PROGRESS, percent=50, investment_done=150)
    path = tmp_path / "shares.xlsx"
    export_cmd(app, path, out=io.StringIO())
    rows = body(load_workbook(path)[texts.EXPORT_SHEET_PROJECTS])
    i = next(n for n, r in enumerate(rows) if r[0] == 8)
    units = {r[2].removesuffix(texts.EXPORT_UNIT_LEAD): r for r in rows[i + 1 :] if r[0] is None}
    assert units["墨脱县"][4:7] == (300.0, 150.0, 50.0)
    assert units["朗县"][4] == texts.EXPORT_SHARE_UNKNOWN and units["朗县"][5] is None
    assert rows[i][4:7] == (2350.0, 150.0, round(150 * 100 / 2350, 1))
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        views = progress.assignment_views(s, plan, app.clock.today(), item_ids=[item.id])
        (p,) = progress.project_investments(s, views)
    assert {u.org_name: u.share for u in p.units if u.share is not None} == {"墨脱县": Decimal(300)}
