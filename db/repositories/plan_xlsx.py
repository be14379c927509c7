"""Plan workbooks (.xlsx): write a plan as a spreadsheet a coordinator can edit, and read one back.

The workbook has one sheet per part of the plan; 年度工程清单 and 指标分工任务 use the column headings of the
plan's annexes (附件1, 附件2), so a coordinator can paste next year's annex tables in. Columns are found by
their heading (any order, surrounding spaces and full-width brackets tolerated). `read_workbook` reports
every problem with its sheet and cell, then runs the plan validator and translates its key paths back to
cells. The layout is documented in docs/plan-format.md ("Plan workbook").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ValidationError

from config.plan_schema import (
    Check,
    Event,
    Goal,
    Group,
    Indicator,
    Organisation,
    PlanDocument,
    PlanMeta,
    PlanProblem,
    Project,
    SubIndicator,
    Target,
    Task,
    validate_plan_data,
)

# ---- layout -------------------------------------------------------------------------------------------------

PLAN_SHEET = "计划"
ORG_SHEET = "单位"
GROUP_SHEET = "单位组"
GOAL_SHEET = "年度目标"
TASK_SHEET = "重点任务"
PROJECT_SHEET = "年度工程清单"
INDICATOR_SHEET = "指标分工任务"
EVENT_SHEET = "宣传活动"
HELP_SHEET = "填写说明"

# Sheet names a coordinator's own workbook may use instead (the annexes' titles).
SHEET_ALIASES: dict[str, tuple[str, ...]] = {
    PLAN_SHEET: ("计划信息",),
    ORG_SHEET: ("责任单位",),
    GROUP_SHEET: (),
    GOAL_SHEET: (),
    TASK_SHEET: ("年度重点任务",),
    PROJECT_SHEET: ("工程任务清单", "年度工程任务清单", "附件1"),
    INDICATOR_SHEET: ("指标任务分解表", "指标任务分工", "附件2"),
    EVENT_SHEET: ("宣传活动安排",),
}

# Text kinds of cells; each has a reader (cell value → document value) and a writer (document value → cell).
STR, INT, DECIMAL, DATE, LIST, TARGETS, CHECK, YEARS, ORG_KIND, NUMBER_KEY, MONTH, DAY = (
    "str",
    "int",
    "decimal",
    "date",
    "list",
    "targets",
    "check",
    "years",
    "org_kind",
    "number_key",
    "month",
    "day",
)


@dataclass(frozen=True)
class Column:
    """One column of a sheet: the document field it holds and how its cells are read and written."""

    field: str
    header: str
    kind: str = STR
    width: int = 14
    required: bool = False  # the schema requires the field, so the column must be there
    aliases: tuple[str, ...] = ()
    pattern: str | None = None  # regex on the normalised heading, for headings that carry the year


@dataclass(frozen=True)
class SheetSpec:
    name: str
    collection: str
    columns: tuple[Column, ...]

    def column(self, field_name: str) -> Column | None:
        return next((c for c in self.columns if c.field == field_name), None)


ORG_KIND_LABELS: dict[str, str] = {
    "county": "县（区）",
    "department": "市直部门",
    "office": "党委办事机构",
    "government": "人民政府",
    "branch": "分局",
    "other": "其他",
}

SHEETS: tuple[SheetSpec, ...] = (
    SheetSpec(
        ORG_SHEET,
        "organisations",
        (
            Column("name", "名称", width=26, required=True, aliases=("单位名称", "规范名称")),
            Column("kind", "类型", ORG_KIND, width=12, required=True),
            Column("short", "简称", width=12),
            Column("aliases", "别名", LIST, width=40),
            Column("former_names", "曾用名", LIST, width=20),
            Column("parent", "上级单位", width=16),
            Column("note", "备注", width=50),
        ),
    ),
    SheetSpec(
        GROUP_SHEET,
        "groups",
        (
            Column("name", "名称", width=14, required=True, aliases=("单位组",)),
            Column("aliases", "别名", LIST, width=30),
            Column("members", "成员", LIST, width=90, required=True),
        ),
    ),
    SheetSpec(
        GOAL_SHEET,
        "goals",
        (
            Column("code", "编号", width=8, required=True),
            Column("title", "标题", width=30, required=True),
            Column("text", "内容", width=70, required=True),
            Column("targets", "量化目标", TARGETS, width=40),
        ),
    ),
    SheetSpec(
        TASK_SHEET,
        "tasks",
        (
            Column("code", "编号", width=10, required=True),
            Column("section", "章节", width=24, required=True),
            Column("title", "任务", width=44, required=True),
            Column("short", "简称", width=14),
            Column("text", "原文", width=50),
            Column("assignees", "责任单位", LIST, width=24, required=True),
            Column("start", "开始日期", DATE, width=12),
            Column("due", "截止日期", DATE, width=12, aliases=("完成时限",)),
            Column("targets", "量化目标", TARGETS, width=30),
            Column("keywords", "关键词", LIST, width=20),
            Column("goal", "对应目标", width=9),
            Column("note", "备注", width=30),
        ),
    ),
    SheetSpec(
        PROJECT_SHEET,
        "projects",
        (
            Column("number", "序号", INT, width=6, required=True),
            Column("name", "项目名称", width=30, required=True),
            Column("content", "建设内容", width=60, required=True),
            Column("investment", "总投资(万元)", DECIMAL, width=12, required=True, aliases=("总投资",)),
            Column("years", "实施年限", YEARS, width=12, required=True),
            Column("lead", "牵头单位", width=20, required=True),
            Column("short", "简称", width=12),
            Column("assignees", "实施单位", LIST, width=20),
            Column("keywords", "关键词", LIST, width=16),
            Column("due", "完成时限", DATE, width=12),
            Column("note", "备注", width=30),
        ),
    ),
    SheetSpec(
        INDICATOR_SHEET,
        "indicators",
        (
            Column("domain", "领域", width=10, required=True),
            Column("category", "任务", width=18, required=True),
            Column("number", "序号", NUMBER_KEY, width=6, required=True),
            Column("name", "指标名称", width=30, required=True),
            Column("unit", "单位", width=10),
            Column("target", "指标值", width=18, required=True),
            Column("target_year", "年度目标", width=18, required=True, pattern=r"\d{4}年目标"),
            Column("explanation", "指标解释", width=60, required=True),
            Column("responsible", "责任部门", LIST, width=22),
            Column("short", "简称", width=12),
            Column("check", "判定", CHECK, width=8),
            Column("keywords", "关键词", LIST, width=16),
            Column("note", "备注", width=30),
        ),
    ),
    SheetSpec(
        EVENT_SHEET,
        "events",
        (
            Column("code", "编号", width=8, required=True),
            Column("name", "名称", width=24, required=True),
            Column("month", "月", MONTH, width=6, required=True),
            Column("day", "日", DAY, width=6),
            Column("responsible", "责任单位", LIST, width=24, required=True),
            Column("text", "说明", width=60),
        ),
    ),
)
SPEC_BY_COLLECTION: dict[str, SheetSpec] = {s.collection: s for s in SHEETS}

# 计划 is a key/value sheet: one row per field, the label in column A and the value in column B.
PLAN_FIELDS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("key", "计划编号", STR, ("编号",), "小写字母、数字、-、_，如 linzhi-2024；同一编号再次导入即更新该计划"),
    ("title", "标题", STR, ("计划名称", "名称"), "计划全称"),
    ("year", "年度", INT, ("年份",), "如 2024"),
    ("start", "开始日期", DATE, ("印发日期",), "计划起始日（印发日期）"),
    ("end", "结束日期", DATE, (), "通常为 12 月 31 日"),
    ("issuer", "印发单位", STR, (), ""),
    ("document_no", "文号", STR, (), "如 林环发〔2023〕8号"),
    ("summary_due", "总结报送日期", DATE, ("总结报送时限",), "年度总结报送截止日"),
)
PLAN_HEADER = ("项目", "内容", "说明")

SHEET_ORDER: tuple[str, ...] = (PLAN_SHEET, *(s.name for s in SHEETS))

# Paths of the validator name fields that the workbook shows in another column.
_FIELD_COLUMN = {"key": "number", "start_year": "years", "end_year": "years"}
# Fields that refer to organisations or groups: when their sheets are missing these problems are only echoes.
_REFERENCE_FIELDS = {"parent", "members", "assignees", "lead", "responsible"}
_TOTAL_LABELS = {"合计", "总计", "小计", "总投资"}

# ---- small syntaxes: lists, targets, checks, years ------------------------------------------------------------

_LIST_SPLIT = re.compile(r"[、，,；;\n]+")
_OP_WRITE = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "＝", "text": "文字"}
_OP_READ = {
    "≥": ">=",
    ">=": ">=",
    "=>": ">=",
    "≧": ">=",
    ">": ">",
    "＞": ">",
    "≤": "<=",
    "<=": "<=",
    "=<": "<=",
    "≦": "<=",
    "<": "<",
    "＜": "<",
    "=": "=",
    "＝": "=",
    "==": "=",
    "文字": "text",
    "text": "text",
}
_OP_RE = "|".join(sorted((re.escape(k) for k in _OP_READ), key=len, reverse=True))
_SPEC_RE = re.compile(rf"^(?P<op>{_OP_RE})?\s*(?P<value>[+-]?\d+(?:\.\d+)?)?\s*(?P<unit>\S.*)?$")
_YEARS_RE = re.compile(r"^(\d{4})\s*年?\s*(?:[-－—–~～至到]+\s*(\d{4})\s*年?)?(?:度)?$")
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_NUMBER_KEY_RE = re.compile(r"^(\d+)\.(\d+)$")


def _num(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 7000, 1.2, 0."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def format_target(t: Target) -> str:
    """One target as one line: `≥1.2万亩；原文`, `文字；原文`. See docs/plan-format.md."""
    spec = _OP_WRITE[t.op] + (_num(t.value) if t.value is not None else "") + (t.unit or "")
    return spec + (f"；{t.text}" if t.text else "")


def parse_target(line: str) -> dict[str, Any]:
    """Read one target line; raises ValueError with a Chinese explanation."""
    m = re.search(r"[；;]", line)
    spec, text = (line[: m.start()], line[m.end() :]) if m else (line, "")
    spec, text = spec.strip(), text.strip()
    sm = _SPEC_RE.match(spec)
    # A unit needs a comparison or a number before it, so that plain prose is not taken for a unit.
    if sm is None or (not spec and not text) or (sm.group("unit") and not (sm.group("op") or sm.group("value"))):
        raise ValueError(f"“{line}”无法识别，应为“≥1.2万亩；原文”或“文字；原文”的形式")
    out: dict[str, Any] = {}
    if sm.group("op"):
        out["op"] = _OP_READ[sm.group("op")]
    if sm.group("value") is not None:
        out["value"] = Decimal(sm.group("value"))
    if sm.group("unit"):
        out["unit"] = sm.group("unit").strip()
    if text:
        out["text"] = text
    return out


def format_check(c: Check | None) -> str | None:
    if c is None:
        return None
    return _OP_WRITE[c.op] + (_num(c.value) if c.value is not None else "")


def parse_check(text: str) -> dict[str, Any]:
    sm = _SPEC_RE.match(text.strip())
    # "≥80%" is accepted: the unit of an indicator is in its own column.
    if sm is None or sm.group("unit") not in (None, "%") or not (sm.group("op") or sm.group("value")):
        raise ValueError(f"应为“≥80”“>20”“≤5”“＝1”或“文字”，而不是“{text}”")
    out: dict[str, Any] = {"op": _OP_READ[sm.group("op")] if sm.group("op") else ">="}
    if sm.group("value") is not None:
        out["value"] = Decimal(sm.group("value"))
    return out


def parse_years(text: str) -> tuple[int, int]:
    m = _YEARS_RE.match(text.strip())
    if m is None:
        raise ValueError(f"应为“2023年”或“2022-2023年”，而不是“{text}”")
    start = int(m.group(1))
    return start, int(m.group(2) or start)


def _split_list(text: str) -> list[str]:
    return [p.strip() for p in _LIST_SPLIT.split(text) if p.strip()]


# ---- writing ------------------------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")


def _cell_value(kind: str, value: Any) -> Any:
    if value is None or value == []:
        return None
    if kind == LIST:
        return "、".join(value)
    if kind == TARGETS:
        return "\n".join(format_target(t) for t in value)
    if kind == CHECK:
        return format_check(value)
    if kind == ORG_KIND:
        return ORG_KIND_LABELS[value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _put(ws: Worksheet, row: int, col: int, value: Any) -> Cell:
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text such as "＝1" typed as "=1" must stay text, not become a formula
    if isinstance(value, dt.date):
        cell.number_format = "yyyy-mm-dd"
    cell.alignment = _WRAP
    cell.border = _BORDER
    return cell


def _header(ws: Worksheet, headers: Iterable[str], widths: Iterable[int]) -> None:
    for col, (text, width) in enumerate(zip(headers, widths, strict=False), start=1):
        cell = _put(ws, 1, col, text)
        cell.font, cell.fill, cell.alignment = _HEADER_FONT, _HEADER_FILL, _HEADER_ALIGN
        ws.column_dimensions[get_column_letter(col)].width = width
    print_layout(ws)


def print_layout(ws: Worksheet) -> None:
    """Frozen header row repeated on every printed page, A4 landscape, fitted to the page width."""
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _headers(spec: SheetSpec, year: int | None) -> list[str]:
    """The headings written for a plan year (None: as shown in messages, `YYYY年目标`)."""
    return [f"{year or 'YYYY'}年目标" if c.pattern else c.header for c in spec.columns]


def _write_rows(ws: Worksheet, spec: SheetSpec, rows: Iterable[dict[str, Any]], year: int) -> int:
    _header(ws, _headers(spec, year), (c.width for c in spec.columns))
    r = 1
    for values in rows:
        r += 1
        for col, c in enumerate(spec.columns, start=1):
            _put(ws, r, col, _cell_value(c.kind, values.get(c.field)))
    if r > 1:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(spec.columns))}{r}"
    return r


def write_workbook(doc: PlanDocument, path: str | Path) -> None:
    """Write `doc` as a workbook that `read_workbook` reads back to an equal document."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = PLAN_SHEET
    _header(ws, PLAN_HEADER, (16, 50, 50))
    for r, (name, label, _kind, _aliases, help_text) in enumerate(PLAN_FIELDS, start=2):
        _put(ws, r, 1, label).font = _HEADER_FONT
        _put(ws, r, 2, getattr(doc.plan, name))
        _put(ws, r, 3, help_text or None)

    year = doc.plan.year
    for spec in SHEETS:
        ws = wb.create_sheet(spec.name)
        if spec.collection == "indicators":
            rows: list[dict[str, Any]] = []
            for ind in doc.indicators:
                rows.append(dict(ind))
                for sub in ind.sub_indicators:
                    rows.append({**dict(sub), "number": sub.key})
            _write_rows(ws, spec, rows, year)
        elif spec.collection == "projects":
            last = _write_rows(ws, spec, (dict(p) for p in doc.projects), year)
            if doc.projects:
                # The annex ends with a total row; the reader skips it and checks it against the sum.
                _put(ws, last + 1, 1, "合计").font = _HEADER_FONT
                col = [c.field for c in spec.columns].index("investment") + 1
                _put(
                    ws, last + 1, col, _cell_value(DECIMAL, sum((p.investment for p in doc.projects), Decimal(0)))
                ).font = _HEADER_FONT
        else:
            _write_rows(ws, spec, (dict(e) for e in getattr(doc, spec.collection)), year)

    ws = wb.create_sheet(HELP_SHEET)
    _header(ws, ("填写说明",), (120,))
    for r, line in enumerate(HELP_LINES, start=2):
        _put(ws, r, 1, line)
    # Fixed document properties keep regenerated files comparable.
    stamp = dt.datetime.combine(doc.plan.start, dt.time())
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "duban"
    wb.properties.title = doc.plan.title
    wb.save(Path(path))


HELP_LINES: tuple[str, ...] = (
    "本工作簿由 duban plan export-xlsx 生成，修改后可用 duban plan validate 文件名 校验、duban plan import 文件名 导入。",
    "各表按表头文字识别列（顺序可调整，全角括号、首尾空格均可），请勿改动表头文字；不认识的列会被报告为错误。",
    "多个单位、别名、关键词用顿号“、”分隔（也可用逗号、分号或换行）；单位一律写“单位”表中的名称，任务、指标、活动的责任单位也可写单位组名称或其别名。",
    "日期写成 2023-05-31（或设为日期格式）；截止日期留空表示计划年度结束时。",
    "量化目标每行一条：比较符、数值、单位，再用“；”接原文，如“≥1.2万亩；完成国土绿化1.2万亩”。比较符可写 ≥ >= > ≤ <= < ＝；非数值目标写“文字；原文”。",
    "判定（指标达标规则）写“≥80”“>20”“≤5”“＝1”，由人判断的写“文字”；有分项指标的主指标留空。",
    "年度工程清单：实施年限写“2023年”或“2022-2023年”；最后的“合计”行不导入，但其金额须等于各项目总投资之和（可删去该行）。",
    "指标分工任务：分项指标紧跟在主指标之后，序号写成“12.1”“12.2”（请以文本输入）；分项指标行只填指标名称、单位、指标值、年度目标、指标解释、判定。领域、任务为空时沿用上一行（可合并单元格）。",
    "单位类型：县（区）、市直部门、党委办事机构、人民政府、分局、其他。",
)


# ---- reading ------------------------------------------------------------------------------------------------


def _norm(text: Any) -> str:
    """Normalise a heading or sheet name: full-width → half-width, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower() if text is not None else ""


# A plan window wide enough that no task date is reported against a plan date that could not be read.
_PLAN_PLACEHOLDER: dict[str, Any] = {
    "key": "x",
    "title": "?",
    "year": 2000,
    "start": dt.date(2000, 1, 1),
    "end": dt.date(2100, 12, 31),
}


class _CellError(ValueError):
    pass


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def _float_text(value: float) -> str:
    """A float as Excel shows it (15 significant digits), so 0.1+0.2 reads as 0.3 and 12.0 as 12."""
    text = format(value, ".15g")
    return text if "e" not in text else format(Decimal(text), "f")


def _as_int(value: Any, what: str = "整数") -> int:
    if isinstance(value, bool):
        raise _CellError(f"应为{what}，而不是“{value}”")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _as_text(value) or ""
    m = re.fullmatch(r"(\d+)\s*[年月日号]?", unicodedata.normalize("NFKC", text))
    if m is None:
        raise _CellError(f"应为{what}，而不是“{text}”")
    return int(m.group(1))


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(_float_text(value))
    text = unicodedata.normalize("NFKC", _as_text(value) or "")
    cleaned = re.sub(r"(\s|,|万元$)", "", text)
    try:
        if not re.fullmatch(r"[+-]?\d+(\.\d+)?", cleaned):
            raise InvalidOperation
        return Decimal(cleaned)
    except InvalidOperation:
        raise _CellError(f"应为数字，而不是“{text}”") from None


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
        # A date cell that lost its date format shows Excel's serial day number.
        return from_excel(value).date()
    text = unicodedata.normalize("NFKC", _as_text(value) or "")
    m = _DATE_RE.match(text)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            pass
    raise _CellError(f"应为日期（如 2023-05-31），而不是“{text}”")


def _as_org_kind(value: Any) -> str:
    text = _norm(value)
    for code, label in ORG_KIND_LABELS.items():
        if text in (code, _norm(label)):
            return code
    if text in ("县区", "县", "区"):
        return "county"
    raise _CellError(f"应为以下之一：{'、'.join(ORG_KIND_LABELS.values())}，而不是“{_as_text(value)}”")


def _convert(kind: str, value: Any) -> Any:
    """Turn a non-empty cell value into the document value of a column kind; raises _CellError."""
    try:
        if kind == STR:
            return _as_text(value)
        if kind == INT:
            return _as_int(value)
        if kind == NUMBER_KEY:
            return _as_int(value, "整数序号，或“12.1”这样的分项指标序号")
        if kind == MONTH:
            n = _as_int(value, "月份（1–12）")
            if not 1 <= n <= 12:
                raise _CellError(f"应为月份（1–12），而不是“{n}”")
            return n
        if kind == DAY:
            n = _as_int(value, "日（1–31）")
            if not 1 <= n <= 31:
                raise _CellError(f"应为日（1–31），而不是“{n}”")
            return n
        if kind == DECIMAL:
            return _as_decimal(value)
        if kind == DATE:
            return _as_date(value)
        if kind == LIST:
            return _split_list(_as_text(value) or "")
        if kind == ORG_KIND:
            return _as_org_kind(value)
        if kind == TARGETS:
            out = []
            for n, line in enumerate((_as_text(value) or "").split("\n"), start=1):
                if line.strip():
                    try:
                        out.append(parse_target(line.strip()))
                    except ValueError as exc:
                        raise _CellError(f"第{n}条{exc}") from None
            return out
        if kind == CHECK:
            return parse_check(_as_text(value) or "")
        if kind == YEARS:
            text = _as_text(value) or ""
            start, end = parse_years(text)
            return {"years": text, "start_year": start, "end_year": end}
    except _CellError:
        raise
    except ValueError as exc:
        raise _CellError(str(exc)) from None
    raise AssertionError(kind)


def _stand_in(kind: str, row: int) -> Any:
    """A valid stand-in for a required value that could not be read, so that the cross-checks still run.

    Problems the validator then finds at that cell are dropped: the cell is already reported.
    """
    return {
        STR: "?",
        LIST: ["?"],
        INT: 1_000_000 + row,  # unique, so no false "重复"
        NUMBER_KEY: 1_000_000 + row,
        MONTH: 1,
        DECIMAL: Decimal(0),
        ORG_KIND: "other",
        YEARS: {"years": "?", "start_year": 0, "end_year": 0},
    }.get(kind)


_MODELS: dict[str, type[BaseModel]] = {
    "organisations": Organisation,
    "groups": Group,
    "goals": Goal,
    "tasks": Task,
    "projects": Project,
    "indicators": Indicator,
    "events": Event,
}


@dataclass
class _Problem:
    sheet: str | None
    row: int | None
    col: int | None
    message: str

    def place(self) -> str:
        if self.sheet is None:
            return "(工作簿)"  # read_workbook names the file instead
        if self.row is None:
            return self.sheet
        if self.col is None:
            return f"{self.sheet}!第{self.row}行"
        return f"{self.sheet}!{get_column_letter(self.col)}{self.row}"


@dataclass
class _SheetInfo:
    name: str  # the canonical name (what the problems say is the sheet's actual title)
    title: str
    columns: dict[str, int] = field(default_factory=dict)  # field → column number
    headers: dict[str, str] = field(default_factory=dict)  # field → heading as written


class _Reader:
    def __init__(self, wb: Any) -> None:
        self.wb = wb
        self.problems: list[_Problem] = []
        self.reported: set[tuple[str, int | None, str | None]] = set()  # (sheet title, row, field)
        self.missing: set[str] = set()  # canonical names of missing sheets
        self.sheets: dict[str, _SheetInfo] = {}  # collection → info
        self.origins: dict[tuple[Any, ...], int] = {}  # (collection, i[, j]) → row
        self.plan_rows: dict[str, tuple[int, int]] = {}  # plan field → (row, value column)
        self.plan_title = PLAN_SHEET
        self._by_name = {_norm(ws.title): ws for ws in wb.worksheets}

    # -- reporting --

    def report(
        self, sheet: str | None, row: int | None, col: int | None, message: str, key_field: str | None = None
    ) -> None:
        self.problems.append(_Problem(sheet, row, col, message))
        if sheet is not None:
            self.reported.add((sheet, row, key_field))

    def _sheet(self, name: str) -> Worksheet | None:
        for candidate in (name, *SHEET_ALIASES.get(name, ())):
            ws = self._by_name.get(_norm(candidate))
            if ws is not None:
                return ws
        self.missing.add(name)
        self.report(None, None, None, f"缺少工作表“{name}”")
        return None

    @staticmethod
    def _cells(ws: Worksheet) -> dict[tuple[int, int], Any]:
        """Cell values by (row, column), merged ranges filled with their top-left value."""
        values: dict[tuple[int, int], Any] = {}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None and not (isinstance(cell.value, str) and not cell.value.strip()):
                    values[(cell.row, cell.column)] = cell.value
        for rng in ws.merged_cells.ranges:
            top = values.get((rng.min_row, rng.min_col))
            if top is None:
                continue
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    values[(r, c)] = top
        return values

    # -- 计划 --

    def read_plan(self) -> dict[str, Any]:
        ws = self._sheet(PLAN_SHEET)
        if ws is None:
            # Stand-in so that the rest of the workbook is still checked; its own problems are not reported.
            return dict(_PLAN_PLACEHOLDER)
        self.plan_title = ws.title
        cells = self._cells(ws)
        labels = {
            _norm(alias): (name, label, kind)
            for name, label, kind, aliases, _help in PLAN_FIELDS
            for alias in (label, *aliases)
        }
        out: dict[str, Any] = {}
        max_row = max((r for r, _c in cells), default=0)
        for r in range(1, max_row + 1):
            row = sorted((c, v) for (rr, c), v in cells.items() if rr == r)
            if not row:
                continue
            col, raw_label = row[0]
            label = _norm(raw_label)
            if label in (_norm(h) for h in PLAN_HEADER):
                continue
            if label not in labels:
                self.report(
                    ws.title,
                    r,
                    col,
                    f"未知的项目“{_as_text(raw_label)}”（应为：{'、'.join(f[1] for f in PLAN_FIELDS)}）",
                )
                continue
            name, shown, kind = labels[label]
            if name in self.plan_rows:
                self.report(ws.title, r, col, f"“{shown}”重复（已在第{self.plan_rows[name][0]}行）", name)
                continue
            self.plan_rows[name] = (r, col + 1)
            value = cells.get((r, col + 1))
            if value is None:
                continue
            try:
                out[name] = _convert(kind, value)
            except _CellError as exc:
                self.report(ws.title, r, col + 1, f"{shown} {exc}", name)

        def where(name: str) -> tuple[str, int | None, int | None, str, str]:
            label = next((f[1] for f in PLAN_FIELDS if f[0] == name), name)
            r, c = self.plan_rows.get(name, (None, None))
            return ws.title, r, c, label, name

        self._settle(PlanMeta, out, where, lambda name: _PLAN_PLACEHOLDER.get(name))
        return out

    def _settle(
        self,
        model: type[BaseModel],
        entry: dict[str, Any],
        where: Callable[[str], tuple[str, int | None, int | None, str, str]],
        stand_in: Callable[[str], Any],
    ) -> None:
        """Check one entry against its schema model, report each problem at its cell, and replace what is wrong
        by a stand-in (required fields) or drop it (optional ones), so that the whole plan can still be
        cross-checked. Cells already reported are not reported again."""
        for _attempt in range(3):
            try:
                model.model_validate(entry)
                return
            except ValidationError as exc:
                errors = exc.errors()
            for e in errors:
                name = str(e["loc"][0]) if e["loc"] else ""
                message = _plain(e["msg"])
                if not name:  # a check across fields: the plan window is the only one
                    name, message = "end", "结束日期早于开始日期"
                sheet, r, c, heading, column = where(name)
                if (sheet, r, column) not in self.reported and (sheet, None, column) not in self.reported:
                    self.report(sheet, r, c, f"{heading}：{message}", column)
                if name in ("start_year", "end_year", "years"):
                    entry.update(stand_in("years") or {})
                elif name == "end" and e["loc"] == ():
                    entry["end"] = _PLAN_PLACEHOLDER["end"]  # wide window: no task is reported as outside it
                elif model.model_fields[name].is_required():
                    entry[name] = stand_in(name)
                else:
                    entry.pop(name, None)

    # -- table sheets --

    def _table(self, spec: SheetSpec) -> tuple[_SheetInfo, list[tuple[int, dict[str, Any]]]] | None:
        """Find the header row and return the data rows as raw cell values by field."""
        ws = self._sheet(spec.name)
        if ws is None:
            return None
        info = _SheetInfo(spec.name, ws.title)
        self.sheets[spec.collection] = info
        cells = self._cells(ws)

        def match(text: Any) -> Column | None:
            n = _norm(text)
            for c in spec.columns:
                if n in (_norm(c.header), *(_norm(a) for a in c.aliases)) or (c.pattern and re.fullmatch(c.pattern, n)):
                    return c
            return None

        # Real spreadsheets often have a title line above the headings: take the best of the first rows.
        best_row, best = 0, 0
        for r in range(1, 11):
            n = sum(1 for (rr, _c), v in cells.items() if rr == r and match(v) is not None)
            if n > best:
                best_row, best = r, n
        if best < min(2, len(spec.columns)):
            self.missing.add(spec.name)
            self.report(ws.title, None, None, f"找不到表头（应有：{'、'.join(_headers(spec, None))}）")
            return info, []
        for (r, c), v in sorted(cells.items(), key=lambda kv: kv[0][1]):
            if r != best_row:
                continue
            col = match(v)
            if col is None:
                known = "、".join(c.header for c in spec.columns)
                self.report(ws.title, r, c, f"未知的列“{_as_text(v)}”（可用的列：{known}）")
            elif col.field in info.columns:
                self.report(
                    ws.title, r, c, f"列“{_as_text(v)}”重复（已在 {get_column_letter(info.columns[col.field])} 列）"
                )
            else:
                info.columns[col.field] = c
                info.headers[col.field] = _as_text(v) or col.header
        for c in spec.columns:
            if c.required and c.field not in info.columns:
                self.report(ws.title, None, None, f"缺少列“{c.header}”", c.field)
        rows: list[tuple[int, dict[str, Any]]] = []
        max_row = max((r for r, _c in cells), default=0)
        for r in range(best_row + 1, max_row + 1):
            raw = {f: cells.get((r, c)) for f, c in info.columns.items()}
            if any(v is not None for v in raw.values()):
                rows.append((r, raw))
        return info, rows

    def _convert_row(
        self,
        spec: SheetSpec,
        info: _SheetInfo,
        r: int,
        raw: dict[str, Any],
        model: type[BaseModel],
        preset: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One row as a document entry, checked against `model` (problems reported, stand-ins put in)."""
        out: dict[str, Any] = dict(preset or {})
        for f, value in raw.items():
            if value is None:
                continue
            col = spec.column(f)
            assert col is not None
            try:
                converted = _convert(col.kind, value)
            except _CellError as exc:
                self.report(info.title, r, info.columns[f], f"{info.headers[f]} {exc}", f)
                continue
            if converted is None or converted == []:
                continue
            if col.kind == YEARS:
                out.update(converted)
            else:
                out[f] = converted

        def where(name: str) -> tuple[str, int | None, int | None, str, str]:
            name = _FIELD_COLUMN.get(name, name)
            col = spec.column(name)
            return info.title, r, info.columns.get(name), info.headers.get(name) or (col.header if col else name), name

        def stand_in(name: str) -> Any:
            col = spec.column(name)
            return _stand_in(col.kind if col else STR, r)

        self._settle(model, out, where, stand_in)
        return out

    def read_collection(self, spec: SheetSpec) -> list[dict[str, Any]]:
        table = self._table(spec)
        if table is None:
            return []
        info, rows = table
        if spec.collection == "indicators":
            return self._read_indicators(spec, info, rows)
        out: list[dict[str, Any]] = []
        converted_rows: list[tuple[int, dict[str, Any]]] = []
        total: tuple[int, Any] | None = None
        for r, raw in rows:
            if spec.collection == "projects" and (
                _norm(raw.get("number")) in _TOTAL_LABELS
                or (raw.get("number") is None and _norm(raw.get("name")) in _TOTAL_LABELS)
            ):
                total = (r, raw.get("investment"))
                continue
            converted_rows.append((r, self._convert_row(spec, info, r, raw, _MODELS[spec.collection])))
        for r, entry in converted_rows:
            self.origins[(spec.collection, len(out))] = r
            out.append(entry)
        unread = any((info.title, r, "investment") in self.reported for r, _e in converted_rows)
        if total is not None and total[1] is not None and "investment" in info.columns and not unread:
            self._check_total(info, total[0], total[1], out)
        return out

    def _check_total(self, info: _SheetInfo, r: int, raw: Any, projects: list[dict[str, Any]]) -> None:
        col = info.columns["investment"]
        try:
            total = _as_decimal(raw)
        except _CellError as exc:
            self.report(info.title, r, col, f"合计 {exc}")
            return
        summed = sum((p.get("investment", Decimal(0)) for p in projects), Decimal(0))
        if total != summed:
            self.report(
                info.title, r, col, f"合计 {_num(total)} 与各项目总投资之和 {_num(summed)} 不一致（请改正或删去合计行）"
            )

    def _read_indicators(
        self, spec: SheetSpec, info: _SheetInfo, rows: list[tuple[int, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        sub_fields = {"number", "name", "unit", "target", "target_year", "explanation", "check"}
        last: dict[str, Any] = {}  # domain/category carried down (merged or blank cells)
        parent_row = 0
        for r, raw in rows:
            number = raw.get("number")
            key: str | None = None
            if isinstance(number, float) and not number.is_integer():
                key = _float_text(number)
            elif isinstance(number, str) and _NUMBER_KEY_RE.match(unicodedata.normalize("NFKC", number.strip())):
                key = unicodedata.normalize("NFKC", number.strip())
            if key is None:
                for f in ("domain", "category"):
                    if raw.get(f) is None and f in last:
                        raw = {**raw, f: last[f]}
                    elif raw.get(f) is not None:
                        last[f] = raw[f]
                entry = self._convert_row(spec, info, r, raw, Indicator)
                entry["sub_indicators"] = []
                self.origins[("indicators", len(out))] = r
                out.append(entry)
                parent_row = r
                continue
            # A sub-indicator row ("12.1"): only the columns a sub-indicator has.
            if not out:
                self.report(info.title, r, info.columns["number"], f"序号 分项指标“{key}”前面没有主指标行", "number")
                continue
            parent = out[-1]
            for f, v in raw.items():
                if v is None or f in sub_fields:
                    continue
                if f in ("domain", "category") and _norm(v) == _norm(last.get(f)):
                    continue
                self.report(
                    info.title,
                    r,
                    info.columns[f],
                    f"{info.headers[f]} 分项指标行不填此列（填在第{parent_row}行的主指标上）",
                    f,
                )
            if key.split(".")[0] != str(parent.get("number")):
                self.report(
                    info.title,
                    r,
                    info.columns["number"],
                    f"序号 分项指标“{key}”应紧跟在序号为 {key.split('.')[0]} 的指标之后（上一个指标是第{parent_row}行）",
                    "number",
                )
            sub_raw = {f: v for f, v in raw.items() if f in sub_fields and f != "number"}
            sub = self._convert_row(spec, info, r, sub_raw, SubIndicator, preset={"key": key})
            self.origins[("indicators", len(out) - 1, len(parent["sub_indicators"]))] = r
            parent["sub_indicators"].append(sub)
        for entry in out:
            if not entry["sub_indicators"]:
                del entry["sub_indicators"]
        return out

    # -- validator problems → cells --

    def place_of(self, path: str) -> tuple[str | None, int | None, int | None, str | None, str | None]:
        """(sheet, row, column, field, heading) of a validator key path; parts unknown are None."""
        tokens: list[Any] = [int(t) if t.isdigit() else t for t in re.findall(r"[^.\[\]]+", path)]
        if not tokens:
            return None, None, None, None, None
        if tokens[0] == "plan":
            if PLAN_SHEET in self.missing:
                return self.plan_title, None, None, None, None
            if len(tokens) == 1:
                return self.plan_title, None, None, None, None
            name = str(tokens[1])
            label = next((f[1] for f in PLAN_FIELDS if f[0] == name), name)
            if name in self.plan_rows:
                r, c = self.plan_rows[name]
                return self.plan_title, r, c, name, label
            return self.plan_title, None, None, name, label
        spec = SPEC_BY_COLLECTION.get(str(tokens[0]))
        info = self.sheets.get(str(tokens[0]))
        if spec is None:
            return None, None, None, None, None
        title = info.title if info else spec.name
        if info is None or len(tokens) < 2 or not isinstance(tokens[1], int):
            return title, None, None, None, None
        origin: tuple[Any, ...] = (spec.collection, tokens[1])
        rest = tokens[2:]
        if rest[:1] == ["sub_indicators"] and len(rest) >= 2:
            origin, rest = (*origin, rest[1]), rest[2:]
        row = self.origins.get(origin)
        if not rest or not isinstance(rest[0], str):
            return title, row, None, None, None
        name = _FIELD_COLUMN.get(rest[0], rest[0])
        col = spec.column(name)
        heading = info.headers.get(name) or (col.header if col else name)
        return title, row, info.columns.get(name), name, heading

    def translate(self, problem: PlanProblem) -> _Problem | None:
        sheet, row, col, name, heading = self.place_of(problem.where)
        if sheet is None:
            return _Problem(None, None, None, f"{problem.where}: {problem.message}")
        collection = re.match(r"[a-z_]+", problem.where)
        coll = collection.group(0) if collection else ""
        leaf = (re.findall(r"[a-z_]+", problem.where) or [""])[-1]
        # Echoes of problems already reported: the cell itself, its missing column, its missing sheet.
        if (
            (sheet, row, name) in self.reported
            or (sheet, None, name) in self.reported
            or (sheet, None, None) in self.reported
        ):
            return None
        if coll == "plan" and PLAN_SHEET in self.missing:
            return None
        if SPEC_BY_COLLECTION.get(coll) and SPEC_BY_COLLECTION[coll].name in self.missing:
            return None
        if leaf in _REFERENCE_FIELDS and self.missing & {ORG_SHEET, GROUP_SHEET}:
            return None
        if leaf == "goal" and GOAL_SHEET in self.missing:
            return None
        message = self._message(problem.message)
        m = re.search(r"\.targets\[(\d+)\]", problem.where)
        if m:
            message = f"第{int(m.group(1)) + 1}条 {message}"
        if heading and not message.startswith(heading):
            message = f"{heading}：{message}"
        return _Problem(sheet, row, col, message)

    def _message(self, text: str) -> str:
        text = _plain(text)

        def embedded(m: re.Match[str]) -> str:
            sheet, row, col, _name, _heading = self.place_of(m.group(0))
            return _Problem(sheet, row, col, "").place() if sheet else m.group(0)

        return re.sub(
            r"\b(?:organisations|groups|goals|tasks|projects|indicators|events)\[\d+\](?:\.[a-z_]+(?:\[\d+\])?)*",
            embedded,
            text,
        )


# Validator wording (pydantic's English and YAML terms) in the words of the workbook.
_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"^Field required$", "不能为空"),
    (r"^List should have at least 1 item.*$", "至少填写一项"),
    (r"^Input should be greater than or equal to (\S+)$", r"应不小于 \1"),
    (r"^Input should be less than or equal to (\S+)$", r"应不大于 \1"),
    (r"^String should match pattern .*$", "格式不对（只能用小写字母、数字、-、_，且以字母或数字开头）"),
    (r"^Extra inputs are not permitted$", "不认识的内容"),
    (r"^Value error, ", ""),
    (r"end 早于 start", "结束日期早于开始日期"),
    (r"（应为 organisations 中的 name，不能用单位组）", "（应为“单位”表中的名称，不能用单位组）"),
    (r"（应为 organisations 中的 name）", "（应为“单位”表中的名称，或“单位组”表中的名称、别名）"),
    (r"（应为 goals 中的 code）", "（应为“年度目标”表中的编号）"),
)


def read_workbook(path: str | Path) -> tuple[dict[str, Any], list[PlanProblem]]:
    """Read a plan workbook into a plan document (the same dict a YAML file gives).

    Returns the data and every problem found, each with its sheet and cell (or row); the data has also been
    through `validate_plan_data`, whose problems are translated back to cells. Problems empty = valid.
    """
    path = Path(path)
    try:
        wb = load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException… for a non-workbook
        return {}, [PlanProblem(where=path.name, message=f"无法打开 Excel 工作簿（.xlsx）：{exc}")]
    reader = _Reader(wb)
    data: dict[str, Any] = {"plan": reader.read_plan()}
    for spec in SHEETS:
        data[spec.collection] = reader.read_collection(spec)
    wb.close()

    _doc, problems = validate_plan_data(data)
    found = list(reader.problems)
    for p in problems:
        t = reader.translate(p)
        if t is not None:
            found.append(t)

    order = {name: i for i, name in enumerate(SHEET_ORDER)}
    titles = {info.title: info.name for info in reader.sheets.values()} | {reader.plan_title: PLAN_SHEET}

    def sort_key(p: _Problem) -> tuple[int, int, int]:
        if p.sheet is None:
            return (-1, 0, 0)
        return (order.get(titles.get(p.sheet, p.sheet), 99), p.row or 0, p.col or 0)

    seen: set[tuple[str, str]] = set()
    out: list[PlanProblem] = []
    for p in sorted(found, key=sort_key):
        item = PlanProblem(where=p.place() if p.sheet else path.name, message=p.message)
        if (item.where, item.message) not in seen:
            seen.add((item.where, item.message))
            out.append(item)
    return data, out


def _plain(text: str) -> str:
    for pattern, repl in _MESSAGES:
        text = re.sub(pattern, repl, text)
    return text
