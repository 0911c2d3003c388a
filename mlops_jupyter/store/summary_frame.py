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
FRAME_FORMAT = 2
# stored as their bytes; pandas' Arrow-backed text as an Arrow IPC stream (decoding 50,000
# runs' text columns from JSON lists took 0.1 s); the rest as a JSON list
_NUMERIC = ("float64", "int64", "bool")


def frame_from_rows(rows: list[Any]) -> Any:
    """The runs table of ``rows`` (in their order): run columns, ``params.*`` (sorted), then
    latest ``metrics.*`` (sorted, float64)."""
    import pandas as pd

    n = len(RUN_FIELDS)
    data: dict[str, Any] = {name: [row[i] for row in rows] for i, name in enumerate(RUN_COLUMNS)}
    for prefix, at in (("params.", n), ("metrics.", n + 1)):
        texts = [row[at] or "{}" for row in rows]
        columns = _arrow_columns(texts, prefix) if len(texts) >= ARROW_MIN_RUNS else None
        if columns is None:
            columns = _json_columns(texts, prefix)
        data.update((prefix + key, columns[key]) for key in sorted(columns))
    frame = pd.DataFrame(data)
    for column in frame.columns:  # (setting a column splits pandas' blocks: only if needed)
        if column.startswith("metrics.") and str(frame[column].dtype) != "float64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def _json_columns(texts: list[str], prefix: str) -> dict[str, Any]:
    """``key -> values`` of the summaries' JSON objects (a run lacking a key: None)."""
    # One json.loads over all runs: parsing is C speed, the per-call overhead is not.
    dicts = json.loads("[" + ",".join(texts) + "]")
    keys: set[str] = set()
    for d in dicts:
        keys.update(d)
    out = {}
    for key in keys:
        values = [d.get(key) for d in dicts]
        out[key] = typed(values) if prefix == "params." else values
    return out


# From this many runs the summaries are parsed by Arrow's JSON reader, straight into columns:
# at 50,000 runs x 30 keys the Python path spent ~1 s making, looking up and converting 1.5M
# values one by one. It gives exactly what _json_columns gives (same values, same dtypes once
# in the frame), or None when it cannot, and then _json_columns does it.
ARROW_MIN_RUNS = 1_000
_SIMPLE = ("null", "bool", "int64", "double", "string")
_DIGITS = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # digits to "0", rest " "
_DIGITS_19 = b"0" * 19  # (a regular expression took 0.19 s on 50,000 summaries)


def _arrow_columns(texts: list[str], prefix: str) -> dict[str, Any] | None:
    import io

    import pandas as pd
    import pyarrow as pa
    import pyarrow.json as pj

    blob = "\n".join(texts).encode()
    if _DIGITS_19 in blob.translate(_DIGITS):  # an integer Arrow would turn into a float
        return None
    try:
        table = pj.read_json(io.BytesIO(blob))
        dated = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
        if dated:  # Arrow reads ISO dates as timestamps: they stay the text they were
            schema = pa.schema([(name, pa.string()) for name in dated])
            options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
            table = pj.read_json(io.BytesIO(blob), parse_options=options)
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(texts) or len(set(table.column_names)) != table.num_columns:
        return None
    out: dict[str, Any] = {}
    for name, column in zip(table.column_names, table.columns):
        kind = str(column.type)
        if kind not in _SIMPLE:  # lists, objects: as json.loads gives them
            return None
        if prefix == "metrics." and kind == "string":
            return None  # (metric values are numbers: to_numeric makes them NaN)
        if prefix == "metrics." or kind == "double":
            out[name] = column.to_numpy().astype("float64")
        elif kind == "int64" and column.null_count:
            out[name] = column.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get).array
        elif kind in ("int64", "bool") and not column.null_count:
            out[name] = column.to_numpy()
        elif kind == "string":
            out[name] = column.to_pandas()  # the dtype pandas infers for a list of text
        else:  # bools with gaps, nothing at all: Python objects, as from a list
            out[name] = column.to_pylist()
    return out


def merge(base: Any, delta: Any) -> Any:
    """``base`` with the runs of ``delta`` replaced or added, newest first (ties by id, as the
    query orders them), columns in the order :func:`frame_from_rows` gives and of the dtypes it
    gives: a column that one side lacks or holds with another dtype is built again from its
    values the way a fresh read builds it."""
    import numpy as np
    import pandas as pd

    if not len(delta):
        return base
    drop = base["run_id"].isin(set(delta["run_id"])).to_numpy()
    n_drop = int(drop.sum())
    if not n_drop:  # (selecting 50,000 rows of Arrow-backed text: a copy of the whole table)
        kept = base
    elif drop[:n_drop].all():  # the newest runs were updated: the rest is a slice
        kept = base.iloc[n_drop:]
    else:
        kept = base[~drop]
    by = ["started_at", "run_id"]
    delta = delta.sort_values(by, ascending=False, kind="stable", ignore_index=True)
    if not len(kept):  # every run re-read: what a fresh read gives (a concat with no rows
        return delta  # that lack a column made its integers floats)
    out = pd.concat([delta, kept], ignore_index=True, sort=False)
    stacked = _all_newer(delta, kept)  # a new run, or the newest one updated: no sort
    if not stacked:
        out = out.sort_values(by, ascending=False, kind="stable", ignore_index=True)
    params = sorted(c for c in out.columns if c.startswith("params."))
    metrics = sorted(c for c in out.columns if c.startswith("metrics."))
    columns = RUN_COLUMNS + params + metrics
    if list(out.columns) != columns:
        out = out[columns]
    sides = [f for f in (delta, kept) if len(f)]
    rebuilt: dict[str, Any] = {}
    order: list[Any] = []  # the run ids of ``out``, when a lookup needs them
    positions: dict[int, Any] = {}
    if stacked:  # where each row of ``out`` is in each side, without looking the ids up
        nd, nk = len(delta), len(kept)
        positions[id(delta)] = np.r_[np.arange(nd), np.full(nk, -1)]
        positions[id(kept)] = np.r_[np.full(nd, -1), np.arange(nk)]
    for column in RUN_COLUMNS + params:
        dtypes = {str(f[column].dtype) if column in f.columns else None for f in sides}
        if len(dtypes) < 2:
            continue
        present = [f for f in sides if column in f.columns]
        if len(present) == 1:  # one side lacks it: the other's values, missing for the rest
            side = present[0]
            if id(side) not in positions:  # where each run of ``out`` is in that side
                order = order or out["run_id"].tolist()
                positions[id(side)] = pd.Index(side["run_id"]).get_indexer(order)
            widened = _widened(side, column, positions[id(side)])
            if widened is not None:
                out[column] = pd.Series(widened, index=out.index)
                continue
        by_run: dict[Any, Any] = {}
        for f in sides:  # each side's own values (a concat made 4.0 of int 4)
            if column in f.columns:
                by_run.update(zip(f["run_id"].tolist(), f[column].tolist()))
        order = order or out["run_id"].tolist()
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


def _all_newer(delta: Any, kept: Any) -> bool:
    """Whether every run of ``delta`` (sorted newest first) sorts before every run of ``kept``
    (the table, already in that order), so that putting them first is the table's order: at
    50,000 runs sorting it again took 0.08 s of a look after one more run."""
    if not len(kept):
        return True
    last = (delta["started_at"].iloc[-1], delta["run_id"].iloc[-1])
    first = (kept["started_at"].iloc[0], kept["run_id"].iloc[0])
    if not all(isinstance(v, str) for v in (*last, *first)):
        return False  # a missing start time sorts last: let the sort place it
    return last > first


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
    if (
        present
        and len(present) < len(values)
        and all(type(v) is int and -(2**63) <= v < 2**63 for v in present)
    ):
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
        elif _arrow_text(column):
            data, dtype = _ipc_bytes(column), "arrow"
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
        elif dtype == "arrow":
            columns[name] = _from_ipc(chunk)
        else:
            from_lists[name] = json.loads(chunk)
    rows = pd.RangeIndex(head["rows"])
    built = pd.DataFrame(from_lists, index=rows)  # lists: inferred as a fresh read infers them
    return pd.DataFrame(
        {name: built[name] if name in from_lists else columns[name] for name, _, _ in
         head["columns"]},
        index=rows,
    )  # fmt: skip


def _arrow_text(column: Any) -> bool:
    """pandas 3's default ``str`` dtype (Arrow-backed, NaN for missing): what a fresh read
    gives text columns, and what an Arrow string column turns back into."""
    import pandas as pd

    dtype = column.dtype
    return (
        isinstance(dtype, pd.StringDtype)
        and dtype.storage == "pyarrow"
        and dtype.na_value is not pd.NA
    )


def _ipc_bytes(column: Any) -> bytes:
    import pyarrow as pa

    table = pa.table({"v": pa.array(column.array)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _from_ipc(chunk: bytes) -> Any:
    import pyarrow as pa

    with pa.ipc.open_stream(chunk) as reader:
        return reader.read_all().column(0).to_pandas().array  # the dtype a fresh read gives


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
