"""`duban serve` warms up before its channels start (issue 18: the first question after a start): a coordinator's
question and an official's "汇报" are answered inside transactions that are rolled back, so that the first user's
message finds SQLAlchemy's statements compiled and the handlers' lazy parts loaded. Nothing is kept or sent."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import delete, select

from bot.app import App, build_app
from bot.serve import warm_up
from config.settings import Settings
from core.messages import IncomingMessage
from db.models import Base, Identity


def _everything(app: App) -> dict[str, list[Any]]:
    with app.db.connect() as conn:
        return {t.name: [tuple(r) for r in conn.execute(select(t))] for t in Base.metadata.sorted_tables}


def _compiled(app: App) -> int:
    return len(app.db._compiled_cache)  # SQLAlchemy's cache of compiled statements, per engine


def test_warm_up_answers_and_keeps_nothing(app: App) -> None:
    before = _everything(app)
    compiled = _compiled(app)
    assert warm_up(app) == 2
    assert _everything(app) == before  # no conversation, no processed message, no outbox row, no report
    assert _compiled(app) > compiled


def test_the_first_question_after_a_warm_up_compiles_less(app: App, settings: Settings) -> None:
    cold = build_app(settings, clock=app.clock)
    try:
        n = _compiled(cold)
        cold.engine.handle(_question(cold))
        cold_new = _compiled(cold) - n
    finally:
        cold.close()
    warm_up(app)
    n = _compiled(app)
    app.engine.handle(_question(app))
    assert _compiled(app) - n < cold_new / 2, (cold_new, _compiled(app) - n)


def _question(app: App) -> IncomingMessage:
    return IncomingMessage(channel="console", chat_id="协调员", user_id="协调员", text="墨脱县进度", message_id="q1")


def test_nobody_to_warm_up_with(app: App) -> None:
    with app.session_factory() as s, s.begin():
        s.execute(delete(Identity))
    assert warm_up(app) == 0


def test_a_failing_warm_up_does_not_stop_the_start(
    app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(app.engine, "respond", broken)
    before = _everything(app)
    with caplog.at_level(logging.WARNING, logger="bot.serve"):
        assert warm_up(app) == 0
    assert "warm-up" in caplog.text and _everything(app) == before
