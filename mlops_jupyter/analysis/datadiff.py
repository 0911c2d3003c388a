"""What changed between two datasets: schema, rows and values (``mj.diff``, ``mj.datasets``).

Inputs are DataFrames or stored dataset versions (``name@3``, ``name@latest``, ``name``, a
fingerprint prefix). Stored versions keep a profile, not rows: their rows come from a parquet
snapshot in the store's artifacts (taken when a recorded DataFrame is diffed, or with
``snapshot=True``), else from their source file while its hash still matches. The computation
itself lives in :mod:`._datadiff_core`; a diff between two stored versions is recorded in the
store with a ``dataset -diffed-> dataset`` lineage edge.
"""

from __future__ import annotations

import io
import re
import reprlib
import sys
import warnings
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import AnalysisError, InvalidInput
from ._datadiff_core import DatasetDiff, compute_diff

__all__ = ["DatasetDiff", "compute_diff", "datasets", "diff", "read_table"]

# -- public API --------------------------------------------------------------------------------


def diff(
    a: Any,
    b: Any,
    key: str | list[str] | tuple[str, ...] | None = None,
    atol: float = 0.0,
    rtol: float = 0.0,
    store: Any = None,
    *,
    snapshot: bool | None = None,
    labels: tuple[str, str] | None = None,
    summaries: bool = True,
) -> DatasetDiff:
    """What changed from ``a`` to ``b`` (DataFrames or stored versions such as ``"df@2"``).

    ``summaries=False`` leaves out the per-column summaries and distribution plots of the
    report (about 60% of the time on 1M rows) when only the rows and cells that changed matter,
    e.g. in a pipeline that checks counts.

    ``store``: the lineage store (default: the session's); ``False`` for none (no lookup, no
    snapshot, nothing recorded). ``snapshot``: write the rows of a DataFrame input into the
    store so its version can be diffed later (``None``: only for recorded versions that have no
    snapshot yet). When both sides are stored versions the diff is recorded as a lineage edge.
    """
    keys = _as_key(key)
    atol, rtol = _tolerance(atol, "atol"), _tolerance(rtol, "rtol")
    st = _open(store, needed=isinstance(a, str) or isinstance(b, str))
    frame_a, ref_a = _resolve(a, st, snapshot)
    frame_b, ref_b = _resolve(b, st, snapshot)
    label_a, label_b = labels or (_label(a, ref_a, "A"), _label(b, ref_b, "B"))
    result = compute_diff(
        frame_a,
        frame_b,
        keys,
        atol=atol,
        rtol=rtol,
        labels=(label_a, label_b),
        summaries=summaries,
    )
    result = _replace(result, a_ref=ref_a, b_ref=ref_b)
    if st is not None and ref_a and ref_b:
        _record(st, ref_a, ref_b, result)
    return result


def datasets(
    name: str | None = None, store: Any = None, tag: str | list[str] | None = None
) -> pd.DataFrame:
    """Dataset versions: name, version, shape, fingerprint, time, producing cell, snapshot,
    tags. ``tag="pii=true"`` (or a list, all must hold; ``"pii"``: the key is set) keeps the
    versions carrying those tags (#16)."""
    from ..errors import DatasetNotFound
    from .tags import matches, merged, parse_filters

    filters = parse_filters(tag)
    st = _open(store, needed=True)
    rows = st.list_dataset_versions(name)
    all_tags = st.all_dataset_tags() if hasattr(st, "all_dataset_tags") else {}
    for r in rows:
        r["tags"] = merged(all_tags, r["name"], r["version"])
    rows = [r for r in rows if matches(r["tags"], filters)]
    if name is not None and not rows:
        raise DatasetNotFound(f"No dataset named {name!r}. List datasets with `%mlops datasets`.")
    columns = [
        "name",
        "version",
        "rows",
        "cols",
        "fingerprint",
        "created_at",
        "cell",
        "code",
        "run_id",
        "source_path",
        "snapshot",
        "tags",
    ]
    records = [
        {
            "name": r["name"],
            "version": r["version"],
            "rows": r["n_rows"],
            "cols": r["n_cols"],
            "fingerprint": r["fingerprint"],
            "created_at": r["created_at"],
            "cell": None if r["execution_count"] is None else f"[{r['execution_count']}]",
            "code": _code_line(r["code"], r["name"]),
            "run_id": r["run_id"],
            "source_path": r["source_path"],
            "snapshot": r["snapshot_hash"] is not None,
            "tags": r["tags"],
        }
        for r in rows
    ]
    return pd.DataFrame.from_records(records, columns=columns)


def read_table(path: str | Path) -> pd.DataFrame:
    """A csv or parquet file as a DataFrame (by extension; ``.tsv`` is tab-separated)."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(p)
        if suffix == ".tsv":
            return pd.read_csv(p, sep="\t")
        return pd.read_csv(p)
    except (OSError, ValueError, ImportError) as exc:
        raise InvalidInput(
            f"Cannot read {p} as a table ({' '.join(str(exc).split())}). Give a csv or "
            "parquet file."
        ) from None


# -- inputs: DataFrames and stored versions ----------------------------------------------------


def _as_key(key: Any) -> tuple[str, ...]:
    """``"id"``, ``"id,date"`` or a list/tuple of column labels as a tuple; else InvalidInput."""
    if key is None:
        return ()
    if isinstance(key, str):
        return tuple(k.strip() for k in key.split(",") if k.strip())
    if isinstance(key, (list, tuple)) and all(isinstance(k, Hashable) for k in key):
        return tuple(key)
    raise InvalidInput(
        f"key must be a column name or a list of them, not {reprlib.repr(key)}. "
        "Example: key='id' or key=['id', 'date'] (key=[0] for a column labelled 0)."
    )


def _tolerance(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = -1.0
    if not out >= 0:
        raise InvalidInput(f"{name} must be a number >= 0, got {value!r}. Example: {name}=1e-6")
    return out


def _open(store: Any, *, needed: bool) -> Any:
    if store is False:
        if needed:
            raise InvalidInput(
                "Stored versions need the lineage store, but store=False was given. "
                "Pass store=None (the session's store) or an open store."
            )
        return None
    if store is None:
        from ..capture.session import get_session

        return get_session().store
    if isinstance(store, (str, Path)):
        from ..store import open_store

        return open_store(store)
    return store


def _resolve(
    obj: Any, st: Any, snapshot: bool | None
) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """A DataFrame and, when the store knows its content, its stored version row."""
    if isinstance(obj, pd.Series):
        obj = obj.to_frame()
    if isinstance(obj, pd.DataFrame):
        if st is None:
            return obj, None
        from ..capture.fingerprint import fingerprint

        fp = fingerprint(obj)
        ref = st.find_dataset_by_fingerprint(fp) if fp else None
        if fp and ref is not None and not ref.get("snapshot_hash") and snapshot is not False:
            if snapshot or not _is_pii(st, fp):  # PII rows only when asked (#16)
                ref["snapshot_hash"] = _snapshot(st, obj, fp)
        elif ref is None and snapshot:
            raise InvalidInput(
                "snapshot=True needs a recorded dataset, and this DataFrame was never captured. "
                "Assign it to a variable in a captured cell (after %load_ext mlops_jupyter) first."
            )
        return obj, ref
    if isinstance(obj, str):
        ref = st.resolve_dataset(obj)
        return _load_rows(st, ref, obj), ref
    raise InvalidInput(
        f"Cannot diff a {type(obj).__name__}. "
        "Pass DataFrames or stored versions like 'name@2', 'name@latest' or a fingerprint prefix."
    )


def _is_pii(st: Any, fp: str) -> bool:
    checker = getattr(st, "is_pii", None)
    return bool(checker(fp)) if checker is not None else False


def _snapshot(st: Any, frame: pd.DataFrame, fp: str) -> str | None:
    """Write the rows as parquet into the artifacts; warn (never fail) when that is impossible."""
    try:
        buf = io.BytesIO()
        frame.to_parquet(buf)
        digest: str = st.put_artifact(buf.getvalue(), media_type="application/vnd.apache.parquet")
    except Exception as exc:  # pyarrow refuses some types (complex: ArrowNotImplementedError)
        warnings.warn(
            f"mlops-jupyter: could not snapshot the rows of dataset {fp[:12]} ({exc}); "
            "its stored version cannot be diffed later.",
            stacklevel=3,
        )
        return None
    st.set_dataset_snapshot(fp, digest)
    return digest


def _load_rows(st: Any, ref: dict[str, Any], asked: str) -> pd.DataFrame:
    name = f"{ref['name']}@{ref['version']}"
    if ref.get("snapshot_hash"):
        return pd.read_parquet(io.BytesIO(st.read_artifact(ref["snapshot_hash"])))
    source = ref.get("source_path")
    if source and Path(source).is_file():
        from ..capture.fingerprint import file_hash

        if not ref.get("source_hash") or file_hash(source) == ref["source_hash"]:
            return read_table(source)
    raise AnalysisError(
        f"Dataset {name} ({asked!r}) has a profile but no stored rows"
        + (f", and its source file {source} changed since" if source else "")
        + ". Diff it once while it is still a DataFrame variable (mj.diff(df, other)), "
        "which snapshots its rows for later."
    )


def _label(obj: Any, ref: dict[str, Any] | None, default: str) -> str:
    if isinstance(obj, str):
        return obj
    if ref is not None and ref.get("name"):
        return f"{ref['name']}@{ref['version']}"
    return default


def _record(st: Any, ref_a: dict[str, Any], ref_b: dict[str, Any], result: DatasetDiff) -> None:
    """Store the diff and its lineage edge; the run is the session's when it uses this store."""
    run_id = None
    session_module = sys.modules.get("mlops_jupyter.capture.session")
    if session_module is not None:
        session = session_module.get_session()
        if getattr(session, "_store", None) is st:
            run_id = session.run_id
    st.record_dataset_diff(
        ref_a["fingerprint"],
        ref_b["fingerprint"],
        key=list(result.key),
        atol=result.atol,
        rtol=result.rtol,
        summary=result.summary,
        run_id=run_id,
    )


def _replace(result: DatasetDiff, **changes: Any) -> DatasetDiff:
    import dataclasses

    return dataclasses.replace(result, **changes)


def _code_line(code: str | None, name: str, width: int = 60) -> str | None:
    """The line of a cell that assigned ``name`` (else wrote or mentioned it, else the first)."""
    if not code:
        return None
    lines = [ln.strip() for ln in code.splitlines() if ln.strip()]
    if not lines:
        return None
    name_re = re.escape(name)
    assigns = [ln for ln in lines if re.match(rf"{name_re}\s*=(?!=)", ln)]
    writes = [ln for ln in lines if re.match(rf"{name_re}\b[^=]*=(?!=)", ln)]
    mentions = [ln for ln in lines if re.search(rf"(?<![\w.]){name_re}\b", ln)]
    line = (assigns or writes or mentions or lines)[0]
    return line if len(line) <= width else line[: width - 1] + "…"
