"""The understanding layer: what a short Chinese message on a phone asks for.

"墨脱进展怎么样", "生态环境局有逾期的吗", "八及曲项目", "林草覆盖率达标了吗", "谁还没汇报", "巴宜和波密进度",
"污水处理设施建设完成80%" → an `Understanding`: the intent, the organisations, group, project, indicator or
task meant, and for one-line reports the percentage and status.

How it works:
- A `Lexicon` is built from the database: every name of every organisation (full, short, aliases, former and
  later names, the name with or without 林芝/市/县/区, a department's stem such as 住建), group names, and the
  names, short names and keywords of tasks, projects and indicators. Its surfaces become jieba user words, so
  segmentation keeps names whole.
- A message is normalised and segmented once; consecutive tokens are matched against the lexicon (longest
  match wins). Tokens left over that are not common words are tried as partial names (环境局), as names with
  one character wrong, missing or extra (工布江大), and as homophones (默脱 → 墨脱), because people type
  with pinyin input methods.
- Items are scored: a name beats a keyword, a keyword shared by many items counts less, "项目"/"指标" in the
  message favour projects/indicators, and an organisation named in the message favours the items that name
  it (朗县 + 湿地 → 冲康村湿地项目). Ties become numbered choices.
- Intents come from small patterns on what is left once names are masked (逾期, 没汇报, 投资, 我的任务...).

Building happens once at start-up (`install`), again after a plan import (`refresh`); `understand` only reads.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import jieba

from db.models import BLOCKED, DONE, IN_PROGRESS, INDICATOR, NOT_STARTED, PROJECT, TASK
from db.repositories.queries import GroupEntry, ItemEntry, OrgEntry, Vocabulary
from handlers.numbers import parse_amount, parse_percent, to_number

# Intents
PROGRESS, OVERDUE, UNREPORTED, INVESTMENT, MY_TASKS, HELP, REPORT, UNKNOWN = (
    "progress",
    "overdue",
    "unreported",
    "investment",
    "my_tasks",
    "help",
    "report",
    "unknown",
)
INTENTS = (PROGRESS, OVERDUE, UNREPORTED, INVESTMENT, MY_TASKS, HELP, REPORT, UNKNOWN)

# Kinds of lexicon entries
ORG, GROUP, ITEM = "org", "group", "item"

# How strongly a surface names its entity
W_NAME, W_VARIANT, W_STEM, W_GROUP = 10.0, 9.0, 7.0, 10.0
W_ITEM_NAME, W_ITEM_SHORT, W_KEYWORD = 10.0, 9.0, 5.0
FUZZY_FACTOR = 0.8  # a typo or partial name counts a little less than the exact name
KIND_BONUS, CONTEXT_BONUS, ASSIGNEE_BONUS = 3.0, 3.0, 1.5
TIE_MARGIN = 0.75
VERBATIM_BONUS = 4.0
MIN_ITEM_SCORE = 0.5
MAX_CHOICES = 8
USER_WORD_FREQ = 200_000  # high enough that jieba keeps every name whole
COMMON_WORD_FREQ = 2_000  # jieba words at least this frequent are ordinary words, not mistyped names
MAX_NGRAM_TOKENS = 8

# ---- patterns -------------------------------------------------------------------------------------------------

_PUNCT = re.compile(r"[\s，。！？!?,;；：:“”\"'‘’（）()【】\[\]{}<>《》~～…·/\\|]+")
_QUESTION_MARK = re.compile(r"[?？]")
HELP_RE = re.compile(
    r"^(帮助|help|菜单|功能|说明|使用说明|用法|怎么用|如何使用|你好|您好|hi|hello|在吗|在不在|有人吗|\?)$"
    r"|能做什么|能干什么|能干啥|会做什么|会干什么|会什么|可以做什么|可以干什么|怎么问|怎么查|有什么功能|不会用|使用方法|怎么使用"
)
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
)
PROJECT_HINT = re.compile(r"项目|工程")
INDICATOR_HINT = re.compile(r"指标|达标|目标值|达到目标")
TASK_HINT = re.compile(r"任务")
CONNECTIVE = frozenset("和与跟及、,，&+") | {"以及", "还有", "加上", "同"}

# Report: status words. Blocked and not-started first: "完成30%但资金没到位" is blocked.
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
_HAS_NUMBER = re.compile(r"[0-9零〇一二两三四五六七八九十]")
PERCENT_HINT = re.compile(r"[0-9]|百分|[一二两三四五六七八九十]成|半")
PERCENT_AFTER_VERB = re.compile(
    r"(?:完成|进度|达到|推进到|做到|到了)(?:了)?\s*(\d{1,3}(?:\.\d+)?)(?![\d.万亿元个项号%])"
)
AMOUNT_RE = re.compile(
    r"(?:投资|资金|到位)[^0-9零〇一二两三四五六七八九十百千万亿]{0,6}([0-9.]+|[零〇一二两三四五六七八九十百千]+)\s*(亿元|亿|万元|万|元)"
)
_NUM = r"([0-9]{1,3}|[一二两三四五六七八九十]{1,3})"
NUMBERED_RE = re.compile(
    rf"(?:第\s*{_NUM}\s*(?:个|项|号)?\s*(项目|工程|指标))|(?:{_NUM}\s*(?:个|项)?号\s*(项目|工程|指标))"
    rf"|(?:(项目|工程|指标)\s*(?:第|编号|号|no\.?|#)?\s*{_NUM}(?:号|项|个)?(?![0-9.%]))"
)

# Words of questions, never names: a leftover made of these is not tried as a mistyped name.
STOP = frozenset(
    """的 了 吗 呢 吧 啊 呀 嘛 哦 哈 么 和 与 跟 及 、 , 也 都 还 又 就 在 是 有 没 没有
    要 请 帮 帮我 给 给我 我 我们 你 您 一下 下 查 查询 查查 查一下 看 看看 看一下 看下 想
    想知道 知道 问 问一下 请问 麻烦 现在 目前 最近 当前 今天 本周 这周 上周 本月 这个月 今年
    情况 进度 进展 怎么样 如何 怎样 咋样 咋 怎么 完成 完成情况 完成率 得 多少 哪些 哪个 哪 什么
    谁 有没有 工作 任务 项目 工程 指标 单位 部门 达标 了吗 好 好的 一共 总共 共 全部 所有 各
    每个 个 项 下面 逾期 超期 延期 汇报 报 报送 填报 上报 投资 资金 状况 数据 结果 统计 具体
    详细 明细 列表 清单 还有 以及 及其 它 他们 整体 总体 全市 汇总 人民政府 政府 县政府 区政府
    县委 区委 党委 那个 这个 那些 这些 一些 相关 方面 推进 落实 开展 怎么回事 为什么 啥 吗吗 呗
    不 未 已 已经 正在 那边 这边 那里 这里 一下子 帮忙 帮我查 给我看 嗯""".split()
)

# Generic surfaces that would make "工作进展如何" look like a task called 工作进展.
GENERIC_KEYWORDS = frozenset(
    """工作 任务 项目 工程 进度 进展 情况 完成 工作进展 完成情况 报送 汇报 建设 指标 单位 推进 落实 开展
    年度 工作计划 计划 方案 实施 管理 总体 全市""".split()
)

# Generic phrases for the sets of counties and of city departments (used when no plan group has them).
COUNTY_GROUP_WORDS = (
    "各县区",
    "各县",
    "各区县",
    "县区",
    "区县",
    "所有县",
    "所有县区",
    "七县",
    "七个县",
    "7个县",
    "七县区",
    "各县市区",
)
DEPT_GROUP_WORDS = ("各部门", "市直部门", "市直单位", "市直各部门", "各局", "市直", "所有部门", "市直各单位")


@dataclass(frozen=True)
class Candidate:
    """One of several things a name may mean; offered as a numbered choice."""

    kind: str  # ORG | ITEM
    id: int
    label: str


@dataclass(slots=True)
class Understanding:
    """What a message asks for. Treat as read-only (not frozen only because a frozen dataclass of this size
    costs a tenth of the whole understanding to construct).

    `org_ids` empty and no item/group means the whole city. `item_ids` lists the items the text mentions,
    best first (the candidates of a one-line report, or tasks a query names); `item_id` is the one item a
    query is about when it is unambiguous, with `project` / `indicator` its plan number.
    """

    text: str
    intent: str
    org_ids: tuple[int, ...] = ()
    org_names: tuple[str, ...] = ()
    group: str | None = None
    scope_all: bool = False  # "全市", "总体": explicitly the whole city
    own: bool = False  # "我们", "本单位": the sender's organisation
    item_id: int | None = None
    item_kind: str | None = None
    project: int | None = None
    indicator: int | None = None
    item_ids: tuple[int, ...] = ()
    item_scores: tuple[tuple[int, float], ...] = ()
    percent: Decimal | None = None
    status: str | None = None
    amount: Decimal | None = None  # 万元, in a one-line report
    ambiguous: tuple[Candidate, ...] = ()
    unknown_words: tuple[str, ...] = ()

    @property
    def org_id(self) -> int | None:
        return self.org_ids[0] if len(self.org_ids) == 1 else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for k in ("percent", "amount"):
            if data[k] is not None:
                data[k] = str(data[k])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Understanding:
        d = dict(data)
        for k in ("org_ids", "org_names", "item_ids", "unknown_words"):
            d[k] = tuple(d.get(k) or ())
        d["item_scores"] = tuple((int(a), float(b)) for a, b in d.get("item_scores") or ())
        d["ambiguous"] = tuple(Candidate(**c) for c in d.get("ambiguous") or ())
        for k in ("percent", "amount"):
            d[k] = Decimal(d[k]) if d.get(k) is not None else None
        return cls(**d)


@dataclass(frozen=True)
class Ref:
    """A surface's meaning: an organisation, group or item, how strongly, and which name it is."""

    kind: str
    key: Any  # org id, group name, item id
    weight: float
    how: str  # name | variant | stem | group | title | short | keyword | partial | typo | pinyin


# ---- pinyin (optional: without pypinyin, homophone typos are simply not recognised) -----------------------------

_TONES = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")


def _fold(raw: str) -> str:
    """The toneless first reading, with zh/z, ch/c, sh/s, -ng/-n merged (typing slips)."""
    s = raw.split(",", 1)[0].translate(_TONES)
    if s[:2] in ("zh", "ch", "sh"):
        s = s[0] + s[2:]
    if s.endswith("ng") and len(s) > 2 and s[-3] in "ie":
        s = s[:-1]
    return s


def _load_syllables() -> dict[int, str]:
    """Code point → folded syllable, read from pypinyin's single-character table only.

    Importing `pypinyin` itself also loads its phrase dictionary (~55 MB resident) that duban never uses, so
    the JSON file is read directly and folded into ~1,300 distinct syllable strings shared by 42k entries.
    """
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        return {}  # pragma: no cover - pypinyin is a declared dependency
    path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"
    try:
        raw: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    except OSError:  # pragma: no cover
        return {}
    interned: dict[str, str] = {}
    return {int(cp): interned.setdefault(_fold(v), _fold(v)) for cp, v in raw.items()}


_SYLLABLES = _load_syllables()


def _syllable(ch: str) -> str:
    return _SYLLABLES.get(ord(ch), ch)


def pinyin_key(text: str) -> str:
    return " ".join(_syllable(c) for c in text)


def _deletions(s: str) -> set[str]:
    return {s[:i] + s[i + 1 :] for i in range(len(s))}


# ---- segmentation ------------------------------------------------------------------------------------------------

_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()
_added_words: set[str] = set()


def tokenizer() -> jieba.Tokenizer:
    """duban's own jieba tokenizer (not the global one), initialised once per process."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                logging.getLogger("jieba").setLevel(logging.WARNING)
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                _tokenizer = tok
    return _tokenizer


def _add_user_words(words: Iterable[str]) -> None:
    """Teach the tokenizer the plan's names. Words are only ever added: a name dropped from a corrected plan
    merely stays a word, which is harmless, while removing words could disturb another plan in the process."""
    tok = tokenizer()
    with _tokenizer_lock:
        for w in words:
            if w not in _added_words and len(w) > 1:
                tok.add_word(w, USER_WORD_FREQ)
                _added_words.add(w)


def normalize_text(text: str) -> str:
    """Full-width to half-width, lower case, no spaces; punctuation kept only as "、" separators."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    t = _PUNCT.sub("、", t)
    return t.strip("、")


# ---- the lexicon ---------------------------------------------------------------------------------------------------


def _strip_city(name: str) -> list[str]:
    """Names with the prefixes people leave out: 林芝市 / 林芝 / 市委 / 市."""
    out = []
    for prefix in ("林芝市委", "林芝市", "林芝", "市委", "市"):
        if name.startswith(prefix) and len(name) - len(prefix) >= 2:
            out.append(name[len(prefix) :])
    return out


@dataclass
class Lexicon:
    """Every surface people may use for something, with its meanings; built from a `Vocabulary`."""

    vocab: Vocabulary
    surfaces: dict[str, list[Ref]] = field(default_factory=dict)
    prefixes: set[str] = field(default_factory=set)
    orgs: dict[int, OrgEntry] = field(default_factory=dict)
    groups: dict[str, GroupEntry] = field(default_factory=dict)
    items: dict[int, ItemEntry] = field(default_factory=dict)
    projects: dict[int, int] = field(default_factory=dict)  # plan number → item id
    indicators: dict[int, int] = field(default_factory=dict)
    item_context: dict[int, frozenset[int]] = field(default_factory=dict)  # orgs an item's own words name
    org_surfaces: dict[int, set[str]] = field(default_factory=dict)
    partial: dict[str, set[tuple[str, Any]]] = field(default_factory=dict)
    deletions: dict[str, set[tuple[str, Any, str]]] = field(default_factory=dict)
    pinyin: dict[str, set[tuple[str, Any]]] = field(default_factory=dict)
    meanings: dict[str, Meaning] = field(default_factory=dict)
    item_assignees: dict[int, frozenset[int]] = field(default_factory=dict)
    item_short: dict[int, str] = field(default_factory=dict)  # normalised short names of 3+ characters

    @property
    def stamp(self) -> str | None:
        return self.vocab.plan_digest

    # -- building --

    def _add(self, surface: str, ref: Ref) -> None:
        surface = normalize_text(surface)
        if len(surface) < 2 and not surface.isdigit():
            return
        refs = self.surfaces.setdefault(surface, [])
        for i, r in enumerate(refs):
            if r.kind == ref.kind and r.key == ref.key:
                if ref.weight > r.weight:
                    refs[i] = ref
                return
        refs.append(ref)

    @classmethod
    def build(cls, vocab: Vocabulary) -> Lexicon:
        lex = cls(vocab=vocab)
        lex.orgs = {o.id: o for o in vocab.orgs}
        lex.items = {i.id: i for i in vocab.items}
        for o in vocab.orgs:
            lex._add_org(o)
        lex._add_groups(vocab.groups)
        org_surface_set = {s for s, refs in lex.surfaces.items() if any(r.kind == ORG for r in refs)}
        kw_count: dict[str, int] = {}
        for it in vocab.items:
            for k in {normalize_text(k) for k in it.keywords}:
                kw_count[k] = kw_count.get(k, 0) + 1
        for it in vocab.items:
            lex._add_item(it, org_surface_set, kw_count)
        for s, refs in lex.surfaces.items():
            lex.meanings[s] = meaning_of(refs)
            for i in range(1, len(s) + 1):
                lex.prefixes.add(s[:i])
        for it in vocab.items:
            lex.item_assignees[it.id] = frozenset(it.assignee_ids)
            if it.short_name and len(it.short_name) >= 3:
                lex.item_short[it.id] = normalize_text(it.short_name)
        lex._build_fuzzy()
        return lex

    def _add_org(self, o: OrgEntry) -> None:
        names = [o.name] + ([o.short_name] if o.short_name else []) + list(o.aliases)
        surfaces: set[str] = set()
        for n in names:
            self._add(n, Ref(ORG, o.id, W_NAME, "name"))
            surfaces.add(normalize_text(n))
        variants: set[str] = set()
        for n in names:
            for v in _strip_city(n):
                variants.add(v)
            if o.kind == "county":
                base = n
                for p in ("林芝市", "林芝"):
                    if base.startswith(p):
                        base = base[len(p) :]
                if len(base) >= 3 and base[-1] in "县区市":
                    base = base[:-1]
                if len(base) >= 2:
                    variants.update({base, base + "县", base + "区", base + "市"})
        for v in variants - set(names):
            self._add(v, Ref(ORG, o.id, W_VARIANT, "variant"))
            surfaces.add(normalize_text(v))
        if o.kind in ("department", "office"):
            # 住建局 → 住建, 发改委 → 发改: how departments are named in speech.
            for n in list(surfaces):
                if n.startswith("市") and n[1:] in surfaces:
                    continue  # 市水利局: the stem comes from 水利局
                if len(n) >= 3 and n[-1] in "局委办部" and not n.startswith("林芝"):
                    stem = n[:-1]
                    if len(stem) >= 2 and stem not in STOP and stem not in ("组织", "委生态文明"):
                        self._add(stem, Ref(ORG, o.id, W_STEM, "stem"))
                        surfaces.add(stem)
        self.org_surfaces[o.id] = surfaces

    def _add_groups(self, groups: tuple[GroupEntry, ...]) -> None:
        all_groups = list(groups)
        counties = tuple(o.id for o in self.orgs.values() if o.kind == "county")
        depts = tuple(o.id for o in self.orgs.values() if o.kind in ("department", "office"))
        for words, members, default_name in (
            (COUNTY_GROUP_WORDS, counties, "各县区"),
            (DEPT_GROUP_WORDS, depts, "市直各单位"),
        ):
            if not members:
                continue
            same = next((g for g in all_groups if set(g.member_ids) == set(members)), None)
            if same is None:
                same = GroupEntry(name=default_name, aliases=(), member_ids=members)
                all_groups.append(same)
            all_groups.append(GroupEntry(name=same.name, aliases=tuple(words), member_ids=same.member_ids))
        for g in all_groups:
            self.groups.setdefault(g.name, g)
            for n in (g.name, *g.aliases):
                for v in {n, n.replace("（", "(").replace("）", ")"), re.sub(r"[（(）)]", "", n)}:
                    self._add(v, Ref(GROUP, g.name, W_GROUP, "group"))

    def _add_item(self, it: ItemEntry, org_surfaces: set[str], kw_count: dict[str, int]) -> None:
        if it.kind == PROJECT and it.number is not None:
            self.projects[it.number] = it.id
        if it.kind == INDICATOR and it.number is not None:
            self.indicators[it.number] = it.id
        context: set[int] = set()
        title = normalize_text(it.title)
        for s in org_surfaces:
            if len(s) >= 2 and s in title:
                context.update(r.key for r in self.surfaces[s] if r.kind == ORG)
        self._add(it.title, Ref(ITEM, it.id, W_ITEM_NAME, "title"))
        stripped = re.sub(r"[“”\"‘’「」]", "", it.title)
        if stripped != it.title:
            self._add(stripped, Ref(ITEM, it.id, W_ITEM_NAME, "title"))
        if it.short_name:
            short = normalize_text(it.short_name)
            if short in org_surfaces:
                context.update(r.key for r in self.surfaces[short] if r.kind == ORG)
            else:
                self._add(it.short_name, Ref(ITEM, it.id, W_ITEM_SHORT, "short"))
                if it.kind == PROJECT:
                    self._add(it.short_name + "项目", Ref(ITEM, it.id, W_ITEM_NAME, "short"))
        for k in it.keywords:
            kn = normalize_text(k)
            if kn in org_surfaces:
                # 朗县, 墨脱 as keywords: the organisation keeps the name; the item remembers it as context.
                context.update(r.key for r in self.surfaces[kn] if r.kind == ORG)
                continue
            if kn in GENERIC_KEYWORDS or kn in STOP:
                continue
            n = kw_count.get(kn, 1)
            # A keyword shared by many items says less about each of them.
            weight = W_KEYWORD / (1.0 + math.log2(n)) if n > 1 else W_KEYWORD
            self._add(kn, Ref(ITEM, it.id, weight, "keyword"))
        self.item_context[it.id] = frozenset(context)

    def _build_fuzzy(self) -> None:
        for surface, refs in self.surfaces.items():
            if not any(r.how in ("name", "variant", "short", "keyword", "group", "stem", "title") for r in refs):
                continue
            keys = {(r.kind, r.key) for r in refs}
            n = len(surface)
            if n <= 16 and not surface.isascii():
                # partial names: every substring of 2+ characters
                for i in range(n):
                    for j in range(i + 2, min(n, i + 12) + 1):
                        sub = surface[i:j]
                        if sub != surface:
                            self.partial.setdefault(sub, set()).update(keys)
            if 3 <= n <= 12:
                for d in _deletions(surface) | {surface}:
                    for k in keys:
                        self.deletions.setdefault(d, set()).add((k[0], k[1], surface))
            if 2 <= n <= 8 and _SYLLABLES:
                self.pinyin.setdefault(pinyin_key(surface), set()).update(keys)

    @property
    def user_words(self) -> list[str]:
        return list(self.surfaces)

    # -- names for people --

    def org_label(self, org_id: int) -> str:
        o = self.orgs.get(org_id)
        return o.label if o else str(org_id)

    def org_name(self, org_id: int) -> str:
        o = self.orgs.get(org_id)
        return o.name if o else str(org_id)

    def item_label(self, item_id: int) -> str:
        it = self.items.get(item_id)
        if it is None:
            return str(item_id)
        if it.kind == PROJECT:
            return f"项目{it.number}·{it.label}"
        if it.kind == INDICATOR:
            return f"指标{it.number}·{it.label}"
        return it.label

    # -- exact lookup of a whole name (plan show) --

    def lookup(self, name: str) -> list[Ref]:
        """What a whole name means, best first: exact surface, else partial, typo or homophone matches."""
        t = normalize_text(name)
        refs = list(self.surfaces.get(t, ()))
        if not refs:
            refs = self._fuzzy(t)
        return sorted(refs, key=lambda r: -r.weight)

    def _fuzzy(self, g: str, common: bool = False) -> list[Ref]:
        """Partial / one-typo / homophone matches for a fragment `g` that is not itself a surface."""
        out: list[Ref] = []
        if g in GENERIC_KEYWORDS or g in STOP:
            return out
        if not common:
            hits = self.partial.get(g)
            if hits and len(hits) <= 4:
                for kind, key in hits:
                    out.append(Ref(kind, key, self._best_weight(kind, key) * FUZZY_FACTOR * 0.9, "partial"))
                return out
        if common:
            return out
        if len(g) >= 3:
            found: dict[tuple[str, Any], str] = {}
            for d in _deletions(g) | {g}:
                for kind, key, surface in self.deletions.get(d, ()):
                    if abs(len(surface) - len(g)) <= 1:
                        found.setdefault((kind, key), surface)
            if 0 < len(found) <= 4:
                for (kind, key), _surface in found.items():
                    out.append(Ref(kind, key, self._best_weight(kind, key) * FUZZY_FACTOR, "typo"))
                return out
        if 2 <= len(g) <= 8 and _SYLLABLES:
            hits = self.pinyin.get(pinyin_key(g))
            if hits and len(hits) <= 4:
                for kind, key in hits:
                    out.append(Ref(kind, key, self._best_weight(kind, key) * FUZZY_FACTOR, "pinyin"))
                return out
        if len(g) >= 3:
            out = self._abbreviation(g)
        return out

    def _abbreviation(self, g: str) -> list[Ref]:
        """Organisations abbreviated by dropping characters (生态局 → 生态环境局): same first and last character,
        the rest in order. Only the closest (shortest) names count."""
        best: dict[int, int] = {}
        for oid, surfaces in self.org_surfaces.items():
            for s in surfaces:
                if len(s) > len(g) and s[0] == g[0] and s[-1] == g[-1] and len(s) <= 2 * len(g) and _subsequence(g, s):
                    if oid not in best or len(s) < best[oid]:
                        best[oid] = len(s)
        if not best:
            return []
        shortest = min(best.values())
        ids = [oid for oid, n in best.items() if n == shortest]
        if len(ids) > 4:
            return []
        return [Ref(ORG, oid, W_NAME * FUZZY_FACTOR * 0.9, "abbreviation") for oid in ids]

    def _best_weight(self, kind: str, key: Any) -> float:
        if kind == ORG:
            return W_NAME
        if kind == GROUP:
            return W_GROUP
        return W_ITEM_SHORT


@dataclass(slots=True)
class Meaning:
    """A surface's refs sorted out once: the organisations it names best, its group, its items' weights."""

    org_ids: tuple[int, ...]
    group: str | None
    items: tuple[tuple[int, float], ...]
    weak: bool = False  # only a department's stem (林草, 交通): a longer item name may start with it


def meaning_of(refs: list[Ref]) -> Meaning:
    orgs = [r for r in refs if r.kind == ORG]
    if orgs:
        best = max(r.weight for r in orgs)
        top = [r for r in orgs if r.weight >= best - 1e-9]
        return Meaning(tuple(r.key for r in top), None, (), weak=all(r.how == "stem" for r in top))
    groups = [r.key for r in refs if r.kind == GROUP]
    if groups:
        return Meaning((), groups[0], ())
    return Meaning((), None, tuple((r.key, r.weight) for r in refs if r.kind == ITEM))


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    text: str
    meaning: Meaning


class NLU:
    """The understanding layer shared by all handlers. Thread-safe: `understand` reads one lexicon snapshot."""

    def __init__(self, lexicon: Lexicon | None = None) -> None:
        self._lexicon = lexicon or Lexicon.build(Vocabulary(plan_id=None, plan_digest=None))
        self._tok = tokenizer()
        self._freq = self._tok.FREQ
        _add_user_words(self._lexicon.user_words)

    @classmethod
    def from_session(cls, session: Any) -> NLU:
        nlu = cls()
        nlu.refresh(session)
        return nlu

    @property
    def lexicon(self) -> Lexicon:
        return self._lexicon

    @property
    def stamp(self) -> str | None:
        return self._lexicon.stamp

    def refresh(self, session: Any) -> None:
        """Rebuild the lexicon from the database (after a plan import)."""
        from db.repositories import plans, queries

        plan = plans.active_plan(session)
        lex = Lexicon.build(queries.vocabulary(session, plan))
        _add_user_words(lex.user_words)
        self._lexicon = lex  # one assignment: readers see the old or the new lexicon, never half of one

    # -- understanding --

    def understand(self, text: str) -> Understanding:
        lex = self._lexicon
        raw = text or ""
        t = normalize_text(raw)
        if not t:
            return Understanding(text=raw, intent=UNKNOWN)
        tokens = self._tok.lcut(t, HMM=False)
        spans = self._match(lex, tokens)
        if any(sp.meaning.weak for sp in spans):
            self._extend_weak(lex, tokens, spans)
        unknown: list[str] = []
        numbered = list(NUMBERED_RE.finditer(t)) if _HAS_NUMBER.search(t) else []
        spans += self._fuzzy_spans(lex, tokens, spans, unknown, [(m.start(), m.end()) for m in numbered])
        masked = self._mask(t, spans)
        return self._interpret(lex, raw, t, masked, spans, unknown, numbered)

    def _match(self, lex: Lexicon, tokens: list[str]) -> list[_Span]:
        """Longest non-overlapping runs of consecutive tokens that are surfaces of the lexicon."""
        found: list[_Span] = []
        starts = []
        pos = 0
        for tk in tokens:
            starts.append(pos)
            pos += len(tk)
        meanings, prefixes = lex.meanings, lex.prefixes
        n = len(tokens)
        for i in range(n):
            buf = ""
            for j in range(i, min(n, i + MAX_NGRAM_TOKENS)):
                buf += tokens[j]
                if buf not in prefixes:
                    break
                m = meanings.get(buf)
                if m is not None:
                    found.append(_Span(starts[i], starts[i] + len(buf), buf, m))
        if len(found) <= 1:
            return found
        found.sort(key=lambda s: (-(s.end - s.start), s.start))
        chosen: list[_Span] = []
        for s in found:
            if all(s.end <= c.start or s.start >= c.end for c in chosen):
                chosen.append(s)
        chosen.sort(key=lambda s: s.start)
        return chosen

    def _fuzzy_spans(
        self, lex: Lexicon, tokens: list[str], spans: list[_Span], unknown: list[str], numbered: list[tuple[int, int]]
    ) -> list[_Span]:
        """Leftover fragments that are not ordinary words: try them as partial, mistyped or homophone names."""
        runs: list[list[tuple[int, str]]] = []
        run: list[tuple[int, str]] = []
        covered: set[int] = set()
        for s in spans:
            covered.update(range(s.start, s.end))
        for a, b in numbered:
            covered.update(range(a, b))
        pos = 0
        for tk in tokens:
            start = pos
            pos += len(tk)
            if start in covered or tk in STOP or tk in "%.、" or _is_numberish(tk):
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((start, tk))
        if run:
            runs.append(run)
        out: list[_Span] = []
        for run in runs:
            i = 0
            while i < len(run):
                matched = False
                for j in range(min(len(run), i + MAX_NGRAM_TOKENS), i, -1):
                    g = "".join(tk for _, tk in run[i:j])
                    if len(g) < 2:
                        continue
                    common = j - i == 1 and self._is_common(g)
                    refs = lex._fuzzy(g, common=common)
                    if refs:
                        start = run[i][0]
                        out.append(_Span(start, start + len(g), g, meaning_of(refs)))
                        i = j
                        matched = True
                        break
                if not matched:
                    tk = run[i][1]
                    if len(tk) >= 2 and not self._is_common(tk):
                        unknown.append(tk)
                    elif len(tk) == 1:
                        unknown.append(tk)
                    i += 1
        return out

    @staticmethod
    def _extend_weak(lex: Lexicon, tokens: list[str], spans: list[_Span]) -> None:
        """ "林草覆盖": a department's stem followed by words that continue an item's name is that item."""
        starts: dict[int, str] = {}
        pos = 0
        for tk in tokens:
            starts[pos] = tk
            pos += len(tk)
        taken = {k for sp in spans for k in range(sp.start, sp.end)}
        for i, sp in enumerate(spans):
            nxt = starts.get(sp.end)
            if not sp.meaning.weak or nxt is None or sp.end in taken or nxt in STOP:
                continue
            g = sp.text + nxt
            hits = lex.partial.get(g) or set()
            if hits and len(hits) <= 4 and all(kind == ITEM for kind, _ in hits):
                refs = [Ref(ITEM, key, W_ITEM_SHORT * FUZZY_FACTOR, "partial") for _, key in hits]
                spans[i] = _Span(sp.start, sp.end + len(nxt), g, meaning_of(refs))

    def _is_common(self, word: str) -> bool:
        """An ordinary word of jieba's dictionary. Names added from a plan do not count: the current plan's
        names are matched before this, and a name of another plan (or of an earlier version) means nothing here."""
        return self._freq.get(word, 0) >= COMMON_WORD_FREQ and word not in _added_words

    @staticmethod
    def _mask(t: str, spans: list[_Span]) -> str:
        if not spans:
            return t
        chars = list(t)
        for s in spans:
            for k in range(s.start, min(s.end, len(chars))):
                chars[k] = "＃"
        return "".join(chars)

    def _interpret(
        self,
        lex: Lexicon,
        raw: str,
        t: str,
        masked: str,
        spans: list[_Span],
        unknown: list[str],
        numbered: list[re.Match[str]] | None = None,
    ) -> Understanding:
        # ---- organisations and groups ----
        org_mentions: list[tuple[_Span, tuple[int, ...]]] = []
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

        own = bool(OWN_RE.search(masked)) and not org_mentions
        scope_all = bool(ALL_RE.search(masked))
        ambiguous: list[Candidate] = []
        org_ids: list[int] = []
        for _span, ids in org_mentions:
            if len(ids) == 1:
                if ids[0] not in org_ids:
                    org_ids.append(ids[0])
            else:
                ambiguous = [Candidate(ORG, i, lex.org_name(i)) for i in ids]
        if len(org_ids) > 1:
            org_ids = self._children_win(lex, t, org_mentions, org_ids)
        container = self._container(lex, t, org_mentions) if len(org_ids) > 1 else None
        if container is not None:
            # "工布江达生态环境局": the branch 市生态环境局工布江达县分局, or the two organisations?
            ambiguous = [Candidate(ORG, container, lex.org_name(container))] + [
                Candidate(ORG, i, lex.org_name(i)) for i in org_ids
            ]
            org_ids = []

        # ---- numbered project / indicator ("项目2", "第十五项指标") ----
        for nm in numbered if numbered is not None else NUMBERED_RE.finditer(t):
            num_s = nm.group(1) or nm.group(3) or nm.group(6)
            what = nm.group(2) or nm.group(4) or nm.group(5)
            num = to_number(num_s) if num_s else None
            if num is None:
                continue
            table = lex.indicators if what == "指标" else lex.projects
            item_id = table.get(int(num))
            if item_id is not None:
                item_scores[item_id] = item_scores.get(item_id, 0.0) + W_ITEM_NAME * 2

        # ---- items ----
        investment_q = bool(INVESTMENT_RE.search(masked))
        ranked: list[tuple[int, float]] = []
        if item_scores:
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
            ranked = sorted(final.items(), key=lambda kv: (-kv[1], kv[0]))

        # ---- intent ----
        percent, status, amount = _report_figures(t)
        question = bool(QUESTION_RE.search(masked)) or bool(_QUESTION_MARK.search(raw))
        report_signal = percent is not None or status is not None or amount is not None
        has_entity = bool(org_ids or group or ranked or ambiguous)
        if HELP_RE.search(masked) and not has_entity:
            intent = HELP
        elif UNREPORTED_RE.search(masked) and not report_signal:
            intent = UNREPORTED
        elif OVERDUE_RE.search(masked):
            intent = OVERDUE
        elif report_signal and not question:
            intent = REPORT
        elif investment_q:
            intent = INVESTMENT
        elif (MY_TASKS_RE.search(masked) or own) and not (org_ids or group or ambiguous):
            intent = MY_TASKS if not ranked else PROGRESS
        elif has_entity or scope_all or (PROGRESS_RE.search(masked) and not unknown):
            # "进度怎么样" is the whole city; "今天天气怎么样" is not a question about the plan
            intent = PROGRESS
        else:
            intent = UNKNOWN

        # ---- resolve the item ----
        item_id = None
        item_ids = tuple(k for k, _ in ranked)
        if ranked and not ambiguous and intent not in (REPORT, UNREPORTED):
            top = ranked[0][1]
            tied = [k for k, v in ranked if v >= top - TIE_MARGIN]
            if len(tied) > 1 and org_ids:
                # several items fit: those of the organisation named win
                wanted = set(org_ids)
                own_items = [
                    k
                    for k in tied
                    if wanted & (lex.item_assignees.get(k, frozenset()) | lex.item_context.get(k, frozenset()))
                ]
                tied = own_items or tied
            if len(tied) == 1:
                item_id = tied[0]
            else:
                ambiguous = [Candidate(ITEM, k, lex.item_label(k)) for k in tied[:MAX_CHOICES]]
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

        if group and not org_ids:
            org_ids = list(group_members)
        elif group and org_ids:
            org_ids = list(dict.fromkeys(list(org_ids) + list(group_members)))
        if intent == INVESTMENT and item_kind not in (None, PROJECT):
            item_id = item_kind = None
            indicator = None
        if intent in (REPORT, UNREPORTED, HELP, UNKNOWN):
            # a report names its task among the sender's own; the plan numbers do not apply
            project = indicator = None
            if intent == REPORT:
                item_id = item_kind = None
                ambiguous = [c for c in ambiguous if c.kind == ORG]
        return Understanding(
            text=raw,
            intent=intent,
            org_ids=tuple(org_ids),
            org_names=tuple(lex.org_name(o) for o in org_ids),
            group=group,
            scope_all=scope_all and not org_ids and item_id is None,
            own=own,
            item_id=item_id,
            item_kind=item_kind,
            project=project,
            indicator=indicator,
            item_ids=item_ids,
            item_scores=tuple(ranked),
            percent=percent if intent == REPORT else None,
            status=status if intent == REPORT else None,
            amount=amount if intent == REPORT else None,
            ambiguous=tuple(ambiguous),
            unknown_words=tuple(unknown),
        )

    @staticmethod
    def _children_win(
        lex: Lexicon, t: str, mentions: list[tuple[_Span, tuple[int, ...]]], org_ids: list[int]
    ) -> list[int]:
        """ "生态环境局工布江达分局": a unit named right after (or before) its parent is the unit, not both."""
        drop: set[int] = set()
        for (a, ids_a), (b, ids_b) in zip(mentions, mentions[1:], strict=False):
            if len(ids_a) != 1 or len(ids_b) != 1 or _separated(t[a.end : b.start]):
                continue
            x, y = lex.orgs.get(ids_a[0]), lex.orgs.get(ids_b[0])
            if x is None or y is None:
                continue
            if y.parent_id == x.id:
                drop.add(x.id)
            elif x.parent_id == y.id:
                drop.add(y.id)
        return [o for o in org_ids if o not in drop] if drop else org_ids

    @staticmethod
    def _container(lex: Lexicon, t: str, mentions: list[tuple[_Span, tuple[int, ...]]]) -> int | None:
        """An organisation whose one name holds two adjacent mentions (工布江达 + 生态环境局 → the branch)."""
        if len(mentions) < 2:
            return None
        for (a, ids_a), (b, ids_b) in zip(mentions, mentions[1:], strict=False):
            if _separated(t[a.end : b.start]):
                continue
            for oid, surfaces in lex.org_surfaces.items():
                if oid in ids_a or oid in ids_b:
                    continue
                if any(a.text in s and b.text in s for s in surfaces) or any(
                    _contains_both(s, a.text, b.text) for s in surfaces
                ):
                    return oid
        return None


def _separated(between: str) -> bool:
    """Two names with 和/、/以及 (or more than a couple of characters) between them are two things."""
    return bool(between) and (between in CONNECTIVE or any(c in CONNECTIVE for c in between) or len(between) > 2)


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


def _contains_both(surface: str, a: str, b: str) -> bool:
    # "工布江达" vs "工布江达县": the county suffix may be left out in the message
    return (a in surface or a.rstrip("县区") in surface) and (b in surface or b.rstrip("县区") in surface)


_NUMBERISH = re.compile(r"[0-9.%]+|[零〇一二两三四五六七八九十百千万亿]+")


def _is_numberish(tok: str) -> bool:
    return _NUMBERISH.fullmatch(tok) is not None


def _report_figures(t: str) -> tuple[Decimal | None, str | None, Decimal | None]:
    """(percent, status, amount in 万元) stated in a one-line report."""
    percent: Decimal | None = None
    if PERCENT_HINT.search(t):
        body = NUMBERED_RE.sub("", t)
        body = AMOUNT_RE.sub("", body)
        percent = parse_percent(body, bare_number=False)
        if percent is None:
            m = PERCENT_AFTER_VERB.search(body)
            if m:
                percent = Decimal(m.group(1))
        if percent is not None and not (0 <= percent <= 100):
            percent = None
    amount = None
    m = AMOUNT_RE.search(t)
    if m:
        amount = parse_amount(m.group(1) + m.group(2))
    status: str | None = None
    if BLOCKED_RE.search(t):
        status = BLOCKED
    elif NOT_STARTED_RE.search(t):
        status = NOT_STARTED
    elif DONE_RE.search(t):
        status = DONE
    elif IN_PROGRESS_RE.search(t):
        status = IN_PROGRESS
    if percent is not None:
        if percent >= 100:
            status = DONE
        elif status == DONE:
            # "完成了一半": 完成 here reports an amount of progress, not completion
            status = None
    return percent, status, amount


# ---- ranking one-line reports against the sender's own tasks ----------------------------------------------------


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


_REPORT_NOISE = re.compile(
    r"[0-9.%]+|百分之[零〇一二两三四五六七八九十百点]+|[一二两三四五六七八九十]成|一半|完成了?|已经?|了|的|目前|现在|进度|正在|推进中?|已印发|印发|还没|没有|没"
)


def rank_for_report(u: Understanding, candidates: list[tuple[int, ItemEntry]], limit: int = MAX_CHOICES) -> list[int]:
    """The sender's open assignments that a one-line report may be about, best first.

    Args:
        u: the understood report.
        candidates: (assignment id, its item) of the sender's organisation's open assignments.
    Returns:
        assignment ids; empty when nothing in the text points at any of them.
    """
    scores = dict(u.item_scores)
    body = _REPORT_NOISE.sub("", normalize_text(u.text))
    grams = _bigrams(body)
    scored: list[tuple[float, int]] = []
    for aid, it in candidates:
        s = scores.get(it.id, 0.0)
        words = normalize_text(" ".join([it.title, it.short_name or "", *it.keywords]))
        overlap = len(grams & _bigrams(words))
        s += 0.5 * overlap
        if s >= 1.5:
            scored.append((s, aid))
    if not scored:
        return []
    scored.sort(key=lambda x: (-x[0], x[1]))
    top = scored[0][0]
    return [aid for s, aid in scored if s >= top * 0.6][:limit]


def with_choice(u: Understanding, c: Candidate, lex: Lexicon) -> Understanding:
    """`u` with one ambiguous name resolved to the candidate the user chose."""
    if c.kind == ORG:
        return replace(u, org_ids=(c.id,), org_names=(lex.org_name(c.id),), ambiguous=(), group=None, scope_all=False)
    it = lex.items.get(c.id)
    if it is None:
        return replace(u, ambiguous=())
    return replace(
        u,
        item_id=it.id,
        item_kind=it.kind,
        project=it.number if it.kind == PROJECT else None,
        indicator=it.number if it.kind == INDICATOR else None,
        ambiguous=(),
    )
