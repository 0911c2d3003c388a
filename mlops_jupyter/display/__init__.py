"""Rendering: static HTML and ipywidgets panels over analysis results. No I/O, no SQL here."""
