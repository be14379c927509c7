"""duban's jieba tokenizer reads jieba's dictionary without its rarest short words (less memory, the same
understanding): the file it reads keeps exactly the words the rule keeps, and the tokenizer is built from it."""

from __future__ import annotations

from pathlib import Path

import jieba
import pytest

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
