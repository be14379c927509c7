"""Questions in plain Chinese: "墨脱县进度", "生态环境局有逾期的吗", "谁还没汇报", "八及曲项目", "林草覆盖率达标了吗".

The understanding layer (`handlers.understanding`) is built once at start-up (`install`); every free-text message that is
not part of another dialogue comes to `answer`, and the follow-ups of a query (a pick, "更多") to `on_message`.
- `dialogue`: those entry points, the query states (pick, page) and the dispatch to the answers;
- `access`: who may ask about which organisations;
- `lines`: one assignment as one short line (light, state, flags, date), most urgent first;
- `overview`: progress of one organisation, a group, the whole city;
- `items`: one task, project or indicator;
- `lists`: overdue, not reported, project investment;
- `unknown`: the reply to a message not understood;
- `paging`: answers cut into pages that fit a phone and WeCom.
"""

from handlers.queries.dialogue import (
    DIALOGUE,
    OWN_LIST_INTENTS,
    QUESTION_INTENTS,
    QueryState,
    answer,
    install,
    on_message,
    understand,
)

__all__ = [
    "DIALOGUE",
    "OWN_LIST_INTENTS",
    "QUESTION_INTENTS",
    "QueryState",
    "answer",
    "install",
    "on_message",
    "understand",
]
