"""Every user-facing Chinese text of duban, in one place for review and later translation.

Texts with placeholders are format strings; callers fill them with `.format(...)`.
"""

from __future__ import annotations

# ---- general ---------------------------------------------------------------------------------------------
INTERNAL_ERROR = "抱歉，系统刚才出了点问题，请稍后再发一次。您已填写的内容都已保存。"
UNBOUND = (
    "您好，我是督办助手。您还没有绑定单位，暂时不能查看或汇报工作。\n"
    "请向市委生态文明办索取绑定码，然后发送：绑定 绑定码（例如：绑定 AB12CD34）。"
)
WELCOME_BOUND = "{name}您好，我是督办助手。发送“汇报”填报任务进展，发送“帮助”查看我能做什么。"
HELP_OFFICIAL = (
    "我可以帮您：\n"
    "• 汇报：逐项填报本单位任务进展（可发“汇报”或 /report）\n"
    "• 继续：接着填写上次没填完的汇报\n"
    "• 修改上次汇报：更正最近一次汇报\n"
    "• 我的任务：查看本单位任务\n"
    "• 一句话汇报：如“污水处理设施建设完成80%”\n"
    "• 请假到 6月5日：暂停提醒\n"
    "• 取消：随时退出当前对话"
)
HELP_COORDINATOR = (
    HELP_OFFICIAL
    + "\n\n协调员还可以问：\n"
    "• 墨脱县进度 / 边境县进度 / 全市进度\n"
    "• 哪些任务逾期了 / 生态环境局有逾期的吗\n"
    "• 谁还没汇报\n"
    "• 八及曲项目进度 / 项目投资完成情况\n"
    "• 林草覆盖率达标了吗\n"
    "• 待审核：审核新提交的汇报（通过 / 退回 理由）"
)
CANCELLED = "已取消。"
CANCELLED_DRAFT_KEPT = "已退出填写，草稿已保存。发送“继续”可接着填写。"
NOTHING_TO_CANCEL = "当前没有进行中的对话。发送“帮助”查看我能做什么。"
GROUP_PRIVATE_ONLY = "汇报请私聊我进行，群里只回答查询。"
NOT_ALLOWED = "您没有这项操作的权限。"

# ---- binding ---------------------------------------------------------------------------------------------
BIND_USAGE = "请发送：绑定 绑定码（绑定码由市委生态文明办提供，例如：绑定 AB12CD34）。"
BIND_OK = "绑定成功！您是{org}的{role}。\n发送“汇报”开始填报，发送“帮助”查看我能做什么。"
BIND_UNKNOWN = "绑定码“{code}”不存在，请核对后重新发送（绑定码为8位字母或数字）。"
BIND_USED = "绑定码“{code}”已被使用过，每个绑定码只能用一次。请向市委生态文明办重新索取。"
BIND_EXPIRED = "绑定码“{code}”已过期，请向市委生态文明办重新索取。"
BIND_ALREADY = "您已绑定为{org}的{role}，无需重复绑定。"
ROLE_NAMES = {"official": "填报人", "coordinator": "协调员", "admin": "管理员", "leader": "分管领导"}

# ---- check-in dialogue -----------------------------------------------------------------------------------
STATUS_LABELS = {"not_started": "未启动", "in_progress": "推进中", "done": "已完成", "blocked": "受阻"}
REVIEW_LABELS = {"pending": "待审核", "approved": "已通过", "returned": "已退回"}
NO_ORG = "您还没有所属单位，无法汇报。请联系管理员。"
NO_OPEN_TASKS = "{org}目前没有需要汇报的任务。"
TASK_LIST_HEADER = "{org}待汇报任务（共{n}项，按紧急程度排序）。请回复序号或任务名称："
TASK_LIST_MORE = "回复“更多”查看下一页。"
TASK_LINE = "{light}{label}｜{due}截止｜{state}"
TASK_STATE_NEVER = "未汇报"
TASK_STATE_LAST = "上次：{status}{percent}（{date}）"
PICK_NOT_FOUND = "没有找到“{text}”对应的任务。请回复列表中的序号（1–{n}），或任务名称中的关键词。"
PICK_AMBIGUOUS = "“{text}”对应多项任务，请选择："
OTHER_ORG_TASK = "您只能汇报本单位（{own}）的任务，“{label}”属于{other}。"
COORD_REPORT_FOR = "协调员可代单位汇报：请发送“汇报 单位名”，例如“汇报 墨脱县”。"
UNKNOWN_ORG_FOR_REPORT = "没有找到单位“{name}”。{hint}"
CHECKIN_HEADER = "【{label}】{org}\n{title}\n截止：{due}{target}"
CHECKIN_TARGET = "｜目标：{target}"
SKIP_HINT = "（可回复“跳过”）"
SKIP_WORDS = ("跳过", "无", "没有", "暂无", "略", "skip", "-", "—", "不填")
Q_STATUS = "① 当前状态？请选择或直接回复：未启动 / 推进中 / 已完成 / 受阻"
E_STATUS = "没看懂这个状态。请回复 1–4 或其中之一：未启动、推进中、已完成、受阻。"
Q_PERCENT = "② 完成进度百分比？（如 80、80%、百分之八十、八成、一半）"
E_PERCENT = "请回复 0–100 之间的进度，例如：80、80%、百分之八十、八成、一半。"
E_PERCENT_RANGE = "进度应在 0 到 100 之间，您填的是 {value}。请重新回复。"
Q_INVESTMENT = "③ 累计完成投资多少万元？（总投资 {total} 万元；如 1200、1200万、0.12亿）"
E_INVESTMENT = "请回复金额（单位万元），例如：1200、1200万、0.12亿。"
Q_INVESTMENT_OVER = "累计完成投资 {value} 万元超过了总投资 {total} 万元。确认无误吗？"
Q_PHYSICAL = "④ 形象进度？（如：主体工程完工，正在安装设备）"
E_TEXT_SHORT = "内容太短了，请用一句话说明（至少2个字）。"
E_TEXT_LONG = "内容太长了（{n}字），请精简到{limit}字以内。"
Q_INDICATOR = "② 指标当前值？（目标：{target}{unit}）"
E_INDICATOR = "请回复指标当前值，例如：82.5、82.5%、已建立。"
Q_DESCRIPTION = "③ 简要说明做了哪些工作？"
Q_PROBLEMS = "④ 存在的困难问题？"
Q_PROBLEMS_BLOCKED = "④ 受阻的原因和需要协调解决的问题？"
Q_NEXT_STEP = "⑤ 下一步打算？"
Q_EXPECTED = "⑥ 预计完成日期？（如 6月30日、2023-06-30、年底）"
E_DATE = "没看懂这个日期。请回复如：6月30日、2023-06-30、6月底、年底。"
E_DATE_PAST = "预计完成日期 {date} 已经过去了，请填写今天（{today}）以后的日期。"
Q_EVIDENCE = "⑦ 请发送佐证材料（照片或文件），发完回复“完成”；没有可回复“跳过”。"
EVIDENCE_GOT = "已收到第{n}份佐证材料（{name}）。可继续发送，或回复“完成”。"
E_EVIDENCE = "请发送照片或文件作为佐证材料，发完回复“完成”，没有可回复“跳过”。"
SUMMARY_HEADER = "请核对本次汇报："
SUMMARY_FOOTER = "回复“确认”提交，“修改 项目名”更改某项（如“修改 进度”），或“取消”。"
F_STATUS, F_PERCENT, F_INVESTMENT, F_PHYSICAL = "状态", "进度", "完成投资", "形象进度"
F_INDICATOR, F_DESCRIPTION, F_PROBLEMS, F_NEXT, F_EXPECTED, F_EVIDENCE = (
    "指标值", "工作情况", "困难问题", "下一步", "预计完成", "佐证材料")
INDICATOR_MET, INDICATOR_NOT_MET, INDICATOR_UNKNOWN = "达标", "未达标", "待判定"
EVIDENCE_COUNT = "{n}份"
NONE_TEXT = "无"
E_CONFIRM = "请回复“确认”提交，“修改 项目名”更改某项，或“取消”。"
Q_MODIFY = "要修改哪一项？"
E_MODIFY = "没有“{text}”这一项。可修改：{fields}。"
SUBMITTED = "✅ 已提交：{label}（{status}{percent}）。等待市委生态文明办审核。"
SUBMITTED_EDIT = "✅ 已更正：{label}（{status}{percent}），原汇报已留痕保存。"
Q_NEXT_TASK = "还有{n}项待汇报，继续下一项吗？"
ALL_REPORTED = "本单位任务都已汇报，辛苦了！"
CHOICE_NEXT, CHOICE_END = "下一项", "结束"
END_SESSION = "好的，本次汇报结束。需要时发送“汇报”。"
CHOICE_CONFIRM, CHOICE_MODIFY, CHOICE_CANCEL, CHOICE_SKIP, CHOICE_DONE, CHOICE_RETRY = (
    "确认", "修改", "取消", "跳过", "完成", "重新填写")
DRAFT_RESUMED = "接着填写上次的汇报："
NO_DRAFT = "没有未完成的汇报草稿。发送“汇报”开始填报。"
DRAFT_EXPIRED = "上次的汇报填写超时，草稿已保存，发送“继续”可接着填写。"
DRAFT_REPLACED_HINT = "（有一份未完成的草稿：{label}。发送“继续”可接着填写）"
NO_LAST_REPORT = "您还没有提交过汇报，无法修改。发送“汇报”开始填报。"
EDIT_LAST_INTRO = "修改上次汇报（{date}）。原汇报会留痕保存。"
ONELINER_NONE = "没有在本单位任务中找到与“{text}”对应的任务。请发送“汇报”从列表中选择。"
ONELINER_PICK = "这条汇报对应哪项任务？"
ATTACHMENT_OUTSIDE = "收到文件。佐证材料请在汇报过程中发送：先发送“汇报”选择任务。"

# ---- review ----------------------------------------------------------------------------------------------
REVIEW_NONE = "目前没有待审核的汇报。"
REVIEW_LIST_HEADER = "待审核汇报（共{n}条）。回复序号查看："
REVIEW_LINE = "{org}｜{label}｜{status}{percent}｜{date}"
REVIEW_DETAIL = (
    "【{label}】{org}\n填报人：{person}（{channel}，{date}）\n状态：{status}{percent}\n{details}"
    "\n回复“通过”，或“退回 理由”（如：退回 请补充照片）。"
)
REVIEW_ASK_REASON = "请说明退回理由（如：请补充现场照片）："
REVIEW_PASSED = "已通过：{org}「{label}」。{closed}"
REVIEW_CLOSED = "该任务已办结。"
REVIEW_RETURNED = "已退回：{org}「{label}」，理由：{reason}。已通知填报单位。"
REVIEW_PICK_ERROR = "请回复列表中的序号（1–{n}）。"
REVIEW_NOTIFY_PASSED = "您汇报的「{label}」已通过审核。{closed}"
REVIEW_NOTIFY_RETURNED = "您汇报的「{label}」被退回，理由：{reason}。请发送“修改上次汇报”或“汇报”重新填报。"
REVIEW_CHOICE_PASS, REVIEW_CHOICE_RETURN = "通过", "退回"
REVIEW_NEXT_HINT = "回复“待审核”查看下一条。"
