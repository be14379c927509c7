"""Understanding: one message understood by duban's NLU against plain `jieba.lcut` on the same messages.

The figures come from `bench/bench_nlu.py` (written with the understanding layer) when it offers them;
otherwise they are measured here through the public API (`handlers.understanding.nlu.NLU.understand`) on questions as
officials type them. Target: understanding costs at most 3x a bare jieba segmentation.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import SQLITE, Row, fresh_database, percentile, seed_database

TARGET = 3.0

MESSAGES = [
    "墨脱县进度",
    "生态环境局有逾期的吗",
    "谁还没汇报",
    "八及曲项目",
    "林草覆盖率达标了吗",
    "巴宜区的任务怎么样了",
    "全市进度",
    "各县区进度",
    "察隅县有哪些任务滞后",
    "市林草局进度如何",
    "项目投资完成了多少",
    "工布江达县逾期任务",
    "米林市进度",
    "我们有逾期的吗",
    "边境县进度",
    "地表水水质达标了吗",
    "污水处理设施建设完成80%",
    "朗县还有几项没完成",
    "住建局受阻的任务",
    "波密县本周汇报了吗",
    "市委生态文明办",
    "两山基地申报进展",
    "查询一下墨脱的进度",
    "帮我看看林芝市全市的情况",
]


def _delegate(quick: bool, work: Path, log: Callable[[str], None]) -> list[Row] | None:
    """The rows of bench/bench_nlu.py (written with the understanding layer; same `run` protocol), if present."""
    try:
        mod = importlib.import_module("bench.bench_nlu")
    except ImportError:
        return None
    run_nlu = getattr(mod, "run", None)
    if not callable(run_nlu):
        return None
    rows = run_nlu(quick=quick, work=work, log=log)
    return rows if isinstance(rows, list) and rows and all(isinstance(r, Row) for r in rows) else None


def measure(rounds: int, work: Path) -> dict[str, float]:
    """Median and p99 time per message of NLU.understand and of jieba.lcut, and their ratio."""
    import jieba

    from handlers.understanding.nlu import NLU

    with fresh_database(SQLITE, work, "nlu") as url:
        seed_database(url)
        from db.engine import make_engine, make_session_factory

        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            nlu = NLU.from_session(s)
        engine.dispose()
    jieba.initialize()
    for m in MESSAGES:  # warm both (dictionary caches, regexes)
        nlu.understand(m)
        jieba.lcut(m)
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(rounds):
        for m in MESSAGES:
            t0 = time.perf_counter()
            nlu.understand(m)
            t1 = time.perf_counter()
            jieba.lcut(m)
            t2 = time.perf_counter()
            ours.append(t1 - t0)
            bare.append(t2 - t1)
    total_ours, total_bare = sum(ours), sum(bare)
    return {
        "nlu_p50": percentile(ours, 50),
        "nlu_p99": percentile(ours, 99),
        "jieba_p50": percentile(bare, 50),
        "jieba_p99": percentile(bare, 99),
        "ratio": total_ours / total_bare,
        "messages": float(len(ours)),
    }


def run(quick: bool, work: Path, log: Callable[[str], None] = print) -> list[Row]:
    delegated = _delegate(quick, work, log)
    if delegated:
        log("understanding: figures from bench/bench_nlu.py")
        return delegated
    f = measure(20 if quick else 200, work)
    log(
        f"understanding: NLU p50 {f['nlu_p50'] * 1e6:.0f} µs vs jieba.lcut {f['jieba_p50'] * 1e6:.0f} µs "
        f"({f['ratio']:.2f}x)"
    )
    note = f"{int(f['messages'])} messages, {len(MESSAGES)} distinct questions; ratio of total time"
    return [
        Row(
            "Understanding",
            "NLU.understand per message p50 / p99",
            {"all": f"{f['nlu_p50'] * 1e6:.0f} µs / {f['nlu_p99'] * 1e6:.0f} µs"},
            note=note,
        ),
        Row(
            "Understanding",
            "jieba.lcut per message p50 / p99",
            {"all": f"{f['jieba_p50'] * 1e6:.0f} µs / {f['jieba_p99'] * 1e6:.0f} µs"},
        ),
        Row(
            "Understanding",
            "understood ÷ jieba.lcut",
            {"all": f"{f['ratio']:.2f}x"},
            f"≤ {TARGET:.0f}x",
            f["ratio"] <= TARGET,
        ),
    ]
