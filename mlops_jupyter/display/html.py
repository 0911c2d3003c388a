"""Small building blocks for the static HTML forms of every panel.

Everything that comes from user data goes through :func:`esc`. No iframes, no external
resources: a saved notebook, nbconvert and GitHub show the same thing.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

CSS = """
<style>
.mlops-panel{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:13px;color:var(--jp-ui-font-color1,#222)}
.mlops-panel h3{font-size:14px;margin:8px 0 4px}
.mlops-panel table.mlops-table{border-collapse:collapse;margin:4px 0}
.mlops-panel table.mlops-table th,.mlops-panel table.mlops-table td{border:1px solid #ddd;padding:2px 6px;text-align:right;white-space:nowrap}
.mlops-panel table.mlops-table th{background:#f4f4f4;text-align:left}
.mlops-panel .mlops-bad{color:#b00020;font-weight:600}
.mlops-panel .mlops-good{color:#1b7f3b;font-weight:600}
.mlops-panel .mlops-muted{color:#777}
.mlops-panel .mlops-changed{background:#fff3c4}
.mlops-panel .mlops-badge{display:inline-block;border-radius:8px;padding:0 6px;background:#e8eefc;margin-right:4px}
</style>
"""


def esc(value: Any) -> str:
    """HTML-escape any value (quotes too)."""
    return html.escape("" if value is None else str(value), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def md(value: Any) -> str:
    """User data as inert Markdown text: HTML escaped (a Markdown renderer passes raw HTML
    through, so ``<img onerror=...>`` would run) and Markdown punctuation backslashed (no
    links, code spans or headings made from a name); one line."""
    text = "" if value is None else str(value)
    text = html.escape(" ".join(text.split()), quote=True)
    return _MD_SPECIAL.sub(r"\\\1", text)


def fmt(value: Any, digits: int = 4) -> str:
    """A short, escaped rendering of a cell value."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return esc(f"{value:.{digits}g}")
    return esc(value)


def table(
    rows: Iterable[Mapping[str, Any]] | Any,
    columns: list[str] | None = None,
    *,
    cell_class: Any = None,
    max_rows: int = 500,
) -> str:
    """An escaped HTML table from dicts or a DataFrame.

    ``cell_class(row, column) -> str | None`` adds a CSS class to a cell (e.g. highlight).
    """
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        columns = columns or [str(c) for c in rows.columns]
        records = rows.head(max_rows).to_dict("records")
        total = len(rows)
    else:
        records = list(rows)
        total = len(records)
        records = records[:max_rows]
        columns = columns or (list(records[0]) if records else [])
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in records:
        cells = []
        for c in columns:
            cls = cell_class(row, c) if cell_class else None
            attr = f' class="{esc(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{fmt(row.get(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f'<div class="mlops-muted">{total - len(records)} more rows not shown</div>'
        if total > len(records)
        else ""
    )
    return (
        f'<table class="mlops-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{more}"
    )


def panel(title: str, body: str) -> str:
    """Wrap a panel's HTML with the shared stylesheet and a title."""
    return f'{CSS}<div class="mlops-panel"><h3>{esc(title)}</h3>{body}</div>'


def figure_img(fig: Any, *, dpi: int = 192, fmt: str = "png", alt: str = "plot") -> str:
    """A matplotlib figure as an inline ``<img>`` (base64), then closed to free memory.

    Rendered at ``dpi`` (2x a 96 dpi screen, sharp on HiDPI displays) and shown at its size in
    CSS pixels, shrinking with the panel (``max-width: 100%``).
    """
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    raw = buf.getvalue()
    size = ""
    if fmt == "png" and raw[12:16] == b"IHDR":  # width and height from the PNG header
        width = int.from_bytes(raw[16:20], "big") * 96 // dpi
        size = f' width="{width}" style="max-width:100%;height:auto"'
    data = base64.b64encode(raw).decode("ascii")
    mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
    return f'<img alt="{esc(alt)}" src="data:{mime};base64,{data}"{size}/>'
