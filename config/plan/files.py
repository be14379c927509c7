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


class _PlanLoader(yaml.SafeLoader):
    """YAML's safe loader, stricter where a plan file needs it: a repeated key is an error (plain YAML keeps the
    last one silently), and a date that does not exist (2023-11-31) stays text, so that the validator reports
    it at its key path instead of the reader failing."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return str(node.value)


def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str | int) and key in seen:
            raise _DuplicateKey(str(key), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node)


class _DuplicateKey(Exception):
    def __init__(self, key: str, mark: Any) -> None:
        super().__init__(key)
        self.key = key
        self.mark = mark


_PlanLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_PlanLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)

# PyYAML's problem descriptions (English) and what they mean to someone editing a plan file.
_YAML_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("found character '\\t'", "含有制表符（Tab）：请用空格缩进"),
    ("mapping values are not allowed", "这里不能出现“名称: 取值”：冒号后是否少了空格，或这一行缩进不对？"),
    ("could not find expected ':'", "缺少冒号“:”"),
    ("expected ',' or ']'", "方括号 [ ] 内缺少逗号，或没有闭合"),
    ("expected ',' or '}'", "花括号 { } 内缺少逗号，或没有闭合"),
    ("found unexpected end of stream", "文件意外结束：引号或括号没有闭合"),
    ("did not find expected key", "缩进不一致：同一层的各项应对齐"),
    ("did not find expected '-' indicator", "缩进不一致：列表的各项应以同样缩进的“- ”开头"),
    ("expected <block end>", "缩进不一致：同一层的各项应对齐"),
    ("found undefined alias", "引用了未定义的锚点（*名称）"),
    ("found unknown escape character", "引号内有无法识别的转义字符（\\）"),
    ("found unacceptable character", "含有无法识别的字符"),
    ("expected a single document", "文件中有多个文档（“---”分隔）：一个计划文件只能有一个"),
)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    text = " ".join(str(getattr(exc, a, "") or "") for a in ("problem", "context"))
    for english, chinese in _YAML_PROBLEMS:
        if english in text:
            return f"YAML 格式错误：{chinese}"
    return "YAML 格式错误：请检查这一行及上一行的缩进、冒号后的空格、引号和括号"


def _place(path: Path, mark: Any) -> str:
    return f"{path.name} 第{mark.line + 1}行第{mark.column + 1}列" if mark is not None else path.name


def _load_yaml(path: Path) -> Any:
    """The parsed YAML of a plan file; syntax and encoding errors as PlanFileError."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_PlanLoader)  # _PlanLoader is a SafeLoader
    except _DuplicateKey as exc:
        message = f"名称“{exc.key}”在同一层重复出现（后一个会覆盖前一个）"
        raise PlanFileError([PlanProblem(where=_place(path, exc.mark), message=message)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PlanFileError([PlanProblem(where=_place(path, mark), message=_yaml_problem(exc))]) from None
    except UnicodeDecodeError:
        raise PlanFileError([PlanProblem(where=path.name, message="文件不是 UTF-8 编码（请另存为 UTF-8）")]) from None
    except OSError as exc:
        raise PlanFileError([PlanProblem(where=path.name, message=f"无法读取文件（{exc.strerror}）")]) from None
