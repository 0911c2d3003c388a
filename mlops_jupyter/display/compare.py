"""Rendering of comparisons, in three modules: :mod:`.compare_html` (static HTML of the table,
the tabs and the diff of two runs), :mod:`.compare_tabs` (what each tab shows) and
:mod:`.compare_panel` (the live ipywidgets panel); plots in :mod:`.plots`. Re-exported here.
"""

from __future__ import annotations

from .compare_html import comparison_html, groups_html, run_diff_html, runs_table
from .compare_panel import ComparePanel
from .compare_tabs import TABS, Choices, default_choices, render_tab
from .plots import curves_img, parallel_img, scatter_img, values_img

__all__ = [
    "TABS",
    "Choices",
    "ComparePanel",
    "comparison_html",
    "curves_img",
    "default_choices",
    "groups_html",
    "parallel_img",
    "render_tab",
    "run_diff_html",
    "runs_table",
    "scatter_img",
    "values_img",
]
