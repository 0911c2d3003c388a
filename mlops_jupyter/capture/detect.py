"""Decide what a cell's names hold: params, metrics, datasets, models. No writes here.

Everything is looked up in the user namespace by the names the syntax tree gave, so the cost
is proportional to what the cell touched, not to the size of the namespace.
"""

from __future__ import annotations

import math
import re
import sys
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._warn import warn_once
from .ast_names import CallRef, CellSyntax, is_secret
from .fingerprint import column_dtypes, file_hash, fingerprint_soon, is_dataset
from .record import is_estimator, is_fitted
from .secrets import redact_text, redact_value

_METRIC_WORDS = frozenset(
    [
        "accuracy",
        "acc",
        "auc",
        "roc",
        "rocauc",
        "f1",
        "f2",
        "fbeta",
        "precision",
        "recall",
        "rmse",
        "mse",
        "mae",
        "mape",
        "smape",
        "r2",
        "rsquared",
        "loss",
        "logloss",
        "nll",
        "error",
        "err",
        "score",
        "ap",
        "map",
        "ndcg",
        "mcc",
        "kappa",
        "brier",
        "iou",
        "dice",
        "perplexity",
        "ppl",
        "bleu",
        "rouge",
        "specificity",
        "sensitivity",
        "tpr",
        "fpr",
        "balanced",
    ]
)
_SPLIT = re.compile(r"[_\W]+|(?<=[a-z])(?=[A-Z])")
_IGNORED = frozenset({"In", "Out", "get_ipython", "exit", "quit"})
MAX_DATASETS_PER_CELL = 50


def is_metric_name(name: str) -> bool:
    """``val_loss``, ``test_accuracy``, ``rocAuc``, ``f1``: a name that clearly denotes a metric."""
    words = [w.lower() for w in _SPLIT.split(name) if w]
    if any(w in _METRIC_WORDS for w in words):
        return True
    joined = "".join(words)
    return joined in _METRIC_WORDS or joined.startswith(("roc", "auc"))


def user_names(names: set[str], ns: dict[str, Any]) -> list[str]:
    """The names that are user variables (no ``_``-prefixed IPython history names)."""
    return sorted(n for n in names if n in ns and not n.startswith("_") and n not in _IGNORED)


# Names a plot's look goes by: ``lw = 2`` then ``plt.plot(..., lw=lw)`` is styling, not a param.
_STYLING = frozenset(
    """lw linewidth linewidths alpha color colors c cmap cm marker markersize ms s size fontsize
    font_size figsize fig_size dpi linestyle ls edgecolor edgecolors facecolor title xlabel ylabel
    legend h plot_step mesh_step step_size plot_colors plot_colors_list width height bar_width
    n_cols ncols n_rows nrows grid_resolution palette style""".split()  # noqa: SIM905
)


def params_of(syntax: CellSyntax) -> dict[str, Any]:
    """Top-level literal scalar assignments that are params (not secrets, metrics or styling);
    secrets found in a value (a token, a password in a URL) are masked."""
    return {
        k: redact_value(v)
        for k, v in syntax.literals.items()
        if not k.startswith("_")
        and not is_secret(k)
        and not is_metric_name(k)
        and k not in _STYLING
    }


def scalar(value: Any) -> float | None:
    """A real number as float (numpy scalars included), else ``None``. Bools are not metrics,
    nor are integers too large for a float (``10**400``)."""
    if isinstance(value, bool):
        return None
    np = sys.modules.get("numpy")
    if isinstance(value, (int, float)) or (
        np is not None and isinstance(value, (np.integer, np.floating))
    ):
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def metrics_of(syntax: CellSyntax, ns: dict[str, Any]) -> dict[str, float]:
    """Names assigned from ``sklearn.metrics`` calls or ``.score()``, or metric-named floats."""
    out: dict[str, float] = {}
    for name in syntax.assigned:
        if name.startswith("_") or is_secret(name):
            continue
        try:
            value = _metric_value(name, syntax, ns)
        except Exception as exc:  # one odd value (10**400) must not cost the cell its record
            warn_once("read the metric", exc, repr(name))
            continue
        if value is not None:
            out[name] = value
    return out


def _metric_value(name: str, syntax: CellSyntax, ns: dict[str, Any]) -> float | None:
    raw = ns.get(name)
    value = scalar(raw)
    if value is None or math.isnan(value):
        return None
    call = syntax.assigned_calls.get(name)
    if call is not None and _is_metric_call(call, ns):
        return value
    if is_metric_name(name) and not isinstance(raw, int) and not _is_integer(raw):
        return value  # a float under a metric's name; counts like n_errors are not
    return None


def _is_integer(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.integer)


def _is_metric_call(call: CallRef, ns: dict[str, Any]) -> bool:
    if call.attrs and call.attrs[-1] == "score":
        receiver = ns.get(call.base or "")
        if len(call.attrs) == 1 and is_estimator(receiver):
            return True
    func: Any = ns.get(call.base or "")
    if func is None:
        return False
    for attr in call.attrs:
        func = getattr(func, attr, None)
    module = getattr(func, "__module__", None) or ""
    return module.startswith("sklearn.metrics")


# -- datasets --------------------------------------------------------------------------------


@dataclass
class FingerprintCache:
    """Fingerprints by object id, reused while a cheap token (shape, columns, sample) matches.

    A cell that writes or may mutate a name (assignment, subscript or attribute store, a method
    call that is not known to be read-only, ``inplace=True``) always re-hashes it; a cell that
    only reads it reuses the cached value. Limitation: a change made through another name (a
    view, or a function that mutates its argument) is seen only once the shape, columns or
    dtypes change, or the name is written.
    """

    entries: dict[int, tuple[Any, tuple[Any, ...], Any]] = field(default_factory=dict)

    def get(self, obj: Any, *, fresh: bool) -> Any:
        """The fingerprint: text, or a ``LazyFingerprint`` for large data (computed later)."""
        key = id(obj)
        token = _token(obj)
        entry = self.entries.get(key)
        if not fresh and entry is not None and entry[0]() is obj and entry[1] == token:
            return entry[2]
        fp = fingerprint_soon(obj)
        if fp is not None:
            try:
                ref = weakref.ref(obj)
            except TypeError:
                return fp
            self.entries[key] = (ref, token, fp)
            if len(self.entries) > 512:
                self._prune()
        return fp

    def _prune(self) -> None:
        for key in [k for k, (ref, _, _) in self.entries.items() if ref() is None]:
            del self.entries[key]


def _token(obj: Any) -> tuple[Any, ...]:
    shape = getattr(obj, "shape", None)
    columns = getattr(obj, "columns", None)
    cols = tuple(columns) if columns is not None and len(columns) <= 1000 else None
    # dtypes as a tuple (printing a frame's dtypes Series took 2 ms a cell)
    return (type(obj).__name__, shape, cols, column_dtypes(obj))


def dataset_candidates(
    syntax: CellSyntax,
    ns: dict[str, Any],
    *,
    is_cell_data: Any,
    is_known_data: Any,
    recorded: dict[str, Any],
    columns: dict[str, frozenset[str]],
) -> list[str]:
    """The names of the cell that hold data (see the README's capture table).

    A name the cell touches is a dataset when its object was passed as data to a fit, predict,
    transform, score, metric, cross-validation or split call in this cell (``is_cell_data``); came
    from a file reader, a loader, a generator or a split (``is_known_data``); is the very
    object already recorded under that name (read, or changed in place); or is a pandas
    object written by a cell that reads a dataset and shares a column with it (``df2 =
    df[df.a > 1]``), or written under a name data goes by (:func:`is_data_name`): a pandas
    object (``df = pd.DataFrame({...})``), or an array made by a cell that reads data
    (``y_true = y.copy()``, ``X = digits.data[idx]``). Loop variables (that the cell does not
    also assign at its top level) never are: ``for y in ...`` is not a new version of ``y``.
    """
    touched = set(syntax.reads) | set(syntax.writes)
    readers = set(syntax.file_reads) | set(syntax.file_read_vars)
    reads_data = any(
        (n in recorded and _same(recorded[n], ns.get(n))) or _holds_data(ns.get(n), is_known_data)
        for n in syntax.reads
    )
    known_cols: frozenset[str] = frozenset().union(
        *(columns.get(n, frozenset()) for n in syntax.reads if n in recorded)
    )
    out = []
    for name in user_names(touched, ns):
        if name in syntax.loop_targets and name not in syntax.assigned:
            continue
        obj = ns[name]
        if not is_dataset(obj):
            continue
        if (
            is_cell_data(obj)
            or name in readers
            or is_known_data(obj)
            or (name in recorded and _same(recorded[name], obj))
            or (reads_data and name in syntax.writes and _shares_columns(obj, known_cols))
            or (name in syntax.writes and is_data_name(name) and (_is_pandas(obj) or reads_data))
        ):
            out.append(name)
    return out


_DATA_WORDS = frozenset(
    (
        "batch",
        "clean",
        "data",
        "dataset",
        "datasets",
        "df",
        "features",
        "frame",
        "raw",
        "sample",
        "samples",
        "table",
        "target",
        "targets",
        "test",
        "train",
        "val",
        "valid",
        "x",
        "y",
    )
)
_RESULT_WORDS = frozenset(
    (
        "axis",
        "coef",
        "coefs",
        "count",
        "counts",
        "curve",
        "cv",
        "grid",
        "history",
        "idx",
        "importance",
        "importances",
        "index",
        "indices",
        "leaderboard",
        "lim",
        "limits",
        "mask",
        "mesh",
        "metric",
        "metrics",
        "n",
        "name",
        "names",
        "num",
        "order",
        "points",
        "pred",
        "prediction",
        "predictions",
        "preds",
        "proba",
        "range",
        "rank",
        "ranks",
        "ratio",
        "ratios",
        "report",
        "result",
        "results",
        "score",
        "scores",
        "shape",
        "size",
        "sizes",
        "space",
        "stats",
        "summary",
        "ticks",
        "values",
        "weight",
        "weights",
    )
)


def is_data_name(name: str) -> bool:
    """``df``, ``train_df``, ``raw_data``, ``X``: a name data goes by; ``scores_df``,
    ``cv_results`` are results (a DataFrame built in code is data only under such a name)."""
    words = {w.lower() for w in _SPLIT.split(name) if w}
    return bool(words & _DATA_WORDS) and not words & _RESULT_WORDS


def _is_pandas(obj: Any) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(obj, (pd.DataFrame, pd.Series))


def _holds_data(obj: Any, is_known_data: Any) -> bool:
    """A loader's result or a dict of data (``digits = load_digits()``), or known data itself."""
    if obj is None or isinstance(obj, (str, bytes, int, float)):
        return False
    if isinstance(obj, dict):
        return any(is_known_data(v) for v in list(obj.values())[:50])
    return bool(is_known_data(obj))


def _same(ref: Any, obj: Any) -> bool:
    return ref is not None and obj is not None and ref() is obj


def _shares_columns(obj: Any, known: frozenset[str]) -> bool:
    cols = getattr(obj, "columns", None)
    if cols is None:
        name = getattr(obj, "name", None)
        return name is not None and str(name) in known
    return bool(known) and any(str(c) in known for c in list(cols)[:1000])


def datasets_of(
    names: list[str], ns: dict[str, Any], cache: FingerprintCache, fresh: set[str]
) -> dict[str, tuple[Any, Any]]:
    """``name -> (object, fingerprint)`` for the names holding DataFrames/Series/ndarrays
    (the fingerprint may be a ``LazyFingerprint``: see :func:`.fingerprint.fingerprint_soon`)."""
    out: dict[str, tuple[Any, Any]] = {}
    for name in names:
        obj = ns.get(name)
        try:  # each object alone: one whose .size or .ndim raises costs only itself
            if obj is None or not is_dataset(obj) or getattr(obj, "size", 1) == 0:
                continue
            if getattr(obj, "ndim", 1) == 0:
                continue
            fp = cache.get(obj, fresh=name in fresh)
        except Exception as exc:  # one odd object must not cost the cell its record
            warn_once("fingerprint the dataset", exc, repr(name))
            continue
        if fp is not None:
            out[name] = (obj, fp)
        if len(out) >= MAX_DATASETS_PER_CELL:
            break
    return out


_file_hashes: dict[tuple[str, int, int], str] = {}


def source_file(path: str) -> tuple[str, str | None]:
    """Absolute path and xxh3 of a file read by ``pd.read_*`` (cached by size and mtime);
    credentials in a URL are masked."""
    path = redact_text(path)
    resolved = Path(path).expanduser()
    if not resolved.is_absolute():
        resolved = Path.cwd() / resolved
    try:
        st = resolved.stat()
    except OSError:
        return str(resolved), None
    key = (str(resolved), st.st_size, st.st_mtime_ns)
    digest = _file_hashes.get(key)
    if digest is None:
        try:
            digest = _file_hashes[key] = file_hash(str(resolved))
        except OSError:
            return str(resolved), None
    return str(resolved), digest


# -- models ----------------------------------------------------------------------------------


def models_of(syntax: CellSyntax, ns: dict[str, Any]) -> dict[str, tuple[Any, list[str]]]:
    """``name -> (estimator, names passed to fit)`` for models fitted or bound in the cell."""
    if "sklearn" not in sys.modules:
        return {}
    out: dict[str, tuple[Any, list[str]]] = {}
    for name, data_names in syntax.fits:
        est = ns.get(name)
        if is_estimator(est) and is_fitted(est):
            out[name] = (est, data_names)
    for name in syntax.assigned:
        if name in out or name.startswith("_"):
            continue
        est = ns.get(name)
        if is_estimator(est) and is_fitted(est):
            out[name] = (est, [])
    return out
