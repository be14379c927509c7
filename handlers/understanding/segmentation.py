"""Segmentation: duban's own jieba tokenizer, initialised once per process and taught the plan's names.

The tokenizer is duban's, not jieba's global one, so that the plan's names (added with a high frequency, so that
jieba keeps every name whole) do not leak into other users of jieba in the process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import jieba

USER_WORD_FREQ = 200_000  # high enough that jieba keeps every name whole
COMMON_WORD_FREQ = 2_000  # jieba words at least this frequent are ordinary words, not mistyped names

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


def add_user_words(words: Iterable[str]) -> None:
    """Teach the tokenizer the plan's names. Words are only ever added: a name dropped from a corrected plan
    merely stays a word, which is harmless, while removing words could disturb another plan in the process."""
    tok = tokenizer()
    with _tokenizer_lock:
        for w in words:
            if w not in _added_words and len(w) > 1:
                tok.add_word(w, USER_WORD_FREQ)
                _added_words.add(w)


def is_common_word(freq: dict[str, int], word: str) -> bool:
    """An ordinary word of jieba's dictionary (`freq` is the tokenizer's `FREQ`). Names added from a plan do not
    count: the current plan's names are matched before this, and a name of another plan (or of an earlier
    version) means nothing here."""
    return freq.get(word, 0) >= COMMON_WORD_FREQ and word not in _added_words
