"""The cue words of questions, one pattern per meaning: what a question filters on (滞后, 受阻, 未达标, 退回,
待审核, new reports), what kind of thing it lists or counts (任务/项目/指标/活动/单位), whether it counts or ranks,
and the words of a check-in list line ("3 推进中 60").

Patterns run on the message after names are masked ("＃") and the time window's words are blanked, so a unit's
or an item's name never reads as a cue ("滞后" is not in any name; "问题" may be, and is then masked).
"""

from __future__ import annotations

import re

from db.models import EVENT, INDICATOR, PROJECT, TASK
from handlers.gate import Gated

ORG_KIND = "org"

# Patterns whose alternatives start with a group or a look-behind are slow to search; `Gated` puts a one-class
# search of the characters they need in front of them, so that most messages skip them at once.

# ---- filters and actions -----------------------------------------------------------------------------------------

# 催办: "催办 米林县", "催一下米林县", "提醒城管局尽快汇报", "米林县 催一下", "督促墨脱县报进度".
URGE_RE = Gated(
    re.compile(
        r"催(?!化)|督促|督办|^(请|帮我|麻烦|给)?(提醒一下|提醒|通知一下|通知)|提醒一下$|发(个|一个|一条|条)?(提醒|通知)"
        r"|尽快(汇报|报送|填报|上报|报|交)|抓紧(汇报|报送|填报|上报|报|交)|(赶紧|快点)(汇报|报送|填报|上报|报|交)"
    )
)
# The completion workbook (the 11月20日 报送表): "导出", "下载汇总表", "发我本单位的工作簿", "excel".
EXPORT_RE = re.compile(r"导出|汇总表|工作簿|报送表|报表|台账|统计表|表格|excel|xlsx", re.IGNORECASE)
# The weekly digest (督办周报): "周报", "本周周报", "上周的周报", "发一下周报".
WEEKLY_RE = re.compile(r"周报|周简报|每周汇总|周汇总")
# A list of what is done: "哪些任务完成了", "已完成的事项", "完成了哪些", "办结的项目有哪些" ("完成了吗" about one item,
# "完成率", "完成情况" and what is to be done, "要完成的任务", are not).
DONE_LIST_RE = Gated(
    re.compile(
        r"(哪些|哪几|什么|啥)(个|项|条)?(任务|项目|工程|指标|事项|工作|事情|事)?(已经|已)?(完成|办结|做完|干完|完工|达成)"
        r"|(?<![要该需应得须])(已经完成|已完成|已办结|办结|完成|做完|完工)了?的(任务|项目|工程|指标|事项|工作|事情|事|有)"
        r"|(完成|办结|做完|完工)了(哪些|什么|啥|几项|多少项)"
    )
)
# The record of 催办, asked about: "这周谁被催过", "催办记录", "米林县被催了几次", "催了哪些单位".
URGED_RE = Gated(
    re.compile(
        r"(谁|哪些|哪几个?|哪个)(单位|县|部门|局)?(被)?催(办)?(过|了)|被催(办)?(过|了)?|催(办)?(过|了)(谁|哪些|哪几|几次|多少次)"
        r"|催办(记录|情况|历史|次数)|催(了|过)?几次"
    )
)
# Items behind their 序时进度.
LAGGING_RE = re.compile(
    r"滞后|落后|拖后腿|掉队|进度慢|进展慢|推进慢|偏慢|比较慢|太慢|很慢|慢了|慢的|跟不上|低于序时|不及序时|未达序时|没达到序时|赶不上"
)
# Blocked items (a question; "资金没到位卡住了" alone is a report).
BLOCKED_RE = re.compile(r"受阻|阻碍|卡住|卡壳|卡在|推不动|推进不了|推不下去|停滞|停工|遇阻|搁置|阻塞|堵住")
# The problems raised in reports (困难问题).
PROBLEMS_RE = re.compile(
    r"困难|问题|难处|难题|难点|堵点|瓶颈|诉求|需要协调|需协调|要协调|协调解决|反映了?(什么|哪些|啥)|短板|障碍"
)
# Indicators not (yet) 达标.
UNMET_RE = Gated(
    re.compile(
        r"(没|未|不|还没|尚未|没有|还未)(有)?(能)?(达标|达到目标|达到要求|完成目标|合格)|不达标|达不到|没达到|未达到|不合格|未实现|没实现|不及格"
    )
)
# Who reported (in a window); the negated forms are UNREPORTED's.
REPORTED_RE = Gated(
    re.compile(
        r"(谁|哪些单位|哪些县|哪些部门|哪几个|哪个单位|哪个县|哪几家|哪些人|几个单位|多少单位|多少个单位)(都)?(已经?)?"
        r"(汇报|报|填报|上报|报送|提交|交)(了|过)"
        r"|(谁|哪些单位|哪些部门|哪些县|哪几家)(已经?|都)(汇报|报|填报|上报|报送|提交)"
        r"|新(的)?(汇报|报告|填报|上报|进展|报送)|收到(了)?(哪些|什么|几份|多少)?(汇报|报告|填报)"
        r"|(汇报|填报|上报|报送)(了)?(哪些|什么|啥)|有(哪些|什么|几份|多少)(新)?(汇报|报告|填报)|报了(哪些|什么|啥)"
        r"|已(经)?(汇报|填报|上报|报送)的|(汇报|填报|上报|报送)(过|了)的|报上来|交上来"
        r"|(交|提交|报送|上报)(了|过)?(汇报|报告|进展|材料)|报(了|过)的|(汇报|报告|填报)(记录|明细|动态)"
        r"|收到的(汇报|报告)|(提交|报送|上报|汇报|填报|交)(了|过)(哪些|什么|啥|几)"
    )
)
# With a time window, reports as a noun: "最近一周各县的汇报", "本周的填报".
REPORTS_NOUN_RE = re.compile(r"的(汇报|报告|填报|报送)(情况|记录)?$")

# Reports waiting for a coordinator's review.
REVIEW_QUEUE_RE = re.compile(
    r"审批|等我审|要我审|待我批|审核(列表|清单|队列|的)|待审核|待审|未审核|未审|没审|要审|需审|需要审核|审核队列|待核|等(着|待)?审|待我审|待批|没批|还没审|没有审核|审核的有|待复核|排队审"
)
# Reports sent back (退回).
RETURNED_RE = re.compile(r"退回|被退|打回|驳回|退了|退件|不通过|没通过|未通过")
# The asker's own: "我还有什么没报", "本单位未填报的事项", "我们还欠哪些".
OWN_START_RE = Gated(
    re.compile(
        r"^(我|我们|咱|咱们|俺|俺们|本人)|(?<![帮给让替叫问教])(我|咱|俺)(们)?(这|单位|局|县|区|办|还|都|现在|目前)"
    )
)
MY_UNREPORTED_RE = Gated(
    re.compile(
        r"漏报|漏填|欠(哪些|什么|啥|几|着)?(条|项|份)?(汇报|报告|报|填)|(没|未|还没|尚未|没有|待|欠|该|要|需要|得)(有)?(按时)?(报|填|汇报|填报|上报|报送|交|提交|报进度)"
        r"|(汇报|填报|上报|报送)(还)?(差|欠|缺)"
    )
)
# Rankings.
RANKING_RE = Gated(
    re.compile(
        r"(谁|哪个|哪家|哪些).{0,4}最(好|差|快|慢|高|低|落后|靠前|靠后)|排(个|一下|下)?名|(?<!安)排(一)?下|排第|排最|排前|排后|从高到低|从低到高|(完成|做|干)得最(好|差|快|慢)|谁最(好|差)|排名|排行|排序|名次|第一名|倒数|垫底|末位|谁最(快|慢|好|差|落后|靠前)|最(快|慢|好|差|靠前|靠后)的(是|县|单位|部门)"
        r"|哪个(县|单位|部门|区)最(快|慢|好|差)|前三|前几名|后三|比一比|比较一下|谁(领先|靠前|靠后)|龙虎榜|红黑榜"
    )
)
# People away.
LEAVE_RE = re.compile(r"请假|休假|请了假|休年假|年假|病假|事假|不在岗")
# How to use duban ("怎么汇报", "这个机器人怎么用", "有哪些指令"): help, not a report or a question of the plan.
HOW_TO_RE = Gated(
    re.compile(
        r"(怎么|怎样|如何|咋)(样)?(汇报|填报|上报|报送|报进度|提交|填写|使用|用|操作|报|弄|填)|指令|命令|机器人"
        r"|不会(汇报|填报|报|用|操作|填)|教(我|一下)|(汇报|填报)的?(格式|模板|方法|步骤|流程)"
        r"|(能|可以)(查|问)(些)?(什么|啥)|(能|会)(干|做)(些)?(什么|啥)"
    )
)
# No change since last time, anywhere in a short report ("全部跟上次一样没变化"), and "all" of the list.
NO_CHANGE_RE = re.compile(
    r"无变化|没变化|没有变化|没什么变化|无新变化|没有新进展|无新进展|没新进展|和上次一样|跟上次一样|同上次|同上周|和上周一样|跟上周一样"
    r"|保持不变|维持不变|维持原样|照旧"
)
ALL_ITEMS_RE = re.compile(r"全部|所有|全都|都|其余|其他|其它|剩下|剩余|余下|每一?项|各项")

# Deadlines.
DUE_RE = re.compile(
    r"到期|截止|截至|期限|时限|要交|该交|得交|要报|要完成|需完成|需要完成|须完成|必须完成|要做完|做完|完成时间|交什么"
    r"|deadline|ddl|临期|到点|什么时候(完成|交|到期|截止)|要干|要做|干啥|做啥|要办"
)
# Done on a day ahead ("污水处理厂下周五前完成", "预计月底建成"): with an item named and nothing asked, a report of
# when it is expected done; "要完成", "须完成" are what falls due (DUE_RE).
EXPECTED_DONE_RE = re.compile(r"(?<![要需须该得])(完成|完工|建成|竣工|投运|投入运行|办结|做完|弄完|搞完|交付)")
DUE_SOON_RE = re.compile(r"快到期|即将到期|马上到期|快截止|即将截止|马上截止|临近|快要到期|要到期")
# "有什么 / 有哪些 / 有啥" with a window and nothing else: what falls due then ("下个月有啥宣传活动").
WHAT_RE = re.compile(r"有(什么|啥|哪些|没有|无)|什么|哪些|啥|安排|计划")
# The reason asked for: "受阻原因是什么", "为什么滞后".
REASON_RE = re.compile(r"原因|为什么|为啥|怎么回事|咋回事|什么问题|啥问题|卡在哪")

# ---- counts and kinds --------------------------------------------------------------------------------------------

COUNT_RE = re.compile(
    r"多少|几个|几项|几条|几件|几家|几份|几类|几处|几|总数|总共|一共|共有|共计|总计|数量|个数|项数|合计(有)?"
)
# What is counted or listed, in the order they are tried.
KIND_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (PROJECT, re.compile(r"项目|工程")),
    (INDICATOR, re.compile(r"指标")),
    (EVENT, re.compile(r"活动|宣传日|宣传月|纪念日|节日|宣传")),
    (TASK, re.compile(r"任务|事项|工作|活儿|活$|活有|的活|事情|事儿")),
    (ORG_KIND, re.compile(r"单位|部门|县区|区县|县|局|委办")),
)
# A count of the plan's contents needs the thing counted ("有几个工程项目", "巴宜区有多少项任务").
COUNTABLE = frozenset({PROJECT, INDICATOR, EVENT, TASK, ORG_KIND})
# "多少" about figures (投资多少, 完成了多少, 进度多少) is not a count.
NOT_A_COUNT_RE = re.compile(
    r"投资|资金|钱|万元|完成(了)?多少|进度|进展|百分之|比例|比率|率|多少钱|多少万|完成率|面积|亩"
)


# "哪些县还没报", "哪些部门汇报了": a question about units of one sort, when no unit or group is named.
COUNTIES_RE = Gated(re.compile(r"(哪些|哪个|哪几个|几个|各|每个|所有)(县|区县|县区)|县里|县区"))
DEPARTMENTS_RE = re.compile(r"(哪些|哪个|哪几个|几个|各|每个|所有)(部门|局|市直)|市直")


def kind_of(masked: str) -> str | None:
    """The first kind a question names."""
    for kind, pattern in KIND_CUES:
        if pattern.search(masked):
            return kind
    return None


# ---- a check-in list line typed as a report ------------------------------------------------------------------------

# "3 推进中 60", "5 完成", "第3项 受阻 资金未到位", "3、60%": the item's number first (spaces are "、" here).
LIST_LINE_RE = re.compile(r"^(?:第)?([0-9]{1,3})(?:项|条|个)?[、.:]?(?=[^0-9月日号.])(.+)$|^(?:第)?([0-9]{1,3})、(.+)$")
