"""Model cards: what a version is, what it was trained and evaluated on, how well it did.

A card is a plain dict stored with the version (JSON), rendered to Markdown or escaped HTML.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

from ..display.html import esc, fmt, md

ENV_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "skops", "mlops-jupyter")


def _params(model: Any) -> dict[str, Any]:
    get_params = getattr(model, "get_params", None)
    if not callable(get_params):
        return {}
    try:
        params = get_params(deep=False)
    except Exception:
        return {}
    out: dict[str, Any] = {}
    for key, value in sorted(params.items()):
        if value is None or isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = repr(value)[:200]
    return out


def environment() -> dict[str, Any]:
    packages = {}
    for name in ENV_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": packages,
    }


def build_card(
    model: Any,
    *,
    name: str,
    task: str,
    metrics: dict[str, Any],
    metric_sources: dict[str, str],
    training_datasets: list[dict[str, Any]],
    eval_data: dict[str, Any] | None,
    run: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "name": name,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "task": task,
        "params": _params(model),
        "metrics": metrics,
        "metric_sources": metric_sources,
        "training_data": training_datasets,
        "evaluation_data": eval_data,
        "run": run,
        "environment": environment(),
    }


def card_markdown(card: dict[str, Any], version: int | None = None) -> str:
    """The card as Markdown; every value from the card is inert text (:func:`md`), so a model,
    param, metric or dataset named ``<img onerror=...>`` renders as those characters."""
    title = f"# Model card: {md(card.get('name'))}" + (f" v{md(version)}" if version else "")
    lines = [title, "", f"- class: {md(card.get('class'))}", f"- task: {md(card.get('task'))}"]
    run = card.get("run") or {}
    if run:
        lines.append(
            f"- run: {md(run.get('id'))} ({md(run.get('experiment'))}, {md(run.get('name'))})"
        )
    lines += ["", "## Parameters", ""]
    lines += [f"- {md(k)}: {md(v)}" for k, v in (card.get("params") or {}).items()] or ["- (none)"]
    lines += ["", "## Metrics", ""]
    sources = card.get("metric_sources") or {}
    lines += [
        f"- {md(k)}: {md(v)} ({md(sources.get(k, 'given'))})"
        for k, v in (card.get("metrics") or {}).items()
    ] or ["- (none recorded)"]
    lines += ["", "## Data", ""]
    for ds in card.get("training_data") or []:
        lines.append(
            f"- trained on {md(ds.get('name'))}@{md(ds.get('version'))} ({md(ds.get('fingerprint'))})"
        )
    ev = card.get("evaluation_data")
    if ev:
        lines.append(f"- evaluated on {md(ev.get('rows'))} rows ({md(ev.get('fingerprint'))})")
    env = card.get("environment") or {}
    lines += [
        "",
        "## Environment",
        "",
        f"- python {md(env.get('python'))} on {md(env.get('platform'))}",
    ]
    lines += [f"- {md(k)} {md(v)}" for k, v in (env.get("packages") or {}).items()]
    return "\n".join(lines) + "\n"


def card_html(card: dict[str, Any], version: int | None = None) -> str:
    def items(mapping: dict[str, Any]) -> str:
        if not mapping:
            return '<span class="mlops-muted">none</span>'
        return "".join(f"<div>{esc(k)}: <b>{fmt(v)}</b></div>" for k, v in mapping.items())

    data = [
        f"{esc(d.get('name'))}@{esc(d.get('version'))}" for d in card.get("training_data") or []
    ]
    env = card.get("environment") or {}
    return (
        f"<div><b>{esc(card.get('name'))}</b>{' v' + esc(version) if version else ''} "
        f"<span class='mlops-muted'>{esc(card.get('class'))}</span></div>"
        f"<div><i>params</i>{items(card.get('params') or {})}</div>"
        f"<div><i>metrics</i>{items(card.get('metrics') or {})}</div>"
        f"<div><i>trained on</i> {esc(', '.join(data) or 'unknown')}</div>"
        f"<div class='mlops-muted'>python {esc(env.get('python'))}; "
        f"{esc(', '.join(f'{k} {v}' for k, v in (env.get('packages') or {}).items()))}</div>"
    )
