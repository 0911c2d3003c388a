"""The tabs of the comparison panel, rendered from a comparison and the user's choices.

One function draws a tab (:func:`render_tab`), for the live panel and for the static form
alike; :func:`default_choices` picks what each tab opens on (the comparison's metric, a curve
metric that has steps, a param that varies, the last step, baseline and challenger for the
diff), from the analysis' own answers.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from .compare_html import at_step_html, best_html, groups_html, run_diff_html
from .html import esc
from .plots import curves_img, parallel_img, scatter_img

TABS = ("Best", "Curves", "Scatter", "Parallel", "Groups", "At step", "Diff")


@dataclass(frozen=True)
class Choices:
    """What each tab shows. Metric and param names without their ``metrics.``/``params.``."""

    best_metric: str | None = None
    best_direction: str = "max"
    curve_metric: str | None = None
    scatter_param: str | None = None
    scatter_metric: str | None = None
    parallel_metric: str | None = None
    group_param: str | None = None
    group_metric: str | None = None
    step: int = 0
    diff_a: str | None = None
    diff_b: str | None = None

    def update(self, **changes: Any) -> Choices:
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if k in known})


def _bare(column: str | None) -> str | None:
    return None if column is None else column.split(".", 1)[1]


SAMPLE_RUNS = 2000  # the tabs' opening choices look at the table's first runs only


def default_choices(cmp: Any) -> Choices:
    """What the tabs open on for this comparison (judged on its first 2,000 runs, so 50,000
    runs open as fast as 2,000; the user picks any metric or param in the tabs)."""
    import dataclasses

    from ..analysis.compare import guess_direction

    metric = cmp.metric or (cmp.metrics[0] if cmp.metrics else None)
    if len(cmp) > SAMPLE_RUNS:
        cmp = dataclasses.replace(cmp, runs=cmp.runs.head(SAMPLE_RUNS))
    stepped = cmp.stepped_metrics() if len(cmp) else []
    curve = metric if metric in stepped else (stepped[0] if stepped else metric)
    param = cmp.default_param() or (cmp.params[0] if cmp.params else None)
    group = cmp.default_group_param() or param
    pair = cmp.default_pair()
    step = cmp.last_step(curve) if curve else None
    return Choices(
        best_metric=_bare(metric),
        best_direction=(
            cmp.direction
            if metric is not None and metric == cmp.metric
            else guess_direction(metric or "")
        ),
        curve_metric=_bare(curve),
        scatter_param=_bare(param),
        scatter_metric=_bare(metric),
        parallel_metric=_bare(metric),
        group_param=_bare(group),
        group_metric=_bare(metric),
        step=step or 0,
        diff_a=pair[0] if pair else None,
        diff_b=pair[1] if pair else None,
    )


def _muted(text: str) -> str:
    return f'<div class="mlops-muted">{esc(text)}</div>'


def render_tab(name: str, scope: Any, choices: Choices) -> str:
    """The HTML of one tab over the runs ``scope`` (a Comparison)."""
    if not len(scope):
        return _muted("No runs to show.")
    c = choices
    if name == "Best":
        if not c.best_metric:
            return _muted("no metrics logged")
        return best_html(scope, c.best_metric, c.best_direction)
    if name == "Curves":
        if not c.curve_metric:
            return _muted("no metrics logged")
        return curves_img(scope, c.curve_metric)
    if name == "Scatter":
        if not (c.scatter_param and c.scatter_metric):
            return _muted("needs a param and a metric")
        return scatter_img(scope, c.scatter_param, c.scatter_metric)
    if name == "Parallel":
        if not (scope.params and c.parallel_metric):
            return _muted("needs params and a metric")
        return parallel_img(scope, c.parallel_metric)
    if name == "Groups":
        if not (c.group_param and c.group_metric):
            return _muted("needs a param and a metric")
        return groups_html(scope.groups(c.group_param, c.group_metric))
    if name == "At step":
        return at_step_html(scope.at_step(int(c.step)), int(c.step))
    if name == "Diff":
        if not c.diff_a or not c.diff_b or c.diff_a == c.diff_b:
            return _muted("Tick two runs to diff them.")
        return run_diff_html(scope.diff(c.diff_a, c.diff_b))
    raise ValueError(f"unknown tab {name!r}")


def default_tabs(cmp: Any, *, plots: bool = True) -> dict[str, str]:
    """Every tab's default view, for the static form; a failing tab shows one line."""
    choices = default_choices(cmp)
    out = {}
    for name in TABS:
        if not plots and name in ("Curves", "Scatter", "Parallel"):
            continue
        out[name] = safe_render(name, cmp, choices)
    return out


def safe_render(name: str, scope: Any, choices: Choices) -> str:
    """:func:`render_tab`, with a failure shown as one line instead of raised."""
    try:
        return render_tab(name, scope, choices)
    except Exception as exc:  # a tab must never hide the rest of the panel
        return _muted(f"{name}: {type(exc).__name__}: {exc}")
