"""The words people type for commands, statuses and short answers, each defined once.

Every handler and the dialogue kernel match commands with these patterns; `parse_status` is the one status
vocabulary of check-ins and one-line reports alike.
"""

from __future__ import annotations

import re

from db.models import BLOCKED, DONE, IN_PROGRESS, NOT_STARTED
from handlers import texts

# ---- commands (whole-message patterns) ----------------------------------------------------------------------
CANCEL_RE = re.compile(r"^(取消|/cancel|退出|算了|不填了|cancel)$", re.IGNORECASE)
HELP_RE = re.compile(r"^(帮助|/help|help|\?|？|怎么用|使用说明|菜单)$", re.IGNORECASE)
REPORT_RE = re.compile(r"^(汇报|/report|填报|报进度|开始汇报|我要汇报|报送进展|上报|/start_report)$", re.IGNORECASE)
REPORT_ORG_RE = re.compile(r"^(?:汇报|/report)\s+(.+)$")
RESUME_RE = re.compile(r"^(继续|/continue|继续填写|接着填)$", re.IGNORECASE)
EDIT_LAST_RE = re.compile(r"^(修改上次汇报|修改上一次汇报|更正上次汇报|/edit)$", re.IGNORECASE)
REVIEW_LIST_RE = re.compile(r"^(待审核|审核|/review|待审|审核汇报)$")
# A short yes to the weekly prompt ("好", "1"): start the check-in at once.
ACK_RE = re.compile(r"^(好|好的|收到|开始|开始汇报|汇报|1|ok|OK|嗯|行|马上|现在|来吧|是)[。!！.]?$")
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


def is_skip(text: str) -> bool:
    """The user skips an optional question ("跳过", "无", "暂无" ...)."""
    return text.strip().lower() in texts.SKIP_WORDS


# ---- statuses -----------------------------------------------------------------------------------------------
STATUS_WORDS: list[tuple[str, re.Pattern[str]]] = [
    (BLOCKED, re.compile(r"受阻|卡住|阻碍|停滞|停工|困难|推不动|搁置|暂停|没到位")),
    (NOT_STARTED, re.compile(r"未启动|没启动|未开始|没开始|还没|尚未|没动|未开展")),
    (DONE, re.compile(r"已完成|完成了|已办结|办结|全部完成|已印发|已提交|已建成|做完|搞定|^完成$|竣工")),
    (IN_PROGRESS, re.compile(r"推进中|进行中|在推进|正在|在做|开展中|实施中|在建|推进|进行")),
]
STATUS_BY_NUMBER = {"1": NOT_STARTED, "2": IN_PROGRESS, "3": DONE, "4": BLOCKED}
STATUS_BY_LABEL = {v: k for k, v in texts.STATUS_LABELS.items()}


def parse_status(text: str) -> str | None:
    """The status a check-in answer names: its number, its label, or words people use for it."""
    t = text.strip()
    if t in STATUS_BY_NUMBER:
        return STATUS_BY_NUMBER[t]
    if t in STATUS_BY_LABEL:
        return STATUS_BY_LABEL[t]
    for status, pattern in STATUS_WORDS:
        if pattern.search(t):
            return status
    return None
