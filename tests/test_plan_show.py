"""`duban plan show NAME`: one organisation, project, indicator or task, found by any name people use."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from config.clock import Clock
from db.engine import make_engine, make_session_factory
from db.models import Assignment, Item
from db.repositories import orgs, plans, reports
from handlers.plan_text import describe

CLOCK = Clock("Asia/Shanghai", dt.datetime(2023, 5, 24, 9, 0), frozen=True)


@pytest.fixture
def session(db_url: str):
    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def _show(session, name: str) -> str | None:
    plan = plans.active_plan(session)
    assert plan is not None
    return describe(session, plan, name, CLOCK)


def test_organisation_by_short_and_later_name(session):
    out = _show(session, "墨脱")
    assert out is not None
    assert out.startswith("墨脱县（县（区））")
    assert "所属单位组：边境县、各县区" in out
    assert "[C3-4-04] 5月底前编制印发“两山”基地建设实施方案｜截止 2023-05-31｜🟡未汇报" in out
    assert "[C3-3-03]" in out and "目标：每县分别至少打造树立1个" in out
    mi = _show(session, "米林市")
    assert mi is not None and mi.startswith("米林县（县（区））") and "别名：米林市" in mi
    assert _show(session, "农牧局").startswith("市农业农村局（市直部门）")  # type: ignore[union-attr]
    assert "曾用名/其后名称：市农牧局" in _show(session, "市农业农村局")  # type: ignore[operator]


def test_project_every_field_and_progress(session):
    org = orgs.require_org(session, "市生态环境局")
    a = session.execute(
        select(Assignment).join(Item).where(Item.code == "P2", Assignment.organisation_id == org.id)
    ).scalar_one()
    reports.add_report(
        session, a, None, "console", dt.datetime(2023, 5, 20, 2), {"status": "in_progress", "percent": Decimal(40)}
    )
    session.flush()
    for name in ("八及曲", "项目2", "P2", "2号项目", "尼洋河支流八及曲水生态修复项目"):
        out = _show(session, name)
        assert out is not None and out.startswith("项目2：尼洋河支流八及曲水生态修复项目"), name
    assert "总投资（万元）：2335" in out
    assert "实施年限：2022-2023年" in out and "牵头单位：市生态环境局" in out
    assert "建设内容：八及曲河岸带生态护坡" in out and "关键词：八及曲、尼洋河" in out
    assert "🟢市生态环境局｜推进中 40%｜最近汇报 2023-05-20" in out


def test_report_dates_are_local_days(session):
    """A report filed at 01:00 China time on 5月21日 (17:00 UTC the day before) is shown on 5月21日."""
    org = orgs.require_org(session, "市生态环境局")
    a = session.execute(
        select(Assignment).join(Item).where(Item.code == "P2", Assignment.organisation_id == org.id)
    ).scalar_one()
    reports.add_report(
        session, a, None, "console", dt.datetime(2023, 5, 20, 17), {"status": "in_progress", "percent": Decimal(45)}
    )
    session.flush()
    out = _show(session, "P2")
    assert out is not None and "🟢市生态环境局｜推进中 45%｜最近汇报 2023-05-21" in out


def test_indicator_with_sub_indicators(session):
    out = _show(session, "指标12")
    assert out is not None and out.startswith("指标12：环境空气质量")
    assert "领域：生态环境" in out and "责任单位：市生态环境局" in out
    assert "分项指标 12.1：优良天数比例" in out and "分项指标 12.2：PM2.5浓度下降幅度" in out
    out = _show(session, "林草覆盖率")
    assert out is not None and out.startswith("指标15：林草覆盖率") and "判定规则：按填报值判定：≥80即达标" in out


def test_task_by_code_and_keyword(session):
    out = _show(session, "c3-2-03")
    assert out is not None and out.startswith("任务 C3-2-03：墨脱县尽快完成县城生活污水处理厂建设并投入运行")
    assert "实施单位：墨脱县" in out
    assert _show(session, "碳达峰方案").startswith("任务 D03-01")  # type: ignore[union-attr]


def test_ambiguous_and_unknown(session):
    out = _show(session, "湿地")
    assert out is not None and "对应多项" in out and "项目3·冲康村湿地" in out and "项目7·朱拉河湿地" in out
    assert _show(session, "完全不存在的单位名") is None


def test_cli_plan_show(db_url: str, tmp_path: Path):
    out = io.StringIO()
    assert (
        main(
            [
                "--database-url",
                db_url,
                "--data-dir",
                str(tmp_path),
                "--now",
                "2023-05-24T09:00",
                "plan",
                "show",
                "察隅",
            ],
            out=out,
        )
        == 0
    )
    assert out.getvalue().startswith("察隅县（县（区））")
