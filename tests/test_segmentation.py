"""duban's jieba tokenizer reads jieba's dictionary without its rarest short words (less memory, the same
understanding): the file it reads keeps exactly the words the rule keeps, and the tokenizer is built from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jieba
import pytest
import yaml

from handlers.understanding import segmentation


def test_the_dictionary_keeps_frequent_and_long_words_only() -> None:
    source = Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)
    pruned = segmentation._dictionary()
    assert pruned != source
    kept = pruned.read_text(encoding="utf-8").splitlines()
    wanted = [
        line
        for line in source.read_text(encoding="utf-8").splitlines()
        if int(line.split(" ")[1]) >= segmentation.RARE_WORD_FREQ
        or len(line.split(" ")[0]) >= segmentation.RARE_KEPT_LENGTH
    ]
    assert kept == wanted
    assert len(kept) < 0.7 * len(source.read_text(encoding="utf-8").splitlines())
    assert segmentation._dictionary() == pruned  # written once, then reused


def test_the_tokenizer_reads_it() -> None:
    tok = segmentation.tokenizer()
    assert Path(tok.dictionary) == segmentation._dictionary()
    assert tok.lcut("今天天气怎么样", HMM=False) == ["今天天气", "怎么样"]  # a long rare word is still one word
    assert tok.FREQ.get("天气", 0) >= segmentation.COMMON_WORD_FREQ


def test_an_unwritable_directory_falls_back_to_the_whole_dictionary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    monkeypatch.setattr(segmentation.tempfile, "gettempdir", lambda: str(blocked))
    assert segmentation._dictionary() == Path(jieba.__file__).with_name(jieba.DEFAULT_DICT_NAME)


# ---- memory (issue 18): no HMM tables, no pkg_resources ------------------------------------

REPO = Path(__file__).resolve().parent.parent
CASE_FILES = sorted(REPO.glob("tests/nlu_cases*.yaml"))
PLAN_WORDS = ["墨脱县", "两山实施方案", "林草局", "八及曲"]


def _python(code: str) -> str:
    """Run `code` in a fresh interpreter (what a process imports is the point) and return its output."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _case_texts() -> list[str]:
    texts = [str(c["text"]) for f in CASE_FILES for c in yaml.safe_load(f.read_text(encoding="utf-8"))]
    assert len(texts) > 300
    return texts


def test_jieba_is_imported_without_its_hmm_tables_or_pkg_resources() -> None:
    out = _python(
        "import sys\n"
        "from handlers.understanding import segmentation\n"
        "tok = segmentation.tokenizer()\n"
        "segmentation.add_user_words(['墨脱县'])\n"
        "print(tok.lcut('墨脱县的进度怎么样了', HMM=False))\n"
        "print(sorted(m for m in sys.modules if m.startswith('jieba.finalseg') or m == 'pkg_resources'))\n"
        "print(type(sys.modules['jieba.finalseg']).__name__)\n"
    )
    words, modules, placeholder = out.splitlines()
    assert words == str(["墨脱县", "的", "进度", "怎么样", "了"])
    assert modules == str(["jieba.finalseg"])  # the placeholder alone: no prob_emit, prob_start, prob_trans
    assert placeholder == "_LazyModule"


def test_the_hmm_loads_when_someone_uses_it() -> None:
    """jieba with HMM (not duban's way) still works in the process: the tables load on first use, and cut words
    not in the dictionary exactly as jieba imported the ordinary way does."""
    text = "韩冰冰和欧阳锋锋去了墨脱"
    code = "import jieba\nprint(jieba.Tokenizer().lcut({text!r}))\n"
    plain = _python(code.format(text=text))
    lazy = _python(
        "import sys\n"
        "from handlers.understanding import segmentation\n"
        "assert 'jieba.finalseg.prob_emit' not in sys.modules\n"
        + code.format(text=text)
        + "print('jieba.finalseg.prob_emit' in sys.modules, type(sys.modules['jieba.finalseg']).__name__)\n"
    )
    assert lazy.splitlines() == [plain.strip(), "True module"]


def test_segmentation_is_that_of_jieba_with_the_same_dictionary() -> None:
    """duban's tokenizer (jieba imported without its HMM tables) cuts every case text as jieba's own tokenizer,
    imported the ordinary way, does with the same dictionary and the same plan words."""
    texts = _case_texts()
    plain = _python(
        "import json, sys\n"
        "import jieba\n"
        "from handlers.understanding import segmentation\n"
        f"texts = json.loads({json.dumps(json.dumps(texts))})\n"
        "tok = jieba.Tokenizer(str(segmentation._dictionary()))\n"
        f"for w in {PLAN_WORDS!r}:\n"
        "    tok.add_word(w, segmentation.USER_WORD_FREQ)\n"
        "print(json.dumps([tok.lcut(t, HMM=False) for t in texts] + [tok.lcut(t, cut_all=True) for t in texts]))\n"
    )
    tok = segmentation.jieba.Tokenizer(str(segmentation._dictionary()))
    tok.initialize()
    for w in PLAN_WORDS:
        tok.add_word(w, segmentation.USER_WORD_FREQ)
    ours = [tok.lcut(t, HMM=False) for t in texts] + [tok.lcut(t, cut_all=True) for t in texts]
    assert ours == json.loads(plain)
