"""Intents, and the interpretation of a message once its names are found.

Intents come from small patterns on what is left once names are masked (逾期, 没汇报, 投资, 我的任务...). Items
named are scored: a name beats a keyword, "项目"/"指标" in the message favour projects/indicators, and an
organisation named in the message favours the items that name it (朗县 + 湿地 → 冲康村湿地项目). Ties become
numbered choices.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from db.models import INDICATOR, PROJECT, TASK
from handlers import vocabulary
from handlers.understanding.lexicon import ITEM, ORG, W_ITEM_NAME, Lexicon
from handlers.understanding.names import NUMBERED_RE, OrgMention, Span, children_win, container, numbered_item
from handlers.understanding.report import report_figures, report_quantity
from handlers.understanding.result import MAX_CHOICES, Candidate, Understanding

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
URGE = "urge"
INTENTS = (PROGRESS, OVERDUE, UNREPORTED, INVESTMENT, MY_TASKS, HELP, REPORT, UNKNOWN, ON_LEAVE, URGE)

# How items named are scored
KIND_BONUS, CONTEXT_BONUS, ASSIGNEE_BONUS = 3.0, 3.0, 1.5
TIE_MARGIN = 0.75
VERBATIM_BONUS = 4.0
MIN_ITEM_SCORE = 0.5

_QUESTION_MARK = re.compile(r"[?？]")
UNREPORTED_RE = re.compile(
    r"(没|未|没有|尚未|还没|还未|不)(有)?(按时)?(汇报|报送|上报|填报|报进度|报进展|报|交|提交|反馈)"
    r"|(汇报|报送|上报|填报|报|交)(了)?(吗|没|没有|了没)"
    r"|有没有(汇报|报送|上报|填报|报)|谁.{0,4}(汇报|报送|填报|上报)"
    r"|(汇报|报送|填报|上报)(情况|率)|(哪些|哪个|几个)(单位|部门|县)?(已经?)?(汇报|报送|填报|上报)"
)
OVERDUE_RE = re.compile(
    r"逾期|超期|延期|过期|拖期|超时|误期|拖延|拖了|超过(了)?(截止|期限|时限)|过了(截止|期限|时限)"
    r"|(没|未)按(时|期)|到期(没|未)(有)?完成|已到期|晚了"
)
# Who is on leave: "谁请假了", "请假人员", "谁在休假", "请假名单", "哪些人请假了", "墨脱县有人请假吗".
ON_LEAVE_RE = re.compile(
    r"(谁|哪些人|哪几个人|哪位|有人|有没有人|几个人|多少人)(在|正在|还在)?(请假|休假|请了假)"
    r"|^(请假|休假)(的)?(人员|名单|人|情况|的人|人数)"
    r"|(人员|名单)?(请假|休假)(人员|名单|情况)$"
)
URGE_RE = re.compile(r"^(催办|催一下|催催|催促|督促|提醒一下|提醒)|(催一下|催办|督促一下)$|尽快(汇报|报送|填报|上报)")
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
MY_TASKS_RE = re.compile(r"^(我|我们|咱|咱们)(单位|局|县|区|办)?(的)?(任务|工作|事|事情|进度|进展|情况)")
ALL_RE = re.compile(
    r"全市|全林芝|林芝市整体|总体|整体|全部单位|全部任务|所有单位|所有任务|全局|汇总|总的|全盘|各单位|总进度|全部进度|全部情况"
    # 林芝市 (林芝) alone is the whole city, not 米林市 mistyped; left in the masked text only when no unit's
    # name (林芝市巴宜区, 林芝市水利局, 林芝县 = 巴宜区's former name) took it.
    r"|林芝市|林芝"
)
PROJECT_HINT = re.compile(r"项目|工程")
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
    """
    org_mentions, group, group_members, item_scores = _mentions(lex, spans)
    _score_numbered(lex, numbered if numbered is not None else NUMBERED_RE.finditer(t), item_scores)
    own = bool(OWN_RE.search(masked)) and not org_mentions
    scope_all = bool(ALL_RE.search(masked))
    org_ids, ambiguous = _organisations(lex, t, org_mentions)
    investment_q = bool(INVESTMENT_RE.search(masked))
    ranked = _rank_items(lex, t, masked, item_scores, org_ids, org_mentions, investment_q) if item_scores else []
    percent, status, amount = report_figures(t)
    quantity = report_quantity(t) if percent is None else None
    intent = _intent(
        raw,
        masked,
        report_signal=percent is not None or status is not None or amount is not None or quantity is not None,
        investment_q=investment_q,
        own=own,
        scope_all=scope_all,
        named=bool(org_ids or group or ambiguous),
        ranked=bool(ranked),
        unknown=bool(unknown),
    )
    item_id: int | None = None
    if ranked and not ambiguous and intent not in (REPORT, UNREPORTED):
        item_id, ambiguous = _pick_item(lex, ranked, org_ids)
    return _settle(
        lex,
        Understanding(
            text=raw,
            intent=intent,
            group=group,
            scope_all=scope_all,
            own=own,
            item_id=item_id,
            item_ids=tuple(k for k, _ in ranked),
            item_scores=tuple(ranked),
            percent=percent,
            status=status,
            amount=amount,
            quantity=quantity[0] if quantity else None,
            quantity_unit=quantity[1] if quantity else None,
            unknown_words=tuple(unknown),
        ),
        org_ids,
        group_members,
        ambiguous,
    )


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
    *,
    report_signal: bool,
    investment_q: bool,
    own: bool,
    scope_all: bool,
    named: bool,
    ranked: bool,
    unknown: bool,
) -> str:
    """The intent, from the patterns on the masked message and what it names.

    Args:
        report_signal: a percentage, status or amount is stated.
        named: an organisation or group is named, or a name is ambiguous.
        ranked: an item is named.
        unknown: words were left that match nothing.
    """
    has_entity = named or ranked
    if URGE_RE.search(masked) and not report_signal:
        return URGE
    if ON_LEAVE_RE.search(masked) and not report_signal:
        return ON_LEAVE
    if vocabulary.ASKS_FOR_HELP_RE.search(masked) and not has_entity:
        return HELP
    if UNREPORTED_RE.search(masked) and not report_signal:
        return UNREPORTED
    if OVERDUE_RE.search(masked):
        return OVERDUE
    if report_signal and not (QUESTION_RE.search(masked) or _QUESTION_MARK.search(raw)):
        return REPORT
    if investment_q:
        return INVESTMENT
    if (MY_TASKS_RE.search(masked) or own) and not named:
        return MY_TASKS if not ranked else PROGRESS
    if has_entity or scope_all or (PROGRESS_RE.search(masked) and not unknown):
        # "进度怎么样" is the whole city; "今天天气怎么样" is not a question about the plan
        return PROGRESS
    return UNKNOWN


def _pick_item(lex: Lexicon, ranked: list[tuple[int, float]], org_ids: list[int]) -> tuple[int | None, list[Candidate]]:
    """The one item meant, or the candidates when several score alike."""
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
    return None, [Candidate(ITEM, k, lex.item_label(k)) for k in tied[:MAX_CHOICES]]


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
    if intent in (REPORT, UNREPORTED, HELP, UNKNOWN, ON_LEAVE, URGE):
        # a report names its task among the sender's own; the plan numbers do not apply
        project = indicator = None
        if intent == REPORT:
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
    return u
