"""One verdict per indicator: what chat answers to "指标N" and what the completion workbook says agree, for every
indicator of the shipped plan, with reports of every kind filed (numeric and qualitative rules, met or not, a
value or only a status, several units, none)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from bot.app import App
from db.engine import transaction
from db.models import DONE, IN_PROGRESS, INDICATOR, Assignment, Item
from db.repositories import plans, reports
from handlers import texts
from scheduler.export import build_workbook

CITY_RE = re.compile(r"^全市（(?P<rule>[^）]+)）：(?P<figure>.*) → (?P<verdict>\S+)$")
LATEST_RE = re.compile(r"^最新值：(?P<value>.*)（(?P<date>\d+月\d+日)，(?P<org>[^）]+)）→ (?P<verdict>\S+)$")


def _fields(check_op: str | None, check_value: Decimal | None, kind: int) -> dict[str, Any]:
    """Report fields of one of four kinds: done without a value, a value on the target, one below it, a value
    but not done."""
    target = check_value if check_value is not None else Decimal(1)
    if kind == 0:
        return {"status": DONE}
    if check_value is None and kind == 2:
        return {"status": IN_PROGRESS, "indicator_value": "否"}  # a negative answer to a text target
    number = target if kind in (1, 3) else target - 1
    status = IN_PROGRESS if kind == 3 else DONE
    return {"status": status, "indicator_value": f"{number}", "indicator_number": number}


def _file_reports(app: App) -> dict[int, str | None]:
    """File reports on most indicators; returns each indicator's number → check op (for the tallies)."""
    now = app.clock.utcnow()
    ops: dict[int, str | None] = {}
    with transaction(app.session_factory) as s:
        items = s.execute(select(Item).where(Item.kind == INDICATOR, Item.active.is_(True))).scalars().all()
        for i, item in enumerate(sorted(items, key=lambda it: it.number or 0)):
            assert item.number is not None
            ops[item.number] = item.check_op
            assignments = list(
                s.execute(
                    select(Assignment).where(Assignment.item_id == item.id, Assignment.active.is_(True))
                ).scalars()
            )
            if i % 6 == 5 or not assignments:
                continue  # never reported
            kinds = [i % 4] if len(assignments) == 1 or i % 3 else [(i + 1) % 4, i % 4]
            # Several units: an older report by one, a newer one by another; the newer one decides.
            for n, (a, kind) in enumerate(zip(assignments, kinds, strict=False)):
                when = now - dt.timedelta(days=3 - n, minutes=i)
                reports.add_report(s, a, None, "console", when, _fields(item.check_op, item.check_value, kind))
    return ops


def test_chat_and_export_give_the_same_verdict_for_every_indicator(app: App, chat: Any) -> None:
    ops = _file_reports(app)
    with app.session_factory() as s:
        plan = plans.active_plan(s)
        assert plan is not None
        wb = build_workbook(s, plan, app.clock.now())
    # after the title and the header; an indicator's own row has its number (its units' rows and 合计 do not)
    rows = {
        r[0]: r
        for r in wb[texts.EXPORT_SHEET_INDICATORS].iter_rows(min_row=3, values_only=True)
        if isinstance(r[0], int)
    }
    assert set(rows) == set(ops)
    c = chat("协调员")
    tally: Counter[tuple[str, str]] = Counter()
    for number in sorted(ops):
        out = c.send(f"指标{number}")
        assert out.startswith(f"【指标{number}】"), out
        row = rows[number]
        city = next((ln for ln in out.splitlines() if ln.startswith("全市（")), None)
        if city is not None:
            # an indicator owned by several units: the city's figure and verdict, as the export's main row
            m = CITY_RE.match(city)
            assert m is not None, city
            never = m["verdict"] == texts.VERDICT_LABELS["unreported"]
            assert (row[7], row[8]) == (m["figure"], texts.EXPORT_CITY_ORG), number
            assert row[10] == (texts.SCHED_NEVER_REPORTED if never else m["verdict"]), number
            tally[("city", m["verdict"])] += 1
            continue
        line = next(ln for ln in out.splitlines() if ln.startswith("最新值："))
        if line == texts.Q_INDICATOR_NONE:
            assert (row[7] or "", row[8] or "", row[10]) == ("", "", texts.SCHED_NEVER_REPORTED), number
            continue
        m = LATEST_RE.match(line)
        assert m is not None, line
        assert (row[8], row[10]) == (m["org"], m["verdict"]), number
        assert (row[7] or m["value"]) == m["value"], number  # a report without a value leaves the cell empty
        tally[("text" if ops[number] in (None, "text") else "number", m["verdict"])] += 1
    # Every verdict occurs: qualitative indicators reported done are 达标 (the export once said 待判定), a
    # negative answer is 未达标, the rest 待判定 (the chat once said 未达标).
    assert tally[("text", texts.INDICATOR_MET)] > 0 and tally[("text", texts.INDICATOR_NOT_MET)] > 0
    assert tally[("text", texts.INDICATOR_UNKNOWN)] > 0
    assert tally[("number", texts.INDICATOR_MET)] > 0 and tally[("number", texts.INDICATOR_NOT_MET)] > 0
    assert tally[("number", texts.INDICATOR_UNKNOWN)] > 0
