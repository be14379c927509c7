"""Comparing what the understanding layer makes of a message with what a case file says it must.

Case files: tests/nlu_cases_extra.yaml (ours, a test) and the public examples beside the repository (checked by
`.ci/check_shared.py`). Each case is compared exactly as the public files' headers define: intent, org/orgs (a
case without org/orgs/project/indicator means the whole city, so the result must name none; a group named alone
covers its members), project, indicator, percent, status and the list item's number; where a case gives them,
the time window, the kind counted or listed, "all" of a report's scope, the task, group, ambiguity choices and
"own organisation". Cases are read as if today were `CASES_TODAY`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from handlers.understanding.nlu import NLU, Lexicon, Understanding

REQUIRED_ACCURACY = 0.95


def load_cases(path: Path) -> list[dict[str, Any]]:
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(cases, list) and cases, f"no cases in {path}"
    return cases


def _choice_key(lex: Lexicon, kind: str, key: int) -> str:
    if kind == "org":
        return lex.org_name(key)
    item = lex.items[key]
    if item.kind == "project":
        return f"P{item.number}"
    if item.kind == "indicator":
        return f"I{item.number}"
    return item.code


def mismatches(case: dict[str, Any], u: Understanding, lex: Lexicon) -> list[str]:
    """What differs between the expected case and the understanding (empty: the case passes)."""
    out: list[str] = []
    if u.intent != case["intent"]:
        out.append(f"intent {u.intent} != {case['intent']}")
    expected_orgs = set(case.get("orgs") or ([case["org"]] if case.get("org") else []))
    if case.get("group") and not expected_orgs and case["group"] in lex.groups:
        # a group named alone covers its members (cases-v2 gives the group, cases.yaml the members)
        expected_orgs = {lex.org_name(o) for o in lex.groups[case["group"]].member_ids}
    if set(u.org_names) != expected_orgs:
        out.append(f"orgs {sorted(u.org_names)} != {sorted(expected_orgs)}")
    for key in ("project", "indicator"):
        if getattr(u, key) != case.get(key):
            out.append(f"{key} {getattr(u, key)} != {case.get(key)}")
    percent = Decimal(str(case["percent"])) if case.get("percent") is not None else None
    if u.percent != percent:
        out.append(f"percent {u.percent} != {percent}")
    if u.status != case.get("status"):
        out.append(f"status {u.status} != {case.get('status')}")
    if "task" in case:
        code = lex.items[u.item_id].code if u.item_id is not None else None
        if code != case["task"]:
            out.append(f"task {code} != {case['task']}")
    if "group" in case and u.group != case["group"]:
        out.append(f"group {u.group} != {case['group']}")
    if "ambiguous" in case:
        got = {_choice_key(lex, c.kind, c.id) for c in u.ambiguous}
        if got != set(case["ambiguous"]):
            out.append(f"choices {sorted(got)} != {sorted(case['ambiguous'])}")
    elif u.ambiguous and case["intent"] != "report":
        out.append(f"unexpected choices {[c.label for c in u.ambiguous]}")
    if "own" in case and u.own != case["own"]:
        out.append(f"own {u.own} != {case['own']}")
    if "window" in case:
        want = tuple(dt.date.fromisoformat(str(d)) for d in case["window"])
        if (u.window_start, u.window_end) != want:
            out.append(f"window {u.window_start}..{u.window_end} != {want[0]}..{want[1]}")
    if "kind" in case and u.kind != case["kind"]:
        out.append(f"kind {u.kind} != {case['kind']}")
    if u.item_number != case.get("item"):
        out.append(f"item {u.item_number} != {case.get('item')}")
    if case["intent"] == "report" and u.intent == "report" and u.scope_all != (case.get("scope") == "all"):
        out.append(f"scope all {u.scope_all} != {case.get('scope') == 'all'}")
    return out


# Every case file is read as if today were this day (cases-v2.yaml's header: Monday 2023-07-10).
CASES_TODAY = dt.date(2023, 7, 10)


def run_cases(nlu: NLU, cases: list[dict[str, Any]], name: str) -> float:
    failures = []
    for case in cases:
        u = nlu.understand(case["text"], today=CASES_TODAY)
        diff = mismatches(case, u, nlu.lexicon)
        if diff:
            failures.append(f"  {case['text']!r}: {'; '.join(diff)}")
    accuracy = 1 - len(failures) / len(cases)
    print(f"\n{name}: {len(cases) - len(failures)}/{len(cases)} = {accuracy:.1%}")
    for f in failures:
        print(f)
    return accuracy
