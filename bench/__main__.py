"""`python -m bench [--quick] [--no-write] [--only SECTION,...]`: run duban's benchmarks side by side and print
one table; the full run also writes docs/benchmarks.md (numbers, machine, date).

Sections: engine (throughput and latency on SQLite and PostgreSQL), telegram (duban against echo bots on
python-telegram-bot with its own and with duban's HTTP transport, and on aiogram 3, every run a fresh process
on the same fake Bot API server), understanding (NLU against jieba.lcut), scale
(a synthetic region and nation: organisation progress, weekly digest, daily nudge scan, each against a
hand-written SQL floor), startup (`duban serve` to the first answer, and its memory), board (each page of the
web board on the shipped plan with a year of weekly reports, against the 200 ms target and the HTTP floor).

`--quick` runs every section on small data (CI runs it as a smoke test: it must work, its figures are not
judged). PostgreSQL is measured when DUBAN_TEST_PG_URL is set (a fresh database is created per benchmark).
The exit code is 1 only when a benchmark failed to run; a missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import sys
import time
import traceback
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path

from bench.common import NO_PG, POSTGRES, SQLITE, Row, machine, pg_admin_url, workdir

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
SECTIONS = ("understanding", "engine", "telegram", "scale", "startup", "board")  # understanding first: jieba cold
MODULES = {
    "engine": "bench.engine",
    "telegram": "bench.telegram",
    "understanding": "bench.understanding",
    "scale": "bench.scale",
    "startup": "bench.startup",
    "board": "bench.board",
}

# Why a target may be missed, by measure: printed under the table only when that target is missed.
KNOWN_CAUSES: dict[str, str] = {
    # Telegram (bench/telegram.py): keyed by the measure names M_RATIO_DEFAULT, M_RATIO_OURS and M_LATENCY there.
    "duban ÷ PTB echo bot (PTB's transport), pair by pair: min / median / max": (
        "The echo bot does one HTTP call per message and stores nothing. duban stores, handles and answers a text "
        "in one transaction of at most five statements (tests/test_hot_path.py), records deliveries together and "
        "sends through the aiohttp transport: the inbox adds ~0.1 ms on SQLite to the engine's own work (rows "
        "'engine alone' and 'added by the inbox'). What is left is that engine work, ~4 ms a message on this "
        "workload (check-in steps, questions over the plan's views, reports filed), in one Python process: the "
        "understanding, the dialogue and SQLAlchemy's ORM, against the echo bot's ~3 ms of PTB and httpx. The ratio "
        "also moves with the machine's load, which slows PTB's httpx client more than duban (0.62x measured on a "
        "busier machine the same day)."
    ),
    "duban ÷ PTB echo bot (duban's transport), pair by pair: min / median / max": (
        "This reference answers in ~0.5 ms a message: PTB with the aiohttp transport, in a process of its own, "
        "storing nothing. Half its rate would leave duban ~1 ms a message for storing, understanding, the dialogue "
        "and the database, a quarter of what the engine alone takes (row 'engine alone'). The target assumed an echo "
        "bot that spent most of its time in PTB's httpx client; measured in separate processes, it does not."
    ),
    "one question, injected → first reply at the fake, duban: median / p90": (
        "The floor (the echo bot's row) is polling, HTTP and PTB, ~2 ms; duban adds its engine, ~4 ms for these "
        "questions (row 'engine alone'), and the transaction around it (~0.1 ms). 3 ms would need the engine under "
        "1 ms a question."
    ),
    "day's nudge scan (plan_nudges): growth per assignment": (
        "The scan reads the open assignments only (closed and done ones are left out in SQL), then counts working "
        "days for every overdue one and renders one message per person (3,222 at national scale), all linear in "
        "the assignments. What grows faster is the database's own work: SQLite reaches each assignment's newest "
        "report by a random lookup, cheap while a region's 10 MB file stays in the CPU's caches and dearer over "
        "the nation's 200 MB (the SQL floor's growth row beside it shows the same); on this shared 2-core machine "
        "the figure has moved between 0.9x and 1.7x from run to run."
    ),
    "weekly digest (build_digest + text): growth per assignment": (
        "The digest builds this week's views of every assignment and last week's from them (each assignment's "
        "newest report up to last week by one index lookup, scheduler/history.py, reports_at); the Python side is "
        "linear, the lookups in SQLite grow a little faster than the data once it outgrows the CPU's caches (see "
        "the floor's growth row). Measured between 0.9x and 1.4x from run to run on this shared 2-core machine."
    ),
    "one organisation's progress: assignment_views(org_ids=[one]) + count, in an open session; median (min–max) of "
    "warm runs, vs the SQL floor's median": (
        "db/repositories/progress.py, assignment_views builds one dataclass per assignment and sorts them in "
        "Python; the floor only counts."
    ),
    "day's nudge scan: plan_nudges (nudges, overdue notices, escalations planned and rendered, not queued), in an "
    "open session; warm runs, vs the SQL floor (the open assignments due)": (
        "scheduler/deadlines.py builds the views of the plan's open assignments, then counts working days for every "
        "overdue task (scheduler/calendar.py, memoised) and renders one message per person."
    ),
}


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, w: int) -> str:
    return s + " " * (w - _width(s))


def table(rows: list[Row]) -> str:
    """The rows as one Markdown table (aligned for a terminal, CJK counted double-width)."""
    head = ["Section", "Measure", "SQLite", "PostgreSQL", "Target", "Met"]
    body = []
    for r in rows:
        if "all" in r.values:
            sqlite_v, pg_v = r.values["all"], "(no database)"
        else:
            sqlite_v, pg_v = r.values.get(SQLITE, ""), r.values.get(POSTGRES, NO_PG)
        met = "" if r.met is None else "yes" if r.met else "**no**"
        body.append([r.section, r.measure, sqlite_v, pg_v, r.target, met])
    widths = [max(_width(x) for x in col) for col in zip(head, *body, strict=False)]
    lines = [
        "| " + " | ".join(_pad(h, w) for h, w in zip(head, widths, strict=False)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(_pad(c.replace("|", "/"), w) for c, w in zip(row, widths, strict=False)) + " |"
        for row in body
    ]
    return "\n".join(lines)


def notes(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        if r.note:
            out.append(f"- {r.section} — {r.measure}: {r.note}")
    return out


def gaps(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        if r.met is False:
            cause = KNOWN_CAUSES.get(r.measure, "no known cause recorded")
            out.append(f"- **{r.section} — {r.measure}** (target {r.target}): {cause}")
    return out


def write_doc(
    rows: list[Row], info: dict[str, str], started: dt.datetime, seconds: float, quick: bool, errors: list[str]
) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python -m bench` (see `bench/__main__.py`); do not edit by hand, run it again.",
        "",
        f"- Date: {started.strftime('%Y-%m-%d %H:%M')} (local time of the machine), run took {seconds:.0f} s"
        + (" — quick mode" if quick else ""),
    ]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += ["", "## Results", "", table(rows), ""]
    missed = gaps(rows)
    lines += ["## Targets missed and why", ""] + (missed or ["All targets met."]) + [""]
    if errors:
        lines += ["## Benchmarks that failed to run", ""] + [f"- {e}" for e in errors] + [""]
    lines += ["## How each figure is measured", ""] + notes(rows) + [""]
    lines += [
        "Each module's docstring (bench/engine.py, bench/telegram.py, bench/understanding.py, bench/scale.py, "
        "bench/startup.py, bench/board.py) describes its method in full. Times are medians of repeated runs unless stated; "
        "“floor” is one hand-written SQL aggregate over the same data, the least any implementation must do.",
        "",
    ]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small data, few repeats: a smoke test (< 3 minutes)")
    p.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    p.add_argument("--only", help=f"comma-separated sections of {','.join(SECTIONS)}")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",")] if args.only else list(SECTIONS)
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s): {', '.join(unknown)}")
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("jieba", "alembic", "httpx", "telegram", "apscheduler", "bot", "scheduler", "aiohttp"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    import jieba

    jieba.setLogLevel(logging.ERROR)

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    started = dt.datetime.now()  # the benchmark records when it ran: wall-clock time is the point here
    t0 = time.perf_counter()
    if not pg_admin_url():
        log("DUBAN_TEST_PG_URL not set: PostgreSQL columns are n/a")
    rows: list[Row] = []
    errors: list[str] = []
    with workdir() as work:
        for name in only:
            log(f"--- {name}")
            s0 = time.perf_counter()
            try:
                module = importlib.import_module(MODULES[name])
                run: Callable[..., list[Row]] = module.run
                rows += run(quick=args.quick, work=work, log=log)
            except Exception as exc:
                traceback.print_exc()
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                rows.append(Row(name.capitalize(), "benchmark failed to run", {"all": f"{type(exc).__name__}"}))
            log(f"{name} took {time.perf_counter() - s0:.0f} s")
    seconds = time.perf_counter() - t0
    info = machine()
    print()
    print(
        f"duban benchmarks — {started:%Y-%m-%d %H:%M}, {info['CPU']}, {info['cores']} cores, {info['RAM']}, "
        f"Python {info['Python']}, SQLite {info['SQLite']}, {info['PostgreSQL']}" + (" — QUICK" if args.quick else "")
    )
    print(table(rows))
    missed = gaps(rows)
    if missed:
        print("\nTargets missed:")
        print("\n".join(missed))
    print(f"\n{len(rows)} figures in {seconds:.0f} s" + (f"; {len(errors)} benchmark(s) failed" if errors else ""))
    if not args.no_write:
        if args.quick:
            log("quick mode: docs/benchmarks.md is only written by a full run")
        else:
            write_doc(rows, info, started, seconds, args.quick, errors)
            log(f"wrote {DOC.relative_to(REPO)}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
