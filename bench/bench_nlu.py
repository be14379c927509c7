"""Understanding: what the understanding layer costs at start-up and per message, and a whole answer's time.

On the shipped plan (with the demo people and reports filed on about a third of the assignments):
- start-up: jieba's own initialisation, then `queries.install` (reading the plan's names, building the lexicon,
  teaching jieba the user words);
- per message, after warm-up: `NLU.understand` against plain `jieba.lcut` on the same messages (every text of
  ../shared/nlu/cases.yaml and tests/nlu_cases_extra.yaml) — target: understanding ≤ 3x segmentation alone;
- end to end, every question of those files (one-line reports excluded: they open a dialogue) sent as the
  coordinator: `queries.answer` in an open session (understand + database + format), and through
  `Engine.handle` (de-duplication, conversation state, commit included) — target: median < 5 ms on SQLite.

Run: `/work/venv/bin/python -m bench.bench_nlu [--quick]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from bench.common import SQLITE, Row, backends, fresh_database, ms, percentile, ratio, secs, seed_database, workdir

ROOT = Path(__file__).resolve().parent.parent
CASE_FILES = (
    ROOT.parent / "shared" / "nlu" / "cases.yaml",
    ROOT.parent / "shared" / "nlu" / "cases-v2.yaml",
    ROOT / "tests" / "nlu_cases_extra.yaml",
    ROOT / "tests" / "nlu_cases_v2_extra.yaml",
    ROOT / "tests" / "nlu_cases_heldout.yaml",
)
NOW = dt.datetime(2023, 6, 20, 10, 0)
SECTION = "Understanding"


def messages() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in CASE_FILES:
        if path.exists():
            out += yaml.safe_load(path.read_text(encoding="utf-8"))
    return out


def file_reports(url: str, share: float = 0.35) -> int:
    """Reports on about `share` of the assignments, so answers show figures, lights and dates."""
    import random

    from db.engine import make_engine, make_session_factory, transaction
    from db.models import BLOCKED, DONE, IN_PROGRESS, PROJECT, Assignment, Item
    from db.repositories import reports

    rng = random.Random(4)
    engine = make_engine(url)
    n = 0
    try:
        with transaction(make_session_factory(engine)) as s:
            rows = s.query(Assignment, Item).join(Item, Assignment.item_id == Item.id).order_by(Assignment.id).all()
            for a, item in rows:
                if rng.random() > share:
                    continue
                status = rng.choice([IN_PROGRESS, IN_PROGRESS, IN_PROGRESS, DONE, BLOCKED])
                pct = 100 if status == DONE else rng.randrange(5, 95, 5)
                fields: dict[str, Any] = {"status": status, "percent": pct, "description": "按计划推进"}
                if item.kind == PROJECT and item.investment_total:
                    fields["investment_done"] = (Decimal(item.investment_total) * pct / 100).quantize(Decimal(1))
                    fields["physical_progress"] = "主体工程施工中"
                when = NOW - dt.timedelta(days=rng.randrange(0, 30), hours=rng.randrange(0, 8))
                reports.add_report(s, a, None, "console", when - dt.timedelta(hours=8), fields)
                n += 1
    finally:
        engine.dispose()
    return n


def _samples(fn: Callable[[str], Any], texts: list[str], rounds: int) -> list[float]:
    """Seconds per message, one sample per (round, message)."""
    out: list[float] = []
    for _ in range(rounds):
        for t in texts:
            t0 = time.perf_counter()
            fn(t)
            out.append(time.perf_counter() - t0)
    return out


def measure_understanding(url: str, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    import jieba

    from db.engine import make_engine, make_session_factory
    from handlers import queries
    from handlers.understanding.segmentation import tokenizer

    figures: dict[str, Any] = {}
    t0 = time.perf_counter()
    jieba.initialize()
    figures["jieba_init"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tokenizer()
    figures["tokenizer_init"] = time.perf_counter() - t0
    engine = make_engine(url)
    try:
        services: dict[str, Any] = {}
        factory = make_session_factory(engine)
        t0 = time.perf_counter()
        queries.install(services, factory)
        figures["install"] = time.perf_counter() - t0
        nlu = services["nlu"]
        t0 = time.perf_counter()
        with factory() as s:
            nlu.refresh(s)
        figures["refresh"] = time.perf_counter() - t0
        figures["surfaces"] = len(nlu.lexicon.surfaces)
    finally:
        engine.dispose()
    texts = [c["text"] for c in messages()]
    today = NOW.date()

    def understand(t: str) -> Any:
        return nlu.understand(t, today=today)  # as a question is understood: with its time window read

    for t in texts:  # warm-up: caches, regexes, jieba's route tables
        understand(t)
        jieba.lcut(t)
    rounds = 20 if quick else 200
    seg = _samples(jieba.lcut, texts, rounds)
    und = _samples(understand, texts, rounds)
    figures["messages"] = len(texts)
    figures["lcut_median"] = statistics.median(seg)
    figures["understand_median"] = statistics.median(und)
    figures["lcut_mean"] = statistics.fmean(seg)
    figures["understand_mean"] = statistics.fmean(und)
    log(f"understanding: {len(texts)} messages × {rounds} rounds")
    return figures


def measure_end_to_end(url: str, work: Path, quick: bool) -> dict[str, float]:
    from bot.app import build_app
    from config.clock import Clock
    from config.settings import Settings
    from core.messages import IncomingMessage
    from handlers import queries
    from handlers.context import Context
    from handlers.understanding.nlu import REPORT

    settings = Settings(data_dir=work / "data", database_url=url, now=NOW, scheduler_enabled=False)
    clock = Clock("Asia/Shanghai", NOW, frozen=True)
    app = build_app(settings, clock=clock)
    try:
        nlu = app.services["nlu"]
        questions = [
            c["text"] for c in messages() if c["intent"] != REPORT and nlu.understand(c["text"]).intent != REPORT
        ]
        rounds = 3 if quick else 20
        from db.models import Conversation
        from db.repositories import people

        with app.session_factory() as s:
            # who is talking is the engine's business, done before any handler: looked up once here
            person = people.find_by_identity(s, "console", "协调员")
            s.expunge_all()

        def answer_only(text: str) -> None:
            with app.session_factory() as s:
                conv = Conversation(
                    channel="console",
                    chat_id="bench",
                    user_id="bench",
                    state="idle",
                    data={},
                    updated_at=clock.utcnow(),
                )
                msg = IncomingMessage(channel="console", chat_id="bench", user_id="bench", text=text)
                ctx = Context(
                    session=s,
                    clock=clock,
                    settings=settings,
                    msg=msg,
                    conversation=conv,
                    person=person,
                    services=app.services,
                )
                queries.answer(ctx, text, allow_report=False)
                s.rollback()

        def through_engine(text: str) -> None:
            app.engine.handle(
                IncomingMessage(
                    channel="console", chat_id="协调员", user_id="协调员", text=text, message_id=uuid.uuid4().hex
                )
            )

        for t in questions:
            answer_only(t)
            through_engine(t)
        a = _samples(answer_only, questions, rounds)
        e = _samples(through_engine, questions, rounds)
        return {
            "questions": len(questions),
            "answer_median": statistics.median(a),
            "answer_p90": percentile(a, 90),
            "engine_median": statistics.median(e),
            "engine_p90": percentile(e, 90),
        }
    finally:
        app.close()


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    per_backend: dict[str, dict[str, Any]] = {}
    understanding: dict[str, Any] = {}
    for backend in backends():
        with fresh_database(backend, work, "nlu") as url:
            seed_database(url)
            n = file_reports(url)
            log(f"{backend}: shipped plan, demo people, {n} reports")
            figs = measure_understanding(url, quick, log)
            if backend == SQLITE or not understanding:
                understanding = figs
            per_backend[backend] = {**figs, **measure_end_to_end(url, work, quick)}
    u = understanding
    r = u["understand_median"] / u["lcut_median"]
    rows = [
        Row(
            SECTION,
            "jieba initialisation (dictionary load)",
            {"all": secs(u["tokenizer_init"])},
            note=f"duban's own jieba.Tokenizer, once per process (global jieba: {secs(u['jieba_init'])})",
        ),
        Row(
            SECTION,
            "install: names read + lexicon + user words",
            {b: ms(f["install"]) for b, f in per_backend.items()},
            note=f"{u['surfaces']} surfaces",
        ),
        Row(SECTION, "refresh after a plan import", {b: ms(f["refresh"]) for b, f in per_backend.items()}),
        Row(
            SECTION,
            "jieba.lcut per message (median)",
            {"all": f"{u['lcut_median'] * 1e6:.1f} µs"},
            note=f"{u['messages']} messages",
        ),
        Row(SECTION, "understand per message (median)", {"all": f"{u['understand_median'] * 1e6:.1f} µs"}),
        Row(
            SECTION,
            "understand ÷ jieba.lcut",
            {"all": ratio(r)},
            target="≤ 3x",
            met=r <= 3.0,
            note=f"means: {u['understand_mean'] / u['lcut_mean']:.2f}x",
        ),
        Row(
            SECTION,
            "answer: understand + database + format (median)",
            {b: ms(f["answer_median"]) for b, f in per_backend.items()},
            target="< 5 ms (SQLite)",
            met=per_backend[SQLITE]["answer_median"] < 0.005,
            note=f"{per_backend[SQLITE]['questions']} questions as the coordinator",
        ),
        Row(SECTION, "answer p90", {b: ms(f["answer_p90"]) for b, f in per_backend.items()}),
        Row(
            SECTION,
            "through Engine.handle incl. commit (median)",
            {b: ms(f["engine_median"]) for b, f in per_backend.items()},
        ),
        Row(SECTION, "through Engine.handle p90", {b: ms(f["engine_p90"]) for b, f in per_backend.items()}),
    ]
    return rows


def print_table(rows: list[Row]) -> None:
    cols = [SQLITE, "postgresql"]
    header = f"{'measure':<48} {'all / sqlite':>14} {'postgresql':>12}  {'target':<16} note"
    print(header)
    print("-" * len(header))
    for r in rows:
        first = r.values.get("all") or r.values.get(cols[0], "")
        second = r.values.get(cols[1], "" if "all" in r.values else "n/a")
        mark = "" if r.met is None else (" ✓" if r.met else " ✗")
        print(f"{r.measure:<48} {first:>14} {second:>12}  {(r.target + mark):<16} {r.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    with workdir("duban-bench-nlu-") as work:
        rows = run(args.quick, work)
    print()
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
