"""The words people type for commands, statuses and short answers, each defined once.

Every handler and the dialogue kernel match commands with these patterns; `parse_status` is the one status
vocabulary of check-ins and one-line reports alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from db.models import BLOCKED, DONE, IN_PROGRESS, NOT_APPLICABLE, NOT_STARTED
from handlers import texts
from handlers.gate import Gated

# ---- commands (whole-message patterns) ----------------------------------------------------------------------
CANCEL_RE = re.compile(r"^(取消|/cancel|退出|算了|不填了|cancel)$", re.IGNORECASE)
HELP_RE = re.compile(r"^(帮助|/help|help|\?|？|怎么用|使用说明|菜单)$", re.IGNORECASE)
# Not the command but a question about duban itself, greetings included: answered with help as a free question.
ASKS_FOR_HELP_RE = re.compile(
    r"^(帮助|help|菜单|功能|说明|使用说明|用法|怎么用|如何使用|你好|您好|hi|hello|在吗|在不在|有人吗|\?)$"
    r"|能做什么|能干什么|能干啥|会做什么|会干什么|会什么|可以做什么|可以干什么|怎么问|怎么查|有什么功能|不会用|使用方法|怎么使用"
)
REPORT_RE = re.compile(r"^(汇报|/report|填报|报进度|开始汇报|我要汇报|报送进展|上报|/start_report)$", re.IGNORECASE)
REPORT_ORG_RE = re.compile(r"^(?:汇报|/report)\s+(.+)$")
RESUME_RE = re.compile(r"^(继续|/continue|继续填写|接着填)$", re.IGNORECASE)
RESUME_WHICH_RE = re.compile(r"^(?:继续|继续填写|接着填)\s*(?:草稿)?\s*[:：]?\s*(.+)$")
DISCARD_DRAFT_RE = re.compile(r"^(?:删除|放弃|丢弃|删掉|作废|不要)(?:这份|这个|该)?草稿\s*[:：]?\s*(.*)$")
REREPORT_RE = re.compile(r"^(?:重新填报|重新汇报|重新提交)\s*[:：]?\s*(.*)$")
# The weekly check-in: nothing changed since the last report, on one task, some, or all of them.
_NO_CHANGE = (
    r"(?:无变化|没变化|没有变化|没什么变化|无新变化|同上周|和上周一样|跟上周一样|与上周相同|同上次|和上次一样|跟上次一样"
    r"|没有新进展|无新进展|没新进展|没进展|都一样|一样|照旧|不变|没变|维持不变|维持原样|保持不变)"
)
NO_CHANGE_RE = re.compile(rf"^(?:都|均|仍|还是|依然)?{_NO_CHANGE}[。!！]?$")
ALL_NO_CHANGE_RE = re.compile(
    rf"^(?:全部|所有|全都|都|其余|其他|其它|剩下|剩余|余下)(?:的)?(?:事项|任务|项目|指标)?(?:都|均|全部)?{_NO_CHANGE}[。!！]?$"
)
SAME_RE = re.compile(r"^(同上|同上次|和上次一样|跟上次一样|不变|没变|照旧|还是那样)$")
EDIT_LAST_RE = re.compile(r"^(修改上次汇报|修改上一次汇报|更正上次汇报|/edit)$", re.IGNORECASE)
# "撤回刚才的汇报", "删除上次汇报": a filed report is never withdrawn; what can be done instead is said.
WITHDRAW_RE = re.compile(
    r"^(?:我要|我想|请|帮我)?(?:撤回|撤销|收回|删除|删掉|作废)(?:刚才|上次|上一次|这次|最近)?的?(?:汇报|报告|填报|提交)"
)
BOARD_RE = re.compile(r"^(看板|/board|督办看板|打开看板|网页看板|看板链接|登录看板|进入看板)$", re.IGNORECASE)
REVIEW_LIST_RE = re.compile(r"^(待审核|审核|/review|待审|审核汇报)$")
REVIEW_NEXT_RE = re.compile(r"^(下一条|下条|下一条汇报|/next)$")
REVIEW_ALL_RE = re.compile(r"^(全部通过|批量通过|一键通过|全部同意)$")
# A short yes to the weekly prompt ("好", "1"): start the check-in at once.
PROMPT_YES_RE = re.compile(r"^(好|好的|收到|开始|开始汇报|汇报|1|ok|OK|嗯|行|马上|现在|来吧|是)[。!！.]?$")
# Thanks and okays after an answer: acknowledged, not "not understood".
THANKS_RE = re.compile(
    r"^(谢谢|多谢|感谢|谢了|好的|好|收到|ok|okay|嗯|嗯嗯|知道了|明白|明白了|了解|辛苦了|辛苦|👍|🙏)$", re.IGNORECASE
)
MORE_RE = re.compile(r"^(更多|下一页|下页|翻页|继续看|还有呢|more|next|n)$", re.IGNORECASE)

# ---- short answers ------------------------------------------------------------------------------------------
CONFIRM_WORDS = frozenset({texts.CHOICE_CONFIRM, "确定", "提交", "对", "是", "没问题", "ok", "OK", "好"})
YES_WORDS = frozenset({texts.CHOICE_CONFIRM, "是", "对", "没错", "确定"})
RETRY_WORDS = frozenset({texts.CHOICE_RETRY, "重填", "否", "不对"})
NEXT_WORDS = frozenset({texts.CHOICE_NEXT, "继续", "下一个", "好", "是"})
END_WORDS = frozenset({texts.CHOICE_END, "不了", "否", "结束", "算了", "先这样"})
DONE_WORDS = frozenset({texts.CHOICE_DONE, "好了", "发完了", "好", "ok", "OK"})
MODIFY_RE = re.compile(r"^(?:修改|改|更改|更正)\s*(.*)$")
PASS_RE = re.compile(r"^(通过|同意|审核通过|pass|ok)$", re.IGNORECASE)
RETURN_RE = re.compile(r"^(?:退回|驳回|不通过)\s*[:：,，]?\s*(.*)$")
# A decision on a numbered report of the review list: "2 通过", "2退回 理由", "退回 2 理由", "通过第1条".
LIST_DECISION_RE = re.compile(
    r"^(?:第)?(?P<n1>\d{1,2})\s*(?:条|号|[.、,，])?\s*(?P<w1>通过|同意|审核通过|退回|驳回|不通过)\s*[:：,，]?\s*(?P<r1>.*)$"
    r"|^(?P<w2>通过|同意|审核通过|退回|驳回|不通过)\s*(?:第)?(?P<n2>\d{1,2})\s*(?:条|号)?(?:\s+|[:：,，]\s*|$)(?P<r2>.*)$"
)


def is_skip(text: str) -> bool:
    """The user skips an optional question ("跳过", "无", "暂无" ...)."""
    return text.strip().lower() in texts.SKIP_WORDS


# ---- statuses -----------------------------------------------------------------------------------------------
# The one status vocabulary. What a sentence states ("两山基地实施方案已印发", "完成30%但资金没到位"): blocked and
# not-started first, because "完成30%但资金没到位" is blocked. These stay narrow: every message is read through them
# (one-line reports), and the same words qualify questions ("未完成的项目", "招标中的项目").
BLOCKED_RE = re.compile(
    r"卡住|卡壳|受阻|阻碍|停滞|停工|推不动|推进不了|进行不下去|没到位|未到位|不到位|缺资金|缺钱|没钱|资金困难"
    r"|遇到(了)?(困难|问题)|有困难|搁置|暂停|停了|无法推进|难以推进"
)
NOT_STARTED_RE = re.compile(
    r"还没开始|没开始|未开始|尚未开始|没有开始|还没启动|未启动|没启动|尚未启动|没动|还没动|未开展|尚未开展|还没做|没开工|未开工|尚未开工"
)
DONE_RE = re.compile(
    r"已(经)?(全部)?(印发|完成|出台|制定|编制|建成|投运|投入运行|验收|上报|提交|报送|办结|落实|建立|成立|组建|召开|举办|签订|批复"
    r"|挂牌|竣工|完工|通过|颁布|开通|上线|实施完毕|做完|搞定)"
    r"|(印发|出台|建成|竣工|验收|办结|做完|搞定|完工|成立|组建|颁布)了|完成了|全部完成|全面完成|圆满完成|办结"
)
IN_PROGRESS_RE = re.compile(
    r"正在|推进中|进行中|在推进|在做|开展中|实施中|建设中|施工中|已开工|已启动|开工了|启动了|有序推进|稳步推进|在建|在弄|动工了"
)
STATEMENTS: list[tuple[str, re.Pattern[str]]] = [
    (BLOCKED, BLOCKED_RE),
    (NOT_STARTED, NOT_STARTED_RE),
    (DONE, DONE_RE),
    (IN_PROGRESS, IN_PROGRESS_RE),
]
# Completion said negated or not yet reached ("还没做完", "没完成", "基本完成"): never done (完成) nor not started
# (还没做). A sentence saying so states no status; a check-in answer saying so is work in progress.
UNFINISHED_RE = re.compile(
    r"(没有?|未|尚未|还未|没能)(全部|完全)?(完成|做完|弄完|搞完|干完|办完|完工|竣工|搞定|做好|弄好|办好|建成|办结)"
    r"|基本完成|接近完成|即将完成|快要?完成|快要?(做|弄|搞|干)完|快完了|收尾"
)


def _answer_words(pattern: str) -> re.Pattern[str]:
    """Words that name a status in a check-in answer, except where they qualify a noun ("未完成的项目": a question)."""
    return re.compile(rf"(?:{pattern})(?!的)")


# A check-in answer answers "当前状态？", so more words name a status there, in this order (after the statements'
# blocked words): unfinished, not started, done, in progress.
NOT_APPLICABLE_RE = re.compile(r"不适用|不符合(申报)?条件|本(县|单位|区)?不涉及|不涉及|无此项|不属于本(县|单位|区)")
ANSWER_STATEMENTS: list[tuple[str, re.Pattern[str]]] = [
    (NOT_APPLICABLE, NOT_APPLICABLE_RE),
    (BLOCKED, BLOCKED_RE),
    (
        BLOCKED,
        _answer_words(
            r"卡着|卡在|被卡|遇阻|有阻力|停摆|停下来|停下了|中断|推动不了|推进不下去|进行不了|做不下去|干不下去|弄不下去"
            r"|没法推进|没办法推进|搞不定"
        ),
    ),
    (IN_PROGRESS, _answer_words(UNFINISHED_RE.pattern)),
    (NOT_STARTED, NOT_STARTED_RE),
    (
        NOT_STARTED,
        _answer_words(
            r"还未开始|暂未开始|暂未启动|没有启动|暂未开展|没开展|未动工|没动工|尚未动工|(还没|没有?)(弄|搞|干)(?![完好定成])"
            r"|没着手|未着手|未实施|尚未实施|待启动|待开工"
        ),
    ),
    (DONE, DONE_RE),
    (
        DONE,
        _answer_words(
            r"已经?(弄完|干完|搞完|办完|结束)|(弄完|干完|搞完|办完|做好|弄好|办好)了|全部完工|全面完工|都完成|全部做完|全部弄完"
        ),
    ),
    (IN_PROGRESS, IN_PROGRESS_RE),
    (
        IN_PROGRESS,
        _answer_words(
            r"在干|在搞|在办|在进行|已开始|开始了|刚开始|刚启动|持续推进|加快推进|抓紧推进|按计划推进|着手|推进当中|进行当中"
            r"|筹备中|办理中|审批中|招标中|设计中|编制中|起草中|整改中|完善中"
        ),
    ),
]
# A check-in answer is short and answers "当前状态？", so shorter words count there too ("困难", "还没", "进行").
ANSWER_WORDS: list[tuple[str, re.Pattern[str]]] = [
    (BLOCKED, re.compile(r"受阻|卡住|阻碍|停滞|停工|困难|推不动|搁置|暂停|没到位")),
    (NOT_STARTED, re.compile(r"未启动|没启动|未开始|没开始|还没|尚未|没动|未开展")),
    (DONE, re.compile(r"已完成|完成了|已办结|办结|全部完成|已印发|已提交|已建成|做完|搞定|^完成$|竣工")),
    (IN_PROGRESS, re.compile(r"推进中|进行中|在推进|正在|在做|开展中|实施中|在建|推进|进行")),
]
STATUS_BY_NUMBER = {"1": NOT_STARTED, "2": IN_PROGRESS, "3": DONE, "4": BLOCKED, "5": NOT_APPLICABLE}
STATUS_BY_LABEL = {v: k for k, v in texts.STATUS_LABELS.items()}


def _first(text: str, patterns: Sequence[tuple[str, re.Pattern[str] | Gated]]) -> str | None:
    return next((status for status, pattern in patterns if pattern.search(text)), None)


# stated_status reads every message the understanding layer sees: its patterns behind the characters they need
_UNFINISHED = Gated(UNFINISHED_RE)
_STATEMENTS = [(status, Gated(pattern)) for status, pattern in STATEMENTS]


def stated_status(text: str) -> str | None:
    """The status a sentence states, if any (one-line reports). "还没做完", "没完成" state none: they are neither
    done nor not started, and "未完成的项目" is a question."""
    if BLOCKED_RE.search(text):
        return BLOCKED
    if _UNFINISHED.search(text):
        return IN_PROGRESS if IN_PROGRESS_RE.search(text) else None
    return _first(text, _STATEMENTS)


def parse_status(text: str) -> str | None:
    """The status a check-in answer names: its number, its label, what it states, or a short word for it."""
    t = text.strip()
    if t in STATUS_BY_NUMBER:
        return STATUS_BY_NUMBER[t]
    if t in STATUS_BY_LABEL:
        return STATUS_BY_LABEL[t]
    return _first(t, ANSWER_STATEMENTS) or _first(t, ANSWER_WORDS)
