#!/usr/bin/env python3
"""Checks that need the customer's files beside the repository (../shared); `.ci/run` runs this when they exist.

The test suite stands alone: it checks the shipped plan against tests/data/plan_facts.yaml. This script closes
the loop with the originals:
1. facts ↔ document: every name, number, target and deadline in the facts file stands in the published plan
   (../shared/seed/000_93ced05011a5f557.txt) where the facts say it does;
2. plan ↔ document: each county's and department's task sentences, each project's title and investment on its
   row of 附件1, each indicator's name and explanation in 附件2, as the shipped plan file has them;
3. the understanding layer against the public examples (../shared/nlu/*.yaml): the share of cases understood,
   gated where REQUIRED_ACCURACY says so; and every question among them answered through the engine, as the
   coordinator, never with silence, an internal error or a message longer than WeCom takes.

Prints one line per check (and every mismatch); exits 1 on any mismatch, 2 when ../shared is missing.

    .venv/bin/python .ci/check_shared.py [--shared DIR]
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import re
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import App, build_app, seed_database  # noqa: E402
from config.clock import Clock  # noqa: E402
from config.plan.files import load_plan_file  # noqa: E402
from config.settings import DEFAULT_PLAN, Settings  # noqa: E402
from core.messages import IncomingMessage, render_plain  # noqa: E402
from handlers import texts  # noqa: E402
from handlers.understanding.nlu import NLU  # noqa: E402
from tests.nlu_cases import CASES_TODAY, load_cases, mismatches  # noqa: E402
from tests.plan_facts import FACTS, norm  # noqa: E402

SEED = Path("seed") / "000_93ced05011a5f557.txt"
# Public case files and the share each must reach; None: measured and printed, not gated.
# The two public files must pass case by case (issue 15); any other file found there, 95 %.
REQUIRED_ACCURACY: dict[str, float | None] = {"cases.yaml": 1.0, "cases-v2.yaml": 1.0}
DEFAULT_ACCURACY = 0.95
CHINESE_NUMERALS = "一二三四五六七八九十"
COORDINATOR = "协调员"  # the demo coordinator, on the console channel
WECOM_TEXT_BYTES = 2048  # WeCom's limit for one text message


class Checks:
    """Collects one result line per check and every mismatch."""

    def __init__(self) -> None:
        self.failed = 0

    def check(self, title: str, problems: Iterable[str], checked: int) -> None:
        problems = list(problems)
        print(f"{'ok  ' if not problems else 'FAIL'} {title} ({checked} checked)")
        for p in problems:
            print(f"       {p}")
        self.failed += bool(problems)


def missing(text: str, wanted: Iterable[tuple[str, str]]) -> list[str]:
    """The (label, phrase) pairs whose phrase is not in `text` (both compared normalised)."""
    return [f"{label}: “{phrase}” not in the document" for label, phrase in wanted if norm(phrase) not in text]


def names_for(canonical: str) -> list[str]:
    """Every way the document may write a unit or group: its name and the facts' spellings and typos of it."""
    other = {**FACTS["spellings"], **FACTS["group_spellings"], **FACTS["document_typos"]}
    return [canonical, *(s for s, name in other.items() if name == canonical)]


# ---- 1. facts ↔ document ------------------------------------------------------------------------------------


def annex_rows(annex: str) -> dict[int, str]:
    """附件2 split into its indicator rows (normalised text from a row's number to the next row's)."""
    starts: dict[int, int] = {}
    pos = 0
    for fact in FACTS["indicators"]:
        m = re.compile(rf"(?<!\d){fact['number']}{re.escape(norm(fact['name']))}").search(annex, pos)
        if m is None:
            continue
        starts[fact["number"]] = pos = m.start()
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    ends = [s for _, s in ordered[1:]] + [len(annex)]
    return {n: annex[s:e] for (n, s), e in zip(ordered, ends, strict=True)}


def deadline_problems(fact: dict[str, Any]) -> list[str]:
    """The deadline's date must be what its words say: "X月底前" (the month's last day) or "X月Y日前"."""
    if m := re.search(r"(\d+)月底前", fact["words"]):
        month = int(m.group(1))
        said = dt.date(FACTS["plan"]["year"], month, calendar.monthrange(FACTS["plan"]["year"], month)[1])
    elif m := re.search(r"(\d+)月(\d+)日前", fact["words"]):
        said = dt.date(FACTS["plan"]["year"], int(m.group(1)), int(m.group(2)))
    else:
        return [f"deadline {fact['due']}: no date in “{fact['words']}”"]
    return [] if said == fact["due"] else [f"deadline {fact['due']}: the document says {said}"]


def check_facts(c: Checks, raw: str) -> None:
    text = norm(raw)
    plan = FACTS["plan"]
    issued = plan["issued"]
    c.check(
        "facts: title, document number, issuer, issue date",
        missing(
            text,
            [
                ("title", plan["title"]),
                ("document_no", plan["document_no"]),
                ("issuer", plan["issuer"]),
                ("issued", f"{issued.year}年{issued.month}月{issued.day}日印发"),
            ],
        ),
        4,
    )
    sections = [
        (
            s["section"],
            f"({s['section'].split('（')[1].rstrip('）')}){'、'.join(s['counties'])}:",
        )
        for s in FACTS["county_sections"]
    ]
    c.check("facts: the county sections of 二 and their counties", missing(text, sections), len(sections))
    departments = [(f"三 {d['number']}", f"{d['number']}.{d['name']}:") for d in FACTS["departments"]]
    c.check("facts: the 13 numbered departments of 三", missing(text, departments), len(departments))
    names = [("unit", n) for n in FACTS["counties"] + FACTS["other_units"]]
    names += [("spelling", s) for s in [*FACTS["spellings"], *FACTS["group_spellings"], *FACTS["document_typos"]]]
    names += [("border counties", "边境4县")]
    c.check("facts: units and the document's spellings of them", missing(text, names), len(names))

    goals = text[text.index(norm("一、年度目标")) : text.index(norm("二、各县（区）年度重点任务"))]
    found = [n for n in CHINESE_NUMERALS if f"({n})" in goals]
    goal_problems = [] if len(found) == FACTS["goals"]["count"] else [f"the document has {len(found)} goals"]
    goal_problems += missing(text, [(f"goal {t['goal']}", t["words"]) for t in FACTS["goals"]["targets"]])
    goal_problems += [
        f"goal {t['goal']}: {t['value']} not in “{t['words']}”"
        for t in FACTS["goals"]["targets"]
        if f"{t['value']}" not in t["words"]
    ]
    c.check("facts: goals and their numbers", goal_problems, 1 + len(FACTS["goals"]["targets"]))

    deadlines = FACTS["deadlines"]
    problems = missing(text, [(f"deadline {d['due']}", d["words"]) for d in deadlines])
    problems += [p for d in deadlines for p in deadline_problems(d)]
    c.check("facts: deadlines", problems, len(deadlines))

    targets = FACTS["task_targets"]
    problems = missing(text, [(f"{t['org']} {t['value']}{t['unit']}", t["words"]) for t in targets])
    problems += [
        f"{t['org']}: {t['value']} not in “{t['words']}”" for t in targets if f"{t['value']}" not in t["words"]
    ]
    c.check("facts: quantities of county and department tasks", problems, len(targets))

    events = [
        ("event", f"{e['month']}·{e['day']}{e['name']}" if e.get("day") else f"{e['month']}月{e['name']}")
        for e in FACTS["events"]["dates"]
    ]
    c.check("facts: events", missing(text, events), len(events))

    annex1 = raw[raw.index("附件 1") :]
    rows1 = {int(line.split("\t", 1)[0]): line for line in annex1.splitlines() if re.match(r"\d+\t", line)}
    problems = []
    for p in FACTS["projects"]["items"]:
        row = rows1.get(p["number"], "")
        cells = row.split("\t")
        if len(cells) < 6:
            problems.append(f"project {p['number']}: no row in 附件1")
            continue
        if (cells[1], cells[3], cells[4]) != (p["name"], str(p["investment"]), p["years"]):
            problems.append(f"project {p['number']}: row says {cells[1]} / {cells[3]} / {cells[4]}")
        if cells[5].strip() not in names_for(p["lead"]):
            problems.append(f"project {p['number']}: lead is “{cells[5]}” in the document, not {p['lead']}")
    total = next((line for line in annex1.splitlines() if line.startswith("合计")), "")
    if f"\t{FACTS['projects']['total_investment']}" not in total:
        problems.append(f"total: the 合计 row says {total!r}")
    c.check("facts: the 9 projects of 附件1 (name, investment, years, lead) and the total", problems, 10)

    annex = norm(raw[raw.index("附件 2") :])
    rows = annex_rows(annex)
    problems = [f"indicator {f['number']}: row not found" for f in FACTS["indicators"] if f["number"] not in rows]
    known_units = [n for u in [d["name"] for d in FACTS["departments"]] + FACTS["other_units"] for n in names_for(u)]
    for f in FACTS["indicators"]:
        row = rows.get(f["number"])
        if row is None:
            continue
        wanted = [(f"{f['number']} unit", f["unit"])] if f.get("unit") else []
        wanted += [(f"{f['number']} target", t) for t in (f.get("target"), f.get("target_2023")) if t]
        for part in f.get("parts", []):
            wanted += [(f"{part['key']} name", part["name"]), (f"{part['key']} target", part["target"])]
            wanted += [(f"{part['key']} unit", part["unit"])] if part["unit"] else []
        problems += missing(row, wanted)
        for unit in f["responsible"]:
            if not any(norm(n) in row for n in names_for(unit)):
                problems.append(f"indicator {f['number']}: responsible {unit} not on its row")
        if not f["responsible"] and any(norm(n) in row for n in known_units):
            problems.append(f"indicator {f['number']}: the facts say no unit, the row names one")
    categories = FACTS["indicator_categories"]
    problems += missing(annex, [(c_["category"], c_["category"]) for c_ in categories])
    problems += missing(annex, [(c_["domain"], c_["domain"]) for c_ in categories])
    c.check("facts: the 41 indicators of 附件2 (unit, targets, parts, responsible) and categories", problems, 41)


# ---- 2. plan ↔ document -------------------------------------------------------------------------------------


def check_plan(c: Checks, raw: str) -> None:
    """What tests/test_plan.py checked against the document before the facts file existed."""
    text = re.sub(r"\s+", "", raw)
    doc = load_plan_file(DEFAULT_PLAN)
    units = FACTS["counties"] + [d["name"] for d in FACTS["departments"]]
    problems = []
    for name in units:
        own = [t for t in doc.tasks if name in t.assignees and t.text]
        if not own:
            problems.append(f"{name}: no task of its own in the plan")
        elif not any(re.sub(r"\s+", "", t.text or "")[:20] in text for t in own):
            problems.append(f"{name}: none of its tasks' sentences is in the document")
    c.check("plan: every county's and department's task sentences are the document's", problems, len(units))

    problems = []
    for p in doc.projects:
        if re.sub(r"\s+", "", p.name) not in text:
            problems.append(f"project {p.number}: title “{p.name}” not in the document")
        row = next((line for line in raw.splitlines() if line.startswith(f"{p.number}\t")), "")
        if f"\t{p.investment}\t" not in row:
            problems.append(f"project {p.number}: investment {p.investment} not on its row")
    c.check("plan: every project's title and investment are on its row of 附件1", problems, len(doc.projects))

    problems = [
        f"indicator {i.number}: name or explanation not in the document"
        for i in doc.indicators
        if re.sub(r"\s+", "", i.name)[:4] not in text or re.sub(r"\s+", "", i.explanation)[:10] not in text
    ]
    c.check("plan: every indicator's name and explanation are in 附件2", problems, len(doc.indicators))


# ---- 3. understanding ---------------------------------------------------------------------------------------


def check_understanding(c: Checks, nlu_dir: Path, understand: Callable[[], NLU]) -> None:
    nlu = understand()
    for path in sorted(nlu_dir.glob("*.yaml")):
        cases = load_cases(path)
        failures = [
            f"{case['text']!r}: {'; '.join(diff)}"
            for case in cases
            if (diff := mismatches(case, nlu.understand(case["text"], today=CASES_TODAY), nlu.lexicon))
        ]
        accuracy = 1 - len(failures) / len(cases)
        required = REQUIRED_ACCURACY.get(path.name, DEFAULT_ACCURACY)
        title = f"understanding: {path.name} {len(cases) - len(failures)}/{len(cases)} = {accuracy:.1%}"
        if required is None:
            print(f"info {title} (not gated)")
            continue
        title += f", at least {required:.0%} required"
        c.check(title, failures if accuracy < required else [], len(cases))
        if failures and accuracy >= required:
            print("       missed: " + "; ".join(failures))


def check_answers(c: Checks, nlu_dir: Path, app: App) -> None:
    problems = []
    questions = [case for path in sorted(nlu_dir.glob("*.yaml")) for case in load_cases(path)]
    questions = [case for case in questions if case["intent"] != "report"]
    for n, case in enumerate(questions):
        replies = []
        for i, text in enumerate(["取消", case["text"]]):
            msg = IncomingMessage(
                channel="console", chat_id=COORDINATOR, user_id=COORDINATOR, text=text, message_id=f"shared-{n}-{i}"
            )
            replies = app.engine.handle(msg)
        out = "\n".join(render_plain(r) for r in replies)
        if not out.strip():
            problems.append(f"{case['text']!r}: no answer")
        elif texts.INTERNAL_ERROR in out:
            problems.append(f"{case['text']!r}: the internal-error apology")
        elif any(len(r.text.encode()) > WECOM_TEXT_BYTES for r in replies):
            problems.append(f"{case['text']!r}: a reply over {WECOM_TEXT_BYTES} bytes")
    c.check("understanding: every public question is answered, briefly, as the coordinator", problems, len(questions))


def app_on_a_fresh_database(workdir: Path) -> App:
    """duban over the shipped plan and the demo people, as `duban init --demo` leaves it, on 2023-05-24."""
    url = f"sqlite:///{workdir / 'shared-checks.db'}"
    seed_database(url, dt.datetime(2023, 3, 3, 1, 0))
    now = dt.datetime(2023, 5, 24, 9, 0)
    settings = Settings(data_dir=workdir / "data", database_url=url, now=now, scheduler_enabled=False)
    return build_app(settings, clock=Clock("Asia/Shanghai", now, frozen=True))


def nlu_of(app: App) -> NLU:
    with app.session_factory() as session:
        return NLU.from_session(session)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared folder")
    args = parser.parse_args(argv)
    seed = args.shared / SEED
    if not seed.is_file():
        print(f"no {seed}: nothing to check", file=sys.stderr)
        return 2
    raw = seed.read_text(encoding="utf-8")
    print(f"shared checks against {args.shared.resolve()}")
    c = Checks()
    check_facts(c, raw)
    check_plan(c, raw)
    with tempfile.TemporaryDirectory() as tmp:
        app = app_on_a_fresh_database(Path(tmp))
        try:
            check_understanding(c, args.shared / "nlu", lambda: nlu_of(app))
            check_answers(c, args.shared / "nlu", app)
        finally:
            app.close()
    print(f"shared checks: {'all passed' if not c.failed else f'{c.failed} failed'}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
