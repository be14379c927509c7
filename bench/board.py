"""Board: how long each page of the web board (`/board/...`, bot/board/app.py) takes to answer, on the shipped
plan with a year of weekly reports.

Data: a fresh database with the shipped plan imported and the demo people added (`bot.app.seed_database`, what
`duban init --demo` does), then 52 weekly reports (4 with --quick) on every active assignment of a reportable item
(task, project, indicator), one a Monday from 2023-01-02, filed by the unit's demo official through "wecom" at a
working hour. Progress rises week by week at each assignment's own pace; about a third finish 已完成 in the
year's last weeks (no report after that); some are 受阻 for a few weeks (with 存在问题); projects report
完成投资 and 形象进度, indicators their value (a number towards the target, or a text). About 3% of the versions
were returned by the coordinator and corrected the same day (the correction supersedes them); the newest
version of 30 assignments waits for review, of 5 was returned, all others were approved the next day (an approved
已完成 newest version closes its assignment). `Assignment.last_report_id` points at each assignment's newest
version, as `db.repositories.reports.add_report` keeps it. Everything is inserted in bulk (SQLAlchemy Core).

Measure: the board mounted on an aiohttp application as `duban serve` mounts it (`bot.board.app.install`),
served in this process on 127.0.0.1 (`web.AppRunner` + `TCPSite`), the app's clock at 2023-12-29 10:00
Asia/Shanghai (`Settings(now=...)`); the demo coordinator's session cookie is made directly
(`db.repositories.board.open_session`). Each page is requested once unmeasured (warm-up), then N times (15; 3
with --quick) in rounds, every page once per round, sequentially by one `aiohttp.ClientSession`; a request's time
runs from sending it to having read the whole body. Every answer must have the expected status and contain its
page's marker (a unit's name, the item's 第N版, ...), else the benchmark fails.

Two floors are timed in the same rounds: the board's stylesheet (`/board/static/board.css`: HTTP and aiohttp's
static handler, no session) and a signed-in 404 (`/board/evidence/0`: the session check, one query and the
small refusal page). A page's time above the stylesheet's is its own work (session, queries, rendering).

Target: each page < 200 ms median on SQLite.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from markupsafe import escape
from sqlalchemy import Engine, bindparam, func, insert, select, text, update

from bench.common import NO_PG, POSTGRES, Row, backends, fresh_database, ms, percentile, ratio, secs
from db.models import (
    APPROVED,
    BLOCKED,
    COORDINATOR,
    DONE,
    IN_PROGRESS,
    INDICATOR,
    OFFICIAL,
    PENDING,
    PROJECT,
    REPORTABLE_KINDS,
    RETURNED,
    Assignment,
    Item,
    Organisation,
    Person,
    Plan,
    Report,
)

SECTION = "Board"
TARGET_S = 0.200
NOW_LOCAL = dt.datetime(2023, 12, 29, 10, 0)  # the app's clock (Asia/Shanghai): the year's reports are all in
SEEDED_AT = dt.datetime(2023, 1, 1, 2, 0)  # naive UTC: the plan imported and the people added before the reports
FIRST_MONDAY = dt.date(2023, 1, 2)
UTC_OFFSET = dt.timedelta(hours=8)  # Asia/Shanghai, no daylight saving
COUNTY = "墨脱县"
CHANNEL = "wecom"
PENDING_NEWEST, RETURNED_NEWEST = 30, 5
CORRECTION_RATE = 0.03
CHUNK = 20_000
WEEKS, QUICK_WEEKS = 52, 4
RUNS, QUICK_RUNS = 15, 3
STYLESHEET, SIGNED_404 = "/board/static/board.css", "/board/evidence/0"

PROBLEMS = (
    "征地拆迁未完成，施工队伍无法进场",
    "上级资金尚未下达，项目暂停",
    "雨季道路中断，材料运输受阻",
    "环评批复待省级部门审查",
)
DESCRIPTIONS = (
    "按计划推进，本周召开专题会议一次",
    "完成现场踏勘并形成整改清单",
    "牵头部门已对接，正在汇总各乡镇材料",
    "组织开展督导检查，发现问题已当场交办",
)
PHYSICAL = ("前期手续办理中", "基础工程施工", "主体工程施工", "附属工程及设备安装", "竣工验收准备")
TEXT_VALUES = ("已制定工作方案", "正在推进，已完成阶段性任务", "已建立工作机制并常态化运行")
RETURN_REASON = "请补充佐证材料"


# ---- generation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Data:
    """What the measures need from the generated database."""

    assignments: int
    reports: int
    coordinator_id: int
    org_id: int  # 墨脱县
    item_assignment_id: int  # 墨脱县's assignment with the most versions
    item_versions: int
    project_title: str
    indicator_title: str
    pending: int
    seconds: float


def _insert(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(insert(table), rows[i : i + CHUNK])


def _indicator_figures(item: Any, fraction: float, rng: random.Random) -> tuple[str, Decimal | None]:
    """(indicator_value, indicator_number) of an indicator's report `fraction` of the way through the year."""
    if item.check_value is None or item.check_op in (None, "text"):
        return rng.choice(TEXT_VALUES), None
    number = (Decimal(str(round(0.5 + 0.55 * fraction, 3))) * Decimal(item.check_value)).quantize(Decimal("0.01"))
    return f"{number}{item.unit or ''}", number


def generate(url: str, weeks: int, seed: int = 2023) -> Data:
    """Seed the database at `url` (shipped plan, demo people) and add `weeks` weekly reports per assignment."""
    from bot.app import seed_database
    from db.engine import make_engine

    t0 = time.perf_counter()
    seed_database(url, SEEDED_AT)
    engine = make_engine(url)
    try:
        data = _fill(engine, weeks, random.Random(seed))
    finally:
        engine.dispose()
    return Data(**{**data, "seconds": time.perf_counter() - t0})


def _fill(engine: Engine, weeks: int, rng: random.Random) -> dict[str, Any]:
    with engine.begin() as conn:
        plan_id = conn.scalar(select(Plan.id).where(Plan.active.is_(True)).order_by(Plan.id.desc()))
        items = {
            i.id: i
            for i in conn.execute(
                select(
                    Item.id, Item.kind, Item.title, Item.investment_total, Item.check_op, Item.check_value, Item.unit
                )
                .where(Item.plan_id == plan_id, Item.active.is_(True), Item.kind.in_(REPORTABLE_KINDS))
                .order_by(Item.id)
            )
        }
        shares: dict[int, int] = {}
        assignments = list(
            conn.execute(
                select(Assignment.id, Assignment.item_id, Assignment.organisation_id)
                .where(Assignment.active.is_(True), Assignment.item_id.in_(list(items)))
                .order_by(Assignment.id)
            )
        )
        for a in assignments:
            shares[a.item_id] = shares.get(a.item_id, 0) + 1
        officials: dict[int, int] = {
            org: pid
            for org, pid in conn.execute(
                select(Person.organisation_id, func.min(Person.id))
                .where(Person.role == OFFICIAL, Person.active.is_(True))
                .group_by(Person.organisation_id)
            )
        }
        coordinator = conn.scalar(select(Person.id).where(Person.name == "协调员", Person.role == COORDINATOR))
        if coordinator is None:
            raise RuntimeError("no demo coordinator 协调员: were the demo people added?")
        county = conn.scalar(select(Organisation.id).where(Organisation.name == COUNTY))
        if county is None:
            raise RuntimeError(f"the shipped plan has no {COUNTY}")
        rid = int(conn.scalar(select(func.coalesce(func.max(Report.id), 0))) or 0)

        waiting = set(rng.sample([a.id for a in assignments], PENDING_NEWEST + RETURNED_NEWEST))
        returned_newest = set(sorted(waiting)[::7][:RETURNED_NEWEST])
        pending_newest = waiting - returned_newest
        rows: list[dict[str, Any]] = []
        newest: dict[int, tuple[int, bool]] = {}  # assignment id → (newest report id, closes it)
        versions: dict[int, int] = {}
        for a in assignments:
            item = items[a.item_id]
            pace = rng.uniform(0.55, 1.1)
            finish = rng.randrange(max(0, weeks - 6), weeks) if rng.random() < 0.35 else None
            blocked_from = rng.randrange(weeks) if rng.random() < 0.12 else -1
            blocked_to = blocked_from + rng.randint(1, 4)
            minute = (a.id * 37) % 480  # local 09:00–17:00
            for w in range(weeks):
                local = dt.datetime.combine(FIRST_MONDAY + dt.timedelta(weeks=w), dt.time(9)) + dt.timedelta(
                    minutes=minute
                )
                at = local - UTC_OFFSET
                fraction = (w + 1) / WEEKS
                done = finish is not None and w >= finish
                status = DONE if done else BLOCKED if blocked_from <= w < blocked_to else IN_PROGRESS
                pct = Decimal(100) if done else Decimal(min(95, max(1, round(100 * fraction * pace))))
                values: dict[str, Any] = {
                    "assignment_id": a.id,
                    "person_id": officials.get(a.organisation_id),
                    "channel": CHANNEL,
                    "status": status,
                    "percent": pct,
                    "description": rng.choice(DESCRIPTIONS),
                    "problems": rng.choice(PROBLEMS) if status == BLOCKED else None,
                    "next_step": "下周继续推进" if not done else None,
                    "no_change": False,
                }
                if item.kind == PROJECT:
                    total = Decimal(item.investment_total or 1000) / shares[a.item_id]
                    values["investment_done"] = (total * pct / 100).quantize(Decimal("0.01"))
                    values["physical_progress"] = PHYSICAL[min(len(PHYSICAL) - 1, int(pct) // 21)]
                elif item.kind == INDICATOR:
                    values["indicator_value"], values["indicator_number"] = _indicator_figures(
                        item, 1.0 if done else float(pct) / 100, rng
                    )
                last_week = done or w == weeks - 1
                if not last_week and rng.random() < CORRECTION_RATE:
                    # returned by the coordinator within the hour, corrected by the official two hours later
                    rid += 1
                    rows.append(
                        {
                            **values,
                            "id": rid,
                            "created_at": at,
                            "review_state": RETURNED,
                            "reviewed_by_id": coordinator,
                            "reviewed_at": at + dt.timedelta(hours=1),
                            "review_comment": RETURN_REASON,
                        }
                    )
                    values["supersedes_id"] = rid
                    at += dt.timedelta(hours=2)
                rid += 1
                if last_week and a.id in pending_newest:
                    review: dict[str, Any] = {"review_state": PENDING}
                else:
                    review = {
                        "review_state": RETURNED if last_week and a.id in returned_newest else APPROVED,
                        "reviewed_by_id": coordinator,
                        "reviewed_at": at + dt.timedelta(days=1),
                        "review_comment": RETURN_REASON if last_week and a.id in returned_newest else None,
                    }
                rows.append({"supersedes_id": None, **values, **review, "id": rid, "created_at": at})
                newest[a.id] = (rid, status == DONE and review["review_state"] == APPROVED)
                if done:
                    break
        for r in rows:
            versions[r["assignment_id"]] = versions.get(r["assignment_id"], 0) + 1
        # Every row carries the same keys (one executemany statement per chunk).
        keys = {k for r in rows for k in r}
        _insert(conn, Report, [{k: r.get(k) for k in keys} for r in rows])
        conn.execute(
            update(Assignment)
            .where(Assignment.id == bindparam("a_id"))
            .values(last_report_id=bindparam("a_last"), closed=bindparam("a_closed")),
            [{"a_id": aid, "a_last": last, "a_closed": closes} for aid, (last, closes) in newest.items()],
        )
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequence past them
            conn.execute(text("SELECT setval(pg_get_serial_sequence('report', 'id'), (SELECT max(id) FROM report))"))
        conn.execute(text("ANALYZE"))
        in_county = [a.id for a in assignments if a.organisation_id == county]
        item_assignment = max(in_county, key=lambda aid: (versions.get(aid, 0), -aid))
        project_title = next(i.title for i in items.values() if i.kind == PROJECT)
        indicator_title = str(
            conn.scalar(
                select(Item.title)
                .where(Item.plan_id == plan_id, Item.kind == INDICATOR, Item.active.is_(True))
                .order_by(Item.number, Item.id)
            )
        )
    return {
        "assignments": len(assignments),
        "reports": len(rows),
        "coordinator_id": coordinator,
        "org_id": county,
        "item_assignment_id": item_assignment,
        "item_versions": versions[item_assignment],
        "project_title": project_title,
        "indicator_title": indicator_title,
        "pending": len(pending_newest),
    }


# ---- measuring --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    label: str
    path: str
    markers: tuple[str, ...]  # every one must be in the body
    status: int = 200
    floor: bool = False  # a floor, not a page with the target


def pages(data: Data) -> list[Page]:
    from handlers import texts

    overdue_heading = texts.BOARD_MATCHING.split("（", 1)[0].format(filter=texts.BOARD_F_OVERDUE)
    return [
        Page("总览 overview", "/board/", (COUNTY, texts.BOARD_NAV_OVERVIEW)),
        Page("总览, filter 逾期", "/board/?f=overdue", (overdue_heading,)),
        Page(f"单位 {COUNTY}", f"/board/org/{data.org_id}", (COUNTY, "墨脱填报人")),
        Page(
            f"一事一档 (a {COUNTY} item, {data.item_versions} versions)",
            f"/board/item/{data.item_assignment_id}",
            (texts.BOARD_VERSION_N.format(n=data.item_versions), COUNTY),
        ),
        Page("工程项目", "/board/projects", (str(escape(data.project_title)), texts.EXPORT_TOTAL)),
        Page("指标", "/board/indicators", (str(escape(data.indicator_title)), texts.EXPORT_TOTAL)),
        Page(
            f"审核 review queue ({data.pending} waiting)",
            "/board/review",
            (texts.BOARD_PENDING_N.format(n=data.pending), texts.BOARD_APPROVE),
        ),
        Page("floor: the stylesheet (no session)", STYLESHEET, ("{",), floor=True),
        Page(
            "floor: signed-in 404 (session check, one query, small page)",
            SIGNED_404,
            (texts.BOARD_NOT_FOUND,),
            404,
            floor=True,
        ),
    ]


@dataclass(frozen=True)
class Timed:
    page: Page
    samples: tuple[float, ...]
    size: int  # bytes of the body

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p90(self) -> float:
        return percentile(list(self.samples), 90)


def _settings(url: str, data_dir: Path) -> Any:
    from config.settings import Settings

    return Settings(
        data_dir=data_dir,
        database_url=url,
        now=NOW_LOCAL,
        scheduler_enabled=False,
        telegram_token=None,
    )


def measure(url: str, data: Data, runs: int, data_dir: Path) -> list[Timed]:
    """Serve the board on 127.0.0.1 and time every page (and the floors) `runs` times after one warm-up."""
    from bot.app import build_app
    from db.engine import transaction
    from db.repositories import board

    app = build_app(_settings(url, data_dir), migrate=False, warm_nlu=False)
    try:
        with transaction(app.session_factory) as s:
            person = s.get(Person, data.coordinator_id)
            assert person is not None
            cookie = board.open_session(s, person, app.clock.utcnow()).cookie
        return asyncio.run(_serve_and_time(app, cookie, pages(data), runs))
    finally:
        app.close()


async def _serve_and_time(app: Any, cookie: str, wanted: list[Page], runs: int) -> list[Timed]:
    import aiohttp
    from aiohttp import web

    from bot.board import app as board_app

    web_app = web.Application()
    board_app.install(web_app, app)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    # The cookie as a header: aiohttp's cookie jar keeps no cookies for an IP address.
    headers = {"Cookie": f"{board_app.COOKIE}={cookie}"}
    samples: dict[str, list[float]] = {p.path: [] for p in wanted}
    sizes: dict[str, int] = {}
    try:
        async with aiohttp.ClientSession(headers=headers) as client:

            async def get(page: Page) -> float:
                t0 = time.perf_counter()
                async with client.get(base + page.path, allow_redirects=False) as resp:
                    body = await resp.read()
                seconds = time.perf_counter() - t0
                html = body.decode("utf-8", "replace")
                missing = [m for m in page.markers if m not in html]
                if resp.status != page.status or missing:
                    raise RuntimeError(
                        f"GET {page.path}: HTTP {resp.status} (expected {page.status}), "
                        f"markers missing: {missing or 'none'}; body starts {html[:300]!r}"
                    )
                sizes[page.path] = len(body)
                return seconds

            for page in wanted:  # warm-up: templates compiled, statements cached, the database's pages read
                await get(page)
            for _ in range(runs):  # rounds: every page once a round, so drift of the machine touches all alike
                for page in wanted:
                    samples[page.path].append(await get(page))
    finally:
        await runner.cleanup()
    return [Timed(p, tuple(samples[p.path]), sizes[p.path]) for p in wanted]


# ---- the table --------------------------------------------------------------------------------------------


@dataclass
class Result:
    data: Data
    timed: list[Timed]
    seconds: float  # generation and measuring


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    weeks, runs = (QUICK_WEEKS, QUICK_RUNS) if quick else (WEEKS, RUNS)
    results: dict[str, Result] = {}
    for backend in backends():
        t0 = time.perf_counter()
        with fresh_database(backend, work, "board") as url:
            log(f"board: {backend}: shipped plan + demo people + {weeks} weekly reports per assignment")
            data = generate(url, weeks)
            log(
                f"  generated {data.reports:,} reports on {data.assignments} assignments in {secs(data.seconds)}; "
                f"timing {runs} rounds"
            )
            timed = measure(url, data, runs, work / f"board-{backend}")
        results[backend] = Result(data, timed, time.perf_counter() - t0)
        for t in timed:
            log(f"  {t.page.path}: median {ms(t.median)}, p90 {ms(t.p90)}, {t.size / 1024:.0f} KB")
        log(f"  board on {backend} took {secs(results[backend].seconds)}")
    return rows(results, weeks, runs)


def rows(results: dict[str, Result], weeks: int, runs: int) -> list[Row]:
    out: list[Row] = []

    def vals(fn: Callable[[Result], str]) -> dict[str, str]:
        v = {b: fn(r) for b, r in results.items()}
        v.setdefault(POSTGRES, NO_PG)
        return v

    out.append(
        Row(
            SECTION,
            f"data: shipped plan, {weeks} weekly reports per assignment",
            vals(
                lambda r: (
                    f"{r.data.assignments} assignments, {r.data.reports:,} reports, generated in "
                    f"{secs(r.data.seconds)}; section {secs(r.seconds)}"
                )
            ),
            note=(
                f"fresh database, `duban init --demo`'s seeding, then weekly reports from {FIRST_MONDAY} (bulk "
                f"inserts); the app's clock at {NOW_LOCAL:%Y-%m-%d %H:%M} Asia/Shanghai; signed in as the demo "
                f"协调员; each page warmed once, then {runs} sequential requests in rounds, time to the whole body "
                "read, over HTTP on 127.0.0.1 in this process"
            ),
        )
    )
    first = next(iter(results.values()))
    for i, page in enumerate(t.page for t in first.timed):

        def show(r: Result, i: int = i) -> str:
            t = r.timed[i]
            shown = f"{ms(t.median)} / p90 {ms(t.p90)}, {t.size / 1024:.0f} KB"
            if t.page.floor:
                return shown
            floor = next(f for f in r.timed if f.page.path == STYLESHEET)
            return f"{shown}; {ratio(t.median / TARGET_S)} of target; own work {ms(t.median - floor.median)}"

        note = ""
        if i == 0:
            note = "own work = the page's median minus the stylesheet's (the HTTP floor)"
        elif page.path == SIGNED_404:
            note = "the least a signed-in request costs: the session's lookup, one query, the refusal page"
        out.append(
            Row(
                SECTION,
                f"{page.label}: GET {page.path}, median / p90",
                vals(show),
                "" if page.floor else f"< {TARGET_S * 1000:.0f} ms median",
                None if page.floor else all(r.timed[i].median < TARGET_S for r in results.values()),
                note,
            )
        )
    return out
