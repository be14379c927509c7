"""How a name sounds: homophones typed with a pinyin input method (默脱 for 墨脱) get the same key.

Optional: without pypinyin's table, homophone typos are simply not recognised. The table is read once, when this
module is first imported (by the lexicon).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from handlers.understanding.text import fold_pinyin


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
    return {int(cp): interned.setdefault(fold_pinyin(v), fold_pinyin(v)) for cp, v in raw.items()}


_SYLLABLES = _load_syllables()

# Whether homophones can be recognised at all (pypinyin's table was found).
PINYIN_AVAILABLE = bool(_SYLLABLES)


def pinyin_key(text: str) -> str:
    """The folded syllables of `text`, space-separated; characters without a reading stand for themselves."""
    return " ".join(_SYLLABLES.get(ord(c), c) for c in text)
