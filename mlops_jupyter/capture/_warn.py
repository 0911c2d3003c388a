"""Capture failures become one warning per kind; the user's cell is never affected."""

from __future__ import annotations

import warnings

_warned: set[str] = set()


class CaptureWarning(RuntimeWarning):
    """Capture failed for one cell (or one object in it); the cell itself ran normally."""


def warn_once(kind: str, exc: BaseException, subject: str | None = None) -> None:
    """Warn about a capture failure, once per (what failed, exception type)."""
    key = f"{kind}:{type(exc).__name__}"
    if key in _warned:
        return
    _warned.add(key)
    about = f" {subject}" if subject else ""
    # Shown even under a notebook's `warnings.filterwarnings("ignore")`: once per kind, and
    # silence here would mean losing facts without anyone knowing.
    with warnings.catch_warnings():
        warnings.simplefilter("always", CaptureWarning)
        warnings.warn(
            f"mlops-jupyter could not {kind}{about} ({type(exc).__name__}: {exc}). "
            "Your cell ran normally; further failures of this kind are not reported.",
            CaptureWarning,
            stacklevel=3,
        )
