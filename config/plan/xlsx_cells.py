"""The values of a plan workbook's cells: a document value written as a cell, a cell read as a document value.

Besides plain text, numbers and dates, cells hold small syntaxes of their own (docs/plan-format.md): lists
separated by 、 or commas, targets (`≥1.2万亩；原文`), checks (`≥80`), project years (`2022-2023年`). Reading
is lenient (full-width characters, Excel's floats and serial dates) and raises `CellError` with a Chinese
explanation for the problem list.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl.utils.datetime import from_excel

from config.plan.schema import ORG_KIND_LABELS, Check, Target
from config.plan.xlsx_layout import (
    BOOL,
    CHECK,
    DATE,
    DAY,
    DECIMAL,
    INT,
    LIST,
    MONTH,
    NUMBER_KEY,
    ORG_KIND,
    SHARES,
    STR,
    TARGETS,
    YEARS,
)

# ---- small syntaxes: lists, targets, checks, years ------------------------------------------------------------

_LIST_SPLIT = re.compile(r"[、，,；;\n]+")
_OP_WRITE = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "=": "＝", "text": "文字"}
_OP_READ = {
    "≥": ">=",
    ">=": ">=",
    "=>": ">=",
    "≧": ">=",
    ">": ">",
    "＞": ">",
    "≤": "<=",
    "<=": "<=",
    "=<": "<=",
    "≦": "<=",
    "<": "<",
    "＜": "<",
    "=": "=",
    "＝": "=",
    "==": "=",
    "文字": "text",
    "text": "text",
}
_OP_RE = "|".join(sorted((re.escape(k) for k in _OP_READ), key=len, reverse=True))
_SPEC_RE = re.compile(rf"^(?P<op>{_OP_RE})?\s*(?P<value>[+-]?\d+(?:\.\d+)?)?\s*(?P<unit>\S.*)?$")
_YEARS_RE = re.compile(r"^(\d{4})\s*年?\s*(?:[-－—–~～至到]+\s*(\d{4})\s*年?)?(?:度)?$")
_DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
NUMBER_KEY_RE = re.compile(r"^(\d+)\.(\d+)$")


def number_text(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 7000, 1.2, 0."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def format_target(t: Target) -> str:
    """One target as one line: `≥1.2万亩；原文`, `文字；原文`. See docs/plan-format.md."""
    spec = _OP_WRITE[t.op] + (number_text(t.value) if t.value is not None else "") + (t.unit or "")
    return spec + (f"；{t.text}" if t.text else "")


def parse_target(line: str) -> dict[str, Any]:
    """Read one target line; raises ValueError with a Chinese explanation."""
    m = re.search(r"[；;]", line)
    spec, text = (line[: m.start()], line[m.end() :]) if m else (line, "")
    spec, text = spec.strip(), text.strip()
    sm = _SPEC_RE.match(spec)
    # A unit needs a comparison or a number before it, so that plain prose is not taken for a unit.
    if sm is None or (not spec and not text) or (sm.group("unit") and not (sm.group("op") or sm.group("value"))):
        raise ValueError(f"“{line}”无法识别，应为“≥1.2万亩；原文”或“文字；原文”的形式")
    out: dict[str, Any] = {}
    if sm.group("op"):
        out["op"] = _OP_READ[sm.group("op")]
    if sm.group("value") is not None:
        out["value"] = Decimal(sm.group("value"))
    if sm.group("unit"):
        out["unit"] = sm.group("unit").strip()
    if text:
        out["text"] = text
    return out


def format_check(c: Check | None) -> str | None:
    """A check as written in the 判定 column: `≥80`, `文字`; None without a check."""
    if c is None:
        return None
    return _OP_WRITE[c.op] + (number_text(c.value) if c.value is not None else "")


def parse_check(text: str) -> dict[str, Any]:
    """Read a 判定 cell (`≥80`, `>20`, `＝1`, `文字`); raises ValueError with a Chinese explanation."""
    sm = _SPEC_RE.match(text.strip())
    # "≥80%" is accepted: the unit of an indicator is in its own column.
    if sm is None or sm.group("unit") not in (None, "%") or not (sm.group("op") or sm.group("value")):
        raise ValueError(f"应为“≥80”“>20”“≤5”“＝1”或“文字”，而不是“{text}”")
    out: dict[str, Any] = {"op": _OP_READ[sm.group("op")] if sm.group("op") else ">="}
    if sm.group("value") is not None:
        out["value"] = Decimal(sm.group("value"))
    return out


def parse_years(text: str) -> tuple[int, int]:
    """(start year, end year) of `2023年` or `2022-2023年`; raises ValueError with a Chinese explanation."""
    m = _YEARS_RE.match(text.strip())
    if m is None:
        raise ValueError(f"应为“2023年”或“2022-2023年”，而不是“{text}”")
    start = int(m.group(1))
    return start, int(m.group(2) or start)


_SHARE_RE = re.compile(r"^(?P<org>[^=＝:：]+?)\s*[=＝:：]\s*(?P<amount>\S+)$")


def format_shares(shares: dict[str, Decimal]) -> str:
    """Shares as a cell: "墨脱县=300、察隅县=400"."""
    return "、".join(f"{u}={number_text(Decimal(str(v)))}" for u, v in shares.items())


def parse_shares(text: str) -> dict[str, Decimal]:
    """A cell of shares, "墨脱县=300、察隅县=400" (= or ：, items separated like a list); raises ValueError."""
    out: dict[str, Decimal] = {}
    for part in split_list(text):
        m = _SHARE_RE.match(part)
        if m is None:
            raise ValueError(f"份额“{part}”应为 单位=万元，如 墨脱县=300")
        org = m.group("org").strip()
        if org in out:
            raise ValueError(f"“{org}”的份额重复")
        out[org] = as_decimal(m.group("amount"))
    return out


def split_list(text: str) -> list[str]:
    """The entries of a list cell, separated by 、 ， , ； ; or new lines."""
    return [p.strip() for p in _LIST_SPLIT.split(text) if p.strip()]


# ---- writing ------------------------------------------------------------------------------------------------


def cell_value(kind: str, value: Any) -> Any:
    """The cell written for a document value of a column kind (None for an empty value)."""
    if value is None or value == [] or value == {} or (kind == BOOL and value is False):
        return None
    if kind == BOOL:
        return BOOL_YES
    if kind == LIST:
        return "、".join(value)
    if kind == SHARES:
        return format_shares(value)
    if kind == TARGETS:
        return "\n".join(format_target(t) for t in value)
    if kind == CHECK:
        return format_check(value)
    if kind == ORG_KIND:
        return ORG_KIND_LABELS[value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# ---- reading ------------------------------------------------------------------------------------------------


def norm(text: Any) -> str:
    """Normalise a heading or sheet name: full-width → half-width, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower() if text is not None else ""


class CellError(ValueError):
    """A cell that cannot be read as its column kind; the message says why, in Chinese."""

    pass


def as_text(value: Any) -> str | None:
    """A cell as trimmed text (numbers as Excel shows them, dates in ISO form); None when empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


def float_text(value: float) -> str:
    """A float as Excel shows it (15 significant digits), so 0.1+0.2 reads as 0.3 and 12.0 as 12."""
    text = format(value, ".15g")
    return text if "e" not in text else format(Decimal(text), "f")


def as_int(value: Any, what: str = "整数") -> int:
    """A whole number, also from `12.0`, `5月` or `3日`; `what` names the expected value in the error."""
    if isinstance(value, bool):
        raise CellError(f"应为{what}，而不是“{value}”")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = as_text(value) or ""
    m = re.fullmatch(r"(\d+)\s*[年月日号]?", unicodedata.normalize("NFKC", text))
    if m is None:
        raise CellError(f"应为{what}，而不是“{text}”")
    return int(m.group(1))


def as_decimal(value: Any) -> Decimal:
    """A number, also from text with thousands separators or a trailing 万元."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(float_text(value))
    text = unicodedata.normalize("NFKC", as_text(value) or "")
    cleaned = re.sub(r"(\s|,|万元$)", "", text)
    try:
        if not re.fullmatch(r"[+-]?\d+(\.\d+)?", cleaned):
            raise InvalidOperation
        return Decimal(cleaned)
    except InvalidOperation:
        raise CellError(f"应为数字，而不是“{text}”") from None


def as_date(value: Any) -> dt.date:
    """A date from a date cell, an Excel serial day number, or text such as 2023-05-31 or 2023年5月31日."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
        # A date cell that lost its date format shows Excel's serial day number.
        return from_excel(value).date()
    text = unicodedata.normalize("NFKC", as_text(value) or "")
    m = _DATE_RE.match(text)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            pass
    raise CellError(f"应为日期（如 2023-05-31），而不是“{text}”")


def as_org_kind(value: Any) -> str:
    """An organisation kind code from its label (县（区）, 市直部门...) or the code itself."""
    text = norm(value)
    for code, label in ORG_KIND_LABELS.items():
        if text in (code, norm(label)):
            return code
    if text in ("县区", "县", "区"):
        return "county"
    raise CellError(f"应为以下之一：{'、'.join(ORG_KIND_LABELS.values())}，而不是“{as_text(value)}”")


BOOL_YES = "是"
_BOOL_TEXTS = {"是": True, "否": False, "true": True, "false": False, "1": True, "0": False, "y": True, "n": False}


def as_bool(value: Any) -> bool:
    """A yes/no cell: 是/否 (or a spreadsheet's TRUE/FALSE)."""
    if isinstance(value, bool):
        return value
    text = (as_text(value) or "").strip().lower()
    if text in _BOOL_TEXTS:
        return _BOOL_TEXTS[text]
    raise CellError(f"应为“是”或“否”，而不是“{as_text(value)}”")


def document_value(kind: str, value: Any) -> Any:
    """Turn a non-empty cell value into the document value of a column kind; raises CellError."""
    try:
        if kind == STR:
            return as_text(value)
        if kind == INT:
            return as_int(value)
        if kind == NUMBER_KEY:
            return as_int(value, "整数序号，或“12.1”这样的分项指标序号")
        if kind == MONTH:
            n = as_int(value, "月份（1–12）")
            if not 1 <= n <= 12:
                raise CellError(f"应为月份（1–12），而不是“{n}”")
            return n
        if kind == DAY:
            n = as_int(value, "日（1–31）")
            if not 1 <= n <= 31:
                raise CellError(f"应为日（1–31），而不是“{n}”")
            return n
        if kind == DECIMAL:
            return as_decimal(value)
        if kind == DATE:
            return as_date(value)
        if kind == LIST:
            return split_list(as_text(value) or "")
        if kind == SHARES:
            return parse_shares(as_text(value) or "")
        if kind == ORG_KIND:
            return as_org_kind(value)
        if kind == TARGETS:
            out = []
            for n, line in enumerate((as_text(value) or "").split("\n"), start=1):
                if line.strip():
                    try:
                        out.append(parse_target(line.strip()))
                    except ValueError as exc:
                        raise CellError(f"第{n}条{exc}") from None
            return out
        if kind == CHECK:
            return parse_check(as_text(value) or "")
        if kind == BOOL:
            return as_bool(value)
        if kind == YEARS:
            text = as_text(value) or ""
            start, end = parse_years(text)
            return {"years": text, "start_year": start, "end_year": end}
    except CellError:
        raise
    except ValueError as exc:
        raise CellError(str(exc)) from None
    raise AssertionError(kind)
