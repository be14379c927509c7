"""Review that closes the loop: a returned report comes back to the official (first in the task list, with the
reason), the figures of chat, digest and export stop counting it, only the newest version can be decided and never
over another coordinator's decision, and review goes faster (the next report at once, 下一条, 全部通过, evidence
and what a correction changed shown with each report)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from bot.app import App
from db.engine import transaction
from db.models import APPROVED, DONE, IN_PROGRESS, PENDING, RETURNED, Assignment, Item, Organisation, Outbox, Report
from db.repositories import people, plans, progress, reports
from handlers import texts
from scheduler import digest as digest_mod
from scheduler.export import build_workbook
from scheduler.history import views_at
from tests.conftest import Chat

PROJECT_OFFICIAL = "生态环境局填报人"
REASON = "请上传竣工验收报告，并补充现场照片"


def _aid(s: Any, org: str, label: str) -> int:
    """The assignment of `org` on the item whose short name (or title) is `label`."""
    return s.execute(
        select(Assignment.id)
        .join(Item)
        .join(Organisation, Assignment.organisation_id == Organisation.id)
        .where(Organisation.name == org, (Item.short_name == label) | (Item.title == label))
    ).scalar_one()


def _file(
    app: App,
    org: str,
    label: str,
    person: str | None,
    minutes: int = 0,
    attachments: list[tuple[str, str | None]] | None = None,
    supersedes: int | None = None,
    **fields: Any,
) -> int:
    """File a report version as `person` (a console name), `minutes` after the clock's now; returns its id."""
    with transaction(app.session_factory) as s:
        a = s.get(Assignment, _aid(s, org, label))
        assert a is not None
        who = people.find_by_identity(s, "console", person) if person else None
        when = app.clock.utcnow() + dt.timedelta(minutes=minutes)
        att_ids = [
            reports.add_attachment(s, kind, f"evidence/console/{i}", "console", when, file_name=name).id
            for i, (kind, name) in enumerate(attachments or [])
        ]
        prev = s.get(Report, supersedes) if supersedes else None
        return reports.add_report(s, a, who, "console", when, fields, supersedes=prev, attachment_ids=att_ids).id


def _report(app: App, rid: int) -> Report:
    with app.session_factory() as s:
        r = s.get(Report, rid)
        assert r is not None
        s.expunge(r)
        return r


def _view(app: App, org: str, label: str) -> progress.AssignmentView:
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        aid = _aid(s, org, label)
        return next(v for v in progress.assignment_views(s, plan, app.clock.today()) if v.assignment_id == aid)


def _notices(app: App) -> list[Outbox]:
    with app.session_factory() as s:
        return list(s.execute(select(Outbox).where(Outbox.kind == "review").order_by(Outbox.id)).scalars())


def _open_report(coord: Chat, label: str) -> str:
    """From the review list, open the report on `label`."""
    coord.send("待审核")
    return coord.pick(label)


# ---- a returned report comes back, and is not counted ----------------------------------------------------------


def test_returned_report_is_listed_first_with_its_reason_and_not_counted(app: App) -> None:
    org = "市生态环境局"
    first = _file(app, org, "八及曲", PROJECT_OFFICIAL, status=IN_PROGRESS, percent=60, investment_done=1200)
    with transaction(app.session_factory) as s:  # the first version was approved
        coordinator = people.find_by_identity(s, "console", "协调员")
        assert coordinator is not None
        assert reports.review(s, s.get(Report, first), coordinator, True, app.clock.utcnow()).done  # type: ignore[arg-type]
    done = _file(app, org, "八及曲", PROJECT_OFFICIAL, minutes=5, status=DONE, percent=100, investment_done=2335)
    assert _view(app, org, "八及曲").investment_done == Decimal(2335)  # counted while it waits

    coord = Chat(app, "协调员")
    assert "2335" in _open_report(coord, "八及曲")
    out = coord.send(f"退回 {REASON}")
    assert "已退回" in out and REASON in out
    r = _report(app, done)
    assert r.review_state == RETURNED and r.review_comment == REASON
    (note,) = _notices(app)
    assert note.chat_id == PROJECT_OFFICIAL and REASON in note.text and "八及曲" in note.text
    assert "重新填报" in note.text and "修改上次汇报" not in note.text

    # The figures are those of the version before: 60%, 1200 万元; the view says it was returned, by whom, why.
    v = _view(app, org, "八及曲")
    assert v.returned and v.return_reason == REASON and v.returned_by == "协调员" and v.returned_at is not None
    assert (v.status, v.percent, v.investment_done) == (IN_PROGRESS, Decimal(60), Decimal(1200))
    assert v.counted_report_id == first and v.last_report_id == done and not v.done
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        views = progress.assignment_views(s, plan, app.clock.today())
        line = next(p for p in progress.project_investments(s, views) if p.label == "八及曲")
        assert line.done == Decimal(1200)
        d = digest_mod.build_digest(s, plan, app.clock.now())
        assert [x.assignment_id for x in d.returned] == [v.assignment_id]
        text = d.text()
        assert "已退回待重报" in text and REASON in text
        assert d.invest_done == sum((p.done or Decimal(0) for p in d.projects), Decimal(0))
        assert Decimal(2335) not in [p.done for p in d.projects]
        wb = build_workbook(s, plan, app.clock.now())
    row = next(r for r in wb[texts.EXPORT_SHEET_PROJECTS].iter_rows(min_row=3, values_only=True) if r[0] == 2)
    assert row[5] == 1200 and row[8] == texts.STATUS_LABELS[IN_PROGRESS]

    # The official's task list: the returned item first, marked with the reason.
    official = Chat(app, PROJECT_OFFICIAL)
    lines = official.send("汇报").splitlines()
    assert "八及曲" in lines[1] and "⚠️退回：" in lines[1] and REASON[:10] in lines[1], lines[:3]
    assert "已完成" not in lines[1]
    official.send("取消")

    # Chat queries mark it too, and show the counted figure.
    answer = coord.send("八及曲项目")
    assert "已完成 1200 / 计划 2335 万元" in answer and "60%" + texts.RETURNED_MARK in answer, answer
    assert "已完成1200万元" in coord.send("项目投资完成情况")

    # A new version clears it: it is the newest, waiting.
    again = _file(app, org, "八及曲", PROJECT_OFFICIAL, minutes=10, status=DONE, percent=100, investment_done=2335)
    v = _view(app, org, "八及曲")
    assert not v.returned and v.return_reason is None and v.review_state == PENDING
    assert v.counted_report_id == again and v.investment_done == Decimal(2335)


def test_a_returned_first_report_counts_as_never_reported(app: App) -> None:
    rid = _file(app, "墨脱县", "两山实施方案", "墨脱填报人", status=DONE, percent=100, description="已印发")
    coord = Chat(app, "协调员")
    _open_report(coord, "两山实施方案")
    assert "退回理由" in coord.send("退回")
    assert "已退回" in coord.send("请附印发文件")
    assert _report(app, rid).review_state == RETURNED
    v = _view(app, "墨脱县", "两山实施方案")
    assert v.returned and v.status is None and v.percent is None and v.counted_report_id is None
    assert v.last_report_id == rid  # it was filed: the activity stays
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        motuo = [x for x in progress.assignment_views(s, plan, app.clock.today()) if x.org_name == "墨脱县"]
        assert progress.count(motuo).done == 0 and progress.count(motuo).completion == Decimal(0)


# ---- only the newest version, never over another's decision ----------------------------------------------------


def test_a_superseded_version_cannot_be_approved(app: App) -> None:
    v1 = _file(app, "朗县", "两山实施方案", "朗县填报人", status=IN_PROGRESS, percent=40)
    coord = Chat(app, "协调员")
    _open_report(coord, "两山实施方案")
    v2 = _file(app, "朗县", "两山实施方案", "朗县填报人", minutes=3, supersedes=v1, status=IN_PROGRESS, percent=70)
    out = coord.send("通过")
    assert texts.REVIEW_SUPERSEDED in out
    assert "70%" in out  # the newest version is shown instead
    assert _report(app, v1).review_state == PENDING and _notices(app) == []
    with transaction(app.session_factory) as s:
        coordinator = people.find_by_identity(s, "console", "协调员")
        assert coordinator is not None
        outcome = reports.review(s, s.get(Report, v1), coordinator, True, app.clock.utcnow())  # type: ignore[arg-type]
        assert outcome.refused == reports.SUPERSEDED and not outcome.done
    assert _report(app, v1).review_state == PENDING
    assert "已通过" in coord.send("通过")
    assert _report(app, v2).review_state == APPROVED


def test_second_coordinator_is_told_who_decided_and_nothing_changes(app: App) -> None:
    rid = _file(app, "朗县", "两山实施方案", "朗县填报人", status=DONE, percent=100, description="已印发")
    first, second = Chat(app, "协调员"), Chat(app, "管理员")
    _open_report(first, "两山实施方案")
    _open_report(second, "两山实施方案")
    assert "已通过" in first.send("通过")
    out = second.send("退回 请补充印发文件")
    assert "协调员已于5月24日 09:00 通过该汇报" in out, out
    r = _report(app, rid)
    assert r.review_state == APPROVED and r.review_comment is None
    (note,) = _notices(app)
    assert "通过审核" in note.text
    with app.session_factory() as s:
        assert s.get(Assignment, r.assignment_id).closed  # type: ignore[union-attr]
    # the same coordinator's second 通过 changes nothing either
    assert texts.REVIEW_DECIDED_YOU in _decide_again(app, "协调员", rid, True)


def _decide_again(app: App, user: str, rid: int, approve: bool) -> str:
    with transaction(app.session_factory) as s:
        person = people.find_by_identity(s, "console", user)
        assert person is not None
        outcome = reports.review(s, s.get(Report, rid), person, approve, app.clock.utcnow())  # type: ignore[arg-type]
        assert outcome.refused == reports.DECIDED and outcome.decided_by == "协调员"
        return texts.REVIEW_DECIDED_YOU if outcome.report.reviewed_by_id == person.id else ""


def test_a_coordinator_may_change_their_own_decision(app: App) -> None:
    rid = _file(app, "朗县", "两山实施方案", "朗县填报人", status=DONE, percent=100)
    coord = Chat(app, "协调员")
    _open_report(coord, "两山实施方案")
    coord.send("通过")
    with transaction(app.session_factory) as s:
        person = people.find_by_identity(s, "console", "协调员")
        assert person is not None
        outcome = reports.review(s, s.get(Report, rid), person, False, app.clock.utcnow(), "材料不全")  # type: ignore[arg-type]
        assert outcome.done and not outcome.closed
    r = _report(app, rid)
    assert r.review_state == RETURNED and r.review_comment == "材料不全"
    with app.session_factory() as s:
        assert not s.get(Assignment, r.assignment_id).closed  # type: ignore[union-attr]


# ---- faster review ---------------------------------------------------------------------------------------------


def test_next_report_is_shown_after_a_decision_and_on_next(app: App) -> None:
    _file(app, "墨脱县", "两山实施方案", "墨脱填报人", status=IN_PROGRESS, percent=30)
    _file(app, "朗县", "两山实施方案", "朗县填报人", minutes=1, status=IN_PROGRESS, percent=50)
    coord = Chat(app, "协调员")
    out = coord.send("下一条")
    assert "【两山实施方案】墨脱县" in out
    out = coord.send("下一条")
    assert "【两山实施方案】朗县" in out and "共2条待审核" in out
    out = coord.send("通过")
    assert "已通过：朗县" in out and "【两山实施方案】墨脱县" in out  # the next one at once
    out = coord.send("下一条")
    assert out == texts.REVIEW_NO_OTHER
    out = coord.send("退回 请补充材料")
    assert "已退回：墨脱县" in out and texts.REVIEW_ALL_DONE in out
    assert coord.send("待审核") == texts.REVIEW_NONE
    assert len(_notices(app)) == 2


def test_decisions_typed_at_the_list(app: App) -> None:
    """At the list, "2 退回 理由" and "1 通过" decide a numbered report; 通过 / 退回 alone with several listed ask
    which, deciding nothing (they were taken for a question about returned reports)."""
    a = _file(app, "墨脱县", "两山实施方案", "墨脱填报人", status=IN_PROGRESS, percent=30)
    b = _file(app, "朗县", "两山实施方案", "朗县填报人", minutes=1, status=IN_PROGRESS, percent=50)
    c = _file(app, "米林县", "两山实施方案", "米林填报人", minutes=2, status=IN_PROGRESS, percent=10)
    coord = Chat(app, "协调员")
    listed = coord.send("待审核")
    assert "1 通过" in listed and "1. 墨脱县" in listed and "2. 朗县" in listed
    for typed in ("退回 请补充材料", "通过"):
        assert coord.send(typed) == texts.REVIEW_PICK_FIRST.format(n=3), typed
    assert {_report(app, r).review_state for r in (a, b, c)} == {PENDING} and _notices(app) == []
    assert coord.send("9 通过") == texts.REVIEW_PICK_ERROR.format(n=3)
    out = coord.send("2 退回：请补充现场照片，附验收单")
    assert "已退回：朗县「两山实施方案」，理由：请补充现场照片，附验收单" in out
    assert _report(app, b).review_state == RETURNED
    assert _report(app, b).review_comment == "请补充现场照片，附验收单"  # the reason as typed
    listed = coord.send("待审核")
    assert "1. 墨脱县" in listed and "2. 米林县" in listed
    out = coord.send("通过第2条")
    assert "已通过：米林县" in out
    assert "填报人：墨脱填报人（控制台" in out  # the next one, its channel in words
    listed = coord.send("待审核")
    out = coord.send("退回")  # one listed: that one, and its reason is asked
    assert out == texts.REVIEW_ASK_REASON
    assert "已退回：墨脱县" in coord.send("进度材料不全")
    assert [_report(app, r).review_state for r in (a, b, c)] == [RETURNED, RETURNED, APPROVED]
    assert sorted(n.chat_id for n in _notices(app)) == ["墨脱填报人", "朗县填报人", "米林填报人"]


def test_a_numbered_decision_with_one_report_on_screen_decides_nothing(app: App) -> None:
    """After "1 通过" the next report is on screen and the list's numbers have moved: "退回 2 佐证不足" there
    was taken as returning the one on screen with the reason "2 佐证不足"; it is explained, and nothing changes."""
    a = _file(app, "墨脱县", "两山实施方案", "墨脱填报人", status=IN_PROGRESS, percent=30)
    b = _file(app, "朗县", "两山实施方案", "朗县填报人", minutes=1, status=IN_PROGRESS, percent=50)
    c = _file(app, "米林县", "两山实施方案", "米林填报人", minutes=2, status=IN_PROGRESS, percent=10)
    coord = Chat(app, "协调员")
    coord.send("待审核")
    assert "【两山实施方案】朗县" in coord.send("1 通过")
    for typed in ("退回 2 佐证不足", "3 通过", "通过第2条"):
        out = coord.send(typed)
        assert out.startswith(texts.REVIEW_NUMBER_IN_DETAIL.format(label="两山实施方案", org="朗县")), (typed, out)
    assert [_report(app, r).review_state for r in (a, b, c)] == [APPROVED, PENDING, PENDING]
    out = coord.send("退回 佐证不足")
    assert "已退回：朗县「两山实施方案」，理由：佐证不足" in out
    assert _report(app, b).review_comment == "佐证不足"


def test_approve_all_asks_then_approves_only_what_it_listed(app: App) -> None:
    a = _file(app, "墨脱县", "两山实施方案", "墨脱填报人", status=IN_PROGRESS, percent=30)
    b = _file(app, "墨脱县", "详细工作计划", "墨脱填报人", minutes=1, status=IN_PROGRESS, percent=20)
    c = _file(app, "朗县", "两山实施方案", "朗县填报人", minutes=2, status=DONE, percent=100)
    coord = Chat(app, "协调员")
    out = coord.send("全部通过")
    assert "将通过 3 条汇报" in out and "确认吗" in out and "墨脱县" in out and "朗县" in out
    assert coord.choices == [texts.CHOICE_CONFIRM, texts.CHOICE_CANCEL]
    # meanwhile: a correction of one listed report, and a report that was not listed
    b2 = _file(app, "墨脱县", "详细工作计划", "墨脱填报人", minutes=3, supersedes=b, status=IN_PROGRESS, percent=25)
    late = _file(app, "米林县", "两山实施方案", "米林填报人", minutes=4, status=IN_PROGRESS, percent=10)
    out = coord.pick(texts.CHOICE_CONFIRM)
    assert "已通过 2 条" in out and "1 条在此期间有变化" in out and "详细工作计划" in out
    states = {rid: _report(app, rid).review_state for rid in (a, b, c, b2, late)}
    assert states == {a: APPROVED, b: PENDING, c: APPROVED, b2: PENDING, late: PENDING}
    notes = _notices(app)
    assert sorted(n.chat_id for n in notes) == ["墨脱填报人", "朗县填报人"]  # each official told once
    with app.session_factory() as s:
        assert s.get(Assignment, _report(app, c).assignment_id).closed  # type: ignore[union-attr]


def test_approve_all_can_be_cancelled(app: App) -> None:
    rid = _file(app, "墨脱县", "两山实施方案", "墨脱填报人", status=IN_PROGRESS, percent=30)
    coord = Chat(app, "协调员")
    assert "将通过 1 条汇报" in coord.send("批量通过")
    assert texts.CANCELLED in coord.pick(texts.CHOICE_CANCEL)
    assert _report(app, rid).review_state == PENDING and _notices(app) == []
    assert texts.NOT_ALLOWED == Chat(app, "墨脱填报人").send("全部通过")


def test_evidence_and_corrections_are_shown(app: App) -> None:
    first = _file(app, "墨脱县", "两山实施方案", "墨脱填报人", status=IN_PROGRESS, percent=60, problems="资金不足")
    _file(
        app,
        "墨脱县",
        "两山实施方案",
        "墨脱填报人",
        minutes=2,
        supersedes=first,
        attachments=[("photo", None), ("file", "验收报告.pdf")],
        status=IN_PROGRESS,
        percent=80,
        problems="资金不足",
    )
    coord = Chat(app, "协调员")
    out = coord.send("待审核")
    line = next(ln for ln in out.splitlines() if "两山实施方案" in ln)
    assert "墨脱填报人" in line and "佐证2份" in line and "更正：进度" in line
    out = coord.pick("两山实施方案")
    assert "佐证材料（2份）：照片（照片）、验收报告.pdf（文件）" in out
    assert "进度 60%→80%" in out and "困难问题" not in out.split("较上一版")[1]


def test_the_history_replay_applies_the_return_as_of_its_moment(app: App) -> None:
    """A past week's view counts a report until the moment it was returned, and not after."""

    def utc(d: int, h: int = 10) -> dt.datetime:
        return app.clock.localize(dt.datetime(2023, 5, d, h)).astimezone(dt.UTC).replace(tzinfo=None)

    with transaction(app.session_factory) as s:
        a = s.get(Assignment, _aid(s, "墨脱县", "两山实施方案"))
        assert a is not None
        who = people.find_by_identity(s, "console", "墨脱填报人")
        coordinator = people.find_by_identity(s, "console", "协调员")
        assert coordinator is not None
        first = reports.add_report(s, a, who, "console", utc(10), {"status": IN_PROGRESS, "percent": 20})
        second = reports.add_report(s, a, who, "console", utc(15), {"status": DONE, "percent": 100}, supersedes=first)
        assert reports.review(s, second, coordinator, False, utc(16), "缺印发文件").done
        reports.add_report(s, a, who, "console", utc(22), {"status": DONE, "percent": 100}, supersedes=second)
        aid, first_id = a.id, first.id
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None

        def at(d: int, h: int) -> progress.AssignmentView:
            moment = app.clock.localize(dt.datetime(2023, 5, d, h))
            return next(v for v in views_at(s, plan, moment) if v.assignment_id == aid)

        before_return = at(15, 12)
        assert not before_return.returned and before_return.status == DONE
        after_return = at(20, 12)
        assert after_return.returned and after_return.return_reason == "缺印发文件"
        assert (after_return.status, after_return.percent, after_return.counted_report_id) == (
            IN_PROGRESS,
            Decimal(20),
            first_id,
        )
        now = at(24, 9)  # the version filed after the return clears it
        assert not now.returned and now.status == DONE
