"""The understanding layer: what a short Chinese message on a phone asks for.

"墨脱进展怎么样", "生态环境局有逾期的吗", "八及曲项目", "林草覆盖率达标了吗", "谁还没汇报", "巴宜和波密进度",
"污水处理设施建设完成80%" → an `Understanding`: the intent, the organisations, group, project, indicator or
task meant, and for one-line reports the percentage and status.

One idea per module, from the bottom up:
- `text`: the one place text is normalised before comparison (dialogue answers, names, pinyin readings);
- `numbers`: numbers, percentages, amounts, quantities with units and dates as people type them, and how numbers
  are shown;
- `pinyin`: how a name sounds, for homophones typed with a pinyin input method;
- `segmentation`: duban's own jieba tokenizer, taught the plan's names;
- `lexicon`: every surface of every organisation, group and item of the plan, and what it means;
- `names`: finding names in a message, whole, partial, mistyped, homophone or abbreviated;
- `result`: the `Understanding` and the `Candidate`s of an ambiguous name;
- `report`: the figures of a one-line report and the sender's tasks it may be about;
- `intents`: the intent patterns and the interpretation of a message once its names are found;
- `nlu`: the front, `NLU` (`understand`, `refresh`), and what callers of the layer import.

This package's `__init__` imports nothing, so that `numbers` and `text` stay cheap to import: jieba and the
pinyin table are loaded only by the modules that need them.
"""
