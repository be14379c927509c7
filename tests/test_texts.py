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
        for pattern in ("*.py", "*.html")
        for p in (ROOT / d).rglob(pattern)
        if p.name != "texts.py"
    )
    own = Path(texts.__file__).read_text(encoding="utf-8")
    unused = [
        n
        for n in dir(texts)
        if n.isupper() and not re.search(rf"\b{n}\b", code) and len(re.findall(rf"\b{n}\b", own)) < 2
    ]
    assert unused == [], f"texts nobody uses: {unused}"


def test_board_templates_hold_no_text_of_their_own():
    """The board's templates take every word from `texts` (as `T.…`): none of them has a Chinese character."""
    templates = sorted((ROOT / "bot" / "board" / "templates").glob("*.html"))
    assert len(templates) >= 7
    han = re.compile(r"[\u4e00-\u9fff]")
    found = {p.name: han.findall(p.read_text(encoding="utf-8")) for p in templates}
    assert {name: chars for name, chars in found.items() if chars} == {}
