"""The runs table as a DataFrame, built from per-run summary rows, and kept between reads.

:func:`frame_from_rows` turns rows of ``(run fields..., params JSON, metrics JSON)`` into the
table; :class:`FrameCache` keeps the last table of each experiment in the process and, on the
next read, fetches only the runs whose summary changed since (``compare_summaries.version``),
so the table of 50,000 runs is not rebuilt because one run was added. The store decides what
changed; this module only builds and merges frames, and turns one into bytes and back
(:func:`encode_frame`, :func:`decode_frame`) for the copy a store keeps for new processes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

# (SQL expression, column) of the run attributes in the runs table, as in ``runs_frame``.
RUN_FIELDS = (
    ("r.id", "run_id"),
    ("e.name", "experiment"),
    ("r.name", "run_name"),
    ("r.status", "status"),
    ("r.started_at", "started_at"),
    ("r.ended_at", "ended_at"),
    ("r.parent_run_id", "parent_run_id"),
    ("r.source", "source"),
    ("r.notebook_path", "notebook_path"),
    ("r.git_commit", "git_commit"),
    ("r.environment_id", "environment_id"),
)
RUN_COLUMNS = [name for _, name in RUN_FIELDS]
KEEP = 4  # runs tables kept per store (experiments, or all runs)
# The layout of an encoded frame: bump when the columns a fresh read gives change (RUN_FIELDS,
# the order or dtypes of frame_from_rows), so a stored copy of the old layout is not used.
FRAME_FORMAT = 1
_NUMERIC = ("float64", "int64", "bool")  # stored as their bytes; the rest as a JSON list


def frame_from_rows(rows: list[Any]) -> Any:
    """The runs table of ``rows`` (in their order): run columns, ``params.*`` (sorted), then
    latest ``metrics.*`` (sorted, float64)."""
    import pandas as pd

    n = len(RUN_FIELDS)
    data: dict[str, Any] = {name: [row[i] for row in rows] for i, name in enumerate(RUN_COLUMNS)}
    # One json.loads over all runs: parsing is C speed, the per-call overhead is not.
    params = json.loads("[" + ",".join(row[n] or "{}" for row in rows) + "]")
    metrics = json.loads("[" + ",".join(row[n + 1] or "{}" for row in rows) + "]")
    for prefix, dicts in (("params.", params), ("metrics.", metrics)):
        keys: set[str] = set()
        for d in dicts:
            keys.update(d)
        for key in sorted(keys):
            values = [d.get(key) for d in dicts]
            data[prefix + key] = typed(values) if prefix == "params." else values
    frame = pd.DataFrame(data)
    for column in frame.columns:
        if column.startswith("metrics."):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def merge(base: Any, delta: Any) -> Any:
    """``base`` with the runs of ``delta`` replaced or added, newest first (ties by id, as the
    query orders them), columns in the order :func:`frame_from_rows` gives and of the dtypes it
    gives: a column that one side lacks or holds with another dtype is built again from its
    values the way a fresh read builds it."""
    import pandas as pd

    if not len(delta):
        return base
    kept = base[~base["run_id"].isin(set(delta["run_id"]))]
    out = pd.concat([delta, kept], ignore_index=True, sort=False)
    out = out.sort_values(
        ["started_at", "run_id"], ascending=False, kind="stable", ignore_index=True
    )
    params = sorted(c for c in out.columns if c.startswith("params."))
    metrics = sorted(c for c in out.columns if c.startswith("metrics."))
    out = out[RUN_COLUMNS + params + metrics]
    sides = [f for f in (delta, kept) if len(f)]
    rebuilt: dict[str, Any] = {}
    order = out["run_id"].tolist()
    positions: dict[int, Any] = {}
    for column in RUN_COLUMNS + params:
        dtypes = {str(f[column].dtype) if column in f.columns else None for f in sides}
        if len(dtypes) < 2:
            continue
        present = [f for f in sides if column in f.columns]
        if len(present) == 1:  # one side lacks it: the other's values, missing for the rest
            side = present[0]
            if id(side) not in positions:  # where each run of ``order`` is in that side
                positions[id(side)] = pd.Index(side["run_id"]).get_indexer(order)
            widened = _widened(side, column, positions[id(side)])
            if widened is not None:
                out[column] = pd.Series(widened, index=out.index)
                continue
        by_run: dict[Any, Any] = {}
        for f in sides:  # each side's own values (a concat made 4.0 of int 4)
            if column in f.columns:
                by_run.update(zip(f["run_id"].tolist(), f[column].tolist()))
        values = [by_run.get(r) for r in order]
        values = [None if _missing(v) else v for v in values]
        rebuilt[column] = typed(values) if column.startswith("params.") else values
    if rebuilt:
        fresh = pd.DataFrame(rebuilt)  # the constructor a fresh read uses: the same dtypes
        for column in rebuilt:
            out[column] = fresh[column]
    for column in metrics:
        out[column] = out[column].astype("float64")
    return out


def _widened(frame: Any, column: str, positions: Any) -> Any:
    """``frame[column]`` at ``positions`` (-1: a run ``frame`` lacks, so missing), with the
    dtype a fresh read gives it (int params become nullable Int64); None where that needs the
    values one by one (bool and object columns: the rest of merge does it)."""
    import pandas as pd

    values = frame[column]
    if str(values.dtype) == "int64" and column.startswith("params."):
        values = values.astype("Int64")
    elif not (
        str(values.dtype) in ("float64", "Int64") or isinstance(values.dtype, pd.StringDtype)
    ):
        return None
    return values.array.take(positions, allow_fill=True)


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, (str, bytes)) and bool(pd.isna(value)))


def typed(values: list[Any]) -> Any:
    """Integer params stay integers when some runs lack them (nullable Int64, not 4.0)."""
    import pandas as pd

    present = [v for v in values if v is not None]
    if present and len(present) < len(values) and all(type(v) is int for v in present):
        return pd.array(values, dtype="Int64")
    return values


def encode_frame(frame: Any) -> bytes:
    """``frame`` as bytes: a JSON header, then each column (numeric ones as their bytes, the
    rest as a JSON list of their values). No pickle: a store's bytes never run code."""
    import numpy as np

    header: list[Any] = []
    parts: list[bytes] = []
    for name in frame.columns:
        column = frame[name]
        dtype = str(column.dtype)
        if dtype in _NUMERIC:
            data = np.ascontiguousarray(column.to_numpy()).tobytes()
        else:
            missing = column.isna().to_numpy()
            values = [None if gone else v for v, gone in zip(column.tolist(), missing)]
            data = json.dumps(values, allow_nan=True).encode()
            dtype = "Int64" if dtype == "Int64" else "json"
        header.append([name, dtype, len(data)])
        parts.append(data)
    head = json.dumps({"format": FRAME_FORMAT, "rows": len(frame), "columns": header}).encode()
    return struct.pack("<I", len(head)) + head + b"".join(parts)


def decode_frame(data: bytes) -> Any:
    """The frame :func:`encode_frame` wrote, with the dtypes a fresh read gives (JSON columns
    go through the same constructor as :func:`frame_from_rows`); None for another layout."""
    import numpy as np
    import pandas as pd

    data = bytes(data)
    (size,) = struct.unpack_from("<I", data)
    head = json.loads(data[4 : 4 + size])
    if head.get("format") != FRAME_FORMAT:
        return None
    at, columns, from_lists = 4 + size, {}, {}
    for name, dtype, length in head["columns"]:
        chunk = data[at : at + length]
        at += length
        if dtype in _NUMERIC:
            columns[name] = np.frombuffer(chunk, dtype=dtype).copy()
        elif dtype == "Int64":
            columns[name] = pd.array(json.loads(chunk), dtype="Int64")
        else:
            from_lists[name] = json.loads(chunk)
    rows = pd.RangeIndex(head["rows"])
    built = pd.DataFrame(from_lists, index=rows)  # lists: inferred as a fresh read infers them
    return pd.DataFrame(
        {name: built[name] if name in from_lists else columns[name] for name, _, _ in
         head["columns"]},
        index=rows,
    )  # fmt: skip


@dataclass
class FrameCache:
    """The last runs table of each experiment, with the summary version it was read at."""

    connection: Any = None  # the connection it was read on: a reopened store starts afresh
    frames: dict[Any, tuple[int, int, Any]] = field(default_factory=dict)
    unsaved: dict[Any, int] = field(default_factory=dict)  # runs re-read since the stored copy

    def get(self, conn: Any, key: Any) -> tuple[int, int, Any] | None:
        if conn is not self.connection:
            self.connection, self.frames, self.unsaved = conn, {}, {}
        return self.frames.get(key)

    def put(self, key: Any, version: int, resets: int, frame: Any) -> None:
        self.frames.pop(key, None)
        self.frames[key] = (version, resets, frame)
        while len(self.frames) > KEEP:  # the least recently read goes first
            del self.frames[next(iter(self.frames))]
