"""A batch of production data: read (a DataFrame, a csv/parquet file or a stored dataset), checked
against what the model needs, fingerprinted, split into features and labels.

Everything here runs before anything is written: a batch that cannot be scored (a missing
feature column, values the model cannot predict on, an empty file) is refused with one line and
leaves the store as it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DatasetNotFound, InvalidInput

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


@dataclass(frozen=True)
class Batch:
    frame: pd.DataFrame  # every column the batch came with
    name: str  # file name, dataset ref or "batch"
    fingerprint: str
    features: list[str]
    labels: str | None  # the label column, when the batch has it

    @property
    def X(self) -> pd.DataFrame:
        return self.frame[self.features]

    @property
    def y(self) -> np.ndarray | None:
        return None if self.labels is None else self.frame[self.labels].to_numpy()

    @property
    def n_rows(self) -> int:
        return len(self.frame)


def read_batch(st: Any, batch: Any, name: str | None = None) -> tuple[pd.DataFrame, str]:
    """``(rows, label)`` of a DataFrame, a csv/parquet path or a stored dataset ``NAME[@V]``."""
    if isinstance(batch, pd.DataFrame):
        return batch, name or "batch"
    if not isinstance(batch, str | os.PathLike) or not str(batch).strip():
        raise InvalidInput(
            f"A batch is a csv/parquet file, a stored dataset NAME[@VERSION] or a DataFrame, "
            f"not {type(batch).__name__}. Example: mlops-jupyter monitor --model churn "
            "--batch batch.csv."
        )
    text = str(batch).strip()
    path = Path(text)
    if path.is_file():
        from ..analysis.datadiff import read_table

        try:
            frame = read_table(path)
        except InvalidInput:
            raise
        except Exception as exc:  # pandas' parsers raise many types on a malformed file
            raise InvalidInput(
                f"Cannot read the batch {path} ({type(exc).__name__}: {exc}). "
                "Give a csv or parquet file with a header row."
            ) from None
        return frame, name or path.name
    if path.suffix.lower() in TABLE_SUFFIXES or os.sep in text:
        raise InvalidInput(f"No batch file {path}. Check the path (csv or parquet).")
    from ..analysis.datadiff import _load_rows

    try:
        ref = st.resolve_dataset(text)
    except DatasetNotFound:
        raise InvalidInput(
            f"No file or stored dataset {text!r} to use as the batch. Give a csv/parquet path "
            "or a dataset listed by `mlops-jupyter datasets`."
        ) from None
    try:
        frame = _load_rows(st, ref, text)
    except Exception as exc:
        raise InvalidInput(f"The stored dataset {text!r} has no rows to monitor ({exc}).") from None
    return frame, name or f"{ref['name']}@{ref['version']}"


def prepare_batch(
    frame: pd.DataFrame, label: str, features: list[str], labels: str | None, model: Any
) -> Batch:
    """Check ``frame`` can be scored by ``model`` on ``features``; fingerprint it."""
    if len(frame) == 0:
        raise InvalidInput(f"The batch {label} has no rows. Give a batch with data.")
    frame = (
        frame.rename(columns=str) if not all(isinstance(c, str) for c in frame.columns) else frame
    )
    missing = [c for c in features if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise InvalidInput(
            f"The batch {label} lacks the model's feature columns {shown} (it has "
            f"{', '.join(map(str, list(frame.columns)[:8]))}). Send a batch with the columns the "
            "model was trained on."
        )
    if labels is not None:
        if labels not in frame.columns:
            raise InvalidInput(
                f"The batch {label} has no label column {labels!r}. Leave out --labels for a "
                "batch without labels, or name the column that holds them."
            )
        if frame[labels].isna().any():
            n = int(frame[labels].isna().sum())
            raise InvalidInput(
                f"The label column {labels!r} of {label} has {n} missing values. Drop the rows "
                "without a label, or leave out --labels."
            )
    try:
        model.predict(frame[features].head(min(len(frame), 256)))
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InvalidInput(
            f"The model cannot score the batch {label} ({type(exc).__name__}: {detail[:200]}). "
            "Check the batch's column types against the training data."
        ) from None
    from ..capture.fingerprint import fingerprint

    fp = fingerprint(frame)
    if not fp:
        raise InvalidInput(f"Cannot fingerprint the batch {label}. Pass a plain table.")
    return Batch(frame=frame, name=label, fingerprint=fp, features=features, labels=labels)


def split_holdout(n: int, share: float, seed: str) -> np.ndarray:
    """A boolean mask of the rows held out for the gates: ``share`` of ``n``, chosen by a
    generator seeded from the batch's fingerprint (the same batch splits the same way)."""
    rng = np.random.default_rng(int(seed[:15], 16))
    mask = np.zeros(n, dtype=bool)
    k = max(1, min(n - 1, round(n * share)))
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask
