"""What a run cost: totals and peaks over its cells, the five costliest, an estimated cost.

``mj.resources(run=None)`` returns a frozen :class:`RunResources`. The cost is the run's wall
time in hours times ``$MLOPS_JUPYTER_COST_PER_HOUR`` (the price of the machine per hour, in
any currency); without that variable there is no cost. The same figures are the
``resources.*`` columns of ``mj.runs()`` and of the comparison table.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ENV_COST = "MLOPS_JUPYTER_COST_PER_HOUR"
TOP_CELLS = 5
COLUMNS = {
    "resources.wall_s": "wall_s",
    "resources.cpu_s": "cpu_s",
    "resources.peak_rss_mb": "peak_rss_mb",
    "resources.cost": "cost",
}
_warned_rate: set[str] = set()


def cost_per_hour() -> float | None:
    """``$MLOPS_JUPYTER_COST_PER_HOUR`` as a number >= 0, else None (one warning if invalid)."""
    raw = os.environ.get(ENV_COST, "").strip()
    if not raw:
        return None
    try:
        rate = float(raw)
    except ValueError:
        rate = math.nan
    if not (rate >= 0 and math.isfinite(rate)):
        if raw not in _warned_rate:
            _warned_rate.add(raw)
            warnings.warn(
                f"mlops-jupyter: {ENV_COST}={raw!r} is not a price per hour; no cost is "
                "estimated. Set it to a number, e.g. 0.48.",
                stacklevel=3,
            )
        return None
    return rate


def estimate(wall_s: Any, rate: float | None) -> float | None:
    if rate is None or wall_s is None:
        return None
    return float(wall_s) / 3600.0 * rate


@dataclass(frozen=True)
class RunResources:
    run_id: str
    run_name: str | None
    totals: dict[str, Any]  # cells, wall_s, cpu_s, cpu_workers_s, peak_rss_mb, ...
    cells: pd.DataFrame  # the costliest cells: cell, code, wall_s, cpu_s, peak_rss_mb, ...
    rate: float | None = None
    cost: float | None = None
    notes: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        t = self.totals
        if not t.get("cells"):
            return f"Run {self.run_name or self.run_id}: no resources recorded yet."
        cost = f", estimated cost {self.cost:.4g}" if self.cost is not None else ""
        return (
            f"Run {self.run_name or self.run_id}: {t['cells']} cells, wall "
            f"{_s(t.get('wall_s'))}, CPU {_s(t.get('cpu_s'))} (workers "
            f"{_s(t.get('cpu_workers_s'))}), peak {_mb(t.get('peak_rss_mb'))}{cost}."
        )

    def __repr__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_name": self.run_name,
            "totals": self.totals,
            "rate": self.rate,
            "cost": self.cost,
            "cells": self.cells.to_dict("records"),
        }

    def _repr_html_(self) -> str:
        from ..display.expectations import resources_html

        return resources_html(self)


def _s(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3g} s"


def _mb(value: Any) -> str:
    if value is None:
        return "-"
    v = float(value)
    return f"{v / 1024:.3g} GB" if v >= 1024 else f"{v:.4g} MB"


def describe_usage(row: Mapping[str, Any] | None) -> str:
    """One line of a cell's usage (``%mlops`` status)."""
    if not row:
        return "not measured"
    text = (
        f"wall {_s(row.get('wall_s'))}, CPU {_s(row.get('cpu_s'))}, peak "
        f"{_mb(row.get('peak_rss_mb'))}, retained {_mb(row.get('retained_mb'))}"
    )
    if row.get("n_workers"):
        text += f", {int(row['n_workers'])} worker processes"
    if row.get("gpu_mem_peak_mb") is not None:
        text += f", GPU {_mb(row.get('gpu_mem_peak_mb'))}"
    return text


def resources(run: str | None = None, store: Any = None) -> RunResources:
    """The resources of ``run`` (an id, prefix or name), by default the current run."""
    from .compare_scope import resolve_run
    from .datadiff import _open

    st = _open(store, needed=True)
    if run is None:
        from ..capture.session import get_session

        session = get_session()
        run_id = session.run_id or _latest_run(st)
    else:
        run_id = resolve_run(st, run, None)
    if run_id is None:
        from ..errors import RunNotFound

        raise RunNotFound(
            "No run yet. Run a captured cell first, or name a run: mj.resources('r1')."
        )
    row = st.get_run(run_id)
    totals = st.run_resources([run_id]).get(run_id, {"cells": 0})
    cells = pd.DataFrame(
        [
            {
                "cell": f"[{c['execution_count']}]" if c["execution_count"] is not None else "",
                "code": _first_line(c["code"]),
                "wall_s": c["wall_s"],
                "cpu_s": c["cpu_s"],
                "cpu_workers_s": c["cpu_workers_s"],
                "peak_rss_mb": c["peak_rss_mb"],
                "retained_mb": c["retained_mb"],
                "n_workers": c["n_workers"],
                "execution_id": c["execution_id"],
            }
            for c in st.costliest_cells(run_id, TOP_CELLS)
        ],
        columns=[
            "cell",
            "code",
            "wall_s",
            "cpu_s",
            "cpu_workers_s",
            "peak_rss_mb",
            "retained_mb",
            "n_workers",
            "execution_id",
        ],
    )
    rate = cost_per_hour()
    return RunResources(
        run_id, row.get("name"), dict(totals), cells, rate, estimate(totals.get("wall_s"), rate)
    )


def _latest_run(st: Any) -> str | None:
    runs = st.list_runs(None)
    return runs[-1]["id"] if runs else None


def _first_line(code: str | None, width: int = 60) -> str:
    line = next((ln.strip() for ln in (code or "").splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def columns(store: Any, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """``{column: {run_id: value}}`` for the ``resources.*`` columns."""
    found = store.run_resources(run_ids) if hasattr(store, "run_resources") else {}
    rate = cost_per_hour()
    out: dict[str, dict[str, Any]] = {c: {} for c in COLUMNS}
    for run_id, totals in found.items():
        for column, key in COLUMNS.items():
            value = estimate(totals.get("wall_s"), rate) if key == "cost" else totals.get(key)
            if value is not None:
                out[column][run_id] = value
    if rate is None:
        del out["resources.cost"]
    return out


def add_columns(store: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (a runs table with ``run_id``) with the ``resources.*`` columns."""
    if "run_id" not in frame.columns or not len(frame):
        return frame
    run_ids = frame["run_id"].astype(str)
    out = frame.copy(deep=False)  # only columns are added: the caller's frame is untouched
    for column, values in columns(store, run_ids.tolist()).items():
        if values:  # (a lookup per run in Python took 0.09 s at 50,000 runs)
            out[column] = pd.to_numeric(run_ids.map(values))
        else:
            out[column] = pd.Series(np.nan, index=out.index, dtype="float64")
    return out


_cache: dict[tuple[int, tuple[str, ...]], tuple[float, dict[str, dict[str, Any]]]] = {}


def column_provider(column: str) -> Any:
    """A ``register_column`` provider for one ``resources.*`` column (one query per table)."""

    def provide(store: Any, run_ids: list[str]) -> Mapping[str, Any]:
        import time

        key = (id(store), tuple(run_ids))
        hit = _cache.get(key)
        if hit is None or time.monotonic() - hit[0] > 1.0:
            _cache.clear()
            hit = _cache[key] = (time.monotonic(), columns(store, run_ids))
        return hit[1].get(column, {})

    return provide
