"""The command line speaks its user's language: plan problems in Chinese at their place, argparse's own words in
Chinese, no internal names, no silent surprises with --now, and a console with line editing and history."""

from __future__ import annotations

import argparse
import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from bot.cli import build_parser, main
from config.settings import DEFAULT_PLAN
from db.engine import make_engine
from db.models import Plan

REPO = Path(__file__).resolve().parent.parent
SHIPPED = DEFAULT_PLAN.read_text(encoding="utf-8")
WORKBOOK = DEFAULT_PLAN.with_suffix(".xlsx")

# (name, text to replace in the shipped plan, replacement, what the problem must mention)
BROKEN_YAML = [
    ("date that does not exist", "summary_due: 2023-11-20", "summary_due: 2023-11-31", "plan.summary_due"),
    ("date written in words", "summary_due: 2023-11-20", "summary_due: 十一月底", "plan.summary_due"),
    ("wrong kind", "    kind: department", "    kind: departmant", ".kind"),
    ("missing field", "    title: 巩固提升国家生态文明建设示范区创建成果\n", "", "tasks[0].title"),
    ("unknown unit", "    assignees:\n      - 巴宜区", "    assignees:\n      - 巴依区", "tasks[0].assignees[0]"),
    ("duplicate number", "  - number: 1\n", "  - number: 2\n", "projects[1].number"),
    ("money in words", "    investment: 1620", "    investment: 一千六百", "projects[0].investment"),
    ("misspelt key", "  issuer: 林芝市生态环境局", "  isuer: 林芝市生态环境局", "plan.isuer"),
    ("year out of range", "  year: 2023\n", "  year: 1990\n", "plan.year"),
    ("repeated key", "  year: 2023\n", "  year: 2023\n  year: 2024\n", "第14行"),
    ("unclosed bracket", "      - 巴宜区\n    keywords:", "      - 巴宜区\n    keywords: [示范区, 巩固提升\n", "行"),
    ("tab indent", "  year: 2023", "\tyear: 2023", "第13行"),
    ("colon in a value", "  issuer: 林芝市生态环境局", "  issuer: 林芝市: 生态环境局", "第16行"),
]

# English argparse or pydantic or Python would print; none may reach a user.
ENGLISH = re.compile(
    r"Input should|Field required|Traceback|Error\b|error:|usage:|show this help|positional arguments|"
    r"options:|optional arguments|required:|invalid choice|expected one argument|while parsing|found character"
)
CJK = re.compile(r"[\u4e00-\u9fff]")


def _validate(path: Path) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main(["plan", "validate", str(path)], out=out)
    return code, out.getvalue().splitlines()


@pytest.mark.parametrize(("name", "old", "new", "place"), BROKEN_YAML, ids=[c[0] for c in BROKEN_YAML])
def test_each_problem_of_a_broken_plan_is_chinese_and_named_by_its_place(
    tmp_path: Path, name: str, old: str, new: str, place: str
) -> None:
    assert old in SHIPPED, name
    bad = tmp_path / "plan.yaml"
    bad.write_text(SHIPPED.replace(old, new, 1), encoding="utf-8")
    code, lines = _validate(bad)
    assert code == 1
    *problems, summary = lines
    assert problems and summary == f"共 {len(problems)} 处问题，未写入任何数据。"
    assert any(place in p for p in problems), lines
    for p in problems:
        where, _, message = p.partition(": ")
        assert where and message and CJK.search(message), p
        assert not ENGLISH.search(p), p


def test_a_workbook_with_bad_cells_names_each_cell(tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(WORKBOOK)
    wb["年度工程清单"]["D2"] = "一千六百"
    wb["重点任务"]["H2"] = "2023-11-31"
    wb["单位"]["B3"] = "部门"
    bad = tmp_path / "plan.xlsx"
    wb.save(bad)
    code, lines = _validate(bad)
    assert code == 1
    problems = lines[:-1]
    assert {p.split(":")[0] for p in problems} == {"单位!B3", "重点任务!H2", "年度工程清单!D2"}
    assert all(CJK.search(p) and not ENGLISH.search(p) for p in problems), problems


def test_a_broken_plan_imports_nothing(empty_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.yaml"
    bad.write_text(SHIPPED.replace("summary_due: 2023-11-20", "summary_due: 2023-11-31"), encoding="utf-8")
    args = ["--database-url", empty_db_url, "--data-dir", str(tmp_path / "data")]
    assert main([*args, "init", "--plan", str(bad)], out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "plan.summary_due" in err and "不存在" in err and not ENGLISH.search(err)
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as c:
            assert c.execute(sql_select(func.count()).select_from(Plan)).scalar_one() == 0
    finally:
        engine.dispose()


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _commands(sub, (*prefix, name))
    return out


def test_every_help_is_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    commands = _commands(build_parser())
    assert len(commands) >= 15  # duban, its commands and the plan/person subcommands
    for command in commands:
        with pytest.raises(SystemExit) as done:
            main([*command, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert text.startswith("用法：duban"), command
        assert "显示本帮助并退出" in text and not ENGLISH.search(text), (command, text)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["expor"], "无效的选择"),
        (["person", "add"], "缺少必填参数"),
        (["plan", "show", "a", "b"], "无法识别的参数"),
        (["invite", "墨脱县", "--role"], "需要一个值"),
        ([], "缺少必填参数"),
    ],
)
def test_argument_errors_are_chinese(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert expected in err and "错误" in err and not ENGLISH.search(err), err


def test_argparse_is_left_as_it_was() -> None:
    """The translation holds only while duban's parser works: other users of argparse in the process keep its
    words."""
    main(["plan", "validate", str(DEFAULT_PLAN)], out=io.StringIO())
    assert "show this help message and exit" in argparse.ArgumentParser(prog="x").format_help()


def test_output_read_by_a_command_that_stops_early_ends_without_a_traceback() -> None:
    """`duban plan validate … | head -1` style: the reader is gone before duban writes."""
    argv = [sys.executable, "-m", "bot.cli", "plan", "validate", str(DEFAULT_PLAN)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_init_counts_in_the_plan_s_words(empty_db_url: str, tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["--database-url", empty_db_url, "--data-dir", str(tmp_path / "d"), "init"], out=out) == 0
    first = out.getvalue().splitlines()[0]
    assert "重点任务 166" in first and "工程项目 9" in first and "指标 41" in first and "宣传活动 3" in first
    assert first.endswith("；更新 无；停用 无"), first  # a new unit's parent is not an update
    assert not re.search(r"assignment|indicator|organisation|sub_indicator|\bgoal\b|\bevent\b", first), first


def test_export_refuses_a_day_after_the_rehearsal_s_now(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--database-url", db_url, "--data-dir", str(tmp_path / "d"), "--now", "2023-05-24T09:00"]
    book = tmp_path / "a.xlsx"
    assert main([*args, "export", str(book), "--at", "2023-11-20"], out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "--at 2023-11-20 晚于当前日期 2023-05-24" in err and "--now" in err
    assert not book.exists()
    assert main([*args, "export", str(book), "--at", "2023-13-20"], out=io.StringIO()) == 1
    assert "无效" in capsys.readouterr().err
    out = io.StringIO()
    assert main([*args, "export", str(book), "--at", "2023-05-20"], out=out) == 0
    assert "截至 2023-05-20" in out.getvalue() and book.exists()


def test_digest_writes_the_attachments_it_mentions(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "d"
    args = ["--database-url", db_url, "--data-dir", str(data), "--now", "2023-05-26T17:00"]
    out = io.StringIO()
    assert main([*args, "digest"], out=out) == 0
    last = out.getvalue().splitlines()[-1]
    m = re.fullmatch(r"附件已写入：完成进度图 (\S+)；周报工作簿 (\S+)", last)
    assert m is not None, last
    chart, book = Path(m.group(1)), Path(m.group(2))
    assert chart.read_bytes()[:4] == b"\x89PNG" and book.read_bytes()[:2] == b"PK"
    assert data.resolve() in chart.parents
    out = io.StringIO()
    assert main([*args, "digest", "--no-files"], out=out) == 0
    assert "附件已写入" not in out.getvalue()


# ---- the console in a terminal ---------------------------------------------------------------------------------


def _read_until(fd: int, needle: bytes, seen: bytearray, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"waited for {needle.decode()!r}; the terminal shows:\n{seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], min(left, 1))
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed
                chunk = b""
            if not chunk:
                assert needle in seen, seen.decode(errors="replace")
                return
            seen += chunk


PROMPTED = b"\r\n> "


def test_the_console_edits_lines_and_recalls_them(db_url: str, tmp_path: Path) -> None:
    """In a terminal: ← moves the cursor (it is not typed into the message), ↑ recalls the previous line, and
    the history is still there in the next session."""
    data = tmp_path / "d"
    argv = [sys.executable, "-m", "bot.cli", "--database-url", db_url, "--data-dir", str(data)]
    argv += ["--now", "2023-07-10T10:00", "console", "--user", "墨脱填报人"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

    def session(keys: list[bytes], expect: list[bytes]) -> str:
        main_fd, child_fd = pty.openpty()
        proc = subprocess.Popen(argv, stdin=child_fd, stdout=child_fd, stderr=child_fd, env=env, cwd=REPO)
        os.close(child_fd)
        seen = bytearray()
        try:
            _read_until(main_fd, PROMPTED, seen)  # readline reads the terminal (raw) once its prompt is shown
            for key, wanted in zip(keys, expect, strict=True):
                os.write(main_fd, key)
                _read_until(main_fd, wanted, seen)
            os.write(main_fd, b"\x04")  # Ctrl-D
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
            os.close(main_fd)
        return seen.decode(errors="replace")

    cancelled = "当前没有进行中的对话。发送“帮助”查看我能做什么。".encode() + PROMPTED
    # "取" then ← then "消"... typed as 消, ←, 取, Enter: the line reads 取消 only if ← moved the cursor.
    shown = session(["消".encode(), b"\x1b[D", "取\r".encode()], [b"", b"", cancelled])
    assert "^[[D" not in shown
    # A new session: ↑ brings back 取消 from the history file.
    shown = session([b"\x1b[A", b"\r"], [b"", cancelled])
    assert shown.count("当前没有进行中的对话") == 1
    assert (data / "console-history").is_dir()
