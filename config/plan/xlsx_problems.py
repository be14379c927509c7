"""Problems found in a plan workbook, each at its sheet and cell: the log a reading keeps, and the translation
of the validator's problems (key paths such as `tasks[3].due`) into cells and the
workbook's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from openpyxl.utils import get_column_letter

from config.plan.schema import PlanProblem
from config.plan.xlsx_layout import (
    GOAL_SHEET,
    GROUP_SHEET,
    ORG_SHEET,
    PLAN_FIELDS,
    PLAN_SHEET,
    SHEET_ORDER,
    SPEC_BY_COLLECTION,
)

# Paths of the validator name fields that the workbook shows in another column.
FIELD_COLUMN = {"key": "number", "start_year": "years", "end_year": "years"}
# Fields that refer to organisations or groups: when their sheets are missing these problems are only echoes.
_REFERENCE_FIELDS = {"parent", "members", "assignees", "exclude", "lead", "responsible"}

# A place as (sheet title, row, column, field, heading); parts unknown are None.
Place = tuple[str | None, int | None, int | None, str | None, str | None]


@dataclass
class CellProblem:
    """A problem at a sheet, row and column (any of them may be unknown)."""

    sheet: str | None
    row: int | None
    col: int | None
    message: str

    def place(self) -> str:
        """Where, as a coordinator finds it: `重点任务!G5`, `重点任务!第5行`, `重点任务`."""
        if self.sheet is None:
            return "(工作簿)"  # read_workbook names the file instead
        if self.row is None:
            return self.sheet
        if self.col is None:
            return f"{self.sheet}!第{self.row}行"
        return f"{self.sheet}!{get_column_letter(self.col)}{self.row}"


@dataclass
class SheetInfo:
    """Where a table sheet was found and how its columns were headed."""

    name: str  # the canonical name (what the problems say is the sheet's actual title)
    title: str
    columns: dict[str, int] = field(default_factory=dict)  # field → column number
    headers: dict[str, str] = field(default_factory=dict)  # field → heading as written


@dataclass
class ReadLog:
    """What reading a workbook found: problems at cells, and where each part of the document came from."""

    problems: list[CellProblem] = field(default_factory=list)
    reported: set[tuple[str, int | None, str | None]] = field(default_factory=set)  # (sheet title, row, field)
    missing: set[str] = field(default_factory=set)  # canonical names of missing sheets
    sheets: dict[str, SheetInfo] = field(default_factory=dict)  # collection → info
    origins: dict[tuple[Any, ...], int] = field(default_factory=dict)  # (collection, i[, j]) → row
    plan_rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # plan field → (row, value column)
    plan_title: str = PLAN_SHEET

    def report(
        self, sheet: str | None, row: int | None, col: int | None, message: str, key_field: str | None = None
    ) -> None:
        """Record a problem; `key_field` marks the cell so that the validator's echo of it is dropped."""
        self.problems.append(CellProblem(sheet, row, col, message))
        if sheet is not None:
            self.reported.add((sheet, row, key_field))

    def place_of(self, path: str) -> Place:
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
        name = FIELD_COLUMN.get(rest[0], rest[0])
        col = spec.column(name)
        heading = info.headers.get(name) or (col.header if col else name)
        return title, row, info.columns.get(name), name, heading

    def translate(self, problem: PlanProblem) -> CellProblem | None:
        """A validator problem at its cell, in the workbook's words; None when it echoes one already reported."""
        sheet, row, col, name, heading = self.place_of(problem.where)
        if sheet is None:
            return CellProblem(None, None, None, f"{problem.where}: {problem.message}")
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
        return CellProblem(sheet, row, col, message)

    def _message(self, text: str) -> str:
        """The message with the key paths it mentions (`tasks[3]`) replaced by cells."""
        text = plain(text)

        def embedded(m: re.Match[str]) -> str:
            sheet, row, col, _name, _heading = self.place_of(m.group(0))
            return CellProblem(sheet, row, col, "").place() if sheet else m.group(0)

        return re.sub(
            r"\b(?:organisations|groups|goals|tasks|projects|indicators|events)\[\d+\](?:\.[a-z_]+(?:\[\d+\])?)*",
            embedded,
            text,
        )

    def problem_list(self, validator_problems: list[PlanProblem], file_name: str) -> list[PlanProblem]:
        """Every problem in workbook order (sheets as in the layout, then rows and columns), without repeats;
        the validator's problems translated to cells and echoes of reported ones dropped."""
        found = list(self.problems)
        for p in validator_problems:
            t = self.translate(p)
            if t is not None:
                found.append(t)
        order = {name: i for i, name in enumerate(SHEET_ORDER)}
        titles = {info.title: info.name for info in self.sheets.values()} | {self.plan_title: PLAN_SHEET}

        def sort_key(p: CellProblem) -> tuple[int, int, int]:
            if p.sheet is None:
                return (-1, 0, 0)
            return (order.get(titles.get(p.sheet, p.sheet), 99), p.row or 0, p.col or 0)

        seen: set[tuple[str, str]] = set()
        out: list[PlanProblem] = []
        for cp in sorted(found, key=sort_key):
            item = PlanProblem(where=cp.place() if cp.sheet else file_name, message=cp.message)
            if (item.where, item.message) not in seen:
                seen.add((item.where, item.message))
                out.append(item)
        return out


# Validator wording (YAML terms) in the words of the workbook.
_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"^缺少必填项$", "不能为空"),
    (r"^不认识的项（名称拼写有误，或放错了位置？）$", "不认识的内容"),
    (r"end 早于 start", "结束日期早于开始日期"),
    (r"（应为 organisations 中的 name，不能用单位组）", "（应为“单位”表中的名称，不能用单位组）"),
    (r"（应为 organisations 中的 name）", "（应为“单位”表中的名称，或“单位组”表中的名称、别名）"),
    (r"（应为 goals 中的 code）", "（应为“年度目标”表中的编号）"),
)


def plain(text: str) -> str:
    """A validator message (its YAML terms) in the words of the workbook."""
    for pattern, repl in _MESSAGES:
        text = re.sub(pattern, repl, text)
    return text
