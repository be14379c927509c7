"""The weekly digest for coordinators: completion per organisation and its change over the week, the 滞后 and
逾期 lists, blocked tasks with their problems, who has not reported, and project investment; as plain text,
as markdown, as a chart (completion per organisation) and as a workbook.

Figures come from `db.repositories.progress` (assignment_views, count, project_investments); the week before and a
past week come from `scheduler.history.views_at`, which replays the report history.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from db.models import BLOCKED, Plan
from db.repositories import orgs, people, progress, urges
from db.repositories.progress import AssignmentView, Counts
from handlers import formatting as fmt
from handlers import texts
from handlers import urge as urge_mod
from scheduler.history import to_utc, views_at
from scheduler.sheets import format_sheet

log = logging.getLogger(__name__)

MAX_LISTED = 20  # per list in the text; the workbook has them all
SILENCE = dt.timedelta(days=7)


@dataclass(frozen=True)
class OrgLine:
    org_id: int
    name: str
    counts: Counts
    before: Decimal  # completion a week earlier
    silent: bool  # open tasks and no report in the last 7 days
    light: str = progress.GREEN  # the unit's light (`progress.unit_light`)
    views: tuple[AssignmentView, ...] = ()  # its assignments' views (the units below it included)

    @property
    def completion(self) -> Decimal:
        return self.counts.completion

    @property
    def delta(self) -> Decimal:
        return self.completion - self.before


@dataclass(frozen=True)
class Away:
    """Someone on leave ("请假到 6月5日"): reminders paused through `until`."""

    name: str
    org: str
    until: dt.date


@dataclass(frozen=True)
class Chased:
    """A 催办 in the digest's period: which unit, by whom, when, what it named and how many it reached."""

    org: str
    who: str
    at: dt.datetime  # aware local
    overdue: int
    unreported: int
    recipients: int


@dataclass
class Digest:
    plan_title: str
    as_of: dt.datetime  # aware local
    since: dt.datetime  # a week earlier
    org_filter: str | None
    overall: Counts
    overall_before: Decimal
    orgs: list[OrgLine]
    lagging: list[AssignmentView]
    overdue: list[AssignmentView]
    blocked: list[AssignmentView]
    silent: list[OrgLine]
    returned: list[AssignmentView]  # newest report returned: not counted until a new version is filed
    projects: list[progress.ProjectInvestment]
    on_leave: list[Away] = field(default_factory=list)  # people paused on the digest's day (a current digest)
    # {verdict code: indicators}: each indicator's verdict (`progress.indicator_verdicts`: the city's for a
    # shared indicator, `progress.indicator_city`), as chat, export and plan show give it
    verdicts: dict[str, int] = field(default_factory=dict)
    urges: list[Chased] = field(default_factory=list)  # 催办 since the previous digest, oldest first

    @property
    def invest_planned(self) -> Decimal:
        return progress.city_investment(self.projects)[0]

    @property
    def invest_done(self) -> Decimal:
        return progress.city_investment(self.projects)[1]

    @property
    def invest_ratio(self) -> Decimal:
        planned = self.invest_planned
        return (self.invest_done * 100 / planned).quantize(Decimal("0.1")) if planned else Decimal(0)

    # ---- renderings ----

    def _title(self) -> str:
        scope = texts.DIGEST_SCOPE.format(org=self.org_filter) if self.org_filter else ""
        return texts.DIGEST_TITLE.format(
            scope=scope, start=fmt.day(self.since.date() + dt.timedelta(days=1)), end=fmt.day(self.as_of.date())
        )

    def _sections(self, bullet: str) -> list[tuple[str, list[str]]]:
        """(heading, lines) of each section; shared by text and markdown."""
        sections: list[tuple[str, list[str]]] = [(texts.DIGEST_OVERALL, [self._overall_line()])]
        if len(self.orgs) > 1 or not self.org_filter:
            sections.append((texts.DIGEST_BY_ORG, self._org_lines()))
        sections += self._task_lists(bullet)
        if self.returned:
            returned = [
                texts.DIGEST_RETURNED_LINE.format(
                    bullet=bullet, org=v.org_name, label=v.label, reason=v.return_reason or texts.RETURNED_NO_REASON
                )
                for v in self.returned
            ]
            sections.append((texts.DIGEST_RETURNED.format(n=len(self.returned)), _listed(returned)))
        silent = ["、".join(ol.name for ol in self.silent)] if self.silent else [texts.DIGEST_NONE]
        sections.append((texts.DIGEST_SILENT.format(n=len(self.silent)), silent))
        if self.on_leave:
            away = [
                texts.DIGEST_ON_LEAVE_LINE.format(bullet=bullet, name=a.name, org=a.org, until=fmt.day(a.until))
                for a in self.on_leave
            ]
            sections.append((texts.DIGEST_ON_LEAVE.format(n=len(self.on_leave)), _listed(away)))
        if self.urges:
            chased = [
                texts.DIGEST_URGE_LINE.format(
                    bullet=bullet,
                    org=c.org,
                    when=f"{fmt.day(c.at.date())} {c.at:%H:%M}",
                    who=c.who,
                    overdue=c.overdue,
                    unreported=c.unreported,
                    recipients=c.recipients,
                )
                for c in self.urges
            ]
            sections.append((texts.DIGEST_URGES.format(n=len(self.urges)), _listed(chased)))
        if self.projects:
            sections.append((texts.DIGEST_INVESTMENT, [self._investment_line(), *self._shared_lines(bullet)]))
        if self.verdicts:
            sections.append((texts.DIGEST_VERDICTS, [self._verdict_line()]))
        return sections

    def _verdict_line(self) -> str:
        return texts.DIGEST_VERDICT_LINE.format(
            **{code: self.verdicts.get(code, 0) for code in texts.VERDICT_LABELS},
        )

    def _overall_line(self) -> str:
        o = self.overall
        return texts.DIGEST_OVERALL_LINE.format(
            completion=fmt.number(o.completion),
            delta=_delta(o.completion - self.overall_before),
            done=o.done,
            total=o.total,
            overdue=o.overdue,
            lagging=o.lagging,
            blocked=o.blocked,
            unreported=o.unreported,
        )

    def _org_lines(self) -> list[str]:
        return [
            texts.DIGEST_ORG_LINE.format(
                i=i,
                org=ol.name,
                completion=fmt.number(ol.completion),
                delta=_delta(ol.delta),
                done=ol.counts.done,
                total=ol.counts.total,
                overdue=ol.counts.overdue,
                lagging=ol.counts.lagging,
            )
            for i, ol in enumerate(self.orgs, 1)
        ]

    def _task_lists(self, bullet: str) -> list[tuple[str, list[str]]]:
        """The overdue, lagging and blocked sections."""
        overdue = [
            texts.DIGEST_OVERDUE_LINE.format(
                bullet=bullet,
                org=v.org_name,
                label=_marked(v),
                due=fmt.day(v.due),
                days=-v.days_left,
                progress=fmt.status_with_percent(v.status, v.percent),
            )
            for v in self.overdue
        ]
        lagging = [
            texts.DIGEST_LAGGING_LINE.format(
                bullet=bullet,
                org=v.org_name,
                label=_marked(v),
                percent=fmt.number(v.percent or 0),
                expected=fmt.number(v.expected),
            )
            for v in self.lagging
        ]
        blocked = [
            texts.DIGEST_BLOCKED_LINE.format(
                bullet=bullet, org=v.org_name, label=v.label, problems=v.problems or texts.DIGEST_NO_PROBLEM_TEXT
            )
            for v in self.blocked
        ]
        return [
            (texts.DIGEST_OVERDUE.format(n=len(self.overdue)), _listed(overdue)),
            (texts.DIGEST_LAGGING.format(n=len(self.lagging)), _listed(lagging)),
            (texts.DIGEST_BLOCKED.format(n=len(self.blocked)), _listed(blocked)),
        ]

    def _investment_line(self) -> str:
        return texts.DIGEST_INVESTMENT_LINE.format(
            done=fmt.money(self.invest_done),
            planned=fmt.money(self.invest_planned),
            ratio=fmt.number(self.invest_ratio),
            reported=sum(1 for p in self.projects if p.done is not None),
            total=len(self.projects),
        )

    def _shared_lines(self, bullet: str) -> list[str]:
        """Each reported shared project's figure (the sum of its units' own parts)."""
        return [
            texts.DIGEST_INVESTMENT_SHARED_LINE.format(
                bullet=bullet,
                number=p.number,
                label=p.label,
                n=len(p.units),
                done=fmt.money(p.done),
                planned=fmt.money(p.planned),
                ratio=fmt.share(p.done, p.planned),
            )
            for p in self.projects
            if p.shared and p.done is not None
        ]

    def text(self) -> str:
        parts = [self._title()]
        for heading, lines in self._sections("·"):
            parts.append(f"\n【{heading}】")
            parts.extend(lines or [texts.DIGEST_NONE])
        return "\n".join(parts)

    def markdown(self) -> str:
        parts = [f"**{self._title()}**"]
        for heading, lines in self._sections("-"):
            parts.append(f"\n**{heading}**")
            parts.extend(lines or [texts.DIGEST_NONE])
        return "\n".join(parts)


def _delta(d: Decimal) -> str:
    if d > 0:
        return texts.DIGEST_UP.format(n=fmt.number(d))
    if d < 0:
        return texts.DIGEST_DOWN.format(n=fmt.number(-d))
    return texts.DIGEST_FLAT


def _marked(v: AssignmentView) -> str:
    """An item's label, marked when its newest report was returned (its figures are the version before)."""
    return v.label + texts.RETURNED_MARK if v.returned else v.label


def _listed(lines: list[str]) -> list[str]:
    if not lines:
        return [texts.DIGEST_NONE]
    if len(lines) > MAX_LISTED:
        return lines[:MAX_LISTED] + [texts.DIGEST_MORE.format(n=len(lines))]
    return lines


def build_digest(
    session: Session,
    plan: Plan,
    now: dt.datetime,
    org_ids: list[int] | None = None,
    org_filter: str | None = None,
    current: bool = True,
) -> Digest:
    """The digest as of `now` (aware local).

    Args:
        org_ids: restrict to these organisations (`duban digest --org`).
        org_filter: the name shown in the title for such a restriction.
        current: `now` is the present, so the stored newest reports are used as they are; False replays
            the history up to `now` (a past week).
    """
    since = now - dt.timedelta(days=7)
    views = (
        progress.assignment_views(session, plan, now.date(), org_ids=org_ids)
        if current
        else views_at(session, plan, now, org_ids)
    )
    # Last week's views start from this week's (same rows, judged as of that day) when these are today's.
    before = views_at(session, plan, since, org_ids, current=views if current else None)
    # A unit below another (工布江达县人民政府 under 工布江达县) is counted in its parent's line (within the units
    # asked for, when restricted).
    up = orgs.roll_up(session, org_ids)
    before_by_org: dict[int, list[AssignmentView]] = defaultdict(list)
    for v in before:
        before_by_org[up.get(v.org_id, v.org_id)].append(v)
    by_org: dict[int, list[AssignmentView]] = defaultdict(list)
    for v in views:
        by_org[up.get(v.org_id, v.org_id)].append(v)
    names = orgs.names_of(session, list(by_org))
    silent_since = to_utc(since)
    lines: list[OrgLine] = []
    for org_id, vs in by_org.items():
        open_vs = [v for v in vs if not v.done and not v.closed and v.start <= now.date()]
        silent = bool(open_vs) and not any(v.last_report_at is not None and v.last_report_at > silent_since for v in vs)
        counts = progress.count(vs)
        lines.append(
            OrgLine(
                org_id,
                names.get(org_id, vs[0].org_name),
                counts,
                progress.count(before_by_org.get(org_id, [])).completion,
                silent,
                progress.unit_light(vs, counts),
                tuple(vs),
            )
        )
    lines.sort(key=lambda ol: (-ol.completion, ol.counts.overdue, ol.name))  # by completion, then fewer overdue
    return Digest(
        plan_title=plan.title,
        as_of=now,
        since=since,
        org_filter=org_filter,
        overall=progress.count(views),
        overall_before=progress.count(before).completion,
        orgs=lines,
        lagging=[v for v in views if v.lagging and not v.overdue],
        overdue=[v for v in views if v.overdue],
        blocked=[v for v in views if v.status == BLOCKED],
        silent=[ol for ol in lines if ol.silent],
        returned=[v for v in views if v.returned],
        projects=progress.project_investments(session, views),
        on_leave=_on_leave(session, now.date(), org_ids) if current else [],
        urges=chased(session, since, now, org_ids),
        verdicts=dict(Counter(v.code for _, v in progress.indicator_verdicts(session, plan, views).values())),
    )


def chased(session: Session, since: dt.datetime, now: dt.datetime, org_ids: list[int] | None) -> list[Chased]:
    """The units chased (催办) in (since, now] (aware local), of `org_ids` and the units below them when given,
    oldest first: the digest's list and the board's record of a unit."""
    wanted = orgs.descendants(session, org_ids) if org_ids is not None else None
    return [
        Chased(
            u.organisation.name,
            urge_mod.who_label(u.urged_by),
            fmt.local(u.created_at, now.tzinfo or dt.UTC),
            u.overdue,
            u.unreported,
            u.recipients,
        )
        for u in urges.between(session, to_utc(since), to_utc(now) + dt.timedelta(microseconds=1), wanted)
    ]


def _on_leave(session: Session, today: dt.date, org_ids: list[int] | None) -> list[Away]:
    """Who is on leave on `today` (a pause records no history: only a current digest shows it)."""
    return [
        Away(p.name, p.organisation.name if p.organisation is not None else fmt.DASH, p.paused_until)
        for p in people.on_leave(session, today, org_ids)
        if p.paused_until is not None
    ]


# ---- chart --------------------------------------------------------------------------------------------------

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


def cjk_font() -> str | None:
    """The name of an installed font that has Chinese glyphs, or None (then the chart uses numbered labels)."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for n in CJK_FONTS:
        if n in names:
            return n
    # Matplotlib's font cache may predate a font installed later (apt install fonts-wqy-microhei).
    for path in CJK_FONT_FILES:
        if Path(path).exists():
            try:
                font_manager.fontManager.addfont(path)
            except Exception:  # a broken font file: try the next one
                log.warning("cannot load font %s", path)
                continue
            names = {f.name for f in font_manager.fontManager.ttflist}
            for n in CJK_FONTS:
                if n in names:
                    return n
    return None


def render_chart(d: Digest, path: Path) -> Path:
    """A horizontal bar chart of completion per organisation (PNG). Without a CJK font the bars are numbered
    as in the text's list, so the image never shows boxes instead of names."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    font = cjk_font()
    rows = list(reversed(d.orgs))  # best at the top
    n = max(1, len(rows))
    fig = Figure(figsize=(8, 1.2 + 0.32 * n), dpi=110)
    ax = fig.add_subplot()
    values = [float(ol.completion) for ol in rows]
    if font:
        labels = [ol.name for ol in rows]
    else:
        labels = [str(len(rows) - i) for i in range(len(rows))]
    colours = ["#c0392b" if ol.counts.overdue else ("#e1a100" if ol.counts.lagging else "#2e8b57") for ol in rows]
    ax.barh(range(len(rows)), values, color=colours)
    ax.set_yticks(range(len(rows)))
    family: str | None = font  # None: matplotlib's default (then the labels are numbers)
    ax.set_yticklabels(labels, fontsize=8, fontfamily=family)
    ax.set_xlim(0, 105)
    for i, v in enumerate(values):
        ax.text(v + 1, i, f"{v:g}%", va="center", fontsize=7)
    title = (
        texts.DIGEST_CHART_TITLE.format(date=fmt.day(d.as_of.date()))
        if font
        else f"Completion by organisation, {d.as_of.date().isoformat()}"
    )
    ax.set_title(title, fontsize=10, fontfamily=family)
    ax.set_xlabel("%")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close("all")
    return path


# ---- workbook -----------------------------------------------------------------------------------------------


def render_xlsx(d: Digest, path: Path) -> Path:
    """The digest as a workbook: one sheet per organisation table and list."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = texts.DIGEST_SHEET_ORGS
    ws.append(list(texts.DIGEST_ORG_HEADERS))
    for ol in d.orgs:
        c = ol.counts
        ws.append(
            [
                ol.name,
                c.total,
                c.done,
                c.in_progress,
                c.not_started,
                c.blocked,
                c.overdue,
                c.lagging,
                c.unreported,
                float(ol.completion),
                float(ol.delta),
                texts.DIGEST_YES if ol.silent else "",
            ]
        )
    format_sheet(ws, [16, 8, 8, 8, 8, 8, 8, 8, 8, 10, 12, 12])

    def task_sheet(title: str, views: list[AssignmentView]) -> None:
        s = wb.create_sheet(title)
        s.append(list(texts.DIGEST_TASK_HEADERS))
        for v in views:
            s.append(
                [
                    v.org_name,
                    v.item_code,
                    v.label,
                    v.due,
                    fmt.status_label(v.status),
                    float(v.percent) if v.percent is not None else None,
                    float(v.expected),
                    -v.days_left if v.overdue else None,
                    v.problems or "",
                ]
            )
        format_sheet(s, [16, 10, 36, 12, 10, 8, 8, 8, 40], wrap_columns=(3, 9))

    task_sheet(texts.DIGEST_SHEET_OVERDUE, d.overdue)
    task_sheet(texts.DIGEST_SHEET_LAGGING, d.lagging)
    task_sheet(texts.DIGEST_SHEET_BLOCKED, d.blocked)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
