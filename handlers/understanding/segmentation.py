"""Segmentation: duban's own jieba tokenizer, initialised once per process and taught the plan's names.

The tokenizer is duban's, not jieba's global one, so that the plan's names (added with a high frequency, so that
jieba keeps every name whole) do not leak into other users of jieba in the process.

Memory (issue 18): duban segments without jieba's HMM (`HMM=False`), so jieba is imported without loading the HMM's
probability tables (`jieba.finalseg`, ~18 MB of dicts built at import) and without `pkg_resources` (which jieba
only uses to find its own files; a few MB more): see `_import_jieba`. The tables load on their first use, so
anything else in the process that calls jieba with HMM still works.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import sys
import tempfile
import threading
import types
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

HMM_MODULE = "jieba.finalseg"


class _LazyModule(types.ModuleType):
    """Stands in `sys.modules` for a module until one of its attributes is used; then imports the real module
    (which replaces this one in `sys.modules` and on its package) and answers from it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lock"] = threading.Lock()

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        with self._lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)  # also rebinds the package's attribute to it
        return getattr(real, attr)


def _import_jieba() -> types.ModuleType:
    """`import jieba`, without loading its HMM tables until they are used, and without `pkg_resources`.

    jieba imports `jieba.finalseg` (the HMM for words not in the dictionary: three large dicts of probabilities)
    at import, though only `cut(..., HMM=True)` uses it; a `_LazyModule` takes its place in `sys.modules` first.
    jieba's `_compat` tries `import pkg_resources` to locate its own files and opens them by path when that import
    fails: `pkg_resources` is hidden for the duration of the import (and only then: others may import it later).
    """
    if "jieba" in sys.modules:  # imported before: nothing to save any more
        return sys.modules["jieba"]
    sys.modules.setdefault(HMM_MODULE, _LazyModule(HMM_MODULE))
    hidden = "pkg_resources" not in sys.modules
    if hidden:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes `import pkg_resources` fail
    try:
        return importlib.import_module("jieba")
    finally:
        if hidden and sys.modules.get("pkg_resources", 0) is None:
            del sys.modules["pkg_resources"]


if TYPE_CHECKING:
    import jieba
else:
    jieba = _import_jieba()

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
