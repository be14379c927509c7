"""Every number and text a user types is checked against the column it goes into, identically on SQLite and
PostgreSQL: the same bad inputs, fed to the check-in dialogue, a one-line report of the weekly list and the
repositories, are refused the same way on both backends and leave no row behind; what fits is rounded the same way.

SQLite stores whatever it is given; PostgreSQL refuses a number wider than `Numeric(p, s)` or a text longer than
`String(n)`, and before these checks every 确认 then failed there. Each table below names the input and the refusal
(a text of handlers/texts.py) it must get.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.cli import main
from core.messages import InAttachment
from db.bounds import NEGATIVE, NOT_A_NUMBER, TOO_LARGE, TOO_LONG, OutOfBounds, bound, fit_file_name
from db.models import Assignment, Attachment, InviteCode, Item, Organisation, Report
from db.repositories import orgs, people, reports
from handlers import texts
from handlers.understanding.numbers import (
    A_DATE,
    A_RANGE,
    IMPOSSIBLE_DATE,
    SEVERAL_NUMBERS,
    ValueReading,
    parse_amount,
    parse_quantity,
    read_value,
    to_number,
)
from handlers.understanding.numbers import NOT_A_NUMBER as NOT_A_NUMBER_READ
from handlers.understanding.text import clean, normalize
from tests.conftest import Chat
from tests.test_checkin import to_evidence

pytestmark = pytest.mark.both_backends

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")
LARGEST_INVESTMENT = bound(Report.investment_done).largest
LARGEST_INDICATOR = bound(Report.indicator_number).largest


def _count(app, model) -> int:
    with app.session_factory() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def _last_report(app) -> Report:
    with app.session_factory() as s:
        return s.execute(select(Report).order_by(Report.id.desc()).limit(1)).scalar_one()


def _indicator_question(app) -> Chat:
    c = Chat(app, "林草局填报人")
    c.send("汇报")
    c.send("林草覆盖率")
    c.send("推进中")
    assert "指标当前值" in c.last[-1].text
    return c


def _finish(c: Chat) -> str:
    """Skip the optional questions up to the summary."""
    out = ""
    for _ in range(8):
        out = c.send("跳过")
        if "请核对" in out:
            return out
    raise AssertionError(f"no summary: {out}")


def test_the_limits_are_read_from_the_models():
    assert LARGEST_INVESTMENT == Decimal("999999999999.99")  # Numeric(14, 2)
    assert LARGEST_INDICATOR == Decimal("9999999999.9999")  # Numeric(14, 4)
    assert bound(Report.indicator_value).length == 100
    assert bound(Attachment.file_name).length == 200


# ---- the indicator question ----------------------------------------------------------------------------------

INDICATOR_REFUSED = [
    ("1e309", texts.E_VALUE_PROBLEMS["not_a_number"]),
    ("NaN", texts.E_VALUE_PROBLEMS["not_a_number"]),
    ("inf", texts.E_VALUE_PROBLEMS["not_a_number"]),
    ("-Infinity", texts.E_VALUE_PROBLEMS["not_a_number"]),
    ("2023-02-30", texts.E_VALUE_PROBLEMS["impossible_date"]),
    ("20230230", texts.E_VALUE_PROBLEMS["impossible_date"]),
    ("2023-06-30", texts.E_VALUE_PROBLEMS["date"]),
    ("５-６", texts.E_VALUE_PROBLEMS["range"]),
    ("5－6", texts.E_VALUE_PROBLEMS["range"]),
    ("5−6%", texts.E_VALUE_PROBLEMS["range"]),
    ("12345678901", texts.E_BOUND_TOO_LARGE.format(field="指标值", limit="9999999999.9999", unit="")),
    ("-12345678901", texts.E_BOUND_TOO_LARGE.format(field="指标值", limit="9999999999.9999", unit="")),
    ("字" * 101, texts.E_TEXT_LONG.format(n=101, limit=100)),
    ("８" * 101, texts.E_TEXT_LONG.format(n=101, limit=100)),
]


@pytest.mark.parametrize(("typed", "refusal"), INDICATOR_REFUSED, ids=[r[0][:20] for r in INDICATOR_REFUSED])
def test_indicator_values_that_must_be_refused(app, typed, refusal):
    c = _indicator_question(app)
    assert c.send(typed).startswith(refusal)
    # the question stands, nothing entered is lost, and a good answer then files
    c.send("82.5")
    out = _finish(c)
    assert "推进中" in out and "82.5" in out
    assert "已提交" in c.send("确认")
    r = _last_report(app)
    assert r.indicator_value == "82.5" and r.indicator_number == Decimal("82.5")
    assert _count(app, Report) == 1


INDICATOR_READ = [
    ("-5", "-5", Decimal(-5)),  # minus five, never 5 (and so 未达标)
    ("８２．５", "８２．５", Decimal("82.5")),
    ("٨٢", "٨٢", Decimal(82)),  # Arabic-Indic digits
    ("\u202e08\u202c", "08", Decimal(8)),  # shown "80" with the override; read and stored as 08
    ("9999999999.99994", "9999999999.99994", Decimal("9999999999.9999")),  # rounded to the column's scale
    ("82.5" + " " * 120 + "达标", "82.5 达标", Decimal("82.5")),  # raw over 100 characters, stored collapsed
]


@pytest.mark.parametrize(("typed", "stored", "number"), INDICATOR_READ, ids=[r[1][:20] for r in INDICATOR_READ])
def test_indicator_values_read_as_typed(app, typed, stored, number):
    c = _indicator_question(app)
    c.send(typed)
    out = _finish(c)
    assert not BIDI.search(out)
    assert "已提交" in c.send("确认")
    r = _last_report(app)
    assert (r.indicator_value, r.indicator_number) == (stored, number)
    if number < 80:
        assert "未达标" in out


# ---- the investment question ---------------------------------------------------------------------------------

INVESTMENT_REFUSED = [
    ("-5", texts.E_BOUND_NEGATIVE.format(field="投资金额")),
    ("-5万元", texts.E_BOUND_NEGATIVE.format(field="投资金额")),
    ("1000000000000", texts.E_BOUND_TOO_LARGE.format(field="投资金额", limit="999999999999.99", unit=" 万元")),
    ("1,000,000,000,000万元", texts.E_BOUND_TOO_LARGE.format(field="投资金额", limit="999999999999.99", unit=" 万元")),
    ("100000000亿", texts.E_BOUND_TOO_LARGE.format(field="投资金额", limit="999999999999.99", unit=" 万元")),
    ("1e309", texts.E_INVESTMENT),
    ("NaN", texts.E_INVESTMENT),
    ("inf", texts.E_INVESTMENT),
    ("５-６", texts.E_INVESTMENT),
]


@pytest.mark.parametrize(("typed", "refusal"), INVESTMENT_REFUSED, ids=[r[0] for r in INVESTMENT_REFUSED])
def test_investments_that_must_be_refused(app, typed, refusal):
    c = Chat(app, "生态环境局填报人")
    c.send("汇报")
    c.send("八及曲")
    c.pick("推进中")
    assert "累计完成投资" in c.send("60%")
    assert c.send(typed).startswith(refusal)
    assert "形象进度" in c.send("1200.005")  # rounded half up to the column's two places, on both backends
    c.send("护坡工程完工")
    out = _finish(c)
    assert "1200.01 万元" in out and "60%" in out
    assert "已提交" in c.send("确认")
    r = _last_report(app)
    assert (r.investment_done, r.percent, r.physical_progress) == (Decimal("1200.01"), Decimal(60), "护坡工程完工")
    assert _count(app, Report) == 1


# ---- the percent and date questions --------------------------------------------------------------------------

PERCENT_REFUSED = [
    ("-5", texts.E_BOUND_NEGATIVE.format(field="进度")),
    ("-5%", texts.E_BOUND_NEGATIVE.format(field="进度")),
    ("百分之负五", texts.E_PERCENT),
    ("1e309", texts.E_PERCENT),
    ("NaN", texts.E_PERCENT),
]


@pytest.mark.parametrize(("typed", "refusal"), PERCENT_REFUSED, ids=[r[0] for r in PERCENT_REFUSED])
def test_percentages_that_must_be_refused(app, typed, refusal):
    c = Chat(app, "米林填报人")
    c.send("汇报")
    c.send("两山实施方案")
    c.send("推进中")
    assert c.send(typed).startswith(refusal)
    assert "做了哪些工作" in c.send("５-６")  # full-width: the range 5–6, never 56
    c.send("已完成初稿")
    c.send("跳过")
    c.send("跳过")
    assert c.send("2023-02-30").startswith(texts.E_DATE)  # no such day: never the digits 20230230
    c.send("2023-06-30")
    _finish(c)
    assert "已提交" in c.send("确认")
    r = _last_report(app)
    assert (r.percent, r.percent_low, r.percent_high) == (Decimal("5.5"), Decimal(5), Decimal(6))
    assert r.expected_date == dt.date(2023, 6, 30)


def test_direction_controls_are_stripped_from_stored_text(app):
    c = Chat(app, "米林填报人")
    c.send("汇报")
    c.send("两山实施方案")
    c.send("推进中")
    c.send("50")
    c.send("已完成\u202e稿初\u202c，\u2066正在\u2069征求意见")
    out = _finish(c)
    assert not BIDI.search(out) and "已完成稿初，正在征求意见" in out
    c.send("确认")
    assert _last_report(app).description == "已完成稿初，正在征求意见"


# ---- evidence --------------------------------------------------------------------------------------------------


def test_a_long_evidence_file_name_is_shortened_keeping_its_extension(app, tmp_path):
    photo = tmp_path / "site.pdf"
    photo.write_bytes(b"%PDF fake")
    name = "林芝市生态文明建设示范区创建工作佐证材料" * 12 + ".pdf"
    assert len(name) > 200
    c = to_evidence(app)
    out = c.send("", attachments=(InAttachment("file", str(photo), name, "application/pdf", 9),))
    assert "第1份佐证材料" in out
    c.send("完成")
    assert "已提交" in c.send("确认")
    last_id = _last_report(app).id
    with app.session_factory() as s:
        att = s.execute(select(Attachment)).scalar_one()
        assert att.report_id == last_id
        assert att.file_name is not None and len(att.file_name) == 200 and att.file_name.endswith("….pdf")
        assert att.file_name.startswith(name[:150])


# ---- a line of the weekly list ---------------------------------------------------------------------------------


def _list_position(c: Chat, label: str) -> int:
    out = c.send("汇报")
    for _ in range(6):
        m = re.search(rf"^(\d+)\. \S*{label}", out, re.M)
        if m:
            return int(m.group(1))
        out = c.send("更多")
    raise AssertionError(f"{label} not in the list")


LINE_REFUSED = [
    ("1e309", texts.E_VALUE_PROBLEMS["not_a_number"]),
    ("NaN%", texts.E_VALUE_PROBLEMS["not_a_number"]),
    ("2023-02-30", texts.E_VALUE_PROBLEMS["impossible_date"]),
    ("12345678901", texts.E_BOUND_TOO_LARGE.format(field="指标值", limit="9999999999.9999", unit="")),
]


@pytest.mark.parametrize(("typed", "refusal"), LINE_REFUSED, ids=[r[0] for r in LINE_REFUSED])
def test_a_line_of_the_list_with_a_bad_indicator_value_is_refused(app, typed, refusal):
    c = Chat(app, "林草局填报人")
    n = _list_position(c, "林草覆盖率")
    assert c.send(f"{n} 推进中 {typed}").startswith(refusal)
    assert _count(app, Report) == 0
    assert "已提交" in c.send(f"{n} 推进中 82.5")
    assert _last_report(app).indicator_number == Decimal("82.5")


# ---- the repositories ------------------------------------------------------------------------------------------


def _assignment(s) -> Assignment:
    return s.execute(
        select(Assignment).join(Item).join(Organisation).where(Organisation.name == "市林草局").limit(1)
    ).scalar_one()


REPOSITORY_REFUSED = [
    ({"investment_done": Decimal("1000000000000")}, "investment_done", TOO_LARGE),
    ({"investment_done": Decimal("999999999999.995")}, "investment_done", TOO_LARGE),  # rounds past the limit
    ({"investment_done": Decimal(-5)}, "investment_done", NEGATIVE),
    ({"indicator_number": Decimal("12345678901")}, "indicator_number", TOO_LARGE),
    ({"indicator_number": Decimal("NaN")}, "indicator_number", NOT_A_NUMBER),
    ({"percent": Decimal("Infinity")}, "percent", NOT_A_NUMBER),
    ({"percent": Decimal("100000")}, "percent", TOO_LARGE),
    ({"percent": Decimal(-5)}, "percent", NEGATIVE),
    ({"quantity": Decimal("1E+309")}, "quantity", TOO_LARGE),
    ({"quantity": "abc"}, "quantity", NOT_A_NUMBER),
    ({"indicator_value": "字" * 101}, "indicator_value", TOO_LONG),
    ({"quantity_unit": "亩" * 21}, "quantity_unit", TOO_LONG),
]


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    REPOSITORY_REFUSED,
    ids=[f"{r[1]}-{str(r[0][r[1]])[:12]}" for r in REPOSITORY_REFUSED],
)
def test_add_report_refuses_what_the_column_cannot_hold(app, values, field, reason):
    with app.session_factory() as s, s.begin():
        a = _assignment(s)
        with pytest.raises(OutOfBounds) as e:
            reports.add_report(s, a, None, "console", app.clock.utcnow(), {"status": "in_progress", **values})
        assert (e.value.field, e.value.reason) == (field, reason)
    assert _count(app, Report) == 0


ROUNDED = [
    ("investment_done", Decimal("1.005"), Decimal("1.01")),
    ("investment_done", Decimal("999999999999.994"), Decimal("999999999999.99")),
    ("indicator_number", Decimal("1.23455"), Decimal("1.2346")),
    ("indicator_number", Decimal("-2.00005"), Decimal("-2.0001")),
    ("percent", Decimal("33.35"), Decimal("33.4")),
    ("quantity", Decimal("0.80005"), Decimal("0.8001")),
]


@pytest.mark.parametrize(("field", "given", "stored"), ROUNDED, ids=[f"{r[0]}-{r[1]}" for r in ROUNDED])
def test_add_report_rounds_half_up_to_the_column_on_every_backend(app, field, given, stored):
    with app.session_factory() as s, s.begin():
        r = reports.add_report(
            s, _assignment(s), None, "console", app.clock.utcnow(), {"status": "in_progress", field: given}
        )
        rid = r.id
    with app.session_factory() as s:
        assert getattr(s.get(Report, rid), field) == stored


def test_add_attachment_shortens_a_long_name_and_refuses_a_long_path(app):
    with app.session_factory() as s, s.begin():
        att = reports.add_attachment(s, "file", "/data/x.pdf", "console", app.clock.utcnow(), "名" * 300 + ".docx")
        assert len(att.file_name or "") == 200 and (att.file_name or "").endswith("….docx")
        with pytest.raises(OutOfBounds) as e:
            reports.add_attachment(s, "file", "/" + "p" * 600, "console", app.clock.utcnow(), "a.pdf")
        assert e.value.reason == TOO_LONG
    assert _count(app, Attachment) == 1


# ---- names: from a platform, and on an invite -------------------------------------------------------------------


def test_a_long_platform_name_is_cut_to_fit_and_the_binding_works(app):
    with app.session_factory() as s, s.begin():
        code = people.new_invite(s, orgs.require_org(s, "波密县"), "official", app.clock.utcnow(), dt.timedelta(days=1))
        code = code.code
    out = Chat(app, "tg-900", channel="telegram").send(f"/start {code}", user_name="长" * 150)
    assert "绑定成功" in out
    with app.session_factory() as s:
        p = people.find_by_identity(s, "telegram", "tg-900")
        assert p is not None and p.name == "长" * 100


def test_an_invite_name_too_long_is_refused_and_nothing_is_stored(app, db_url, tmp_path, capsys):
    with app.session_factory() as s, s.begin():
        with pytest.raises(OutOfBounds) as e:
            people.new_invite(
                s, orgs.require_org(s, "波密县"), "official", app.clock.utcnow(), dt.timedelta(days=1), "名" * 101
            )
        assert (e.value.field, e.value.reason, e.value.limit) == ("person_name", TOO_LONG, 100)
    out = io.StringIO()
    args = ["--database-url", db_url, "--data-dir", str(tmp_path / "data"), "--now", "2023-05-24T09:00"]
    code = main([*args, "invite", "米林县", "--name", "名" * 101], out=out)
    assert code == 1
    assert texts.E_BOUND_NAME_LONG.format(n=101, limit=100) in capsys.readouterr().err
    assert _count(app, InviteCode) == 0


@pytest.mark.parametrize("typed", ["NaN", "nan", "Infinity", "1e309", "-0"])
def test_no_number_breaks_the_list_or_the_summary(app, typed):
    c = Chat(app, "米林填报人")
    c.send("汇报")
    out = c.send(typed)  # at the list: no task of that number, or a line not understood; never a failure
    assert "没有找到" in out or "没看懂" in out
    c.send("两山实施方案")
    c.send("推进中")
    c.send("50")
    c.send("已完成初稿")
    summary = _finish(c)
    assert "请核对" in summary
    assert "请回复“确认”" in c.send(typed)  # at the summary: asked again, nothing broken
    assert "已提交" in c.send("确认")
    assert _last_report(app).percent == Decimal(50)


# ---- the readers, without a database ----------------------------------------------------------------------------

READ_VALUE = [
    ("82.5", Decimal("82.5"), None),
    ("-5", Decimal(-5), None),
    ("负五", Decimal(-5), None),
    ("−3.5", Decimal("-3.5"), None),  # a minus sign, U+2212
    ("82.5%", Decimal("82.5"), None),
    ("三个", Decimal(3), None),
    ("约28微克", Decimal(28), None),
    ("1,234.5", Decimal("1234.5"), None),
    ("已建立", None, None),
    ("1e309", None, NOT_A_NUMBER_READ),
    ("1E5", None, NOT_A_NUMBER_READ),
    ("NaN", None, NOT_A_NUMBER_READ),
    ("Infinity", None, NOT_A_NUMBER_READ),
    ("2023-02-30", None, IMPOSSIBLE_DATE),
    ("2023年2月30日", None, IMPOSSIBLE_DATE),
    ("20230230", None, IMPOSSIBLE_DATE),
    ("2023-06-30", None, A_DATE),
    ("５-６", None, A_RANGE),
    ("5~6", None, A_RANGE),
    ("5到6", None, A_RANGE),
    ("七八成", None, A_RANGE),
    ("2022年28", None, SEVERAL_NUMBERS),
    ("PM2.5浓度18", None, SEVERAL_NUMBERS),  # never 2.518
    ("2023年5月 82.5%", Decimal("82.5"), None),  # a month, then the figure: no impossible 82nd day
]


@pytest.mark.parametrize(("typed", "number", "problem"), READ_VALUE, ids=[r[0] for r in READ_VALUE])
def test_read_value(typed, number, problem):
    assert read_value(typed) == ValueReading(number, problem)


TO_NUMBER = [
    ("-5", Decimal(-5)),
    ("+5", Decimal(5)),
    ("５", Decimal(5)),
    ("٥", Decimal(5)),
    ("\u202e8\u202c0", Decimal(80)),
    ("1.2万", Decimal(12000)),
    ("十二", Decimal(12)),
    ("1e309", None),
    ("1E+3", None),
    ("NaN", None),
    ("sNaN", None),
    ("inf", None),
    ("-Infinity", None),
    ("5-6", None),
    ("2023-02-30", None),
]


@pytest.mark.parametrize(("typed", "expected"), TO_NUMBER, ids=[r[0] for r in TO_NUMBER])
def test_to_number(typed, expected):
    assert to_number(typed) == expected


AMOUNTS = [
    ("-5", Decimal(-5)),  # minus five: the question refuses it as negative, never reads 5
    ("-1200万元", Decimal(-1200)),
    ("1000000000000", Decimal(1000000000000)),  # read; refused by the column's bound
    ("1e309", None),
    ("NaN", None),
    ("inf", None),
    ("５-６", None),
]


@pytest.mark.parametrize("typed", ["-5亩", "- 8000亩", "负5亩", "-0.8万亩"])
def test_a_negative_quantity_is_none_never_its_absolute_value(typed):
    assert parse_quantity(typed) is None


@pytest.mark.parametrize(("typed", "expected"), AMOUNTS, ids=[r[0] for r in AMOUNTS])
def test_parse_amount_keeps_the_sign_and_refuses_what_is_no_number(typed, expected):
    assert parse_amount(typed) == expected


def test_normalize_and_clean():
    assert normalize("５－６") == normalize("5−6") == normalize("٥-٦") == "5-6"
    assert normalize("\u202e08\u202c") == "08"
    assert clean("已完成\u202e稿初\u202c，\u2066正在\u2069  征求意见 ") == "已完成稿初，正在 征求意见"
    assert clean("８０％\u200f") == "８０％"  # full-width kept in what is stored


FILE_NAMES = [
    ("a.pdf", "a.pdf"),
    ("名" * 200 + ".pdf", "名" * 195 + "….pdf"),
    ("名" * 250, "名" * 199 + "…"),
    ("名" * 250 + "." + "x" * 20, "名" * 199 + "…"),  # no real extension to keep
]


@pytest.mark.parametrize(("name", "stored"), FILE_NAMES, ids=[str(len(r[0])) for r in FILE_NAMES])
def test_fit_file_name(name, stored):
    assert fit_file_name(Attachment.file_name, name) == stored
    assert len(stored) <= 200


def test_a_percentage_is_rounded_half_up_as_the_repository_rounds(app):
    c = Chat(app, "米林填报人")
    c.send("汇报")
    c.send("两山实施方案")
    c.send("推进中")
    assert "做了哪些工作" in c.send("32.25")  # half-even would keep 32.2
    c.send("已完成初稿")
    assert "32.3%" in _finish(c)
    assert "已提交" in c.send("确认")
    assert _last_report(app).percent == Decimal("32.3")


def test_a_one_line_report_with_an_investment_too_large_is_refused_at_once(app):
    c = Chat(app, "生态环境局填报人")
    out = c.send("八及曲完成投资1000000000000万元")
    assert out == texts.E_BOUND_TOO_LARGE.format(field="投资金额", limit="999999999999.99", unit=" 万元")
    assert "八及曲" in c.send("八及曲完成投资1200万元")
    assert "已提交" in c.send("确认")
    assert _last_report(app).investment_done == Decimal(1200)
    assert _count(app, Report) == 1


def test_a_quantity_too_large_for_its_column_is_refused_at_the_percent_question(app):
    c = Chat(app, "林草局填报人")
    c.send("汇报")
    c.send("国土绿化")
    c.send("推进中")
    assert "完成进度" in c.last[-1].text
    assert c.send("-8000亩").startswith(texts.E_PERCENT)
    refusal = texts.E_BOUND_TOO_LARGE.format(field="完成数量", limit="9999999999.9999", unit="")
    assert c.send("1000000000000000亩").startswith(refusal)
    c.send("6000亩")
    _finish(c)
    assert "已提交" in c.send("确认")
    r = _last_report(app)
    assert (r.quantity, r.quantity_unit, r.percent) == (Decimal("0.6"), "万亩", Decimal(50))
