"""Run a bundle headlessly: check inputs, inject params, execute with nbclient, find the run.

Each execution is a fresh kernel whose working directory is the bundle's data root. The kernel
is told (through the environment) to record into the same store, as a ``headless`` run in the
source run's experiment, child of the source run. Sweeps fan combinations of params out through
an executor (:mod:`.executors`): local processes, or any ``concurrent.futures`` executor such as
Dask's.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ExportError, InputChanged, InvalidInput
from .bundle import NOTEBOOK, RUNS_DIR, load_manifest, read_notebook, require_path
from .executors import as_executor
from .inputs import DATA_DIR, file_hash
from .parameterize import inject_parameters

RUN_ID_MARK = "MLOPS_JUPYTER_RUN_ID="
_REEXPORT = "Re-export the bundle with `mlops-jupyter export RUN_ID --to DIR`."
# Never captured ("# mlops: skip"): waits for the model files (a kernel shut down under load
# could be killed before its background thread wrote them), ends the headless run and tells us
# its id.
_REPORT_CELL = f"""# mlops: skip
import json as _mj_json
try:
    from mlops_jupyter.capture import artifacts as _mj_artifacts
    _mj_artifacts.flush(timeout=120)  # model files before the kernel is asked to shut down
    from mlops_jupyter.capture.session import get_session as _mj_session
    _mj_s = _mj_session()
    _mj_rid = _mj_s.run_id
    _mj_s.end_run()
except Exception:
    _mj_rid = None
print({RUN_ID_MARK!r} + _mj_json.dumps(_mj_rid))"""


@dataclass(frozen=True)
class BundleRun:
    """One headless execution of a bundle."""

    bundle: Path
    run_id: str | None  # the captured run (None when capture did not record one)
    params: dict[str, Any]
    notebook: Path | None  # the executed notebook
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# -- inputs ------------------------------------------------------------------------------------


def data_root(bundle: Path, manifest: Mapping[str, Any], override: str | None = None) -> Path:
    if override:
        return Path(override).resolve()
    root = Path(str(manifest.get("data_root") or DATA_DIR))
    return (root if root.is_absolute() else bundle / root).resolve()


def check_inputs(bundle: Path, manifest: Mapping[str, Any], root: Path) -> None:
    """Raise :class:`InputChanged` when an input file is missing or its hash differs."""
    problems = []
    for item in manifest.get("inputs", []):
        path = Path(item["path"])
        path = path if path.is_absolute() else root / path
        if not path.is_file():
            problems.append(f"{item['path']} is missing (looked in {root})")
        elif file_hash(path) != item["hash"]:
            problems.append(
                f"{item['path']} changed (hash {file_hash(path)[:12]}…, expected "
                f"{item['hash'][:12]}…)"
            )
    if problems:
        raise InputChanged(
            f"The bundle's input data changed: {'; '.join(problems)}. Restore the files the "
            f"run used, or re-export the bundle from a run on the new data."
        )


# -- one run -----------------------------------------------------------------------------------


def run_bundle(
    bundle: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    store: Any = None,
    data_root_dir: str | None = None,
    progress: bool = True,
    timeout: int = 600,
    verify_inputs: bool = True,
) -> BundleRun:
    """Execute a bundle in a fresh kernel (``params`` override its parameters cell).

    Raises :class:`InputChanged` before starting a kernel when an input file changed, and
    :class:`ExportError` naming the failing cell when a cell raises. ``verify_inputs=False``
    runs on new data on purpose (a retrain on a data root holding a new batch, #17).
    """
    import nbformat

    from ..store import open_store

    require_path(bundle, "bundle", "mj.run_bundle('bundle', params={'lr': 0.1})")
    check_params(params, "mj.run_bundle('bundle', params={'lr': 0.1})")
    bundle = Path(bundle).resolve()
    manifest = load_manifest(bundle)
    store = store if store is not None else open_store()
    root = data_root(bundle, manifest, data_root_dir)
    if verify_inputs:
        check_inputs(bundle, manifest, root)
    out_dir = bundle / RUNS_DIR
    try:  # before any kernel starts: a read-only bundle fails here, not after the run
        root.mkdir(parents=True, exist_ok=True)
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"Cannot write into the bundle {bundle}: {exc.strerror or exc}. Make it writable, "
            "or copy the bundle somewhere writable and run it there."
        ) from None
    nb = read_notebook(bundle / NOTEBOOK, _REEXPORT)
    inject_parameters(nb, dict(params or {}))
    nb.cells.append(nbformat.v4.new_code_cell(_REPORT_CELL))

    source = manifest.get("source", {})
    env = dict(os.environ)
    env.update(
        {
            "MLOPS_JUPYTER_STORE": store.location,
            "MLOPS_JUPYTER_SOURCE": "headless",
            "JPY_SESSION_NAME": str(bundle / NOTEBOOK),
        }
    )
    env.pop("MLOPS_JUPYTER_PARENT_RUN", None)
    if source.get("run_id") and store.find_run(str(source["run_id"])) is not None:
        env["MLOPS_JUPYTER_PARENT_RUN"] = str(source["run_id"])
    if source.get("experiment"):
        env["MLOPS_JUPYTER_EXPERIMENT"] = str(source["experiment"])

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    error = None
    try:
        _execute(nb, root, env, timeout=timeout, progress=progress)
    except _CellFailed as failed:
        error = str(failed)
    run_id = _reported_run_id(nb)
    nb.cells.pop()  # the report cell is ours, not the user's
    executed = out_dir / f"{run_id or stamp}.ipynb"
    nbformat.write(nb, executed)
    if error is not None:
        raise ExportError(f"{error}. The executed notebook is {executed}.")
    metrics = store.latest_metrics(run_id) if run_id else {}
    return BundleRun(bundle, run_id, dict(params or {}), executed, metrics)


def check_params(params: Any, example: str) -> None:
    if params is not None and not isinstance(params, Mapping):
        raise InvalidInput(
            f"params must be a dict of param name -> value, got {params!r} "
            f"({type(params).__name__}). Example: {example}."
        )


class _CellFailed(Exception):
    pass


def _execute(nb: Any, cwd: Path, env: dict[str, str], *, timeout: int, progress: bool) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from tqdm.auto import tqdm

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        allow_errors=False,
        extra_arguments=QUIET_KERNEL,
    )
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    # the last cell is our report cell: not counted in the bar
    bar = tqdm(total=len(code_cells) - 1, desc="run.ipynb", unit="cell", disable=not progress)
    try:
        client.reset_execution_trackers()
        with client.setup_kernel(env=env):
            assert client.kc is not None
            send_cell_ids(client)
            info = client.wait_for_reply(client.kc.kernel_info())
            if info is not None:
                nb.metadata["language_info"] = info["content"]["language_info"]
            for n, index in enumerate(code_cells):
                bar.set_postfix_str(f"cell {index + 1}")
                try:
                    client.execute_cell(nb.cells[index], index, execution_count=n + 1)
                except CellExecutionError as exc:
                    ename = getattr(exc, "ename", type(exc).__name__)
                    evalue = str(getattr(exc, "evalue", "")).strip().splitlines()
                    raise _CellFailed(
                        f"Cell {index + 1} of run.ipynb failed: {ename}: "
                        f"{evalue[0] if evalue else ''}"
                    ) from None
                if index != code_cells[-1]:
                    bar.update(1)
    finally:
        bar.close()


# The kernel's own warnings (e.g. "running over TCP without encryption" on a local kernel) are
# not ours to show: they break the progress bar and say nothing the user can act on.
QUIET_KERNEL = ["--IPKernelApp.log_level=ERROR"]


def send_cell_ids(client: Any) -> None:
    """Make an nbclient client send each cell's id (``metadata.cellId``, as JupyterLab does).

    nbclient leaves it out, and capture needs it to tell cells apart. Call after the kernel
    client exists (inside ``client.setup_kernel()``).
    """
    current: dict[str, Any] = {}
    kc = client.kc

    def on_cell_execute(cell: Any, cell_index: int) -> None:
        current["id"] = cell.get("id")

    def execute(code: str, *, store_history: bool = True, stop_on_error: bool = True) -> str:
        content = {
            "code": code,
            "silent": False,
            "store_history": store_history,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": stop_on_error,
        }
        msg = kc.session.msg("execute_request", content, metadata={"cellId": current.get("id")})
        kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    client.on_cell_execute = on_cell_execute
    kc.execute = execute


def _reported_run_id(nb: Any) -> str | None:
    for output in nb.cells[-1].get("outputs", []):
        for line in str(output.get("text", "")).splitlines():
            if line.startswith(RUN_ID_MARK):
                value = json.loads(line[len(RUN_ID_MARK) :])
                return str(value) if value else None
    return None


# -- sweeps ------------------------------------------------------------------------------------


def grid_combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


@dataclass(frozen=True)
class Sweep:
    runs: tuple[BundleRun, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    def to_frame(self) -> Any:
        import pandas as pd

        rows = []
        for r in self.runs:
            row: dict[str, Any] = {
                "run_id": r.run_id,
                **{f"params.{k}": v for k, v in r.params.items()},
            }
            row.update({f"metrics.{k}": v for k, v in r.metrics.items()})
            row["error"] = r.error
            rows.append(row)
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return str(self.to_frame().to_html(index=False, na_rep=""))


def _sweep_job(job: tuple[str, dict[str, Any], str, str | None]) -> BundleRun:
    bundle, params, store_path, root = job
    from ..store import open_store

    return run_bundle(
        bundle, params, store=open_store(store_path), data_root_dir=root, progress=False
    )


def sweep(
    bundle: str | os.PathLike[str],
    grid: Mapping[str, Sequence[Any]],
    *,
    params: Mapping[str, Any] | None = None,
    jobs: int = 1,
    store: Any = None,
    executor: Any = None,
    data_root_dir: str | None = None,
    on_done: Callable[[BundleRun], None] | None = None,
) -> Sweep:
    """Run the bundle once per combination of ``grid`` (each a captured run, a child of the
    bundle's source run). ``executor``: any ``concurrent.futures`` executor (Dask's
    ``client.get_executor()``, a ``ProcessPoolExecutor``...) or our :class:`Executor`; by
    default ``jobs`` local processes. A combination that fails (its worker died too) is a
    failed row of the result; the others go on."""
    from ..store import open_store

    example = "sweep('bundle', {'lr': [0.01, 0.1]})"
    require_path(bundle, "bundle", example)
    check_params(params, "sweep('bundle', {'lr': [0.01, 0.1]}, params={'depth': 3})")
    if not isinstance(grid, Mapping) or any(
        isinstance(v, (str, bytes)) or not isinstance(v, Sequence) for v in grid.values()
    ):
        raise InvalidInput(
            f"grid must map each param to a list of values, got {grid!r}. Example: {example}."
        )
    store = store if store is not None else open_store()
    bundle = Path(bundle).resolve()
    manifest = load_manifest(bundle)
    check_inputs(bundle, manifest, data_root(bundle, manifest, data_root_dir))
    combos = [{**dict(params or {}), **c} for c in grid_combinations(grid)]
    if not combos:
        raise InvalidInput("The grid is empty. Pass values, e.g. --grid lr=0.01,0.1.")
    # Check every combination's keys before starting any kernel.
    for combo in combos:
        inject_parameters(read_notebook(bundle / NOTEBOOK, _REEXPORT), combo)
    runner = as_executor(executor, jobs)
    items = [(str(bundle), combo, store.location, data_root_dir) for combo in combos]
    results: list[BundleRun] = []
    for item, result in runner.map(_sweep_job, items):
        if isinstance(result, BaseException):
            result = BundleRun(bundle, None, item[1], None, {}, str(result))
        results.append(result)
        if on_done is not None:
            on_done(result)
    order = {json.dumps(c, sort_keys=True, default=str): i for i, c in enumerate(combos)}
    results.sort(key=lambda r: order.get(json.dumps(r.params, sort_keys=True, default=str), 0))
    return Sweep(tuple(results))
