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
