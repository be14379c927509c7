"""Finding names in a message: which organisations, groups and items it names, even mistyped.

A message is segmented once; consecutive tokens are matched against the lexicon (longest match wins). Tokens left
over that are not common words are tried as partial names (环境局), as names with one character wrong, missing or
extra (工布江大), as homophones (默脱 → 墨脱, because people type with pinyin input methods) and as abbreviations
(生态局 → 生态环境局). Plan numbers ("项目2", "第十五项指标") name items too.

The same lookups serve `duban plan show NAME` (`lookup`, `numbered_item`), without segmentation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from handlers.understanding.lexicon import (
    GENERIC_KEYWORDS,
    GROUP,
    ITEM,
    ORG,
    STOP,
    W_GROUP,
    W_ITEM_SHORT,
    W_KEYWORD,
    W_NAME,
    Lexicon,
    Meaning,
    Ref,
    deletions,
    meaning_of,
)
from handlers.understanding.numbers import to_number
from handlers.understanding.pinyin import PINYIN_AVAILABLE, pinyin_key
from handlers.understanding.segmentation import is_common_word
from handlers.understanding.text import normalize_for_matching

FUZZY_FACTOR = 0.8  # a typo or partial name counts a little less than the exact name
MAX_NGRAM_TOKENS = 8
MAX_FUZZY_HITS = 4  # a fragment that could be more names than this names none of them

_NUM = r"([0-9]{1,3}|[一二两三四五六七八九十]{1,3})"
NUMBERED_RE = re.compile(
    rf"(?:第\s*{_NUM}\s*(?:个|项|号)?\s*(项目|工程|指标))|(?:{_NUM}\s*(?:个|项)?号\s*(项目|工程|指标))"
    rf"|(?:(项目|工程|指标)\s*(?:第|编号|号|no\.?|#)?\s*{_NUM}(?:号|项|个)?(?![0-9.%]))"
)
HAS_NUMBER = re.compile(r"[0-9零〇一二两三四五六七八九十]")
_NUMBERISH = re.compile(r"[0-9.%]+|[零〇一二两三四五六七八九十百千万亿]+")
CONNECTIVE = frozenset("和与跟及、,，&+") | {"以及", "还有", "加上", "同"}


@dataclass(slots=True)
class Span:
    """A name found in the normalised message: where it is, its text and what it means."""

    start: int
    end: int
    text: str
    meaning: Meaning


# ---- plan numbers ---------------------------------------------------------------------------------------------


def numbered_item(lex: Lexicon, m: re.Match[str]) -> int | None:
    """The project or indicator a match of `NUMBERED_RE` names ("项目2", "第十五项指标"), if the plan has it."""
    num_s = m.group(1) or m.group(3) or m.group(6)
    what = m.group(2) or m.group(4) or m.group(5)
    num = to_number(num_s) if num_s else None
    if num is None:
        return None
    table = lex.indicators if what == "指标" else lex.projects
    return table.get(int(num))


# ---- names in a message ---------------------------------------------------------------------------------------


def match_names(lex: Lexicon, tokens: list[str]) -> list[Span]:
    """Longest non-overlapping runs of consecutive tokens that are surfaces of the lexicon."""
    found: list[Span] = []
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
                found.append(Span(starts[i], starts[i] + len(buf), buf, m))
    if len(found) <= 1:
        return found
    found.sort(key=lambda s: (-(s.end - s.start), s.start))
    chosen: list[Span] = []
    for s in found:
        if all(s.end <= c.start or s.start >= c.end for c in chosen):
            chosen.append(s)
    chosen.sort(key=lambda s: s.start)
    return chosen


def extend_weak(lex: Lexicon, tokens: list[str], spans: list[Span]) -> None:
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
        if hits and len(hits) <= MAX_FUZZY_HITS and all(kind == ITEM for kind, _ in hits):
            refs = [Ref(ITEM, key, W_ITEM_SHORT * FUZZY_FACTOR, "partial") for _, key in hits]
            spans[i] = Span(sp.start, sp.end + len(nxt), g, meaning_of(refs))


def _leftover_runs(
    tokens: list[str], spans: list[Span], numbered: list[tuple[int, int]]
) -> list[list[tuple[int, str]]]:
    """Runs of consecutive tokens (with their offsets) that no name or plan number covers, split at question
    words, separators and numbers."""
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
        if start in covered or tk in STOP or tk in "%.、" or _NUMBERISH.fullmatch(tk) is not None:
            if run:
                runs.append(run)
            run = []
            continue
        run.append((start, tk))
    if run:
        runs.append(run)
    return runs


def fuzzy_spans(
    lex: Lexicon,
    tokens: list[str],
    spans: list[Span],
    unknown: list[str],
    numbered: list[tuple[int, int]],
    freq: dict[str, int],
) -> list[Span]:
    """Leftover fragments that are not ordinary words, tried as partial, mistyped or homophone names.

    Args:
        lex: the lexicon.
        tokens: the segmented message.
        spans: the names already found (`match_names`).
        unknown: collects the leftover words that matched nothing.
        numbered: (start, end) of the plan numbers in the message.
        freq: the tokenizer's word frequencies (what counts as an ordinary word).
    Returns:
        the names found among the leftovers.
    """
    out: list[Span] = []
    for run in _leftover_runs(tokens, spans, numbered):
        i = 0
        while i < len(run):
            matched = False
            for j in range(min(len(run), i + MAX_NGRAM_TOKENS), i, -1):
                g = "".join(tk for _, tk in run[i:j])
                if len(g) < 2:
                    continue
                common = j - i == 1 and is_common_word(freq, g)
                meaning = _fuzzy_meaning(lex, g, common)
                if meaning is not None:
                    start = run[i][0]
                    out.append(Span(start, start + len(g), g, meaning))
                    i = j
                    matched = True
                    break
            if not matched:
                tk = run[i][1]
                if len(tk) >= 2 and not is_common_word(freq, tk):
                    unknown.append(tk)
                elif len(tk) == 1:
                    unknown.append(tk)
                i += 1
    return out


def sure_name(span: Span) -> bool:
    """A unit's or group's name, or an item's name (not only one of its keywords)."""
    m = span.meaning
    return bool(m.org_ids or m.group or any(w > W_KEYWORD for _, w in m.items))


def mask(t: str, spans: list[Span]) -> str:
    """The message with every name found replaced by "＃", so that intent patterns do not see names."""
    if not spans:
        return t
    chars = list(t)
    for s in spans:
        for k in range(s.start, min(s.end, len(chars))):
            chars[k] = "＃"
    return "".join(chars)


# ---- partial, mistyped, homophone and abbreviated names ---------------------------------------------------------


def lookup(lex: Lexicon, name: str) -> list[Ref]:
    """What a whole name means, best first: exact surface, else partial, typo or homophone matches."""
    t = normalize_for_matching(name)
    refs = list(lex.surfaces.get(t, ()))
    if not refs:
        refs = fuzzy_refs(lex, t)
    return sorted(refs, key=lambda r: -r.weight)


FUZZY_MEMO_SIZE = 50_000  # fragments remembered per lexicon (a few MB at most); then it starts again


def _fuzzy_meaning(lex: Lexicon, g: str, common: bool) -> Meaning | None:
    """What a leftover fragment means as a partial, mistyped or homophone name (None: nothing), remembered per
    lexicon: the same fragments ("进度", "怎么样", a unit's short name) come again in message after message, and
    the lexicon does not change until it is rebuilt."""
    key = (g, common)
    memo = lex.fuzzy_memo
    if key in memo:
        return memo[key]
    refs = fuzzy_refs(lex, g, common=common)
    found = meaning_of(refs) if refs else None
    if len(memo) >= FUZZY_MEMO_SIZE:
        memo.clear()
    memo[key] = found
    return found


def fuzzy_refs(lex: Lexicon, g: str, common: bool = False) -> list[Ref]:
    """Partial / one-typo / homophone / abbreviation matches for a fragment `g` that is not itself a surface.

    Args:
        lex: the lexicon.
        g: the fragment, normalised.
        common: `g` is an ordinary word: it may not stand for anything else.
    """
    out: list[Ref] = []
    if g in GENERIC_KEYWORDS or g in STOP or common:
        return out
    hits = lex.partial.get(g)
    if hits and len(hits) <= MAX_FUZZY_HITS:
        for kind, key in hits:
            out.append(Ref(kind, key, _best_weight(kind) * FUZZY_FACTOR * 0.9, "partial"))
        return out
    if len(g) >= 3:
        found: dict[tuple[str, Any], str] = {}
        for d in deletions(g) | {g}:
            for kind, key, surface in lex.deletions.get(d, ()):
                if abs(len(surface) - len(g)) <= 1:
                    found.setdefault((kind, key), surface)
        if 0 < len(found) <= MAX_FUZZY_HITS:
            for kind, key in found:
                out.append(Ref(kind, key, _best_weight(kind) * FUZZY_FACTOR, "typo"))
            return out
    if 2 <= len(g) <= 8 and PINYIN_AVAILABLE:
        hits = lex.pinyin.get(pinyin_key(g))
        if hits and len(hits) <= MAX_FUZZY_HITS:
            for kind, key in hits:
                out.append(Ref(kind, key, _best_weight(kind) * FUZZY_FACTOR, "pinyin"))
            return out
    if len(g) >= 3:
        out = _abbreviation(lex, g)
    return out


def _abbreviation(lex: Lexicon, g: str) -> list[Ref]:
    """Organisations abbreviated by dropping characters (生态局 → 生态环境局): same first and last character,
    the rest in order. Only the closest (shortest) names count."""
    if not lex.org_ends and lex.org_surfaces:
        # indexed once per lexicon, on first use (a rebuild by two threads at once builds the same index)
        ends: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for oid, surfaces in lex.org_surfaces.items():
            for s in surfaces:
                if s:
                    ends.setdefault((s[0], s[-1]), []).append((oid, s))
        lex.org_ends = ends
    best: dict[int, int] = {}
    for oid, s in lex.org_ends.get((g[0], g[-1]), ()):
        if len(g) < len(s) <= 2 * len(g) and _subsequence(g, s):
            if oid not in best or len(s) < best[oid]:
                best[oid] = len(s)
    if not best:
        return []
    shortest = min(best.values())
    ids = [oid for oid, n in best.items() if n == shortest]
    if len(ids) > MAX_FUZZY_HITS:
        return []
    return [Ref(ORG, oid, W_NAME * FUZZY_FACTOR * 0.9, "abbreviation") for oid in ids]


def _best_weight(kind: str) -> float:
    if kind == ORG:
        return W_NAME
    if kind == GROUP:
        return W_GROUP
    return W_ITEM_SHORT


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


# ---- organisations named side by side ---------------------------------------------------------------------------

OrgMention = tuple[Span, tuple[int, ...]]


def children_win(lex: Lexicon, t: str, mentions: list[OrgMention], org_ids: list[int]) -> list[int]:
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


def container(lex: Lexicon, t: str, mentions: list[OrgMention]) -> int | None:
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


def _contains_both(surface: str, a: str, b: str) -> bool:
    # "工布江达" vs "工布江达县": the county suffix may be left out in the message
    return (a in surface or a.rstrip("县区") in surface) and (b in surface or b.rstrip("县区") in surface)
