"""The one place where text typed by people is normalised before duban compares it.

Three forms, because three comparisons need different things:
- `normalize`: what a dialogue answer is compared in ("８０％" → "80%", "٥" → "5", "５－６" and "5−6" → "5-6", runs of
  spaces → one space, trimmed, bidirectional controls removed);
- `normalize_for_matching`: what names are looked up in (also lower case, and every run of spaces or
  punctuation becomes one "、" separator), the form of every surface of the lexicon;
- `fold_pinyin`: a character's pinyin reading folded so that homophones typed with a pinyin input method meet
  (no tones, zh/z, ch/c, sh/s and -ng/-n merged).

`clean` is the form a text is stored and shown in: as typed (full-width punctuation kept) but without the invisible
bidirectional controls that make "8" show as "80" (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F), and with runs of
spaces collapsed.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# Invisible controls that reorder what is shown: embeddings, overrides, isolates and direction marks.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Hyphens and minus signs that mean "-" in a figure ("5−6", "‐5"); the long dash "—" stays a range separator.
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2212\ufe58\ufe63", "-"))


def _ascii_digits(text: str) -> str:
    """Every decimal digit of any script ("٥", "५", "５") as its ASCII digit."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(c)) if not c.isascii() and c.isdecimal() else c for c in text)


def clean(text: str | None) -> str:
    """`text` as it is stored and shown: bidirectional controls removed, runs of spaces collapsed, trimmed."""
    return _SPACES.sub(" ", BIDI_CONTROLS.sub("", text or "")).strip()


def as_typed(raw: str | None, text: str) -> str:
    """`text` as the person typed it (`clean(raw)`: Chinese punctuation kept) when it is the message `raw`
    normalised; otherwise (a text replayed or built from the message) `text` trimmed."""
    typed = clean(raw)
    return typed if typed and normalize(typed) == normalize(text) else text.strip()


_PUNCT = re.compile(r"[\s，。！？!?,;；：:“”\"'‘’（）()【】\[\]{}<>《》~～…·/\\|]+")
_TONES = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")


def normalize(text: str | None) -> str:
    """Full-width to half-width, digits of every script to ASCII, hyphens and minus signs to "-", bidirectional
    controls removed, trimmed, internal whitespace collapsed to one space."""
    text = _ascii_digits(unicodedata.normalize("NFKC", BIDI_CONTROLS.sub("", text or ""))).translate(_DASHES)
    return _SPACES.sub(" ", text).strip()


def normalize_for_matching(text: str | None) -> str:
    """Full-width to half-width, lower case, no spaces; punctuation kept only as "、" separators."""
    t = unicodedata.normalize("NFKC", BIDI_CONTROLS.sub("", text or "")).lower()
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
