"""Retraining on a batch: the model's bundle re-run headlessly on a data root holding the batch,
the model it fitted registered as a new version with lineage to the batch.

1. The bundle's input that gets the batch is the policy's ``retrain.input``, else its only
   input file. Its folder (the data root) is copied to ``<bundle>/retrains/<stamp>-<batch>/``;
   there the input is replaced by the batch's training rows (``substitute``) or extended with
   them (``append``), in the input's own format and columns.
2. The training rows are the labelled batch minus a holdout (``retrain.holdout``, chosen by a
   generator seeded from the batch fingerprint): the gates compare champion and challenger on
   the held-out rows, which the challenger never saw.
3. :func:`~mlops_jupyter.export.run_bundle` runs it (inputs are not checked against the manifest:
   the data is new on purpose); the run is a ``headless`` child of the bundle's source run.
4. The model the run fitted (same variable name as the holder's, else the same class, the last
   one) is loaded from its skops file through the registry's allow-list and registered with
   ``eval_data`` = the holdout and ``train_data`` = the rows it was trained on.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ExportError, InvalidInput
from .batch import Batch

RETRAINS_DIR = "retrains"


@dataclass(frozen=True)
class Retrained:
    version: int
    run_id: str
    data_root: Path
    n_train: int
    n_holdout: int
    rule: str  # substitute | append


def _choose_input(manifest: dict[str, Any], wanted: str | None, bundle: Path) -> str:
    inputs = [str(i["path"]) for i in manifest.get("inputs", [])]
    if wanted:
        for path in inputs:
            if path == wanted or Path(path).name == wanted:
                return path
        raise InvalidInput(
            f"The bundle {bundle} has no input {wanted!r} (its inputs: "
            f"{', '.join(inputs) or 'none'}). Fix retrain.input in the policy."
        )
    if len(inputs) != 1:
        raise InvalidInput(
            f"The bundle {bundle} has {len(inputs)} input files "
            f"({', '.join(inputs) or 'none'}); say which one gets the batch with retrain.input "
            "in the policy."
            if inputs
            else f"The bundle {bundle} reads no input file, so new data cannot be fed to it. "
            "Export a notebook that reads its training data from a csv or parquet file."
        )
    return inputs[0]


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif path.suffix.lower() == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    else:
        frame.to_csv(path, index=False)


def prepare_data(
    bundle: Path, batch: Batch, holdout: Any, rule: str, wanted: str | None
) -> tuple[Path, pd.DataFrame, Path]:
    """The retrain data root (a copy with the batch in the input), the training table and the
    input file written."""
    from ..analysis.datadiff import read_table
    from ..export.bundle import load_manifest
    from ..export.execute import data_root

    manifest = load_manifest(bundle)
    name = _choose_input(manifest, wanted, bundle)
    root = data_root(bundle, manifest)
    source = root / name
    if not source.is_file():
        raise ExportError(
            f"The bundle's input {name} is missing from {root}. Restore it, or re-export the "
            "bundle."
        )
    original = read_table(source)
    missing = [c for c in original.columns if c not in batch.frame.columns]
    if missing:
        raise InvalidInput(
            f"The batch {batch.name} lacks the columns {', '.join(map(str, missing[:8]))} of the "
            f"bundle's input {name}, so it cannot be trained on. Send batches with the training "
            "data's columns (labels included)."
        )
    rows = batch.frame.loc[~holdout, list(original.columns)]
    table = rows if rule == "substitute" else pd.concat([original, rows], ignore_index=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = bundle / RETRAINS_DIR / f"{stamp}-{batch.fingerprint[:12]}"
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(RETRAINS_DIR, ".mlops"))
    _write_table(table.reset_index(drop=True), target / name)
    return target, table, target / name


def same_class(row: dict[str, Any], class_name: str) -> bool:
    """Capture keeps a model's qualified class (``sklearn...LogisticRegression``), the registry
    its bare name."""
    return str(row["class_name"]).rpartition(".")[2] == class_name.rpartition(".")[2]


def captured_models(st: Any, version: dict[str, Any]) -> list[dict[str, Any]]:
    """The models capture recorded in ``version``'s run with the version's class (a model
    loaded back from its file may not keep capture's fingerprint, so this goes by the run)."""
    if not version.get("run_id"):
        return []
    return [r for r in st.list_models(version["run_id"]) if same_class(r, version["class_name"])]


def _fitted_model(st: Any, run_id: str, holder: dict[str, Any]) -> dict[str, Any]:
    """The model row the retrain run fitted that replaces ``holder`` (waits for its file)."""
    names = {r["name"] for r in captured_models(st, holder) if r.get("name")}
    deadline = time.monotonic() + 10.0
    while True:
        rows = [r for r in st.list_models(run_id) if same_class(r, holder["class_name"])]
        picks = [r for r in rows if r.get("name") in names] or rows
        if picks and picks[-1]["artifact_hash"]:
            return dict(picks[-1])
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    raise ExportError(
        f"The retrain run {run_id} fitted no new {holder['class_name']} with a stored model "
        "file (a model identical to one already recorded is not recorded again). Check that "
        "the bundle's notebook fits its model on the input file the batch went into."
    )


def load_fitted(st: Any, run_id: str, holder: dict[str, Any]) -> Any:
    """The model ``run_id`` fitted in place of ``holder``, loaded through the allow-list."""
    from ..registry.files import load_bytes

    row = _fitted_model(st, run_id, holder)
    return load_bytes(
        st.read_artifact(row["artifact_hash"]),
        "skops",
        what=f"the model fitted by run {run_id}",
        trusted=None,
        allow_pickle=False,
        hint="register it by hand with mj.register_model",
    )


def retrain(
    st: Any,
    *,
    name: str,
    holder: dict[str, Any],
    batch: Batch,
    holdout: Any,
    policy: dict[str, Any],
    bundle: Path,
    who: str,
    progress: bool = False,
) -> Retrained:
    """Run the bundle on the batch and register what it fitted (see the module docstring)."""
    from ..export.execute import run_bundle
    from ..export.inputs import file_hash
    from ..registry.versions import register_model

    rule = policy["retrain"]["data"]
    root, table, written = prepare_data(bundle, batch, holdout, rule, policy["retrain"]["input"])
    digest = file_hash(written)
    run = run_bundle(
        bundle, store=st, data_root_dir=str(root), progress=progress, verify_inputs=False
    )
    if not written.is_file() or file_hash(written) != digest:
        raise ExportError(
            f"The bundle's notebook rewrote its own input {written.name} while it ran (a kept "
            "cell writes that file), so it did not train on the batch. Mark that cell "
            "`# mlops: skip` (or move it out of the notebook) and export the bundle again."
        )
    if not run.run_id:
        raise ExportError(
            f"The retrain of {bundle} recorded no run, so its model cannot be found. Check that "
            "the bundle's first cell is %load_ext mlops_jupyter."
        )
    model = load_fitted(st, run.run_id, holder)
    features = list(batch.features)
    train_X = table[features] if all(c in table.columns for c in features) else None
    registered = register_model(
        model,
        name,
        eval_data=(batch.X[holdout].reset_index(drop=True), batch.y[holdout]),  # type: ignore[index]
        train_data=train_X,
        run=run.run_id,
        store=st,
        by=who,
    )
    version = int(registered["version"])
    st.add_monitor_edge(batch.fingerprint, f"{name}@{version}", "retrained")
    return Retrained(
        version=version,
        run_id=run.run_id,
        data_root=root,
        n_train=len(table),
        n_holdout=int(holdout.sum()),
        rule=rule,
    )
