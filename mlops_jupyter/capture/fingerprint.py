"""Content fingerprints: xxh3-128 over column buffers, at memory speed.

The same data gives the same fingerprint in any session, whatever the object identity or the
memory layout (one 2-D block or many 1-D columns). What goes into the hash:

- a header: the kind (dataframe / series / ndarray), the shape, every column's name and dtype;
- the index (a ``RangeIndex`` by its start/stop/step, any other index by its values);
- each column's values: numeric, boolean and datetime columns by their raw buffer; Arrow-backed
  strings by their UTF-8 bytes and value lengths; object columns of strings by their UTF-8
  values joined with a separator; anything else through ``pandas.util.hash_array``.

Nothing here imports pandas or numpy itself: an object can only be a DataFrame if pandas is
already loaded, so the module looks at ``sys.modules``.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

import xxhash

_SEP = "\x1f"


def is_dataset(obj: Any) -> bool:
    """True for a pandas DataFrame/Series or a numpy ndarray (without importing either)."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        return True
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.ndarray)


def fingerprint(obj: Any) -> str | None:
    """32-hex xxh3-128 of a DataFrame, Series or ndarray's content; ``None`` for anything else."""
    pd = sys.modules.get("pandas")
    np = sys.modules.get("numpy")
    if np is None:
        return None
    h = xxhash.xxh3_128()
    if pd is not None and isinstance(obj, pd.DataFrame):
        _update(h, f"dataframe|{obj.shape}|")
        for name, dtype in zip(obj.columns, obj.dtypes):
            _update(h, f"{name!r}:{dtype}{_SEP}")
        _hash_index(h, obj.index, pd, np)
        for i in range(obj.shape[1]):
            _hash_values(h, obj.iloc[:, i], pd, np)
    elif pd is not None and isinstance(obj, pd.Series):
        _update(h, f"series|{obj.shape}|{obj.name!r}:{obj.dtype}|")
        _hash_index(h, obj.index, pd, np)
        _hash_values(h, obj, pd, np)
    elif isinstance(obj, np.ndarray):
        _update(h, f"ndarray|{obj.shape}|{obj.dtype.str}|")
        _hash_array(h, obj, pd, np)
    else:
        return None
    return h.hexdigest()


def file_hash(path: str, chunk: int = 1 << 22) -> str:
    """xxh3-128 of a file's bytes (streamed)."""
    h = xxhash.xxh3_128()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def model_fingerprint(estimator: Any) -> str:
    """xxh3-128 of a model's pickled state: class, hyper-parameters and fitted attributes.

    Large arrays travel out of band (pickle protocol 5) and are hashed without a copy.
    """
    h = xxhash.xxh3_128()
    buffers: list[pickle.PickleBuffer] = []
    body = pickle.dumps(estimator, protocol=5, buffer_callback=buffers.append)
    h.update(type(estimator).__qualname__.encode())
    h.update(body)
    for buf in buffers:
        h.update(buf.raw())
    return h.hexdigest()


# -- internals ---------------------------------------------------------------------------------


def _update(h: Any, text: str) -> None:
    h.update(text.encode("utf-8", "surrogatepass"))


def _hash_index(h: Any, index: Any, pd: Any, np: Any) -> None:
    if isinstance(index, pd.RangeIndex):
        _update(h, f"range:{index.start}:{index.stop}:{index.step}|")
        return
    _update(h, f"index:{index.dtype}:{index.nlevels}|")
    if index.nlevels > 1:
        for level in range(index.nlevels):
            _hash_values(h, index.get_level_values(level), pd, np)
    else:
        _hash_values(h, index, pd, np)


def _hash_values(h: Any, values: Any, pd: Any, np: Any) -> None:
    """Hash one column (Series or Index) by its buffer when there is one."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmMSV":
        _hash_array(h, values.to_numpy(), pd, np)
        return
    array = values.array
    if isinstance(dtype, pd.CategoricalDtype):
        _hash_values(h, pd.Index(dtype.categories), pd, np)
        _hash_array(h, np.asarray(array.codes), pd, np)
        return
    arrow = _arrow_chunks(array)
    if arrow is not None:
        _hash_arrow(h, arrow, np)
        return
    if isinstance(dtype, np.dtype):  # object
        _hash_array(h, values.to_numpy(), pd, np)
        return
    # Other extension arrays (nullable ints, tz-aware datetimes, intervals, ...).
    hashed = pd.util.hash_array(np.asarray(array, dtype=object))
    h.update(np.ascontiguousarray(hashed).data)


def _hash_array(h: Any, arr: Any, pd: Any, np: Any) -> None:
    if arr.dtype.kind in "biufcmMSV":
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        if arr.dtype.kind in "mM":  # datetimes and timedeltas: their int64 ticks
            arr = arr.view(np.int64)
        h.update(np.ascontiguousarray(arr).data.cast("B"))
        return
    if arr.dtype.kind == "U":
        _update(h, _SEP.join(arr.ravel().tolist()))
        return
    flat = arr.ravel()
    try:
        # Fast path: every value is a str (joining raises TypeError on anything else).
        _update(h, "s" + _SEP.join(flat.tolist()))
        return
    except TypeError:
        pass
    if pd is not None:
        try:
            hashed = pd.util.hash_array(flat, categorize=False)
            h.update(np.ascontiguousarray(hashed).data.cast("B"))
            return
        except (TypeError, ValueError):  # unhashable cells (lists, dicts)
            pass
    _update(h, "r" + _SEP.join(repr(v) for v in flat.tolist()))


def _arrow_chunks(array: Any) -> Any:
    """The pyarrow ChunkedArray behind an Arrow-backed pandas array, else ``None``."""
    pa = sys.modules.get("pyarrow")
    if pa is None or not hasattr(array, "__arrow_array__"):
        return None
    try:
        chunked = array.__arrow_array__()
    except Exception:
        return None
    if isinstance(chunked, pa.Array):
        chunked = pa.chunked_array([chunked])
    if not pa.types.is_string(chunked.type) and not pa.types.is_large_string(chunked.type):
        return None
    return chunked


def _hash_arrow(h: Any, chunked: Any, np: Any) -> None:
    """Hash Arrow strings by value lengths, UTF-8 bytes and null positions: chunking-free."""
    pa = sys.modules["pyarrow"]
    off_dtype = np.int64 if pa.types.is_large_string(chunked.type) else np.int32
    spans = []
    for chunk in chunked.chunks:  # value lengths first, for every chunk
        n = len(chunk)
        _validity, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=off_dtype)[chunk.offset : chunk.offset + n + 1]
        h.update(np.diff(offsets).astype(np.int64).data.cast("B"))
        if data_buf is not None and n:
            spans.append((data_buf, int(offsets[0]), int(offsets[-1])))
    for data_buf, lo, hi in spans:  # then the UTF-8 bytes, as one stream
        h.update(memoryview(data_buf)[lo:hi])
    start = 0
    for chunk in chunked.chunks:
        if chunk.null_count:
            nulls = np.flatnonzero(chunk.is_null().to_numpy(zero_copy_only=False)) + start
            h.update(nulls.astype(np.int64).data.cast("B"))
        start += len(chunk)
    h.update(b"|")


# Columns whose values are wall-clock timings, different on every run: ``cv_results_``'s
# mean/std fit and score times, ``cross_validate``'s fit_time / score_time.
TIMING_FIELDS = frozenset(
    {"mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time", "fit_time", "score_time"}
)


def is_timing(name: Any) -> bool:
    """``mean_fit_time``, ``cv.std_score_time``, ``fit_time``: a timing, not a result."""
    last = str(name).replace("/", ".").rsplit(".", 1)[-1]
    return last in TIMING_FIELDS


def fingerprint_without_timing(obj: Any) -> str | None:
    """The fingerprint of a DataFrame without its timing columns, or None when it has none."""
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(obj, pd.DataFrame) or obj.shape[1] > 1000:
        return None
    timing = [c for c in obj.columns if is_timing(c)]
    return fingerprint(obj.drop(columns=timing)) if timing else None
