"""The board's HTTP side: `/board/...` on the aiohttp server of `duban serve`.

Sign-in is the chat's one-time link only (`看板`): GET `/board/login?t=…` shows a page that posts the token
(a link preview fetching the URL uses nothing up), POST redeems it and sets the session cookie (HttpOnly,
SameSite=Lax, Secure when the public URL is https, path /board). Every other page needs a live session; forms
carry the session's CSRF token and a cross-site Origin is refused. Pages are rendered by Jinja2 templates that
ship in the package (`templates/`, `static/`: no CDN, no build step); the database work and the rendering run
in a worker thread, so a slow page never holds up the webhook or the WeCom callback on the same server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import io
import logging
import mimetypes
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.app import App
from bot.board import pages, thumbs
from core import metrics
from db.engine import read_only_factory
from db.models import REPORTABLE_KINDS, Assignment, Attachment, Organisation, Person, Plan, Report
from db.repositories import board, orgs, plans, progress
from handlers import formatting as fmt
from handlers import review, texts
from handlers.queries import workbook as chat_workbook
from scheduler import export

log = logging.getLogger(__name__)

PREFIX = "/board"
COOKIE = "duban_board"
STATIC = Path(__file__).parent / "static"
# The lights as the chat writes them (`progress.RED` …) → a CSS dot (no emoji font needed in the browser).
LIGHT_CLASSES = {progress.RED: "red", progress.YELLOW: "yellow", progress.GREEN: "green", progress.WHITE: "white"}
APP_KEY: web.AppKey[App] = web.AppKey("duban_app", App)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Signed:
    """The request's session: its viewer and CSRF token."""

    viewer: pages.Viewer
    csrf: str


READER_KEY: web.AppKey[sessionmaker[Session]] = web.AppKey("duban_reader", sessionmaker)
SIGNED_KEY: web.RequestKey[Signed] = web.RequestKey("duban_signed", Signed)
FORM_KEY: web.RequestKey[Any] = web.RequestKey("duban_form", object)


class Refused(Exception):
    """A page the viewer may not open: 403 (or 404) with a Chinese explanation."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ---- set-up --------------------------------------------------------------------------------------------------------


def install(web_app: web.Application, app: App) -> None:
    """Mount the board under `/board` of `web_app`."""
    sub = web.Application(middlewares=[_headers, _signed_in], client_max_size=16 * 1024)
    sub[APP_KEY] = app
    sub[READER_KEY] = read_only_factory(app.db)
    env = aiohttp_jinja2.setup(
        sub,
        loader=jinja2.PackageLoader("bot.board", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(T=texts, PREFIX=PREFIX, fmt=fmt, url=_url, LIGHT_CLASSES=LIGHT_CLASSES)
    env.filters.update(num=_num, money=_money, day=_day, minute=_minute, cell=_cell, signed=_signed)
    sub.router.add_get("/login", login_page)
    sub.router.add_post("/login", login)
    sub.router.add_post("/logout", logout)
    sub.router.add_get("/", overview)
    sub.router.add_get("/org/{org_id:\\d+}", unit)
    sub.router.add_get("/item/{assignment_id:\\d+}", item)
    sub.router.add_get("/projects", projects)
    sub.router.add_get("/indicators", indicators)
    sub.router.add_get("/review", review_queue)
    sub.router.add_post("/review/{report_id:\\d+}", decide)
    sub.router.add_get("/evidence/{attachment_id:\\d+}", evidence)
    sub.router.add_get("/export.xlsx", workbook)
    sub.router.add_static("/static", STATIC, append_version=True)
    web_app.add_subapp(PREFIX, sub)
    web_app.router.add_get(PREFIX, _to_root)
    if app.settings.public_base_url is None and app.settings.http_host in ("0.0.0.0", "::", ""):
        log.warning(
            "the board's links will point at %s: set DUBAN_PUBLIC_BASE_URL to the address browsers reach",
            app.settings.board_base_url,
        )


async def _to_root(_: web.Request) -> web.Response:
    return _redirect(PREFIX + "/")


# ---- formatting helpers for the templates ------------------------------------------------------------------------


def _url(path: str, **query: Any) -> str:
    q = {k: v for k, v in query.items() if v not in (None, "")}
    return PREFIX + path + ("?" + urlencode(q) if q else "")


def _num(value: Decimal | float | int | None, places: int = 1) -> str:
    return fmt.number(value, places) if value is not None else fmt.DASH


def _money(value: Decimal | float | None) -> str:
    return f"{value:,.2f}" if value is not None else fmt.DASH


def _signed(value: Decimal) -> str:
    return ("+" if value > 0 else "") + fmt.number(value)


def _day(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return fmt.DASH
    d = value.date() if isinstance(value, dt.datetime) else value
    return texts.FMT_DAY_YEAR.format(y=d.year, m=d.month, d=d.day) if d.year else fmt.DASH


def _minute(value: dt.datetime | None) -> str:
    return fmt.day_minute(value) if value is not None else fmt.DASH


def _cell(value: Any) -> str:
    """A workbook cell as text: a number with its decimals, a date, or the text."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    if isinstance(value, dt.date):
        return _day(value)
    return str(value)


# ---- middlewares ---------------------------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        response = await handler(request)
    except Refused as exc:
        response = await _page(request, "refused.html", {"message": exc.message}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = texts.BOARD_NOT_FOUND if exc.status == 404 else texts.BOARD_BAD_REQUEST
        response = await _page(request, "refused.html", {"message": message}, status=exc.status)
    except Exception:
        log.exception("board: %s %s failed", request.method, request.path)
        response = await _page(request, "refused.html", {"message": texts.BOARD_ERROR}, status=500)
    for name, value in SECURITY_HEADERS.items():
        if request.path.startswith(PREFIX + "/static/") and name == "Cache-Control":
            continue
        response.headers.setdefault(name, value)
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "other"
    metrics.BOARD_SECONDS.labels(route, str(response.status)).observe(time.perf_counter() - started)
    return response


OPEN_PATHS = (PREFIX + "/login", PREFIX + "/static/")


@web.middleware
async def _signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(OPEN_PATHS):
        return await handler(request)
    app = request.app[APP_KEY]
    signed = await asyncio.to_thread(_find_session, app, request.cookies.get(COOKIE))
    if signed is None:
        return await _page(request, "refused.html", {"message": texts.BOARD_SIGN_IN}, status=401)
    request[SIGNED_KEY] = signed
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            raise Refused(texts.BOARD_FORGED)
        form = await request.post()
        if not hmac.compare_digest(str(form.get("csrf", "")), signed.csrf):
            raise Refused(texts.BOARD_FORGED)
        request[FORM_KEY] = form
    return await handler(request)


def _find_session(app: App, cookie: str | None) -> Signed | None:
    if not cookie:
        return None
    with app.session_factory() as session, session.begin():
        row = board.find_session(session, cookie, app.clock.utcnow(), _ttl(app))
        if row is None:
            return None
        return Signed(pages.viewer_of(session, row.person, app.settings), row.csrf)


def _ttl(app: App) -> dt.timedelta:
    return dt.timedelta(hours=app.settings.board_session_hours)


# ---- rendering -----------------------------------------------------------------------------------------------------


async def _page(request: web.Request, template: str, values: dict[str, Any], status: int = 200) -> web.Response:
    env = aiohttp_jinja2.get_env(request.app)
    html = await asyncio.to_thread(_render, env, template, values, request.get(SIGNED_KEY), request)
    return web.Response(text=html, content_type="text/html", status=status)


def _render(env: jinja2.Environment, template: str, values: dict[str, Any], signed: Any, request: Any) -> str:
    return env.get_template(template).render({"signed": signed, "path": request.path_qs, **values})


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _app(request: web.Request) -> App:
    return request.app[APP_KEY]


def _signed_of(request: web.Request) -> Signed:
    return request[SIGNED_KEY]


T = TypeVar("T")


async def _read(request: web.Request, work: Callable[[Session], T]) -> T:
    """`work` in a worker thread, in a read-only transaction (no SQLite write lock) that is rolled back."""
    reader = request.app[READER_KEY]

    def run() -> T:
        with reader() as session:
            try:
                return work(session)
            finally:
                session.rollback()

    return await asyncio.to_thread(run)


def _plan(session: Session) -> Plan:
    """The plan the chat answers about (`plans.active_plan`)."""
    plan = plans.active_plan(session)
    if plan is None:
        raise Refused(texts.BOARD_NO_PLAN, 404)
    return plan


async def _work(
    request: web.Request, template: str, build: Callable[[Session, App, Plan], dict[str, Any]]
) -> web.Response:
    """Build a page's values and render them, both in the worker thread of `_read`."""
    app = _app(request)
    env = aiohttp_jinja2.get_env(request.app)
    signed = request.get(SIGNED_KEY)

    def run(session: Session) -> str:
        plan = _plan(session)
        values = build(session, app, plan)
        values.setdefault("plan", plan)
        values.setdefault("now", app.clock.now())
        return _render(env, template, values, signed, request)

    return web.Response(text=await _read(request, run), content_type="text/html")


# ---- sign-in -------------------------------------------------------------------------------------------------------

REFUSALS = {
    board.UNKNOWN: texts.BOARD_LINK_UNKNOWN,
    board.USED: texts.BOARD_LINK_USED,
    board.EXPIRED: texts.BOARD_LINK_EXPIRED,
    board.INACTIVE: texts.BOARD_LINK_INACTIVE,
}


async def login_page(request: web.Request) -> web.Response:
    """The link from the chat: a page that posts the token (nothing is used up by a GET)."""
    app = _app(request)
    token = request.query.get("t", "")
    refused = await _read(request, lambda session: board.check_token(session, token, app.clock.utcnow()).refused)
    if refused is not None:
        return await _page(request, "refused.html", {"message": REFUSALS[refused]}, status=403)
    return await _page(request, "login.html", {"token": token})


async def login(request: web.Request) -> web.Response:
    app = _app(request)
    form = await request.post()
    token = str(form.get("t", ""))
    secure = app.settings.board_base_url.startswith("https://")

    def redeem() -> tuple[board.Opened | None, str | None, str]:
        with app.session_factory() as session, session.begin():
            now = app.clock.utcnow()
            checked = board.redeem_token(session, token, now)
            if checked.person is None:
                return None, checked.refused, ""
            opened = board.open_session(session, checked.person, now, _ttl(app))
            viewer = pages.viewer_of(session, checked.person, app.settings)
            home = "/" if viewer.sees_all or viewer.org_id is None else f"/org/{viewer.org_id}"
            log.info("board: %s signed in", checked.person.name)
            return opened, None, home

    opened, refused, home = await asyncio.to_thread(redeem)
    if opened is None:
        return await _page(request, "refused.html", {"message": REFUSALS[refused or board.UNKNOWN]}, status=403)
    response = _redirect(PREFIX + home)
    response.set_cookie(
        COOKIE,
        opened.cookie,
        path=PREFIX,
        httponly=True,
        samesite="Lax",
        secure=secure,
        max_age=int(_ttl(app).total_seconds()),
    )
    return response


async def logout(request: web.Request) -> web.Response:
    app = _app(request)
    cookie = request.cookies.get(COOKIE)

    def end() -> None:
        with app.session_factory() as session, session.begin():
            now = app.clock.utcnow()
            row = board.find_session(session, cookie, now)
            if row is not None:
                board.end_session(session, row, now)

    await asyncio.to_thread(end)
    response = await _page(request, "refused.html", {"message": texts.BOARD_SIGNED_OUT, "signed": None})
    response.del_cookie(COOKIE, path=PREFIX)
    return response


# ---- pages -----------------------------------------------------------------------------------------------------------


def _org(session: Session, viewer: pages.Viewer, org_id: int) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise Refused(texts.BOARD_NOT_FOUND, 404)
    if not viewer.sees(org.id):
        raise Refused(texts.BOARD_NOT_YOURS)
    return org


async def overview(request: web.Request) -> web.Response:
    signed = _signed_of(request)
    if not signed.viewer.sees_all and signed.viewer.org_id is not None:
        return _redirect(_url(f"/org/{signed.viewer.org_id}"))
    q = request.query
    descending = {"asc": False, "desc": True}.get(q.get("dir", ""))

    def build(session: Session, app: App, plan: Plan) -> dict[str, Any]:
        data = pages.overview(
            session, plan, app.clock.now(), signed.viewer, q.get("f") or None, q.get("sort"), descending
        )
        return {"o": data, "filters": pages.FILTERS}

    return await _work(request, "overview.html", build)


async def unit(request: web.Request) -> web.Response:
    signed = _signed_of(request)
    org_id = int(request.match_info["org_id"])

    def build(session: Session, app: App, plan: Plan) -> dict[str, Any]:
        org = _org(session, signed.viewer, org_id)
        return {
            "u": pages.unit(session, plan, app.clock.now(), org, request.query.get("f") or None),
            "filters": pages.FILTERS,
        }

    return await _work(request, "unit.html", build)


async def item(request: web.Request) -> web.Response:
    signed = _signed_of(request)
    assignment_id = int(request.match_info["assignment_id"])

    def build(session: Session, app: App, plan: Plan) -> dict[str, Any]:
        a = session.get(Assignment, assignment_id)
        if a is None or not a.active or a.item.plan_id != plan.id or a.item.kind not in REPORTABLE_KINDS:
            raise Refused(texts.BOARD_NOT_FOUND, 404)
        _org(session, signed.viewer, a.organisation_id)
        page = pages.item(session, plan, app.clock.now(), signed.viewer, a)
        return {"i": page, "chart": _chart(page)}

    return await _work(request, "item.html", build)


async def projects(request: web.Request) -> web.Response:
    signed = _signed_of(request)

    def build(session: Session, app: App, plan: Plan) -> dict[str, Any]:
        table = pages.projects(session, plan, app.clock.now(), signed.viewer)
        return {"table": table, "money_columns": (4, 5), "heading": texts.EXPORT_SHEET_PROJECTS}

    return await _work(request, "sheet.html", build)


async def indicators(request: web.Request) -> web.Response:
    signed = _signed_of(request)

    def build(session: Session, app: App, plan: Plan) -> dict[str, Any]:
        table = pages.indicators(session, plan, app.clock.now(), signed.viewer)
        return {"table": table, "money_columns": (), "heading": texts.EXPORT_SHEET_INDICATORS}

    return await _work(request, "sheet.html", build)


async def review_queue(request: web.Request) -> web.Response:
    signed = _signed_of(request)
    if not signed.viewer.may_review:
        raise Refused(texts.BOARD_REVIEW_ONLY)
    said = request.query.get("said", "")
    if not hmac.compare_digest(request.query.get("sig", ""), _sign(signed, said)):
        said = ""  # only what this session's own decision said is shown (no text planted by a link)

    def build(session: Session, app: App, plan: Plan) -> dict[str, Any]:
        return {"waiting": pages.review_queue(session, app.clock.now()), "said": said}

    return await _work(request, "review.html", build)


async def decide(request: web.Request) -> web.Response:
    """通过 / 退回 from the queue: `handlers.review.decide`, as `通过` and `退回 理由` in the chat."""
    signed = _signed_of(request)
    if not signed.viewer.may_review:
        raise Refused(texts.BOARD_REVIEW_ONLY)
    app = _app(request)
    form = request[FORM_KEY]
    report_id = int(request.match_info["report_id"])
    action = form.get("action")
    reason = " ".join(str(form.get("reason", "")).split())[:200]
    if action not in ("approve", "return"):
        raise Refused(texts.BOARD_FORGED, 400)
    if action == "return" and not reason:
        return _said(signed, texts.BOARD_REASON_NEEDED)

    def run() -> str:
        with app.session_factory() as session, session.begin():
            report = session.get(Report, report_id)
            person = session.get(Person, signed.viewer.person_id)
            if report is None or person is None:
                raise Refused(texts.BOARD_NOT_FOUND, 404)
            return review.decide(session, app.clock, person, report, action == "approve", reason or None).said

    return _said(signed, await asyncio.to_thread(run))


def _sign(signed: Signed, said: str) -> str:
    return hmac.new(signed.csrf.encode(), said.encode(), hashlib.sha256).hexdigest()[:32]


def _said(signed: Signed, said: str) -> web.Response:
    """Back to the queue, showing what the decision said (signed with the session's secret)."""
    return _redirect(_url("/review", said=said, sig=_sign(signed, said)))


async def evidence(request: web.Request) -> web.StreamResponse:
    """An evidence file, to those who may see its item: by its id, never by a path from the request."""
    signed = _signed_of(request)
    app = _app(request)
    attachment_id = int(request.match_info["attachment_id"])
    thumb = request.query.get("thumb") == "1"

    def find(session: Session) -> tuple[Path, str, str | None]:
        att = session.get(Attachment, attachment_id)
        if att is None or att.report_id is None:
            raise Refused(texts.BOARD_NOT_FOUND, 404)
        org_id = session.scalar(
            select(Assignment.organisation_id)
            .join(Report, Report.assignment_id == Assignment.id)
            .where(Report.id == att.report_id)
        )
        if org_id is None or not signed.viewer.sees(org_id):
            raise Refused(texts.BOARD_NOT_YOURS)
        path = _evidence_path(app, att.path)
        if path is None:
            raise Refused(texts.BOARD_FILE_GONE, 404)
        mime = att.mime_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if thumb and pages.is_image(att):
            small = thumbs.thumbnail(path, Path(app.settings.data_dir) / "evidence" / "thumbs", att.id)
            return small, "image/jpeg" if small != path else mime, None
        name = None if pages.is_image(att) else (att.file_name or path.name)
        return path, mime, name

    path, mime, download = await _read(request, find)
    headers = {"Content-Type": mime, "Cache-Control": "private, max-age=3600"}
    if download:
        headers["Content-Disposition"] = _disposition(download)
    return web.FileResponse(path, headers=headers)


def _evidence_path(app: App, stored: str) -> Path | None:
    """The stored file, when it exists and lies under the data directory's `evidence/` (a path stored by a channel;
    anything else is not served)."""
    root = (Path(app.settings.data_dir) / "evidence").resolve()
    path = Path(stored).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "ignore").decode() or "file"
    ascii_name = ascii_name.replace('"', "").replace("\\", "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def workbook(request: web.Request) -> web.StreamResponse:
    """The 11月20日 workbook as of now: the whole plan (those who see every unit), or one unit's own."""
    signed = _signed_of(request)
    app = _app(request)
    org_param = request.query.get("org", "")
    org_id = int(org_param) if org_param.isdigit() else None
    if org_id is None and not signed.viewer.sees_all:
        org_id = signed.viewer.org_id
        if org_id is None:
            raise Refused(texts.BOARD_NOT_YOURS)

    def build(session: Session) -> tuple[bytes, str]:
        now = app.clock.now()
        org = _org(session, signed.viewer, org_id) if org_id is not None else None
        wb = export.build_workbook(
            session,
            _plan(session),
            now,
            org_ids=orgs.descendants(session, [org.id]) if org is not None else None,
            org_label=org.name if org is not None else None,
        )
        buf = io.BytesIO()
        wb.save(buf)
        name = chat_workbook.file_name(org.name if org is not None else None, now.date())
        return buf.getvalue(), name

    body, name = await _read(request, build)
    return web.Response(
        body=body,
        headers={
            "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Content-Disposition": _disposition(name),
        },
    )


# ---- the small chart of an item's values -----------------------------------------------------------------------


@dataclass(frozen=True)
class Chart:
    """An inline SVG polyline of an item's reported values (no script, no library)."""

    width: int
    height: int
    points: str
    dots: list[tuple[float, float, str]]
    target_y: float | None
    top: str
    bottom: str
    first: str
    last: str


def _chart(page: pages.ItemPage) -> Chart | None:
    series = page.series
    if not series:
        return None
    width, height, pad = 320, 120, 12
    values = [float(p.value) for p in series]
    target = float(page.target) if page.target is not None else None
    hi = max([*values, *([target] if target is not None else [])])
    lo = min([*values, 0.0])
    span = (hi - lo) or 1.0
    days = [p.day.toordinal() for p in series]
    d0, dspan = days[0], (days[-1] - days[0]) or 1

    def xy(day: int, value: float) -> tuple[float, float]:
        x = pad + (day - d0) / dspan * (width - 2 * pad) if len(series) > 1 else width / 2
        y = height - pad - (value - lo) / span * (height - 2 * pad)
        return round(x, 1), round(y, 1)

    coords = [xy(d, v) for d, v in zip(days, values, strict=True)]
    return Chart(
        width,
        height,
        " ".join(f"{x},{y}" for x, y in coords),
        [(x, y, f"{_day(p.day)} {fmt.number(p.value, 2)}") for (x, y), p in zip(coords, series, strict=True)],
        xy(d0, target)[1] if target is not None else None,
        fmt.number(Decimal(str(hi)), 2),
        fmt.number(Decimal(str(lo)), 2),
        _day(series[0].day),
        _day(series[-1].day),
    )
