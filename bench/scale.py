"""Scale: a synthetic region and a synthetic nation, and how long duban's three big reads take on them.

The benchmark generates its own data with bulk inserts (SQLAlchemy Core, lists of rows): organisations, a
pool of tasks (with some projects and indicators), 40 assignments per organisation with deadlines spread over
the year, one official per organisation, and weekly reports filed by every organisation on every task
(progress rising towards the deadline, a few blocked, most done by it). Then, on the measurement day:

- an organisation's progress ("X县进度"): `progress.assignment_views(org_ids=[one])` + `progress.count`,
  and the whole answer through the engine (understanding included);
- the weekly digest: `scheduler.digest.build_digest` and its text;
- the day's nudge scan: `scheduler.deadlines.plan_nudges` (deadline nudges, overdue notices, escalations).

Each is set against a single hand-written SQL aggregate over the same data, the floor no implementation can
beat by much. Growth from region to nation is reported per assignment and per report.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text, update

from bench.common import NO_PG, POSTGRES, Row, backends, fresh_database, median_time, ms, ratio, secs
from config.clock import Clock
from config.settings import Settings
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import (
    BLOCKED,
    COORDINATOR,
    DONE,
    IN_PROGRESS,
    INDICATOR,
    NOT_STARTED,
    OFFICIAL,
    PROJECT,
    TASK,
    Assignment,
    Identity,
    Item,
    Organisation,
    Person,
    Plan,
    Report,
)

TZ = "Asia/Shanghai"
TODAY = dt.date(2023, 12, 20)  # a Wednesday, a working day: the year's reports are all in
YEAR_START, YEAR_END = dt.date(2023, 1, 1), dt.date(2023, 12, 31)
POOL = 400  # distinct tasks; each organisation gets 40 of them
CHUNK = 20_000


@dataclass(frozen=True)
class Spec:
    name: str
    counties: int
    departments: int
    tasks_per_org: int
    weeks: int

    @property
    def orgs(self) -> int:
        return self.counties + self.departments

    @property
    def assignments(self) -> int:
        return self.orgs * self.tasks_per_org

    @property
    def reports(self) -> int:
        return self.assignments * self.weeks

    def describe(self) -> str:
        parts = [f"{self.counties} counties"] + ([f"{self.departments} departments"] if self.departments else [])
        return (
            f"{' + '.join(parts)}, {self.tasks_per_org} tasks each = {self.assignments:,} assignments, "
            f"{self.weeks} weekly reports each = {self.reports:,} reports"
        )


REGION = Spec("region", 74, 60, 40, 52)
NATIONAL = Spec("national", 2800, 0, 40, 8)  # 52 weeks would be 5.8M reports: generation alone takes minutes
QUICK_REGION = Spec("region", 74, 60, 40, 4)
QUICK_NATIONAL = Spec("national", 280, 0, 40, 4)


# ---- generation ------------------------------------------------------------------------------------------


def _due_of(j: int) -> dt.date:
    # Spread deadlines over February–December, some on the measurement day's nudge dates.
    return dt.date(2023, 2, 1) + dt.timedelta(days=(j * 7919) % 333)


def _insert(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])


def generate(engine: Engine, spec: Spec, seed: int = 2023) -> dict[str, int]:
    """Create the schema and fill it with the synthetic data of `spec`. Returns ids the measures need."""
    upgrade(engine)
    rng = random.Random(seed)
    created = dt.datetime(2023, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            insert(Plan),
            [
                {
                    "id": 1,
                    "key": f"bench-{spec.name}",
                    "title": f"合成{spec.name}计划",
                    "year": 2023,
                    "start_date": YEAR_START,
                    "end_date": YEAR_END,
                    "active": True,
                    "imported_at": created,
                }
            ],
        )
        orgs = []
        for i in range(spec.counties):
            orgs.append({"id": i + 1, "name": f"合成{i + 1:04d}县", "short_name": f"合成{i + 1:04d}", "kind": "county"})
        for i in range(spec.departments):
            orgs.append(
                {"id": spec.counties + i + 1, "name": f"合成第{i + 1:03d}局", "short_name": None, "kind": "department"}
            )
        coord_org = len(orgs) + 1
        orgs.append({"id": coord_org, "name": "合成督办办公室", "short_name": None, "kind": "office"})
        _insert(conn, Organisation, orgs)
        items = []
        for j in range(POOL):
            kind = PROJECT if j % 20 == 7 else INDICATOR if j % 25 == 3 else TASK
            items.append(
                {
                    "id": j + 1,
                    "plan_id": 1,
                    "kind": kind,
                    "code": f"S{j + 1:04d}",
                    "number": j + 1,
                    "title": f"合成重点任务第{j + 1}项：推进生态文明建设示范工作",
                    "short_name": f"合成任务{j + 1}",
                    "start_date": YEAR_START,
                    "due_date": _due_of(j),
                    "keywords": [],
                    "targets": [],
                    "extra": {},
                    "investment_total": Decimal(1000 + j) if kind == PROJECT else None,
                    "active": True,
                }
            )
        _insert(conn, Item, items)
        assignments = []
        aid = 0
        for o in range(spec.orgs):
            for k in range(spec.tasks_per_org):
                aid += 1
                item = (o * 37 + k * (POOL // spec.tasks_per_org)) % POOL + 1
                assignments.append(
                    {
                        "id": aid,
                        "item_id": item,
                        "organisation_id": o + 1,
                        "role": "responsible",
                        "active": True,
                        "closed": False,
                    }
                )
        _insert(conn, Assignment, assignments)
        people_rows, idents = [], []
        for o in range(spec.orgs):
            people_rows.append(
                {
                    "id": o + 1,
                    "name": f"填报人{o + 1}",
                    "organisation_id": o + 1,
                    "role": OFFICIAL,
                    "active": True,
                    "created_at": created,
                }
            )
            idents.append(
                {
                    "id": o + 1,
                    "person_id": o + 1,
                    "channel": "telegram",
                    "external_id": str(100000 + o),
                    "chat_id": str(100000 + o),
                    "created_at": created,
                }
            )
        for c in range(3):
            pid = spec.orgs + c + 1
            people_rows.append(
                {
                    "id": pid,
                    "name": f"协调员{c + 1}",
                    "organisation_id": coord_org,
                    "role": COORDINATOR,
                    "active": True,
                    "created_at": created,
                }
            )
            idents.append(
                {
                    "id": pid,
                    "person_id": pid,
                    "channel": "telegram",
                    "external_id": str(900000 + c),
                    "chat_id": str(900000 + c),
                    "created_at": created,
                }
            )
        _insert(conn, Person, people_rows)
        _insert(conn, Identity, idents)
    # Reports: weekly, the newest on the measurement day's morning (local 10:00 = 02:00 UTC).
    rid = 0
    batch: list[dict[str, Any]] = []
    first_week = TODAY - dt.timedelta(days=7 * (spec.weeks - 1))
    with engine.begin() as conn:
        for a in assignments:
            due = _due_of(a["item_id"] - 1)
            span = max(1, (due - YEAR_START).days)
            pace = rng.uniform(0.7, 1.3)  # some organisations run ahead of schedule, some behind
            finishes = rng.random() < 0.85
            blocked_week = rng.randrange(spec.weeks) if rng.random() < 0.05 else -1
            for w in range(spec.weeks):
                day = first_week + dt.timedelta(days=7 * w)
                elapsed = (day - YEAR_START).days
                pct = min(100.0, round(100 * pace * elapsed / span / 5) * 5)
                if not finishes:
                    pct = min(pct, 90.0)
                status = DONE if pct >= 100 else NOT_STARTED if pct <= 0 else IN_PROGRESS
                if w == blocked_week and status != DONE:
                    status = BLOCKED
                rid += 1
                batch.append(
                    {
                        "id": rid,
                        "assignment_id": a["id"],
                        "person_id": a["organisation_id"],
                        "channel": "telegram",
                        "created_at": dt.datetime.combine(day, dt.time(2, 0)),
                        "status": status,
                        "percent": Decimal(str(max(pct, 0.0))),
                        "description": "本周推进情况：按计划开展工作",
                        "problems": "资金不足" if status == BLOCKED else None,
                        "review_state": "pending",
                    }
                )
                if len(batch) >= CHUNK:
                    conn.execute(insert(Report), batch)
                    batch = []
        if batch:
            conn.execute(insert(Report), batch)
        # The newest report of each assignment (denormalised, as add_report keeps it). Reports were numbered
        # assignment by assignment, `weeks` each, so the newest of assignment n is n * weeks.
        conn.execute(update(Assignment).values(last_report_id=Assignment.id * spec.weeks))
        conn.execute(text("ANALYZE"))  # fresh statistics, as a database a year old has
    return {"org_id": 1, "coord_person": spec.orgs + 1}


# ---- the hand-written floors ------------------------------------------------------------------------------


ORG_FLOOR = text("""
SELECT count(*), sum(CASE WHEN r.status = 'done' THEN 1 ELSE 0 END),
       sum(CASE WHEN r.status = 'blocked' THEN 1 ELSE 0 END),
       sum(CASE WHEN r.status <> 'done' AND coalesce(a.due_date, i.due_date) < :today THEN 1 ELSE 0 END),
       avg(coalesce(r.percent, 0))
FROM assignment a JOIN item i ON i.id = a.item_id
LEFT JOIN report r ON r.id = a.last_report_id
WHERE a.organisation_id = :org AND a.active AND i.active AND i.plan_id = :plan
""")

DIGEST_FLOOR = text("""
SELECT a.organisation_id, count(*),
       sum(CASE WHEN r.status = 'done' THEN 1 ELSE 0 END),
       sum(CASE WHEN r.status = 'blocked' THEN 1 ELSE 0 END),
       sum(CASE WHEN r.status <> 'done' AND coalesce(a.due_date, i.due_date) < :today THEN 1 ELSE 0 END),
       avg(coalesce(r.percent, 0)),
       avg(coalesce((SELECT r2.percent FROM report r2 WHERE r2.assignment_id = a.id AND r2.created_at <= :week_ago
                     ORDER BY r2.created_at DESC, r2.id DESC LIMIT 1), 0))
FROM assignment a JOIN item i ON i.id = a.item_id
LEFT JOIN report r ON r.id = a.last_report_id
WHERE a.active AND i.active AND i.plan_id = :plan
GROUP BY a.organisation_id
""")

SCAN_FLOOR = text("""
SELECT a.id, a.organisation_id, coalesce(a.due_date, i.due_date) AS due
FROM assignment a JOIN item i ON i.id = a.item_id
LEFT JOIN report r ON r.id = a.last_report_id
WHERE a.active AND i.active AND i.plan_id = :plan AND NOT a.closed AND coalesce(r.status, '') <> 'done'
  AND (coalesce(a.due_date, i.due_date) IN (:d0, :d1, :d3, :d7) OR coalesce(a.due_date, i.due_date) < :today)
""")


# ---- measuring --------------------------------------------------------------------------------------------


@dataclass
class Figures:
    spec: Spec
    generate_s: float
    org_s: float
    org_floor_s: float
    org_answer_s: float | None
    digest_s: float
    digest_floor_s: float
    scan_s: float
    scan_floor_s: float
    scan_messages: int
    digest_orgs: int


def _now() -> dt.datetime:
    return Clock(TZ).localize(dt.datetime.combine(TODAY, dt.time(9, 30)))


def measure(url: str, spec: Spec, quick: bool) -> Figures:
    """Generate `spec` into the empty database at `url` and measure the three reads against their floors."""
    from db.repositories import progress
    from scheduler import deadlines
    from scheduler import digest as digest_mod

    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        ids = generate(engine, spec)
        gen_s = time.perf_counter() - t0
        factory = make_session_factory(engine)
        now = _now()
        settings = Settings(
            data_dir=Path("/nonexistent-bench"), database_url=url, scheduler_enabled=False, telegram_token="bench"
        )
        reps = 3 if quick else 10
        with factory() as s:
            plan = s.get(Plan, 1)
            assert plan is not None
            org = ids["org_id"]
            org_s = median_time(
                lambda: progress.count(progress.assignment_views(s, plan, TODAY, org_ids=[org])), reps * 2
            )
            floor_params = {"org": org, "plan": 1, "today": TODAY}
            org_floor_s = median_time(lambda: s.execute(ORG_FLOOR, floor_params).all(), reps * 2)

            d_reps = 1 if quick or spec.name == "national" else 3
            built: list[Any] = []

            def build() -> None:
                d = digest_mod.build_digest(s, plan, now)
                d.text()
                built.append(d)

            digest_s = median_time(build, d_reps, warmup=0)
            digest_orgs = len(built[-1].orgs)
            week_ago = (now - dt.timedelta(days=7)).astimezone(dt.UTC).replace(tzinfo=None)
            digest_floor_s = median_time(
                lambda: s.execute(DIGEST_FLOOR, {"plan": 1, "today": TODAY, "week_ago": week_ago}).all(),
                d_reps,
                warmup=0,
            )

            msgs: list[Any] = []
            scan_s = median_time(lambda: msgs.append(deadlines.plan_nudges(s, plan, now, settings)), d_reps, warmup=0)
            nudge_days = {f"d{n}": TODAY + dt.timedelta(days=n) for n in (0, 1, 3, 7)}
            scan_floor_s = median_time(
                lambda: s.execute(SCAN_FLOOR, {"plan": 1, "today": TODAY, **nudge_days}).all(), d_reps, warmup=0
            )
        org_answer_s = _answer_time(url, settings, reps)
        return Figures(
            spec,
            gen_s,
            org_s,
            org_floor_s,
            org_answer_s,
            digest_s,
            digest_floor_s,
            scan_s,
            scan_floor_s,
            len(msgs[-1]),
            digest_orgs,
        )
    finally:
        engine.dispose()


def _answer_time(url: str, settings: Settings, reps: int) -> float | None:
    """Median time of the whole answer to "合成0001县进度" sent by a coordinator through the engine."""
    import uuid

    from bot.app import build_app
    from core.messages import IncomingMessage

    clock = Clock(TZ, dt.datetime.combine(TODAY, dt.time(9, 30)), frozen=True)
    app = build_app(settings.model_copy(update={"telegram_token": None}), migrate=False, clock=clock)
    try:

        def ask() -> str:
            msg = IncomingMessage(
                channel="telegram",
                chat_id="900000",
                user_id="900000",
                text="合成0001县进度",
                message_id=uuid.uuid4().hex,
            )
            replies = app.engine.handle(msg)
            return replies[0].text if replies else ""

        first = ask()
        if "合成0001县" not in first:
            return None  # not understood: no figure rather than a wrong one
        return median_time(ask, reps, warmup=0)
    finally:
        app.close()


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    specs = (QUICK_REGION, QUICK_NATIONAL) if quick else (REGION, NATIONAL)
    results: dict[str, dict[str, Figures]] = {}
    for backend in backends():
        results[backend] = {}
        for spec in specs:
            log(f"scale: {spec.name} on {backend}: {spec.describe()}")
            with fresh_database(backend, work, f"scale_{spec.name}") as url:
                results[backend][spec.name] = measure(url, spec, quick)
            f = results[backend][spec.name]
            log(
                f"  generated in {secs(f.generate_s)}; org {ms(f.org_s)}, digest {ms(f.digest_s)}, "
                f"scan {ms(f.scan_s)} ({f.scan_messages} messages)"
            )
    return rows(results, specs)


def rows(results: dict[str, dict[str, Figures]], specs: tuple[Spec, Spec]) -> list[Row]:
    region, nation = specs
    out: list[Row] = []

    def vals(fn: Callable[[Figures], str], spec: Spec) -> dict[str, str]:
        v = {b: fn(results[b][spec.name]) for b in results}
        v.setdefault(POSTGRES, NO_PG)
        return v

    for spec in specs:
        sect = f"Scale: {spec.name}"
        out.append(
            Row(
                sect,
                f"data: {spec.assignments:,} assignments, {spec.reports:,} reports",
                vals(lambda f: f"generated in {secs(f.generate_s)}", spec),
                note=spec.describe(),
            )
        )
        region_scale = spec is region
        org_ok = all(results[b][spec.name].org_s < 0.020 for b in results) if region_scale else None
        out.append(
            Row(
                sect,
                "org progress (assignment_views + count), vs SQL floor",
                vals(lambda f: f"{ms(f.org_s)} (floor {ms(f.org_floor_s)}, {ratio(f.org_s / f.org_floor_s)})", spec),
                "< 20 ms" if region_scale else "",
                org_ok,
            )
        )
        out.append(
            Row(
                sect,
                "answer “合成0001县进度” through the engine",
                vals(lambda f: ms(f.org_answer_s) if f.org_answer_s is not None else "not understood", spec),
            )
        )
        out.append(
            Row(
                sect,
                "weekly digest (build_digest + text), vs SQL floor",
                vals(
                    lambda f: (
                        f"{ms(f.digest_s)} (floor {ms(f.digest_floor_s)}, "
                        f"{ratio(f.digest_s / f.digest_floor_s)}; {f.digest_orgs} orgs)"
                    ),
                    spec,
                ),
            )
        )
        scan_ok = all(results[b][spec.name].scan_s < 1.0 for b in results) if region_scale else None
        out.append(
            Row(
                sect,
                "day's nudge scan (plan_nudges), vs SQL floor",
                vals(
                    lambda f: (
                        f"{ms(f.scan_s)} (floor {ms(f.scan_floor_s)}, "
                        f"{ratio(f.scan_s / f.scan_floor_s)}; {f.scan_messages} messages)"
                    ),
                    spec,
                ),
                "< 1 s" if region_scale else "",
                scan_ok,
            )
        )
    # Growth: time per unit of data, nation against region (1.0 = exactly linear).
    a_growth = nation.assignments / region.assignments
    d_growth = (nation.assignments + nation.reports) / (region.assignments + region.reports)
    note = (
        f"from region to nation the assignments grow {a_growth:.1f}x and assignments + reports "
        f"{d_growth:.1f}x; value = time growth ÷ data growth (1x is exactly linear)"
    )
    # Both jobs do work per assignment (one line of figures each; the newest report per assignment is picked
    # in SQL through the (assignment, created_at) index), so assignments are the data they must grow with.
    # The nation holds 8 weeks of reports against the region's 52, so assignments + reports grow far less
    # than assignments: that ratio is shown for information, without a target.
    for label, attr, data_growth, target in (
        ("weekly digest: growth per assignment", "digest_s", a_growth, True),
        ("weekly digest: growth per (assignments + reports)", "digest_s", d_growth, False),
        ("nudge scan: growth per assignment", "scan_s", a_growth, True),
    ):

        def growth(b: str, attr: str = attr, data_growth: float = data_growth) -> float:
            return (getattr(results[b][nation.name], attr) / getattr(results[b][region.name], attr)) / data_growth

        v = {b: ratio(growth(b)) for b in results}
        v.setdefault(POSTGRES, NO_PG)
        out.append(
            Row(
                "Scale: growth",
                label,
                v,
                "≤ 1x (1.25x for noise)" if target else "",
                all(growth(b) <= 1.25 for b in results) if target else None,
                note if attr == "digest_s" and target else "",
            )
        )
    return out
