"""The digest's chart is drawn in a child process (issue 18: matplotlib would stay in `duban serve` for good,
~40 MB, for one picture a week); drawn in the process itself when that fails."""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from db.engine import make_engine, make_session_factory
from db.repositories import plans
from scheduler import apart
from scheduler.digest import build_digest
from scheduler.weekly import digest_files

REPO = Path(__file__).resolve().parent.parent
AS_OF = dt.datetime(2023, 5, 26, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_the_call_runs_in_another_process_and_returns_its_result() -> None:
    assert apart.call_apart("os", "getpid") != os.getpid()
    assert apart.call_apart("os.path", "join", "a", "b") == os.path.join("a", "b")


def test_a_failing_child_raises() -> None:
    with pytest.raises(apart.ApartError, match="no_such_module"):
        apart.call_apart("no_such_module", "f")


def test_the_digest_chart_is_drawn_without_matplotlib_in_the_process(db_url: str, tmp_path: Path) -> None:
    code = (
        "import datetime as dt, sys\n"
        "from pathlib import Path\n"
        "from zoneinfo import ZoneInfo\n"
        "from db.engine import make_engine, make_session_factory\n"
        "from db.repositories import plans\n"
        "from scheduler.digest import build_digest\n"
        "from scheduler.weekly import digest_files\n"
        f"with make_session_factory(make_engine({db_url!r}))() as s:\n"
        f"    d = build_digest(s, plans.active_plan(s), dt.datetime(2023, 5, 26, 17, tzinfo=ZoneInfo('Asia/Shanghai')))\n"
        f"png, book = digest_files(d, Path({str(tmp_path)!r}))\n"
        "print(png.read_bytes()[:4] == b'\\x89PNG', book.read_bytes()[:2] == b'PK', 'matplotlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "False"]


def test_the_chart_is_drawn_here_when_the_child_fails(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(*args: object, **kw: object) -> None:
        raise apart.ApartError("no child today")

    monkeypatch.setattr(apart, "call_apart", failing)
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as s:
            d = build_digest(s, plans.active_plan(s), AS_OF)
    finally:
        engine.dispose()
    with caplog.at_level(logging.WARNING, logger="scheduler.weekly"):
        png, _book = digest_files(d, tmp_path)
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "child process" in caplog.text
