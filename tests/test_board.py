"""The board (督办看板) over HTTP, in-process: sign-in by the chat's one-time link, sessions, CSRF, access by unit
and role on every page, evidence and workbook downloads, review decisions recorded as in the chat, and the same
figures as the chat. The whole loop in a real browser against `duban serve` is tests/test_board_browser.py."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.app import App
from bot.board import app as board_app
from db.models import BoardSession, BoardToken, Outbox, Person, Report
from db.repositories import orgs, progress, reports
from handlers import texts

LINK_RE = re.compile(r"(http://\S+/board/login\?t=([\w-]+))")
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00"
    b"\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
async def board(app: App) -> AsyncIterator[TestClient[Any, Any]]:
    web_app = web.Application()
    board_app.install(web_app, app)
    async with TestClient(TestServer(web_app)) as client:
        yield client


def token_of(reply: str) -> str:
    m = LINK_RE.search(reply)
    assert m, reply
    return m.group(2)


async def sign_in(client: TestClient[Any, Any], chat: Any, user: str) -> str:
    """Ask for a link in the chat as `user` and open it as a browser does (GET, then the page's POST); the
    session's CSRF token."""
    token = token_of(chat(user).send("看板"))
    res = await client.get("/board/login", params={"t": token})
    assert res.status == 200
    assert token in await res.text()
    res = await client.post("/board/login", data={"t": token}, allow_redirects=False)
    assert res.status == 303, await res.text()
    page = await client.get(res.headers["Location"])
    assert page.status == 200
    m = re.search(r'name="csrf" value="([^"]+)"', await page.text())
    assert m
    return m.group(1)


def org_id(app: App, name: str) -> int:
    with app.session_factory() as s:
        org = orgs.find_org(s, name)
        assert org is not None
        return org.id


def file_report(app: App, org: str, status: str, percent: int | None, photo: Path | None = None, **fields: Any) -> int:
    """A report of `org`'s first task by its demo official, with a photo when given; its id."""
    with app.session_factory() as s, s.begin():
        oid = orgs.find_org(s, org).id  # type: ignore[union-attr]
        views = [
            v for v in progress.assignment_views(s, _plan(s), app.clock.today(), org_ids=[oid]) if v.item_kind == "task"
        ]
        a = s.get(progress.Assignment, views[0].assignment_id)
        person = s.scalars(select(Person).where(Person.organisation_id == oid)).first()
        ids = []
        if photo is not None:
            ids.append(
                reports.add_attachment(
                    s, "photo", str(photo), "console", app.clock.utcnow(), photo.name, "image/png", 70
                ).id
            )
        r = reports.add_report(
            s,
            a,
            person,
            "console",
            app.clock.utcnow(),
            {"status": status, "percent": percent, **fields},
            attachment_ids=ids,
        )
        return r.id


def _plan(s: Any) -> Any:
    from db.models import Plan

    return s.scalars(select(Plan)).first()


def evidence_file(app: App, name: str = "site.png") -> Path:
    d = Path(app.settings.data_dir) / "evidence" / "console"
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_bytes(PNG)
    return p


# ---- sign-in ---------------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_chat_link_signs_in_once_and_sets_a_safe_cookie(app: App, chat: Any, board: Any) -> None:
    reply = chat("协调员").send("看板")
    assert "10分钟" in reply and "只能打开一次" in reply
    url, token = LINK_RE.search(reply).groups()  # type: ignore[union-attr]
    assert url.startswith(app.settings.board_base_url + "/board/login?t=")
    # a GET (a link preview) uses nothing up: twice, still valid
    for _ in range(2):
        assert (await board.get("/board/login", params={"t": token})).status == 200
    res = await board.post("/board/login", data={"t": token}, allow_redirects=False)
    assert res.status == 303 and res.headers["Location"] == "/board/"
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/board" in cookie and "Secure" not in cookie
    # the same link again, by anyone: refused, and no second session
    board.session.cookie_jar.clear()
    again = await board.post("/board/login", data={"t": token}, allow_redirects=False)
    assert again.status == 403 and texts.BOARD_LINK_USED in await again.text()
    assert (await board.get("/board/login", params={"t": token})).status == 403
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BoardSession)) == 1
        # only digests are stored
        assert s.scalar(select(func.count()).select_from(BoardToken).where(BoardToken.token_hash == token)) == 0


async def test_expired_unknown_and_forged_links_are_refused(app: App, chat: Any, board: Any) -> None:
    token = token_of(chat("协调员").send("看板"))
    app.clock.set(app.clock.now() + dt.timedelta(minutes=10, seconds=1), frozen=True)
    res = await board.post("/board/login", data={"t": token}, allow_redirects=False)
    assert res.status == 403 and texts.BOARD_LINK_EXPIRED in await res.text()
    for bad in ("", "x" * 40, token[:-1]):
        res = await board.post("/board/login", data={"t": bad}, allow_redirects=False)
        assert res.status == 403 and texts.BOARD_LINK_UNKNOWN in await res.text()
    assert (await board.get("/board/", allow_redirects=False)).status == 401
    assert texts.BOARD_SIGN_IN in await (await board.get("/board/")).text()
    # a made-up cookie opens nothing
    board.session.cookie_jar.update_cookies({"duban_board": "made-up"})
    assert (await board.get("/board/")).status == 401


async def test_session_expires_and_sign_out_ends_it(app: App, chat: Any, board: Any) -> None:
    csrf = await sign_in(board, chat, "协调员")
    assert (await board.get("/board/projects")).status == 200
    app.clock.set(app.clock.now() + dt.timedelta(hours=app.settings.board_session_hours, minutes=1), frozen=True)
    assert (await board.get("/board/projects")).status == 401
    app.clock.set(app.clock.now() - dt.timedelta(hours=app.settings.board_session_hours), frozen=True)
    csrf = await sign_in(board, chat, "协调员")
    jar = {c.key: c.value for c in board.session.cookie_jar}
    res = await board.post("/board/logout", data={"csrf": csrf})
    assert texts.BOARD_SIGNED_OUT in await res.text()
    board.session.cookie_jar.update_cookies(jar)  # the old cookie kept by someone: dead
    assert (await board.get("/board/projects")).status == 401


async def test_link_is_not_given_in_a_group(app: App) -> None:
    from core.messages import IncomingMessage

    msg = IncomingMessage(channel="console", chat_id="g1", user_id="协调员", text="看板", is_group=True, addressed=True)
    replies = app.engine.handle(msg)
    assert [r.text for r in replies] == [texts.BOARD_PRIVATE_ONLY]
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BoardToken)) == 0


async def test_link_mid_checkin_keeps_the_checkin(chat: Any) -> None:
    c = chat("墨脱填报人")
    c.send("汇报")
    first = c.send("1")
    reply = c.send("看板")
    assert LINK_RE.search(reply), reply
    assert "回到刚才的问题" in reply and first.splitlines()[-1] in reply


# ---- access --------------------------------------------------------------------------------------------------------


async def test_official_sees_only_his_unit(app: App, chat: Any, board: Any) -> None:
    photo = evidence_file(app, "milin.png")
    milin_report = file_report(app, "米林县", "in_progress", 40, photo=photo)
    with app.session_factory() as s:
        milin_att = s.get(Report, milin_report).attachments[0].id  # type: ignore[union-attr]
        milin_assignment = s.get(Report, milin_report).assignment_id  # type: ignore[union-attr]
    await sign_in(board, chat, "墨脱填报人")
    motuo, milin = org_id(app, "墨脱县"), org_id(app, "米林县")
    home = await board.get("/board/", allow_redirects=False)
    assert home.status == 303 and home.headers["Location"] == f"/board/org/{motuo}"
    page = await (await board.get(f"/board/org/{motuo}")).text()
    assert "墨脱县" in page and page.count('data-item="') == 35
    for path in (f"/board/org/{milin}", f"/board/item/{milin_assignment}", f"/board/evidence/{milin_att}",
                 f"/board/evidence/{milin_att}?thumb=1", f"/board/export.xlsx?org={milin}", "/board/review"):  # fmt: skip
        res = await board.get(path)
        assert res.status == 403, path
        assert "米林" not in await res.text() or path.startswith("/board/review"), path
    # the tables hold his unit's rows only
    projects = await (await board.get("/board/projects")).text()
    assert "林芝市农村污水处理项目" in projects  # the shared project, with his own figures only
    assert texts.EXPORT_UNIT_ROW.format(org="米林县") not in projects
    # his own workbook only
    res = await board.get("/board/export.xlsx")
    assert res.status == 200
    wb = load_workbook(io.BytesIO(await res.read()))
    orgs_in = {row[4] for row in wb[texts.EXPORT_SHEET_TASKS].iter_rows(min_row=3, values_only=True) if row[4]}
    assert orgs_in == {"墨脱县"}


async def test_evidence_is_served_by_id_with_its_type_and_never_outside_evidence(
    app: App, chat: Any, board: Any
) -> None:
    photo = evidence_file(app)
    rid = file_report(app, "墨脱县", "in_progress", 30, photo=photo)
    outside = Path(app.settings.data_dir) / "duban-secret.txt"
    outside.write_text("secret")
    with app.session_factory() as s, s.begin():
        att = s.get(Report, rid).attachments[0]  # type: ignore[union-attr]
        doc = reports.add_attachment(s, "file", str(outside), "console", app.clock.utcnow(), "x.txt", "text/plain", 6)
        doc.report_id = rid
        photo_id, doc_id, assignment_id = att.id, doc.id, s.get(Report, rid).assignment_id  # type: ignore[union-attr]
    await sign_in(board, chat, "协调员")
    full = await board.get(f"/board/evidence/{photo_id}")
    assert full.status == 200 and full.headers["Content-Type"] == "image/png" and await full.read() == PNG
    thumb = await board.get(f"/board/evidence/{photo_id}", params={"thumb": "1"})
    assert thumb.status == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    assert (await thumb.read())[:2] == b"\xff\xd8"
    assert (await board.get(f"/board/evidence/{doc_id}")).status == 404  # stored outside evidence/: not served
    assert (await board.get("/board/evidence/999999")).status == 404
    assert (await board.get("/board/evidence/..%2F..%2Fduban.db")).status == 404
    item = await (await board.get(f"/board/item/{assignment_id}")).text()
    assert f"/board/evidence/{photo_id}?thumb=1" in item


# ---- review --------------------------------------------------------------------------------------------------------


@pytest.mark.both_backends
async def test_review_on_the_board_is_recorded_as_in_the_chat(app: App, chat: Any, board: Any) -> None:
    keep = file_report(app, "墨脱县", "in_progress", 50)
    back = file_report(app, "米林县", "in_progress", 80)
    csrf = await sign_in(board, chat, "协调员")
    queue = await (await board.get("/board/review")).text()
    assert f'data-report="{keep}"' in queue and f'data-report="{back}"' in queue
    before = chat("协调员").send("米林县进度")
    # no CSRF token, a wrong one, or another site's form: refused, nothing changes
    for data, headers in (({"action": "approve"}, {}), ({"action": "approve", "csrf": "x"}, {}),
                          ({"action": "approve", "csrf": csrf}, {"Origin": "https://evil.example"})):  # fmt: skip
        res = await board.post(f"/board/review/{keep}", data=data, headers=headers)
        assert res.status == 403 and texts.BOARD_FORGED in await res.text()
    # 退回 needs a reason
    res = await board.post(f"/board/review/{back}", data={"action": "return", "csrf": csrf, "reason": " "})
    assert texts.BOARD_REASON_NEEDED in await res.text()
    with app.session_factory() as s:
        assert {s.get(Report, i).review_state for i in (keep, back)} == {"pending"}  # type: ignore[union-attr]
    res = await board.post(f"/board/review/{keep}", data={"action": "approve", "csrf": csrf})
    assert "已通过" in await res.text() or "通过" in await res.text()
    res = await board.post(f"/board/review/{back}", data={"action": "return", "csrf": csrf, "reason": "请补充现场照片"})
    text = await res.text()
    assert "请补充现场照片" in text and f'data-report="{back}"' not in text
    with app.session_factory() as s:
        kept, returned = s.get(Report, keep), s.get(Report, back)
        assert kept.review_state == "approved" and returned.review_state == "returned"  # type: ignore[union-attr]
        assert returned.review_comment == "请补充现场照片"  # type: ignore[union-attr]
        notices = s.scalars(select(Outbox).where(Outbox.kind == "review")).all()
        assert len(notices) == 2 and any("请补充现场照片" in n.text for n in notices)
    # the chat's figures changed with it: the returned 80 % no longer counts
    after = chat("协调员").send("米林县进度")
    assert after != before and "退回" in after
    # another coordinator cannot override it: refused as in the chat, saying who decided
    board.session.cookie_jar.clear()
    csrf = await sign_in(board, chat, "管理员")
    res = await board.post(f"/board/review/{keep}", data={"action": "return", "csrf": csrf, "reason": "改主意"})
    assert "协调员" in await res.text()
    with app.session_factory() as s:
        assert s.get(Report, keep).review_state == "approved"  # type: ignore[union-attr]


async def test_officials_cannot_review(app: App, chat: Any, board: Any) -> None:
    rid = file_report(app, "墨脱县", "in_progress", 50)
    csrf = await sign_in(board, chat, "墨脱填报人")
    res = await board.post(f"/board/review/{rid}", data={"action": "approve", "csrf": csrf})
    assert res.status == 403
    with app.session_factory() as s:
        assert s.get(Report, rid).review_state == "pending"  # type: ignore[union-attr]


# ---- figures -------------------------------------------------------------------------------------------------------


def _row(page: str, org: str) -> str:
    m = re.search(rf'<tr data-org="{org}">(.*?)</tr>', page, re.S)
    assert m, org
    return m.group(1)


async def test_overview_shows_the_chats_figures_grouped_and_filtered(app: App, chat: Any, board: Any) -> None:
    file_report(app, "墨脱县", "in_progress", 60)
    file_report(app, "米林县", "blocked", 10, problems="资金未到位")
    await sign_in(board, chat, "协调员")
    page = await (await board.get("/board/")).text()
    groups = re.findall(r'data-group="([^"]+)"', page)
    assert groups[:2] == [texts.BOARD_GROUP_COUNTIES, texts.BOARD_GROUP_DEPARTMENTS]
    counties = re.findall(r'<tr data-org="([^"]+)"', page.split(f'data-group="{texts.BOARD_GROUP_DEPARTMENTS}"')[0])
    assert sorted(counties) == sorted(["墨脱县", "察隅县", "工布江达县", "巴宜区", "朗县", "波密县", "米林县"])
    # the chat's ranking line of 墨脱县 and the board's row give the same completion
    ranking = chat("协调员").send("各县进度")
    chat_pct = re.search(r"墨脱 完成(\d+(?:\.\d)?)%", ranking)
    assert chat_pct, ranking
    assert f"{chat_pct.group(1)}%" in _row(page, "墨脱县")
    # 受阻 filter: 米林县 only, with its item listed
    blocked = await (await board.get("/board/", params={"f": "blocked"})).text()
    assert re.findall(r'<tr data-org="([^"]+)"', blocked) == ["米林县"]
    assert "/board/item/" in blocked.split('<ul class="items">')[1]
    # sorting by name ascending, then descending
    asc = re.findall(
        r'<tr data-org="([^"]+)"', await (await board.get("/board/", params={"sort": "name", "dir": "asc"})).text()
    )
    desc = re.findall(
        r'<tr data-org="([^"]+)"', await (await board.get("/board/", params={"sort": "name", "dir": "desc"})).text()
    )
    assert asc[:7] == sorted(asc[:7]) and desc[:7] == sorted(desc[:7], reverse=True)


async def test_tables_are_the_workbooks(app: App, chat: Any, board: Any) -> None:
    file_report(app, "墨脱县", "in_progress", 60)
    await sign_in(board, chat, "协调员")
    res = await board.get("/board/export.xlsx")
    assert res.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(await res.read()))
    ws = wb[texts.EXPORT_SHEET_PROJECTS]
    total = next(r for r in ws.iter_rows(values_only=True) if r[0] == texts.EXPORT_TOTAL)
    page = await (await board.get("/board/projects")).text()
    foot = re.search(r'<tfoot><tr class="total">(.*?)</tr></tfoot>', page, re.S).group(1)  # type: ignore[union-attr]
    cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", foot)]
    assert cells[1] == total[1]
    assert Decimal(cells[4].replace(",", "")) == Decimal(str(total[4])) == Decimal(15376)


async def test_review_page_shows_no_text_planted_by_a_link(app: App, chat: Any, board: Any) -> None:
    await sign_in(board, chat, "协调员")
    page = await (await board.get("/board/review", params={"said": "墨脱县已全部完成，请全部通过"})).text()
    assert "请全部通过" not in page


async def test_housekeeping_drops_old_links_and_sessions(app: App, chat: Any, board: Any) -> None:
    from scheduler import housekeeping

    await sign_in(board, chat, "协调员")
    token_of(chat("协调员").send("看板"))  # never used
    later = app.clock.utcnow() + dt.timedelta(days=3)
    counts = housekeeping.prune(app, later, later, app.settings.retention_days)
    assert counts["board"] >= 1
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BoardToken)) == 0
        assert s.scalar(select(func.count()).select_from(BoardSession)) == 0


@pytest.mark.both_backends
def test_a_link_opened_twice_at_once_opens_one_session(app: App, chat: Any) -> None:
    """Two processes redeeming one link at the same moment: the conditional UPDATE lets one of them win."""
    import threading

    from db.repositories import board as board_repo

    token = token_of(chat("协调员").send("看板"))
    barrier = threading.Barrier(2)
    results: list[str | None] = []

    def redeem() -> None:
        with app.session_factory() as s:
            barrier.wait()
            with s.begin():
                checked = board_repo.redeem_token(s, token, app.clock.utcnow())
                if checked.person is not None:
                    board_repo.open_session(s, checked.person, app.clock.utcnow())
                results.append(checked.refused)

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results, key=str) == sorted([None, board_repo.USED], key=str)
    with app.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(BoardSession)) == 1


async def test_pages_are_timed_for_metrics(app: App, chat: Any, board: Any) -> None:
    from core import metrics

    await sign_in(board, chat, "协调员")
    await board.get("/board/projects")
    samples = {
        (x.labels["route"], x.labels["status"])
        for m in metrics.REGISTRY.collect()
        if m.name == "duban_board_seconds"
        for x in m.samples
        if x.name.endswith("_count")
    }
    assert ("/board/projects", "200") in samples and ("/board/login", "303") in samples


async def test_unit_page_filters_its_items(app: App, chat: Any, board: Any) -> None:
    file_report(app, "墨脱县", "blocked", 10, problems="道路中断")
    await sign_in(board, chat, "协调员")
    motuo = org_id(app, "墨脱县")
    with app.session_factory() as s:
        views = progress.assignment_views(s, _plan(s), app.clock.today(), org_ids=[motuo])
    overdue = sum(v.overdue for v in views)
    assert overdue > 0
    page = await (await board.get(f"/board/org/{motuo}", params={"f": "overdue"})).text()
    assert page.count('data-item="') == overdue
    blocked = await (await board.get(f"/board/org/{motuo}", params={"f": "blocked"})).text()
    assert blocked.count('data-item="') == 1 and "道路中断" not in blocked.split("<table")[0]
    # the overview's unit links keep the filter
    overview = await (await board.get("/board/", params={"f": "overdue"})).text()
    assert f'href="/board/org/{motuo}?f=overdue"' in overview


async def test_a_version_shows_every_answer_of_the_report(app: App, chat: Any, board: Any) -> None:
    rid = file_report(
        app,
        "墨脱县",
        "in_progress",
        60,
        description="完成选址",
        problems="道路中断",
        next_step="开工建设",
        expected_date=dt.date(2023, 8, 31),
    )
    with app.session_factory() as s:
        aid = s.get(Report, rid).assignment_id  # type: ignore[union-attr]
    await sign_in(board, chat, "协调员")
    page = await (await board.get(f"/board/item/{aid}")).text()
    for said in ("完成选址", texts.BOARD_PROBLEMS + "道路中断", texts.BOARD_NEXT_STEP + "开工建设"):
        assert said in re.sub(r"<[^>]+>", "", page), said
    assert texts.BOARD_EXPECTED_DATE + "2023年8月31日" in re.sub(r"<[^>]+>", "", page)


async def test_errors_are_answered_in_chinese(app: App, chat: Any, board: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.board import pages

    await sign_in(board, chat, "协调员")
    res = await board.put("/board/projects")
    assert res.status == 405 and texts.BOARD_BAD_REQUEST in await res.text()
    assert texts.BOARD_NOT_FOUND in await (await board.get("/board/nowhere")).text()

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(pages, "projects", broken)
    res = await board.get("/board/projects")
    assert res.status == 500 and texts.BOARD_ERROR in await res.text() and "boom" not in await res.text()
