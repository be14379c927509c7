"""Reading a plan workbook (.xlsx) into a plan document, with every problem at its sheet and cell.

Columns are found by their heading (any order, surrounding spaces and full-width brackets tolerated), the header
row among the first rows of a sheet. What cannot be read is reported and replaced by a stand-in, so that the
whole plan is still put through `validate_plan_data`, whose problems are translated back to cells
(`config.plan.xlsx_problems`). The layout is documented in docs/plan-format.md ("Plan workbook").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, ValidationError

from config.plan.schema import (
    Event,
    Goal,
    Group,
    Indicator,
    Organisation,
    PlanMeta,
    PlanProblem,
    Project,
    SubIndicator,
    Task,
    error_message,
    validate_plan_data,
)
from config.plan.xlsx_cells import (
    NUMBER_KEY_RE,
    CellError,
    as_decimal,
    as_text,
    document_value,
    float_text,
    norm,
    number_text,
)
from config.plan.xlsx_layout import (
    DECIMAL,
    INT,
    LIST,
    MONTH,
    NUMBER_KEY,
    ORG_KIND,
    PLAN_FIELDS,
    PLAN_HEADER,
    PLAN_SHEET,
    SHEET_ALIASES,
    SHEETS,
    STR,
    TOTAL_LABELS,
    YEARS,
    Column,
    SheetSpec,
    headers,
)
from config.plan.xlsx_problems import FIELD_COLUMN, ReadLog, SheetInfo, plain

# A plan window wide enough that no task date is reported against a plan date that could not be read.
_PLAN_PLACEHOLDER: dict[str, Any] = {
    "key": "x",
    "title": "?",
    "year": 2000,
    "start": dt.date(2000, 1, 1),
    "end": dt.date(2100, 12, 31),
}


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


# 计划 labels (and their aliases), normalised → (field, label, cell kind)
_PLAN_LABELS: dict[str, tuple[str, str, str]] = {
    norm(alias): (name, label, kind) for name, label, kind, aliases, _help in PLAN_FIELDS for alias in (label, *aliases)
}
_PLAN_HEADER_KEYS = frozenset(norm(h) for h in PLAN_HEADER)
# The columns a sub-indicator row may fill.
_SUB_FIELDS = frozenset({"number", "name", "unit", "target", "target_year", "explanation", "check", "note"})

_MODELS: dict[str, type[BaseModel]] = {
    "organisations": Organisation,
    "groups": Group,
    "goals": Goal,
    "tasks": Task,
    "projects": Project,
    "indicators": Indicator,
    "events": Event,
}


class _Reader:
    """Reads the sheets of one workbook, logging every problem and where each entry came from."""

    def __init__(self, wb: Any) -> None:
        self.log = ReadLog()
        self._by_name = {norm(ws.title): ws for ws in wb.worksheets}

    def _sheet(self, name: str) -> Worksheet | None:
        """The sheet called `name` or one of its aliases; a missing sheet is reported."""
        for candidate in (name, *SHEET_ALIASES.get(name, ())):
            ws = self._by_name.get(norm(candidate))
            if ws is not None:
                return ws
        self.log.missing.add(name)
        self.log.report(None, None, None, f"缺少工作表“{name}”")
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
        """计划: one field per row, its label in the first filled column and its value in the next."""
        ws = self._sheet(PLAN_SHEET)
        if ws is None:
            # Stand-in so that the rest of the workbook is still checked; its own problems are not reported.
            return dict(_PLAN_PLACEHOLDER)
        self.log.plan_title = ws.title
        cells = self._cells(ws)
        out: dict[str, Any] = {}
        for r in sorted({r for r, _c in cells}):
            self._read_plan_row(ws.title, cells, r, out)

        def where(name: str) -> tuple[str, int | None, int | None, str, str]:
            label = next((f[1] for f in PLAN_FIELDS if f[0] == name), name)
            r, c = self.log.plan_rows.get(name, (None, None))
            return ws.title, r, c, label, name

        self._settle(PlanMeta, out, where, lambda name: _PLAN_PLACEHOLDER.get(name))
        return out

    def _read_plan_row(self, title: str, cells: dict[tuple[int, int], Any], r: int, out: dict[str, Any]) -> None:
        """One row of 计划: its label names a plan field, the next cell holds the value."""
        col, raw_label = sorted((c, v) for (rr, c), v in cells.items() if rr == r)[0]
        label = norm(raw_label)
        if label in _PLAN_HEADER_KEYS:
            return
        if label not in _PLAN_LABELS:
            known = "、".join(f[1] for f in PLAN_FIELDS)
            self.log.report(title, r, col, f"未知的项目“{as_text(raw_label)}”（应为：{known}）")
            return
        name, shown, kind = _PLAN_LABELS[label]
        if name in self.log.plan_rows:
            self.log.report(title, r, col, f"“{shown}”重复（已在第{self.log.plan_rows[name][0]}行）", name)
            return
        self.log.plan_rows[name] = (r, col + 1)
        value = cells.get((r, col + 1))
        if value is None:
            return
        try:
            out[name] = document_value(kind, value)
        except CellError as exc:
            self.log.report(title, r, col + 1, f"{shown} {exc}", name)

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
                message = plain(error_message(e))
                if not name:  # a check across fields: the plan window is the only one
                    name, message = "end", "结束日期早于开始日期"
                sheet, r, c, heading, column = where(name)
                if (sheet, r, column) not in self.log.reported and (sheet, None, column) not in self.log.reported:
                    self.log.report(sheet, r, c, f"{heading}：{message}", column)
                if name in ("start_year", "end_year", "years"):
                    entry.update(stand_in("years") or {})
                elif name == "end" and e["loc"] == ():
                    entry["end"] = _PLAN_PLACEHOLDER["end"]  # wide window: no task is reported as outside it
                elif model.model_fields[name].is_required():
                    entry[name] = stand_in(name)
                else:
                    entry.pop(name, None)

    # -- table sheets --

    def _table(self, spec: SheetSpec) -> tuple[SheetInfo, list[tuple[int, dict[str, Any]]]] | None:
        """Find the header row and return the data rows as raw cell values by field."""
        ws = self._sheet(spec.name)
        if ws is None:
            return None
        info = SheetInfo(spec.name, ws.title)
        self.log.sheets[spec.collection] = info
        cells = self._cells(ws)
        # Real spreadsheets often have a title line above the headings: take the best of the first rows.
        best_row, best = 0, 0
        for r in range(1, 11):
            n = sum(1 for (rr, _c), v in cells.items() if rr == r and _match(spec, v) is not None)
            if n > best:
                best_row, best = r, n
        if best < min(2, len(spec.columns)):
            self.log.missing.add(spec.name)
            self.log.report(ws.title, None, None, f"找不到表头（应有：{'、'.join(headers(spec, None))}）")
            return info, []
        self._read_header(spec, info, cells, best_row)
        rows: list[tuple[int, dict[str, Any]]] = []
        max_row = max((r for r, _c in cells), default=0)
        for r in range(best_row + 1, max_row + 1):
            raw = {f: cells.get((r, c)) for f, c in info.columns.items()}
            if any(v is not None for v in raw.values()):
                rows.append((r, raw))
        return info, rows

    def _read_header(self, spec: SheetSpec, info: SheetInfo, cells: dict[tuple[int, int], Any], row: int) -> None:
        """Map the headings of `row` to columns; report unknown, repeated and missing ones."""
        for (r, c), v in sorted(cells.items(), key=lambda kv: kv[0][1]):
            if r != row:
                continue
            col = _match(spec, v)
            if col is None:
                known = "、".join(c.header for c in spec.columns)
                self.log.report(info.title, r, c, f"未知的列“{as_text(v)}”（可用的列：{known}）")
            elif col.field in info.columns:
                first = get_column_letter(info.columns[col.field])
                self.log.report(info.title, r, c, f"列“{as_text(v)}”重复（已在 {first} 列）")
            else:
                info.columns[col.field] = c
                info.headers[col.field] = as_text(v) or col.header
        for column in spec.columns:
            if column.required and column.field not in info.columns:
                self.log.report(info.title, None, None, f"缺少列“{column.header}”", column.field)

    def _convert_row(
        self,
        spec: SheetSpec,
        info: SheetInfo,
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
                converted = document_value(col.kind, value)
            except CellError as exc:
                self.log.report(info.title, r, info.columns[f], f"{info.headers[f]} {exc}", f)
                continue
            if converted is None or converted == []:
                continue
            if col.kind == YEARS:
                out.update(converted)
            else:
                out[f] = converted

        def where(name: str) -> tuple[str, int | None, int | None, str, str]:
            name = FIELD_COLUMN.get(name, name)
            col = spec.column(name)
            return info.title, r, info.columns.get(name), info.headers.get(name) or (col.header if col else name), name

        def stand_in(name: str) -> Any:
            col = spec.column(name)
            return _stand_in(col.kind if col else STR, r)

        self._settle(model, out, where, stand_in)
        return out

    def read_collection(self, spec: SheetSpec) -> list[dict[str, Any]]:
        """The entries of one table sheet (a projects sheet's total row is checked, not read)."""
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
                norm(raw.get("number")) in TOTAL_LABELS
                or (raw.get("number") is None and norm(raw.get("name")) in TOTAL_LABELS)
            ):
                total = (r, raw.get("investment"))
                continue
            converted_rows.append((r, self._convert_row(spec, info, r, raw, _MODELS[spec.collection])))
        for r, entry in converted_rows:
            self.log.origins[(spec.collection, len(out))] = r
            out.append(entry)
        unread = any((info.title, r, "investment") in self.log.reported for r, _e in converted_rows)
        if total is not None and total[1] is not None and "investment" in info.columns and not unread:
            self._check_total(info, total[0], total[1], out)
        return out

    def _check_total(self, info: SheetInfo, r: int, raw: Any, projects: list[dict[str, Any]]) -> None:
        """The total row of 年度工程清单 must equal the sum of the projects' investment."""
        col = info.columns["investment"]
        try:
            total = as_decimal(raw)
        except CellError as exc:
            self.log.report(info.title, r, col, f"合计 {exc}")
            return
        summed = sum((p.get("investment", Decimal(0)) for p in projects), Decimal(0))
        if total != summed:
            self.log.report(
                info.title,
                r,
                col,
                f"合计 {number_text(total)} 与各项目总投资之和 {number_text(summed)} 不一致（请改正或删去合计行）",
            )

    def _read_indicators(
        self, spec: SheetSpec, info: SheetInfo, rows: list[tuple[int, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """指标分工任务: indicator rows, each followed by its sub-indicator rows ("12.1")."""
        out: list[dict[str, Any]] = []
        last: dict[str, Any] = {}  # domain/category carried down (merged or blank cells)
        parent_row = 0
        for r, raw in rows:
            key = _sub_key(raw.get("number"))
            if key is None:
                for f in ("domain", "category"):
                    if raw.get(f) is None and f in last:
                        raw = {**raw, f: last[f]}
                    elif raw.get(f) is not None:
                        last[f] = raw[f]
                entry = self._convert_row(spec, info, r, raw, Indicator)
                entry["sub_indicators"] = []
                self.log.origins[("indicators", len(out))] = r
                out.append(entry)
                parent_row = r
            elif not out:
                self.log.report(
                    info.title, r, info.columns["number"], f"序号 分项指标“{key}”前面没有主指标行", "number"
                )
            else:
                self._add_sub_indicator(spec, info, r, raw, key, out, parent_row, last)
        for entry in out:
            if not entry["sub_indicators"]:
                del entry["sub_indicators"]
        return out

    def _add_sub_indicator(
        self,
        spec: SheetSpec,
        info: SheetInfo,
        r: int,
        raw: dict[str, Any],
        key: str,
        indicators: list[dict[str, Any]],
        parent_row: int,
        carried: dict[str, Any],
    ) -> None:
        """A sub-indicator row: only the columns a sub-indicator has, under the indicator read last."""
        parent = indicators[-1]
        for f, v in raw.items():
            if v is None or f in _SUB_FIELDS:
                continue
            if f in ("domain", "category") and norm(v) == norm(carried.get(f)):
                continue
            message = f"{info.headers[f]} 分项指标行不填此列（填在第{parent_row}行的主指标上）"
            self.log.report(info.title, r, info.columns[f], message, f)
        head = key.split(".")[0]
        if head != str(parent.get("number")):
            message = f"序号 分项指标“{key}”应紧跟在序号为 {head} 的指标之后（上一个指标是第{parent_row}行）"
            self.log.report(info.title, r, info.columns["number"], message, "number")
        sub_raw = {f: v for f, v in raw.items() if f in _SUB_FIELDS and f != "number"}
        sub = self._convert_row(spec, info, r, sub_raw, SubIndicator, preset={"key": key})
        self.log.origins[("indicators", len(indicators) - 1, len(parent["sub_indicators"]))] = r
        parent["sub_indicators"].append(sub)


def _match(spec: SheetSpec, text: Any) -> Column | None:
    """The column of `spec` a heading names, or None."""
    n = norm(text)
    for c in spec.columns:
        if n in (norm(c.header), *(norm(a) for a in c.aliases)) or (c.pattern and re.fullmatch(c.pattern, n)):
            return c
    return None


def _sub_key(number: Any) -> str | None:
    """The key of a sub-indicator ("12.1") when the 序号 cell holds one, else None."""
    if isinstance(number, float) and not number.is_integer():
        return float_text(number)
    if isinstance(number, str):
        text = unicodedata.normalize("NFKC", number.strip())
        if NUMBER_KEY_RE.match(text):
            return text
    return None


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
    return data, reader.log.problem_list(problems, path.name)
