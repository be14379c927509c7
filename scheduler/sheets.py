"""The look of duban's report workbooks (the completion export, the digest workbook): a bold shaded header row
repeated on every printed page and frozen on screen, column widths, wrapped long text, landscape A4 fitted to
the page width, page numbers in the footer.
"""

from __future__ import annotations

import datetime as dt

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from config.plan.xlsx_write import print_layout

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def format_sheet(ws: Worksheet, widths: list[float], wrap_columns: tuple[int, ...] = (), header_row: int = 1) -> None:
    """Header styling, column widths, wrapped text, frozen header, print layout. Columns are 1-based.

    `header_row` > 1: the rows above it (a title) are printed on every page with the header and frozen too.
    """
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width
    for cell in ws[header_row]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = BORDER
    for row in ws.iter_rows(min_row=header_row + 1):
        for cell in row:
            cell.border = BORDER
            cell.alignment = Alignment(vertical="top", wrap_text=cell.column in wrap_columns)
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    if ws.max_row > header_row:
        last = get_column_letter(max(ws.max_column, len(widths)))
        ws.auto_filter.ref = f"A{header_row}:{last}{ws.max_row}"
    print_layout(ws)
    if header_row > 1:
        ws.freeze_panes = f"A{header_row + 1}"
        ws.print_title_rows = f"1:{header_row}"
    ws.print_options.gridLines = False
    ws.oddFooter.center.text = "&P / &N"
