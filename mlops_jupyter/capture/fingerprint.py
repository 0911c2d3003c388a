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


def column_dtypes(obj: Any) -> tuple[Any, ...]:
    """A DataFrame's column dtypes in order; a Series' or an array's dtype alone.

    ``DataFrame.dtypes`` builds a Series (15-25 us, several times a cell for each dataset the
    cell touches); pandas' block manager lists them without one, and is used when it answers.
    """
    if getattr(obj, "ndim", 1) != 2 or not hasattr(obj, "columns"):
        dtype = getattr(obj, "dtype", None)
        return () if dtype is None else (dtype,)
    get = getattr(getattr(obj, "_mgr", None), "get_dtypes", None)
    if callable(get):
        try:
            out = tuple(get())
            if len(out) == obj.shape[1]:
                return out
        except Exception:  # another pandas: the public way below
            pass
    return tuple(obj.dtypes.tolist())


_DTYPE_NAMES: dict[tuple[type, Any], str] = {}


def dtype_name(dtype: Any) -> str:
    """``str(dtype)``, remembered: numpy's takes ~5 us, once per column of every dataset."""
    try:
        return _DTYPE_NAMES[(type(dtype), dtype)]
    except KeyError:
        pass
    except TypeError:  # an unhashable dtype
        return str(dtype)
    name = str(dtype)
    if len(_DTYPE_NAMES) < 4096:
        _DTYPE_NAMES[(type(dtype), dtype)] = name
    return name


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


# Below this many bytes a fingerprint is computed at once (microseconds); above, later.
EAGER_BYTES = 1 << 20


class LazyFingerprint:
    """A fingerprint computed later, off the cell's critical path (on the store's writer
    thread), of the data as it was when the cell ended.

    A DataFrame or Series is kept as a copy-on-write shallow copy, which later edits of the
    original cannot reach. An array cannot be copied for free: it is hashed where it lives,
    with a guard (a hash of 4,096 evenly spaced elements taken now) checked after hashing; if
    the array changed in between, :meth:`resolve` gives ``None`` and that version is not
    recorded rather than recorded wrong (the next cell that touches the array records it).
    """

    __slots__ = ("_guard", "_lock", "_obj", "_value")

    def __init__(self, obj: Any, guard: str | None = None) -> None:
        import threading

        self._obj: Any = obj
        self._guard = guard
        self._value: str | None = None
        self._lock = threading.Lock()

    def resolve(self) -> str | None:
        with self._lock:
            obj = self._obj
            if obj is None:
                return self._value
            value = fingerprint(obj)
            if self._guard is not None and _sample_token(obj) != self._guard:
                value = None
            self._value, self._obj = value, None
            return value

    def __repr__(self) -> str:
        return f"<LazyFingerprint {self._value or 'pending'}>"


def resolve(value: Any) -> Any:
    """A fingerprint's text, computing a :class:`LazyFingerprint` if it is one."""
    return value.resolve() if isinstance(value, LazyFingerprint) else value


def fingerprint_soon(obj: Any) -> str | LazyFingerprint | None:
    """:func:`fingerprint` now for small data, a :class:`LazyFingerprint` for large data."""
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    if np is not None and isinstance(obj, np.ndarray):
        if obj.nbytes < EAGER_BYTES or obj.dtype.kind not in "biufcmM":
            return fingerprint(obj)
        return LazyFingerprint(obj, _sample_token(obj))
    if pd is not None and isinstance(obj, (pd.DataFrame, pd.Series)):
        cells = obj.shape[0] * (obj.shape[1] if obj.ndim == 2 else 1)
        if copy_on_write(pd) and cells * 8 >= EAGER_BYTES:
            return LazyFingerprint(obj.copy(deep=False))
        return fingerprint(obj)
    return fingerprint(obj)


def _sample_token(arr: Any) -> str:
    """A hash of 4,096 evenly spaced rows (every column of them): a cheap change detector."""
    np = sys.modules["numpy"]
    rows = arr.shape[0]
    idx = np.linspace(0, rows - 1, min(4096, rows)).astype(np.int64)
    h = xxhash.xxh3_64()
    h.update(np.ascontiguousarray(arr[idx]).view(np.uint8).data)
    h.update(str(arr.shape).encode())
    return h.hexdigest()


def copy_on_write(pd: Any) -> bool:
    """pandas copies on write (3.x, or the 2.x option): a shallow copy is a snapshot."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    try:
        return bool(pd.options.mode.copy_on_write is True)
    except AttributeError:
        return False


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
    timing = [c for c in obj.columns if isinstance(c, str) and is_timing(c)]
    return fingerprint(obj.drop(columns=timing)) if timing else None
