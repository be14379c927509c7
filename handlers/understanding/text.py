"""The one place where text typed by people is normalised before duban compares it.

Three forms, because three comparisons need different things:
- `normalize`: what a dialogue answer is compared in ("８０％" → "80%", runs of spaces → one space, trimmed);
- `normalize_for_matching`: what names are looked up in (also lower case, and every run of spaces or
  punctuation becomes one "、" separator), the form of every surface of the lexicon;
- `fold_pinyin`: a character's pinyin reading folded so that homophones typed with a pinyin input method meet
  (no tones, zh/z, ch/c, sh/s and -ng/-n merged).
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[\s，。！？!?,;；：:“”\"'‘’（）()【】\[\]{}<>《》~～…·/\\|]+")
_TONES = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")


def normalize(text: str | None) -> str:
    """Full-width to half-width, trimmed, internal whitespace collapsed to one space."""
    text = unicodedata.normalize("NFKC", text or "")
    return _SPACES.sub(" ", text).strip()


def normalize_for_matching(text: str | None) -> str:
    """Full-width to half-width, lower case, no spaces; punctuation kept only as "、" separators."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    t = _PUNCT.sub("、", t)
    return t.strip("、")


def fold_pinyin(reading: str) -> str:
    """The toneless first of a character's readings, with zh/z, ch/c, sh/s and -ing/-in, -eng/-en merged
    (typing slips): "zhōng,zhòng" → "zong", "xíng" → "xin"."""
    s = reading.split(",", 1)[0].translate(_TONES)
    if s[:2] in ("zh", "ch", "sh"):
        s = s[0] + s[2:]
    if s.endswith("ng") and len(s) > 2 and s[-3] in "ie":
        s = s[:-1]
    return s
