"""Schema of a plan file (config/plans/*.yaml, or a workbook read by `config.plan.xlsx_read`) and its validation.

A plan file is the structured transcription of one year's work plan: the responsible organisations, the
annual goals, the tasks split into checkable actions, the engineering projects (附件1), the indicators
(附件2) and recurring events. `validate_plan_data` checks a loaded document and reports every problem
with its key path, before anything is written to the database. See docs/plan-format.md.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

OrgKind = Literal["county", "department", "office", "government", "branch", "other"]
TargetOp = Literal[">=", ">", "<=", "<", "=", "text"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PlanMeta(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str
    year: int = Field(ge=2000, le=2100)
    start: dt.date
    end: dt.date
    issuer: str | None = None
    document_no: str | None = None
    summary_due: dt.date | None = None

    @model_validator(mode="after")
    def _window(self) -> PlanMeta:
        if self.end < self.start:
            raise ValueError("end 早于 start")
        return self


class Organisation(_Strict):
    name: str
    kind: OrgKind
    short: str | None = None
    aliases: list[str] = Field(default_factory=list)
    former_names: list[str] = Field(default_factory=list)
    parent: str | None = None
    note: str | None = None


class Group(_Strict):
    name: str
    aliases: list[str] = Field(default_factory=list)
    members: list[str]


class Target(_Strict):
    """A quantitative target: value and unit, plus the original wording."""

    value: Decimal | None = None
    unit: str | None = None
    op: TargetOp = ">="
    text: str | None = None


class Goal(_Strict):
    code: str
    title: str
    text: str
    targets: list[Target] = Field(default_factory=list)


class Task(_Strict):
    code: str
    section: str
    title: str
    short: str | None = None
    text: str | None = None
    assignees: list[str] = Field(min_length=1)
    # Units a group among `assignees` stands for that do not take this task (市委生态文明办 receives the
    # 11月20日 summaries of 市直成员单位, it does not send one).
    exclude: list[str] = Field(default_factory=list)
    start: dt.date | None = None
    due: dt.date | None = None
    # The source gives no deadline and `due` is inferred (say why in `note`): shown as "（推定）".
    due_inferred: bool = False
    targets: list[Target] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    goal: str | None = None
    note: str | None = None


class Project(_Strict):
    number: int = Field(ge=1)
    name: str
    short: str | None = None
    content: str
    investment: Decimal = Field(ge=0, description="total investment, 万元")
    years: str
    start_year: int
    end_year: int
    lead: str
    assignees: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    due: dt.date | None = None
    # A unit's share of `investment` ({unit: 万元}) where the plan gives one; units left out have an unknown share.
    shares: dict[str, Decimal] = Field(default_factory=dict)
    note: str | None = None


class Check(_Strict):
    """How a reported indicator value is judged 达标."""

    op: TargetOp
    value: Decimal | None = None


class SubIndicator(_Strict):
    key: str
    name: str
    unit: str | None = None
    target: str
    target_year: str
    explanation: str | None = None
    check: Check | None = None
    note: str | None = None


class Indicator(_Strict):
    number: int = Field(ge=1)
    domain: str
    category: str
    name: str
    short: str | None = None
    unit: str | None = None
    target: str
    target_year: str
    explanation: str
    responsible: list[str] = Field(default_factory=list)
    # The source leaves the responsible unit empty and `responsible` is inferred (say why in `note`): shown
    # as "（推定）" wherever the responsible unit is shown.
    responsible_inferred: bool = False
    check: Check | None = None
    # How the city's figure follows from the responsible units' values when several own the indicator: all
    # (every unit must 达标), min, mean or sum; absent: sum for a numeric count, else all.
    city_rule: Literal["all", "min", "mean", "sum"] | None = None
    sub_indicators: list[SubIndicator] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    note: str | None = None


class Event(_Strict):
    code: str
    name: str
    month: int = Field(ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)
    responsible: list[str] = Field(min_length=1)
    text: str | None = None


class PlanDocument(_Strict):
    plan: PlanMeta
    organisations: list[Organisation]
    groups: list[Group] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)
    projects: list[Project] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)


class PlanProblem(BaseModel):
    """One problem found in a plan file: where (a key path or a sheet row) and what."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(根)"


# What each kind of organisation is called (the values `kind` accepts; the workbook's 单位 sheet uses the words).
ORG_KIND_LABELS: dict[str, str] = {
    "county": "县（区）",
    "department": "市直部门",
    "office": "党委办事机构",
    "government": "人民政府",
    "branch": "分局",
    "other": "其他",
}
_DATE_SHAPE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_KEY_PATTERN = "格式不对（只能用小写字母、数字、-、_，且以字母或数字开头）"


def _shown(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:40] + "…"


# pydantic's bound errors: the words and the context key of the bound.
_BOUNDS = {
    "greater_than_equal": ("应不小于", "ge"),
    "less_than_equal": ("应不大于", "le"),
    "greater_than": ("应大于", "gt"),
    "less_than": ("应小于", "lt"),
}
# pydantic's length errors: the message, the context key of the length and its default.
_LENGTHS: dict[str, tuple[str, str, int | None]] = {
    "too_short": ("至少填写 {} 项", "min_length", 1),
    "too_long": ("最多 {} 项", "max_length", None),
    "string_too_short": ("至少 {} 个字", "min_length", 1),
    "string_too_long": ("最多 {} 个字", "max_length", None),
}


def error_message(e: ErrorDetails) -> str:
    """A validator problem in Chinese, saying what was expected (pydantic words its own in English)."""
    kind, ctx, value = e["type"], e.get("ctx") or {}, e.get("input")
    if kind == "missing":
        return "缺少必填项"
    if kind == "extra_forbidden":
        return "不认识的项（名称拼写有误，或放错了位置？）"
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        if allowed and set(allowed) <= set(ORG_KIND_LABELS):
            choices = "、".join(f"{a}（{ORG_KIND_LABELS[a]}）" for a in allowed)
        else:
            choices = "、".join(allowed) or str(ctx.get("expected", ""))
        return f"“{_shown(value)}”不是可用的取值，应为 {choices} 之一"
    if kind.startswith("date") or kind.startswith("datetime"):
        m = _DATE_SHAPE.match(str(value))
        if m is not None:
            return f"日期“{_shown(value)}”不存在（{int(m.group(2))}月没有{int(m.group(3))}日，或月份不对）"
        return f"“{_shown(value)}”不是日期，应写作 年-月-日，如 2023-11-20"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"“{_shown(value)}”不是整数，应为整数，如 2023"
    if kind.startswith(("decimal", "float")) and kind not in ("decimal_max_digits", "decimal_max_places"):
        return f"“{_shown(value)}”不是数字，应为数字，如 1200 或 85.5"
    if kind in ("decimal_max_digits", "decimal_max_places", "decimal_whole_digits"):
        return f"数字“{_shown(value)}”位数过多"
    if kind in ("bool_parsing", "bool_type"):
        return f"“{_shown(value)}”应为 true 或 false"
    if kind == "string_type":
        return "应为文字"
    if kind == "list_type":
        return "应为列表（每一项另起一行，以“- ”开头）"
    if kind in ("dict_type", "model_type", "model_attributes_type", "dataclass_type"):
        return "应为若干“名称: 取值”（一个映射）"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"“{_shown(value)}”{words} {ctx.get(key)}"
    if kind in _LENGTHS:
        template, key, default = _LENGTHS[kind]
        return template.format(ctx.get(key, default))
    if kind == "string_pattern_mismatch":
        return _KEY_PATTERN
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        text = str(error) if error is not None else ""
        if text and re.search(r"[\u4e00-\u9fff]", text):  # our own validators speak Chinese
            return text
    return f"“{_shown(value)}”不是可用的取值"


# Column widths of the database (db/models.py) for strings taken from a plan; checked here so that an over-long
# entry (easily pasted into a spreadsheet cell) is reported with its place instead of failing the import.
_MAX_LENGTHS: dict[str, dict[str, int]] = {
    "plan": {"key": 64, "title": 200, "issuer": 100, "document_no": 100},
    "organisations": {"name": 100, "short": 50, "aliases": 100, "former_names": 100},
    "groups": {"name": 100},
    "goals": {"code": 40},
    "tasks": {"code": 40, "short": 100, "section": 200},
    "projects": {"short": 100, "years": 40},
    "indicators": {"short": 100, "domain": 40, "category": 100, "unit": 40},
    "sub_indicators": {"key": 39, "unit": 40},
    "events": {"code": 40},
}


def _length_checks(doc: PlanDocument) -> list[PlanProblem]:
    problems: list[PlanProblem] = []

    def check(obj: BaseModel, limits: dict[str, int], where: str) -> None:
        for attr, limit in limits.items():
            value = getattr(obj, attr)
            values = value if isinstance(value, list) else [value]
            for j, v in enumerate(values):
                if isinstance(v, str) and len(v) > limit:
                    at = f"{where}.{attr}" + (f"[{j}]" if isinstance(value, list) else "")
                    problems.append(PlanProblem(where=at, message=f"太长：{len(v)} 个字，最多 {limit} 个字"))

    check(doc.plan, _MAX_LENGTHS["plan"], "plan")
    for coll in ("organisations", "groups", "goals", "tasks", "projects", "indicators", "events"):
        for i, entry in enumerate(getattr(doc, coll)):
            check(entry, _MAX_LENGTHS[coll], f"{coll}[{i}]")
            for j, sub in enumerate(getattr(entry, "sub_indicators", [])):
                check(sub, _MAX_LENGTHS["sub_indicators"], f"{coll}[{i}].sub_indicators[{j}]")
    return problems


def _code_checks(doc: PlanDocument) -> list[PlanProblem]:
    """Item codes share one namespace per plan (the database keys items by (plan, code)): goal, task and event
    codes, and the generated P<number>, I<number> and I<sub-indicator key>."""
    problems: list[PlanProblem] = []
    first: dict[str, str] = {}

    def claim(code: str, where: str, same_kind_message: str | None = None) -> None:
        if code not in first:
            first[code] = where
            return
        prev = first[code]
        # A repeated number within the same list reads better as "序号 N 重复" than as a clash of generated codes.
        if same_kind_message and prev.split("[", 1)[0] == where.split("[", 1)[0] and "sub_indicators" not in prev:
            problems.append(PlanProblem(where=where, message=f"{same_kind_message}（已用于 {prev}）"))
        else:
            problems.append(PlanProblem(where=where, message=f"编号“{code}”重复（已用于 {prev}）"))

    for i, g in enumerate(doc.goals):
        claim(g.code, f"goals[{i}].code")
    for i, t in enumerate(doc.tasks):
        claim(t.code, f"tasks[{i}].code")
    for i, p in enumerate(doc.projects):
        claim(f"P{p.number}", f"projects[{i}].number", f"序号 {p.number} 重复")
    for i, ind in enumerate(doc.indicators):
        claim(f"I{ind.number}", f"indicators[{i}].number", f"序号 {ind.number} 重复")
    for i, ind in enumerate(doc.indicators):
        for j, sub in enumerate(ind.sub_indicators):
            where = f"indicators[{i}].sub_indicators[{j}].key"
            head, _, tail = sub.key.partition(".")
            if head != str(ind.number) or not tail.isdigit():
                problems.append(
                    PlanProblem(where=where, message=f"分项指标编号“{sub.key}”应为“{ind.number}.1”这样的形式")
                )
            claim(f"I{sub.key}", where)
    for i, e in enumerate(doc.events):
        claim(e.code, f"events[{i}].code")
    return problems


def _name_checks(doc: PlanDocument) -> tuple[list[PlanProblem], set[str]]:
    """Organisation and group names are unique across both; returns the problems and the group names."""
    problems: list[PlanProblem] = []
    names: dict[str, str] = {}
    for i, org in enumerate(doc.organisations):
        for n in [org.name, *([org.short] if org.short else []), *org.aliases, *org.former_names]:
            if n in names and names[n] != org.name:
                problems.append(PlanProblem(where=f"organisations[{i}]", message=f"名称“{n}”与“{names[n]}”重复"))
            names.setdefault(n, org.name)
    # Group names are looked up in the same vocabulary as organisation names (assignee lists accept both), so a
    # group called like an organisation would make a reference ambiguous.
    group_of: dict[str, str] = {}
    for i, g in enumerate(doc.groups):
        for where, n in [
            (f"groups[{i}].name", g.name),
            *((f"groups[{i}].aliases[{j}]", a) for j, a in enumerate(g.aliases)),
        ]:
            if n in names:
                problems.append(PlanProblem(where=where, message=f"单位组名称“{n}”与单位“{names[n]}”的名称或别名重复"))
            elif n in group_of and group_of[n] != g.name:
                problems.append(PlanProblem(where=where, message=f"单位组名称“{n}”与单位组“{group_of[n]}”重复"))
            group_of.setdefault(n, g.name)
    return problems, set(group_of)


def project_units(p: Project, members: dict[str, tuple[str, ...]]) -> list[str]:
    """The units that report on project `p`: its lead, then its assignees (a group standing for its members)."""
    out = [p.lead]
    for a in p.assignees:
        for n in members.get(a) or (a,):
            if n not in out:
                out.append(n)
    return out


def _share_checks(i: int, p: Project, members: dict[str, tuple[str, ...]]) -> list[PlanProblem]:
    """A project's `shares`: each unit among its units, no share negative, their sum within the total."""
    problems: list[PlanProblem] = []
    units = project_units(p, members)
    for unit, amount in p.shares.items():
        where = f"projects[{i}].shares.{unit}"
        if unit not in units:
            problems.append(PlanProblem(where=where, message=f"“{unit}”不是本项目的牵头或实施单位"))
        if amount < 0:
            problems.append(PlanProblem(where=where, message="份额不能为负数"))
    if p.shares and sum(p.shares.values(), Decimal(0)) > p.investment:
        problems.append(
            PlanProblem(
                where=f"projects[{i}].shares",
                message=f"各单位份额之和 {sum(p.shares.values(), Decimal(0))} 超过总投资 {p.investment}",
            )
        )
    return problems


def _cross_checks(doc: PlanDocument) -> list[PlanProblem]:
    """Checks that span entries: names resolve, codes and numbers are unique, dates lie in the plan year."""
    problems, group_names = _name_checks(doc)
    org_names = {o.name for o in doc.organisations}
    members = {n: tuple(g.members) for g in doc.groups for n in (g.name, *g.aliases)}

    def check_ref(ref: str, where: str, allow_group: bool) -> None:
        if ref in org_names or (allow_group and ref in group_names):
            return
        # Where a group is not accepted, say so: the name may well be a group's.
        expected = "organisations 中的 name" + ("" if allow_group else "，不能用单位组")
        problems.append(PlanProblem(where=where, message=f"未知单位“{ref}”（应为 {expected}）"))

    parent_of = {o.name: o.parent for o in doc.organisations if o.parent}
    for i, org in enumerate(doc.organisations):
        if org.parent:
            check_ref(org.parent, f"organisations[{i}].parent", False)
            seen: set[str] = {org.name}
            up: str | None = org.parent
            while up is not None and up not in seen:
                seen.add(up)
                up = parent_of.get(up)
            if up is not None:
                problems.append(PlanProblem(where=f"organisations[{i}].parent", message="上级单位构成循环"))
    for i, g in enumerate(doc.groups):
        for j, m in enumerate(g.members):
            check_ref(m, f"groups[{i}].members[{j}]", False)
    problems += _code_checks(doc)
    goal_codes = {g.code for g in doc.goals}
    for i, t in enumerate(doc.tasks):
        for j, a in enumerate(t.assignees):
            check_ref(a, f"tasks[{i}].assignees[{j}]", True)
        for j, x in enumerate(t.exclude):
            check_ref(x, f"tasks[{i}].exclude[{j}]", False)
            if x in org_names and not any(x == a or x in members.get(a, ()) for a in t.assignees):
                problems.append(PlanProblem(where=f"tasks[{i}].exclude[{j}]", message=f"“{x}”不在 assignees 中"))
        for field in ("start", "due"):
            d = getattr(t, field)
            if d and not (doc.plan.start.replace(month=1, day=1) <= d <= doc.plan.end):
                problems.append(PlanProblem(where=f"tasks[{i}].{field}", message=f"日期 {d} 不在计划年度内"))
        if t.due_inferred and (t.due is None or not t.note):
            problems.append(
                PlanProblem(where=f"tasks[{i}].due_inferred", message="推定的截止日期须有 due 和说明理由的 note")
            )
        if t.goal is not None and t.goal not in goal_codes:
            problems.append(
                PlanProblem(where=f"tasks[{i}].goal", message=f"未知的年度目标“{t.goal}”（应为 goals 中的 code）")
            )
    for i, p in enumerate(doc.projects):
        check_ref(p.lead, f"projects[{i}].lead", False)
        for j, a in enumerate(p.assignees):
            check_ref(a, f"projects[{i}].assignees[{j}]", True)
        if p.end_year < p.start_year:
            problems.append(PlanProblem(where=f"projects[{i}].end_year", message="结束年份早于开始年份"))
        problems += _share_checks(i, p, members)
    for i, ind in enumerate(doc.indicators):
        for j, r in enumerate(ind.responsible):
            check_ref(r, f"indicators[{i}].responsible[{j}]", True)
        if ind.responsible_inferred and not (ind.responsible and ind.note):
            problems.append(
                PlanProblem(
                    where=f"indicators[{i}].responsible_inferred",
                    message="推定的责任单位须有 responsible 和说明理由的 note",
                )
            )
    for i, e in enumerate(doc.events):
        for j, r in enumerate(e.responsible):
            check_ref(r, f"events[{i}].responsible[{j}]", True)
    problems += _length_checks(doc)
    return problems


def validate_plan_data(data: Any) -> tuple[PlanDocument | None, list[PlanProblem]]:
    """Validate a loaded plan document.

    Args:
        data: the parsed YAML (or the equivalent built from a workbook).

    Returns:
        The document when it is valid, and the list of every problem found (empty when valid).
    """
    if not isinstance(data, dict):
        return None, [PlanProblem(where="(根)", message="计划文件应为一个映射（plan/organisations/...）")]
    try:
        doc = PlanDocument.model_validate(data)
    except ValidationError as exc:
        return None, [PlanProblem(where=_loc(tuple(e["loc"])), message=error_message(e)) for e in exc.errors()]
    problems = _cross_checks(doc)
    return (None if problems else doc), problems
