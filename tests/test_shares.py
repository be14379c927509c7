"""Per-unit shares of a shared project (project 8, 2350 万元, the lead 市生态环境局 and six counties): the plan's
`shares`, `duban plan share`, and each unit's completion against its share everywhere it is shown."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import App
from bot.cli import main
from config.plan.files import load_plan_file
from config.plan.schema import PlanDocument, validate_plan_data
from config.plan.xlsx_read import read_workbook
from config.plan.xlsx_write import write_workbook
from config.settings import DEFAULT_PLAN
from db.engine import transaction
from db.models import IN_PROGRESS, Assignment, Item, Organisation
from db.repositories import plans, reports
from handlers import texts
from handlers.plan_text import describe
from scheduler.commands import export as export_cmd
from tests.conftest import Chat

TOTAL = Decimal(2350)
UNITS = ["市生态环境局", "巴宜区", "工布江达县", "米林县", "墨脱县", "察隅县", "朗县"]


def _data() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))


def _p8(data: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in data["projects"] if p["number"] == 8)


def _doc(shares: dict[str, Any] | None = None, note: str | None = None) -> PlanDocument:
    data = _data()
    if shares is not None:
        _p8(data)["shares"] = shares
    if note is not None:
        _p8(data)["note"] = note
    doc, problems = validate_plan_data(data)
    assert problems == [] and doc is not None
    return doc


def _stored(app: App) -> dict[str, Any]:
    with app.session_factory() as s:
        return dict(s.execute(select(Item.extra).where(Item.code == "P8", Item.active.is_(True))).scalar_one() or {})


def _units(app: App) -> list[str]:
    with app.session_factory() as s:
        item = s.execute(select(Item).where(Item.code == "P8", Item.active.is_(True))).scalar_one()
        return plans.project_units(s, item)


def _share(app: App, *args: str) -> tuple[int, str]:
    """`duban plan share …` on the test's database: the exit code and what it wrote (errors included)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            [
                "--database-url",
                app.settings.database_url or "",
                "--data-dir",
                str(app.settings.data_dir),
                "--now",
                "2023-05-24T09:00",
                "plan",
                "share",
                *args,
            ],
            out=out,
        )
    return code, out.getvalue() + err.getvalue()


def _file(app: App, org: str, investment: Decimal) -> None:
    with transaction(app.session_factory) as s:
        a = s.execute(
            select(Assignment)
            .join(Item)
            .join(Organisation, Assignment.organisation_id == Organisation.id)
            .where(Item.code == "P8", Organisation.name == org)
        ).scalar_one()
        when = app.clock.utcnow() - dt.timedelta(hours=1)
        reports.add_report(
            s, a, None, "console", when, {"status": IN_PROGRESS, "percent": 30, "investment_done": investment}
        )


def _project_rows(path: Path) -> tuple[tuple[Any, ...], dict[str, tuple[Any, ...]], tuple[Any, ...]]:
    rows = list(load_workbook(path)[texts.EXPORT_SHEET_PROJECTS].iter_rows(min_row=3, values_only=True))
    i = next(n for n, r in enumerate(rows) if r[0] == 8)
    units: dict[str, tuple[Any, ...]] = {}
    for r in rows[i + 1 :]:
        if r[0] is not None:
            break
        units[str(r[2]).removesuffix(texts.EXPORT_UNIT_LEAD)] = r
    return rows[i], units, rows[-1]


# ---- the plan format ---------------------------------------------------------------------------------------------


def test_the_shipped_plan_has_the_units_assumed_here(app: App) -> None:
    assert sorted(_units(app)) == sorted(UNITS) and _units(app)[0] == "市生态环境局"


def test_plan_shares_are_validated() -> None:
    for shares, where, message in [
        ({"墨脱县": 300, "拉萨市": 10}, "projects[7].shares.拉萨市", "不是本项目的牵头或实施单位"),
        ({"墨脱县": -1}, "projects[7].shares.墨脱县", "不能为负数"),
        ({"墨脱县": 2000, "察隅县": 400}, "projects[7].shares", "超过总投资 2350"),
    ]:
        data = _data()
        assert data["projects"][7]["number"] == 8
        _p8(data)["shares"] = shares
        doc, problems = validate_plan_data(data)
        assert doc is None or problems
        assert any(p.where == where and message in p.message for p in problems), problems
    # Within the total, units among the project's (a group's members count): valid.
    doc = _doc({"墨脱县": 300, "察隅县": 400, "市生态环境局": 1650})
    assert next(p for p in doc.projects if p.number == 8).shares["察隅县"] == Decimal(400)


def test_import_with_shares_is_idempotent_and_the_plan_wins(app: App) -> None:
    now = app.clock.utcnow()
    with transaction(app.session_factory) as s:
        plans.import_plan(s, _doc({"墨脱县": 300, "察隅县": 400.5}), now)
    extra = _stored(app)
    assert extra["shares"] == {"墨脱县": "300", "察隅县": "400.5"}
    assert extra[plans.SHARES_SET] == {"source": "plan"}
    with transaction(app.session_factory) as s:
        again = plans.import_plan(s, _doc({"墨脱县": 300, "察隅县": 400.5}), now)
    assert again.unchanged or "project" not in again.updated
    assert _stored(app)["shares"] == extra["shares"]
    # A coordinator's shares give way to the plan's own on the next import.
    assert _share(app, "项目8", "墨脱县=100")[0] == 0
    assert _stored(app)["shares"] == {"墨脱县": "100"}
    with transaction(app.session_factory) as s:
        plans.import_plan(s, _doc({"墨脱县": 300, "察隅县": 400.5}, note="改"), now)
    assert _stored(app)["shares"] == {"墨脱县": "300", "察隅县": "400.5"}
    # A plan that drops its shares drops them.
    with transaction(app.session_factory) as s:
        plans.import_plan(s, _doc(), now)
    assert "shares" not in _stored(app)


def test_workbook_plan_format_reads_and_writes_shares(tmp_path: Path) -> None:
    doc = _doc({"墨脱县": 300, "察隅县": Decimal("400.5")})
    path = tmp_path / "plan.xlsx"
    write_workbook(doc, path)
    data, problems = read_workbook(path)
    assert problems == []
    back, problems = validate_plan_data(data)
    assert problems == [] and back is not None
    assert next(p for p in back.projects if p.number == 8).shares == {"墨脱县": 300, "察隅县": Decimal("400.5")}
    assert all(not p.shares for p in back.projects if p.number != 8)
    # A badly written cell is a problem at that cell.
    wb = load_workbook(path)
    ws = wb["年度工程清单"]
    col = next(c.column for c in ws[1] if c.value == "单位份额(万元)")
    row = next(c.row for c in ws["A"] if c.value == 8)
    ws.cell(row, col, "墨脱县三百")
    wb.save(path)
    _, problems = read_workbook(path)
    assert any("墨脱县三百" in str(p) for p in problems), problems


def test_the_shipped_plan_loads_unchanged() -> None:
    doc = load_plan_file(DEFAULT_PLAN)
    assert all(p.shares == {} for p in doc.projects)


# ---- duban plan share -------------------------------------------------------------------------------------------


def test_cli_explicit_even_and_clear(app: App) -> None:
    code, out = _share(app, "项目8", "墨脱县=300", "察隅县=400")
    assert code == 0, out
    assert "墨脱县 300、察隅县 400" in out and "合计 700 / 总投资 2350" in out and "份额未知：市生态环境局" in out
    extra = _stored(app)
    assert extra["shares"] == {"墨脱县": "300", "察隅县": "400"}
    assert extra[plans.SHARES_SET]["source"] == "coordinator" and extra[plans.SHARES_SET]["at"].startswith("2023-05-24")

    code, out = _share(app, "项目8", "--even")
    assert code == 0, out
    shares = {u: Decimal(v) for u, v in _stored(app)["shares"].items()}
    assert set(shares) == set(UNITS)
    assert sum(shares.values()) == TOTAL
    others = {v for u, v in shares.items() if u != "市生态环境局"}
    assert others == {Decimal("335.71")}
    assert shares["市生态环境局"] == TOTAL - Decimal("335.71") * 6 == Decimal("335.74")

    code, out = _share(app, "项目8", "--clear")
    assert code == 0 and "已清除" in out
    assert "shares" not in _stored(app) and plans.SHARES_SET not in _stored(app)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("项目8", "拉萨市=10"), "未知单位“拉萨市”"),
        (("项目8", "巴宜区=-5"), "无法理解"),
        (("项目8", "巴宜区=2000", "朗县=400"), "超过总投资 2350"),
        (("项目2", "墨脱县=10"), "不是项目2的牵头或实施单位"),
        (("项目99", "--even"), "找不到项目"),
        (("项目8",), "--even"),
        (("项目8", "--even", "--clear"), "--even"),
    ],
)
def test_cli_refuses_bad_shares(app: App, args: tuple[str, ...], message: str) -> None:
    code, out = _share(app, *args)
    assert code != 0 and message in out, out
    assert "shares" not in _stored(app)


def test_coordinator_shares_survive_a_reimport(app: App) -> None:
    assert _share(app, "项目8", "墨脱县=300")[0] == 0
    with transaction(app.session_factory) as s:
        result = plans.import_plan(s, _doc(note="修订后的备注"), app.clock.utcnow())
    assert not result.unchanged
    extra = _stored(app)
    assert extra["shares"] == {"墨脱县": "300"} and extra[plans.SHARES_SET]["source"] == "coordinator"


# ---- shown everywhere -------------------------------------------------------------------------------------------


def test_shares_shown_in_chat_export_plan_show_and_checkin(app: App, tmp_path: Path) -> None:
    assert _share(app, "项目8", "墨脱县=300", "察隅县=400")[0] == 0
    _file(app, "墨脱县", Decimal(350))  # over its share: shown as it is
    _file(app, "市生态环境局", Decimal(1500))  # share unknown

    out = Chat(app, "协调员").send("项目8")
    assert "投资：已完成 1850 / 计划 2350 万元" in out
    line = next(x for x in out.splitlines()[3:] if x[1:].startswith("墨脱"))
    assert "投资350/300 万元（本单位份额，116.7%）" in line
    line = next(x for x in out.splitlines()[3:] if x[1:].startswith("察隅"))
    assert "—/400 万元（本单位份额，—）" in line
    line = next(x for x in out.splitlines()[3:] if x[1:].startswith("生态环境局"))
    assert "投资1500万元" in line

    out = Chat(app, "墨脱填报人").send("农村污水处理进度")
    assert "其中墨脱县：350/300 万元（本单位份额，116.7%）" in out

    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        shown = describe(s, plan, "项目8", app.clock)
    assert shown is not None
    assert "；墨脱县 350/300 万元（本单位份额，116.7%）" in shown
    assert "；察隅县 —/400 万元（本单位份额，—）" in shown and "；市生态环境局 1500" in shown

    path = tmp_path / "all.xlsx"
    export_cmd(app, path, out=io.StringIO())
    row, units, total = _project_rows(path)
    assert units["墨脱县"][4:7] == (300, 350, 116.7)
    assert units["察隅县"][4:7] == (400, None, None)
    assert units["市生态环境局"][4] == texts.EXPORT_SHARE_UNKNOWN and units["市生态环境局"][5] == 1500
    assert row[4:6] == (2350, 1850) and total[4] == 15376  # the city's planned figure stays the totals'

    c = Chat(app, "墨脱填报人")
    c.send("汇报")
    c.send("农村污水处理")
    c.pick("推进中")
    out = c.send("60%")
    assert "累计完成投资" in out and "由7个单位共同实施" in out and "本单位份额 300 万元" in out


def test_plan_show_lists_shares_before_any_report(app: App) -> None:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        before = describe(s, plan, "项目8", app.clock)
    assert before is not None and "尚未填报完成投资" in before and "本单位份额" not in before
    assert _share(app, "项目8", "墨脱县=300")[0] == 0
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        shown = describe(s, plan, "项目8", app.clock)
    assert shown is not None and "尚未填报完成投资" in shown and "；墨脱县 —/300 万元（本单位份额，—）" in shown


def test_checkin_question_without_a_share_says_nothing_of_one(app: App) -> None:
    c = Chat(app, "墨脱填报人")
    c.send("汇报")
    c.send("农村污水处理")
    c.pick("推进中")
    out = c.send("60%")
    assert "累计完成投资" in out and "共同实施" in out and "本单位份额" not in out


def test_org_workbook_planned_is_the_units_share(app: App, tmp_path: Path) -> None:
    _file(app, "墨脱县", Decimal(150))
    path = tmp_path / "motuo.xlsx"
    export_cmd(app, path, out=io.StringIO(), org="墨脱县")
    row, _, total = _project_rows(path)
    assert row[4] == texts.EXPORT_SHARE_UNKNOWN and row[5] == 150 and row[6] is None
    assert total[0] == texts.EXPORT_TOTAL and total[4] == 0 and total[5] == 150

    assert _share(app, "项目8", "墨脱县=300")[0] == 0
    path = tmp_path / "motuo2.xlsx"
    export_cmd(app, path, out=io.StringIO(), org="墨脱县")
    row, _, total = _project_rows(path)
    assert row[4:7] == (300, 150, 50)
    assert total[4] == 300 and total[5] == 150

    # The lead's own workbook: its other projects keep their whole totals, project 8 its share.
    assert _share(app, "项目8", "市生态环境局=1000")[0] == 0
    path = tmp_path / "lead.xlsx"
    export_cmd(app, path, out=io.StringIO(), org="市生态环境局")
    rows = list(load_workbook(path)[texts.EXPORT_SHEET_PROJECTS].iter_rows(min_row=3, values_only=True))
    mains = {r[0]: r for r in rows if isinstance(r[0], int)}
    assert mains[8][4] == 1000
    others = [r[4] for n, r in mains.items() if n != 8]
    assert all(isinstance(x, (int, float)) for x in others)
    assert rows[-1][4] == pytest.approx(1000 + sum(others))


def test_chat_command_for_coordinators(app: App) -> None:
    out = Chat(app, "墨脱填报人").send("份额 项目8 墨脱县 300")
    assert out == texts.NOT_ALLOWED and "shares" not in _stored(app)

    c = Chat(app, "协调员")
    out = c.send("份额 项目8 墨脱县 300")
    assert "墨脱县 300" in out and "合计 300 / 总投资 2350" in out
    out = c.send("份额 项目8 察隅县 400")  # the other units' shares are kept
    assert _stored(app)["shares"] == {"墨脱县": "300", "察隅县": "400"}
    assert _stored(app)[plans.SHARES_SET]["source"] == "coordinator" and _stored(app)[plans.SHARES_SET]["by"]
    assert "不是项目8的牵头或实施单位" in c.send("份额 项目8 拉萨市 10") and _stored(app)["shares"]["墨脱县"] == "300"
    assert "超过总投资 2350" in c.send("份额 项目8 巴宜区 2000")
    assert _stored(app)["shares"] == {"墨脱县": "300", "察隅县": "400"}
    assert "用法" in c.send("份额 项目8 很多")
    c.send("份额 项目8 平均")
    assert sum(Decimal(v) for v in _stored(app)["shares"].values()) == TOTAL
    assert "已清除" in c.send("份额 项目8 清除") and "shares" not in _stored(app)
