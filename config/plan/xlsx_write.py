"""Writing a plan as a workbook (.xlsx) a coordinator can edit and import again; the print layout it shares
with the report workbooks (`scheduler.sheets`).

`write_workbook` writes what `config.plan.xlsx_read.read_workbook` reads back to an equal document: one sheet
per part of the plan (`config.plan.xlsx_layout`), then a sheet of instructions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from config.plan.schema import PlanDocument
from config.plan.xlsx_cells import cell_value
from config.plan.xlsx_layout import (
    DECIMAL,
    HELP_LINES,
    HELP_SHEET,
    PLAN_FIELDS,
    PLAN_HEADER,
    PLAN_SHEET,
    SHEETS,
    TOTAL_LABEL,
    SheetSpec,
    headers,
)

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")


def _put(ws: Worksheet, row: int, col: int, value: Any) -> Cell:
    """Write one body cell: wrapped, bordered, dates as dates, text that looks like a formula kept as text."""
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text such as "＝1" typed as "=1" must stay text, not become a formula
    if isinstance(value, dt.date):
        cell.number_format = "yyyy-mm-dd"
    cell.alignment = _WRAP
    cell.border = _BORDER
    return cell


def _header(ws: Worksheet, titles: Iterable[str], widths: Iterable[int]) -> None:
    """The header row with its column widths, and the print layout."""
    for col, (text, width) in enumerate(zip(titles, widths, strict=False), start=1):
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


def _write_rows(ws: Worksheet, spec: SheetSpec, rows: Iterable[dict[str, Any]], year: int) -> int:
    """A table sheet: the header row, then one row per entry. Returns the number of the last row."""
    _header(ws, headers(spec, year), (c.width for c in spec.columns))
    r = 1
    for values in rows:
        r += 1
        for col, c in enumerate(spec.columns, start=1):
            _put(ws, r, col, cell_value(c.kind, values.get(c.field)))
    if r > 1:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(spec.columns))}{r}"
    return r


def _write_plan_sheet(ws: Worksheet, doc: PlanDocument) -> None:
    """计划: one row per field of the plan, with a line of help."""
    ws.title = PLAN_SHEET
    _header(ws, PLAN_HEADER, (16, 50, 50))
    for r, (name, label, _kind, _aliases, help_text) in enumerate(PLAN_FIELDS, start=2):
        _put(ws, r, 1, label).font = _HEADER_FONT
        _put(ws, r, 2, getattr(doc.plan, name))
        _put(ws, r, 3, help_text or None)


def _write_indicators(ws: Worksheet, spec: SheetSpec, doc: PlanDocument) -> None:
    """指标分工任务: each indicator, followed by its sub-indicators numbered "12.1", "12.2"."""
    rows: list[dict[str, Any]] = []
    for ind in doc.indicators:
        rows.append(dict(ind))
        for sub in ind.sub_indicators:
            rows.append({**dict(sub), "number": sub.key})
    _write_rows(ws, spec, rows, doc.plan.year)


def _write_projects(ws: Worksheet, spec: SheetSpec, doc: PlanDocument) -> None:
    """年度工程清单, ending like the annex with a total row (the reader skips it and checks it against the sum)."""
    last = _write_rows(ws, spec, (dict(p) for p in doc.projects), doc.plan.year)
    if not doc.projects:
        return
    _put(ws, last + 1, 1, TOTAL_LABEL).font = _HEADER_FONT
    col = [c.field for c in spec.columns].index("investment") + 1
    total = sum((p.investment for p in doc.projects), Decimal(0))
    _put(ws, last + 1, col, cell_value(DECIMAL, total)).font = _HEADER_FONT


def write_workbook(doc: PlanDocument, path: str | Path) -> None:
    """Write `doc` as a workbook that `read_workbook` reads back to an equal document."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    _write_plan_sheet(ws, doc)
    for spec in SHEETS:
        ws = wb.create_sheet(spec.name)
        if spec.collection == "indicators":
            _write_indicators(ws, spec, doc)
        elif spec.collection == "projects":
            _write_projects(ws, spec, doc)
        else:
            _write_rows(ws, spec, (dict(e) for e in getattr(doc, spec.collection)), doc.plan.year)
    ws = wb.create_sheet(HELP_SHEET)
    _header(ws, (HELP_SHEET,), (120,))
    for r, line in enumerate(HELP_LINES, start=2):
        _put(ws, r, 1, line)
    # Fixed document properties keep regenerated files comparable.
    stamp = dt.datetime.combine(doc.plan.start, dt.time())
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "duban"
    wb.properties.title = doc.plan.title
    wb.save(Path(path))
