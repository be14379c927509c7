"""Every user-facing Chinese text of duban, in one place for review and later translation.

Texts with placeholders are format strings; callers fill them with `.format(...)`.
"""

from __future__ import annotations

# ---- values (handlers/formatting.py) ---------------------------------------------------------------------
FMT_DAY = "{m}月{d}日"
FMT_MONTH = "{m}月"
FMT_MONEY_WAN = "{n} 万元"

# ---- values: a resolved date read back (issue 13) -----------------------------------------------------------
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")  # by date.weekday(): Monday first
FMT_DAY_YEAR = "{y}年{m}月{d}日"
FMT_DAY_WEEKDAY = "{day}（{weekday}）"

# ---- general ---------------------------------------------------------------------------------------------
INTERNAL_ERROR = "抱歉，系统刚才出了点问题，请稍后再发一次。您已填写的内容都已保存。"
UNBOUND = (
    "您好，我是督办助手。您还没有绑定单位，暂时不能查看或汇报工作。\n"
    "请向市委生态文明办索取绑定码，然后发送：绑定 绑定码（例如：绑定 AB12CD34）。"
)
WELCOME_BOUND = "{name}您好，我是督办助手。发送“汇报”填报任务进展，发送“帮助”查看我能做什么。"
HELP_EVIDENCE_LINE = "• 佐证材料：汇报时按提示直接发送照片或文件"
HELP_OFFICIAL = (
    "我可以帮您：\n"
    "• 汇报：列出本单位任务，逐项或一句话填报（可发“汇报”或 /report）\n"
    "• 在列表里：“全部无变化”“1-5 无变化”“3 推进中 60”“5 完成”“7 受阻 资金未到位”，也可写任务名：“两山实施方案 八成”\n"
    "• 继续：接着填写没填完的草稿（有几份时可选）；删除草稿：丢弃一份\n"
    "• 重新填报：修改被退回的汇报后重新提交\n"
    "• 修改上次汇报：更正最近一次汇报\n"
    "• 我的任务：查看本单位任务；我还有什么没报：本周未汇报的事项；我这周报了什么：本周的汇报和审核情况\n"
    "• 本月到期的 / 下周有什么到期 / 哪些任务滞后 / 被退回的报告：本单位的清单\n"
    "• 一句话汇报：如“污水处理设施建设完成80%”\n"
    "• 请假到 6月5日：暂停提醒\n"
    "• 看板：网页看板的登录链接；导出：Excel汇总表\n"
    f"{HELP_EVIDENCE_LINE}\n"
    "• 取消：随时退出当前对话"
)
HELP_LEADER = (
    "我可以帮您：\n"
    "• 全市进度 / 墨脱县进度 / 边境县进度 / 各县排名\n"
    "• 哪些任务逾期了 / 哪些任务滞后 / 受阻的任务 / 有哪些困难问题\n"
    "• 本月到期的任务 / 哪些任务完成了 / 哪些指标没达标 / 项目投资完成情况\n"
    "• 周报：本周的督办周报；导出：Excel汇总表\n"
    "• 看板：网页看板的登录链接，全市一页看全\n"
    "• 催办 米林县：提醒该单位尽快汇报\n"
    "• 请假到 6月5日：暂停提醒\n"
    "• 取消：随时退出当前对话"
)
# A coordinator's help: what he asks and decides first; the check-in in two lines (he reports for a unit rarely).
HELP_COORDINATOR = (
    "我可以帮您：\n"
    "• 墨脱县进度 / 边境县进度 / 全市进度 / 各县排名 / 指标 / 工程项目\n"
    "• 哪些任务逾期了 / 生态环境局有逾期的吗 / 哪些任务滞后 / 受阻的任务 / 有哪些困难问题\n"
    "• 谁还没汇报 / 这周谁汇报了 / 两山实施方案报了吗 / 谁请假了\n"
    "• 本月到期的任务 / 8月底前要交什么 / 下个月有啥宣传活动\n"
    "• 哪些任务完成了 / 哪些指标没达标 / 有几个工程项目 / 八及曲项目进度 / 项目投资完成情况 / 林草覆盖率达标了吗\n"
    "• 催办 米林县 / 催一下米林县：提醒该单位尽快汇报；这周谁被催过：催办记录\n"
    "• 待审核：审核新提交的汇报（通过 / 退回 理由 / 下一条 / 全部通过）\n"
    "• 判定 指标12 达标 理由 / 判定 指标12 墨脱县 未达标 理由：文字类指标的人工判定\n"
    "• 份额 项目8 墨脱县 300（或 平均 / 清除）：共同实施项目各单位的投资份额\n"
    "• 周报：本周的督办周报；导出：Excel汇总表；看板：网页看板的登录链接\n"
    "• 汇报 墨脱县：代单位填报（列表里可回复“3 推进中 60”“两山实施方案 八成”“全部无变化”）；继续 / 删除草稿 / 修改上次汇报\n"
    "• 序时进度是什么：序时进度＝从任务开始日（未写明的按方案印发日）到截止日已过天数的比例（发这句看滞后和灯色的算法）\n"
    "• 请假到 6月5日：暂停提醒；取消：随时退出当前对话"
)
CANCELLED = "已取消。"
CANCELLED_DRAFT_KEPT = "已退出填写，“{label}”的草稿已保存。发送“继续”可接着填写，“删除草稿”可丢弃。"
NOTHING_TO_CANCEL = "当前没有进行中的对话。发送“帮助”查看我能做什么。"
GROUP_PRIVATE_ONLY = "汇报请私聊我进行，群里只回答查询。"
NOT_ALLOWED = "您没有这项操作的权限。"

# ---- the dialogue kernel (handlers/kernel.py): the same for every dialogue ------------------------------------
K_STALE = "这个按钮属于之前的问题，已失效。请回答当前的问题："
K_STALE_IDLE = "这个按钮属于之前的问题，已失效。发送“帮助”查看我能做什么。"
K_PENDING = "当前的问题："
K_BACK = "回到刚才的问题："
K_ALREADY_IN = "您正在填写中。请先回答当前的问题（发送“取消”可退出，草稿会保存）："
K_WHICH = "“{text}”是要作为当前问题的回答，还是要查询？"
K_WHICH_ANSWER, K_WHICH_QUERY = "作为回答", "查询"

# ---- binding ---------------------------------------------------------------------------------------------
BIND_USAGE = "请发送：绑定 绑定码（绑定码由市委生态文明办提供，例如：绑定 AB12CD34）。"
BIND_OK = "绑定成功！您是{org}的{role}。\n发送“汇报”开始填报，发送“帮助”查看我能做什么。"
BIND_UNKNOWN = "绑定码“{code}”不存在，请核对后重新发送（绑定码为8位字母或数字）。"
BIND_USED = "绑定码“{code}”已被使用过，每个绑定码只能用一次。请向市委生态文明办重新索取。"
BIND_EXPIRED = "绑定码“{code}”已过期，请向市委生态文明办重新索取。"
BIND_ALREADY = "您已绑定为{org}的{role}，无需重复绑定。"
BIND_LOCKED = "绑定码输错次数过多，请{minutes}分钟后再试。如需帮助，请联系市委生态文明办。"
ROLE_NAMES = {"official": "填报人", "coordinator": "协调员", "admin": "管理员", "leader": "分管领导"}

# ---- check-in dialogue -----------------------------------------------------------------------------------
STATUS_LABELS = {
    "not_started": "未启动",
    "in_progress": "推进中",
    "done": "已完成",
    "blocked": "受阻",
    "not_applicable": "不适用",
}
REVIEW_LABELS = {"pending": "待审核", "approved": "已通过", "returned": "已退回"}
NO_ORG = "您还没有所属单位，无法汇报。请联系管理员。"
NO_OPEN_TASKS = "{org}目前没有需要汇报的任务。"
TASK_LIST_HEADER = "{org}待汇报任务（共{n}项，本周已报{done}项，按紧急程度排序）："
TASK_LIST_QUICK = (
    "回复序号逐项填写；或一句话汇报，如“3 推进中 60”“5 完成”“7 受阻 资金未到位”“1-5 无变化”；"
    "都没有变化就回复“全部无变化”。"
)
PICK_STILL = "（仍在汇报：回复序号（1–{n}）或一句话，如“3 推进中 60”；“汇报”重新列出，“结束”退出）"
TASK_MARK_THIS_WEEK = "✅"
TASK_MARK_DRAFT = "📝草稿 "
CHOICE_ALL_NO_CHANGE = "全部无变化"
TASK_LIST_MORE = "回复“更多”查看下一页。"
TASK_LINE = "{light}{label}｜{due}截止｜{state}"
TASK_STATE_NEVER = "未汇报"
TASK_STATE_LAST = "上次：{status}{percent}（{date}）"
PICK_NOT_FOUND = "没有找到“{text}”对应的任务。请回复列表中的序号（1–{n}），或任务名称中的关键词。"
PICK_LINE_WITHOUT_TASK = "“{text}”是哪一项的？请在前面加上列表中的序号（1–{n}），如“3 {text}”，或写上任务名称。"
PICK_AMBIGUOUS = "“{text}”对应多项任务，请选择："
OTHER_ORG_TASK = "您只能汇报本单位（{own}）的任务，“{label}”属于{other}。"
UNKNOWN_ORG_FOR_REPORT = "没有找到单位“{name}”。{hint}"
CHECKIN_HEADER = "【{label}】{org}\n{title}\n截止：{due}{target}"
CHECKIN_TARGET = "｜目标：{target}"
SKIP_HINT = "（可回复“跳过”）"
SKIP_WORDS = ("跳过", "无", "没有", "暂无", "略", "skip", "-", "—", "不填")
Q_STATUS = "当前状态？请选择或直接回复：未启动 / 推进中 / 已完成 / 受阻 / 不适用"
E_STATUS = "没看懂这个状态。请回复 1–5 或其中之一：未启动、推进中、已完成、受阻、不适用。"
Q_PERCENT = "完成进度百分比？（如 80、80%、八成、七八成、约40、一半、三分之一）"
E_PERCENT = "请回复 0–100 之间的进度，例如：80、80%、百分之八十、八成、七八成、约40、一半。"
E_PERCENT_RANGE = "进度应在 0 到 100 之间，您填的是 {value}。请重新回复。"
Q_INVESTMENT = "本单位累计完成投资多少万元？（项目总投资 {total} 万元{shared}；如 1200、1200万、0.12亿）"
E_INVESTMENT = "请回复金额（单位万元），例如：1200、1200万、0.12亿。"
Q_INVESTMENT_OVER = "累计完成投资 {value} 万元超过了总投资 {total} 万元。确认无误吗？"
Q_PHYSICAL = "形象进度？（如：主体工程完工，正在安装设备）"
E_TEXT_SHORT = "内容太短了，请用一句话说明（至少2个字）。"
E_TEXT_LONG = "内容太长了（{n}字），请精简到{limit}字以内。"
Q_INDICATOR = "指标当前值？（目标：{target}{unit}）"
E_INDICATOR = "请回复指标当前值，例如：82.5、82.5%、已建立。"
Q_DESCRIPTION = "简要说明做了哪些工作？"
Q_PROBLEMS = "存在的困难问题？"
Q_NA_REASON = "不适用的理由？（如：本县不符合申报条件。将由市委生态文明办审核）"
Q_PROBLEMS_BLOCKED = "受阻的原因和需要协调解决的问题？"
Q_NEXT_STEP = "下一步打算？"
Q_EXPECTED = "预计完成日期？（如 6月30日、下周五、月底、国庆前、2023-06-30）"
E_DATE = "没看懂这个日期。请回复如：6月30日、下周五、月底、9月、国庆前、20230630。"
E_DATE_PAST = "预计完成日期 {date} 已经过去了，请填写今天（{today}）以后的日期。"
Q_EVIDENCE = "请发送佐证材料（照片或文件），发完回复“完成”；没有可回复“跳过”。"
EVIDENCE_GOT = "已收到第{n}份佐证材料（{name}）。可继续发送，或回复“完成”。"
E_EVIDENCE = "请发送照片或文件作为佐证材料，发完回复“完成”，没有可回复“跳过”。"
SUMMARY_HEADER = "请核对本次汇报："
SUMMARY_LAST = "（上次汇报：{said}，{date}{review}）"
SUMMARY_LOWER = "⚠️ 本次比上次少报了：如是上次填错，请确认后提交（会作为新的版本）；如是误填，请“修改”。"
SUMMARY_FOOTER = "回复“确认”提交，“修改 项目名”更改某项（如“修改 进度”），或“取消”。"
F_STATUS, F_PERCENT, F_INVESTMENT, F_PHYSICAL = "状态", "进度", "完成投资", "形象进度"
F_INDICATOR, F_DESCRIPTION, F_PROBLEMS, F_NEXT, F_EXPECTED, F_EVIDENCE = (
    "指标值",
    "工作情况",
    "困难问题",
    "下一步",
    "预计完成",
    "佐证材料",
)
INDICATOR_MET, INDICATOR_NOT_MET, INDICATOR_UNKNOWN = "达标", "未达标", "待判定"
# The verdicts of db.repositories.progress.indicator_verdict, as chat and export show them.
VERDICT_LABELS = {
    "met": INDICATOR_MET,
    "not_met": INDICATOR_NOT_MET,
    "unjudged": INDICATOR_UNKNOWN,
    "unreported": "未填报",
}
EVIDENCE_COUNT = "{n}份"
NONE_TEXT = "无"
E_CONFIRM = "请回复“确认”提交，“修改 项目名”更改某项，或“取消”。"
Q_MODIFY = "要修改哪一项？"
E_MODIFY = "没有“{text}”这一项。可修改：{fields}。"
SUBMITTED = "✅ 已提交：{label}（{status}{percent}）。等待市委生态文明办审核。"
SUBMITTED_EDIT = "✅ 已更正：{label}（{status}{percent}），原汇报已留痕保存。"
Q_NEXT_TASK = "还有{n}项待汇报，继续下一项吗？"
CHOICE_NEXT, CHOICE_END = "下一项", "结束"
END_SESSION = "好的，本次汇报结束。需要时发送“汇报”。"
CHOICE_CONFIRM, CHOICE_MODIFY, CHOICE_CANCEL, CHOICE_SKIP, CHOICE_DONE, CHOICE_RETRY = (
    "确认",
    "修改",
    "取消",
    "跳过",
    "完成",
    "重新填写",
)
DRAFT_RESUMED = "接着填写上次的汇报："
NO_DRAFT = "没有未完成的汇报草稿。发送“汇报”开始填报。"
DRAFT_EXPIRED = "上次“{label}”的汇报填写超时，草稿已保存，发送“继续”可接着填写。"
NO_LAST_REPORT = "您还没有提交过汇报，无法修改。发送“汇报”开始填报。"
EDIT_LAST_INTRO = "修改上次汇报（{date}）。原汇报会留痕保存。"
ONELINER_NONE = "没有在本单位任务中找到与“{text}”对应的任务。请发送“汇报”从列表中选择。"
ONELINER_PICK = "这条汇报对应哪项任务？"
QUESTION_NUMBERS = "①②③④⑤⑥⑦⑧⑨⑩"
Q_PREVIOUS = "\n（上次：{value}；不变请回复“同上”）"
Q_NO_CHANGE_HINT = "\n（与上次相比没有变化，可回复“无变化”直接提交）"
Q_PERCENT_QUANTITY = "\n也可以直接填完成的数量（目标{target}），如“{example}”。"
PERCENT_RANGE = "（{low}–{high}%）"
PERCENT_OF_QUANTITY = "（已完成{quantity}）"
DATE_READ_BACK = "预计完成日期记为：{date}。"
Q_FRACTION = "您填的是 {value}，是指完成了 {pct}% 吗？"
FRACTION_YES = "是，{pct}%"
FRACTION_NO = "否，就是 {value}%"
WEEK_LEFT = "本周已报{done}/{n}项，还有{left}项。其余没有变化可回复“其余无变化”。"
WEEK_LEFT_AFTER = "本单位本周还有{left}项（共{n}项）未汇报。发送“汇报”继续，没有变化的可回复“全部无变化”。"
WEEK_ALL_REPORTED = "本单位{n}项任务本周都已汇报，辛苦了！"
NO_CHANGE_ASK = "将为本周还未汇报的{n}项提交“无变化”（沿用各项上次汇报的内容）。确认吗？"
NO_CHANGE_FILED = "✅ 已为{n}项提交“无变化”。"
NO_CHANGE_FILED_SOME = "✅ 已为{n}项提交“无变化”：{names}。"
NO_CHANGE_NOT_FILED = "好的，没有提交。可以继续回复序号或一句话汇报。"
NO_CHANGE_NONE_ABLE = "没有可以直接沿用上次汇报的事项。"
NO_CHANGE_NEVER = "以下事项还没有汇报过，无法沿用，请逐项填写：{items}"
NO_CHANGE_NEVER_MANY = "有{n}项还没有汇报过，无法沿用，请逐项填写，如：{items}等"
NO_CHANGE_RETURNED = "以下事项被退回，请发送“重新填报”修改后提交：{items}"
QUICK_ALL_DONE_ALREADY = "本单位{n}项任务本周都已汇报，不需要再提交。"
QUICK_OUT_OF_RANGE = "序号“{spec}”超出了列表范围（1–{n}）。"
QUICK_ONE_AT_A_TIME = "一次可以给多项回复“无变化”；其他情况请逐项回复，如“3 推进中 60”。"
QUICK_NOT_UNDERSTOOD = (
    "没看懂“{text}”。请这样回复：“3 推进中 60”“5 完成”“7 受阻 资金未到位”“1-5 无变化”，或只回复序号逐项填写。"
)
QUICK_NEED_STATUS = "请说明状态，如“3 推进中 60”“3 完成”“3 受阻 原因”。"
QUICK_UNIT_MISMATCH = "“{unit}”和该任务的目标（{target}）单位不一致，请按目标的单位填写。"
QUICK_NEEDS = "「{label}」还需要补充："
WITHDRAW_HOW = (
    "已提交的汇报不能撤回，会留痕保存。要更正，请发送“修改上次汇报”，改好后重新提交（原汇报仍保留）；"
    "还没提交的草稿可发送“删除草稿”。"
)
QUICK_DRAFT_REPLACED = "之前保存的「{label}」草稿已由这次汇报代替。"
QUICK_LATER = "已记下“{line}”，「{label}」补充完后接着处理。先回答「{label}」的问题："
QUICK_FILED = "✅ {n}.「{label}」已提交：{what}"
QUICK_INVESTMENT = "投资{value}万元"
REREPORT_INTRO = "「{label}」被退回，理由：{reason}\n已按退回的内容预填，请“修改 项目名”更正（如“修改 佐证”补充材料），改好后回复“确认”重新提交。"
REREPORT_NONE = "目前没有被退回的汇报。"
REREPORT_PICK = "有{n}项汇报被退回，请选择要重新填报的一项："
SUBMITTED_AGAIN = "✅ 已重新提交：{label}（{status}{percent}），等待市委生态文明办审核。"
DRAFTS_PICK_RESUME = "您有{n}份未完成的草稿，要接着填写哪一份？"
DRAFTS_PICK_DISCARD = "您有{n}份未完成的草稿，要删除哪一份？"
DRAFT_DISCARDED = "已删除“{label}”的草稿。"
ATTACHMENT_OUTSIDE = "收到文件。佐证材料请在汇报过程中发送：先发送“汇报”选择任务。"

# ---- check-in: input bounds, values refused rather than misread (issue 14) ----------------------------------
E_VALUE_PROBLEMS = {
    "not_a_number": "没看懂这个数值（不支持 1e5、NaN 这类写法）。请直接回复一个数，例如：82.5、82.5%、已建立。",
    "impossible_date": "这个日期不存在，请检查后重新回复指标当前值。",
    "date": "这是一个日期，请回复指标当前值，例如：82.5、82.5%、已建立。",
    "range": "请回复一个数值，而不是范围（如 5-6）。例如：5.5、82.5%。",
    "several": "看到了多个数字，请只回复一个指标当前值，例如：82.5、82.5%、已建立。",
}
BOUND_FIELD_NAMES = {
    "investment_done": "投资金额",
    "indicator_number": "指标值",
    "quantity": "完成数量",
    "percent": "进度",
    "percent_low": "进度",
    "percent_high": "进度",
}
E_BOUND_NEGATIVE = "{field}不能为负数，请重新回复。"
BOUND_FIELD_UNITS = {"investment_done": " 万元"}
E_BOUND_TOO_LARGE = "{field}过大（最多 {limit}{unit}），请检查单位和数字后重新回复。"
E_BOUND_NAME_LONG = "姓名太长（{n}字），最多{limit}字。"
E_BOUND_AT_SUBMIT = "有一项内容超出了可保存的范围：{reason}请回复“修改 项目名”更改后再确认，或“取消”。"

# ---- review ----------------------------------------------------------------------------------------------
REVIEW_NONE = "目前没有待审核的汇报。"
REVIEW_LIST_HEADER = (
    "待审核汇报（共{n}条）。回复序号查看，“下一条”逐条审核，“1 通过”“2 退回 理由”直接审核，“全部通过”批量通过："
)
REVIEW_LINE = "{org}｜{label}｜{status}{percent}｜{person} {date}{extra}"
REVIEW_DETAIL = (
    "【{label}】{org}\n填报人：{person}（{channel}，{date}）\n状态：{status}{percent}\n{details}"
    "\n回复“通过”，或“退回 理由”（如：退回 请补充照片）。"
)
REVIEW_ASK_REASON = "请说明退回理由（如：请补充现场照片）："
REVIEW_PASSED = "已通过：{org}「{label}」。{closed}"
REVIEW_CLOSED = "该任务已办结。"
REVIEW_RETURNED = "已退回：{org}「{label}」，理由：{reason}。已通知填报单位。"
REVIEW_PICK_ERROR = "请回复列表中的序号（1–{n}）。"
REVIEW_NUMBER_IN_DETAIL = (
    "现在看的是{org}「{label}」这一条，没有按序号审核。"
    "审核这一条请回复“通过”或“退回 理由”；按序号审核请先发“待审核”看最新列表（审核后序号会变）。"
)
REVIEW_PICK_FIRST = "列表里有{n}条，请说明审核哪一条：如“1 通过”“2 退回 理由”，或回复序号先查看。"
REVIEW_NOTIFY_PASSED = "您汇报的「{label}」已通过审核。{closed}"
REVIEW_NOTIFY_RETURNED = "您汇报的「{label}」被退回，理由：{reason}。请发送“重新填报”，按退回意见修改后重新提交。"
REVIEW_CHOICE_PASS, REVIEW_CHOICE_RETURN = "通过", "退回"

# ---- review loop: next, batch approval, refusals, evidence, returned items (issue 13) ----------------------
REVIEW_SUPERSEDED = "该汇报已有更新版本，请审核最新版本。"
REVIEW_DECIDED = "{who}已于{when} {decision}该汇报，未作更改。"
REVIEW_DECIDED_YOU = "您"
REVIEW_DECIDED_NOBODY = "其他协调员"
REVIEW_DECISIONS = {"approved": "通过", "returned": "退回"}
REVIEW_NO_OTHER = "没有其他待审核的汇报。"
REVIEW_ALL_DONE = "待审核的汇报已全部处理完。"
REVIEW_SHOWING_NEXT = "下一条待审核（含本条共{n}条待审核）："
REVIEW_LINE_EVIDENCE = "｜佐证{n}份"
REVIEW_LINE_NO_CHANGE = "｜无变化确认"
REVIEW_LINE_CORRECTION = "｜更正：{fields}"
REVIEW_EVIDENCE_LINE = "佐证材料（{n}份）：{files}"
REVIEW_EVIDENCE_FILE = "{name}（{kind}）"
REVIEW_EVIDENCE_KINDS = {"photo": "照片", "file": "文件"}
REVIEW_EVIDENCE_NONE = "佐证材料：无"
REVIEW_PREVIOUS = "较上一版（{date}）的变化：{changes}"
REVIEW_PREVIOUS_SAME = "较上一版（{date}）：数据未变"
REVIEW_CHANGE = "{field} {old}→{new}"
REVIEW_ALL_ASK = "将通过 {n} 条汇报：\n{lines}\n确认吗？"
REVIEW_ALL_MORE = "……等共{n}条"
REVIEW_ALL_DONE_N = "已通过 {n} 条汇报，已通知填报人。"
REVIEW_ALL_SKIPPED = "以下 {n} 条在此期间有变化，未处理：{labels}"
REVIEW_ALL_ASK_AGAIN = "请回复“确认”通过以上汇报，或“取消”。"
REVIEW_NOTIFY_PASSED_MANY = "您汇报的以下{n}项已通过审核：{labels}。"
# Returned items in the official's task list and in queries, digest and export
TASK_RETURNED = "⚠️退回：{reason}"
RETURNED_MARK = "（退回）"
RETURNED_NO_REASON = "未说明理由"
DIGEST_RETURNED = "已退回待重报（{n}项，不计入进度）"
DIGEST_RETURNED_LINE = "{bullet}{org}「{label}」：{reason}"

# ---- WeCom channel (bot/channels/wecom/) ------------------------------------------------------------------
WECOM_UNSUPPORTED = "暂不支持这类消息。请发送文字；佐证材料请发送图片或文件。"
WECOM_MEDIA_FAILED = "图片或文件没有接收成功，请稍后重新发送一次。"

# ---- Telegram channel (bot/channels/telegram/) ------------------------------------------------------------
TG_COMMANDS = (  # the command menu (setMyCommands): Telegram commands must be latin, descriptions may be Chinese
    ("report", "汇报：逐项填报本单位任务进展"),
    ("progress", "进度：查看进度（可加单位，如 /progress 墨脱县）"),
    ("overdue", "逾期：查看逾期任务"),
    ("mytasks", "我的任务：查看本单位任务"),
    ("help", "帮助：我能做什么"),
    ("cancel", "取消：退出当前对话"),
)
TG_CHOOSE = "请选择："
TG_CHOSEN = "✅ 已选择：{label}"
TG_BUTTON_EXPIRED = "这个按钮已失效，请重新发送命令。"
TG_UNSUPPORTED = "暂不支持这类消息。请发送文字；佐证材料请发送图片或文件。"
TG_MEDIA_FAILED = "图片或文件没有接收成功，请稍后重新发送一次。"
TG_FILE_TOO_LARGE = "文件太大（Telegram 机器人最多接收 20MB），请压缩后重新发送。"

# ---- console channel (bot/channels/console.py) -----------------------------------------------------------
CONSOLE_WELCOME = "督办助手控制台（用户：{user}）。输入“帮助”查看用法，Ctrl-D 退出。"
CONSOLE_ATTACHMENT = "[附件] {name}: {path}"

# ---- console: delivery and evidence (issue 13) -----------------------------------------------------------
# Replies after which the console says how a file is sent from a terminal (bot/channels/console.py).
CONSOLE_EVIDENCE_CUES = (Q_EVIDENCE, E_EVIDENCE, HELP_EVIDENCE_LINE)
CONSOLE_EVIDENCE_HINT = "发送佐证材料：/photo 图片路径 或 /file 文件路径，例如 /photo /home/me/现场.jpg"
CONSOLE_UNREAD = "您有{count}条未读消息："
CONSOLE_FILE_USAGE = "请在 {command} 后写上文件路径，例如：{command} /home/me/现场.jpg"
CONSOLE_FILE_MISSING = "找不到文件“{path}”。{command} 后应写一个已存在的文件路径，例如：{command} /home/me/现场.jpg"
CONSOLE_FILE_NOT_REGULAR = "“{path}”不是普通文件（可能是文件夹）。{command} 后应写一个文件的路径。"
CONSOLE_FILE_UNREADABLE = "无法读取文件“{path}”（{error}）。请检查文件权限后重新发送。"

# ---- people management (admins) --------------------------------------------------------------------------
INVITE_USAGE = "用法：邀请 单位名 [填报人|协调员]，例如：邀请 墨脱县 填报人"
INVITE_CREATED = "已生成{org}{role}绑定码：{code}（{expires} 前有效，仅可使用一次）。\n请对方发送：绑定 {code}"
INVITE_UNKNOWN_ORG = "没有找到单位“{name}”。{hint}"

# ---- scheduler: nudges, overdue notices, escalation, prompts, events (deadlines, weekly, event_reminders) --
SCHED_NUDGE_HEADER = "【督办提醒】{name}您好，{org}有{n}项任务临近截止："
SCHED_OVERDUE_HEADER = "【逾期提醒】{name}您好，{org}有{n}项任务已逾期："
SCHED_ESCALATION_HEADER = "【督办升级】{name}您好，以下{n}项任务逾期未完成，请协调督促："
SCHED_LEADER_HEADER = "【红色督办】{name}您好，{org}以下{n}项任务逾期较久，请您关注督促："
SCHED_TASK_LINE = "{i}. {label}（{due}截止，{when}；当前：{progress}）"
SCHED_ESCALATION_LINE = "{i}. {mark}{colour}｜{org}｜{label}（{due}截止，已逾期{n}个工作日；当前：{progress}）"
SCHED_LEVEL_COLOURS = ("黄", "橙", "红")
SCHED_LEVEL_MARKS = {"黄": "🟡", "橙": "🟠", "红": "🔴"}
SCHED_DUE_TODAY = "今天截止"
SCHED_DAYS_LEFT = "还有{n}天"
SCHED_OVERDUE_DAYS = "已逾期{n}个工作日"
SCHED_NEVER_REPORTED = "未汇报"
SCHED_MORE = "……共{n}项，回复“汇报”查看全部。"
SCHED_REPORT_HINT = "请回复“汇报”填报进展；如有困难，请在汇报中写明存在问题。请假可回复“请假到 6月5日”。"
SCHED_ESCALATION_HINT = "可发送“哪些任务逾期了”查看全部逾期任务。"
SCHED_CHOICE_REPORT = "开始汇报"
SCHED_CHOICE_LEAVE = "请假"
# What a nudge and the weekly prompt offer to tap (label, what it stands for, as if typed)
SCHED_CHOICES = (
    (SCHED_CHOICE_REPORT, "汇报"),
    (CHOICE_ALL_NO_CHANGE, CHOICE_ALL_NO_CHANGE),
    (SCHED_CHOICE_LEAVE, "请假"),
)
SCHED_PROMPT = "【每周汇报】{name}您好，{org}有{n}项任务近7天没有汇报进展{urgent}。请回复“汇报”开始本周填报；都没有变化可回复“全部无变化”，两步即可完成。"
SCHED_PROMPT_URGENT = "（其中逾期{overdue}项、7天内到期{soon}项）"
SCHED_EVENT = "【活动提醒】{name}您好，{event}（{date}）还有一周，请提前做好活动准备。\n{text}"
SCHED_NO_PLAN = "数据库中还没有计划，请先运行 duban init。"
SCHED_KIND_NAMES = {
    "nudge": "截止提醒",
    "overdue": "逾期提醒",
    "escalation": "督办升级",
    "prompt": "每周汇报提醒",
    "digest": "周报",
    "event": "活动提醒",
}

# ---- scheduler: weekly digest (scheduler/digest.py) -------------------------------------------------------
DIGEST_TITLE = "督办周报{scope}：{start}—{end}"
DIGEST_SCOPE = "（{org}）"
DIGEST_OVERALL = "总体"
DIGEST_OVERALL_LINE = (
    "平均完成进度 {completion}%（较上周{delta}），已完成 {done}/{total} 项；"
    "逾期 {overdue} 项，滞后 {lagging} 项，受阻 {blocked} 项，从未汇报 {unreported} 项"
)
DIGEST_BY_ORG = "各单位完成进度"
DIGEST_ORG_LINE = "{i}. {org} {completion}%（{delta}）完成{done}/{total} 逾期{overdue} 滞后{lagging}"
DIGEST_UP = "↑{n}"
DIGEST_DOWN = "↓{n}"
DIGEST_FLAT = "持平"
DIGEST_OVERDUE = "逾期任务（{n}项）"
DIGEST_OVERDUE_LINE = "{bullet} {org}｜{label}（{due}截止，逾期{days}天；{progress}）"
DIGEST_LAGGING = "进度滞后（{n}项）"
DIGEST_LAGGING_LINE = "{bullet} {org}｜{label}（完成{percent}%，序时进度{expected}%）"
DIGEST_BLOCKED = "受阻任务（{n}项）"
DIGEST_BLOCKED_LINE = "{bullet} {org}｜{label}：{problems}"
DIGEST_NO_PROBLEM_TEXT = "未说明问题"
DIGEST_SILENT = "近7天未汇报的单位（{n}个）"
DIGEST_INVESTMENT = "工程项目投资"
DIGEST_INVESTMENT_LINE = (
    "累计完成投资 {done} 万元 / 计划总投资 {planned} 万元（{ratio}%），{reported}/{total} 个项目已报投资"
)
DIGEST_NONE = "无"
DIGEST_MORE = "……共{n}项，详见附件。"
DIGEST_YES = "是"
DIGEST_CHART_TITLE = "各单位平均完成进度（截至{date}）"
DIGEST_CHART_FILE = "各单位完成进度_{date}.png"
DIGEST_XLSX_FILE = "督办周报_{date}.xlsx"
DIGEST_GROUP_TELEGRAM = "Telegram 工作群"
DIGEST_GROUP_WECOM = "企业微信群机器人"
DIGEST_SHEET_ORGS = "各单位"
DIGEST_SHEET_OVERDUE = "逾期"
DIGEST_SHEET_LAGGING = "滞后"
DIGEST_SHEET_BLOCKED = "受阻"
DIGEST_ORG_HEADERS = (
    "单位",
    "任务数",
    "已完成",
    "推进中",
    "未启动",
    "受阻",
    "逾期",
    "滞后",
    "从未汇报",
    "平均进度%",
    "较上周(百分点)",
    "近7天未汇报",
)
DIGEST_TASK_HEADERS = ("单位", "编号", "任务", "截止日期", "状态", "进度%", "序时进度%", "逾期天数", "存在问题")

# ---- scheduler: completion workbook (scheduler/export.py) -------------------------------------------------
EXPORT_SHEET_TASKS = "重点工作任务"
EXPORT_SHEET_PROJECTS = "年度工程清单"
EXPORT_SHEET_INDICATORS = "指标分工任务"
EXPORT_TASK_HEADERS = (
    "序号",
    "编号",
    "所属部分",
    "重点工作任务",
    "责任单位",
    "截止日期",
    "状态",
    "完成进度%",
    "最新进展",
    "存在问题",
    "最近汇报",
    "审核",
    "逾期",
)
EXPORT_PROJECT_HEADERS = (
    "序号",
    "项目名称",
    "牵头单位",
    "建设年限",
    "总投资(万元)",
    "累计完成投资(万元)",
    "投资完成率%",
    "形象进度",
    "状态",
    "逾期",
    "审核",
)
EXPORT_INDICATOR_HEADERS = (
    "序号",
    "领域",
    "类别",
    "指标",
    "单位",
    "目标值",
    "责任单位",
    "最新值",
    "填报单位",
    "填报日期",
    "达标？",
    "逾期",
    "审核",
)
EXPORT_DONE = "已生成 {path}（截至 {date}）：重点工作任务、年度工程清单、指标分工任务。"

# ---- workbook: one figure per project, the 11月20日 workbook (issue 13) ----
# A shared project in the check-in question: each unit reports its own part (Q_INVESTMENT's {shared}).
Q_INVESTMENT_SHARED = "，由{n}个单位共同实施，只填本单位完成的部分"
# The digest: each shared project's figure, the sum of its units' own parts.
DIGEST_INVESTMENT_SHARED_LINE = "{bullet} 项目{number} {label}（{n}个单位合计）：{done}/{planned} 万元（{ratio}）"
# Chat: a project shared by several units; one unit's own part.
Q_PROJECT_INVEST_SHARED = "（{n}个单位合计）"
Q_PROJECT_OWN_PART = "其中{org}：{done}"
Q_INVEST_OWN_PART = "（其中{org}{done}万元）"
# `plan show` of a project.
PT_INVESTMENT = "投资（截至{today}）：已完成 {done} / 总投资 {total} 万元（{pct}）{shared}"
PT_INVESTMENT_NONE = "投资（截至{today}）：总投资 {total} 万元，尚未填报完成投资"
PT_INVESTMENT_UNIT = "；{org} {done}"
# The workbook: the title row, the 合计 row, per-unit rows, the extra columns.
EXPORT_TITLE = "{plan}完成情况（截至 {date}）"
EXPORT_TITLE_ORG = "{plan}完成情况——{org}（截至 {date}）"
EXPORT_TITLE_APPROVED = "（仅计已审核通过的汇报）"
# The workbook asked for in the chat ("导出", "汇总表").
EXPORT_READY = (
    "{scope}完成情况汇总表（截至 {date}）：重点任务、工程项目、指标三张表，与 11月20日 报送表同一格式、同一口径。"
)
WEEKLY_NAME = "督办周报"
WEEKLY_TAIL = "（周报截至此刻；完成进度图和工作簿随每周一的周报发送，汇总表可发“导出”获取。）"
WEEKLY_TAIL_PAST = "（按该周结束时的汇报重算，与当时的周报一致；汇总表可发“导出”获取。）"
WEEKLY_UNAVAILABLE = "这里暂时不能生成周报，请等每周一的推送，或请管理员运行 duban digest。"
EXPORT_PRIVATE_ONLY = "汇总表请私聊我发送“导出”获取（群里的人不一定都能看全部单位）。"
EXPORT_UNAVAILABLE = "这里暂时不能生成汇总表，请在看板上下载，或请管理员运行 duban export。"
EXPORT_TOTAL = "合计"
EXPORT_TOTAL_TASKS = "共{n}项，已完成{done}项，逾期{overdue}项"
EXPORT_TOTAL_PROJECTS = "共{n}个项目，{reported}个已报投资"
EXPORT_TOTAL_INDICATORS = "共{n}项，达标{met}项"
EXPORT_UNIT_ROW = "└ {org}"
EXPORT_UNIT_LEAD = "（牵头）"
EXPORT_OVERDUE_YES = "逾期{days}天"
EXPORT_SHARE_UNKNOWN = "—"
EXPORT_DONE_ORG = "已生成 {path}（{org}，截至 {date}）：重点工作任务、年度工程清单、指标分工任务。"

# ---- shares of a shared project: `duban plan share`, the check-in, chat, plan show (issue 14) ----
SHARE_CLI_NEEDS = "请给出各单位份额（单位=万元，如 墨脱县=300），或使用 --even / --clear 之一"
SHARE_NO_PROJECT = "找不到项目“{text}”，应为如 项目8"
SHARE_BAD_ARG = "无法理解“{text}”，应为 单位=万元，如 墨脱县=300"
SHARE_BAD_UNIT = "“{org}”不是项目{number}的牵头或实施单位（{units}）"
SHARE_NEGATIVE = "{org}的份额不能为负数"
SHARE_OVER = "各单位份额之和 {sum} 万元超过总投资 {total} 万元"
SHARE_BY_CLI = "命令行"
SHARE_ITEM = "{org} {share}"
SHARE_SET = "项目{number}各单位份额已设定：{shares}（合计 {sum} / 总投资 {total} 万元）"
SHARE_UNKNOWN_UNITS = "；份额未知：{units}"
SHARE_CLEARED = "项目{number}的份额已清除，各单位份额未知。"
SHARE_CHAT_USAGE = "用法：份额 项目8 墨脱县 300（可列多个单位，其余单位的份额不变）；份额 项目8 平均；份额 项目8 清除"
# The check-in's investment question of a shared project where the unit's share is known.
Q_INVESTMENT_OWN_SHARE = "，本单位份额 {share} 万元"
# A unit's completion against its share (chat, plan show): not capped, over 100 % is shown as it is.
SHARE_AGAINST = "{done}/{share} 万元（本单位份额，{pct}）"
Q_PROJECT_UNIT_INVEST_SHARE = " 投资{text}"

# ---- scheduler: duban tick (scheduler/commands.py) --------------------------------------------------------
TICK_DRY_HEADER = "演练 {at}：将发送 {n} 条消息（未入队、未发送）"
TICK_DRY_LINE = "[{kind}] → {name}（{channel}:{chat}）  键：{key}"
TICK_DRY_LATER = "（免打扰时段，{at} 后发送）"
TICK_NOTHING = "此刻没有到期的提醒。"
TICK_QUEUED = "{at}：新入队 {n} 条消息（已入队过的 {skipped} 条跳过）。"
TICK_SENT = "已发送 {sent} 条，稍后重试 {retried} 条，失败 {failed} 条。"
TICK_WAITING = "另有 {n} 条发往 Telegram/企业微信的消息已入队，由 duban serve 发送。"
TICK_DELIVERED = "→ {chat}："
TICK_ATTACHMENT = "[附件] {name}: {path}"

# ---- leave: pausing reminders (handlers/leave.py) ---------------------------------------------------------
LEAVE_OK = "好的，{until}（含）前暂停给您的提醒，{back}起恢复。提前回来请发送“恢复提醒”。"
LEAVE_RESUMED = "已恢复提醒。"
LEAVE_NOT_PAUSED = "您的提醒没有暂停，无需恢复。"
LEAVE_USAGE = "请告诉我请假到哪天，例如：请假到 6月5日，或：请假 3天。"
LEAVE_PAST = "{date}已经过去了，请发送今天以后的日期，例如：请假到 6月5日。"
LEAVE_TOO_LONG = "请假最长{n}天。长期不在岗请联系市委生态文明办更换填报人。"

# ---- rebinding and who is on leave (handlers/binding.py, handlers/queries/absence.py, digest) (issue 13) ----
REBIND_ASK = "您目前是{old_org}的{old_role}。使用这个绑定码将改为{new_org}的{new_role}{left_without}。确认更换吗？"
REBIND_LEFT_WITHOUT = "，{org}将没有{role}"
REBIND_CHOICE_CONFIRM = "确认更换"
REBIND_CHOICE_CANCEL = "取消"
REBIND_PENDING = "请选择“确认更换”或“取消”。"
REBIND_DONE = "已更换：您现在是{org}的{role}。\n发送“汇报”开始填报，发送“帮助”查看我能做什么。"
REBIND_NOTIFY = "绑定变更：{name}已从{old_org}的{old_role}改为{new_org}的{new_role}。"
REBIND_NOTIFY_LEFT_WITHOUT = "{org}目前没有{role}，请尽快安排人员绑定。"
ABSENCE_NONE = "目前没有人请假。"
ABSENCE_NONE_OWN = "{org}目前没有人请假。"
ABSENCE_HEADER = "正在请假的人员（{n}人）："
ABSENCE_LINE = "{i}. {name}（{org}，{role}）请假到{until}；{cover}"
ABSENCE_COVERED = "本单位另有{role}在岗"
ABSENCE_UNCOVERED = "本单位没有其他{role}在岗"
ABSENCE_NO_ORG = "未指定单位"
DIGEST_ON_LEAVE = "本周请假人员（{n}人）"
DIGEST_ON_LEAVE_LINE = "{bullet} {name}（{org}）请假到{until}"

# ---- urge: a coordinator chases a unit (handlers/urge.py, the progress answer, digest) (issue 15) ----
URGE_NOT_ALLOWED = "只有协调员和领导可以催办单位。"
URGE_ASK_UNIT = "催办哪个单位？例如：催办 米林县，或：催一下边境县。"
URGE_NO_PEOPLE = "{org}还没有绑定聊天账号的人员，无法催办。可发送“邀请 {org} 填报人”生成绑定码，请对方绑定。"
URGE_NOTHING = "{org}目前没有逾期、也没有超过{days}天未汇报的任务，未催办。"
URGE_NOTHING_ASK = "{org}目前没有逾期、也没有超过{days}天未汇报的任务。仍要提醒吗？"
URGE_AGAIN = "今天{time}已催办过{org}，再催一次？"
URGE_AGAIN_UNIT = "{org}（{time}）"
URGE_AGAIN_MANY = "今天已催办过：{orgs}，本次跳过。再催一次？"
URGE_PENDING = "请回复“确认”再催一次，或“取消”。"
URGE_CONFIRM_PRIVATE = "如需再催，请私聊我发送“催办 单位名”后确认。"
URGE_CONFIRM_LATER = "（当前填写结束后再发一次“催办”即可确认。）"
URGE_DONE = "已催办 {org}：逾期{overdue}项、未汇报{unreported}项，已通知{n}人（{names}）。"
URGE_SOMEONE = "市委生态文明办"
URGE_NOTICE = "【催办】{who}提醒：{org}\n{details}\n请尽快汇报进展，回复“汇报”开始填报。"
URGE_NOTICE_OVERDUE = "逾期{n}项：{items}"
URGE_NOTICE_UNREPORTED = "超过{days}天未汇报{n}项：{items}"
URGE_NOTICE_NOTHING = "请及时更新各项任务的进展。"
URGE_ITEM_OVERDUE = "「{label}」逾期{days}天"
URGE_ITEM = "「{label}」"
URGE_ITEMS_MORE = "等{n}项"
URGE_HISTORY = "最近催办：{day} {time} {who}（共{n}次）"
DIGEST_URGES = "本期催办（{n}次）"
DIGEST_URGE_LINE = "{bullet} {org}：{when} {who}催办，逾期{overdue}项、未汇报{unreported}项，通知{recipients}人"

# ---- queries (handlers/queries/, handlers/plan_text.py) ------------------------------------------------
Q_NO_PLAN = "还没有导入工作计划，暂时无法查询。"
Q_UNKNOWN = "没太明白“{text}”。{hint}您可以这样问：\n{examples}"
Q_UNKNOWN_HINT = "您是不是要找：{names}？\n"
Q_EXAMPLES_COORDINATOR = ("墨脱县进度", "本月到期的任务", "哪些任务滞后", "八及曲项目进度", "催办 米林县")
Q_EXAMPLES_OFFICIAL = ("我的任务", "我还有什么没报", "本月到期的", "污水处理设施建设完成80%")
Q_EXAMPLE_LINE = "• {text}"
Q_MORE_AFTER_DIALOGUE = "（第{page}/{pages}页；当前事项办完后再问一次，可查看其余各页）"
Q_PICK = "您指的是哪一个？请回复序号："
Q_MORE = "（第{page}/{pages}页）回复“更多”查看下一页"
Q_MORE_CHOICE = "更多"
Q_CONTINUED = "{title}（续，第{page}/{pages}页）"
Q_NO_MORE = "已经是最后一页了。"
Q_NOT_ALLOWED_ORG = "您只能查询本单位（{own}）的情况。可以问：我的任务、本单位有逾期的吗。"
Q_NOT_ALLOWED_ALL = "全市情况请向市委生态文明办了解。您可以查询本单位（{own}）：发送“我的任务”。"
Q_NOT_ALLOWED_ITEM = "“{label}”不是本单位（{own}）的任务，无法查询。"
Q_NO_ORG = "您还没有所属单位，无法查看本单位任务。请联系管理员。"
Q_REPORT_GROUP = "汇报请私聊我进行，群里只回答查询。"
Q_TITLE = "【{name}】"
Q_TITLE_PROJECT = "【项目{number}】"
Q_TITLE_INDICATOR = "【指标{number}】"
Q_TITLE_UNREPORTED = "【未汇报】"
Q_TITLE_INVESTMENT = "【项目投资】"
Q_ORG_MORE = "\n……另有{n}项，发送“{org}进度”查看全部"
Q_GROUP_FOOTER_EXAMPLE = "墨脱"
Q_PROJECT_PHYSICAL_BY = "{text}（{org}）"
Q_INDICATOR_UNIT_SUFFIX = "（{unit}）"
Q_REPORT_NO_ORG = "您还没有所属单位，无法汇报。请联系管理员。"
Q_NO_TASKS = "{name}目前没有分解到的任务。"
Q_ORG_HEADER = (
    "【{name}】共{total}项：已完成{done}、推进中{in_progress}、未启动{not_started}、受阻{blocked}、逾期{overdue}"
)
Q_GROUP_HEADER = "【{name}】{n}个单位 共{total}项，平均完成{completion}%：已完成{done}、推进中{in_progress}、未启动{not_started}、受阻{blocked}、逾期{overdue}、滞后{lagging}"
Q_GROUP_LINE = "{light}{name} 完成{completion}% 滞后{lagging} 逾期{overdue} 未汇报{unreported}"
Q_GROUP_FOOTER = "发送单位名（如“{example}进度”）查看详情。"
Q_WHOLE_CITY = "全市"
Q_LINE = "{light}{label} {state}{flags}{date}"
Q_NEVER = "未汇报"
Q_FLAG_OVERDUE = " 逾期{days}天"
Q_FLAG_BLOCKED = " 受阻"
Q_FLAG_LAGGING = " 滞后"
Q_FLAG_DUE_TODAY = " 今天到期"
Q_FLAG_DUE_SOON = " {days}天后到期"
Q_DATE = " · {date}"
Q_PROJECT_PREFIX = "项目·"
Q_INDICATOR_PREFIX = "指标·"
Q_TASK_HEADER = "【任务】{title}\n截止{due}｜{n}个单位：已完成{done}、逾期{overdue}、滞后{lagging}"
Q_TASK_ONE = (
    "【{org}】{title}\n截止：{due}\n状态：{light}{state}{flags}\n序时进度：{expected}%\n最近汇报：{date}{problems}"
)
Q_ITEM_PROBLEMS = "\n困难问题：{text}"
Q_PROJECT_HEADER = "【项目{number}】{title}\n牵头：{lead}｜实施年限：{years}"
Q_PROJECT_INVEST = "投资：已完成 {done} / 计划 {total} 万元（{pct}）"
Q_PROJECT_INVEST_NONE = "投资：计划 {total} 万元，尚未填报完成投资"
Q_PROJECT_PHYSICAL = "形象进度：{text}"
Q_PROJECT_PROGRESS = "进度：{light}{state}{flags}（序时进度{expected}%）"
Q_PROJECT_LAST = "最近汇报：{date}（{org}）"
Q_PROJECT_NEVER = "最近汇报：未汇报"
Q_PROJECT_UNIT_LINE = "{light}{org} {state}{invest}{date}"
Q_PROJECT_UNIT_INVEST = " 投资{done}万元"
Q_INVEST_HEADER = "工程项目{n}个，计划总投资{total}万元，已完成{done}万元（{pct}）"
Q_INVEST_LINE = "{light}项目{number} {label}：{done}/{total}万元（{pct}）{date}"
Q_NO_PROJECTS = "{name}没有工程项目。"
Q_TITLE_INDICATORS = "【考核指标】"
Q_INDICATORS_HEADER = "{scope}考核指标{n}项："  # then DIGEST_VERDICT_LINE: the counts as the digest words them
Q_INDICATORS_LINE = "{mark}指标{number} {label}{value}（目标{target}）{verdict}{org}{date}"
Q_INDICATORS_VALUE = "：{value}"
Q_INDICATORS_UNITS = " · {n}个单位"
Q_INDICATORS_FOOTER = "发送指标名称看详情，如“{example}”；“哪些指标没达标”只看未达标的。"
Q_NO_INDICATORS = "{name}没有考核指标。"
# The mark before an indicator's line, by its verdict (db.repositories.progress: met, not_met, unjudged, unreported).
VERDICT_MARKS = {"met": "✅", "not_met": "❌", "unjudged": "❔", "unreported": "⚪"}
Q_INDICATOR_HEADER = "【指标{number}】{title}{unit}\n目标：{target}｜2023年：{target_year}"
Q_INDICATOR_LATEST = "最新值：{value}（{date}，{org}）→ {verdict}"
Q_INDICATOR_NONE = "最新值：未填报"
Q_INDICATOR_RESPONSIBLE = "责任单位：{names}"
Q_INDICATOR_SUBS = "分项指标："
Q_INDICATOR_SUB_LINE = "· {key} {name}：{target}"
Q_OVERDUE_HEADER = "【{scope}】逾期{kind}{n}项："
Q_OVERDUE_LINE = "🔴{org}｜{label} 逾期{days}天 {state}"
Q_OVERDUE_NONE = "【{scope}】目前没有逾期{kind}。"
Q_OVERDUE_KIND = "任务"  # what "逾期任务" lists when no kind is asked: every item (tasks, projects, indicators)
Q_DUE_SOON_HEADER = "7天内到期{n}项："
Q_DUE_SOON_LINE = "🟡{org}｜{label} {due}到期 {state}"
Q_UNREPORTED_LINE = "{i}. {org}{people}｜{last}"
Q_UNREPORTED_PEOPLE = "（{names}）"
Q_UNREPORTED_LAST = "上次汇报{date}"
Q_UNREPORTED_NEVER = "从未汇报"
Q_UNREPORTED_NONE = "近7天（{since}以来）有任务的单位都已汇报。"
Q_ORG_REPORTED = "{org}近7天已汇报，最近一次：{date}。"
Q_ORG_NOT_REPORTED = "{org}近7天没有汇报（{last}）。"
# "两山实施方案报了吗": the item, unit by unit, over the last 7 days.
Q_ITEM_REPORTED_HEADER = "「{label}」近7天（{since}以来）{reported}个单位已汇报，{n}个未汇报："
Q_ITEM_REPORTED_ONE = "「{label}」（{org}）{said}"
Q_ITEM_REPORTED_LINE = "{light}{org}：{said}"
Q_ITEM_REPORTED_YES = "{date}已汇报：{state}{review}"
Q_ITEM_REPORTED_NO = "近7天没有汇报（上次：{date} {state}）"
Q_ITEM_REPORTED_NEVER = "还没有汇报过"
Q_ORG_ITEMS_UNREPORTED = "\n其{total}项中有{n}项从未汇报，发送“{org}进度”查看。"
Q_ORG_ITEMS_NONE_REPORTED = "\n其{total}项都还没有汇报过，发送“{org}进度”查看。"
Q_ORG_NO_OPEN = "{org}目前没有待汇报的任务。"

# ---- verdicts, lights and 序时进度 (db/repositories/progress.py, handlers/judgement.py) (issue 14) -------------
# How plan show (and the verdict lines) state the rule an indicator is judged by (progress.rule_of).
RULE_OPS = {">=": "≥", ">": "＞", "<=": "≤", "<": "＜", "=": "＝"}
RULE_TREND = {">=": "不低于上次填报值", "<": "低于上次填报值", "<=": "不高于上次填报值"}
RULE_NUMERIC = "按填报值判定：{op}{value}即达标"
RULE_ACTION = "按回答判定：回答“已{verb}”“是”“已完成”或汇报已完成即达标，回答“未{verb}”“否”为未达标，其他待协调员判定"
RULE_TREND_TEXT = "与本单位上次填报值比较：{trend}即达标；没有上次的值时待协调员判定"
RULE_MANUAL = "由协调员判定（发送“判定 指标N 达标”或“判定 指标N 未达标 理由”）"
VERDICT_JUDGED = "（{name}判定{reason}）"
PT_VERDICT = "，{verdict}"
DIGEST_VERDICTS = "指标达标情况"
DIGEST_VERDICT_LINE = "达标{met}项、未达标{not_met}项、待判定{unjudged}项、未填报{unreported}项"
VERDICT_JUDGED_REASON = "：{reason}"
JUDGE_USAGE = "判定的格式：判定 指标12 达标 [理由]；只判定一个单位：判定 指标12 墨脱县 未达标 [理由]。"
JUDGE_NO_INDICATOR = "没有找到指标{number}。"
JUDGE_NO_ORG = "没有找到单位“{name}”，或它不是指标{number}的责任单位。"
JUDGE_DONE = "已记录：指标{number}·{label}{org}判定为{verdict}{reason}。此后有新的汇报时，重新按规则判定。"
JUDGE_ORG = "（{org}）"
JUDGE_ALL = "（全部责任单位）"
EXPECTED_EXPLAINED = (
    "序时进度：从任务的开始日（任务没有写明的，按方案印发日{start}）到截止日，按已过天数计算应完成的比例。\n"
    "滞后：已汇报的进度比序时进度低{lag}个百分点以上（从未汇报的算“未汇报”，不算滞后）。\n"
    "灯色：🔴逾期或受阻；🟡滞后，或开始{grace}天后仍未汇报；⚪开始不满{grace}天、尚未汇报；🟢正常推进或已完成。\n"
    "排名按平均完成率（未汇报按0%），相同时逾期少的在前。"
)

# ---- plan show (handlers/plan_text.py) ---------------------------------------------------------------------
PT_ORG_HEADER = "{name}（{kind}）"
PT_KINDS = {
    "county": "县（区）",
    "department": "市直部门",
    "office": "市委办公室",
    "government": "县政府",
    "branch": "分局",
}
PT_SHORT = "简称：{text}"
PT_ALIASES = "别名：{text}"
PT_FORMER = "曾用名/其后名称：{text}"
PT_PARENT = "上级单位：{text}"
PT_GROUPS = "所属单位组：{text}"
PT_NOTE = "备注：{text}"
PT_ORG_TASKS = "任务 {n} 项（截至{today}）："
PT_ORG_TASK_LINE = "{i}. [{code}] {title}｜截止 {due}｜{light}{state}{target}"
PT_TARGET = "｜目标：{text}"
PT_PROJECT_HEADER = "项目{number}：{title}"
PT_INDICATOR_HEADER = "指标{number}：{title}"
PT_TASK_HEADER = "任务 {code}：{title}"
PT_FIELD = "{name}：{value}"
PT_FIELDS = {
    "short": "简称",
    "content": "建设内容",
    "investment": "总投资（万元）",
    "years": "实施年限",
    "lead": "牵头单位",
    "assignees": "实施单位",
    "keywords": "关键词",
    "due": "截止日期",
    "note": "备注",
    "domain": "领域",
    "category": "指标类别",
    "unit": "单位",
    "target": "指标值",
    "target_year": "2023年目标",
    "explanation": "指标解释",
    "check": "判定规则",
    "responsible": "责任单位",
    "section": "出处",
    "text": "原文",
    "start": "开始日期",
    "targets": "量化目标",
}
PT_SUB_HEADER = "分项指标 {key}：{name}"
PT_PROGRESS = "进展（截至{today}）："
PT_PROGRESS_LINE = "  {light}{org}｜{state}｜最近汇报 {date}"
PT_NEVER = "未汇报"

# ---- the unit hierarchy and the plan's data fixes (issue 14) -------------------------------------------------
# A responsible unit the source leaves empty and the plan infers (plan show, the indicator answer).
INFERRED_MARK = "（推定）"
# A sub-indicator's note (which of the source's readings was taken and why), in the indicator answer.
Q_INDICATOR_SUB_NOTE = "    说明：{text}"
PT_CHILDREN = "下属单位：{text}（其任务计入本单位）"
PT_ORG_TASK_OF = "（{org}）"
# In `X进度`, a line of a unit below X: whose item it is.
Q_CHILD_UNIT = "（{org}）"
# `duban plan show` without a name: what the plan holds and what each count counts.
PT_OVERVIEW = (
    "{title}（{key}）\n"
    "  县（区）：{counties} 个\n"
    "  有年度任务的市直部门：{departments} 个\n"
    "  责任单位（含其他）：{organisations} 个\n"
    "  年度目标：{goals} 项\n"
    "  重点任务：{tasks} 项（分解到单位 {task_assignments} 条）\n"
    "  工程项目：{projects} 个，总投资 {investment} 万元（分解到单位 {project_assignments} 条）\n"
    "  指标：{indicators} 项（分解到单位 {indicator_assignments} 条）\n"
    "  宣传活动：{events} 项（{event_assignments} 条，提醒用，不需汇报）\n"
    "  需汇报的任务、项目、指标合计 {reportable} 条（即查询中的“共N项”）\n"
)

# ---- queries, continued (handlers/queries/) ----------------------------------------------------------------
Q_ACK = "不客气，有需要随时发消息给我。"

# ---- plan show, continued (handlers/plan_text.py) -----------------------------------------------------------
PT_AMBIGUOUS = "“{name}”对应多项，请用更完整的名称：\n{choices}"
PT_AMBIGUOUS_LINE = "• {label}"

# ---- queries, continued (handlers/queries/) ----------------------------------------------------------------
Q_INVEST_LINE_NONE = "{light}项目{number} {label}：计划{total}万元，未填报"

# ---- scheduler, continued (scheduler/deadlines.py) --------------------------------------------------------
SCHED_MORE_ESCALATION = "……共{n}项，可发送“哪些任务逾期了”查看全部。"

# ---- queries, continued (handlers/queries/) ----------------------------------------------------------------
Q_UNREPORTED_SUMMARY = "近7天（{since}以来）{reported}个单位已汇报，{n}个单位未汇报："

# ---- queries, continued (handlers/queries/) ----------------------------------------------------------------
Q_INDICATOR_RESPONSIBLE_N = "责任单位：{n}个，各单位填报情况如下"
Q_INDICATOR_UNIT = "{light}{org}{value} {verdict}{date}"

# ---- questions of a plan under way (issue 15): windows, counts, lists that need action ----
# A time window as an answer states it.
Q_WINDOW = "{start}–{end}"
Q_WINDOW_DAY = "{day}"
# Items due in a window (kind: 任务/项目/指标/事项).
Q_DUE_HEADER = "{window}到期的{kind}：{n}项（已完成{done}、逾期{overdue}）"
Q_DUE_LINE = "{light}{due} {label}{org} {state}{flags}"
Q_DUE_UNITS = "（{orgs}）"
Q_DUE_NONE = "{scope}{window}没有到期的{kind}。"
Q_DUE_NEXT = "下一个到期：{due} {org}{label}"
Q_DUE_EVENTS = "📅 {window}的活动：{names}"
Q_DUE_EVENT_LINE = "{name}（{when}，{org}）"
Q_KIND_NAMES = {"task": "任务", "project": "项目", "indicator": "指标", "event": "活动", "org": "单位"}
Q_KIND_ANY = "事项"
# Counts of the plan's contents.
Q_COUNT_CITY = "全市共有{kind}{n}项。"
Q_COUNT_PROJECTS = "全市共有工程项目{n}个，计划总投资{total}万元。"
Q_COUNT_ORGS = "全市共有责任单位{n}个：县（区）{counties}个、市直单位{departments}个。"
Q_COUNT_INDICATORS = "示范市建设指标共{n}项（{parts}）。"
Q_COUNT_INDICATOR_PART = "{category}{n}项"
Q_COUNT_ORG = "{scope}共有{kind}{n}项：已完成{done}、推进中{in_progress}、未启动{not_started}、受阻{blocked}，逾期{overdue}、未汇报{unreported}。"
Q_COUNT_MORE = "回复“{example}”查看明细。"
Q_COUNT_PROGRESS_WORD = "进度"
# Lagging, blocked, problems, not 达标.
Q_LAGGING_HEADER = "{scope}滞后的{kind}：{n}项（低于序时进度{points}个百分点以上）"
Q_LAGGING_LINE = "{light}{org}{label} 完成{state}，序时{expected}{date}"
Q_LAGGING_NONE = "{scope}没有滞后的{kind}（低于序时进度{points}个百分点以上算滞后）。"
Q_URGED_HEADER = "{window}{scope}催办{n}次："
Q_URGED_NONE = "{window}{scope}没有催办记录。"
Q_DONE_HEADER = "{window}{scope}已完成的{kind}：{n}项（共{total}项）"
Q_DONE_LINE = "✅{org}{label}{date}{review}"
Q_DONE_REVIEW = "（{state}）"
Q_DONE_NONE = "{window}{scope}还没有已完成的{kind}（共{total}项）。"
Q_BLOCKED_HEADER = "{scope}受阻的{kind}：{n}项"
Q_BLOCKED_LINE = "🔴{org}{label}：{reason}{date}"
Q_BLOCKED_NONE = "{scope}目前没有受阻的{kind}。"
Q_NO_REASON = "未说明原因"
Q_PROBLEMS_HEADER = "{scope}反映的困难问题：{n}条，涉及{units}个单位"
Q_PROBLEMS_UNIT = "【{org}】"
Q_PROBLEMS_LINE = "· {label}：{text}{date}"
Q_PROBLEMS_NONE = "{scope}的汇报中没有反映困难问题。"
Q_UNMET_HEADER = "{scope}未达标的指标：{n}项"
Q_UNMET_LINE = "❌{label} {value}（目标{target}）{org}{date}"
Q_UNMET_REST = "另有待判定{pending}项、未填报{unreported}项。"
Q_UNMET_NONE = "{scope}已填报的指标中没有未达标的。"
# Who reported in a window.
Q_REPORTED_HEADER = "{window}汇报情况：{orgs}个单位报送{n}条"
Q_REPORTED_LINE = "{i}. {org} {n}条（{people}，最近{date}）"
Q_REPORTED_NONE = "{window}还没有单位汇报。"
Q_REPORTED_UNIT_HEADER = "{window}{org}报送{n}条："
Q_REPORTED_UNIT_LINE = "{i}. {label} {state}（{date} {person}{review}）"
Q_REPORTED_UNIT_NONE = "{window}{org}没有汇报。"
Q_REPORTED_SILENT = "未汇报：{names}"
Q_REPORTED_SILENT_MORE = "等{n}个单位"
# The review queue and returned reports.
Q_REVIEW_QUEUE_TITLE = "待审核"
Q_REVIEW_QUEUE_HEADER = "待审核：{n}条"
Q_REVIEW_QUEUE_LINE = "{i}. {org}｜{label} {state}（{person}，{date}）"
Q_REVIEW_QUEUE_NONE = "目前没有待审核的汇报。"
Q_REVIEW_QUEUE_HINT = "回复“审核”逐条审核。"
Q_RETURNED_HEADER = "{scope}被退回待重报：{n}项"
Q_RETURNED_LINE = "↩️{org}{label}：{reason}（{by}，{date}）"
Q_RETURNED_NONE = "{scope}没有被退回的汇报。"
Q_RETURNED_HINT_OWN = "回复“重新填报 序号或名称”修改后重报。"
# An official's own unreported items.
Q_MY_UNREPORTED_HEADER = "{org}本周还有{n}项未汇报（共{total}项）："
Q_MY_UNREPORTED_LINE = "{i}. {label}{flags}"
Q_MY_UNREPORTED_NONE = "{org}本周的{total}项都已汇报，辛苦了！"
Q_MY_UNREPORTED_HINT = "回复“汇报”开始填报，无变化的可回复“全部无变化”。"
# Rankings by completion.
Q_RANKING_HEADER = "{scope}按完成度排名（完成度=各事项完成百分比的平均，未汇报计0）："
Q_RANKING_LINE = "{i}. {light}{name} {completion}%（完成{done}/{total}，逾期{overdue}、滞后{lagging}）"
# What a kind is not answered for.
# A combination that makes no sense ("哪些活动滞后"): what is asked, and what can be asked instead.
Q_KIND_NOT_ANSWERED = "{kind}不填报进度，没有“{what}”可查。可以问：{examples}"
Q_KIND_UNMET_PROJECT = "项目不判定达标与否。可以问：{examples}"
Q_INTENT_WORDS = {
    "lagging": "滞后",
    "blocked": "受阻",
    "problems": "困难问题",
    "unmet": "达标情况",
    "returned": "退回",
    "review_queue": "待审核",
    "ranking": "排名",
    "overdue": "逾期",
    "reported": "汇报",
}
Q_EXAMPLES_EVENTS = ["下个月有哪些活动", "本月到期的任务"]
Q_EXAMPLES_PROJECTS = ["项目投资完成情况", "哪些项目滞后", "受阻的项目"]

# ---- citywide: the city's figure of a shared indicator (issue 14) ----
# The rule a shared indicator's city figure follows (progress.CITY_RULES), as its line names it.
CITY_RULE_LABELS = {
    "all": "{n}个单位均需达标",
    "min": "{n}个单位取最低值",
    "mean": "{n}个单位取平均值",
    "sum": "{n}个单位合计",
}
# The figure of rule "all": the units by verdict (those with none left out).
CITY_ALL_COUNT = "{label}{n}"
CITY_ALL_SEPARATOR = "、"
CITY_NO_VALUE = "暂无数值"
# Chat: the city's line, then a unit's own newest value (an official of one unit).
Q_INDICATOR_CITY = "全市（{rule}）：{figure} → {verdict}"
Q_INDICATOR_OWN = "本单位最新值：{value}（{date}，{org}）→ {verdict}"
Q_INDICATOR_OWN_NONE = "本单位最新值：未填报"
# plan show: the city's line under the units' progress.
PT_CITY = "全市（{rule}）：{figure} → {verdict}"
# The export's indicator sheet: the rule column, and the reporting column of a shared indicator's main row.
EXPORT_CITY_RULE_HEADER = "全市口径"
EXPORT_CITY_ORG = "全市"

# ---- understanding (handlers/understanding/lexicon.py) ---------------------------------------------------------
ITEM_LABEL_PROJECT = "项目{number}·{label}"
ITEM_LABEL_INDICATOR = "指标{number}·{label}"

# ---- the command line (bot/cli.py) (issue 19) ----------------------------------------------------------------

# argparse's own words (usage, headings, its error messages) as the command line shows them.
ARGPARSE: dict[str, str] = {
    "usage: ": "用法：",
    "positional arguments": "参数",
    "options": "选项",
    "optional arguments": "选项",
    "subcommands": "子命令",
    "show this help message and exit": "显示本帮助并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n（加 -h 查看用法）\n",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "the following arguments are required: %s": "缺少必填参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选择：%(value)r（可选：%(choices)s）",
    "invalid %(type)s value: %(value)r": "无效的取值：%(value)r",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多一个值",
    "expected at least one argument": "至少一个值",
    "expected %s argument": "需要 %s 个值",
    "expected %s arguments": "需要 %s 个值",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 不明确，可能是：%(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "参数 %s 必须给出其中之一",
    "ignored explicit argument %r": "多余的取值 %r",
    "unexpected option string: %s": "意外的选项：%s",
    "can't open '%(filename)s': %(error)s": "无法打开“%(filename)s”：%(error)s",
    "unknown parser %(parser_name)r (choices: %(choices)s)": "未知的命令 %(parser_name)r（可选：%(choices)s）",
}
CLI_ROLES = "角色：" + "、".join(f"{role} {name}" for role, name in ROLE_NAMES.items())
# What `duban init` / `plan import` counts, in the plan's words (keys: db.repositories.plans.ImportResult).
CLI_IMPORT_WHAT = {
    "plan": "计划",
    "organisation": "单位",
    "group": "单位组",
    "goal": "年度目标",
    "task": "重点任务",
    "project": "工程项目",
    "indicator": "指标",
    "sub_indicator": "分项指标",
    "event": "宣传活动",
    "assignment": "分解到单位的事项",
}
CLI_IMPORT_ORDER = tuple(CLI_IMPORT_WHAT)
CLI_IMPORT_UNCHANGED = "计划 {key} 已是最新，无需更新。"
CLI_IMPORTED = "计划 {key} 已导入：新增 {created}；更新 {updated}；停用 {deactivated}"
CLI_IMPORT_NONE = "无"
DIGEST_FILES_WRITTEN = "附件已写入：完成进度图 {chart}；周报工作簿 {book}"
CLI_BAD_DATE = "{option} 的日期“{text}”无效，应为 年-月-日，如 2023-11-20"
CLI_BAD_MOMENT = "{option} 的时间“{text}”无效，应为 ISO 8601，如 2023-07-10T10:00 或 2023-07-10"
CLI_EXPORT_AT_FUTURE = (
    "--at {at} 晚于当前日期 {today}（演练时由 --now 设定）：还不知道那天的完成情况。"
    "请去掉 --at（导出截至今天），或把 --now 设到 {at} 之后"
)
CLI_BAD_DURATION = "无效的期限“{text}”，应为如 7d、12h、30m"
CLI_DEMO_ADDED = "已添加演示用户 {n} 人（duban person list 查看）"
CLI_NO_PLAN = "数据库中还没有计划，请先运行 duban init"
CLI_NOT_FOUND = "找不到“{name}”"
CLI_DID_YOU_MEAN = "，是否指：{names}"
CLI_PLAN_PROBLEMS = "共 {n} 处问题，未写入任何数据。"
CLI_PLAN_VALID = "计划文件有效：{title}，单位 {orgs}，任务 {tasks}，项目 {projects}，指标 {indicators}"
CLI_WRITTEN = "已生成 {path}"
CLI_BAD_TELEGRAM_ID = "Telegram id 应为数字，而不是“{text}”"
CLI_PERSON_ADDED = "已添加 #{id} {name}（{org}，{role}）"
CLI_NO_PEOPLE = "还没有用户。用 duban person add 或 duban invite 添加。"
CLI_INACTIVE = "（停用）"
CLI_INVITE = "绑定码：{code}（{org}，{role}，{expires} 前有效，仅可使用一次）\n用户发送：绑定 {code}"
CLI_INVITE_LINK = "Telegram 链接：https://t.me/{bot}?start={code}"

# ---- WeCom template cards (bot/channels/wecom/cards.py) (issue 16) -------------------------------------------
CARD_SUBMIT = "提交"
CARD_SELECT_TITLE = "请选择"
CARD_CHOOSE = "请选择："  # the card's title when the question went above it as a message
CARD_CHOSEN = "已选：{label} ✓ {when}"
CARD_DONE = "已作答 ✓ {when}"  # chosen, but the card showed no text to repeat
CARD_EXPIRED = "已失效"
TG_EXPIRED_MARK = "⌛ 按钮已失效"
CARD_REPLACED = "已过期 · 请看最新消息（{when}）"  # a card a newer question replaced before it was tapped
# The percentage question's bands, as buttons (label, the answer it stands for)
PERCENT_BANDS = (("约25%", "25"), ("约50%", "50"), ("约75%", "75"), ("约90%", "90"))
CHOICE_NO_CHANGE = "无变化"
CARD_SEVERAL = "可多选：本页哪些{word}？"
CARD_SEVERAL_DONE = "{n}项{word}"

# ---- the board (督办看板: `看板` in the chat, pages under /board) ----------------------------------------------------

BOARD_LINK = (
    "督办看板的个人登录链接（{minutes}分钟内有效，只能打开一次；请勿转发）：\n{url}\n"
    "在手机或电脑的浏览器里打开即可查看全部进度表、一事一档和佐证照片。链接过期后再发“看板”获取新的。"
)
BOARD_PRIVATE_ONLY = "看板链接是个人的，请私聊我发送“看板”获取。"
BOARD_TITLE = "督办看板"
BOARD_NAV_OVERVIEW = "总览"
BOARD_NAV_OWN = "本单位"
BOARD_NAV_PROJECTS = "工程项目"
BOARD_NAV_INDICATORS = "指标"
BOARD_NAV_REVIEW = "审核"
BOARD_LOGOUT = "退出"
BOARD_FOOTER = "数据截至 {now}（与聊天、周报、汇总表同一口径）"
BOARD_LOGIN_WAIT = "正在进入督办看板……"
BOARD_LOGIN_BUTTON = "进入看板"
BOARD_SIGN_IN = "请先登录：在企业微信或 Telegram 里给督办助手发送“看板”，用回复的链接打开。"
BOARD_SIGNED_OUT = "已退出看板。需要时在聊天中发送“看板”获取新的登录链接。"
BOARD_LINK_UNKNOWN = "这个登录链接无效（可能复制不完整）。请在聊天中发送“看板”获取新的链接。"
BOARD_LINK_USED = "这个登录链接已经用过了：链接只能打开一次。请在聊天中发送“看板”获取新的链接。"
BOARD_LINK_EXPIRED = "这个登录链接已过期（10分钟内有效）。请在聊天中发送“看板”获取新的链接。"
BOARD_LINK_INACTIVE = "该账号已停用，不能登录看板。如有疑问请联系市委生态文明办。"
BOARD_FORGED = "请求无效（页面已过期或来源不对），没有做任何修改。请刷新页面后重试。"
BOARD_NOT_FOUND = "没有找到这个页面。"
BOARD_BAD_REQUEST = "请求有误，没有做任何修改。请返回上一页重试。"
BOARD_ERROR = "看板出错了，没有做任何修改。请稍后刷新重试；如果一直出错，请联系管理员。"
BOARD_NOT_YOURS = "您只能查看本单位的事项和材料。"
BOARD_REVIEW_ONLY = "只有协调员可以审核汇报。"
BOARD_NO_PLAN = "还没有导入工作计划。"
BOARD_FILE_GONE = "这个材料文件已不在服务器上。"
BOARD_REASON_NEEDED = "退回需要填写理由：请在输入框里写明要补充或修改什么，再点“退回”。"
WORKBOOK_NAME = "完成情况汇总-{org}{date}.xlsx"
CHANNEL_NAMES = {"telegram": "Telegram", "wecom": "企业微信", "console": "控制台", "board": "看板"}
BOARD_KIND_NAMES = {"task": "任务", "project": "工程项目", "indicator": "指标", "event": "宣传活动"}
BOARD_LIGHT_NAMES = {
    "🔴": "红灯：逾期或受阻",
    "🟡": "黄灯：滞后或超期未汇报",
    "🟢": "绿灯：正常",
    "⚪": "白灯：尚未到汇报期",
}
BOARD_COMPLETION = "平均完成率"
BOARD_WEEK_CHANGE = "较上周 {delta} 个百分点"
BOARD_ITEMS = "事项"
BOARD_ITEMS_SPLIT = "已完成 {done} · 推进中 {in_progress} · 未启动 {not_started}"
BOARD_ATTENTION = "逾期"
BOARD_ATTENTION_SPLIT = "逾期 {overdue} · 滞后 {lagging} · 受阻 {blocked} · 未汇报 {unreported}"
BOARD_INVESTMENT = "工程项目投资"
BOARD_INVESTMENT_SPLIT = "已完成 {done} / 计划 {planned} 万元"
BOARD_INVESTMENT_OF = "计划总投资 {total} 万元"
BOARD_PENDING = "条汇报待审核"
BOARD_PENDING_N = "{n} 条待审核"
BOARD_FILTER = "筛选"
BOARD_F_ALL = "全部"
BOARD_F_OVERDUE = "逾期"
BOARD_F_LAGGING = "滞后"
BOARD_F_BLOCKED = "受阻"
BOARD_F_UNREPORTED = "未汇报"
BOARD_F_RETURNED = "退回"
BOARD_F_THIS_WEEK = "本周到期"
BOARD_F_NEXT_WEEK = "下周到期"
BOARD_F_THIS_MONTH = "本月到期"
BOARD_F_NEXT_MONTH = "下月到期"
BOARD_AS_OF = "截至 {now}，周变化对比 {since}"
BOARD_DOWNLOAD_ALL = "下载汇总表（全市）"
BOARD_DOWNLOAD_UNIT = "下载本单位汇总表"
BOARD_NONE_MATCH = "没有“{filter}”的事项。"
BOARD_GROUP_COUNTIES = "县（区）"
BOARD_GROUP_DEPARTMENTS = "市直部门"
BOARD_GROUP_OTHERS = "其他单位"
BOARD_UNITS_N = "{n} 个单位"
BOARD_ITEMS_N = "{n} 项"
BOARD_COL_UNIT = "单位"
BOARD_COL_COMPLETION = "完成率"
BOARD_COL_DELTA = "周变化"
BOARD_COL_OVERDUE = "逾期"
BOARD_COL_LAGGING = "滞后"
BOARD_COL_BLOCKED = "受阻"
BOARD_COL_UNREPORTED = "未汇报"
BOARD_COL_LAST = "最近汇报"
BOARD_COL_ITEM = "事项"
BOARD_COL_STATUS = "状态"
BOARD_COL_PERCENT = "完成"
BOARD_COL_EXPECTED = "序时进度"
BOARD_COL_DUE = "截止"
BOARD_COL_REVIEW = "审核"
BOARD_MATCHING = "{filter}的事项（{n} 项，最急的在前）"
BOARD_PERCENT_EXPECTED = "完成 {percent}% / 序时 {expected}%"
BOARD_DUE = "{due}截止"
BOARD_TAG_RETURNED = "已退回"
BOARD_TAG_OVERDUE = "逾期{days}天"
BOARD_TAG_LAGGING = "滞后"
BOARD_TAG_COUNTED = "计入统计"
BOARD_UNIT_ITEMS = "本单位事项"
BOARD_URGENT_FIRST = "最急的在前"
BOARD_NO_ITEMS = "本单位没有分解到的事项。"
BOARD_NEVER = "从未汇报"
BOARD_PEOPLE = "人员"
BOARD_NO_PEOPLE = "还没有人绑定本单位。"
BOARD_ON_LEAVE = "请假至{until}"
BOARD_CHASES = "催办记录"
BOARD_NO_CHASES = "没有催办记录。"
BOARD_CHASE_LINE = "催办{org}：逾期 {overdue} 项、未汇报 {unreported} 项，通知 {recipients} 人"
BOARD_COUNTED = "计入统计的版本：{day}"
BOARD_EXPECTED_LINE = "序时进度 {expected}%"
BOARD_DAYS_LEFT = "还有 {n} 天"
BOARD_DAYS_OVER = "已逾期 {n} 天"
BOARD_VERDICT = "达标判定"
BOARD_PLAN_TEXT = "计划原文"
BOARD_WINDOW = "时间"
BOARD_TARGET = "目标"
BOARD_YEARS = "建设年限"
BOARD_CHART_INDICATOR = "指标值变化{unit}"
BOARD_CHART_INVESTMENT = "累计完成投资变化（万元）"
BOARD_CHART_PERCENT = "完成百分比变化"
BOARD_CHART_RANGE = "{low} ~ {high}"
BOARD_CHART_TARGET = "虚线为目标值"
BOARD_VERSIONS = "汇报记录（留痕）"
BOARD_VERSIONS_N = "共 {n} 版"
BOARD_VERSION_N = "第{n}版"
BOARD_NO_CHANGE = "无变化"
BOARD_PHYSICAL = "形象进度："
BOARD_INVESTMENT_DONE = "累计完成投资（万元）："
BOARD_VALUE = "指标值："
BOARD_PROBLEMS = "困难问题："
BOARD_NEXT_STEP = "下一步："
BOARD_EXPECTED_DATE = "预计完成："
BOARD_PHOTO = "佐证照片"
BOARD_FILE = "佐证文件"
BOARD_REASON = "退回理由："
BOARD_SIBLINGS = "同一事项的其他单位"
BOARD_SHEET_NOTE = "与 11月20日 汇总表同一张表、同一合计"
BOARD_CORRECTION = "更正版"
BOARD_APPROVE = "通过"
BOARD_RETURN = "退回"
BOARD_REASON_PLACEHOLDER = "退回理由（必填）"
