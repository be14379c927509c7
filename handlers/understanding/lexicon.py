"""The lexicon: every surface people may use for an organisation, a group or an item of the plan, and what it means.

Built from the database's `Vocabulary`: every name of every organisation (full, short, aliases, former and later
names, the name with or without 林芝/市/县/区, a department's stem such as 住建), group names (and the generic
"各县区", "市直各单位"), and the names, short names and keywords of tasks, projects and indicators. All surfaces
are in the form of `normalize_for_matching`; they become jieba user words so segmentation keeps names whole.

Also built here, once: the indexes that `names` uses for partial names, one-character typos and homophones.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from db.models import INDICATOR, PROJECT
from db.repositories.queries import GroupEntry, ItemEntry, OrgEntry, Vocabulary
from handlers import texts
from handlers.understanding.pinyin import PINYIN_AVAILABLE, pinyin_key
from handlers.understanding.text import normalize_for_matching

# Kinds of lexicon entries
ORG, GROUP, ITEM = "org", "group", "item"

# How strongly a surface names its entity
W_NAME, W_VARIANT, W_STEM, W_GROUP = 10.0, 9.0, 7.0, 10.0
W_ITEM_NAME, W_ITEM_SHORT, W_KEYWORD = 10.0, 9.0, 5.0

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
    不 未 已 已经 正在 那边 这边 那里 这里 一下子 帮忙 帮我查 给我看 嗯 林芝 林芝市""".split()
)

# Generic surfaces that would make "工作进展如何" look like a task called 工作进展.
GENERIC_KEYWORDS = frozenset(
    """工作 任务 项目 工程 进度 进展 情况 完成 工作进展 完成情况 报送 汇报 建设 指标 单位 推进 落实 开展
    年度 工作计划 计划 方案 实施 管理 总体 全市 工程项目 建设项目 重点项目 重点任务 建设任务 工作任务 目标任务
    考核指标""".split()
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
class Ref:
    """A surface's meaning: an organisation, group or item, how strongly, and which name it is."""

    kind: str
    key: Any  # org id, group name, item id
    weight: float
    how: str  # name | variant | stem | group | title | short | keyword | partial | typo | pinyin | abbreviation


@dataclass(slots=True)
class Meaning:
    """A surface's refs sorted out once: the organisations it names best, its group, its items' weights."""

    org_ids: tuple[int, ...]
    group: str | None
    items: tuple[tuple[int, float], ...]
    weak: bool = False  # only a department's stem (林草, 交通): a longer item name may start with it


def meaning_of(refs: list[Ref]) -> Meaning:
    """What a surface with these refs means: an organisation beats a group, a group beats items."""
    orgs = [r for r in refs if r.kind == ORG]
    if orgs:
        best = max(r.weight for r in orgs)
        top = [r for r in orgs if r.weight >= best - 1e-9]
        return Meaning(tuple(r.key for r in top), None, (), weak=all(r.how == "stem" for r in top))
    groups = [r.key for r in refs if r.kind == GROUP]
    if groups:
        return Meaning((), groups[0], ())
    return Meaning((), None, tuple((r.key, r.weight) for r in refs if r.kind == ITEM))


def deletions(s: str) -> set[str]:
    """`s` with one character left out, in every position (the keys of the one-typo index)."""
    return {s[:i] + s[i + 1 :] for i in range(len(s))}


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
    county_group: str | None = None  # the group of every county (各县区), when the plan has counties
    dept_group: str | None = None  # the group of every city department (市直成员单位 or 市直各单位)
    items: dict[int, ItemEntry] = field(default_factory=dict)
    projects: dict[int, int] = field(default_factory=dict)  # plan number → item id
    indicators: dict[int, int] = field(default_factory=dict)
    item_context: dict[int, frozenset[int]] = field(default_factory=dict)  # orgs an item's own words name
    org_surfaces: dict[int, set[str]] = field(default_factory=dict)
    # {(first, last character): [(organisation, surface)]}: the candidates of an abbreviation (生态局 → 生态环境局)
    org_ends: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    # {(fragment, common word?): its meaning as a fuzzy name, or None}: `names._fuzzy_meaning`'s memory
    fuzzy_memo: dict[tuple[str, bool], Meaning | None] = field(default_factory=dict)
    partial: dict[str, set[tuple[str, Any]]] = field(default_factory=dict)
    deletions: dict[str, set[tuple[str, Any, str]]] = field(default_factory=dict)
    pinyin: dict[str, set[tuple[str, Any]]] = field(default_factory=dict)
    meanings: dict[str, Meaning] = field(default_factory=dict)
    item_assignees: dict[int, frozenset[int]] = field(default_factory=dict)
    item_short: dict[int, str] = field(default_factory=dict)  # normalised short names of 3+ characters

    @property
    def stamp(self) -> str | None:
        """The digest of the plan the lexicon was built from (None: no plan)."""
        return self.vocab.plan_digest

    # -- building --

    def _add(self, surface: str, ref: Ref) -> None:
        surface = normalize_for_matching(surface)
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
        """The lexicon of a plan's vocabulary, with its meanings, prefixes and fuzzy indexes."""
        lex = cls(vocab=vocab)
        lex.orgs = {o.id: o for o in vocab.orgs}
        lex.items = {i.id: i for i in vocab.items}
        for o in vocab.orgs:
            lex._add_org(o)
        lex._add_groups(vocab.groups)
        org_surface_set = {s for s, refs in lex.surfaces.items() if any(r.kind == ORG for r in refs)}
        kw_count: dict[str, int] = {}
        for it in vocab.items:
            for k in {normalize_for_matching(k) for k in it.keywords}:
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
                lex.item_short[it.id] = normalize_for_matching(it.short_name)
        lex._build_fuzzy()
        return lex

    def _add_org(self, o: OrgEntry) -> None:
        names = [o.name] + ([o.short_name] if o.short_name else []) + list(o.aliases)
        surfaces: set[str] = set()
        for n in names:
            self._add(n, Ref(ORG, o.id, W_NAME, "name"))
            surfaces.add(normalize_for_matching(n))
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
            surfaces.add(normalize_for_matching(v))
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
            if members is counties:
                self.county_group = same.name
            else:
                self.dept_group = same.name
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
        title = normalize_for_matching(it.title)
        for s in org_surfaces:
            if len(s) >= 2 and s in title:
                context.update(r.key for r in self.surfaces[s] if r.kind == ORG)
        self._add(it.title, Ref(ITEM, it.id, W_ITEM_NAME, "title"))
        stripped = re.sub(r"[“”\"‘’「」]", "", it.title)
        if stripped != it.title:
            self._add(stripped, Ref(ITEM, it.id, W_ITEM_NAME, "title"))
        if it.short_name:
            short = normalize_for_matching(it.short_name)
            if short in org_surfaces:
                context.update(r.key for r in self.surfaces[short] if r.kind == ORG)
            else:
                self._add(it.short_name, Ref(ITEM, it.id, W_ITEM_SHORT, "short"))
                if it.kind == PROJECT:
                    self._add(it.short_name + "项目", Ref(ITEM, it.id, W_ITEM_NAME, "short"))
        for k in it.keywords:
            kn = normalize_for_matching(k)
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
        """The indexes `names` looks leftovers up in: substrings (partial names), one-deletion keys (typos) and
        pinyin keys (homophones)."""
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
                for d in deletions(surface) | {surface}:
                    for k in keys:
                        self.deletions.setdefault(d, set()).add((k[0], k[1], surface))
            if 2 <= n <= 8 and PINYIN_AVAILABLE:
                self.pinyin.setdefault(pinyin_key(surface), set()).update(keys)

    @property
    def user_words(self) -> list[str]:
        """The words to teach jieba: every surface."""
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
            return texts.ITEM_LABEL_PROJECT.format(number=it.number, label=it.label)
        if it.kind == INDICATOR:
            return texts.ITEM_LABEL_INDICATOR.format(number=it.number, label=it.label)
        return it.label
