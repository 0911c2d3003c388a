"""Verify a bundle: re-run it and compare its results with the manifest.

Metrics must agree within tolerance (``|a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)``, the
manifest's per-metric tolerances unless overridden); dataset fingerprints must be equal. The
verdict is recorded in the store against the source run, which settles its reproducibility
status.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..capture.fingerprint import is_timing
from ..capture.record import UNTIMED
from ..errors import InvalidInput
from .bundle import MANIFEST, check_tolerances, export, load_manifest
from .execute import BundleRun, run_bundle


@dataclass(frozen=True)
class Verification:
    reproduced: bool
    table: Any  # DataFrame: kind, name, expected, actual, difference, tolerance, status
    summary: str
    bundle: Path
    source_run_id: str | None
    rerun_id: str | None

    def to_text(self) -> str:
        if self.table.empty:
            return self.summary
        shown = self.table.astype(object).where(self.table.notna(), "-")
        return shown.to_string(index=False) + "\n\n" + self.summary

    def _repr_html_(self) -> str:
        from ..display.html import esc, panel, table

        colour = "mlops-ok" if self.reproduced else "mlops-bad"
        body = table(self.table)
        return panel("Verify", f"<p class='{colour}'>{esc(self.summary)}</p>{body}")


def _close(expected: float, actual: float, rel_tol: float, abs_tol: float) -> bool:
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    return math.isclose(actual, expected, rel_tol=rel_tol, abs_tol=abs_tol)


def compare(
    manifest: dict[str, Any],
    rerun: BundleRun,
    store: Any,
    *,
    rel_tol: float | None = None,
    abs_tol: float | None = None,
) -> tuple[bool, list[dict[str, Any]]]:
    """The comparison rows and whether every one of them passed.

    Metrics within tolerance (timings such as ``mean_fit_time`` are not results and are not
    compared); datasets by fingerprint, or by their fingerprint without timing columns when
    both have one; the models the kept cells fitted by class and params (a search that
    selected another model is not reproduced, even when its data is).
    """
    metrics = store.latest_metrics(rerun.run_id) if rerun.run_id else {}
    datasets: dict[str, str] = {}
    models: dict[str, dict[str, Any]] = {}
    if rerun.run_id:
        executions = [int(e["id"]) for e in store.list_executions(rerun.run_id)]
        for row in store.datasets_of_executions(executions):
            datasets[str(row["name"])] = str(row["fingerprint"])
        models = store.models_of_executions(executions)
    rows = [
        _metric_row(key, spec, metrics.get(key), rel_tol, abs_tol)
        for key, spec in manifest.get("metrics", {}).items()
        if not is_timing(key)
    ]
    rows += [
        _dataset_row(store, name, spec, datasets.get(name))
        for name, spec in manifest.get("datasets", {}).items()
    ]
    rows += [
        _model_row(name, spec, models.get(name))
        for name, spec in manifest.get("models", {}).items()
    ]
    return all(r["status"] == "ok" for r in rows), rows


def _metric_row(
    key: str, spec: dict[str, Any], actual: Any, rel_tol: float | None, abs_tol: float | None
) -> dict[str, Any]:
    expected = float(spec["value"])
    rt = float(spec.get("rel_tol", 1e-6) if rel_tol is None else rel_tol)
    at = float(spec.get("abs_tol", 1e-9) if abs_tol is None else abs_tol)
    ok = actual is not None and _close(expected, float(actual), rt, at)
    return {
        "kind": "metric",
        "name": key,
        "expected": expected,
        "actual": actual,
        "difference": None if actual is None else float(actual) - expected,
        "tolerance": f"rel {rt:g} / abs {at:g}",
        "status": "ok" if ok else ("missing" if actual is None else "moved"),
    }


def _dataset_row(
    store: Any, name: str, spec: dict[str, Any], actual_fp: str | None
) -> dict[str, Any]:
    expected_fp = str(spec["fingerprint"])
    ok, tolerance = actual_fp == expected_fp, "equal"
    wanted = spec.get("fingerprint_without_timing")
    if not ok and actual_fp is not None and wanted:
        try:
            profile = store.get_dataset_content(actual_fp).get("profile") or {}
        except Exception:
            profile = {}
        ok = profile.get(UNTIMED) == wanted
        tolerance = "equal but for timing columns"
    return {
        "kind": "dataset",
        "name": name,
        "expected": expected_fp[:12],
        "actual": None if actual_fp is None else actual_fp[:12],
        "difference": None,
        "tolerance": tolerance,
        "status": "ok" if ok else ("missing" if actual_fp is None else "changed"),
    }


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _stable(params: Any) -> Any:
    """Params with object addresses dropped (``<function f at 0x7f...>``), NaN equal to NaN."""
    if isinstance(params, dict):
        return {k: _stable(v) for k, v in sorted(params.items())}
    if isinstance(params, float) and math.isnan(params):
        return "nan"
    return _ADDRESS.sub("", params) if isinstance(params, str) else params


def _model_row(name: str, spec: dict[str, Any], actual: dict[str, Any] | None) -> dict[str, Any]:
    want, got = _stable(spec.get("params") or {}), _stable((actual or {}).get("params") or {})
    differs = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
    same_class = actual is not None and actual.get("class") == spec.get("class")
    ok = same_class and not differs
    shown = ", ".join(f"{k}={got.get(k)!r} (was {want.get(k)!r})" for k in differs[:4])
    return {
        "kind": "model",
        "name": name,
        "expected": spec.get("class"),
        "actual": None if actual is None else actual.get("class"),
        "difference": shown or None,
        "tolerance": "same class and params",
        "status": "ok" if ok else ("missing" if actual is None else "changed"),
    }


def verify(
    target: str | os.PathLike[str],
    *,
    store: Any = None,
    rel_tol: float | None = None,
    abs_tol: float | None = None,
    progress: bool = True,
    data_root_dir: str | None = None,
) -> Verification:
    """Re-run a bundle folder (or a run id, exported first) and compare its results.

    Raises :class:`~mlops_jupyter.errors.InputChanged` when an input file changed and
    :class:`~mlops_jupyter.errors.ExportError` when a cell fails; otherwise returns the
    verdict (``.reproduced``) with its comparison table.
    """
    import pandas as pd

    from ..store import open_store

    if not isinstance(target, (str, os.PathLike)):
        raise InvalidInput(
            f"verify takes a bundle folder or a run id, got {target!r} "
            f"({type(target).__name__}). Example: mj.verify('bundle') or mj.verify('r1a2b3')."
        )
    check_tolerances(rel_tol, abs_tol)
    store = store if store is not None else open_store()
    path = Path(target)
    if not (path / MANIFEST).is_file():
        if path.exists():
            raise InvalidInput(
                f"{target} is not a bundle (no {MANIFEST}). Pass a bundle folder or a run id."
            )
        run = store.get_run(str(target))
        path = store.local_dir / "bundles" / str(run["id"])
        export(run["id"], to=path, store=store)
    manifest = load_manifest(path)
    rerun = run_bundle(path, store=store, data_root_dir=data_root_dir, progress=progress)
    reproduced, rows = compare(manifest, rerun, store, rel_tol=rel_tol, abs_tol=abs_tol)
    failed = [r for r in rows if r["status"] != "ok"]
    if rerun.run_id is None:
        reproduced = False
        summary = (
            "Not reproduced: the re-run was not captured (is `%load_ext mlops_jupyter` the "
            "bundle's first cell?)."
        )
    elif not rows:
        summary = "Nothing to compare: the source run recorded no metric or dataset."
    elif reproduced:
        summary = f"Reproduced: {len(rows)} result(s) match (re-run {rerun.run_id})."
    else:
        summary = (
            f"Not reproduced: {len(failed)} of {len(rows)} result(s) differ: "
            + ", ".join(f"{r['kind']} {r['name']} {r['status']}" for r in failed)
            + f" (re-run {rerun.run_id})."
        )
    source_id = manifest.get("source", {}).get("run_id")
    if source_id and store.find_run(str(source_id)) is not None:
        store.record_verification(
            str(source_id),
            reproduced=reproduced,
            summary=summary,
            details=rows,
            rerun_id=rerun.run_id,
            bundle_path=str(path.resolve()),
        )
    table = pd.DataFrame(
        rows, columns=["kind", "name", "expected", "actual", "difference", "tolerance", "status"]
    )
    return Verification(reproduced, table, summary, path.resolve(), source_id, rerun.run_id)
