"""Intents, and the interpretation of a message once its names are found.

Intents come from small patterns on what is left once names are masked (逾期, 没汇报, 投资, 我的任务...). Items
named are scored: a name beats a keyword, "项目"/"指标" in the message favour projects/indicators, and an
organisation named in the message favours the items that name it (朗县 + 湿地 → 冲康村湿地项目). Ties become
numbered choices.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal

from db.models import BLOCKED, EVENT, INDICATOR, PROJECT, TASK
from handlers import vocabulary
from handlers.gate import Gated
from handlers.understanding import cues
from handlers.understanding.lexicon import ITEM, ORG, W_ITEM_NAME, W_KEYWORD, Lexicon
from handlers.understanding.names import (
    NUMBERED_RE,
    OrgMention,
    Span,
    children_win,
    container,
    numbered_item,
)
from handlers.understanding.numbers import parse_percent
from handlers.understanding.report import report_figures, report_quantity
from handlers.understanding.result import MAX_CHOICES, Candidate, Understanding
from handlers.understanding.windows import find_window

# Intents
PROGRESS, OVERDUE, UNREPORTED, INVESTMENT, MY_TASKS, HELP, REPORT, UNKNOWN, ON_LEAVE = (
    "progress",
    "overdue",
    "unreported",
    "investment",
    "my_tasks",
    "help",
    "report",
    "unknown",
    "on_leave",
)
# The questions of a plan under way: items due in a window, counts, the lists that need action, 催办.
DUE, COUNT, LAGGING, BLOCKED_LIST, PROBLEMS, UNMET, REPORTED, RANKING, URGE = (
    "due",
    "count",
    "lagging",
    "blocked",
    "problems",
    "unmet",
    "reported",
    "ranking",
    "urge",
)
MY_UNREPORTED, REVIEW_QUEUE, RETURNED, EXPORT = "my_unreported", "review_queue", "returned", "export"
DONE_LIST, WEEKLY, URGED = "done", "weekly", "urged"
UNDER_WAY = frozenset(
    {DUE, COUNT, LAGGING, BLOCKED_LIST, PROBLEMS, UNMET, REPORTED, RANKING, URGE, MY_UNREPORTED, REVIEW_QUEUE, RETURNED}
    | {EXPORT, DONE_LIST, WEEKLY, URGED}
)
INTENTS = (
    PROGRESS,
    OVERDUE,
    UNREPORTED,
    INVESTMENT,
    MY_TASKS,
    HELP,
    REPORT,
    UNKNOWN,
    ON_LEAVE,
    DUE,
    COUNT,
    LAGGING,
    BLOCKED_LIST,
    PROBLEMS,
    UNMET,
    REPORTED,
    RANKING,
    URGE,
    MY_UNREPORTED,
    REVIEW_QUEUE,
    RETURNED,
    EXPORT,
    DONE_LIST,
    WEEKLY,
    URGED,
)
# Intents about people, reports or whole lists: an item's name in them is a word, not the subject.
ITEMLESS = frozenset({COUNT, REPORTED, RANKING, URGE, MY_UNREPORTED, REVIEW_QUEUE, RETURNED, UNREPORTED, HELP, UNKNOWN})
ITEMLESS |= {ON_LEAVE, REPORT, EXPORT, WEEKLY, URGED}
# Lists of units, which "哪些县" / "哪些部门" narrow to the counties / the departments.
UNIT_LISTS = frozenset(
    {UNREPORTED, REPORTED, RANKING, URGE, LAGGING, OVERDUE, BLOCKED_LIST, PROBLEMS, DUE, DONE_LIST, URGED}
)
# Lists and counts that may be asked as a number ("几个") or for their reasons ("原因").
AGGREGATED = frozenset({DUE, COUNT, LAGGING, BLOCKED_LIST, PROBLEMS, UNMET, REPORTED, REVIEW_QUEUE, RETURNED, OVERDUE})
AGGREGATED |= {UNREPORTED, MY_UNREPORTED}
# Lists of items that one item's name narrows to that item.
LISTS = frozenset({DUE, LAGGING, BLOCKED_LIST, PROBLEMS, UNMET, OVERDUE})
UNCHANGED = "unchanged"  # a report's status: nothing changed since the last version (无变化)

ASKS_FOR_HELP = Gated(vocabulary.ASKS_FOR_HELP_RE)

# How items named are scored
KIND_BONUS, CONTEXT_BONUS, ASSIGNEE_BONUS = 3.0, 3.0, 1.5
TIE_MARGIN = 0.75
CHOICE_OWNERS = 2  # a choice names at most this many of its item's units
VERBATIM_BONUS = 4.0
MIN_ITEM_SCORE = 0.5

_QUESTION_MARK = re.compile(r"[?？]")
UNREPORTED_RE = Gated(
    re.compile(
        r"(没|未|没有|尚未|还没|还未|不)(有)?(按时)?(汇报|报送|上报|填报|报进度|报进展|报|交|提交|反馈)"
        r"|(汇报|报送|上报|填报|报|交)(了)?(吗|没|没有|了没)"
        r"|有没有(汇报|报送|上报|填报|报)|(汇报|报送|填报|上报)(情况|率)"
    )
)
OVERDUE_RE = Gated(
    re.compile(
        r"逾期|超期|延期|过期|拖期|超时|误期|拖延|拖了|超过(了)?(截止|期限|时限)|过了(截止|期限|时限)"
        r"|(没|未)按(时|期)|到期(没|未)(有)?完成|已到期|晚了"
    )
)
# "水利局上周汇报了没": with a time window, whether a unit reported then (who reported), not who is silent.
YES_NO_REPORTED_RE = re.compile(r"(汇报|报送|上报|填报|报|交|提交)(过)?了?(吗|没|没有)$")
# Who is on leave: "谁请假了", "请假人员", "谁在休假", "请假名单", "哪些人请假了", "墨脱县有人请假吗".
ON_LEAVE_RE = Gated(
    re.compile(
        r"(谁|哪些人|哪几个人|哪位|有人|有没有人|几个人|多少人)(在|正在|还在)?(请假|休假|请了假)"
        r"|^(请假|休假)(的)?(人员|名单|人|情况|的人|人数)"
        r"|(人员|名单)?(请假|休假)(人员|名单|情况)$"
    )
)
INVESTMENT_RE = re.compile(r"投资|投入了?多少|花了多少|资金完成|完成资金|钱")
PROGRESS_RE = re.compile(
    r"进度|进展|情况|怎么样|如何|怎样|咋样|咋了|完成|落实|推进|做得|干得|状态|动态|汇总|查|看|多少|达标|达到|啥样|怎么了"
)
QUESTION_RE = re.compile(
    r"[?？]|吗|么|呢|怎么|如何|怎样|咋|多少|几个|几项|哪|谁|是否|有没有|有无|查|看看|看下|看一下|问一下|达标|情况$|进度$|进展$"
    r"|了没(有)?$|完成没(有)?$"
)
OWN_RE = re.compile(
    r"本单位|我单位|我们单位|本局|我局|我们局|本县|我县|我们县|我区|本区|我们区|我办|本办|我们办|我的|我们的|咱们的|咱的|我们有|我有"
)
MY_TASKS_RE = re.compile(
    r"^(我|我们|咱|咱们|俺|本人)(这边|这里|这儿)?(单位|局|县|区|办)?(的)?(任务|工作|事|事情|进度|进展|情况|活)"
    r"|^(我|我们|咱|咱们|俺|本人)(这边|这里|这儿)?(单位|局|县|区|办)?(该|要|得|需要)?(负责|分管|承担|牵头|手上|手头|名下|做|干|办)"
)
ALL_RE = re.compile(
    r"全市|全林芝|林芝市整体|总体|整体|全部单位|全部任务|所有单位|所有任务|全局|总的|全盘|各单位|总进度|全部进度|全部情况"
    # 汇总 is the whole plan; the names of the workbook (汇总表) and of the digest (周汇总, 每周汇总) are not
    r"|(?<!周)汇总(?!表)"
    # 林芝市 (林芝) alone is the whole city, not 米林市 mistyped; left in the masked text only when no unit's
    # name (林芝市巴宜区, 林芝市水利局, 林芝县 = 巴宜区's former name) took it.
    r"|林芝市|林芝"
)
# A question that lists ("哪些", "清单", "…的任务"): with a cue such as 受阻 it asks, it does not report.
LIST_ASK_RE = re.compile(
    r"哪些|哪个|哪几|什么|啥|清单|列表|名单|有没有|有无|多少|几个|几项|几条|统计|汇总|看看|看一下|查一下|列出|列一下|给我"
    r"|是不是|的没$|的吗$|没有$|的(任务|项目|工程|事项|工作|事情|指标|单位|县|部门|活动|报告|汇报)?$|情况$"
)
PROJECT_HINT = re.compile(r"项目|工程")
# A kind's name typed alone ("指标", "工程项目", "全部项目"): that kind's overview.
KIND_ALONE_RE = re.compile(
    r"(所有|全部|各|全市)?的?(工程项目|建设项目|重点项目|工程|项目|考核指标|指标|宣传活动|活动)(一览|总览|汇总表?)?$"
)
INDICATOR_HINT = re.compile(r"指标|达标|目标值|达到目标")
TASK_HINT = re.compile(r"任务")


def interpret(
    lex: Lexicon,
    raw: str,
    t: str,
    masked: str,
    spans: list[Span],
    unknown: list[str],
    numbered: list[re.Match[str]] | None = None,
    today: dt.date | None = None,
    own_orgs: frozenset[int] | None = None,
    cue_masked: str | None = None,
) -> Understanding:
    """What a message asks for, once its names are found.

    Args:
        lex: the lexicon the names were found in.
        raw: the message as typed.
        t: the message in the form of `normalize_for_matching`.
        masked: `t` with every name found masked (`names.mask`).
        spans: the names found.
        unknown: the leftover words that matched nothing.
        numbered: the plan numbers in `t` (None: look for them here).
        today: the day relative words ("本月", "下周") count from; None: no time window is read.
        own_orgs: an official's own units: an item's name means one of theirs, never another unit's.
        cue_masked: `t` with only sure names masked (`names.sure_name`), where cue words are read; None: `masked`.
    """
    window = find_window(t, today) if today is not None else None
    cues_in = cue_masked if cue_masked is not None else masked
    if window is not None:
        # the window's words are not cues ("本周" is no report, "7月" no number of a list line)
        masked = _blank(masked, window.begin, window.stop)
        cues_in = _blank(cues_in, window.begin, window.stop)
    org_mentions, group, group_members, item_scores = _mentions(lex, spans)
    _score_numbered(lex, numbered if numbered is not None else NUMBERED_RE.finditer(t), item_scores)
    own = bool(OWN_RE.search(masked)) and not org_mentions
    if (
        group is not None
        and OWN_RE.search(cues_in)
        and not any(sp.meaning.group and cues_in[sp.start] == "＃" for sp in spans)
    ):
        # "本单位…": the asker's own unit, not a group guessed from "单位"
        group, group_members = None, ()
    scope_all = bool(ALL_RE.search(masked))
    org_ids, ambiguous = _organisations(lex, t, org_mentions)
    investment_q = bool(INVESTMENT_RE.search(masked))
    ranked = _rank_items(lex, t, masked, item_scores, org_ids, org_mentions, investment_q) if item_scores else []
    line = _list_line(masked) if window is None else None
    no_change = False
    if line is not None:
        item_number, percent, status = line
        amount, quantity = None, None
    else:
        item_number = None
        # a date is no figure: "7月份", "11月20号" are left out of what a report states
        figures_in = _blank(t, window.begin, window.stop) if window is not None else t
        percent, status, amount = report_figures(figures_in)
        quantity = report_quantity(figures_in) if percent is None else None
        no_change = bool(cues.NO_CHANGE_RE.search(cues_in)) or _no_change(masked)
        if status is None and percent is None and no_change:
            status = UNCHANGED
    sure = (
        _sure_items(spans, cues_in, numbered if numbered is not None else NUMBERED_RE.finditer(t), lex)
        if ranked
        else set()
    )
    kind = cues.kind_of(cues_in)
    # the window ends after today ("下周五前完成": a day still to come); it is all ahead ("下个月", "下周五前"):
    # nothing can have been done in it
    ends_ahead = ahead = False
    if window is not None and today is not None and window.end > today:
        ends_ahead, ahead = True, window.before or window.start > today
    intent = _intent(
        raw,
        masked,
        cues_in,
        report_signal=percent is not None or status is not None or amount is not None or quantity is not None,
        investment_q=investment_q,
        own=own,
        scope_all=scope_all,
        named=bool(org_ids or group or ambiguous),
        ranked=bool(ranked),
        sure_item=any(k in sure for k, _ in ranked),
        kind=kind,
        no_change=no_change,
        status_only=status is not None and percent is None and amount is None and quantity is None,
        unknown=bool(unknown),
        window=window is not None,
        list_line=line is not None,
        expected_done=ends_ahead and bool(ranked) and bool(cues.EXPECTED_DONE_RE.search(cues_in)),
        ahead=ahead,
    )
    if intent == REPORT and status == UNCHANGED and line is None and cues.ALL_ITEMS_RE.search(cues_in):
        scope_all = True
    if own_orgs is not None and ranked:
        # an official's words name his own items first: another unit's are never offered as choices; one named
        # outright by its name ("八及曲项目") is kept, and answered with a refusal that names only what he typed
        own_items = [(k, v) for k, v in ranked if own_orgs & lex.item_assignees.get(k, frozenset())]
        if own_items:
            ranked = own_items
        elif len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - TIE_MARGIN:
            ranked = []
        ambiguous = [c for c in ambiguous if c.kind == ORG]
    if intent in UNIT_LISTS and group is None and not org_ids and not ambiguous:
        # "哪些县还没报进度": the counties, not every unit
        sort = lex.county_group if cues.COUNTIES_RE.search(cues_in) else None
        sort = sort or (lex.dept_group if cues.DEPARTMENTS_RE.search(cues_in) else None)
        if sort is not None and sort in lex.groups:
            group, group_members = sort, lex.groups[sort].member_ids
    if intent in LISTS and ranked:
        # a list question names an item only by its name ("监测中心受阻原因"), not by a word that one of the
        # items' keywords happens to be ("6月底前要交的材料"); a guessed (partial, mistyped) name only without a
        # time window (for an official, among his own items only: "两山方案是不是已经过期了")
        guessed = window is None
        ranked = [(k, v) for k, v in ranked if k in sure or (guessed and _named_above_keyword(spans, k))]
    item_id: int | None = None
    if ranked and not ambiguous and intent not in ITEMLESS:
        item_id, ambiguous = _pick_item(lex, ranked, org_ids, label_orgs=own_orgs is None)
    return _settle(
        lex,
        Understanding(
            text=raw,
            intent=intent,
            group=group,
            scope_all=scope_all,
            own=own or (intent == MY_UNREPORTED),
            item_id=item_id,
            item_ids=tuple(k for k, _ in ranked),
            item_scores=tuple(ranked),
            percent=percent,
            status=status,
            amount=amount,
            quantity=quantity[0] if quantity else None,
            quantity_unit=quantity[1] if quantity else None,
            unknown_words=tuple(unknown),
            kind=kind,
            window_start=window.start if window else None,
            window_end=window.end if window else None,
            window_before=window.before if window else False,
            # how a list is asked for: a number ("几个"), the reasons ("原因"); only lists have these
            count=intent in AGGREGATED and _asks_count(cues_in),
            reason=intent in AGGREGATED and bool(cues.REASON_RE.search(cues_in)),
            item_number=item_number,
        ),
        org_ids,
        group_members,
        ambiguous,
    )


def _sure_items(spans: list[Span], cue_masked: str, numbered: Iterable[re.Match[str]], lex: Lexicon) -> set[int]:
    """The items named by a sure name (masked in `cue_masked`: not a guess at a mistyped name, not a keyword)
    or by their plan number."""
    sure = {k for sp in spans if cue_masked[sp.start : sp.start + 1] == "＃" for k, _ in sp.meaning.items}
    sure |= {k for nm in numbered if (k := numbered_item(lex, nm)) is not None}
    return sure


def _named_above_keyword(spans: list[Span], item_id: int) -> bool:
    """Whether a span names the item more strongly than one of its keywords would (a partial or mistyped name)."""
    return any(k == item_id and w > W_KEYWORD for sp in spans for k, w in sp.meaning.items)


def _asks_count(text: str) -> bool:
    return bool(cues.COUNT_RE.search(text)) and not cues.NOT_A_COUNT_RE.search(text)


def _blank(text: str, begin: int, stop: int) -> str:
    return text[:begin] + "□" * (stop - begin) + text[stop:]


_NO_CHANGE = Gated(vocabulary.NO_CHANGE_RE)
_ALL_NO_CHANGE = Gated(vocabulary.ALL_NO_CHANGE_RE)


def _no_change(masked: str) -> bool:
    """The whole message says nothing changed ("无变化", "全部无变化")."""
    return bool(_NO_CHANGE.match(masked) or _ALL_NO_CHANGE.match(masked))


def _list_line(masked: str) -> tuple[int, Decimal | None, str | None] | None:
    """A line of the check-in list ("3 推进中 60", "5 完成", "7 受阻 资金未到位", "2 无变化"): (the item's number,
    percent, status); None when the text is not one."""
    if not (masked[:1].isdigit() or masked.startswith("第")):
        return None
    m = cues.LIST_LINE_RE.match(masked)
    if m is None:
        return None
    number = int(m.group(1) or m.group(3))
    rest = (m.group(2) or m.group(4) or "").strip("、")
    if not rest or number == 0:
        return None
    if _no_change(rest):
        return number, None, UNCHANGED
    head, _, tail = rest.partition("、")
    status = vocabulary.parse_status(head)
    if status is None:
        status = vocabulary.stated_status(head) if len(head) <= 4 else None
    if status is None:
        percent = parse_percent(rest)
        return (number, percent, None) if percent is not None and 0 <= percent <= 100 else None
    if status == BLOCKED or not tail:
        return number, None, status  # a blocked line's tail is its reason
    percent = parse_percent(tail)
    if percent is None or not 0 <= percent <= 100:
        return None
    return number, percent, status


def _mentions(
    lex: Lexicon, spans: list[Span]
) -> tuple[list[OrgMention], str | None, tuple[int, ...], dict[int, float]]:
    """The names found, sorted out: (organisation mentions, the first group named, its members, item scores)."""
    org_mentions: list[OrgMention] = []
    group: str | None = None
    group_members: tuple[int, ...] = ()
    item_scores: dict[int, float] = {}
    for s in spans:
        m = s.meaning
        if m.org_ids:
            org_mentions.append((s, m.org_ids))
        elif m.group is not None:
            g = lex.groups.get(m.group)
            if g is not None and group is None:
                group, group_members = g.name, g.member_ids
        else:
            for key, weight in m.items:
                item_scores[key] = item_scores.get(key, 0.0) + weight
    return org_mentions, group, group_members, item_scores


def _score_numbered(lex: Lexicon, numbered: Iterable[re.Match[str]], item_scores: dict[int, float]) -> None:
    """A plan number ("项目2", "第十五项指标") names its item more strongly than any name."""
    for nm in numbered:
        item_id = numbered_item(lex, nm)
        if item_id is not None:
            item_scores[item_id] = item_scores.get(item_id, 0.0) + W_ITEM_NAME * 2


def _organisations(lex: Lexicon, t: str, org_mentions: list[OrgMention]) -> tuple[list[int], list[Candidate]]:
    """The organisations named without doubt, and the candidates of a name that may mean several."""
    ambiguous: list[Candidate] = []
    org_ids: list[int] = []
    for _span, ids in org_mentions:
        if len(ids) == 1:
            if ids[0] not in org_ids:
                org_ids.append(ids[0])
        else:
            ambiguous = [Candidate(ORG, i, lex.org_name(i)) for i in ids]
    if len(org_ids) > 1:
        org_ids = children_win(lex, t, org_mentions, org_ids)
    holder = container(lex, t, org_mentions) if len(org_ids) > 1 else None
    if holder is not None:
        # "工布江达生态环境局": the branch 市生态环境局工布江达县分局, or the two organisations?
        ambiguous = [Candidate(ORG, holder, lex.org_name(holder))] + [
            Candidate(ORG, i, lex.org_name(i)) for i in org_ids
        ]
        org_ids = []
    return org_ids, ambiguous


def _rank_items(
    lex: Lexicon,
    t: str,
    masked: str,
    item_scores: dict[int, float],
    org_ids: list[int],
    org_mentions: list[OrgMention],
    investment_q: bool,
) -> list[tuple[int, float]]:
    """The items named, with their final scores, best first."""
    hint = None
    if investment_q or PROJECT_HINT.search(masked):
        hint = PROJECT
    elif INDICATOR_HINT.search(masked):
        hint = INDICATOR
    elif TASK_HINT.search(masked):
        hint = TASK
    mentioned = set(org_ids) | {i for _, ids in org_mentions for i in ids}
    final: dict[int, float] = {}
    for item_id, score in item_scores.items():
        it = lex.items[item_id]
        if score < MIN_ITEM_SCORE:
            continue
        if hint and it.kind == hint:
            score += KIND_BONUS
        short = lex.item_short.get(item_id)
        if short is not None and short in t:
            # the whole short name is in the message, though segmentation split it ("饮用水|水源地|水质")
            score += VERBATIM_BONUS
        if mentioned:
            if mentioned & lex.item_context.get(item_id, frozenset()):
                score += CONTEXT_BONUS
            if mentioned & lex.item_assignees.get(item_id, frozenset()):
                score += ASSIGNEE_BONUS
        final[item_id] = score
    if investment_q:
        # only projects have investment figures
        projects_only = {k: v for k, v in final.items() if lex.items[k].kind == PROJECT}
        if projects_only:
            final = projects_only
    return sorted(final.items(), key=lambda kv: (-kv[1], kv[0]))


def _intent(
    raw: str,
    masked: str,
    cue: str,
    *,
    report_signal: bool,
    investment_q: bool,
    own: bool,
    scope_all: bool,
    named: bool,
    ranked: bool,
    unknown: bool,
    kind: str | None = None,
    no_change: bool = False,
    status_only: bool = False,
    sure_item: bool = False,
    window: bool = False,
    list_line: bool = False,
    expected_done: bool = False,
    ahead: bool = False,
) -> str:
    """The intent, from the patterns on the masked message and what it names.

    The order is the rule: actions and people first (催办, 请假, 帮助), then the review's lists, the asker's own
    unreported items, who has or has not reported, the filters (逾期, 滞后, 受阻, 困难, 未达标), rankings,
    deadlines in a window, counts; a report only when nothing is asked; then investment, the asker's own tasks
    and progress.

    Args:
        report_signal: a percentage, status or amount is stated.
        named: an organisation or group is named, or a name is ambiguous.
        ranked: an item is named.
        kind: the kind of item the message names (`cues.kind_of`).
        no_change: the message says nothing changed (无变化, 和上次一样).
        status_only: what is stated is a status alone (no percentage, amount or quantity).
        sure_item: an item is named by its name or plan number (not only by a keyword or a guess).
        unknown: words were left that match nothing.
        window: a time window is stated.
        list_line: the message is a line of the check-in list ("3 推进中 60").
        expected_done: an item is named and said done on a day ahead ("污水处理厂下周五前完成").
        ahead: the window is still to come ("下周", "下周五前"): nothing can have been done in it.
        cue: the message where the cue words are read (only sure names masked).
    """
    if list_line:
        return REPORT
    has_entity = named or ranked
    kind_word = kind is not None

    # whether it asks, and asks for a list: read only when a cue needs them (most messages end before)
    memo: list[bool] = []

    def lists() -> bool:
        if not memo:
            asks_ = bool(QUESTION_RE.search(masked) or _QUESTION_MARK.search(raw) or cues.WHAT_RE.search(cue))
            memo.extend((asks_, asks_ or bool(LIST_ASK_RE.search(masked))))
        return memo[1]

    def asks() -> bool:
        return lists() and memo[0]

    if cues.URGED_RE.search(cue) and not report_signal:
        return URGED  # "这周谁被催过": the record, not a 催办
    if cues.URGE_RE.search(cue) and not (report_signal and not lists()):
        return URGE
    if cues.WEEKLY_RE.search(cue) and not report_signal:
        return WEEKLY  # "周报", "上周周报", "墨脱县的周报": the digest of the units named or the asker's scope
    if cues.EXPORT_RE.search(cue) and not report_signal:
        return EXPORT  # "导出", "墨脱县的汇总表": the workbook, of the units named or the asker's scope
    if (ON_LEAVE_RE.search(masked) or cues.LEAVE_RE.search(cue)) and not report_signal:
        return ON_LEAVE
    if ASKS_FOR_HELP.search(masked) and not has_entity:
        return HELP
    if cues.HOW_TO_RE.search(cue) and not (named or sure_item):
        return HELP
    if cues.REVIEW_QUEUE_RE.search(cue):
        return REVIEW_QUEUE
    if cues.RETURNED_RE.search(cue) and (lists() or not report_signal):
        return RETURNED
    own_start = own or bool(cues.OWN_START_RE.search(cue))
    if own_start and not named and cues.MY_UNREPORTED_RE.search(cue) and not report_signal:
        return MY_UNREPORTED
    if UNREPORTED_RE.search(cue) and (lists() or not report_signal) and not (window and YES_NO_REPORTED_RE.search(cue)):
        return UNREPORTED
    if cues.REPORTED_RE.search(cue) and (lists() or not report_signal):
        return REPORTED
    if window and not report_signal and (cues.REPORTS_NOUN_RE.search(cue) or YES_NO_REPORTED_RE.search(cue)):
        return REPORTED
    if OVERDUE_RE.search(cue):
        return OVERDUE
    if cues.LAGGING_RE.search(cue) and (lists() or not report_signal):
        return LAGGING
    if cues.BLOCKED_RE.search(cue) and (lists() or not report_signal or (status_only and (named or kind_word))):
        # "受阻 察隅县", "旅发局受阻事项": a blocked unit's or kind's list; "资金没到位卡住了" reports
        return BLOCKED_LIST
    if cues.UNMET_RE.search(cue) and (lists() or not report_signal):
        return UNMET
    if cues.DONE_LIST_RE.search(cue) and lists() and not sure_item and not ahead:
        return DONE_LIST  # "哪些任务完成了", "已完成的事项"; "污水处理已完成" reports
    if cues.PROBLEMS_RE.search(cue) and (lists() or not report_signal):
        return PROBLEMS
    if cues.RANKING_RE.search(cue):
        return RANKING
    if not (named or window or report_signal) and kind in (None, TASK) and MY_TASKS_RE.search(cue):
        return MY_TASKS  # "我要做的事情都有啥": the asker's own tasks, not what falls due
    if expected_done and not lists():
        return REPORT  # "污水处理厂下周五前完成": when it is expected done, not what falls due next Friday
    if cues.DUE_SOON_RE.search(cue) or (
        window and (cues.DUE_RE.search(cue) or (lists() and not sure_item and (kind_word or cues.WHAT_RE.search(cue))))
    ):
        return DUE
    if not report_signal and not sure_item and cues.DUE_RE.search(cue) and lists():
        return DUE
    if (
        kind in cues.COUNTABLE
        and cues.COUNT_RE.search(cue)
        and not cues.NOT_A_COUNT_RE.search(cue)
        and not investment_q
    ):
        return COUNT
    if no_change and not (not _no_change(masked) and asks()):
        return REPORT
    if report_signal and not (QUESTION_RE.search(masked) or _QUESTION_MARK.search(raw)):
        return REPORT
    if investment_q:
        return INVESTMENT
    if (MY_TASKS_RE.search(masked) or own) and not named:
        if kind in (PROJECT, INDICATOR, EVENT):
            return PROGRESS  # "我们县有哪些项目": the own unit's projects
        return MY_TASKS if not ranked else PROGRESS
    if has_entity or scope_all or (PROGRESS_RE.search(masked) and not unknown):
        # "进度怎么样" is the whole city; "今天天气怎么样" is not a question about the plan
        return PROGRESS
    if kind in (PROJECT, INDICATOR, EVENT) and (lists() or KIND_ALONE_RE.match(masked)):
        return PROGRESS  # "有哪些项目"; "指标", "工程项目" typed alone
    return UNKNOWN


def _pick_item(
    lex: Lexicon, ranked: list[tuple[int, float]], org_ids: list[int], label_orgs: bool = True
) -> tuple[int | None, list[Candidate]]:
    """The one item meant, or the candidates when several score alike (labelled with whose each is, unless
    `label_orgs` is False: an official's choices are all his own)."""
    top = ranked[0][1]
    tied = [k for k, v in ranked if v >= top - TIE_MARGIN]
    if len(tied) > 1 and org_ids:
        # several items fit: those of the organisation named win
        wanted = set(org_ids)
        own_items = [
            k for k in tied if wanted & (lex.item_assignees.get(k, frozenset()) | lex.item_context.get(k, frozenset()))
        ]
        tied = own_items or tied
    if len(tied) == 1:
        return tied[0], []
    return None, [Candidate(ITEM, k, _choice_label(lex, k, label_orgs)) for k in tied[:MAX_CHOICES]]


def _choice_label(lex: Lexicon, item_id: int, label_orgs: bool) -> str:
    """An item offered as a choice: its label, and whose it is when that tells the choices apart."""
    label = lex.item_label(item_id)
    owners = sorted(lex.item_assignees.get(item_id, frozenset()))
    if not label_orgs or not owners:
        return label
    names = [lex.org_label(o) for o in owners[:CHOICE_OWNERS]]
    more = len(owners) - len(names)
    return label + "（" + "、".join(names) + (f"等{len(owners)}个单位" if more > 0 else "") + "）"


def _settle(
    lex: Lexicon, u: Understanding, org_ids: list[int], group_members: tuple[int, ...], ambiguous: list[Candidate]
) -> Understanding:
    """`u` (intent, item and figures drafted) made consistent: the item's plan number, the organisations (with a
    group's members), and only what the intent uses. `u` is still being built: nothing else has seen it yet."""
    item_id, intent = u.item_id, u.intent
    item_kind = project = indicator = None
    if item_id is not None:
        it = lex.items[item_id]
        item_kind = it.kind
        if it.kind == PROJECT:
            project = it.number
        elif it.kind == INDICATOR:
            indicator = it.number
        if it.kind in (PROJECT, INDICATOR) and org_ids:
            # an organisation that the item's own name or keywords mention only pointed at the item
            ctx_orgs = lex.item_context.get(item_id, frozenset())
            org_ids = [o for o in org_ids if o not in ctx_orgs]
        if intent == MY_TASKS:
            intent = PROGRESS
    if u.group and not org_ids:
        org_ids = list(group_members)
    elif u.group and org_ids:
        org_ids = list(dict.fromkeys(list(org_ids) + list(group_members)))
    if intent == INVESTMENT and item_kind not in (None, PROJECT):
        item_id = item_kind = None
        indicator = None
    if intent in ITEMLESS:
        # a report names its task among the sender's own; a count, a list of reports or people, a 催办 are not
        # about one item: the plan numbers do not apply
        project = indicator = None
        item_id = item_kind = None
        ambiguous = [c for c in ambiguous if c.kind == ORG]
    u.intent, u.item_id, u.item_kind, u.project, u.indicator = intent, item_id, item_kind, project, indicator
    u.org_ids = tuple(org_ids)
    u.org_names = tuple(lex.org_name(o) for o in org_ids)
    u.scope_all = u.scope_all and not org_ids and item_id is None
    u.ambiguous = tuple(ambiguous)
    if intent != REPORT:
        u.percent = u.status = u.amount = u.quantity = None
        u.quantity_unit = None
        u.item_number = None
    return u
