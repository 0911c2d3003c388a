"""Rendering the registry: static HTML and the inline ipywidgets panel.

No I/O here: the panel receives the registry view and two callables from its caller
(``check(version, alias) -> PromotionResult`` and ``promote(version, alias, reason)``), and
never lets an exception escape a button callback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from .html import esc, figure_img, panel, table

_VERDICT_CLASS = {"pass": "mlops-good", "fail": "mlops-bad", "skipped": "mlops-muted"}
# more specific than the shared stylesheet, which every later panel on the page repeats
_CSS = (
    "<style>.mlops-panel .mlops-registry table.mlops-table td{text-align:left;"
    "white-space:normal;max-width:460px}</style>"
)
_TIME_COLUMNS = ("created_at", "start_at", "end_at", "at", "last_registered_at")


def _clean(frame: Any) -> Any:
    """Missing values shown as blanks, timestamps to the second (display only)."""
    if frame is None:
        return frame
    out = frame.astype(object).where(frame.notna(), None)
    for col in _TIME_COLUMNS:
        if col in out.columns:
            out[col] = [None if v is None else str(v)[:19].replace("T", " ") for v in out[col]]
    return out


def clean_table(frame: Any, **kwargs: Any) -> str:
    return table(_clean(frame), **kwargs)


def _panel(title: str, body: str) -> str:
    return panel(title, f'{_CSS}<div class="mlops-registry">{body}</div>')


def _alias_badges(aliases: dict[str, int]) -> str:
    if not aliases:
        return '<span class="mlops-muted">no aliases yet</span>'
    return "".join(
        f'<span class="mlops-badge">{esc(a)} &rarr; v{esc(v)}</span>'
        for a, v in sorted(aliases.items())
    )


def model_html(view: Any) -> str:
    """A registered model: aliases, versions (metrics, data lineage), alias history."""
    body = f"<div>{_alias_badges(view.aliases)}</div>"
    body += "<h3>Versions</h3>" + clean_table(view.versions)
    if view.history is not None and len(view.history):
        cols = ["alias", "version", "action", "start_at", "end_at", "who", "reason", "forced"]
        body += "<h3>Alias history</h3>" + clean_table(view.history[cols])
    if view.policy:
        pol = view.policy
        items = [f"{k} {v}" for k, v in pol.get("metrics", {}).items()]
        cmp = pol.get("compare", {})
        items.append(
            f"champion vs challenger on {cmp.get('metric') or 'accuracy/r2'}: "
            f"{cmp.get('mode')} (margin {cmp.get('margin')})"
        )
        items.append(f"drift gate {'on' if pol.get('drift') else 'off'}")
        items.append(f"lineage gate {'on' if pol.get('lineage') else 'off'}")
        body += "<h3>Policy</h3><ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"
    return _panel(f"Model {view.name}", body)


def history_html(view: Any) -> str:
    cols = ["alias", "version", "action", "start_at", "end_at", "who", "reason", "forced"]
    if view.history is None or not len(view.history):
        body = '<div class="mlops-muted">No alias has been assigned yet.</div>'
    else:
        body = clean_table(view.history[cols])
    return _panel(f"Alias history of {view.name}", body)


def gates_table(result: Any) -> str:
    def cls(row: dict[str, Any], col: str) -> str | None:
        return _VERDICT_CLASS.get(str(row.get("verdict"))) if col == "verdict" else None

    return clean_table(result.gates, cell_class=cls)


def promotion_html(result: Any, *, with_plot: bool = False) -> str:
    cls = "mlops-good" if result.passed else "mlops-bad"
    body = f'<div class="{cls}">{esc(result.summary())}</div>' + gates_table(result)
    if result.comparison is not None:
        body += "<h3>Champion vs challenger</h3>" + clean_table(result.comparison)
        if with_plot:
            try:
                body += figure_img(comparison_figure(result))
            except Exception as exc:  # a plot never breaks the panel
                body += f'<div class="mlops-muted">plot unavailable: {esc(exc)}</div>'
    return _panel(f"Promotion of {result.name} v{result.version} to {result.alias}", body)


def comparison_figure(result: Any) -> Any:
    """Histogram of the bootstrap differences with the CI and the decision line."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    boot = result.bootstrap
    fig, ax = plt.subplots(figsize=(5, 2.6))
    if boot is None or boot.samples.size == 0:
        ax.text(0.5, 0.5, "no champion to compare with", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ax.hist(boot.samples, bins=40, color="#8aa7e8")
    ax.axvline(boot.difference, color="#1b3a8a", label="observed")
    ax.axvspan(boot.ci_low, boot.ci_high, color="#1b3a8a", alpha=0.12, label="CI")
    ax.axvline(0.0, color="#777", linestyle=":")
    ax.set_xlabel(f"{boot.metric}: v{result.version} - v{result.from_version}")
    ax.set_ylabel("resamples")
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def registry_panel(
    view: Any,
    check: Callable[[int, str], Any],
    promote: Callable[[int, str, str | None], Any],
    refresh: Callable[[], Any] | None = None,
) -> Any:
    """The inline panel: versions and aliases, pick a version and alias, check, promote."""
    import ipywidgets as w

    versions = [int(v) for v in view.versions["version"]] if len(view.versions) else []
    header = w.HTML(model_html(view))
    version = w.Dropdown(
        options=[(f"v{v}", v) for v in versions],
        value=versions[-1] if versions else None,
        description="version",
    )
    alias = w.Combobox(
        value="production",
        options=sorted(set(view.aliases) | {"champion", "challenger", "staging", "production"}),
        description="alias",
        placeholder="alias, e.g. production",
        ensure_option=False,
    )
    reason = w.Text(placeholder="why (recorded in the audit trail)", description="reason")
    check_btn = w.Button(description="Check gates", icon="check")
    promote_btn = w.Button(description="Promote", button_style="success", disabled=True)
    out = w.HTML()
    state: dict[str, Any] = {"checked": None}

    def reset(_: Any = None) -> None:
        state["checked"] = None
        promote_btn.disabled = True

    def on_check(_: Any) -> None:
        reset()
        try:
            result = check(int(version.value), str(alias.value).strip())
        except Exception as exc:  # callbacks never raise into the user's cell
            out.value = f'<div class="mlops-bad">{esc(exc)}</div>'
            return
        state["checked"] = (version.value, alias.value)
        promote_btn.disabled = not result.passed
        out.value = _safe_html(lambda: promotion_html(result, with_plot=True))

    def on_promote(_: Any) -> None:
        if state["checked"] != (version.value, alias.value) or promote_btn.disabled:
            return
        promote_btn.disabled = True
        try:
            result = promote(int(version.value), str(alias.value).strip(), reason.value or None)
        except Exception as exc:
            out.value = f'<div class="mlops-bad">{esc(exc)}</div>'
            return
        state["checked"] = None
        out.value = _safe_html(lambda: promotion_html(result, with_plot=True))
        if refresh is not None:
            header.value = _safe_html(lambda: model_html(refresh()))

    version.observe(reset, names="value")
    alias.observe(reset, names="value")
    check_btn.on_click(on_check)
    promote_btn.on_click(on_promote)
    controls = w.HBox([version, alias])
    box = w.VBox([header, controls, w.HBox([reason, check_btn, promote_btn]), out])
    box.add_class("mlops-panel")
    # handles for tests and callers
    box.mlops = {  # type: ignore[attr-defined]
        "version": version,
        "alias": alias,
        "reason": reason,
        "check": check_btn,
        "promote": promote_btn,
        "output": out,
        "header": header,
    }
    return box


def _safe_html(render: Callable[[], str]) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return render()
    except Exception as exc:
        return f'<div class="mlops-bad">cannot render: {esc(exc)}</div>'
