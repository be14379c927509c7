"""The board as its users meet it: a real headless Chromium (Debian's `chromium` and `chromedriver`, driven by
Selenium) against the real `duban serve` (a subprocess on 127.0.0.1), with links asked for in the real
`duban console`, rehearsing 2023 with `--now`.

A coordinator signs in with the console's link, sees the 总览 (7 counties, every 市直部门 with items, the chat's
figures), filters 逾期, opens 墨脱县 and an item's 一事一档 with its photo, approves one report and returns another
in the 审核 queue; the chat (the console) then shows the changed figures and the official is told. A link used
once is refused in a second browser; an official's link opens his own unit only and refuses another unit's page
and evidence. Every page is saved as a screenshot at phone (390×844) and desktop (1366×768) sizes under
build/test-artifacts/board (or $DUBAN_TEST_ARTIFACTS/board), and no page overflows the phone's width.

Chromium must be installed (`.ci/run` and tests/run.sh install Debian's chromium and chromium-driver): without it
this test fails, it is not skipped.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from config.settings import Settings
from db.models import Assignment, Organisation, Outbox, Report
from db.repositories import orgs, progress
from handlers import texts
from tests.serving import REPO, Serve, serve_env
from tests.test_board import LINK_RE, evidence_file, file_report

NOW = "2023-07-10T10:00"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
PHONE, DESKTOP = (390, 844), (1366, 768)
ARTIFACTS = Path(os.environ.get("DUBAN_TEST_ARTIFACTS", REPO / "build" / "test-artifacts")) / "board"

pytestmark = pytest.mark.slow


def console(env: dict[str, str], user: str, *lines: str) -> str:
    """What `duban console --user USER` prints for `lines` typed (piped), as of NOW."""
    res = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--now", NOW, "console", "--user", user],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout


def link(env: dict[str, str], user: str) -> str:
    out = console(env, user, "看板")
    m = LINK_RE.search(out)
    assert m, out
    return m.group(1)


class Browser:
    """One headless Chromium with its own profile (its own cookies)."""

    def __init__(self, work: Path) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service

        if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
            pytest.fail("Chromium is not installed: apt-get install chromium chromium-driver (.ci/run does)")
        self.profile = Path(tempfile.mkdtemp(dir=work, prefix="chromium-"))
        options = Options()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={self.profile}",
        ):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        self.size(*DESKTOP)

    def size(self, width: int, height: int) -> None:
        """Make the viewport (not the window) `width`×`height`."""
        self.driver.set_window_size(width, height)
        inner = self.driver.execute_script("return [window.innerWidth, window.innerHeight]")
        self.driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])

    def get(self, url: str) -> str:
        self.driver.get(url)
        return self.text()

    def sign_in(self, url: str) -> None:
        """Open a sign-in link and wait until its page has posted the token and landed on the board."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver.get(url)
        WebDriverWait(self.driver, 30, ignored_exceptions=(WebDriverException,)).until(
            lambda d: (
                "/board/login" not in d.current_url and d.execute_script("return document.readyState === 'complete'")
            )
        )

    def text(self) -> str:
        return str(self.driver.find_element("tag name", "body").text)

    def click(self, css: str, by: str = "css selector") -> None:
        """Click what leads to another page, and wait until that page has replaced this one (a click returns
        before the browser navigates)."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # A mark on this page's window: a new document gets a new window object without it. (Waiting for the
        # old <html> element to go stale is not enough: chromedriver may answer that check with an "unknown
        # error" instead of a stale element while the page is being replaced.)
        self.driver.execute_script("window.dubanOldPage = true")
        self.driver.find_element(by, css).click()
        WebDriverWait(self.driver, 30, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script("return !window.dubanOldPage && document.readyState === 'complete'")
        )

    def shoot(self, name: str) -> None:
        """Screenshots of the page at both sizes; at the phone's, nothing may be wider than the screen."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        url = self.driver.current_url
        for label, (w, h) in (("phone", PHONE), ("desktop", DESKTOP)):
            self.size(w, h)
            self.driver.get(url)
            self.driver.save_screenshot(str(ARTIFACTS / f"{name}-{label}.png"))
            if label == "phone":
                wide = self.driver.execute_script(
                    "return [document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]"
                )
                assert max(wide[:2]) <= wide[2], f"{name}: the page is wider than the phone: {wide}"
        self.size(*DESKTOP)
        self.driver.get(url)

    def close(self) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def browsers(tmp_path: Path) -> Iterator[Any]:
    opened: list[Browser] = []

    def make() -> Browser:
        b = Browser(tmp_path)
        opened.append(b)
        return b

    yield make
    for b in opened:
        b.close()


def _rows(driver: Any, group: str) -> list[str]:
    table = driver.find_element("css selector", f'table[data-group="{group}"]')
    return [tr.get_attribute("data-org") for tr in table.find_elements("css selector", "tbody tr")]


def seed(app: App) -> dict[str, int]:
    """Some reports of a week in July: 墨脱县 with a photo (waiting for review) and a second task filed; 米林县
    blocked; 巴宜区 done (waiting)."""
    photo = evidence_file(app, "motuo-site.png")
    ids = {
        "motuo_photo": file_report(app, "墨脱县", "in_progress", 60, photo=photo, description="完成选址和设计"),
        "milin": file_report(app, "米林县", "blocked", 20, problems="资金未到位"),
        "bayi": file_report(app, "巴宜区", "in_progress", 45),
    }
    return ids


async def test_board_in_a_real_browser(db_url: str, tmp_path: Path, browsers: Any) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data, database_url=db_url, now=dt.datetime.fromisoformat(NOW), scheduler_enabled=False)
    app = build_app(settings, warm_nlu=False)
    try:
        ids = seed(app)
        with app.session_factory() as s:
            motuo = orgs.find_org(s, "墨脱县")
            milin = orgs.find_org(s, "米林县")
            assert motuo is not None and milin is not None
            motuo_id, milin_id = motuo.id, milin.id
            photo_report = s.get(Report, ids["motuo_photo"])
            assert photo_report is not None
            photo_assignment, photo_id = photo_report.assignment_id, photo_report.attachments[0].id
            milin_att_report = s.get(Report, ids["milin"])
            assert milin_att_report is not None
            departments = {
                o.name
                for o in s.scalars(
                    select(Organisation)
                    .join(Assignment, Assignment.organisation_id == Organisation.id)
                    .where(Organisation.kind == "department", Assignment.active.is_(True))
                )
            }
        milin_photo = evidence_file(app, "milin-site.png")
        with app.session_factory() as s, s.begin():
            from db.repositories import reports

            att = reports.add_attachment(
                s, "photo", str(milin_photo), "console", app.clock.utcnow(), "m.png", "image/png"
            )
            att.report_id = ids["milin"]
            milin_photo_id = att.id

        env = serve_env(settings, data, DUBAN_NOW=NOW, DUBAN_SCHEDULER_ENABLED="false", DUBAN_DATA_DIR=str(data))
        base = f"http://127.0.0.1:{env['DUBAN_HTTP_PORT']}"
        env["DUBAN_PUBLIC_BASE_URL"] = base
        server = Serve(env, tmp_path)
        await server.start()
        try:
            # ---- the coordinator signs in with the console's link
            url = link(env, "协调员")
            assert url.startswith(base + "/board/login?t=")
            coordinator = browsers()
            coordinator.sign_in(url)
            assert coordinator.driver.current_url == base + "/board/"
            d = coordinator.driver
            counties = _rows(d, texts.BOARD_GROUP_COUNTIES)
            assert sorted(counties) == sorted(["墨脱县", "察隅县", "工布江达县", "巴宜区", "朗县", "波密县", "米林县"])
            shown_departments = set(_rows(d, texts.BOARD_GROUP_DEPARTMENTS))
            assert shown_departments == departments and len(departments) >= 13
            # the chat's figures: each county's completion as 各县进度 gives it
            ranking = console(env, "协调员", "各县进度")
            for name in counties:
                short = name[:-1] if name.endswith(("县", "区")) and len(name) > 2 else name
                m = re.search(rf"{short} 完成(\d+(?:\.\d)?)%", ranking)
                assert m, (name, ranking)
                cell = d.find_element("css selector", f'tr[data-org="{name}"] td.num').text
                assert cell.endswith(f"{m.group(1)}%"), (name, cell, m.group(1))
            coordinator.shoot("overview")

            # ---- filter 逾期
            coordinator.click('a[data-filter="overdue"]')
            assert "f=overdue" in d.current_url
            shown = d.find_elements("css selector", "table.units tbody tr")
            assert shown and all(int(tr.find_elements("css selector", "td.num")[2].text) > 0 for tr in shown), (
                "a unit without a match is listed under 逾期"
            )
            assert d.find_elements("css selector", "ul.items li")
            coordinator.shoot("overview-overdue")

            # ---- 墨脱县, then the item with the photo
            coordinator.get(base + "/board/")
            coordinator.click("墨脱县", by="link text")
            assert d.current_url == f"{base}/board/org/{motuo_id}"
            assert len(d.find_elements("css selector", "tr[data-item]")) == 35
            coordinator.shoot("unit")
            coordinator.click(f'a[href="/board/item/{photo_assignment}"]')
            page = coordinator.text()
            assert "完成选址和设计" in page and texts.BOARD_VERSIONS in page
            img = d.find_element("css selector", ".photos img")
            assert d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0
            coordinator.shoot("item")
            full = d.find_element("css selector", ".photos a").get_attribute("href")
            assert full.endswith(f"/board/evidence/{photo_id}")

            coordinator.get(base + "/board/projects")
            assert texts.EXPORT_TOTAL in coordinator.text() and "15,376" in coordinator.text()
            coordinator.shoot("projects")
            coordinator.get(base + "/board/indicators")
            coordinator.shoot("indicators")

            # ---- the 审核 queue: approve 墨脱县's report, return 巴宜区's
            waiting_before = console(env, "协调员", "待审核的有几条")
            bayi_before = console(env, "协调员", "巴宜区进度")
            coordinator.get(base + "/board/review")
            coordinator.shoot("review")
            coordinator.click(f'article[data-report="{ids["motuo_photo"]}"] button[value="approve"]')
            assert d.find_elements("css selector", ".said"), coordinator.text()
            assert "通过" in d.find_element("css selector", ".said").text
            box = d.find_element("css selector", f'article[data-report="{ids["bayi"]}"] input[name="reason"]')
            box.send_keys("请补充进度照片")
            coordinator.click(f'article[data-report="{ids["bayi"]}"] button[value="return"]')
            assert "请补充进度照片" in d.find_element("css selector", ".said").text
            assert not d.find_elements("css selector", f'article[data-report="{ids["bayi"]}"]')
            # the chat's figures changed: one fewer waiting, 巴宜区's returned 45 % no longer counted
            waiting_after = console(env, "协调员", "待审核的有几条")
            count = re.compile(r"(\d+)\s*条")
            before_n = int(count.search(waiting_before).group(1))  # type: ignore[union-attr]
            after_n = int(count.search(waiting_after).group(1))  # type: ignore[union-attr]
            assert after_n == before_n - 2, (waiting_before, waiting_after)
            bayi_after = console(env, "协调员", "巴宜区进度")
            assert bayi_after != bayi_before and "退回" in bayi_after
            # the officials were told through the outbox, as after a decision in the chat
            with app.session_factory() as s:
                notes = s.scalars(select(Outbox.text).where(Outbox.kind == "review")).all()
            assert len(notes) == 2 and any("请补充进度照片" in n for n in notes)

            # ---- the same link again, in another browser: refused
            stranger = browsers()
            refused = stranger.get(url)
            assert texts.BOARD_LINK_USED in refused
            assert texts.BOARD_SIGN_IN in stranger.get(base + "/board/")

            # ---- an official: his unit only
            official = browsers()
            official.sign_in(link(env, "墨脱填报人"))
            assert official.driver.current_url == f"{base}/board/org/{motuo_id}"
            assert texts.BOARD_NOT_YOURS in official.get(f"{base}/board/org/{milin_id}")
            assert texts.BOARD_NOT_YOURS in official.get(f"{base}/board/evidence/{milin_photo_id}")
            assert texts.BOARD_REVIEW_ONLY in official.get(f"{base}/board/review")
            official.get(f"{base}/board/item/{photo_assignment}")
            assert "完成选址和设计" in official.text()
            # sign out: the session is gone
            official.get(f"{base}/board/org/{motuo_id}")
            official.click("form.who button")
            assert texts.BOARD_SIGNED_OUT in official.text()
            assert texts.BOARD_SIGN_IN in official.get(f"{base}/board/org/{motuo_id}")
        finally:
            server.terminate()
        with app.session_factory() as s:
            # the views the board showed after the decisions are the chat's: the returned version is not counted
            plan = s.scalars(select(progress.Plan)).first()
            views = progress.assignment_views(s, plan, app.clock.today(), org_ids=[orgs.find_org(s, "巴宜区").id])  # type: ignore[union-attr]
            assert any(v.returned for v in views)
            assert s.scalar(select(func.count()).select_from(Report).where(Report.review_state == "approved")) == 1
    finally:
        app.close()
