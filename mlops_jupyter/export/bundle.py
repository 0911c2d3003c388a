"""Export a run into a bundle: the sliced notebook, its manifest and pinned requirements.

A bundle is a folder::

    run.ipynb          the cells the results depend on, in the order they ran; a first cell
                       loading mlops_jupyter, then a cell tagged ``parameters``
    manifest.json      params, metrics to reproduce (with tolerances), dataset fingerprints,
                       input files with hashes, environment, the source run and notebook
    requirements.txt   the packages the cells import, pinned to the versions the run used
    data/              copies of the input files (when they are small enough), which then
                       form the working directory of a re-run
    runs/              executed notebooks of later re-runs (``mlops-jupyter run``)
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..capture.fingerprint import is_timing
from ..capture.record import UNTIMED
from ..display.html import md
from ..errors import ExportError, InvalidInput, RunNotFound
from . import parameterize as pz
from .inputs import environment, existing_file, requirements, write_inputs, writing
from .repro import ReproStatus, assess, read_notebook_cells
from .slice import run_slice

FORMAT = "mlops-jupyter-bundle/1"
MANIFEST = "manifest.json"
NOTEBOOK = "run.ipynb"
REQUIREMENTS = "requirements.txt"
RUNS_DIR = "runs"
DEFAULT_REL_TOL = 1e-6
DEFAULT_ABS_TOL = 1e-9


class StaleRunWarning(UserWarning):
    """The exported run was not produced by in-order execution of the current code."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict[str, Any]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def notebook(self) -> Path:
        return self.path / NOTEBOOK

    def __repr__(self) -> str:
        return f"<Bundle {self.path} ({len(self.manifest.get('cells', []))} cells)>"

    def _repr_html_(self) -> str:
        from ..display.html import esc, fmt, panel, table

        m = self.manifest
        src = m.get("source", {})
        rows = [
            ["bundle", str(self.path)],
            ["source run", f"{src.get('run_id')} ({src.get('experiment')})"],
            ["notebook", str(src.get("notebook_path"))],
            ["cells kept", f"{len(m.get('cells', []))} of {m.get('cells_total', '?')}"],
            ["params", ", ".join(f"{k}={v!r}" for k, v in m.get("parameters", {}).items())],
            [
                "metrics",
                ", ".join(f"{k}={fmt(v['value'])}" for k, v in m.get("metrics", {}).items()),
            ],
            ["inputs", ", ".join(i["path"] for i in m.get("inputs", [])) or "-"],
            ["reproducibility", m.get("reproducibility", {}).get("status", "?")],
        ]
        body = table([{"": k, "value": v} for k, v in rows], ["", "value"])
        notes = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
        if notes:
            body += f"<ul class='mlops-warnings'>{notes}</ul>"
        return panel("Run bundle", body)


# -- public entry ------------------------------------------------------------------------------


def export(
    run: str | os.PathLike[str] | None = None,
    to: str | os.PathLike[str] = "bundle",
    all: bool = False,
    *,
    store: Any = None,
    rel_tol: float = DEFAULT_REL_TOL,
    abs_tol: float = DEFAULT_ABS_TOL,
    copy_inputs: bool | None = None,
) -> Bundle:
    """Write a reproducible bundle of ``run`` into the folder ``to``.

    ``run`` is a run id (or prefix), a path to a ``.ipynb`` (its latest run, else every code
    cell in notebook order), or ``None`` for the current run (else the newest run). ``all``
    keeps exploratory cells too. Input files are copied into the bundle when they total at
    most 50 MB (``copy_inputs`` forces either way).
    """
    from ..store import open_store

    if run is not None and not isinstance(run, (str, os.PathLike)):
        raise InvalidInput(
            f"run must be a run id or a notebook path, got {run!r} ({type(run).__name__}). "
            "Example: mj.export('r1a2b3', to='bundle')."
        )
    require_path(to, "to", "mj.export(run_id, to='bundle')")
    check_tolerances(rel_tol, abs_tol)
    store = store if store is not None else open_store()
    target = Path(to)
    with writing(target):
        _check_target(target)
    notebook_file: Path | None = None
    run_id: str | None
    if run is not None and str(run).endswith(".ipynb"):
        notebook_file = Path(run).resolve()
        if not notebook_file.is_file():
            raise InvalidInput(f"No notebook at {run}. Check the path.")
        run_id = find_notebook_run(store, notebook_file)
    else:
        run_id = resolve_run(store, None if run is None else str(run))
    if run_id is None:
        assert notebook_file is not None
        manifest, nb = _from_notebook_only(notebook_file)
        extra: list[str] = []
    else:
        manifest, nb, extra = _from_run(
            store, run_id, keep_all=all, notebook_file=notebook_file, tols=(rel_tol, abs_tol)
        )
        manifest["inputs"], manifest["data_root"], more = write_inputs(
            store, run_id, manifest, target, copy_inputs
        )
        extra += more
    manifest["warnings"] = [*manifest.get("warnings", []), *extra]
    with writing(target):
        _write(target, manifest, nb)
    for message in manifest["warnings"]:
        category = StaleRunWarning if message.startswith("The run is stale") else UserWarning
        warnings.warn(message, category, stacklevel=2)
    return Bundle(target.resolve(), manifest, tuple(manifest["warnings"]))


def load_manifest(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(bundle) / MANIFEST
    if not path.is_file():
        raise InvalidInput(
            f"{bundle} is not a bundle (no {MANIFEST}). "
            "Create one with `mlops-jupyter export RUN_ID --to DIR`."
        )
    redo = "Re-export it with `mlops-jupyter export RUN_ID --to DIR`."
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: not JSON, not UTF-8
        reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
        raise InvalidInput(
            f"{bundle} is not an mlops-jupyter bundle: its {MANIFEST} cannot be read "
            f"({reason}). {redo}"
        ) from None
    if not isinstance(manifest, dict):
        problem = f"holds a JSON {type(manifest).__name__}, not an object"
    elif manifest.get("format") != FORMAT:
        problem = f"has format {manifest.get('format')!r}, not {FORMAT!r}"
    else:
        return manifest
    raise InvalidInput(f"{bundle} is not an mlops-jupyter bundle: its {MANIFEST} {problem}. {redo}")


def read_notebook(path: Path, fix: str) -> Any:
    """``path`` read as a notebook (nbformat 4); a missing or broken file is InvalidInput."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        [(c.cell_type, str(c.source)) for c in nb.cells]  # the shape everything below uses
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}. {fix}") from None
    except Exception as exc:  # nbformat raises NotJSONError, ValidationError, TypeError ...
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InvalidInput(f"{path} is not a readable notebook ({reason}). {fix}") from None
    return nb


# -- argument checks ---------------------------------------------------------------------------


def require_path(value: Any, name: str, example: str) -> None:
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidInput(
            f"{name}= must be a folder path (str or Path), got {value!r} "
            f"({type(value).__name__}). Example: {example}."
        )


def check_tolerances(rel_tol: Any, abs_tol: Any) -> None:
    for name, value in (("rel_tol", rel_tol), ("abs_tol", abs_tol)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and not (ok and math.isfinite(value) and value >= 0):
            raise InvalidInput(
                f"{name} must be a number >= 0, got {value!r}. "
                f"Pass e.g. {name}=1e-6 (--{name.replace('_', '-')} 1e-6 on the command line)."
            )


# -- which run ---------------------------------------------------------------------------------


def resolve_run(store: Any, run: str | None) -> str:
    if run is not None:
        return str(store.get_run(run)["id"])
    current = _current_run_id()
    if current and store.find_run(current) is not None:
        return current
    latest = store.latest_run()
    if latest is None:
        raise RunNotFound(
            "The store has no run to export. Run some cells with `%load_ext mlops_jupyter` first."
        )
    return str(latest["id"])


def _current_run_id() -> str | None:
    if "mlops_jupyter.capture.session" not in sys.modules:
        return None  # capture never started in this process: no current run
    try:
        from ..capture.session import get_session

        return get_session().run_id
    except Exception:
        return None


def find_notebook_run(store: Any, notebook: Path) -> str | None:
    """The newest run recorded for this notebook file (paths compared resolved or by suffix)."""
    resolved = str(notebook.resolve())
    for row in store.runs_with_notebook():
        recorded = str(row["notebook_path"])
        if recorded == resolved or (
            not os.path.isabs(recorded)
            and resolved.endswith(os.sep + recorded.lstrip("./").replace("/", os.sep))
        ):
            return str(row["id"])
    return None


# -- building ----------------------------------------------------------------------------------


def _from_run(
    store: Any,
    run_id: str,
    *,
    keep_all: bool,
    notebook_file: Path | None,
    tols: tuple[float, float],
) -> tuple[dict[str, Any], Any, list[str]]:
    run = store.get_run(run_id)
    sliced, messages = run_slice(store, run_id, keep_all=keep_all)
    if not sliced.kept:
        raise ExportError(
            f"Run {run_id} has no captured cell to export. "
            "Run the notebook with `%load_ext mlops_jupyter` loaded, then export again."
        )
    nb_path = notebook_file or existing_file(run.get("notebook_path"))
    session = store.session_executions(run_id)
    repro: ReproStatus = assess(
        session,
        sliced.kept,
        sliced.suppliers,
        read_notebook_cells(nb_path),
        sliced.unresolved,
        in_order=run.get("source") == "headless",
    )
    if repro.status == "stale":
        messages.insert(
            0,
            "The run is stale: "
            + "; ".join(repro.reasons)
            + ". The bundle replays the code that ran; check it with `mlops-jupyter verify`.",
        )

    params = store.get_params(run_id)
    codes = [pz.strip_magics(str(e["code"])) for e in sliced.kept]
    parameters, assigners, skipped = _choose_parameters(codes, params)
    if skipped:
        messages.append(
            "Params assigned in several cells stay in the code, not in the parameters cell: "
            + ", ".join(skipped)
            + "."
        )
    cells: list[tuple[str, dict[str, Any]]] = []
    cell_meta = []
    for i, (execution, code) in enumerate(zip(sliced.kept, codes)):
        mine = {n: info for n, (idx, info) in assigners.items() if idx == i}
        code = pz.comment_out(code, mine) if mine else code
        if pz.is_blank(code):
            continue
        meta = {
            "execution_id": int(execution["id"]),
            "execution_count": execution.get("execution_count"),
            "cell_id": execution.get("cell_id"),
        }
        cells.append((code, meta))
        cell_meta.append(meta)

    nb = _notebook(run, parameters, cells)
    env = environment(store, run)
    metrics = {
        key: {"value": value, "rel_tol": tols[0], "abs_tol": tols[1]}
        for key, value in store.latest_metrics(run_id).items()
        if value is not None and not is_timing(key)  # a time is no result to reproduce
    }
    kept_ids = {int(e["id"]) for e in sliced.kept}
    datasets: dict[str, dict[str, str]] = {}
    for row in store.datasets_of_executions(sorted(kept_ids)):
        if not row["source_path"]:  # files are checked by hash, as inputs
            datasets[str(row["name"])] = _dataset_spec(store, str(row["fingerprint"]))
    manifest = {
        "format": FORMAT,
        "mlops_jupyter": __version__,
        "source": {
            "run_id": run["id"],
            "run_name": run.get("name"),
            "experiment": run.get("experiment"),
            "notebook_path": str(nb_path) if nb_path else run.get("notebook_path"),
            "store": store.display,  # never a password
        },
        "params": params,
        "parameters": parameters,
        "metrics": metrics,
        "datasets": dict(sorted(datasets.items())),
        # the models the kept cells fitted (a search's best_estimator_ too): verify compares
        # their class and params, so a re-run that selected another model is not reproduced
        "models": {
            name: {"class": m["class"], "params": m["params"]}
            for name, m in store.models_of_executions(sorted(kept_ids)).items()
        },
        "environment": env,
        "requirements": requirements(codes, env),
        "cells": cell_meta,
        "cells_total": len(session),
        "left_out": [
            {
                "execution_id": int(e["id"]),
                "execution_count": e.get("execution_count"),
                "cell_id": e.get("cell_id"),
            }
            for e in sliced.left_out
        ],
        "reproducibility": {"status": repro.status, "reasons": repro.reasons},
        "warnings": [],
    }
    return manifest, nb, messages


def _dataset_spec(store: Any, fp: str) -> dict[str, str]:
    """A dataset's fingerprint, and the one without timing columns when it has them."""
    spec = {"fingerprint": fp}
    try:
        untimed = (store.get_dataset_content(fp).get("profile") or {}).get(UNTIMED)
    except Exception:  # no content row: the fingerprint alone
        untimed = None
    if untimed:
        spec["fingerprint_without_timing"] = str(untimed)
    return spec


def _choose_parameters(
    codes: Sequence[str], params: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[int, tuple[Any, int, int]]], list[str]]:
    """Params that one kept cell assigns a literal: their values *as that code ran*.

    Returns (parameters, name -> (cell index, assignment), params left in the code).
    The run's params table keeps the last value logged, which an out-of-order session may
    have changed after the results were computed; the code that ran is the truth.
    """
    found: dict[str, list[tuple[int, tuple[Any, int, int]]]] = {}
    for i, code in enumerate(codes):
        for name, info in pz.literal_assignments(code).items():
            found.setdefault(name, []).append((i, info))
    wanted = [k for k in params if pz.is_param_name(k)] if params else list(found)
    parameters: dict[str, Any] = {}
    assigners: dict[str, tuple[int, tuple[Any, int, int]]] = {}
    skipped: list[str] = []
    for name in wanted:
        sites = found.get(name, [])
        if len(sites) == 1:
            parameters[name] = sites[0][1][0]
            assigners[name] = sites[0]
        elif len(sites) > 1:
            skipped.append(name)
    return parameters, assigners, skipped


def _notebook(
    run: Mapping[str, Any], parameters: Mapping[str, Any], cells: list[tuple[str, dict[str, Any]]]
) -> Any:
    import nbformat

    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["mlops"] = {"source_run_id": run.get("id"), "experiment": run.get("experiment")}
    header = (
        f"# Run bundle of {md(run.get('name'))} ({md(run.get('id'))})\n\n"
        "Exported by mlops-jupyter: only the cells the run's results depend on, in the order "
        "they ran. Re-run with `mlops-jupyter run .` (`-p key=value` to change a param), "
        "check the results with `mlops-jupyter verify .`."
    )
    nb.cells.append(v4.new_markdown_cell(header))
    nb.cells.append(v4.new_code_cell("%load_ext mlops_jupyter"))
    nb.cells.append(
        v4.new_code_cell(pz.parameters_source(parameters), metadata={"tags": [pz.PARAMETERS_TAG]})
    )
    for code, meta in cells:
        nb.cells.append(v4.new_code_cell(code, metadata={"mlops": meta}))
    return nb


def _from_notebook_only(path: Path) -> tuple[dict[str, Any], Any]:
    source = read_notebook(path, "Fix or re-save the notebook in Jupyter, or export a run id.")
    codes = [pz.strip_magics(str(c.source)) for c in source.cells if c.cell_type == "code"]
    codes = [c for c in codes if not pz.is_blank(c)]
    message = (
        f"No captured run of {path.name} in the store, so every code cell is exported in "
        "notebook order with no metrics to verify. Run it with `%load_ext mlops_jupyter` "
        "loaded, then export again."
    )
    run = {"id": None, "name": path.stem, "experiment": None}
    nb = _notebook(run, {}, [(c, {}) for c in codes])
    env = environment(None, {})
    manifest = {
        "format": FORMAT,
        "mlops_jupyter": __version__,
        "source": {"run_id": None, "notebook_path": str(path), "experiment": None},
        "params": {},
        "parameters": {},
        "metrics": {},
        "datasets": {},
        "inputs": [],
        "data_root": str(path.parent),
        "environment": env,
        "requirements": requirements(codes, env),
        "cells": [{} for _ in codes],
        "cells_total": len(codes),
        "left_out": [],
        "reproducibility": {"status": "unknown", "reasons": ["no captured run"]},
        "warnings": [message],
    }
    return manifest, nb


# -- writing -----------------------------------------------------------------------------------


def _check_target(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise InvalidInput(f"{target} is a file. Pass a folder to export into with --to DIR.")
    if not target.is_dir() or not any(target.iterdir()):
        return
    try:
        load_manifest(target)  # a bundle of ours: exporting again overwrites it
    except InvalidInput:
        raise InvalidInput(
            f"{target} already holds files that are not a bundle, which export would "
            f"overwrite. Export into an empty or new folder, or move {target} away first."
        ) from None


def _write(target: Path, manifest: dict[str, Any], nb: Any) -> None:
    import nbformat

    target.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, target / NOTEBOOK)
    (target / REQUIREMENTS).write_text("\n".join(manifest["requirements"]) + "\n")
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str) + "\n")
