"""Schema of a plan file (config/plans/*.yaml) and its validation.

A plan file is the structured transcription of one year's work plan: the responsible organisations, the
annual goals, the tasks split into checkable actions, the engineering projects (附件1), the indicators
(附件2) and recurring events. `validate_plan_data` checks a loaded document and reports every problem
with its key path, before anything is written to the database. See docs/plan-format.md.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
    def _window(self) -> "PlanMeta":
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
    start: dt.date | None = None
    due: dt.date | None = None
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
    check: Check | None = None
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


def _cross_checks(doc: PlanDocument) -> list[PlanProblem]:
    """Checks that span entries: names resolve, codes and numbers are unique, dates lie in the plan year."""
    problems: list[PlanProblem] = []
    names: dict[str, str] = {}
    for i, org in enumerate(doc.organisations):
        for n in [org.name, *( [org.short] if org.short else []), *org.aliases, *org.former_names]:
            if n in names and names[n] != org.name:
                problems.append(PlanProblem(where=f"organisations[{i}]", message=f"名称“{n}”与“{names[n]}”重复"))
            names.setdefault(n, org.name)
    group_names = {g.name for g in doc.groups} | {a for g in doc.groups for a in g.aliases}
    org_names = {o.name for o in doc.organisations}

    def check_ref(ref: str, where: str, allow_group: bool) -> None:
        if ref in org_names or (allow_group and ref in group_names):
            return
        problems.append(PlanProblem(where=where, message=f"未知单位“{ref}”（应为 organisations 中的 name）"))

    for i, org in enumerate(doc.organisations):
        if org.parent:
            check_ref(org.parent, f"organisations[{i}].parent", False)
    for i, g in enumerate(doc.groups):
        for j, m in enumerate(g.members):
            check_ref(m, f"groups[{i}].members[{j}]", False)
    seen: set[str] = set()
    for i, t in enumerate(doc.tasks):
        if t.code in seen:
            problems.append(PlanProblem(where=f"tasks[{i}].code", message=f"编号“{t.code}”重复"))
        seen.add(t.code)
        for j, a in enumerate(t.assignees):
            check_ref(a, f"tasks[{i}].assignees[{j}]", True)
        for field in ("start", "due"):
            d = getattr(t, field)
            if d and not (doc.plan.start.replace(month=1, day=1) <= d <= doc.plan.end):
                problems.append(PlanProblem(where=f"tasks[{i}].{field}", message=f"日期 {d} 不在计划年度内"))
    numbers: set[int] = set()
    for i, p in enumerate(doc.projects):
        if p.number in numbers:
            problems.append(PlanProblem(where=f"projects[{i}].number", message=f"序号 {p.number} 重复"))
        numbers.add(p.number)
        check_ref(p.lead, f"projects[{i}].lead", False)
        for j, a in enumerate(p.assignees):
            check_ref(a, f"projects[{i}].assignees[{j}]", True)
        if p.end_year < p.start_year:
            problems.append(PlanProblem(where=f"projects[{i}].end_year", message="结束年份早于开始年份"))
    numbers = set()
    for i, ind in enumerate(doc.indicators):
        if ind.number in numbers:
            problems.append(PlanProblem(where=f"indicators[{i}].number", message=f"序号 {ind.number} 重复"))
        numbers.add(ind.number)
        for j, r in enumerate(ind.responsible):
            check_ref(r, f"indicators[{i}].responsible[{j}]", True)
    for i, e in enumerate(doc.events):
        for j, r in enumerate(e.responsible):
            check_ref(r, f"events[{i}].responsible[{j}]", True)
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
        return None, [PlanProblem(where=_loc(tuple(e["loc"])), message=e["msg"]) for e in exc.errors()]
    problems = _cross_checks(doc)
    return (None if problems else doc), problems
