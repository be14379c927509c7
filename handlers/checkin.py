"""The check-in dialogue: an official reports progress on each of their organisation's tasks.

States (stored in the conversation row, data is JSON):
- checkin.pick: the numbered list of open tasks; pick by number, button or name.
- checkin.ask: one question of the draft; `data["step"]` names it (status, percent, investment, physical,
  indicator, description, problems, next_step, expected, evidence).
- checkin.over: the investment entered is above the project's total: confirm or re-enter.
- checkin.confirm: the summary; 确认 / 修改 <item> / 取消.
- checkin.modify: which item to change.
- checkin.next: after submitting, offer the next open task.
- checkin.oneliner: a one-line report matched several tasks; pick one.

A draft is `data["draft"]`: {"assignment_id", "fields": {...}, "attachments": [ids], "supersedes": id|None,
"editing": bool}. Cancelling or timing out keeps it under `keep_checkin` so `继续` resumes it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from core.messages import Choice, Reply
from db.models import (
    BLOCKED,
    DONE,
    IN_PROGRESS,
    INDICATOR,
    NOT_STARTED,
    PROJECT,
    Assignment,
    Item,
    Organisation,
    Plan,
    Report,
)
from db.repositories import orgs, plans, progress, reports
from db.repositories.conversations import PROMPTED
from handlers import texts
from handlers.context import IDLE, Context, Replies
from handlers.understanding.numbers import fmt_number, parse_amount, parse_date, parse_percent, to_number
from handlers.understanding.text import normalize

PAGE = 8
KEEP = "keep_checkin"
MAX_TEXT = 500

STATUS_WORDS: list[tuple[str, re.Pattern[str]]] = [
    (BLOCKED, re.compile(r"受阻|卡住|阻碍|停滞|停工|困难|推不动|搁置|暂停|没到位")),
    (NOT_STARTED, re.compile(r"未启动|没启动|未开始|没开始|还没|尚未|没动|未开展")),
    (DONE, re.compile(r"已完成|完成了|已办结|办结|全部完成|已印发|已提交|已建成|做完|搞定|^完成$|竣工")),
    (IN_PROGRESS, re.compile(r"推进中|进行中|在推进|正在|在做|开展中|实施中|在建|推进|进行")),
]
STATUS_BY_NUMBER = {"1": NOT_STARTED, "2": IN_PROGRESS, "3": DONE, "4": BLOCKED}
STATUS_BY_LABEL = {v: k for k, v in texts.STATUS_LABELS.items()}

FIELD_NAMES = {
    "status": texts.F_STATUS,
    "percent": texts.F_PERCENT,
    "investment": texts.F_INVESTMENT,
    "physical": texts.F_PHYSICAL,
    "indicator": texts.F_INDICATOR,
    "description": texts.F_DESCRIPTION,
    "problems": texts.F_PROBLEMS,
    "next_step": texts.F_NEXT,
    "expected": texts.F_EXPECTED,
    "evidence": texts.F_EVIDENCE,
}
FIELD_ALIASES = {
    "状态": "status",
    "进度": "percent",
    "百分比": "percent",
    "完成率": "percent",
    "投资": "investment",
    "完成投资": "investment",
    "资金": "investment",
    "形象进度": "physical",
    "形象": "physical",
    "指标": "indicator",
    "指标值": "indicator",
    "数值": "indicator",
    "工作情况": "description",
    "说明": "description",
    "情况": "description",
    "描述": "description",
    "困难": "problems",
    "问题": "problems",
    "困难问题": "problems",
    "下一步": "next_step",
    "计划": "next_step",
    "预计完成": "expected",
    "日期": "expected",
    "完成日期": "expected",
    "时间": "expected",
    "佐证": "evidence",
    "佐证材料": "evidence",
    "附件": "evidence",
    "照片": "evidence",
}
SKIPPABLE = {"problems", "next_step", "expected", "evidence"}


# ---- helpers ------------------------------------------------------------------------------------------------


def _plan(ctx: Context) -> Plan | None:
    return plans.active_plan(ctx.session)


def _is_skip(text: str) -> bool:
    return normalize(text).lower() in texts.SKIP_WORDS


def _date_cn(d: dt.date | None) -> str:
    return f"{d.month}月{d.day}日" if d else "—"


def steps_for(kind: str, status: str | None) -> list[str]:
    """The questions for an item of `kind`, given the status chosen so far."""
    if kind == PROJECT:
        steps = [
            "status",
            "percent",
            "investment",
            "physical",
            "description",
            "problems",
            "next_step",
            "expected",
            "evidence",
        ]
    elif kind == INDICATOR:
        steps = ["status", "indicator", "description", "problems", "next_step", "evidence"]
    else:
        steps = ["status", "percent", "description", "problems", "next_step", "expected", "evidence"]
    if status in (DONE, NOT_STARTED):
        steps = [s for s in steps if s not in ("percent", "expected")]
    return steps


def _skippable(step: str, kind: str, status: str | None) -> bool:
    if step in SKIPPABLE:
        return True
    if step == "description":
        return kind != "task" or status == NOT_STARTED
    return step == "physical" and status == NOT_STARTED


def own_open_assignments(ctx: Context, org_id: int) -> list[progress.AssignmentView]:
    plan = _plan(ctx)
    if plan is None:
        return []
    views = progress.assignment_views(ctx.session, plan, ctx.clock.today(), org_ids=[org_id])
    return [v for v in views if not v.closed]


def _task_line(v: progress.AssignmentView) -> str:
    if v.status is None:
        state = texts.TASK_STATE_NEVER
    else:
        date = ""
        if v.last_report_at is not None:
            date = _date_cn(ctx_local_date(v.last_report_at))
        pct = f" {fmt_number(v.percent)}%" if v.percent is not None else ""
        state = texts.TASK_STATE_LAST.format(status=texts.STATUS_LABELS[v.status], percent=pct, date=date)
    return texts.TASK_LINE.format(light=v.light, label=v.label, due=_date_cn(v.due), state=state)


def ctx_local_date(stored: dt.datetime) -> dt.date:
    # Stored times are naive UTC; the plan's calendar is China time (UTC+8, no DST).
    return (stored + dt.timedelta(hours=8)).date()


def _reporting_org(ctx: Context) -> Organisation | None:
    """The organisation this dialogue reports for: a coordinator may pick another with "汇报 单位"."""
    org_id = ctx.data.get("org_id") or (ctx.person.organisation_id if ctx.person else None)
    return ctx.session.get(Organisation, org_id) if org_id else None


# ---- entry points -------------------------------------------------------------------------------------------


def start(ctx: Context, org_name: str | None = None) -> Replies:
    """`汇报` (optionally `汇报 单位` for coordinators): list the open tasks, most urgent first."""
    assert ctx.person is not None
    org: Organisation | None = ctx.person.organisation
    if org_name:
        target = orgs.find_org(ctx.session, org_name)
        if target is None:
            hint = orgs.name_index(ctx.session).closest(org_name)
            return [
                Reply(
                    texts.UNKNOWN_ORG_FOR_REPORT.format(
                        name=org_name, hint=("是否指：" + "、".join(hint)) if hint else ""
                    )
                )
            ]
        if not ctx.is_coordinator and (org is None or target.id != org.id):
            return [Reply(texts.OTHER_ORG_TASK.format(own=org.name if org else "—", label="汇报", other=target.name))]
        org = target
    if org is None:
        return [Reply(texts.NO_ORG)]
    views = own_open_assignments(ctx, org.id)
    if not views:
        ctx.go(IDLE)
        return [Reply(texts.NO_OPEN_TASKS.format(org=org.name))]
    ctx.go("checkin.pick", org_id=org.id, options=[v.assignment_id for v in views], page=0)
    replies = [_list_reply(org.name, views, 0)]
    kept = ctx.data.get(KEEP)
    if kept:
        a = ctx.session.get(Assignment, kept["assignment_id"])
        if a is not None:
            replies[0].text += "\n" + texts.DRAFT_REPLACED_HINT.format(label=a.item.label)
    return replies


def _list_reply(org_name: str, views: list[progress.AssignmentView], page: int) -> Reply:
    chunk = views[page * PAGE : (page + 1) * PAGE]
    lines = [texts.TASK_LIST_HEADER.format(org=org_name, n=len(views))]
    choices = []
    for i, v in enumerate(chunk, page * PAGE + 1):
        lines.append(f"{i}. {_task_line(v)}")
        choices.append(Choice(f"{i}. {v.label}", f"#{v.assignment_id}"))
    if (page + 1) * PAGE < len(views):
        lines.append(texts.TASK_LIST_MORE)
    return Reply("\n".join(lines), choices=choices, listed=True)


def command(ctx: Context, text: str) -> Replies | None:
    """Idle-state commands of this module: `汇报 单位`."""
    m = re.match(r"^(?:汇报|/report)\s+(.+)$", text)
    if m:
        return start(ctx, m.group(1).strip())
    return None


def resume(ctx: Context) -> Replies:
    kept = ctx.data.get(KEEP)
    if not kept:
        return [Reply(texts.NO_DRAFT)]
    data = dict(ctx.data)
    data.pop(KEEP, None)
    ctx.conversation.data = data
    ctx.go(kept["state"], **kept["data"])
    intro = [Reply(texts.DRAFT_RESUMED)]
    if "draft" in ctx.data:
        intro.append(_header(ctx, _assignment(ctx)))
    return [*intro, *_prompt(ctx)]


def cancel(ctx: Context) -> Replies:
    if "draft" in ctx.data:
        _keep(ctx)
        return [Reply(texts.CANCELLED_DRAFT_KEPT)]
    ctx.go(IDLE)
    return [Reply(texts.CANCELLED)]


def _keep(ctx: Context) -> None:
    """Park the current draft so `继续` can resume it, and return to idle."""
    snapshot = {
        "state": ctx.state,
        "data": {k: v for k, v in ctx.data.items() if not k.startswith("keep_")},
        "assignment_id": ctx.data["draft"]["assignment_id"],
    }
    ctx.go(IDLE)
    ctx.update(**{KEEP: snapshot})


def attachment_outside_dialogue(ctx: Context) -> Replies:
    return [Reply(texts.ATTACHMENT_OUTSIDE)]


def edit_last(ctx: Context) -> Replies:
    """`修改上次汇报`: the sender's newest report, prefilled, to be corrected and confirmed as a new version."""
    assert ctx.person is not None
    last = reports.last_report_by(ctx.session, ctx.person)
    if last is None:
        return [Reply(texts.NO_LAST_REPORT)]
    a = ctx.session.get(Assignment, last.assignment_id)
    assert a is not None
    fields = {
        "status": last.status,
        "percent": _num_str(last.percent),
        "investment": _num_str(last.investment_done),
        "physical": last.physical_progress,
        "indicator": last.indicator_value,
        "indicator_number": _num_str(last.indicator_number),
        "description": last.description,
        "problems": last.problems,
        "next_step": last.next_step,
        "expected": last.expected_date.isoformat() if last.expected_date else None,
    }
    draft = {
        "assignment_id": a.id,
        "fields": fields,
        "attachments": [],
        "supersedes": last.id,
        "editing": False,
        "answered": sorted(FIELD_NAMES),
    }
    ctx.go("checkin.confirm", org_id=a.organisation_id, draft=draft)
    date = _date_cn(ctx_local_date(last.created_at))
    return [Reply(texts.EDIT_LAST_INTRO.format(date=date)), _summary(ctx)]


def _num_str(v: Decimal | None) -> str | None:
    return None if v is None else fmt_number(v, 2)


def start_from_oneliner(
    ctx: Context, candidates: list[int], percent: Decimal | None, status: str | None, text: str
) -> Replies:
    """A one-line report ("污水处理设施建设完成80%"): find the task, take the figures, ask to confirm.

    Args:
        candidates: assignment ids that match the text, best first (the sender's organisation's open ones).
        percent: the percentage found in the text, if any.
        status: the status found in the text, if any.
        text: the message, kept as the description.
    """
    assert ctx.person is not None
    allowed = _allowed_assignments(ctx, candidates)
    if not allowed:
        return [Reply(texts.ONELINER_NONE.format(text=text))]
    fields = _oneliner_fields(percent, status, text)
    if len(allowed) > 1:
        choices = []
        for aid in allowed[:PAGE]:
            a = ctx.session.get(Assignment, aid)
            assert a is not None
            choices.append(Choice(a.item.label, f"#{aid}"))
        ctx.go("checkin.oneliner", options=allowed[:PAGE], fields=fields)
        return [Reply(texts.ONELINER_PICK, choices=choices)]
    return _begin_confirm(ctx, allowed[0], fields)


def _allowed_assignments(ctx: Context, candidates: list[int]) -> list[int]:
    out = []
    for aid in candidates:
        a = ctx.session.get(Assignment, aid)
        if a is None or not a.active or a.closed:
            continue
        if ctx.is_coordinator or (ctx.person is not None and a.organisation_id == ctx.person.organisation_id):
            out.append(aid)
    return out


def _oneliner_fields(percent: Decimal | None, status: str | None, text: str) -> dict[str, Any]:
    if percent is not None and status is None:
        status = DONE if percent >= 100 else (NOT_STARTED if percent == 0 else IN_PROGRESS)
    if status == DONE:
        percent = Decimal(100)
    elif status == NOT_STARTED and percent is None:
        percent = Decimal(0)
    return {"status": status or IN_PROGRESS, "percent": _num_str(percent), "description": text[:MAX_TEXT]}


def _begin_confirm(ctx: Context, assignment_id: int, fields: dict[str, Any]) -> Replies:
    a = ctx.session.get(Assignment, assignment_id)
    assert a is not None
    # Everything the one-liner did not say may stay empty: go straight to the summary.
    draft = {
        "assignment_id": assignment_id,
        "fields": fields,
        "attachments": [],
        "supersedes": None,
        "editing": False,
        "answered": sorted(FIELD_NAMES),
    }
    ctx.go("checkin.confirm", org_id=a.organisation_id, draft=draft)
    return [_summary(ctx)]


# ---- the running dialogue -----------------------------------------------------------------------------------


ACK_RE = re.compile(r"^(好|好的|收到|开始|开始汇报|汇报|1|ok|OK|嗯|行|马上|现在|来吧|是)[。!！.]?$")


def on_message(ctx: Context, text: str) -> Replies:
    if ctx.state == PROMPTED:
        # Armed by the weekly prompt: a short reply starts the check-in; anything else is a normal message.
        ctx.go(IDLE)
        if ACK_RE.match(text):
            return start(ctx)
        from handlers import router

        return router.dispatch(ctx)
    if _expired(ctx):
        if "draft" in ctx.data:
            _keep(ctx)
            return [Reply(texts.DRAFT_EXPIRED)]
        ctx.go(IDLE)
        return []
    state = ctx.state
    if state == "checkin.pick":
        return _on_pick(ctx, text)
    if state == "checkin.oneliner":
        return _on_oneliner(ctx, text)
    if state == "checkin.ask":
        return _on_answer(ctx, text)
    if state == "checkin.over":
        return _on_over(ctx, text)
    if state == "checkin.confirm":
        return _on_confirm(ctx, text)
    if state == "checkin.modify":
        return _on_modify(ctx, text)
    if state == "checkin.next":
        return _on_next(ctx, text)
    ctx.go(IDLE)
    return [Reply(texts.NOTHING_TO_CANCEL)]


def _expired(ctx: Context) -> bool:
    updated = ctx.conversation.updated_at
    if updated is None:
        return False
    return ctx.clock.utcnow() - updated > dt.timedelta(hours=ctx.settings.draft_expiry_hours)


def _pick_from(ctx: Context, text: str, options: list[int]) -> tuple[int | None, list[int]]:
    """Resolve a pick: "#id" (button), a number in the list, or words of a task name. Returns (id, ambiguous)."""
    t = normalize(text)
    m = re.fullmatch(r"#(\d+)", t)
    if m and int(m.group(1)) in options:
        return int(m.group(1)), []
    m = re.fullmatch(r"(?:第)?(\d{1,3})(?:项|个|条)?\.?", t)
    if m:
        n = int(m.group(1))
        return (options[n - 1], []) if 1 <= n <= len(options) else (None, [])
    n = to_number(t.strip("第项个条"))
    if n is not None and n == int(n) and 1 <= n <= len(options) and len(t) <= 4:
        return options[int(n) - 1], []
    if len(t) < 2:
        return None, []
    items = {a.id: a.item for a in ctx.session.execute(select(Assignment).where(Assignment.id.in_(options))).scalars()}
    scored: list[tuple[int, int]] = []
    for aid in options:
        item = items[aid]
        hay = " ".join([item.short_name or "", item.title, " ".join(item.keywords or [])])
        score = 0
        if t == item.short_name or t == item.title:
            score = 1000  # the exact name wins over a keyword shared with another task
        elif item.short_name and t in item.short_name:
            score = 200 + len(t)
        elif t in hay:
            score = 100 + len(t)
        else:
            grams = {t[i : i + 2] for i in range(len(t) - 1)}
            hits = sum(1 for g in grams if g in hay)
            if grams and hits / len(grams) >= 0.6:
                score = int(100 * hits / len(grams))
        if score:
            scored.append((score, aid))
    if not scored:
        return None, []
    scored.sort(reverse=True)
    best = [aid for s, aid in scored if s == scored[0][0]]
    return (best[0], []) if len(best) == 1 else (None, best)


def _on_pick(ctx: Context, text: str) -> Replies:
    options: list[int] = ctx.data["options"]
    org = _reporting_org(ctx)
    if normalize(text) in ("更多", "下一页", "more"):
        page = ctx.data.get("page", 0) + 1
        if page * PAGE >= len(options):
            page = 0
        ctx.update(page=page)
        views = [v for v in own_open_assignments(ctx, org.id) if v.assignment_id in options] if org else []
        return [_list_reply(org.name if org else "", views, page)]
    aid, ambiguous = _pick_from(ctx, text, options)
    if aid is None and ambiguous:
        choices = []
        for a_id in ambiguous[:PAGE]:
            a = ctx.session.get(Assignment, a_id)
            assert a is not None
            choices.append(Choice(a.item.label, f"#{a_id}"))
        return [Reply(texts.PICK_AMBIGUOUS.format(text=text), choices=choices)]
    if aid is None:
        other = _other_org_match(ctx, text)
        if other:
            return [Reply(other)]
        return [Reply(texts.PICK_NOT_FOUND.format(text=text, n=len(options)))]
    return _begin_draft(ctx, aid)


def _other_org_match(ctx: Context, text: str) -> str | None:
    """When an official names a task that belongs to another organisation, say so."""
    if ctx.is_coordinator or ctx.person is None or len(normalize(text)) < 2:
        return None
    t = normalize(text)
    plan = _plan(ctx)
    if plan is None:
        return None
    q = (
        select(Assignment, Item)
        .join(Item)
        .where(
            Item.plan_id == plan.id,
            Item.active.is_(True),
            Assignment.active.is_(True),
            Assignment.organisation_id != ctx.person.organisation_id,
        )
    )
    for a, item in ctx.session.execute(q):
        if t in (item.short_name or "") or t in item.title:
            own = ctx.person.organisation.name if ctx.person.organisation else "—"
            return texts.OTHER_ORG_TASK.format(own=own, label=item.label, other=a.organisation.name)
    return None


def _on_oneliner(ctx: Context, text: str) -> Replies:
    aid, _ = _pick_from(ctx, text, ctx.data["options"])
    if aid is None:
        return [Reply(texts.PICK_NOT_FOUND.format(text=text, n=len(ctx.data["options"])))]
    return _begin_confirm(ctx, aid, ctx.data["fields"])


def _begin_draft(ctx: Context, assignment_id: int) -> Replies:
    a = ctx.session.get(Assignment, assignment_id)
    assert a is not None
    draft = {"assignment_id": assignment_id, "fields": {}, "attachments": [], "supersedes": None, "editing": False}
    ctx.go(
        "checkin.ask",
        org_id=a.organisation_id,
        draft=draft,
        step="status",
        queue=[x for x in ctx.data.get("options", []) if x != assignment_id],
    )
    return [_header(ctx, a), *_prompt(ctx)]


def _header(ctx: Context, a: Assignment) -> Reply:
    item = a.item
    plan = item.plan
    due = a.due_date or item.due_date or plan.end_date
    target = ""
    if item.kind == INDICATOR and item.target_year_text:
        target = texts.CHECKIN_TARGET.format(target=f"{item.target_year_text}{_unit(item)}")
    elif item.kind == PROJECT and item.investment_total is not None:
        target = texts.CHECKIN_TARGET.format(target=f"总投资{fmt_number(item.investment_total, 2)}万元")
    elif item.targets:
        t = item.targets[0]
        target = texts.CHECKIN_TARGET.format(target=t.get("text") or f"{t.get('value', '')}{t.get('unit', '')}")
    return Reply(
        texts.CHECKIN_HEADER.format(
            label=item.label, org=a.organisation.name, title=item.title, due=_date_cn(due), target=target
        )
    )


def _unit(item: Item) -> str:
    return "" if not item.unit or item.unit in ("-", "—") else item.unit


def _draft(ctx: Context) -> dict[str, Any]:
    return dict(ctx.data["draft"])


def _assignment(ctx: Context) -> Assignment:
    a = ctx.session.get(Assignment, ctx.data["draft"]["assignment_id"])
    assert a is not None
    return a


def _prompt(ctx: Context) -> Replies:
    """The question for the current state (used on entry and on resume)."""
    if ctx.state == "checkin.pick":
        org = _reporting_org(ctx)
        views = [v for v in own_open_assignments(ctx, org.id) if v.assignment_id in ctx.data["options"]] if org else []
        return [_list_reply(org.name if org else "", views, ctx.data.get("page", 0))]
    if ctx.state == "checkin.confirm":
        return [_summary(ctx)]
    if ctx.state == "checkin.over":
        return [_over_reply(ctx)]
    if ctx.state != "checkin.ask":
        return []
    step = ctx.data["step"]
    a = _assignment(ctx)
    item = a.item
    status = ctx.data["draft"]["fields"].get("status")
    skip = texts.SKIP_HINT if _skippable(step, item.kind, status) else ""
    choices: list[Choice] = []
    if step == "status":
        q = texts.Q_STATUS
        choices = [Choice(label, label) for label in texts.STATUS_LABELS.values()]
    elif step == "percent":
        q = texts.Q_PERCENT
    elif step == "investment":
        q = texts.Q_INVESTMENT.format(total=fmt_number(item.investment_total, 2))
    elif step == "physical":
        q = texts.Q_PHYSICAL
    elif step == "indicator":
        q = texts.Q_INDICATOR.format(target=item.target_year_text or item.target_text or "—", unit=_unit(item))
    elif step == "description":
        q = texts.Q_DESCRIPTION
    elif step == "problems":
        q = texts.Q_PROBLEMS_BLOCKED if status == BLOCKED else texts.Q_PROBLEMS
    elif step == "next_step":
        q = texts.Q_NEXT_STEP
    elif step == "expected":
        q = texts.Q_EXPECTED
    else:
        q = texts.Q_EVIDENCE
        choices = [Choice(texts.CHOICE_DONE, texts.CHOICE_DONE), Choice(texts.CHOICE_SKIP, texts.CHOICE_SKIP)]
        return [Reply(q, choices=choices)]
    if skip:
        choices.append(Choice(texts.CHOICE_SKIP, texts.CHOICE_SKIP))
    return [Reply(q + skip, choices=choices)]


def parse_status(text: str) -> str | None:
    t = normalize(text)
    if t in STATUS_BY_NUMBER:
        return STATUS_BY_NUMBER[t]
    if t in STATUS_BY_LABEL:
        return STATUS_BY_LABEL[t]
    for status, pattern in STATUS_WORDS:
        if pattern.search(t):
            return status
    return None


def _on_answer(ctx: Context, text: str) -> Replies:
    step: str = ctx.data["step"]
    draft = _draft(ctx)
    fields = dict(draft["fields"])
    a = _assignment(ctx)
    kind = a.item.kind
    t = normalize(text)

    if step == "evidence":
        return _on_evidence(ctx, t, draft)
    if not t:
        return [Reply(_error_for(step)), *_prompt(ctx)]
    if _is_skip(t) and _skippable(step, kind, fields.get("status")):
        fields[step] = None
        return _advance(ctx, draft, fields)

    if step == "status":
        status = parse_status(t)
        pct = parse_percent(t, bare_number=False)
        if status is None and pct is not None:
            status = DONE if pct >= 100 else IN_PROGRESS
        if status is None:
            return [Reply(texts.E_STATUS), *_prompt(ctx)]
        fields["status"] = status
        if status == DONE:
            fields["percent"] = "100"
        elif status == NOT_STARTED:
            fields["percent"] = "0"
        elif pct is not None and 0 <= pct < 100:
            fields["percent"] = fmt_number(pct)
        elif fields.get("percent") in ("100", "0"):
            fields["percent"] = None
    elif step == "percent":
        pct = parse_percent(t, bare_number=True)
        if pct is None:
            return [Reply(texts.E_PERCENT), *_prompt(ctx)]
        if not 0 <= pct <= 100:
            return [Reply(texts.E_PERCENT_RANGE.format(value=fmt_number(pct))), *_prompt(ctx)]
        fields["percent"] = fmt_number(pct)
        if pct == 100 and fields.get("status") == IN_PROGRESS:
            fields["status"] = DONE
    elif step == "investment":
        amount = parse_amount(t)
        if amount is None or amount < 0:
            return [Reply(texts.E_INVESTMENT), *_prompt(ctx)]
        fields["investment"] = fmt_number(amount, 2)
        total = a.item.investment_total
        if total is not None and amount > Decimal(str(total)):
            draft["fields"] = fields
            ctx.update(draft=draft)
            ctx.conversation.state = "checkin.over"
            return [_over_reply(ctx)]
    elif step == "indicator":
        if len(t) > 100:
            return [Reply(texts.E_TEXT_LONG.format(n=len(t), limit=100)), *_prompt(ctx)]
        number = (
            parse_percent(t, bare_number=False)
            if "%" in t or "百分" in t
            else to_number(re.sub(r"[^\d.一二三四五六七八九十百千万点两零〇]", "", t) or t)
        )
        fields["indicator"] = ctx.msg.text.strip() or t
        fields["indicator_number"] = fmt_number(number, 4) if number is not None else None
    else:
        if len(t) < 2:
            return [Reply(texts.E_TEXT_SHORT), *_prompt(ctx)]
        if len(t) > MAX_TEXT:
            return [Reply(texts.E_TEXT_LONG.format(n=len(t), limit=MAX_TEXT)), *_prompt(ctx)]
        if step == "expected":
            d = parse_date(t, ctx.clock.today())
            if d is None:
                return [Reply(texts.E_DATE), *_prompt(ctx)]
            if d < ctx.clock.today():
                return [
                    Reply(texts.E_DATE_PAST.format(date=d.isoformat(), today=ctx.clock.today().isoformat())),
                    *_prompt(ctx),
                ]
            fields["expected"] = d.isoformat()
        else:
            # Store what was typed (full-width punctuation included), not the normalised form used for parsing.
            fields[step] = re.sub(r"\s+", " ", ctx.msg.text).strip() or t
    return _advance(ctx, draft, fields)


def _error_for(step: str) -> str:
    return {
        "status": texts.E_STATUS,
        "percent": texts.E_PERCENT,
        "investment": texts.E_INVESTMENT,
        "indicator": texts.E_INDICATOR,
        "expected": texts.E_DATE,
    }.get(step, texts.E_TEXT_SHORT)


def _on_evidence(ctx: Context, t: str, draft: dict[str, Any]) -> Replies:
    atts = list(draft.get("attachments", []))
    if ctx.msg.attachments:
        now = ctx.clock.utcnow()
        names = []
        for att in ctx.msg.attachments:
            row = reports.add_attachment(
                ctx.session, att.kind, att.local_path, ctx.msg.channel, now, att.file_name, att.mime_type, att.size
            )
            atts.append(row.id)
            names.append(att.file_name or att.kind)
        draft["attachments"] = atts
        ctx.update(draft=draft)
        return [
            Reply(
                texts.EVIDENCE_GOT.format(n=len(atts), name="、".join(names)),
                choices=[Choice(texts.CHOICE_DONE, texts.CHOICE_DONE)],
            )
        ]
    if t in (texts.CHOICE_DONE, "好了", "发完了", "好", "ok", "OK") or _is_skip(t):
        return _advance(ctx, draft, dict(draft["fields"]))
    return [
        Reply(
            texts.E_EVIDENCE,
            choices=[Choice(texts.CHOICE_DONE, texts.CHOICE_DONE), Choice(texts.CHOICE_SKIP, texts.CHOICE_SKIP)],
        )
    ]


def _advance(ctx: Context, draft: dict[str, Any], fields: dict[str, Any]) -> Replies:
    """Store the answer and ask the next unanswered question, or show the summary."""
    draft["fields"] = fields
    answered = set(draft.get("answered", []))
    answered.add(ctx.data["step"])
    draft["answered"] = sorted(answered)
    a = _assignment(ctx)
    if draft.get("editing"):
        draft["editing"] = False
        # A changed status may need a question it skipped before (e.g. 已完成 → 推进中 needs a %).
        missing = [
            s
            for s in steps_for(a.item.kind, fields.get("status"))
            if s not in answered and s != "evidence" and not (s in ("percent",) and fields.get("percent") is not None)
        ]
        if missing:
            draft["editing"] = True
            ctx.update(draft=draft, step=missing[0])
            ctx.conversation.state = "checkin.ask"
            return _prompt(ctx)
        ctx.update(draft=draft)
        ctx.conversation.state = "checkin.confirm"
        return [_summary(ctx)]
    steps = steps_for(a.item.kind, fields.get("status"))
    current = ctx.data["step"]
    idx = steps.index(current) + 1 if current in steps else 0
    while idx < len(steps) and steps[idx] in answered:
        idx += 1
    if idx >= len(steps):
        ctx.update(draft=draft)
        ctx.conversation.state = "checkin.confirm"
        return [_summary(ctx)]
    ctx.update(draft=draft, step=steps[idx])
    return _prompt(ctx)


def _over_reply(ctx: Context) -> Reply:
    a = _assignment(ctx)
    value = ctx.data["draft"]["fields"]["investment"]
    return Reply(
        texts.Q_INVESTMENT_OVER.format(value=value, total=fmt_number(a.item.investment_total, 2)),
        choices=[Choice(texts.CHOICE_CONFIRM, texts.CHOICE_CONFIRM), Choice(texts.CHOICE_RETRY, texts.CHOICE_RETRY)],
    )


def _on_over(ctx: Context, text: str) -> Replies:
    t = normalize(text)
    draft = _draft(ctx)
    if t in (texts.CHOICE_CONFIRM, "是", "对", "没错", "确定", "1"):
        ctx.conversation.state = "checkin.ask"
        return _advance(ctx, draft, dict(draft["fields"]))
    if t in (texts.CHOICE_RETRY, "重填", "否", "不对", "2"):
        fields = dict(draft["fields"])
        fields["investment"] = None
        draft["fields"] = fields
        ctx.update(draft=draft, step="investment")
        ctx.conversation.state = "checkin.ask"
        return _prompt(ctx)
    # A new amount typed straight away counts as re-entering it.
    if parse_amount(t) is not None:
        ctx.conversation.state = "checkin.ask"
        ctx.update(step="investment")
        return _on_answer(ctx, t)
    return [_over_reply(ctx)]


VERDICT_TEXT = {
    progress.MET: texts.INDICATOR_MET,
    progress.NOT_MET: texts.INDICATOR_NOT_MET,
    progress.UNJUDGED: texts.INDICATOR_UNKNOWN,
    progress.UNREPORTED: texts.INDICATOR_UNKNOWN,
}


def _indicator_verdict(item: Item, number: str | None, status: str | None) -> str:
    value = Decimal(number) if number is not None else None
    return VERDICT_TEXT[progress.indicator_verdict(item.check_op, item.check_value, value, status)]


def _summary(ctx: Context) -> Reply:
    draft = ctx.data["draft"]
    f = draft["fields"]
    a = _assignment(ctx)
    item = a.item
    steps = steps_for(item.kind, f.get("status"))
    if "percent" not in steps and f.get("percent") is not None:
        steps.insert(1, "percent")
    lines = [texts.SUMMARY_HEADER, f"【{item.label}】{a.organisation.name}"]
    for step in steps:
        name = FIELD_NAMES[step]
        if step == "status":
            value = texts.STATUS_LABELS.get(f.get("status") or "", texts.NONE_TEXT)
        elif step == "percent":
            value = f"{f['percent']}%" if f.get("percent") is not None else texts.NONE_TEXT
        elif step == "investment":
            value = (
                f"{f['investment']} 万元 / 总投资 {fmt_number(item.investment_total, 2)} 万元"
                if f.get("investment")
                else texts.NONE_TEXT
            )
        elif step == "indicator":
            if f.get("indicator"):
                verdict = _indicator_verdict(item, f.get("indicator_number"), f.get("status"))
                value = f"{f['indicator']}（目标 {item.target_year_text or '—'}{_unit(item)}，{verdict}）"
            else:
                value = texts.NONE_TEXT
        elif step == "expected":
            value = f["expected"] if f.get("expected") else texts.NONE_TEXT
        elif step == "evidence":
            n = len(draft.get("attachments", []))
            value = texts.EVIDENCE_COUNT.format(n=n) if n else texts.NONE_TEXT
        else:
            value = f.get(step) or texts.NONE_TEXT
        lines.append(f"• {name}：{value}")
    lines.append(texts.SUMMARY_FOOTER)
    choices = [Choice(c, c) for c in (texts.CHOICE_CONFIRM, texts.CHOICE_MODIFY, texts.CHOICE_CANCEL)]
    return Reply("\n".join(lines), choices=choices)


def _modifiable(ctx: Context) -> list[str]:
    a = _assignment(ctx)
    f = ctx.data["draft"]["fields"]
    steps = steps_for(a.item.kind, f.get("status"))
    if "percent" not in steps and a.item.kind != INDICATOR:
        steps.insert(1, "percent")
    return steps


def _field_from_text(ctx: Context, t: str) -> str | None:
    t = t.strip()
    if not t:
        return None
    options = _modifiable(ctx)
    if t.isdigit() and 1 <= int(t) <= len(options):
        return options[int(t) - 1]
    key = FIELD_ALIASES.get(t)
    if key is None:
        for alias, k in FIELD_ALIASES.items():
            if alias in t:
                key = k
                break
    return key if key in options else None


def _on_confirm(ctx: Context, text: str) -> Replies:
    t = normalize(text)
    if t in (texts.CHOICE_CONFIRM, "确定", "提交", "对", "是", "没问题", "ok", "OK", "好"):
        return _submit(ctx)
    m = re.match(r"^(?:修改|改|更改|更正)\s*(.*)$", t)
    if m:
        key = _field_from_text(ctx, m.group(1))
        if key:
            return _modify(ctx, key)
        if m.group(1):
            return [
                Reply(
                    texts.E_MODIFY.format(text=m.group(1), fields="、".join(FIELD_NAMES[s] for s in _modifiable(ctx)))
                )
            ]
        ctx.conversation.state = "checkin.modify"
        return [Reply(texts.Q_MODIFY, choices=[Choice(FIELD_NAMES[s], FIELD_NAMES[s]) for s in _modifiable(ctx)])]
    return [Reply(texts.E_CONFIRM), _summary(ctx)]


def _on_modify(ctx: Context, text: str) -> Replies:
    key = _field_from_text(ctx, normalize(text))
    if key is None:
        return [
            Reply(
                texts.E_MODIFY.format(text=text, fields="、".join(FIELD_NAMES[s] for s in _modifiable(ctx))),
                choices=[Choice(FIELD_NAMES[s], FIELD_NAMES[s]) for s in _modifiable(ctx)],
            )
        ]
    return _modify(ctx, key)


def _modify(ctx: Context, key: str) -> Replies:
    draft = _draft(ctx)
    draft["editing"] = True
    ctx.update(draft=draft, step=key)
    ctx.conversation.state = "checkin.ask"
    return _prompt(ctx)


def _submit(ctx: Context) -> Replies:
    draft = ctx.data["draft"]
    f = draft["fields"]
    a = _assignment(ctx)
    if not ctx.is_coordinator and (ctx.person is None or a.organisation_id != ctx.person.organisation_id):
        ctx.go(IDLE)
        own = ctx.person.organisation.name if ctx.person and ctx.person.organisation else "—"
        return [Reply(texts.OTHER_ORG_TASK.format(own=own, label=a.item.label, other=a.organisation.name))]
    supersedes = ctx.session.get(Report, draft["supersedes"]) if draft.get("supersedes") else None
    status = f.get("status") or IN_PROGRESS
    percent = f.get("percent")
    if status == DONE:
        percent = "100"
    fields = {
        "status": status,
        "percent": percent,
        "investment_done": f.get("investment"),
        "physical_progress": f.get("physical"),
        "indicator_value": f.get("indicator"),
        "indicator_number": f.get("indicator_number"),
        "description": f.get("description"),
        "problems": f.get("problems"),
        "next_step": f.get("next_step"),
        "expected_date": f.get("expected"),
    }
    attachment_ids = list(draft.get("attachments", []))
    if supersedes is not None:
        # An edit keeps the evidence of the version it corrects.
        attachment_ids += _copy_attachments(ctx, supersedes)
    reports.add_report(
        ctx.session,
        a,
        ctx.person,
        ctx.msg.channel,
        ctx.clock.utcnow(),
        fields,
        supersedes=supersedes,
        attachment_ids=attachment_ids,
    )
    pct = f" {percent}%" if percent is not None and status != DONE else ""
    template = texts.SUBMITTED_EDIT if supersedes else texts.SUBMITTED
    done_reply = Reply(template.format(label=a.item.label, status=texts.STATUS_LABELS[status], percent=pct))
    queue = [aid for aid in ctx.data.get("queue", []) if aid != a.id]
    org_id = a.organisation_id
    open_ids = {v.assignment_id for v in own_open_assignments(ctx, org_id)} if queue else set()
    reported_now = _reported_today(ctx, org_id)
    queue = [aid for aid in queue if aid in open_ids and aid not in reported_now]
    if queue:
        ctx.go("checkin.next", org_id=org_id, queue=queue)
        return [
            done_reply,
            Reply(
                texts.Q_NEXT_TASK.format(n=len(queue)),
                choices=[Choice(texts.CHOICE_NEXT, texts.CHOICE_NEXT), Choice(texts.CHOICE_END, texts.CHOICE_END)],
            ),
        ]
    ctx.go(IDLE)
    if supersedes is None and not ctx.data.get("queue") and "options" not in ctx.data:
        return [done_reply]
    return [done_reply, Reply(texts.ALL_REPORTED)]


def _copy_attachments(ctx: Context, old: Report) -> list[int]:
    """Copies of the corrected version's evidence, for the new version (the old keeps its own). Returns their ids."""
    now = ctx.clock.utcnow()
    copies = [
        reports.add_attachment(
            ctx.session, att.kind, att.path, att.channel, now, att.file_name, att.mime_type, att.size
        )
        for att in old.attachments
    ]
    return [c.id for c in copies]


def _reported_today(ctx: Context, org_id: int) -> set[int]:
    """Assignments of the organisation with a report in the last 12 hours (done in this sitting)."""
    since = ctx.clock.utcnow() - dt.timedelta(hours=12)
    rows = ctx.session.execute(
        select(Report.assignment_id)
        .join(Assignment, Assignment.id == Report.assignment_id)
        .where(Assignment.organisation_id == org_id, Report.created_at >= since)
    ).scalars()
    return set(rows)


def _on_next(ctx: Context, text: str) -> Replies:
    t = normalize(text)
    queue: list[int] = ctx.data.get("queue", [])
    if t in (texts.CHOICE_NEXT, "继续", "下一个", "好", "是", "1") and queue:
        ctx.update(options=queue)
        return _begin_draft(ctx, queue[0])
    if t in (texts.CHOICE_END, "不了", "否", "结束", "2", "算了", "先这样"):
        ctx.go(IDLE)
        return [Reply(texts.END_SESSION)]
    # Anything else: leave the offer and treat the text as a new message.
    ctx.go(IDLE)
    from handlers import router

    return router.dispatch(ctx)
