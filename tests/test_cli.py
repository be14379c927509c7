"""The `duban` command: init, plan show/validate/import, person add/list, invite; errors are one clear line."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from sqlalchemy import func, select

from bot.cli import main
from config.settings import DEFAULT_PLAN
from db.engine import make_engine
from db.models import Identity, InviteCode, Plan


def run(db_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(
        ["--database-url", db_url, "--data-dir", str(tmp_path / "data"), "--now", "2023-05-24T09:00", *args], out=out
    )
    return code, out.getvalue()


def test_init_reports_the_plan_and_is_idempotent(empty_db_url, tmp_path):
    code, out = run(empty_db_url, tmp_path, "init", "--demo")
    assert code == 0
    assert "县（区）：7 个" in out
    assert "有年度任务的市直部门：13 个" in out
    assert "工程项目：9 个，总投资 15376 万元" in out
    assert "指标：41 项" in out
    assert "演示用户" in out
    code, out = run(empty_db_url, tmp_path, "init")
    assert code == 0 and "已是最新" in out
    code, out = run(empty_db_url, tmp_path, "plan", "show")
    assert code == 0 and "指标：41 项" in out


def test_plan_validate_lists_every_problem_with_its_place(tmp_path, capsys):
    data = yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))
    data["projects"][1]["investment"] = "很多"
    data["tasks"][0]["assignees"] = ["墨托县"]
    data["indicators"][2]["number"] = data["indicators"][1]["number"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    assert main(["plan", "validate", str(bad)], out=out) == 1
    text = out.getvalue()
    assert "projects[1].investment" in text
    data["projects"][1]["investment"] = 2335
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = io.StringIO()
    assert main(["plan", "validate", str(bad)], out=out) == 1
    text = out.getvalue()
    assert "tasks[0].assignees[0]" in text and "墨托县" in text
    assert "indicators[2].number" in text
    out = io.StringIO()
    assert main(["plan", "validate", str(DEFAULT_PLAN)], out=out) == 0
    assert "计划文件有效" in out.getvalue()


def test_importing_a_bad_file_writes_nothing(empty_db_url, tmp_path, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text("plan: [unclosed\n", encoding="utf-8")
    code, _ = run(empty_db_url, tmp_path, "init", "--plan", str(bad))
    assert code == 1
    err = capsys.readouterr().err
    assert "broken.yaml 第2行第1列" in err and "YAML 格式错误" in err
    engine = make_engine(empty_db_url)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Plan)).scalar() == 0
    engine.dispose()


def test_person_add_list_and_unknown_org(empty_db_url, tmp_path, capsys):
    run(empty_db_url, tmp_path, "init")
    code, out = run(
        empty_db_url,
        tmp_path,
        "person",
        "add",
        "卓玛",
        "--org",
        "墨脱",
        "--role",
        "official",
        "--telegram-id",
        "12345",
        "--wecom-userid",
        "zhuoma",
    )
    assert code == 0 and "墨脱县" in out
    code, out = run(empty_db_url, tmp_path, "person", "list")
    assert "卓玛" in out and "telegram:12345" in out and "wecom:zhuoma" in out
    code, _ = run(empty_db_url, tmp_path, "person", "add", "张三", "--org", "墨托县", "--role", "official")
    err = capsys.readouterr().err
    assert code == 1 and "未知单位“墨托县”" in err and "墨脱县" in err
    assert len(err.strip().splitlines()) == 1
    code, _ = run(
        empty_db_url,
        tmp_path,
        "person",
        "add",
        "李四",
        "--org",
        "墨脱县",
        "--role",
        "official",
        "--telegram-id",
        "12345",
    )
    assert code == 1 and "已绑定" in capsys.readouterr().err
    engine = make_engine(empty_db_url)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Identity)).scalar() == 2  # nothing half-written
    engine.dispose()


def test_invite_prints_code_and_deep_link(empty_db_url, tmp_path, monkeypatch):
    run(empty_db_url, tmp_path, "init")
    monkeypatch.setenv("DUBAN_TELEGRAM_BOT_USERNAME", "duban_bot")
    code, out = run(empty_db_url, tmp_path, "invite", "米林县", "--role", "official", "--expires", "3d")
    assert code == 0
    engine = make_engine(empty_db_url)
    with engine.connect() as c:
        codes = c.execute(select(InviteCode.code)).scalars().all()
    engine.dispose()
    assert len(codes) == 1 and codes[0] in out
    assert f"https://t.me/duban_bot?start={codes[0]}" in out
    code, _ = run(empty_db_url, tmp_path, "invite", "米林县", "--expires", "soon")
    assert code == 1


def test_bad_now_is_one_clear_line(empty_db_url, tmp_path, capsys):
    out = io.StringIO()
    code = main(["--database-url", empty_db_url, "--now", "昨天", "plan", "show"], out=out)
    assert code == 1 and "ISO 8601" in capsys.readouterr().err
