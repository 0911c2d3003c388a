"""Wrappers around the calls that produce capture's facts, installed without importing them.

Capture has to see a metric wherever the code computes it (inside ``print``, a loop, a dict
entry, a discarded expression), so the calls themselves are wrapped, the way MLflow's autolog
patches them, but with nothing to call: ``%load_ext`` installs the wrappers, and a module that
is not imported yet (scikit-learn usually is not) is wrapped the moment it is (a
``sys.meta_path`` post-import hook; importing ``mlops_jupyter`` imports no scikit-learn).

What is wrapped (see :data:`FUNCTIONS` and :data:`METHODS`):

- ``sklearn.metrics`` scorers and losses, ``classification_report``;
- ``sklearn.model_selection``: ``train_test_split``, ``cross_val_score``, ``cross_validate``,
  ``cross_val_predict``, ``validation_curve``, ``learning_curve``, ``permutation_test_score``;
- ``sklearn.datasets`` loaders and generators (``load_*``, ``make_*``, ``fetch_*``);
- on every class of a scikit-learn estimator's MRO (xgboost, lightgbm and imbalanced-learn
  estimators subclass ``BaseEstimator`` too): ``fit``, ``partial_fit``, ``fit_transform``,
  ``fit_predict``, ``predict``, ``predict_proba``, ``predict_log_proba``,
  ``decision_function``, ``transform``, ``score``. Classes defined later are wrapped as they
  are created (``BaseEstimator.__init_subclass__``). Other frameworks plug in with
  :func:`capture_class`.

A wrapper is invisible: it returns the original's result object, lets its exceptions through
with its own frame removed from the traceback, adds no warning, keeps ``__name__``,
``__module__``, ``__qualname__``, ``__doc__`` and the signature (``functools.wraps``), and
pickles by reference to the original (joblib/loky workers get the plain function). It records
an event only while a cell is being captured, on the cell's thread, and only for the outermost
call (the fits a grid search makes inside its own ``fit`` are not the user's).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.abc
import sys
import threading
from collections.abc import Callable
from typing import Any

# module -> {function name -> event kind}; a prefix entry ("make_*") matches many names.
FUNCTIONS: dict[str, dict[str, str]] = {
    "sklearn.model_selection": {
        "train_test_split": "split",
        "cross_val_score": "cv",
        "cross_validate": "cv",
        "cross_val_predict": "cv_predict",
        "validation_curve": "cv",
        "learning_curve": "cv",
        "permutation_test_score": "cv",
    },
    "sklearn.datasets": {"load_*": "load", "fetch_*": "load", "make_*": "generate"},
    "sklearn.utils": {"shuffle": "split", "resample": "split"},
    "sklearn.metrics": {},  # filled by _metric_names(): scorers, losses, classification_report
}
FIT_METHODS = ("fit", "partial_fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
METHODS: dict[str, str] = {
    **dict.fromkeys(FIT_METHODS, "fit"),
    **dict.fromkeys(PREDICT_METHODS, "predict"),
    "transform": "transform",
    "score": "score",
}
_METRIC_SUFFIXES = ("_score", "_error", "_loss", "_deviance")
_METRIC_EXTRA = frozenset(
    {"auc", "matthews_corrcoef", "max_error", "precision_recall_fscore_support",
     "homogeneity_completeness_v_measure", "class_likelihood_ratios", "coverage_error"}
)  # fmt: skip
_NOT_METRICS = frozenset({"silhouette_samples", "check_scoring", "get_scorer", "make_scorer"})


class _State:
    """Who receives events: set by the cell hooks, read by every wrapper (kept tiny)."""

    recorder: Any = None  # events.Recorder while a cell runs, else None

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # A wrapper pickled by value (a class defined in a notebook, sent to a joblib worker)
        # refers to the worker's own state there, never to this process's recorder.
        return (_state, ())


def _state() -> _State:
    return STATE


STATE = _State()
_patched: list[tuple[Any, str, Any]] = []  # (owner, attribute, original) to undo on uninstall
_patched_classes: set[tuple[type, tuple[str, ...]]] = set()
_lock = threading.RLock()
_finder: _PostImportFinder | None = None


# -- the wrapper -------------------------------------------------------------------------------


def _wrap(original: Callable[..., Any], kind: str, name: str) -> Callable[..., Any]:
    get_ident = threading.get_ident
    getframe = sys._getframe

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rec = STATE.recorder
        if rec is None or rec.busy or rec.thread != get_ident():
            return original(*args, **kwargs)
        rec.busy = True
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            rec.busy = False
            tb = exc.__traceback__
            if tb is not None and tb.tb_frame is getframe():
                exc.__traceback__ = tb.tb_next  # the traceback reads as if we were not here
            del exc, tb
            raise
        try:
            rec.record(kind, name, args, kwargs, result, getframe(1))
        finally:
            rec.busy = False
        return result

    wrapper.__mlops_original__ = original  # type: ignore[attr-defined]
    return wrapper


@contextlib.contextmanager
def unrecorded() -> Any:
    """Calls made inside are the library's, not the user's: no capture events (the monitor's
    own predictions on a batch, the calibration it fits). As for calls inside an outer call,
    the recorder is marked busy on the cell's thread."""
    rec = STATE.recorder
    if rec is None or rec.busy or rec.thread != threading.get_ident():
        yield
        return
    rec.busy = True
    try:
        yield
    finally:
        rec.busy = False


def wait_until_idle(at_most: float = 30.0, quiet: float = 0.2) -> None:
    """Block (a background thread) until no cell has run for ``quiet`` seconds, at most
    ``at_most`` seconds: work that can wait (model files, the package scan) then uses the time
    the user reads results instead of slowing cells down ("Run all" leaves gaps of a few ms
    between cells, which is not idle). It stops waiting at once while someone waits for that
    work (:func:`awaited`): a cell that asks for it would otherwise wait for itself to end."""
    import time

    now = time.monotonic()
    deadline, idle_since = now + at_most, now
    while time.monotonic() < deadline and not _awaiting:
        if STATE.recorder is not None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= quiet:
            return
        time.sleep(0.02)


_awaiting: list[int] = []  # one entry per caller waiting for background work now
_awaiting_lock = threading.Lock()


@contextlib.contextmanager
def awaited() -> Any:
    """Wrap a wait for work done between cells (model files, the environment scan, a flush):
    that work starts now instead of when the kernel is next idle."""
    with _awaiting_lock:
        _awaiting.append(threading.get_ident())
    try:
        yield
    finally:
        with _awaiting_lock:
            _awaiting.remove(threading.get_ident())


def original_of(func: Any) -> Any:
    """The unwrapped function behind one of our wrappers (or ``func`` itself)."""
    return getattr(func, "__mlops_original__", func)


# -- installing ----------------------------------------------------------------------------------


def install() -> None:
    """Wrap what is imported already and watch for the rest (idempotent)."""
    global _finder
    with _lock:
        if _finder is None:
            _finder = _PostImportFinder({*FUNCTIONS, "sklearn.base"})
            sys.meta_path.insert(0, _finder)
        for module_name in (*FUNCTIONS, "sklearn.base"):
            module = sys.modules.get(module_name)
            if module is not None:
                _on_import(module)


def uninstall() -> None:
    """Put every original back and stop watching imports."""
    global _finder
    with _lock:
        if _finder is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(_finder)
            _finder = None
        for owner, attr, original in reversed(_patched):
            with contextlib.suppress(AttributeError, TypeError):
                if original is _Missing:
                    delattr(owner, attr)
                else:
                    setattr(owner, attr, original)
        _patched.clear()
        _patched_classes.clear()


def installed() -> bool:
    return _finder is not None


def rebind(namespace: dict[str, Any]) -> None:
    """Point names a user imported before ``%load_ext`` at the wrappers."""
    wrapped = {id(orig): new for owner, attr, orig in _patched if (new := _current(owner, attr))}
    for key, value in list(namespace.items()):
        new = wrapped.get(id(value))
        if new is not None and not key.startswith("_"):
            namespace[key] = new


def _current(owner: Any, attr: str) -> Any:
    value = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
    return value if hasattr(value, "__mlops_original__") else None


def _on_import(module: Any) -> None:
    name = module.__name__
    with _lock:
        if name == "sklearn.base":
            _watch_estimators(module)
            return
        if name == "sklearn.model_selection":
            _watch_splitters(module)
        table = _metric_names(module) if name == "sklearn.metrics" else FUNCTIONS.get(name, {})
        for attr in dir(module):
            kind = _kind(table, attr)
            if kind is None:
                continue
            func = getattr(module, attr, None)
            if not callable(func) or isinstance(func, type) or hasattr(func, "__mlops_original__"):
                continue
            wrapper = _wrap(func, kind, attr)
            _set(module, attr, func, wrapper)
            home = sys.modules.get(getattr(func, "__module__", "") or "")
            if home is not None and home is not module and getattr(home, attr, None) is func:
                _set(home, attr, func, wrapper)  # pickle finds the wrapper where it looks


def _kind(table: dict[str, str], attr: str) -> str | None:
    if attr in table:
        return table[attr]
    for pattern, kind in table.items():
        if pattern.endswith("*") and attr.startswith(pattern[:-1]):
            return kind
    return None


def _metric_names(module: Any) -> dict[str, str]:
    names = {}
    for attr in getattr(module, "__all__", ()):
        if attr in _NOT_METRICS:
            continue
        if attr == "classification_report":
            names[attr] = "report"
        elif attr.endswith(_METRIC_SUFFIXES) or attr in _METRIC_EXTRA:
            names[attr] = "metric"
    return names


def _set(owner: Any, attr: str, original: Any, value: Any) -> None:
    setattr(owner, attr, value)
    _patched.append((owner, attr, original))


def _watch_splitters(module: Any) -> None:
    """``KFold(...).split(X, y)``: what a splitter splits is data."""
    for attr in dir(module):
        cls = getattr(module, attr, None)
        if isinstance(cls, type) and callable(getattr(cls, "get_n_splits", None)):
            capture_class(cls, {"split": "data_in"})


# -- estimator classes ---------------------------------------------------------------------------


def _watch_estimators(base_module: Any) -> None:
    base = base_module.BaseEstimator
    if "__init_subclass__" not in base.__dict__:

        def __init_subclass__(cls: type, **kwargs: Any) -> None:
            super(base, cls).__init_subclass__(**kwargs)
            with contextlib.suppress(Exception):  # never break a class definition
                capture_class(cls)

        base.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment]
        _patched.append((base, "__init_subclass__", _Missing))
    for cls in _subclasses(base):
        capture_class(cls)


class _Missing:
    """Marks an attribute we added (uninstall deletes it instead of restoring a value)."""


def _subclasses(cls: type) -> list[type]:
    out, todo, seen = [], [cls], {cls}
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                out.append(sub)
                todo.append(sub)
    return out


def capture_class(cls: type, methods: dict[str, str] | None = None) -> None:
    """Wrap the fit / predict / transform / score methods of ``cls`` and of its bases.

    The extension point for estimators that do not subclass scikit-learn's ``BaseEstimator``:
    ``capture_class(MyModel)`` makes its fits, predictions and scores captured like
    scikit-learn's, provided it has ``get_params()`` (for params) and pickles (for its file).
    A class defined in a notebook cell works too: joblib pickles it by value, and its wrapped
    methods then run plainly in the worker.
    """
    table = methods or METHODS
    with _lock:
        for klass in cls.__mro__[:-1]:
            done = (klass, tuple(table))
            if done in _patched_classes:
                continue
            _patched_classes.add(done)
            for attr, kind in table.items():
                value = klass.__dict__.get(attr)
                if value is None:
                    continue
                fn = getattr(value, "fn", None)  # sklearn's available_if descriptors
                if callable(fn) and not isinstance(value, (staticmethod, classmethod)):
                    if not hasattr(fn, "__mlops_original__") and _is_function(fn):
                        value.fn = _wrap(fn, kind, attr)
                        _patched.append((value, "fn", fn))
                elif _is_function(value) and not hasattr(value, "__mlops_original__"):
                    _set(klass, attr, value, _wrap(value, kind, attr))


def _is_function(value: Any) -> bool:
    return type(value).__name__ in {"function", "cython_function_or_method"}


# -- the post-import hook ------------------------------------------------------------------------


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Runs :func:`_on_import` right after a watched module finishes executing.

    It finds the module's spec with the other finders and wraps that loader's ``exec_module``
    for this one module; the loader object (and everything that inspects it) stays the same.
    """

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.names or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self._busy.discard(fullname)
        loader = getattr(spec, "loader", None)
        exec_module = getattr(loader, "exec_module", None)
        if spec is None or exec_module is None:
            return spec

        def exec_and_wrap(module: Any) -> None:
            exec_module(module)
            try:
                _on_import(module)
            except Exception as exc:  # the import itself must succeed
                from ._warn import warn_once

                warn_once("instrument " + fullname, exc)

        with contextlib.suppress(AttributeError, TypeError):
            loader.exec_module = exec_and_wrap  # type: ignore[union-attr]
        return spec
