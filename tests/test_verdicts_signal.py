"""One verdict rule for indicators, and views with signal (issue 14).

- the verdict table: numeric rules, text targets judged by recognised equivalent answers, 待判定 otherwise, trend
  rules against the unit's previous value, a coordinator's `判定` standing over every rule;
- the same verdict in chat, the digest, the export and `plan show` for the same reports;
- lights and 滞后 on 5月24日: 未汇报 is not 滞后, a grace period, the margin a setting;
- rankings by completion, then fewer overdue.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import App, build_app
from config.settings import Settings
from db.engine import transaction
from db.models import (
    BLOCKED,
    DONE,
    IN_PROGRESS,
    INDICATOR,
    RETURNED,
    TASK,
    Assignment,
    Item,
    Judgement,
    Organisation,
    Report,
)
from db.repositories import orgs, plans, progress, reports
from db.repositories.progress import MET, NOT_MET, UNJUDGED, UNREPORTED, judge, rule_of
from handlers import texts
from handlers.plan_text import describe
from handlers.queries import lists
from scheduler.commands import export
from scheduler.digest import build_digest
from scheduler.export import build_workbook
from tests.conftest import Chat

TODAY = dt.date(2023, 5, 24)


@pytest.fixture(autouse=True)
def _default_thresholds() -> Iterator[None]:
    """The margins are process-wide (set from the settings at start-up): every test starts and ends with the
    defaults."""
    progress.configure(lag_points=progress.LAG_POINTS, grace_days=progress.GRACE_DAYS)
    yield
    progress.configure(lag_points=progress.LAG_POINTS, grace_days=progress.GRACE_DAYS)


# ---- the verdict table --------------------------------------------------------------------------------------

D = Decimal
TABLE: list[
    tuple[str, str | None, Decimal | None, str, Decimal | None, str | None, str | None, Decimal | None, str]
] = [
    # (case, check op, check value, target, number, text, status, previous, verdict)
    ("numeric met", ">=", D(80), "≥80", D(80), "80%", IN_PROGRESS, None, MET),
    ("numeric not met", ">=", D(80), "≥80", D("79.9"), "79.9%", DONE, None, NOT_MET),
    ("numeric strict", ">", D(20), ">20", D(20), "20", IN_PROGRESS, None, NOT_MET),
    ("numeric at most", "<=", D(5), "≤5", D(4), "4", IN_PROGRESS, None, MET),
    ("numeric without a number", ">=", D(80), "≥80", None, "较好", IN_PROGRESS, None, UNJUDGED),
    ("echo of the target", "text", None, "开展", None, "开展", IN_PROGRESS, None, MET),
    ("已开展", "text", None, "开展", None, "已开展", IN_PROGRESS, None, MET),
    ("已经开展", "text", None, "开展", None, "已经开展。", IN_PROGRESS, None, MET),
    ("是", "text", None, "有效开展", None, "是", IN_PROGRESS, None, MET),
    ("已建立 for 建立并实施", "text", None, "建立并实施", None, "已建立", IN_PROGRESS, None, MET),
    ("已实施 for 全面实施", "text", None, "全面实施", None, "已实施", IN_PROGRESS, None, MET),
    ("已编制", "text", None, "编制", None, "已编制", IN_PROGRESS, None, MET),
    ("reported 已完成", "text", None, "开展", None, None, DONE, None, MET),
    ("未开展", "text", None, "开展", None, "未开展", IN_PROGRESS, None, NOT_MET),
    ("否", "text", None, "建立并实施", None, "否", IN_PROGRESS, None, NOT_MET),
    ("an answer that says neither", "text", None, "开展", None, "正在推进", IN_PROGRESS, None, UNJUDGED),
    ("a number for a text target", "text", None, "开展", D(1), "1", IN_PROGRESS, None, UNJUDGED),
    (
        "other text target, done",
        "text",
        None,
        "完成上级规定的考核任务；保持稳定持续改善",
        None,
        None,
        DONE,
        None,
        UNJUDGED,
    ),
    (
        "other text target, 是",
        "text",
        None,
        "完成上级规定的考核任务；保持稳定持续改善",
        None,
        "是",
        DONE,
        None,
        UNJUDGED,
    ),
    ("不降低, equal", "text", None, "不降低", D(5), "5", IN_PROGRESS, D(5), MET),
    ("不降低, lower", "text", None, "不降低", D(4), "4", IN_PROGRESS, D(5), NOT_MET),
    ("不降低, no previous value", "text", None, "不降低", D(4), "4", IN_PROGRESS, None, UNJUDGED),
    ("逐步下降, lower", "text", None, "逐步下降", D(3), "3千克", IN_PROGRESS, D(4), MET),
    ("逐步下降, equal", "text", None, "逐步下降", D(4), "4千克", IN_PROGRESS, D(4), NOT_MET),
    ("不明显, lower", "text", None, "不明显", D(2), "2", IN_PROGRESS, D(3), MET),
    ("不明显, higher", "text", None, "不明显", D(4), "4", IN_PROGRESS, D(3), NOT_MET),
    ("不明显 answered as such", "text", None, "不明显", None, "不明显", IN_PROGRESS, None, MET),
    ("not reported", ">=", D(80), "≥80", None, None, None, None, UNREPORTED),
]


@pytest.mark.parametrize(
    ("op", "value", "target", "number", "text", "status", "previous", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_verdict_table(
    op: str | None,
    value: Decimal | None,
    target: str,
    number: Decimal | None,
    text: str | None,
    status: str | None,
    previous: Decimal | None,
    expected: str,
) -> None:
    assert judge(rule_of(op, value, target), number, text, status, previous) == expected


def test_a_coordinators_judgement_stands_over_every_rule() -> None:
    manual = rule_of("text", None, "完成上级规定的考核任务")
    assert judge(manual, None, "是", DONE) == UNJUDGED
    assert judge(manual, None, "是", DONE, judged=MET) == MET
    numeric = rule_of(">=", D(80), "≥80")
    assert judge(numeric, D(70), "70", IN_PROGRESS, judged=MET) == MET
    assert judge(numeric, D(90), "90", IN_PROGRESS, judged=NOT_MET) == NOT_MET
    assert judge(numeric, None, None, None, judged=MET) == MET  # judged on other evidence, nothing reported


def test_every_shipped_indicator_has_a_rule_and_the_trends_are_recognised(session: Any) -> None:
    items = session.execute(select(Item).where(Item.kind.in_((INDICATOR, "sub_indicator")))).scalars().all()
    kinds = Counter(progress.item_rule(i).kind for i in items if i.check_op is not None)
    assert set(kinds) == {progress.NUMERIC, progress.ACTION, progress.TREND, progress.MANUAL}, kinds
    by_target = {(i.target_year_text or i.target_text): progress.item_rule(i) for i in items if i.check_op}
    assert by_target["不降低"].op == ">=" and by_target["逐步下降"].op == "<" and by_target["不明显"].op == "<="
    assert by_target["开展"].kind == progress.ACTION and by_target["建立并实施"].kind == progress.ACTION
    assert rule_of(None, None, "①实施；②≥95").kind == progress.MANUAL  # indicator 36: two sub-indicators
    # a compound target mentioning 不降低 is not a trend of one value: a coordinator judges it
    assert by_target["面积不减少，性质不改变，功能不降低"].kind == progress.MANUAL


def test_plan_show_states_the_real_rule(session: Any) -> None:
    plan = plans.active_plan(session)
    assert plan is not None
    clock = _clock()
    out16 = describe(session, plan, "指标16", clock) or ""
    assert "人工判定（完成即达标）" not in out16
    assert "判定规则：与本单位上次填报值比较：不低于上次填报值即达标" in out16  # 16.3 不降低
    assert "判定规则：与本单位上次填报值比较：不高于上次填报值即达标" in out16  # 16.2 不明显
    assert "判定规则：按填报值判定：≥90即达标" in out16
    out37 = describe(session, plan, "指标37", clock) or ""
    assert "判定规则：与本单位上次填报值比较：低于上次填报值即达标" in out37  # 37.3 逐步下降
    action = _indicator_with(session, progress.ACTION)
    out = describe(session, plan, f"指标{action.number}", clock) or ""
    assert "判定规则：按回答判定：回答“已" in out, out


@pytest.fixture
def session(db_url: str) -> Iterator[Any]:
    from db.engine import make_engine, make_session_factory

    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


def _clock() -> Any:
    from config.clock import Clock

    return Clock("Asia/Shanghai", dt.datetime(2023, 5, 24, 9, 0), frozen=True)


def _indicator_with(session: Any, kind: str, min_units: int = 1, org: str | None = None) -> Item:
    """The first active indicator whose rule is of `kind`, with at least `min_units` units (and `org` among them)."""
    org_id = orgs.find_org(session, org).id if org else None
    for item in session.execute(
        select(Item).where(Item.kind == INDICATOR, Item.active.is_(True)).order_by(Item.number)
    ).scalars():
        if progress.item_rule(item).kind != kind:
            continue
        units = set(
            session.execute(
                select(Assignment.organisation_id).where(Assignment.item_id == item.id, Assignment.active.is_(True))
            ).scalars()
        )
        if len(units) >= min_units and (org_id is None or org_id in units):
            return item
    raise AssertionError(f"no {kind} indicator")


def _file(app: App, item_id: int, org: str, fields: dict[str, Any], minutes_ago: int = 60) -> int:
    with transaction(app.session_factory) as s:
        org_id = orgs.find_org(s, org).id
        a = s.execute(
            select(Assignment).where(Assignment.item_id == item_id, Assignment.organisation_id == org_id)
        ).scalar_one()
        r = reports.add_report(
            s,
            a,
            None,
            "console",
            app.clock.utcnow() - dt.timedelta(minutes=minutes_ago),
            {"status": IN_PROGRESS, **fields},
        )
        return r.id


# ---- the coordinator's 判定 -----------------------------------------------------------------------------------


def test_judge_command_for_all_units_and_for_one(app: App, chat: Any) -> None:
    with app.session_factory() as s:
        item = _indicator_with(s, progress.MANUAL, min_units=2, org="墨脱县")
        number = item.number
        others = [
            (o.name, o.short_name or o.name)
            for o in s.execute(
                select(Organisation)
                .join(Assignment, Assignment.organisation_id == Organisation.id)
                .where(Assignment.item_id == item.id, Organisation.name != "墨脱县")
            ).scalars()
        ]
    _file(app, item.id, "墨脱县", {"indicator_value": "已完成考核任务"}, minutes_ago=90)
    _file(app, item.id, others[0][0], {"indicator_value": "保持稳定"}, minutes_ago=80)
    coord = chat("协调员")
    out = coord.send(f"指标{number}")
    assert f"→ {texts.INDICATOR_UNKNOWN}" in out, out  # a text target nobody judged yet: 待判定, not 未达标

    official = chat("墨脱填报人")
    assert official.send(f"判定 指标{number} 达标") == texts.NOT_ALLOWED
    with app.session_factory() as s:
        assert s.execute(select(Judgement)).first() is None

    out = coord.send(f"判定 指标{number} 达标 已现场核查")
    assert "判定为达标" in out and "全部责任单位" in out, out
    out = coord.send(f"指标{number}")
    # each reporting unit's line carries the judgement; the city's (every unit must 达标) waits for the others
    judged = [ln for ln in out.splitlines() if f" {texts.INDICATOR_MET}（协调员判定：已现场核查）" in ln]
    assert len(judged) == 2, out
    assert re.search(rf"^全市（.*→ {texts.INDICATOR_UNKNOWN}$", out, re.M), out

    out = coord.send(f"判定 指标{number} 墨脱县 未达标 考核未完成")
    assert "墨脱县" in out and "判定为未达标" in out, out
    lines = coord.send(f"指标{number}").splitlines()
    motuo = next(ln for ln in lines if ln.startswith(("🟡墨脱", "🟢墨脱", "⚪墨脱")))
    assert "未达标（协调员判定：考核未完成）" in motuo, lines
    other = next(ln for ln in lines if ln[1:].startswith(others[0][1]))
    assert "达标（协调员判定：已现场核查）" in other and "未达标" not in other, lines
    # a judgement of every unit judges the reports in hand: a unit that never reported is still 未填报
    silent = [ln for ln in lines if ln[:1] in "🟡🟢⚪" and "·" not in ln]
    assert silent and all("判定" not in ln for ln in silent), lines

    with app.session_factory() as s:
        rows = s.execute(select(Judgement).order_by(Judgement.id)).scalars().all()
        assert [(j.organisation_id is None, j.verdict, j.reason) for j in rows] == [
            (True, MET, "已现场核查"),
            (False, NOT_MET, "考核未完成"),
        ]
        assert all(j.judged_by_id is not None for j in rows)

    # a newer report is judged by the rule again: 待判定 until judged anew
    app.clock.set(app.clock.now() + dt.timedelta(hours=1), frozen=True)
    _file(app, item.id, "墨脱县", {"indicator_value": "考核已完成"}, minutes_ago=0)
    lines = coord.send(f"指标{number}").splitlines()
    motuo = next(ln for ln in lines if ln.startswith(("🟡墨脱", "🟢墨脱", "⚪墨脱")))
    assert texts.INDICATOR_UNKNOWN in motuo and "判定：" not in motuo, lines


def test_judge_command_refusals(app: App, chat: Any) -> None:
    coord = chat("协调员")
    assert coord.send("判定") == texts.JUDGE_USAGE
    assert coord.send("判定 指标999 达标") == texts.JUDGE_NO_INDICATOR.format(number=999)
    with app.session_factory() as s:
        item = _indicator_with(s, progress.MANUAL)
    out = coord.send(f"判定 指标{item.number} 不存在的单位 达标")
    assert out == texts.JUDGE_NO_ORG.format(name="不存在的单位", number=item.number)


def test_trend_rule_against_the_previous_value_and_a_returned_version_is_not_one(app: App, chat: Any) -> None:
    with transaction(app.session_factory) as s:
        item = _indicator_with(s, progress.NUMERIC, org="墨脱县")
        # an indicator of the plan whose own target is a trend (the plan has them as sub-indicators only)
        item.check_op, item.check_value, item.target_year_text = "text", None, "不降低"
        item_id, number = item.id, item.number
    coord = chat("协调员")

    def motuo_verdict() -> str:
        with app.session_factory() as s:
            org_id = orgs.find_org(s, "墨脱县").id
            plan = plans.active_plan(s)
            assert plan is not None
            views = progress.assignment_views(s, plan, TODAY, org_ids=[org_id], item_ids=[item_id])
            it = s.get(Item, item_id)
            return progress.verdict_of(s, it, views[0]).code

    _file(app, item_id, "墨脱县", {"indicator_value": "50", "indicator_number": D(50)}, minutes_ago=300)
    assert motuo_verdict() == UNJUDGED  # no previous value
    _file(app, item_id, "墨脱县", {"indicator_value": "55", "indicator_number": D(55)}, minutes_ago=200)
    assert motuo_verdict() == MET
    bad = _file(app, item_id, "墨脱县", {"indicator_value": "40", "indicator_number": D(40)}, minutes_ago=100)
    assert motuo_verdict() == NOT_MET
    # the 40 returned (退回): it is not counted, and the 55 is judged against the 50 again
    with transaction(app.session_factory) as s:
        s.get(Report, bad).review_state = RETURNED
    assert motuo_verdict() == MET  # the counted version is the 55 again, against the 50
    assert f"指标{number}" in coord.send(f"指标{number}")


# ---- the same verdict everywhere ----------------------------------------------------------------------------

LATEST_RE = re.compile(r"^最新值：(?P<value>.*)（(?P<date>\d+月\d+日)，(?P<org>[^）]+)）→ (?P<verdict>.+)$")
OVERVIEW_RE = re.compile(r"^(?P<mark>[✅❌❔⚪])指标(?P<number>\d+) (?P<rest>.+)$")
CITY_RE = re.compile(r"^全市（(?P<rule>[^）]+)）：(?P<figure>.*) → (?P<verdict>\S+)$")
ANSWERS = ["开展", "已建立", "是", "否", "正在推进", None]


def test_the_same_verdict_in_chat_digest_export_and_plan_show(app: App, chat: Any) -> None:
    with transaction(app.session_factory) as s:
        items = s.execute(select(Item).where(Item.kind == INDICATOR, Item.active.is_(True))).scalars().all()
        for i, item in enumerate(sorted(items, key=lambda it: it.number or 0)):
            a = s.execute(select(Assignment).where(Assignment.item_id == item.id)).scalars().first()
            if a is None or i % 7 == 6:
                continue
            rule = progress.item_rule(item)
            if rule.kind == progress.NUMERIC:
                assert rule.value is not None
                n = rule.value - (i % 2)
                fields: dict[str, Any] = {"status": IN_PROGRESS, "indicator_value": str(n), "indicator_number": n}
            else:
                answer = ANSWERS[i % len(ANSWERS)]
                fields = {"status": DONE if answer is None else IN_PROGRESS, "indicator_value": answer}
            reports.add_report(s, a, None, "console", app.clock.utcnow() - dt.timedelta(minutes=i), fields)
        judged = next(it for it in items if progress.item_rule(it).kind == progress.MANUAL)
        progress.judge_indicator(s, judged, MET, app.clock.utcnow(), None, None, "核查")
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        wb = build_workbook(s, plan, app.clock.now())
        digest = build_digest(s, plan, app.clock.now())
        numbers = {it.id: it.number for it in s.execute(select(Item).where(Item.kind == INDICATOR)).scalars()}
        shows = {n: describe(s, plan, f"指标{n}", _clock()) or "" for n in numbers.values()}
    # after the title and the header; an indicator's own row has its number (its units' rows and 合计 do not)
    rows = {
        r[0]: r
        for r in wb[texts.EXPORT_SHEET_INDICATORS].iter_rows(min_row=3, values_only=True)
        if isinstance(r[0], int)
    }
    coord = chat("协调员")
    seen: Counter[str] = Counter()
    codes: dict[int, str] = {}
    for number, row in sorted(rows.items()):
        out = coord.send(f"指标{number}")
        city = next((ln for ln in out.splitlines() if ln.startswith("全市（")), None)
        if city is not None:
            # several units: the city's figure, the same in the export's main row, plan show and the digest
            m = CITY_RE.match(city)
            assert m is not None, city
            code = next(c for c, label in texts.VERDICT_LABELS.items() if m["verdict"] == label)
            assert row[10] == (texts.SCHED_NEVER_REPORTED if code == UNREPORTED else m["verdict"]), number
            assert (row[7], row[8]) == (m["figure"], texts.EXPORT_CITY_ORG), number
            assert city in shows[number].splitlines(), (number, shows[number])
            seen[code] += 1
            codes[number] = code
            continue
        line = next(ln for ln in out.splitlines() if ln.startswith("最新值："))
        if line == texts.Q_INDICATOR_NONE:
            assert row[10] == texts.SCHED_NEVER_REPORTED
            seen[UNREPORTED] += 1
            codes[number] = UNREPORTED
            continue
        m = LATEST_RE.match(line)
        assert m is not None, line
        assert (row[8], row[10]) == (m["org"], m["verdict"]), number  # chat = export
        # plan show: the reporting unit's progress line carries the same verdict
        show_line = next(ln for ln in shows[number].splitlines() if ln.startswith("  ") and m["org"] in ln)
        assert f"，{m['verdict']}｜" in show_line, (number, show_line)
        code = next(c for c, label in texts.VERDICT_LABELS.items() if m["verdict"].startswith(label))
        seen[code] += 1
        codes[number] = code
    # the digest counts the same verdicts
    assert digest.verdicts == dict(seen)
    assert texts.DIGEST_VERDICT_LINE.format(**{c: seen.get(c, 0) for c in texts.VERDICT_LABELS}) in digest.text()
    assert all(seen[c] > 0 for c in (MET, NOT_MET, UNJUDGED, UNREPORTED)), seen
    # "指标": every indicator on one list, with the same verdict, worst first, and the same counts on top
    pages = [coord.send("指标")]
    while "回复“更多”" in pages[-1] and len(pages) < 10:
        pages.append(coord.send("更多"))
    listed = [m for ln in "\n".join(pages).splitlines() if (m := OVERVIEW_RE.match(ln))]
    assert {int(m["number"]): m["mark"] for m in listed} == {n: texts.VERDICT_MARKS[c] for n, c in codes.items()}
    for m in listed:
        assert "（目标" in m["rest"] and texts.VERDICT_LABELS[codes[int(m["number"])]] in m["rest"], m.group(0)
    order = [lists.VERDICT_ORDER[codes[int(m["number"])]] for m in listed]
    assert order == sorted(order)
    assert f"考核指标{len(codes)}项：达标{seen[MET]}项、未达标{seen[NOT_MET]}项" in pages[0]


# ---- the one-line report on an indicator, approval and the export --------------------------------------------


def test_oneliner_on_an_indicator_stores_its_value_and_the_export_follows_approval(app: App, tmp_path: Any) -> None:
    c = Chat(app, "生态环境局填报人")
    out = c.send("生态环境信息公开率100%")
    assert "指标值：100%" in out and "达标" in out, out
    assert "已提交" in c.send("确认")
    with app.session_factory() as s:
        item = s.execute(select(Item).where(Item.kind == INDICATOR, Item.number == 8)).scalar_one()
        a = s.execute(select(Assignment).where(Assignment.item_id == item.id)).scalar_one()
        r = s.get(Report, a.last_report_id)
        assert r is not None and r.indicator_value == "100%" and r.indicator_number == D(100)
    coord = Chat(app, "协调员")
    coord.send("待审核")
    coord.send("1")
    assert "已通过" in coord.send("通过")
    app.clock.set(app.clock.now() + dt.timedelta(days=1), frozen=True)
    for at in (None, TODAY):
        path = tmp_path / f"export-{at}.xlsx"
        export(app, path, at=at, out=io.StringIO())
        ind = {
            r[0]: r for r in load_workbook(path)[texts.EXPORT_SHEET_INDICATORS].iter_rows(min_row=3, values_only=True)
        }
        assert ind[8][7:9] == ("100%", "市生态环境局") and ind[8][10] == texts.INDICATOR_MET, (at, ind[8])


# ---- lights, 滞后 and 序时进度 -----------------------------------------------------------------------------------


def test_classify_lights_lag_margin_and_grace() -> None:
    start, due = dt.date(2023, 3, 3), dt.date(2023, 12, 31)
    expected = progress.expected_percent(start, due, TODAY)
    assert expected == D("27.1")  # 82 of 303 days
    # never reported: 未汇报, never 滞后; 🟡 past the grace period, ⚪ within it
    _, overdue, lagging, light = progress.classify(None, None, start, due, TODAY)
    assert (overdue, lagging, light) == (False, False, progress.YELLOW)
    _, _, lagging, light = progress.classify(None, None, TODAY - dt.timedelta(days=10), due, TODAY)
    assert (lagging, light) == (False, progress.WHITE)
    _, _, lagging, light = progress.classify(None, None, TODAY - dt.timedelta(days=15), due, TODAY)
    assert (lagging, light) == (False, progress.YELLOW)
    # reported: 滞后 only more than the margin below 序时进度
    assert progress.classify(IN_PROGRESS, D(18), start, due, TODAY)[2:] == (False, progress.GREEN)
    assert progress.classify(IN_PROGRESS, D(17), start, due, TODAY)[2:] == (True, progress.YELLOW)
    progress.configure(lag_points=20)
    assert progress.classify(IN_PROGRESS, D(10), start, due, TODAY)[2:] == (False, progress.GREEN)
    assert progress.classify(IN_PROGRESS, D(7), start, due, TODAY)[2:] == (True, progress.YELLOW)
    # a report without a percentage states no progress: not 滞后 (an indicator's value); 未启动 is 0 %
    assert progress.classify(IN_PROGRESS, None, start, due, TODAY)[2:] == (False, progress.GREEN)
    assert progress.classify("not_started", None, start, due, TODAY)[2:] == (True, progress.YELLOW)
    # 🔴 overdue or blocked; done is 🟢
    overdue_view = progress.classify(IN_PROGRESS, D(95), start, TODAY - dt.timedelta(days=1), TODAY)
    assert (overdue_view[1], overdue_view[3]) == (True, progress.RED)
    assert progress.classify(BLOCKED, D(50), start, due, TODAY)[3] == progress.RED
    assert progress.classify(DONE, None, start, due, TODAY)[1:] == (False, False, progress.GREEN)


def test_the_settings_set_the_margins(settings: Settings, clock: Any) -> None:
    a = build_app(
        settings.model_copy(update={"lag_points": 25, "unreported_grace_days": 30}), clock=clock, warm_nlu=False
    )
    try:
        assert (progress.THRESHOLDS.lag_points, progress.THRESHOLDS.grace_days) == (25, 30)
    finally:
        a.close()
    assert Settings().lag_points == 10 and Settings().unreported_grace_days == 14


def test_on_may_24_unreported_is_not_lagging(app: App, chat: Any) -> None:
    with transaction(app.session_factory) as s:
        tasks = (
            s.execute(
                select(Assignment)
                .join(Item, Assignment.item_id == Item.id)
                .where(Item.kind == TASK)
                .order_by(Assignment.id)
            )
            .scalars()
            .all()
        )
        for k, a in enumerate(tasks[:40]):
            reports.add_report(
                s, a, None, "console", app.clock.utcnow(), {"status": IN_PROGRESS, "percent": D(k % 4) * 10}
            )
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        views = progress.assignment_views(s, plan, TODAY)
    assert views and not [v for v in views if v.lagging and v.status is None]
    late = [v for v in views if v.due == dt.date(2023, 12, 31) and v.status is None]
    assert late and all(not v.lagging and v.light != progress.RED for v in late)
    lagging = [v for v in views if v.lagging]
    assert lagging and all(v.status is not None and v.percent is not None for v in lagging)
    assert all(v.percent + progress.THRESHOLDS.lag_points < v.expected for v in lagging if v.percent is not None)
    c = progress.count(views)
    assert c.lagging == len(lagging) < c.unreported
    out = chat("协调员").send("墨脱县进度")
    assert "未汇报 滞后" not in out and "未汇报" in out


def test_help_and_the_expected_progress_answer(app: App, chat: Any) -> None:
    coord = chat("协调员")
    help_text = coord.send("帮助")
    assert help_text.count("序时进度＝从任务开始日（未写明的按方案印发日）到截止日") == 1
    out = coord.send("序时进度是什么")
    assert "3月3日" in out and "10个百分点" in out and "14天" in out and "不算滞后" in out, out
    assert coord.send("滞后是什么意思") == out
    progress.configure(lag_points=15)
    assert "15个百分点" in coord.send("序时进度怎么算")
    assert "平均完成率" in out


# ---- rankings by completion ---------------------------------------------------------------------------------

GROUP_LINE_RE = re.compile(
    r"^\S+?(?P<name>[^\s]+) 完成(?P<completion>[\d.]+)% 滞后(?P<lagging>\d+) 逾期(?P<overdue>\d+) 未汇报(?P<unreported>\d+)$"
)


def test_rankings_by_completion_then_fewer_overdue(app: App, chat: Any) -> None:
    with transaction(app.session_factory) as s:
        lang = orgs.find_org(s, "朗县").id
        vs = (
            s.execute(select(Assignment).where(Assignment.organisation_id == lang).order_by(Assignment.id))
            .scalars()
            .all()
        )
        for a in vs[:10]:
            reports.add_report(s, a, None, "console", app.clock.utcnow(), {"status": DONE, "percent": D(100)})
        # one lagging item too: the old order (by lagging items) put 朗县 last
        reports.add_report(s, vs[10], None, "console", app.clock.utcnow(), {"status": IN_PROGRESS, "percent": D(1)})
    out = chat("协调员").send("边境县进度")
    parsed = [m for m in (GROUP_LINE_RE.match(ln) for ln in out.splitlines()) if m]
    assert len(parsed) == 4, out
    assert parsed[0]["name"] == "朗县" and int(parsed[0]["lagging"]) >= 1, out
    keys = [(-D(m["completion"]), int(m["overdue"])) for m in parsed]
    assert keys == sorted(keys), out
