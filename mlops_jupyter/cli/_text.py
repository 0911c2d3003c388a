"""Tables and values for people at a terminal: rounded, to the second, fitting the width.

Numbers get 4 significant digits (``--json`` output stays exact), timestamps lose their
microseconds and zone, whole floats print as integers (``1``, not ``1.0``), missing values are
blank. A table wider than the terminal (``$COLUMNS``, else the terminal's size) keeps its first
columns and says how many it left out; a long cell ends in ``…``.
"""

from __future__ import annotations

import math
import re
import shutil
from typing import Any

MAX_CELL = 28
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def width() -> int:
    """The terminal's width in characters (``$COLUMNS`` first)."""
    return shutil.get_terminal_size((100, 24)).columns


def value(v: Any) -> str:
    """One value as a person reads it."""
    if v is None:
        return ""
    try:
        import pandas as pd

        if not isinstance(v, (list, tuple, dict)) and pd.isna(v):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.4g}"
    if hasattr(v, "item") and not isinstance(v, str):  # numpy scalars
        return value(v.item())
    text = str(v)
    if _TIMESTAMP.match(text):
        return text[:19].replace("T", " ")
    return text


def cut(text: str, limit: int = MAX_CELL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(frame: Any, *, columns: list[str] | None = None, max_width: int | None = None) -> str:
    """A DataFrame (or a list of dicts) as aligned text that fits ``max_width``."""
    import pandas as pd

    data = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    if columns is not None:
        data = data[[c for c in columns if c in data.columns]]
    limit = max_width or width()
    names = [str(c) for c in data.columns]
    cells = [[cut(value(v)) for v in data[c].tolist()] for c in data.columns]
    numeric = [pd.api.types.is_numeric_dtype(data[c]) for c in data.columns]
    widths = [max([len(cut(n)), *(len(x) for x in col)]) for n, col in zip(names, cells)]
    kept, used = [], 0
    for i, w in enumerate(widths):
        extra = w + (2 if kept else 0)
        if kept and used + extra > limit:
            break
        kept.append(i)
        used += extra
    lines = []
    for row in [None, *range(len(data))]:
        parts = []
        for i in kept:
            text = cut(names[i]) if row is None else cells[i][row]
            parts.append(text.rjust(widths[i]) if numeric[i] else text.ljust(widths[i]))
        line = "  ".join(parts).rstrip()
        lines.append(line if len(line) <= limit else line[: limit - 1] + "…")
    left = len(names) - len(kept)
    if left:
        lines.append(f"… {left} more columns: {cut(', '.join(names[len(kept) :]), limit - 20)}")
    return "\n".join(lines)
