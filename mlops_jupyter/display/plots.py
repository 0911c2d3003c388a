"""Plots of a comparison (matplotlib, imported when a plot is drawn): curves, single values,
scatter, parallel coordinates.

Every figure has labelled axes, a legend or a colour bar, and is rendered at 2x for HiDPI
screens by :func:`~mlops_jupyter.display.html.figure_img`, shown at its size and shrinking with
the panel. Input is a :class:`~mlops_jupyter.analysis.compare.Comparison`; nothing is computed
here beyond placing points.
"""

from __future__ import annotations

from typing import Any

from .html import esc, figure_img

MAX_PLOTTED_RUNS = 20
MAX_AXES = 12  # parallel coordinates: params shown at most
WIDTH, HEIGHT = 7.2, 3.4  # inches; 690 x 326 CSS pixels
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "legend.frameon": False,
}


def _muted(text: str) -> str:
    return f'<div class="mlops-muted">{esc(text)}</div>'


def _figure(width: float = WIDTH, height: float = HEIGHT) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _short(column: str) -> str:
    return column.split(".", 1)[1] if "." in column else column


def _isna(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _first_runs(cmp: Any) -> tuple[Any, str]:
    if len(cmp) <= MAX_PLOTTED_RUNS:
        return cmp, ""
    return (
        cmp.select(cmp.run_ids[:MAX_PLOTTED_RUNS]),
        _muted(f"the first {MAX_PLOTTED_RUNS} of {len(cmp)} runs, in the table's order"),
    )


def _legend(ax: Any, n: int) -> None:
    if n > 8:  # many runs: beside the plot, not over the lines
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=1 if n <= 16 else 2)
    else:
        ax.legend(loc="best")


def curves_img(cmp: Any, metric: str) -> str:
    """Metric histories over steps, one line per run; a bar per run when every run logged the
    metric once (a single value is not a curve)."""
    import matplotlib as mpl

    column = cmp.metric_column(metric)
    shown, note = _first_runs(cmp)
    curves = shown.curves(column)
    if curves.empty:
        return _muted(f"no points logged for {_short(column)}")
    if curves.groupby("run_id").size().max() < 2:
        return (
            values_img(shown, column)
            + _muted(
                f"{_short(column)} was logged once per run, so it is drawn as bars; "
                "log it with a step (mj.log_metric(key, value, step=i)) for curves"
            )
            + note
        )
    with mpl.rc_context(STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        groups = list(curves.groupby(["run_id", "run_name"], sort=False))
        for (_, name), points in groups:
            ax.plot(
                points["step"],
                points["value"],
                label=str(name),
                marker="o" if len(points) <= 12 else None,
                markersize=3.5,
                linewidth=1.6,
            )
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("step")
        ax.set_ylabel(_short(column))
        ax.set_title(f"{_short(column)} by step ({len(groups)} runs)")
        _legend(ax, len(groups))
    return figure_img(fig, alt=f"{_short(column)} by step") + note


def values_img(cmp: Any, column: str) -> str:
    """One horizontal bar per run: its latest value of ``column``, the best one marked."""
    import matplotlib as mpl

    from ..analysis.compare import guess_direction

    frame = cmp.runs[["run_name", column]].dropna()
    if frame.empty:
        return _muted(f"no run logged {_short(column)}")
    frame = frame.iloc[::-1]  # the table's first run on top
    best = frame[column].max() if guess_direction(column) == "max" else frame[column].min()
    with mpl.rc_context(STYLE):
        fig = _figure(WIDTH, min(0.8 + 0.32 * len(frame), 6.0))
        ax = fig.add_subplot()
        colors = ["#1b7f3b" if v == best else "#8aa7e8" for v in frame[column]]
        ax.barh(frame["run_name"].astype(str), frame[column], color=colors)
        lo, hi = float(frame[column].min()), float(frame[column].max())
        span = (hi - lo) or abs(hi) or 1.0
        ax.set_xlim(lo - span * 0.6 if lo > 0 and span < lo else min(0.0, lo), hi + span * 0.25)
        for y, v in enumerate(frame[column]):
            ax.annotate(f"{v:.4g}", (v, y), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)  # fmt: skip
        ax.set_xlabel(f"{_short(column)} (latest value; green: best)")
        ax.grid(axis="y", visible=False)
    return figure_img(fig, alt=f"{_short(column)} per run")


def numeric_axis(values: Any) -> tuple[Any, list[str] | None]:
    """Numbers as they are; anything else as category codes plus their labels."""
    import pandas as pd

    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum():
        return numeric.astype(float), None
    labels = sorted({str(v) for v in values.dropna()})
    codes = values.map(lambda v: labels.index(str(v)) if v is not None and not _isna(v) else None)
    return pd.to_numeric(codes, errors="coerce").astype(float), labels


def scatter_img(cmp: Any, param: str, metric: str) -> str:
    """A param against a metric, one point per run, coloured by the metric; runs named when
    there are few, the best run ringed."""
    import matplotlib as mpl
    import numpy as np

    from ..analysis.compare import guess_direction

    pcol, mcol = cmp.param_column(param), cmp.metric_column(metric)
    x, labels = numeric_axis(cmp.runs[pcol])
    y = cmp.runs[mcol].astype(float)
    keep = x.notna() & y.notna()
    if not keep.any():
        return _muted(f"no run has both {_short(pcol)} and {_short(mcol)}")
    if labels is not None:  # spread the points of one category a little
        x = x + np.random.default_rng(0).uniform(-0.12, 0.12, len(x))
    with mpl.rc_context(STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        points = ax.scatter(x[keep], y[keep], c=y[keep], cmap="viridis", s=36, zorder=3)
        fig.colorbar(points, ax=ax, label=_short(mcol), pad=0.01)
        best = y[keep].idxmax() if guess_direction(mcol) == "max" else y[keep].idxmin()
        ax.scatter([x[best]], [y[best]], s=140, facecolors="none", edgecolors="#1b7f3b",
                   linewidths=1.8, zorder=4, label=f"best: {cmp.runs['run_name'][best]}")  # fmt: skip
        if keep.sum() <= 15:
            for xi, yi, name in zip(x[keep], y[keep], cmp.runs["run_name"][keep].astype(str)):
                ax.annotate(name, (xi, yi), fontsize=7, xytext=(4, 3), textcoords="offset points")
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels)
        if x[keep].nunique() == 1:
            ax.margins(x=0.5)
        ax.set_xlabel(_short(pcol))
        ax.set_ylabel(_short(mcol))
        ax.set_title(f"{_short(mcol)} against {_short(pcol)} ({int(keep.sum())} runs)")
        ax.legend(loc="best")
    return figure_img(fig, alt=f"{_short(mcol)} against {_short(pcol)}")


def parallel_img(cmp: Any, metric: str, params: list[str] | None = None) -> str:
    """Parallel coordinates: one axis per param that varies, then the metric; each run a line
    coloured by the metric (colour bar), each axis labelled with its lowest and highest value."""
    import matplotlib as mpl
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    mcol = cmp.metric_column(metric)
    varying = params if params is not None else (cmp.varying_params() or cmp.params)
    shown = varying[:MAX_AXES]  # a readable figure; the table has them all
    axes = [*shown, mcol]
    scaled, ticks = [], []
    for column in axes:
        values, labels = numeric_axis(cmp.runs[column])
        lo, hi = values.min(), values.max()
        span = (hi - lo) if hi != lo else 1.0
        scaled.append(((values - lo) / span).fillna(-0.05).tolist())
        ticks.append((labels, lo, hi))
    metric_values = cmp.runs[mcol].astype(float)
    finite = metric_values.dropna()
    norm = Normalize(
        float(finite.min()) if len(finite) else 0.0, float(finite.max()) if len(finite) else 1.0
    )
    cmap = colormaps["viridis"]
    with mpl.rc_context({**STYLE, "axes.grid": False}):
        fig = _figure(max(WIDTH, 1.2 * len(axes) + 1.5), HEIGHT + 0.3)
        ax = fig.add_subplot()
        order = metric_values.fillna(finite.min() if len(finite) else 0).argsort()
        for i in order:  # the best lines drawn last, on top
            m = metric_values.iloc[i]
            color = "#bbbbbb" if _isna(m) else cmap(norm(m))
            ax.plot(range(len(axes)), [s[i] for s in scaled], color=color, alpha=0.85, lw=1.6)
        for k, (labels, lo, hi) in enumerate(ticks):
            ax.axvline(k, color="#888", lw=0.8)
            low = labels[0] if labels else f"{lo:.4g}"
            high = labels[-1] if labels else f"{hi:.4g}"
            ax.annotate(str(low), (k, -0.1), fontsize=8, ha="center", va="top",
                        annotation_clip=False)  # fmt: skip
            ax.annotate(str(high), (k, 1.04), fontsize=8, ha="center", va="bottom",
                        annotation_clip=False)  # fmt: skip
        ax.set_xticks(range(len(axes)), [_short(a) for a in axes])
        ax.tick_params(axis="x", pad=16)
        ax.set_yticks([])
        ax.set_ylim(-0.12, 1.1)
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=_short(mcol), pad=0.01)
        ax.set_title(
            f"params -> {_short(mcol)} ({len(cmp)} runs; each axis from lowest to highest)"
        )
    note = (
        _muted(f"the first {MAX_AXES} of {len(varying)} params that vary")
        if len(varying) > MAX_AXES
        else ""
    )
    return figure_img(fig, alt=f"parallel coordinates of {_short(mcol)}") + note
