"""The plan file: its schema and validation, and the codecs that read and write it (YAML, .xlsx workbooks).

Nothing here touches the database; `db.repositories.plans` imports a validated `PlanDocument`.
- `schema`: the pydantic model of a plan and `validate_plan_data`;
- `files`: `load_plan_file` for .yaml and .xlsx files, `PlanFileError`;
- `xlsx_layout`: the sheets and columns of a plan workbook;
- `xlsx_cells`: cell values to document values and back (targets, checks, years, dates, lists);
- `xlsx_write`: `write_workbook`, and the print layout shared with the report workbooks;
- `xlsx_read`: `read_workbook`; `xlsx_problems`: where a problem is in the workbook and how it is worded.
"""
