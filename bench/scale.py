"""Scale: a synthetic region and a synthetic nation, and how long duban's three big reads take on them.

The benchmark generates its own data with bulk inserts (SQLAlchemy Core, lists of rows): organisations, a
pool of tasks (with some projects and indicators), 40 assignments per organisation with deadlines spread over
the year, one official per organisation, and weekly reports filed by every organisation on every task
(progress rising towards the deadline, a few blocked, most done by it). Both sizes get the same history, 8
weekly reports per assignment (4 with --quick), so the data grows exactly as the assignments do (see `REGION`
for why 8 and not 52). Then, on the measurement day:

- an organisation's progress ("X县进度"): `progress.assignment_views(org_ids=[one])` + `progress.count`,
  and the whole answer through the engine (understanding included);
- the weekly digest: `scheduler.digest.build_digest` and its text;
- the day's nudge scan: `scheduler.deadlines.plan_nudges` (deadline nudges, overdue notices, escalations).

Each operation runs once untimed (warm: caches, statement compilation, the database's pages), then at least 3
timed runs; the table gives median (min–max). Each is set against a single hand-written SQL aggregate over the
same data, the floor no implementation can beat by much. Growth from region to nation is reported per
assignment from the medians and from the fastest runs.

At national scale the peak resident memory (VmHWM) is read in fresh child processes (`python -m bench.scale
memory JOB ...`): building the digest, the day's nudge scan, and a process started as `duban serve` starts
(NLU warmed) running the start-up catch-up (`scheduler.service.run_due` on the nudge day, messages queued).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text, update

from bench.common import NO_PG, POSTGRES, Row, backends, fresh_database, ms, ratio, secs, timed
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


# The same history at both sizes (8 weekly reports per assignment): the data grows exactly as the assignments,
# so growth per assignment compares like with like. 8 weeks, not the year's 52: the nation's 52 would be 5.8M
# reports (generation alone takes minutes), and the jobs measured read one or two reports per assignment
# through the (assignment, created_at) index, not the whole history.
REGION = Spec("region", 74, 60, 40, 8)
NATIONAL = Spec("national", 2800, 0, 40, 8)
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


@dataclass(frozen=True)
class Times:
    """Seconds of the timed runs of one operation (each after one untimed warm-up run)."""

    samples: tuple[float, ...]

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def show(self) -> str:
        return f"{ms(self.median)} ({ms(self.min)}–{ms(self.max)}, n={len(self.samples)})"


def sample(fn: Callable[[], Any], runs: int) -> Times:
    """One untimed warm-up call of `fn`, then `runs` timed ones."""
    fn()
    return Times(tuple(timed(fn)[0] for _ in range(max(3, runs))))


@dataclass
class Figures:
    spec: Spec
    generate_s: float
    org: Times
    org_floor: Times
    org_answer: Times | None
    digest: Times
    digest_floor: Times
    scan: Times
    scan_floor: Times
    scan_messages: int
    digest_orgs: int
    memory: dict[str, Memory] = field(default_factory=dict)  # national scale only: by what the child did


@dataclass(frozen=True)
class Memory:
    """Resident memory of a fresh child process (MB): the peak before its work (imports, set-up) and overall."""

    before_mb: float
    peak_mb: float
    detail: str  # what the work produced (messages, organisations)


def _now() -> dt.datetime:
    return Clock(TZ).localize(dt.datetime.combine(TODAY, dt.time(9, 30)))


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, scheduler_enabled=False, telegram_token="bench")


def measure(url: str, spec: Spec, quick: bool, work: Path, with_memory: bool) -> Figures:
    """Generate `spec` into the empty database at `url` and measure the three reads against their floors;
    with `with_memory` also the peak memory of fresh processes doing the digest, the scan and the catch-up."""
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
        settings = _settings(url, Path("/nonexistent-bench"))
        small_runs = 5 if quick else 10
        big_runs = 3 if quick or spec is NATIONAL else 5  # each run of the nation's digest takes seconds
        with factory() as s:
            plan = s.get(Plan, 1)
            assert plan is not None
            org = ids["org_id"]
            org_t = sample(lambda: progress.count(progress.assignment_views(s, plan, TODAY, org_ids=[org])), small_runs)
            floor_params = {"org": org, "plan": 1, "today": TODAY}
            org_floor = sample(lambda: s.execute(ORG_FLOOR, floor_params).all(), small_runs)

            built: list[Any] = []

            def build() -> None:
                d = digest_mod.build_digest(s, plan, now)
                d.text()
                built.append(d)

            digest_t = sample(build, big_runs)
            digest_orgs = len(built[-1].orgs)
            built.clear()
            week_ago = (now - dt.timedelta(days=7)).astimezone(dt.UTC).replace(tzinfo=None)
            digest_floor = sample(
                lambda: s.execute(DIGEST_FLOOR, {"plan": 1, "today": TODAY, "week_ago": week_ago}).all(), big_runs
            )
            counted: list[int] = []
            scan_t = sample(lambda: counted.append(len(deadlines.plan_nudges(s, plan, now, settings))), big_runs)
            nudge_days = {f"d{n}": TODAY + dt.timedelta(days=n) for n in (0, 1, 3, 7)}
            scan_floor = sample(
                lambda: s.execute(SCAN_FLOOR, {"plan": 1, "today": TODAY, **nudge_days}).all(), big_runs
            )
        answer = _answer_time(url, settings, small_runs)
        figures = Figures(
            spec, gen_s, org_t, org_floor, answer, digest_t, digest_floor, scan_t, scan_floor, counted[-1], digest_orgs
        )
        if with_memory:
            # The catch-up last: it queues the day's messages (the others only read).
            for job in ("digest", "scan", "catch-up"):
                figures.memory[job] = _child_memory(job, url, work)
        return figures
    finally:
        engine.dispose()


def _answer_time(url: str, settings: Settings, reps: int) -> Times | None:
    """Times of the whole answer to "合成0001县进度" sent by a coordinator through the engine."""
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

        if "合成0001县" not in ask():
            return None  # not understood: no figure rather than a wrong one
        return sample(ask, reps)
    finally:
        app.close()


# ---- memory: fresh child processes -----------------------------------------------------------------------

MEMORY_JOBS = {
    "digest": "a fresh Python process: import the scheduler, then build_digest + text",
    "scan": "a fresh Python process: import the scheduler, then the day's nudge scan (plan_nudges)",
    "catch-up": (
        "a fresh process started as `duban serve` starts (build_app, NLU warmed), then the start-up catch-up run "
        "(scheduler.service.run_due: every job due on the nudge day, queued to the outbox)"
    ),
}


def _child_memory(job: str, url: str, work: Path) -> Memory:
    """Run `job` in a fresh `python -m bench.scale memory JOB URL DIR` and read what it reports."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "bench.scale", "memory", job, url, str(work / f"memory-{job}")],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return Memory(data["before_mb"], data["peak_mb"], data["detail"])


def _peak_mb() -> float:
    """This process's peak resident memory so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover - not Linux


def _memory_child(job: str, url: str, data_dir: Path) -> dict[str, Any]:
    """The child's side of `_child_memory`: set up, note the peak, do `job`, note the peak again."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = _settings(url, data_dir)
    now = _now()
    if job == "catch-up":
        from bot.app import build_app
        from scheduler.service import run_due

        clock = Clock(TZ, dt.datetime.combine(TODAY, dt.time(9, 30)), frozen=True)
        app = build_app(settings, migrate=False, clock=clock)
        try:
            before = _peak_mb()
            detail = f"{run_due(app, now)} messages queued"
        finally:
            app.close()
        return {"before_mb": before, "peak_mb": _peak_mb(), "detail": detail}
    from scheduler import deadlines
    from scheduler import digest as digest_mod

    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        plan = s.get(Plan, 1)
        assert plan is not None
        before = _peak_mb()
        if job == "digest":
            d = digest_mod.build_digest(s, plan, now)
            detail = f"{len(d.orgs)} organisations, {len(d.text()):,} characters"
        else:
            detail = f"{len(deadlines.plan_nudges(s, plan, now, settings))} messages"
    engine.dispose()
    return {"before_mb": before, "peak_mb": _peak_mb(), "detail": detail}


# ---- the table --------------------------------------------------------------------------------------------


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    specs = (QUICK_REGION, QUICK_NATIONAL) if quick else (REGION, NATIONAL)
    results: dict[str, dict[str, Figures]] = {}
    for backend in backends():
        results[backend] = {}
        for spec in specs:
            log(f"scale: {spec.name} on {backend}: {spec.describe()}")
            with fresh_database(backend, work, f"scale_{spec.name}") as url:
                results[backend][spec.name] = measure(url, spec, quick, work, with_memory=spec is specs[1])
            f = results[backend][spec.name]
            log(
                f"  generated in {secs(f.generate_s)}; org {f.org.show()}, digest {f.digest.show()}, "
                f"scan {f.scan.show()} ({f.scan_messages} messages)"
            )
            for job, m in f.memory.items():
                log(f"  peak RSS, {job}: {m.peak_mb:.0f} MB ({m.before_mb:.0f} MB before the work; {m.detail})")
    return rows(results, specs)


MEMORY_TARGET_MB = 400
GROWTH_TARGET = 1.1


def rows(results: dict[str, dict[str, Figures]], specs: tuple[Spec, Spec]) -> list[Row]:
    region, nation = specs
    out: list[Row] = []

    def vals(fn: Callable[[Figures], str], spec: Spec) -> dict[str, str]:
        v = {b: fn(results[b][spec.name]) for b in results}
        v.setdefault(POSTGRES, NO_PG)
        return v

    def against(t: Times, floor: Times, extra: str = "") -> str:
        return f"{t.show()}; floor {ms(floor.median)}, {ratio(t.median / floor.median)}{extra}"

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
        org_ok = all(results[b][spec.name].org.median < 0.020 for b in results) if region_scale else None
        out.append(
            Row(
                sect,
                "one organisation's progress: assignment_views(org_ids=[one]) + count, in an open session; "
                "median (min–max) of warm runs, vs the SQL floor's median",
                vals(lambda f: against(f.org, f.org_floor), spec),
                "< 20 ms" if region_scale else "",
                org_ok,
            )
        )
        out.append(
            Row(
                sect,
                "answer “合成0001县进度” from a coordinator: Engine.handle, understanding to reply text; warm runs",
                vals(lambda f: f.org_answer.show() if f.org_answer is not None else "not understood", spec),
            )
        )
        out.append(
            Row(
                sect,
                "weekly digest: build_digest (this week's and last week's views of every assignment) + its text, "
                "in an open session; warm runs, vs the SQL floor (one aggregate)",
                vals(lambda f: against(f.digest, f.digest_floor, f"; {f.digest_orgs} orgs"), spec),
            )
        )
        scan_ok = all(results[b][spec.name].scan.median < 1.0 for b in results) if region_scale else None
        out.append(
            Row(
                sect,
                "day's nudge scan: plan_nudges (nudges, overdue notices, escalations planned and rendered, not "
                "queued), in an open session; warm runs, vs the SQL floor (the open assignments due)",
                vals(lambda f: against(f.scan, f.scan_floor, f"; {f.scan_messages} messages"), spec),
                "< 1 s" if region_scale else "",
                scan_ok,
            )
        )
        for job, what in MEMORY_JOBS.items():
            if not all(job in results[b][spec.name].memory for b in results):
                continue
            out.append(
                Row(
                    sect,
                    f"peak resident memory (VmHWM) of {what}",
                    vals(
                        lambda f, job=job: (
                            f"{f.memory[job].peak_mb:.0f} MB ({f.memory[job].before_mb:.0f} MB before the work; "
                            f"{f.memory[job].detail})"
                        ),
                        spec,
                    ),
                    f"< {MEMORY_TARGET_MB} MB",
                    all(results[b][spec.name].memory[job].peak_mb < MEMORY_TARGET_MB for b in results),
                )
            )
    # Growth: time per assignment, nation against region (1.0 = exactly linear). Both sizes hold the same history
    # (the same weekly reports per assignment), so the data grows exactly as the assignments do.
    a_growth = nation.assignments / region.assignments
    note = (
        f"from region to nation the assignments (and, with the same {nation.weeks} weekly reports each, the reports) "
        f"grow {a_growth:.1f}x; value = time growth ÷ assignment growth from the medians (1x is exactly linear), "
        "then from the fastest runs"
    )
    for label, attr in (
        ("weekly digest (build_digest + text): growth per assignment", "digest"),
        ("day's nudge scan (plan_nudges): growth per assignment", "scan"),
        ("SQL floor of the digest: growth per assignment", "digest_floor"),
        ("SQL floor of the nudge scan: growth per assignment", "scan_floor"),
    ):

        def growth(b: str, pick: str, attr: str = attr) -> float:
            big: Times = getattr(results[b][nation.name], attr)
            small: Times = getattr(results[b][region.name], attr)
            return (getattr(big, pick) / getattr(small, pick)) / a_growth

        v = {b: f"{ratio(growth(b, 'median'))} (fastest runs: {ratio(growth(b, 'min'))})" for b in results}
        v.setdefault(POSTGRES, NO_PG)
        target = "floor" not in attr
        out.append(
            Row(
                "Scale: growth",
                label,
                v,
                f"≤ {GROWTH_TARGET}x" if target else "",
                all(growth(b, "median") <= GROWTH_TARGET for b in results) if target else None,
                note if attr == "digest" else "",
            )
        )
    return out


if __name__ == "__main__":  # python -m bench.scale memory JOB URL DIR (a child of `_child_memory`)
    if len(sys.argv) != 5 or sys.argv[1] != "memory" or sys.argv[2] not in MEMORY_JOBS:
        raise SystemExit("usage: python -m bench.scale memory digest|scan|catch-up URL DIR")
    print(json.dumps(_memory_child(sys.argv[2], sys.argv[3], Path(sys.argv[4]))))
