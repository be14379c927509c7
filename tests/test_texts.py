"""The one module of user-facing text: every name defined once, every placeholder filled by its callers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import handlers.texts as texts

ROOT = Path(__file__).resolve().parents[1]


def test_every_text_name_is_defined_once():
    tree = ast.parse(Path(texts.__file__).read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                elts = target.elts if isinstance(target, ast.Tuple) else [target]
                names += [e.id for e in elts if isinstance(e, ast.Name)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    assert dupes == [], f"defined more than once (the later silently wins): {dupes}"


def test_every_text_is_used_somewhere():
    code = "\n".join(
        p.read_text(encoding="utf-8")
        for d in ("bot", "handlers", "scheduler", "db")
        for p in (ROOT / d).rglob("*.py")
        if p.name != "texts.py"
    )
    own = Path(texts.__file__).read_text(encoding="utf-8")
    unused = [
        n
        for n in dir(texts)
        if n.isupper() and not re.search(rf"\b{n}\b", code) and len(re.findall(rf"\b{n}\b", own)) < 2
    ]
    assert unused == [], f"texts nobody uses: {unused}"
