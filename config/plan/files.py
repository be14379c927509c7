"""Loading a plan file (.yaml, or a .xlsx workbook) into a validated plan document.

Every problem is reported with its place (a key path, a YAML line, a sheet and cell) in `PlanFileError`, before
anything is written to the database; `db.repositories.plans.import_plan` takes the document from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from config.plan.schema import PlanDocument, PlanProblem, validate_plan_data


class PlanFileError(ValueError):
    """A plan file that cannot be used; `problems` says where and what."""

    def __init__(self, problems: list[PlanProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_plan_file(path: str | Path) -> PlanDocument:
    """Read and validate a plan file (.yaml or .xlsx). Raises PlanFileError listing every problem."""
    path = Path(path)
    if not path.exists():
        raise PlanFileError([PlanProblem(where=str(path), message="文件不存在")])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from config.plan.xlsx_read import read_workbook  # openpyxl only when a workbook is read

        data, problems = read_workbook(path)
        if problems:
            raise PlanFileError(problems)
    else:
        data = _load_yaml(path)
    doc, problems = validate_plan_data(data)
    if problems or doc is None:
        raise PlanFileError(problems)
    return doc


def _load_yaml(path: Path) -> Any:
    """The parsed YAML of a plan file; syntax and encoding errors as PlanFileError."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        raise PlanFileError([PlanProblem(where=where, message=f"YAML 格式错误：{exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise PlanFileError([PlanProblem(where=path.name, message="文件不是 UTF-8 编码")]) from exc
