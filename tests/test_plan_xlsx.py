"""Plan workbooks: YAML → xlsx → plan round trip, the shipped sample workbook, problems reported by sheet and cell,
a coordinator's own spreadsheet, and the validator's cross-checks (codes, goals, group names)."""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.cli import main
from config.plan.files import load_plan_file
from config.plan.schema import Target, validate_plan_data
from config.plan.xlsx_cells import format_check, format_target, parse_check, parse_target
from config.plan.xlsx_read import read_workbook
from config.settings import DEFAULT_PLAN
from db.engine import make_engine, make_session_factory, transaction
from db.migrate import upgrade
from db.models import Item, Organisation, Plan
from db.repositories import plans

SHIPPED_XLSX = DEFAULT_PLAN.with_suffix(".xlsx")


@pytest.fixture(scope="module")
def plan_data() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped YAML exported once for this module."""
    path = tmp_path_factory.mktemp("xlsx") / "plan.xlsx"
    code = main(["plan", "export-xlsx", str(path), "--plan", str(DEFAULT_PLAN)], out=io.StringIO())
    assert code == 0
    return path


def _column(ws: Any, heading: str) -> str:
    for cell in ws[1]:
        if cell.value == heading:
            return str(cell.column_letter)
    raise AssertionError(f"no column {heading!r} in {ws.title}")


def _row_of(ws: Any, heading: str, value: Any) -> int:
    col = _column(ws, heading)
    for cell in ws[col]:
        if cell.value == value:
            return int(cell.row)
    raise AssertionError(f"{value!r} not in {ws.title}!{col}")


def _validate(path: Path) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main(["plan", "validate", str(path)], out=out)
    return code, out.getvalue().splitlines()


# ---- round trip and the shipped workbook ------------------------------------------------------------------------


def test_round_trip_yaml_xlsx_gives_the_same_plan(exported):
    doc = load_plan_file(DEFAULT_PLAN)
    data, problems = read_workbook(exported)
    assert problems == []
    again, problems = validate_plan_data(data)
    assert problems == [] and again is not None
    assert again.model_dump() == doc.model_dump()
    # The things most likely to be mangled by a spreadsheet survive exactly.
    sub = next(i for i in again.indicators if i.number == 16).sub_indicators[0]
    assert sub.key == "16.1" and sub.check is not None and sub.check.value == Decimal("90")
    task = next(t for t in again.tasks if t.code == "D06-06")
    assert task.targets[0].value == Decimal("1.2") and task.targets[0].unit == "万亩"
    assert next(i for i in again.indicators if i.number == 8).target == "100"


def test_shipped_workbook_is_up_to_date_with_the_yaml(exported):
    fresh = openpyxl.load_workbook(exported)
    shipped = openpyxl.load_workbook(SHIPPED_XLSX)
    assert shipped.sheetnames == fresh.sheetnames
    for ws in fresh.worksheets:
        theirs = [list(r) for r in shipped[ws.title].iter_rows(values_only=True)]
        ours = [list(r) for r in ws.iter_rows(values_only=True)]
        assert theirs == ours, f"{SHIPPED_XLSX.name}!{ws.title} is stale: run `duban plan export-xlsx {SHIPPED_XLSX}`"


def test_workbook_uses_the_annex_headings_and_is_printable(exported):
    wb = openpyxl.load_workbook(exported)
    projects = wb["年度工程清单"]
    assert [c.value for c in projects[1]][:6] == [
        "序号",
        "项目名称",
        "建设内容",
        "总投资(万元)",
        "实施年限",
        "牵头单位",
    ]
    indicators = wb["指标分工任务"]
    assert [c.value for c in indicators[1]][:9] == [
        "领域",
        "任务",
        "序号",
        "指标名称",
        "单位",
        "指标值",
        "2023年目标",
        "指标解释",
        "责任部门",
    ]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold
        assert ws.column_dimensions["A"].width > 5
    assert projects["C2"].alignment.wrap_text
    # Sub-indicators follow their indicator with a "12.1" number kept as text.
    row = _row_of(indicators, "序号", "12.1")
    assert indicators[f"C{row - 1}"].value == 12
    # The annex's total row is there and is the sum.
    total = _row_of(projects, "序号", "合计")
    assert projects[f"D{total}"].value == 15376


def test_shipped_workbook_imports_with_the_same_counts_as_the_yaml(empty_db_url):
    engine = make_engine(empty_db_url)
    try:
        upgrade(engine)
        factory = make_session_factory(engine)
        doc = load_plan_file(SHIPPED_XLSX)
        with transaction(factory) as s:
            plans.import_plan(s, doc, dt.datetime(2023, 3, 3, 1, 0))
        with factory() as s:
            plan = plans.active_plan(s)
            assert plan is not None and plan.key == "linzhi-2023"
            ov = plans.overview(s, plan)
            assert (ov.counties, ov.departments_with_tasks, ov.projects, ov.indicators) == (7, 13, 9, 41)
            assert ov.investment_total == Decimal("15376")
            yaml_doc = load_plan_file(DEFAULT_PLAN)
            assert (
                ov.tasks == len(yaml_doc.tasks)
                and ov.goals == len(yaml_doc.goals)
                and ov.events == len(yaml_doc.events)
            )
            # Same plan digest: importing the YAML afterwards changes nothing.
            result = plans.import_plan(s, yaml_doc, dt.datetime(2023, 3, 3, 1, 0))
            assert result.unchanged
    finally:
        engine.dispose()


# ---- problems, by sheet and cell --------------------------------------------------------------------------------


def _broken_workbook(source: Path, target: Path) -> dict[str, str]:
    """The shipped workbook with four mistakes; returns where each one is."""
    wb = openpyxl.load_workbook(source)
    ws = wb["年度工程清单"]
    invest, lead, number = _column(ws, "总投资(万元)"), _column(ws, "牵头单位"), _column(ws, "序号")
    ws[f"{invest}3"] = "约两千"  # project 2
    ws[f"{lead}5"] = "市环保总局"  # project 4: projects[3].lead
    ws[f"{number}8"] = 5  # project 7 numbered like project 5
    del wb["宣传活动"]
    wb.save(target)
    return {"number": f"年度工程清单!{invest}3", "lead": f"年度工程清单!{lead}5", "dup": f"年度工程清单!{number}8"}


def test_validate_lists_every_problem_of_a_workbook_with_its_cell(exported, tmp_path):
    bad = tmp_path / "bad.xlsx"
    where = _broken_workbook(exported, bad)
    code, lines = _validate(bad)
    assert code == 1
    problems, summary = lines[:-1], lines[-1]
    assert summary == "共 4 处问题，未写入任何数据。"

    def line(place: str) -> str:
        found = [p for p in problems if p.startswith(place + ":")]
        assert len(found) == 1, (place, problems)
        return found[0]

    assert "总投资(万元) 应为数字" in line(where["number"]) and "约两千" in line(where["number"])
    assert "牵头单位" in line(where["lead"]) and "未知单位“市环保总局”" in line(where["lead"])
    assert "重复" in line(where["dup"]) and "年度工程清单!A6" in line(where["dup"])
    assert any("缺少工作表“宣传活动”" in p for p in problems)


def test_importing_a_broken_workbook_writes_nothing(exported, empty_db_url, tmp_path, capsys):
    bad = tmp_path / "bad.xlsx"
    where = _broken_workbook(exported, bad)
    argv = ["--database-url", empty_db_url, "--data-dir", str(tmp_path / "data"), "--now", "2023-05-24T09:00"]
    assert main([*argv, "init", "--plan", str(bad)], out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert where["lead"] in err and "缺少工作表" in err
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as c:
            assert c.execute(select(func.count()).select_from(Plan)).scalar() == 0
            assert c.execute(select(func.count()).select_from(Organisation)).scalar() == 0
            assert c.execute(select(func.count()).select_from(Item)).scalar() == 0
    finally:
        engine.dispose()


def test_cell_and_row_problems_in_every_sheet(exported, tmp_path):
    wb = openpyxl.load_workbook(exported)
    wb["计划"]["B5"] = "2023年13月1日"  # 开始日期
    tasks = wb["重点任务"]
    tasks[f"{_column(tasks, '截止日期')}4"] = "五月底"
    tasks[f"{_column(tasks, '责任单位')}6"] = "墨托县、各县区"
    tasks[f"{_column(tasks, '对应目标')}7"] = "G9"
    tasks[f"{_column(tasks, '量化目标')}8"] = "大约十个"
    tasks[f"{_column(tasks, '章节')}9"] = None
    ind = wb["指标分工任务"]
    sub = _row_of(ind, "序号", "12.1")
    ind[f"{_column(ind, '责任部门')}{sub}"] = "市林草局"
    ind[f"{_column(ind, '判定')}{sub + 1}"] = "约80"
    wb["单位组"]["B2"] = "边境4县、巴宜"  # an organisation's short name used as a group alias
    orgs = wb["单位"]
    orgs[f"{_column(orgs, '类型')}3"] = "乡镇"
    events = wb["宣传活动"]
    events[f"{_column(events, '月')}2"] = 13
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    code, lines = _validate(bad)
    assert code == 1
    text = "\n".join(lines)
    expected = [
        r"计划!B5: 开始日期 应为日期.*2023年13月1日",
        r"单位!B3: 类型 应为以下之一.*乡镇",
        r"单位组!B2: 别名：单位组名称“巴宜”与单位“巴宜区”",
        r"重点任务!H4: 截止日期 应为日期.*五月底",
        r"重点任务!F6: 责任单位：未知单位“墨托县”",
        r"重点任务!K7: 对应目标：未知的年度目标“G9”",
        r"重点任务!I8: 量化目标 第1条“大约十个”无法识别",
        r"重点任务!B9: 章节：不能为空",
        rf"指标分工任务!I{sub}: 责任部门 分项指标行不填此列（填在第{sub - 1}行",
        rf"指标分工任务!K{sub + 1}: 判定 应为",
        r"宣传活动!C2: 月 应为月份",
    ]
    for pattern in expected:
        assert re.search(pattern, text), (pattern, text)
    assert lines[-1] == f"共 {len(expected)} 处问题，未写入任何数据。"


def test_structure_problems_missing_column_unknown_column_and_total(exported, tmp_path):
    wb = openpyxl.load_workbook(exported)
    ws = wb["年度工程清单"]
    ws[f"{_column(ws, '牵头单位')}1"] = "牵头部门"  # not a heading the importer knows
    ws[f"{_column(ws, '总投资(万元)')}2"] = 1000  # project 1 was 1620: the 合计 row no longer adds up
    ws = wb["单位"]
    ws.delete_rows(1)  # no heading row at all
    bad = tmp_path / "bad.xlsx"
    wb.save(bad)
    code, lines = _validate(bad)
    assert code == 1
    text = "\n".join(lines)
    assert "单位: 找不到表头" in text
    assert "年度工程清单!F1: 未知的列“牵头部门”" in text
    assert "年度工程清单: 缺少列“牵头单位”" in text
    assert re.search(r"年度工程清单!D11: 合计 15376 与各项目总投资之和 14756 不一致", text)
    # No echo of every row's missing 牵头单位, nor of every reference to an organisation.
    assert len(lines) == 5, text


def test_not_a_workbook(tmp_path):
    fake = tmp_path / "plan.xlsx"
    fake.write_text("not a zip", encoding="utf-8")
    code, lines = _validate(fake)
    assert code == 1 and lines[0].startswith("plan.xlsx: 无法打开 Excel 工作簿")


# ---- a coordinator's own spreadsheet ----------------------------------------------------------------------------


def _coordinator_workbook(path: Path) -> None:
    """Next year's plan typed by hand: annex title rows, reordered columns, full-width brackets, merged cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "计划"
    for row in [
        ("计划编号", "linzhi-2024"),
        ("标题", "林芝市2024年工作计划"),
        ("年度", "2024年"),
        ("开始日期", "2024/3/1"),
        ("结束日期", dt.datetime(2024, 12, 31)),
        ("文号", "林环发〔2024〕1号"),
    ]:
        ws.append(row)
    ws = wb.create_sheet("责任单位")
    ws.append(["名称", " 类型 ", "简称", "别名"])
    ws.append(["巴宜区", "county", "巴宜", "林芝市巴宜区"])
    ws.append(["市生态环境局", "市直部门", "生态环境局", "市环保局，环保局"])
    ws.append(["市林草局", "市直部门", "林草局", None])
    ws = wb.create_sheet("单位组")
    ws.append(["名称", "成员"])
    ws.append(["市直成员单位", "市生态环境局、市林草局"])
    ws = wb.create_sheet("年度目标")
    ws.append(["编号", "标题", "内容"])
    ws.append(["G1", "巩固成果", "巩固提升示范市创建成果。"])
    ws = wb.create_sheet("重点任务")
    ws.append(["编号", "章节", "任务", "责任单位", "截止日期", "量化目标", "对应目标"])
    ws.append(["D01-01", "三 1", "完成国土绿化1万亩", "市林草局", "2024年6月30日", "≥1万亩；完成国土绿化1万亩", "G1"])
    ws.append(["S-01", "工作要求", "报送年度总结", "巴宜区、市直成员单位", None, None, None])
    ws = wb.create_sheet("附件1")
    ws.append(["附件1  林芝市2024年生态文明建设工程任务清单"])
    ws.merge_cells("A1:F1")
    ws.append(["序号", "项目名称", " 牵头单位", "实施年限", "总投资（万元）", "建设内容"])
    ws.append([1, "湿地保护项目", "市生态环境局", "2023—2024年", "1,200", "新建监测站。"])
    ws.append(["2", "国土绿化项目", "市林草局", 2024, 300.5, "植树造林。"])
    ws.append(["合计", None, None, None, 1500.5, None])
    ws = wb.create_sheet("指标任务分解表")
    ws.append(["领域", "任务", "序号", "指标名称", "单位", "指标值", "2024年目标", "指标解释", "责任部门"])
    ws.append(["生态环境", "(三)生态系统保护", 1, "林草覆盖率", "%", "≥60", "≥60", "林草覆盖面积占比。", "市林草局"])
    ws.append([None, None, 2, "生物多样性保护", None, "①≥90；②不明显", "①≥90；②不明显", "①…②…", "市林草局"])
    ws.append([None, None, 2.1, "重点保护野生动植物保护率", "%", "≥90", "≥90", None, None])
    ws.append([None, None, "2.2", "外来入侵物种", None, "不明显", "不明显", None, None])
    ws.merge_cells("A2:A5")
    ws.merge_cells("B2:B5")
    ws = wb.create_sheet("宣传活动")
    ws.append(["编号", "名称", "月", "日", "责任单位"])
    ws.append(["E-01", "6·5世界环境日", "6月", "5日", "市生态环境局"])
    wb.save(path)


def test_a_coordinators_spreadsheet_is_read(tmp_path):
    path = tmp_path / "plan-2024.xlsx"
    _coordinator_workbook(path)
    data, problems = read_workbook(path)
    assert problems == []
    doc, problems = validate_plan_data(data)
    assert problems == [] and doc is not None
    assert (
        doc.plan.year == 2024 and doc.plan.start == dt.date(2024, 3, 1) and doc.plan.document_no == "林环发〔2024〕1号"
    )
    assert doc.organisations[0].kind == "county" and doc.organisations[1].aliases == ["市环保局", "环保局"]
    assert doc.tasks[0].due == dt.date(2024, 6, 30) and doc.tasks[0].goal == "G1"
    assert doc.tasks[0].targets[0].model_dump() == {
        "value": Decimal(1),
        "unit": "万亩",
        "op": ">=",
        "text": "完成国土绿化1万亩",
    }
    assert doc.tasks[1].assignees == ["巴宜区", "市直成员单位"]
    p1, p2 = doc.projects
    assert (p1.number, p1.investment, p1.years, p1.start_year, p1.end_year, p1.lead) == (
        1,
        Decimal("1200"),
        "2023—2024年",
        2023,
        2024,
        "市生态环境局",
    )
    assert (p2.number, p2.investment, p2.start_year, p2.end_year) == (2, Decimal("300.5"), 2024, 2024)
    i1, i2 = doc.indicators
    assert i1.domain == i2.domain == "生态环境" and i2.category == "(三)生态系统保护"
    assert i1.target_year == "≥60" and i1.check is None
    assert [s.key for s in i2.sub_indicators] == ["2.1", "2.2"]
    assert i2.sub_indicators[0].unit == "%" and i2.sub_indicators[1].target == "不明显"
    assert (doc.events[0].month, doc.events[0].day) == (6, 5)


def test_a_coordinators_spreadsheet_with_an_unknown_group(tmp_path):
    path = tmp_path / "plan-2024.xlsx"
    _coordinator_workbook(path)
    wb = openpyxl.load_workbook(path)
    wb["重点任务"]["D3"] = "各县区、市直成员单位"  # 各县区 is not a group of this workbook
    wb.save(path)
    code, lines = _validate(path)
    assert code == 1
    assert lines[0] == "重点任务!D3: 责任单位：未知单位“各县区”（应为“单位”表中的名称，或“单位组”表中的名称、别名）"


# ---- the cell syntaxes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "≥1.2万亩；完成国土绿化1.2万亩",
            {"op": ">=", "value": Decimal("1.2"), "unit": "万亩", "text": "完成国土绿化1.2万亩"},
        ),
        (">= 7000 人", {"op": ">=", "value": Decimal("7000"), "unit": "人"}),
        ("＝1个;每县一个", {"op": "=", "value": Decimal("1"), "unit": "个", "text": "每县一个"}),
        ("≤0%；零增长；即不超过0", {"op": "<=", "value": Decimal("0"), "unit": "%", "text": "零增长；即不超过0"}),
        ("文字；建立长效机制", {"op": "text", "text": "建立长效机制"}),
        ("16家", {"value": Decimal("16"), "unit": "家"}),
    ],
)
def test_target_lines(line, expected):
    assert parse_target(line) == expected


@pytest.mark.parametrize("line", ["大约十个", "完成国土绿化；1万亩", "；"])
def test_target_lines_that_are_not_targets(line):
    with pytest.raises(ValueError):
        parse_target(line)


def test_checks():
    assert parse_check(">=80") == parse_check("≥80") == parse_check("80") == {"op": ">=", "value": Decimal("80")}
    assert parse_check("≥80%") == {"op": ">=", "value": Decimal("80")}
    assert parse_check("文字") == {"op": "text"}
    assert parse_check("＜5") == {"op": "<", "value": Decimal("5")}
    for bad in ("约80", "≥80万亩", ""):
        with pytest.raises(ValueError):
            parse_check(bad)
    assert format_check(None) is None


_UNITS = st.sampled_from([None, "个", "万亩", "%", "吨标准煤/万元", "m³", "千克"])
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=20)


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    op=st.sampled_from([">=", ">", "<=", "<", "=", "text"]),
    value=st.none() | st.decimals(min_value=-(10**6), max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
    unit=_UNITS,
    text=_TEXT,
)
def test_target_syntax_round_trips(op, value, unit, text):
    t = Target(op=op, value=value, unit=unit, text=text.strip() or None)  # the schema strips whitespace
    assert Target(**parse_target(format_target(t))) == t


# ---- validator cross-checks (YAML key paths) --------------------------------------------------------------------


def _problems(data: dict[str, Any]) -> list[str]:
    _doc, problems = validate_plan_data(data)
    return [str(p) for p in problems]


def _has(problems: list[str], where: str, *words: str) -> bool:
    return any(p.startswith(where + ":") and all(w in p for w in words) for p in problems)


def test_codes_are_unique_across_the_whole_plan(plan_data):
    data = copy.deepcopy(plan_data)
    data["tasks"][3]["code"] = "G1"  # a task named like a goal
    data["tasks"][4]["code"] = "P3"  # … like project 3's generated code
    data["events"][1]["code"] = data["events"][0]["code"]
    data["goals"][1]["code"] = data["goals"][0]["code"]
    for t in data["tasks"]:  # keep the tasks of the renamed goal pointing at a goal
        if t.get("goal") == plan_data["goals"][1]["code"]:
            t["goal"] = data["goals"][0]["code"]
    i16 = next(i for i, ind in enumerate(data["indicators"]) if ind["number"] == 16)
    data["indicators"][i16]["sub_indicators"][1]["key"] = "16.1"
    data["indicators"][i16]["sub_indicators"][2]["key"] = "17"  # would be indicator 17's code I17
    problems = _problems(data)
    assert _has(problems, "goals[1].code", "“G1”", "goals[0].code")
    assert _has(problems, "tasks[3].code", "“G1”", "goals[0].code")
    assert _has(problems, "projects[2].number", "“P3”", "tasks[4].code")
    assert _has(problems, "events[1].code", "重复", "events[0].code")
    assert _has(problems, f"indicators[{i16}].sub_indicators[1].key", "“I16.1”", "重复")
    assert _has(problems, f"indicators[{i16}].sub_indicators[2].key", "16.1")  # not of the form 16.n
    assert len(problems) == 7, problems  # 17 also clashes with I17: one more, and nothing else


def test_task_goal_must_name_a_goal(plan_data):
    data = copy.deepcopy(plan_data)
    data["tasks"][0]["goal"] = "G9"
    assert _problems(data) == ["tasks[0].goal: 未知的年度目标“G9”（应为 goals 中的 code）"]


def test_group_names_do_not_collide_with_organisations_or_each_other(plan_data):
    data = copy.deepcopy(plan_data)
    data["groups"][0]["name"] = "墨脱县"  # an organisation's name
    data["groups"][1]["aliases"].append("环保局")  # an organisation's alias
    data["groups"][2]["aliases"].append("边境4县")  # another group's alias
    # Keep references to the renamed group valid, so only the collisions are reported.
    old = plan_data["groups"][0]["name"]
    for coll, key in (
        ("tasks", "assignees"),
        ("projects", "assignees"),
        ("indicators", "responsible"),
        ("events", "responsible"),
    ):
        for entry in data[coll]:
            if old in entry.get(key, []):
                entry[key] = ["墨脱县" if a == old else a for a in entry[key]]
    problems = _problems(data)
    n = len(plan_data["groups"][1]["aliases"])
    assert _has(problems, "groups[0].name", "“墨脱县”", "单位“墨脱县”")
    assert _has(problems, f"groups[1].aliases[{n}]", "“环保局”", "市生态环境局")
    assert _has(problems, f"groups[2].aliases[{len(plan_data['groups'][2]['aliases'])}]", "“边境4县”", "单位组")
    assert len(problems) == 3, problems


def test_over_long_entries_are_reported_before_the_database_sees_them(plan_data):
    data = copy.deepcopy(plan_data)
    data["tasks"][0]["section"] = "章" * 201
    data["organisations"][0]["short"] = "简" * 51
    assert sorted(_problems(data)) == [
        "organisations[0].short: 太长：51 个字，最多 50 个字",
        "tasks[0].section: 太长：201 个字，最多 200 个字",
    ]
