"""The layout of a plan workbook (.xlsx): its sheets, their columns, and the help sheet's lines.

The workbook has one sheet per part of the plan; 年度工程清单 and 指标分工任务 use the column headings of the
plan's annexes (附件1, 附件2), so a coordinator can paste next year's annex tables in. Each column names the
document field it holds and the kind of its cells (see `config.plan.xlsx_cells`). The layout is documented in
docs/plan-format.md ("Plan workbook").
"""

from __future__ import annotations

from dataclasses import dataclass

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
STR, INT, DECIMAL, DATE, LIST, TARGETS, CHECK, YEARS, ORG_KIND, NUMBER_KEY, MONTH, DAY, BOOL, SHARES = (
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
    "bool",
    "shares",
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
    """One table sheet: its name, the plan document collection its rows hold, and its columns."""

    name: str
    collection: str
    columns: tuple[Column, ...]

    def column(self, field_name: str) -> Column | None:
        """The column holding `field_name`, if the sheet has one."""
        return next((c for c in self.columns if c.field == field_name), None)


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
            Column("exclude", "不含单位", LIST, width=16),
            Column("due_inferred", "截止日期推定", BOOL, width=8),
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
            Column("shares", "单位份额(万元)", SHARES, width=30, aliases=("单位份额", "份额")),
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
            Column("responsible_inferred", "责任部门推定", BOOL, width=8),
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

# The annex of projects ends with a total row: written as TOTAL_LABEL, recognised by any of TOTAL_LABELS.
TOTAL_LABEL = "合计"
TOTAL_LABELS = frozenset({"合计", "总计", "小计", "总投资"})

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


def headers(spec: SheetSpec, year: int | None) -> list[str]:
    """The headings written for a plan year (None: as shown in messages, `YYYY年目标`)."""
    return [f"{year or 'YYYY'}年目标" if c.pattern else c.header for c in spec.columns]
