"""One output for a live widget and its static HTML form.

A panel's display bundle holds the ipywidgets view, ``text/html`` (the static form) and a small
marker, ``application/vnd.mlops-jupyter.panel+json``. The mlops-jupyter JupyterLab extension
renders the marker first: the live widget while its kernel still holds the widget, else the
static HTML, so a notebook reopened without its kernel never shows "Error displaying widget".
Viewers without the extension ignore the marker: nbconvert and GitHub fall back to
``text/html`` when the notebook holds no widget state.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

from .html import esc

MARKER = "application/vnd.mlops-jupyter.panel+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def mimebundle(widget: Any, static_html: Callable[[], str], **kwargs: Any) -> dict[str, Any]:
    """The widget's bundle plus ``text/html`` and the marker (with the widget's model id)."""
    bundle = dict(widget._repr_mimebundle_(**kwargs) or {})
    # The live widget still shows if the static form fails; only the saved copy is missing.
    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle["text/html"] = static_html()
    view = bundle.get(WIDGET_VIEW) or {}
    if "text/html" in bundle and view.get("model_id"):
        bundle[MARKER] = {"model_id": view["model_id"], "version": 1}
    return bundle


class WithStatic:
    """A widget displayed with its static HTML form; attributes are the widget's."""

    def __init__(self, widget: Any, static_html: Callable[[], str]) -> None:
        self.widget = widget
        self._static_html = static_html

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return mimebundle(self.widget, self._static_html, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["widget"], name)

    def __repr__(self) -> str:
        return f"<{type(self.widget).__name__} with static HTML>"


def error_line(exc: BaseException) -> str:
    """One line for a failure shown inside a panel."""
    return f'<span style="color:#b00020">{esc(type(exc).__name__)}: {esc(exc)}</span>'
