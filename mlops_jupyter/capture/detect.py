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
from .fingerprint import file_hash, fingerprint, is_dataset
from .record import is_estimator, is_fitted

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


def params_of(syntax: CellSyntax) -> dict[str, Any]:
    """Top-level literal scalar assignments that are params (not secrets, not metrics)."""
    return {
        k: v
        for k, v in syntax.literals.items()
        if not k.startswith("_") and not is_secret(k) and not is_metric_name(k)
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

    entries: dict[int, tuple[Any, tuple[Any, ...], str]] = field(default_factory=dict)

    def get(self, obj: Any, *, fresh: bool) -> str | None:
        key = id(obj)
        token = _token(obj)
        entry = self.entries.get(key)
        if not fresh and entry is not None and entry[0]() is obj and entry[1] == token:
            return entry[2]
        fp = fingerprint(obj)
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
    return (type(obj).__name__, shape, cols, str(getattr(obj, "dtypes", getattr(obj, "dtype", ""))))


def datasets_of(
    names: list[str], ns: dict[str, Any], cache: FingerprintCache, fresh: set[str]
) -> dict[str, tuple[Any, str]]:
    """``name -> (object, fingerprint)`` for the names holding DataFrames/Series/ndarrays."""
    out: dict[str, tuple[Any, str]] = {}
    for name in names:
        obj = ns.get(name)
        if obj is None or not is_dataset(obj) or getattr(obj, "size", 1) == 0:
            continue
        if getattr(obj, "ndim", 1) == 0:
            continue
        try:
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
    """Absolute path and xxh3 of a file read by ``pd.read_*`` (cached by size and mtime)."""
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
