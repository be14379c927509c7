"""Segmentation: duban's own jieba tokenizer, initialised once per process and taught the plan's names.

The tokenizer is duban's, not jieba's global one, so that the plan's names (added with a high frequency, so that
jieba keeps every name whole) do not leak into other users of jieba in the process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

import jieba

USER_WORD_FREQ = 200_000  # high enough that jieba keeps every name whole
COMMON_WORD_FREQ = 2_000  # jieba words at least this frequent are ordinary words, not mistyped names
# jieba's dictionary without its rarest short words: words under this frequency and shorter than RARE_KEPT_LENGTH
# characters (172k of its 349k words) are left out. The tokenizer's table shrinks from 498k to 336k entries
# (about 20 MB of the process's memory); longer rare words stay, so phrases such as "今天天气" are still one word,
# and every case file of tests/ and ../shared reads the same (a rare 2-3 character word is split into more common
# ones, or is one of the plan's names, which are added with USER_WORD_FREQ).
RARE_WORD_FREQ = 5
RARE_KEPT_LENGTH = 4

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
                tok = jieba.Tokenizer(dictionary=str(_dictionary()))
                tok.initialize()
                _tokenizer = tok
    return _tokenizer


def _dictionary() -> Path:
    """jieba's dictionary without its rarest short words, written once per machine (and jieba version) beside
    the cache jieba keeps in the temporary directory; written to a temporary name, then renamed, so that
    processes starting together never read half a file."""
    source = Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)
    stat = source.stat()
    key = f"{jieba.__version__}:{stat.st_size}:{stat.st_mtime_ns}:{RARE_WORD_FREQ}:{RARE_KEPT_LENGTH}"
    target = Path(tempfile.gettempdir()) / f"duban-jieba-{hashlib.md5(key.encode()).hexdigest()[:12]}.txt"
    if target.exists():
        return target
    try:
        fd, partial = tempfile.mkstemp(prefix=target.name, dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out, source.open(encoding="utf-8") as lines:
            for line in lines:
                word, freq = line.split(" ", 2)[:2]
                if int(freq) >= RARE_WORD_FREQ or len(word) >= RARE_KEPT_LENGTH:
                    out.write(line)
        os.chmod(partial, 0o644)  # readable by the other users' processes on the machine, like jieba's cache
        os.replace(partial, target)
    except OSError:
        logging.getLogger(__name__).warning("cannot write %s: jieba's whole dictionary is used", target)
        return source
    return target


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
