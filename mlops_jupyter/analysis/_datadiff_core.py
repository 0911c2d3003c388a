"""The computation behind :func:`mlops_jupyter.analysis.datadiff.diff`: DataFrames in, a frozen
:class:`DatasetDiff` out. No store, no I/O.

With a key the rows are aligned on the key columns (factorised codes, or a compact integer
key's offsets; no Python loop) and compared column by column (:mod:`._datadiff_cells`): floats
with ``atol``/``rtol``, NaN equals NaN. The column summaries (:mod:`._datadiff_values`) start
on a thread before the rows are compared. Keys
that occur more than once on either side are reported in ``duplicates`` and left out of the
row matching, never collapsed. Without a key the rows are compared by whole-row content as
multisets (``pandas.util.hash_pandas_object`` per row, then counts).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, InvalidInput
from ._datadiff_cells import Rows, _differs, _plain, one_chunk
from ._datadiff_values import Matched, Summaries, _is_int, _kind

MAX_CHANGED_CELLS = 1_000_000  # cells listed in .changed; the counts are always exact
SAMPLE_ROWS = 20  # rows shown in the HTML samples


@dataclass(frozen=True)
class DatasetDiff:
    """The result of :func:`diff`: data first, rendering in :mod:`mlops_jupyter.display`.

    ``summary``: counts (rows in A and B, added, removed, changed, unchanged, duplicate keys,
    columns added/removed/renamed/dtype-changed, changed cells). ``added``/``removed``: rows
    only in B / only in A. ``changed``: one row per changed cell (key columns, ``column``,
    ``before``, ``after``). ``schema``: one row per column-level change. ``column_changes``:
    changed cells per column. ``values``: per-column summaries before and after.
    """

    a_label: str
    b_label: str
    key: tuple[str, ...]
    atol: float
    rtol: float
    summary: dict[str, Any]
    schema: pd.DataFrame
    added: pd.DataFrame
    removed: pd.DataFrame
    changed: pd.DataFrame
    column_changes: pd.Series
    values: pd.DataFrame
    duplicates: pd.DataFrame
    sample_before: pd.DataFrame = field(repr=False)
    sample_after: pd.DataFrame = field(repr=False)
    sample_mask: pd.DataFrame = field(repr=False)
    distributions: dict[str, dict[str, Any]] = field(repr=False)
    a_ref: dict[str, Any] | None = None
    b_ref: dict[str, Any] | None = None

    @property
    def identical(self) -> bool:
        s = self.summary
        return not (
            s["added"]
            or s["removed"]
            or s.get("changed")
            or len(self.schema)
            or s["rows_a"] != s["rows_b"]
        )

    def to_html(self) -> str:
        from ..display.datadiff import render_diff

        return render_diff(self)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        s = self.summary
        parts = [f"{k}={s[k]}" for k in ("rows_a", "rows_b", "added", "removed", "changed")]
        return f"<DatasetDiff {self.a_label} -> {self.b_label}: {', '.join(parts)}>"


# -- the diff itself ---------------------------------------------------------------------------


def compute_diff(
    a: pd.DataFrame,
    b: pd.DataFrame,
    key: tuple[str, ...] = (),
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    labels: tuple[str, str] = ("A", "B"),
    summaries: bool = True,
) -> DatasetDiff:
    """The diff of two DataFrames (no store involved); ``summaries=False`` leaves the
    per-column summaries and distributions empty."""
    for frame, label in ((a, labels[0]), (b, labels[1])):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(
                f"{label} is a {type(frame).__name__}, not a DataFrame. "
                "Pass DataFrames or stored versions like 'name@2'."
            )
        if frame.columns.has_duplicates:
            dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise AnalysisError(
                f"{label} has duplicate column names {dup}. Rename them before diffing."
            )
    key = tuple(key)
    a, b = _with_key_columns(a, key, labels[0]), _with_key_columns(b, key, labels[1])
    a, b = one_chunk(a), one_chunk(b)  # rows are taken from each column several times
    schema, renames = _schema_changes(a, b, key, atol, rtol)
    b = b.rename(columns=renames)
    common = [c for c in a.columns if c in b.columns]
    exact = bool(key) and atol == 0 and rtol == 0  # B's summaries can then follow from A's
    values = pd.DataFrame(columns=["column", "stat", "before", "after", "changed"])
    distributions: dict[str, dict[str, Any]] = {}
    with Summaries(a, keep=exact) if summaries else nullcontext() as pending:
        if key:
            rows = _keyed(a, b, key, [c for c in common if c not in key], atol, rtol)
        else:
            rows = _unkeyed(a, b, common)
        if pending is not None:
            matched = None
            if exact:
                ia, ib, masks = rows["matched"]
                matched = Matched.of(ia, ib, masks, len(a), len(b))
            values, distributions = pending.values(b, common, rows["column_changes"], matched)
    back = {v: k for k, v in renames.items()}  # rows of B keep B's column names
    rows["added"] = rows["added"].rename(columns=back)
    kinds = schema["change"].value_counts() if len(schema) else pd.Series(dtype=int)
    summary = {
        "rows_a": len(a),
        "rows_b": len(b),
        "added": len(rows["added"]),
        "removed": len(rows["removed"]),
        "changed": rows["n_changed"],
        "unchanged": rows["n_unchanged"],
        "changed_cells": int(rows["column_changes"].sum()) if key else None,
        "duplicate_keys": len(rows["duplicates"]) if key else None,
        "columns_added": int(kinds.get("added", 0)),
        "columns_removed": int(kinds.get("removed", 0)),
        "columns_renamed": int(kinds.get("renamed", 0)),
        "dtype_changed": int(kinds.get("dtype", 0)),
        "key": list(key),
        "atol": atol,
        "rtol": rtol,
    }
    return DatasetDiff(
        a_label=labels[0],
        b_label=labels[1],
        key=tuple(key),
        atol=atol,
        rtol=rtol,
        summary=summary,
        schema=schema,
        added=rows["added"],
        removed=rows["removed"],
        changed=rows["changed"],
        column_changes=rows["column_changes"],
        values=values,
        duplicates=rows["duplicates"],
        sample_before=rows["sample_before"],
        sample_after=rows["sample_after"],
        sample_mask=rows["sample_mask"],
        distributions=distributions,
    )


def _schema_changes(
    a: pd.DataFrame, b: pd.DataFrame, key: tuple[str, ...], atol: float, rtol: float
) -> tuple[pd.DataFrame, dict[Any, Any]]:
    """Columns added, removed, renamed (same content, other name) and dtype changes."""
    only_a = [c for c in a.columns if c not in b.columns]
    only_b = [c for c in b.columns if c not in a.columns]
    renames: dict[Any, Any] = {}
    if only_a and only_b:
        sig_a = {c: _column_signature(a[c]) for c in only_a}
        for cb in only_b:
            sig = _column_signature(b[cb])
            for ca in only_a:
                if ca not in renames.values() and sig_a[ca] == sig:
                    renames[cb] = ca
                    break
        _renames_on_rows(a, b, key, only_a, only_b, renames, atol, rtol)
    rows: list[dict[str, Any]] = []
    for c in only_a:
        if c not in renames.values():
            rows.append(
                {"column": c, "change": "removed", "before": str(a[c].dtype), "after": None}
            )
    for c in only_b:
        if c in renames:
            rows.append(
                {"column": renames[c], "change": "renamed", "before": renames[c], "after": c}
            )
        else:
            rows.append({"column": c, "change": "added", "before": None, "after": str(b[c].dtype)})
    for c in a.columns:
        if c in b.columns and a[c].dtype != b[c].dtype:
            rows.append(
                {
                    "column": c,
                    "change": "dtype",
                    "before": str(a[c].dtype),
                    "after": str(b[c].dtype),
                }
            )
    frame = pd.DataFrame(rows, columns=["column", "change", "before", "after"])
    return frame, renames


def _column_signature(s: pd.Series) -> tuple[int, int, str]:
    """Order-insensitive content signature: length, sum of row hashes, dtype kind."""
    hashed = _hash(s.to_frame())
    return len(s), int(hashed.sum(dtype=np.uint64)), _kind(s)


def _renames_on_rows(
    a: pd.DataFrame,
    b: pd.DataFrame,
    key: tuple[str, ...],
    only_a: list[Any],
    only_b: list[Any],
    renames: dict[Any, Any],
    atol: float,
    rtol: float,
) -> None:
    """A column is renamed when its values agree on every matched row.

    Rows are matched on the key, or without one on the content of the shared columns (rows
    whose shared content is unique on both sides).
    """
    left = [c for c in only_b if c not in renames]
    right = [c for c in only_a if c not in renames.values()]
    if not left or not right:
        return
    if key:
        ia, ib, _, _, _ = _align(a, b, key)
    else:
        shared = [c for c in a.columns if c in b.columns]
        if not shared:
            return
        ha = pd.DataFrame({"_row": _row_hashes(a, b, shared)})
        hb = pd.DataFrame({"_row": _row_hashes(b, a, shared)})
        ia, ib, _, _, _ = _align(ha, hb, ("_row",))
    if not len(ia):
        return
    for cb in left:
        for ca in right:
            if ca in renames.values() or _kind(a[ca]) != _kind(b[cb]):
                continue
            if not _differs(a[ca], b[cb], Rows(ia), Rows(ib), atol, rtol).any():
                renames[cb] = ca
                break


def _align(
    a: pd.DataFrame, b: pd.DataFrame, key: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Matched row positions (ia, ib), rows only in A, rows only in B, duplicated keys."""
    n_a = len(a)
    codes = _int_key_codes(a, b, key)
    by_first = codes is None  # factorised codes number the keys in order of first occurrence
    if codes is None:
        for k in key:
            sa, sb = a[k], b[k]
            both = (
                pd.concat([sa, sb], ignore_index=True)
                if sa.dtype == sb.dtype
                else pd.Series(np.concatenate([sa.to_numpy(object), sb.to_numpy(object)]))
            )
            c, uniques = pd.factorize(both, use_na_sentinel=False)
            if codes is None:
                codes = c.astype(np.int64)
            else:
                codes, _ = pd.factorize(codes * len(uniques) + c)
                codes = codes.astype(np.int64)
    assert codes is not None
    n_codes = int(codes.max()) + 1 if len(codes) else 1
    ca, cb = codes[:n_a], codes[n_a:]
    count_a = np.bincount(ca, minlength=n_codes)
    count_b = np.bincount(cb, minlength=n_codes)
    duplicates = pd.DataFrame(columns=[*key, "rows_a", "rows_b"])
    if count_a.max(initial=0) <= 1 and count_b.max(initial=0) <= 1:  # no key twice: every row
        pos_b = np.full(n_codes, -1, dtype=np.int64)  # takes part (no masks of rows to keep)
        pos_b[cb] = np.arange(len(cb))
        partner = pos_b[ca]
        hit = partner >= 0
        ia = np.flatnonzero(hit)
        return ia, partner[ia], np.flatnonzero(~hit), np.flatnonzero(count_a[cb] == 0), duplicates
    dup = (count_a > 1) | (count_b > 1)
    ok_a, ok_b = ~dup[ca], ~dup[cb]
    pos_b = np.full(n_codes, -1, dtype=np.int64)
    rows_b = np.flatnonzero(ok_b)
    pos_b[cb[rows_b]] = rows_b
    rows_a = np.flatnonzero(ok_a)
    partner = pos_b[ca[rows_a]]
    hit = partner >= 0
    ia, ib = rows_a[hit], partner[hit]
    removed = rows_a[~hit]
    added = rows_b[count_a[cb[rows_b]] == 0]
    dup_codes = np.flatnonzero(dup)
    if len(dup_codes):
        first = np.full(n_codes, -1, dtype=np.int64)
        order = np.arange(len(codes))[::-1]
        first[codes[order]] = order  # the first occurrence wins (written last)
        firsts = first[dup_codes]
        if not by_first:  # list them as factorised codes would: in order of first occurrence
            order = np.argsort(firsts, kind="stable")
            dup_codes, firsts = dup_codes[order], firsts[order]
        both_keys = pd.concat([a[list(key)], b[list(key)]], ignore_index=True)
        duplicates = both_keys.iloc[firsts].reset_index(drop=True)
        duplicates["rows_a"] = count_a[dup_codes]
        duplicates["rows_b"] = count_b[dup_codes]
    return ia, ib, removed, added, duplicates


def _int_key_codes(a: pd.DataFrame, b: pd.DataFrame, key: tuple[str, ...]) -> np.ndarray | None:
    """A single integer key in a compact range: its offsets from the smallest key are codes
    (no hashing); None otherwise."""
    if len(key) != 1:
        return None
    sa, sb = a[key[0]], b[key[0]]
    if not (_is_int(sa) and sa.dtype == sb.dtype != np.uint64) or not (len(sa) and len(sb)):
        return None
    va, vb = sa.to_numpy(), sb.to_numpy()
    low, high = min(int(va.min()), int(vb.min())), max(int(va.max()), int(vb.max()))
    if high - low >= 2 * (len(va) + len(vb)):
        return None
    codes = np.empty(len(va) + len(vb), dtype=np.int64)
    np.subtract(va, low, out=codes[: len(va)], dtype=np.int64)
    np.subtract(vb, low, out=codes[len(va) :], dtype=np.int64)
    return codes


def _keyed(
    a: pd.DataFrame,
    b: pd.DataFrame,
    key: tuple[str, ...],
    columns: list[Any],
    atol: float,
    rtol: float,
) -> dict[str, Any]:
    ia, ib, removed, added, duplicates = _align(a, b, key)
    rows_a, rows_b = Rows.of(ia, len(a)), Rows.of(ib, len(b))
    changed_any = np.zeros(len(ia), dtype=bool)
    masks: dict[Any, np.ndarray] = {}
    for c in columns:
        mask = _differs(a[c], b[c], rows_a, rows_b, atol, rtol)
        masks[c] = mask
        changed_any |= mask
    column_changes = pd.Series(
        {c: int(m.sum()) for c, m in masks.items()}, dtype="int64", name="changed_cells"
    )
    column_changes.index.name = "column"
    changed = _changed_cells(a, b, key, ia, ib, masks)
    rows = np.flatnonzero(changed_any)[:SAMPLE_ROWS]
    sample_before = a.iloc[ia[rows]].reset_index(drop=True)
    sample_after = b.iloc[ib[rows]].reset_index(drop=True)
    sample_mask = pd.DataFrame({c: m[rows] for c, m in masks.items()}, columns=list(masks))
    n_changed = int(changed_any.sum())
    return {
        "added": b.iloc[added],
        "removed": a.iloc[removed],
        "changed": changed,
        "n_changed": n_changed,
        "n_unchanged": len(ia) - n_changed,
        "column_changes": column_changes,
        "duplicates": duplicates,
        "sample_before": sample_before,
        "sample_after": sample_after,
        "sample_mask": sample_mask,
        "matched": (ia, ib, masks),
    }


def _changed_cells(
    a: pd.DataFrame,
    b: pd.DataFrame,
    key: tuple[str, ...],
    ia: np.ndarray,
    ib: np.ndarray,
    masks: dict[Any, np.ndarray],
) -> pd.DataFrame:
    """One row per changed cell: key values, column, before, after (in A's row order)."""
    rows, cols, before, after = [], [], [], []
    budget = MAX_CHANGED_CELLS
    for number, (c, mask) in enumerate(masks.items()):
        pos = np.flatnonzero(mask)[:budget]
        budget -= len(pos)
        if not len(pos):
            continue
        rows.append(pos)
        cols.append(np.full(len(pos), number))
        before.append(_cells(a[c], ia[pos]))
        after.append(_cells(b[c], ib[pos]))
        if budget <= 0:
            break
    if not rows:
        return pd.DataFrame(
            {
                **{k: pd.Series(dtype=a[k].dtype) for k in key},
                "column": [],
                "before": [],
                "after": [],
            }
        ).astype({"column": object, "before": object, "after": object})
    row, col = np.concatenate(rows), np.concatenate(cols)
    order = np.lexsort((col, row))  # by row of A, then by column
    labels = list(masks)
    out = a[list(key)].iloc[ia[row[order]]].reset_index(drop=True)
    out["column"] = pd.Series([labels[i] for i in col[order]])  # dtype inferred from the labels
    out["before"] = pd.Series(np.concatenate(before)[order], dtype=object)
    out["after"] = pd.Series(np.concatenate(after)[order], dtype=object)
    return out


def _cells(s: pd.Series, rows: np.ndarray) -> np.ndarray:
    """The values at ``rows`` as Python objects (numbers straight from numpy: no Series)."""
    if _plain(s):
        return s.to_numpy()[rows].astype(object)
    return s.iloc[rows].to_numpy(dtype=object)


def _unkeyed(a: pd.DataFrame, b: pd.DataFrame, common: list[Any]) -> dict[str, Any]:
    """Rows only in A / only in B by whole-row content on the shared columns, as multisets.

    Without a shared column no row of A is in B (and the other way round).
    """
    if common:
        ha = _row_hashes(a, b, common)
        hb = _row_hashes(b, a, common)
        only_a = _surplus(ha, hb)
        only_b = _surplus(hb, ha)
    else:
        only_a, only_b = np.arange(len(a)), np.arange(len(b))
    empty = pd.Series(dtype="int64", name="changed_cells")
    empty.index.name = "column"
    return {
        "added": b.iloc[only_b],
        "removed": a.iloc[only_a],
        "changed": pd.DataFrame(columns=["column", "before", "after"]),
        "n_changed": None,
        "n_unchanged": len(a) - len(only_a),
        "column_changes": empty,
        "duplicates": pd.DataFrame(),
        "sample_before": pd.DataFrame(),
        "sample_after": pd.DataFrame(),
        "sample_mask": pd.DataFrame(),
    }


def _row_hashes(frame: pd.DataFrame, other: pd.DataFrame, common: list[Any]) -> np.ndarray:
    cols = {}
    for c in common:
        s = frame[c]
        if s.dtype != other[c].dtype:  # compare values, not representations
            s = s.astype("float64") if _kind(s) == _kind(other[c]) == "number" else s.astype(str)
        cols[c] = s.reset_index(drop=True)
    return _hash(pd.DataFrame(cols))


def _hash(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row; unhashable cells (lists, dicts) are hashed by their repr."""
    try:
        return pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except (TypeError, ValueError):  # ValueError: tuples among other objects
        as_text = {
            c: frame[c].map(repr) if frame[c].dtype == object else frame[c] for c in frame.columns
        }
        return pd.util.hash_pandas_object(pd.DataFrame(as_text), index=False).to_numpy()


def _surplus(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Positions of the rows of ``mine`` beyond the copies ``theirs`` has of the same content."""
    if not len(mine):
        return np.zeros(0, dtype=np.int64)
    occurrence = pd.Series(mine).groupby(mine, sort=False).cumcount().to_numpy()
    counts = pd.Series(theirs).value_counts()
    have = pd.Series(mine).map(counts).fillna(0).to_numpy(dtype=np.int64)
    return np.flatnonzero(occurrence >= have)


# -- keys --------------------------------------------------------------------------------------


def _with_key_columns(frame: pd.DataFrame, key: tuple[str, ...], label: str) -> pd.DataFrame:
    """Key columns must exist; a key naming an index level is moved into the columns."""
    missing = [k for k in key if k not in frame.columns]
    if missing and all(k in (frame.index.names or []) for k in missing):
        frame = frame.reset_index(level=missing)
        missing = []
    if missing:
        raise InvalidInput(
            f"Key column(s) {missing} are not in {label}. "
            f"Choose from: {', '.join(map(str, frame.columns[:20]))}."
        )
    return frame
