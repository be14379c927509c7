"""Settings come from DUBAN_* variables and an optional TOML file (DUBAN_CONFIG); the environment wins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.clock import Clock
from config.settings import Settings, load_settings


def test_defaults(monkeypatch, tmp_path):
    for var in ("DUBAN_DATABASE_URL", "DUBAN_CONFIG", "DUBAN_NOW", "DUBAN_TIMEZONE", "DUBAN_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.timezone == "Asia/Shanghai" and s.now is None
    assert s.sqlalchemy_url == f"sqlite:///{(tmp_path / 'data' / 'duban.db').resolve()}"
    assert not s.telegram_enabled and not s.wecom_enabled


def test_toml_file_and_environment_precedence(monkeypatch, tmp_path: Path):
    cfg = tmp_path / "duban.toml"
    cfg.write_text(
        'database_url = "sqlite:////tmp/from-file.db"\n'
        'timezone = "Asia/Urumqi"\n'
        'telegram_token = "123:file"\n'
        "nudge_days_before = [5, 1]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DUBAN_CONFIG", str(cfg))
    monkeypatch.setenv("DUBAN_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("DUBAN_NOW", "2023-05-24T09:00")
    monkeypatch.setenv("DUBAN_ESCALATE_AFTER_WORKDAYS", "2,5")
    s = load_settings()
    assert s.database_url == "sqlite:////tmp/from-file.db"  # from the file
    assert s.timezone == "Asia/Shanghai"  # the environment wins over the file
    assert s.telegram_enabled and s.telegram_token == "123:file"
    assert s.nudge_days_before == [5, 1]
    assert s.escalate_after_workdays == [2, 5]
    assert s.now == dt.datetime(2023, 5, 24, 9, 0)
    # arguments (the CLI) win over both
    assert load_settings(timezone="Europe/Berlin").timezone == "Europe/Berlin"


def test_wecom_needs_all_five(monkeypatch):
    for k in ("CORP_ID", "AGENT_ID", "SECRET", "TOKEN"):
        monkeypatch.setenv(f"DUBAN_WECOM_{k}", "x")
    assert not Settings().wecom_enabled
    monkeypatch.setenv("DUBAN_WECOM_AES_KEY", "y")
    assert Settings().wecom_enabled


def test_bad_value_is_refused(monkeypatch):
    monkeypatch.setenv("DUBAN_HTTP_PORT", "eighty")
    with pytest.raises(ValidationError):
        Settings()


def test_pretended_clock_runs_forward_and_frozen_clock_does_not():
    start = dt.datetime(2023, 5, 24, 9, 0)
    running = Clock("Asia/Shanghai", start)
    assert abs((running.now() - running.localize(start)).total_seconds()) < 5
    frozen = Clock("Asia/Shanghai", start, frozen=True)
    assert frozen.now() == frozen.localize(start)
    assert frozen.utcnow() == dt.datetime(2023, 5, 24, 1, 0)
    assert frozen.to_local(frozen.utcnow()) == frozen.now()
