"""What the wrapped calls of one cell did, in order: the :class:`Recorder` and its events.

The wrappers (:mod:`.instrument`) hand every outermost call to :meth:`Recorder.record`, which
keeps what the end of the cell needs and must take the snapshot now: the estimator's params and
fingerprint right after ``fit`` (a loop may ``set_params`` and refit the same object), a
search's results, the metric's value and the arrays it compared. Objects are held by weak
reference where they allow it, so a loop over large temporaries does not keep them alive.

Recording never raises into the user's code: a failure is one warning per kind, and that call
is simply not recorded.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Any

from . import sites
from ._warn import warn_once
from .params import call_settings, estimator_params, stable

MAX_EVENTS = 20_000
MAX_MODELS = 10  # models kept per setting (name, class, params) and cell  # per cell; past it, calls still run, they are just not recorded
_TIMING = ("fit_time", "score_time")


@dataclass
class SearchFacts:
    """A fitted hyper-parameter search, read right after its ``fit``."""

    candidates: list[dict[str, Any]]  # per candidate: {"params": {...}, "metrics": {...}}
    best_params: dict[str, Any]
    best_score: float | None
    best_index: int | None
    scorers: list[str]
    best_estimator: Any = None


@dataclass
class Event:
    seq: int
    kind: str  # fit | predict | transform | score | metric | report | cv | cv_predict | split | load | generate
    name: str  # the function or method called
    site: sites.Site
    est_ref: Any = field(default=None, repr=False)  # the estimator (fit/predict/score), weakly
    cls: type | None = None  # its class (known even once the estimator is gone)
    fit_seq: int | None = None  # score/metric: the fit event of the model it scores
    model_info: Any = None  # score/metric: links.ModelInfo of a model fitted in an earlier cell
    file_queued: bool = False  # fit: the model's file was queued at once (its state may not last)
    data: list[int] = field(default_factory=list)  # ids of the data arguments (X, y, y_true...)
    y_true: int | None = None
    y_pred: int | None = None
    value: Any = None  # a metric's float, a report's dict, CV score arrays
    settings: dict[str, Any] = field(default_factory=dict)
    params: dict[str, tuple[Any, bool]] | None = None
    fingerprint: str | None = None
    search: SearchFacts | None = None
    outputs: list[int] = field(default_factory=list)  # ids of data the call produced
    extra: dict[str, Any] = field(default_factory=dict)  # raw values a handler keeps (param_range)

    @property
    def est(self) -> Any:
        return self.est_ref() if self.est_ref is not None else None

    def set_est(self, est: Any) -> None:
        """Remember the estimator without keeping it alive (a loop's models are freed as the
        loop goes on, as they would be without capture)."""
        if est is None:
            return
        self.cls = type(est)
        try:
            self.est_ref = weakref.ref(est)
        except TypeError:
            self.est_ref = _Strong(est)


class Recorder:
    """Events of the cell running now. Only its own thread records (see ``instrument``)."""

    def __init__(self, session: Any) -> None:
        self.thread = threading.get_ident()
        self.busy = False
        self.session = session
        self.events: list[Event] = []
        self.objects: dict[int, Any] = {}  # id -> weakref (or the object) of every data argument
        self.fits: dict[int, tuple[Any, int]] = {}  # id(estimator) -> (weakref, seq of its fit)
        self.models_per_setting: dict[tuple[Any, ...], int] = {}
        self.dropped = 0

    # -- called by the wrappers ------------------------------------------------------------------

    def record(
        self,
        kind: str,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        result: Any,
        frame: Any,
    ) -> None:
        if len(self.events) >= MAX_EVENTS:
            self.dropped += 1
            return
        try:
            site = sites.resolve(frame)
            event = Event(len(self.events), kind, name, site)
            handler = _HANDLERS.get(kind)
            if handler is not None and handler(self, event, args, kwargs, result) is not False:
                self.events.append(event)
        except Exception as exc:
            warn_once("record a call of", exc, name)

    # -- helpers -------------------------------------------------------------------------------

    def fit_of(self, est: Any) -> int | None:
        """The seq of the fit event that left ``est`` as it is (in this cell), if any."""
        entry = self.fits.get(id(est)) if est is not None else None
        if entry is None or entry[0]() is not est:
            return None
        return entry[1]

    def link(self, ev: Event, est: Any) -> None:
        """Tie a score or metric to the model it scores, while that model is still alive."""
        if est is None:
            return
        ev.set_est(est)
        ev.fit_seq = self.fit_of(est)
        if ev.fit_seq is None:
            ev.model_info = self.session.links.model_of(est)

    def keep(self, obj: Any) -> int | None:
        """Remember a data object by id (weakly when possible)."""
        if obj is None or isinstance(obj, (str, bytes, int, float, bool)):
            return None
        key = id(obj)
        held = self.objects.get(key)
        if held is None or held() is not obj:  # new, or an id reused after a temporary died
            try:
                self.objects[key] = weakref.ref(obj)
            except TypeError:
                self.objects[key] = _Strong(obj)
        return key

    def alive(self, key: int | None) -> Any:
        """The object remembered under ``key``, if it still exists."""
        ref = self.objects.get(key) if key is not None else None
        return ref() if ref is not None else None


class _Strong:
    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __call__(self) -> Any:
        return self.obj


# -- one handler per kind of call ------------------------------------------------------------------


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, *names: str) -> Any:
    if len(args) > index:
        return args[index]
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return None


def _on_fit(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    from .fingerprint import model_fingerprint

    est = args[0] if args else None
    if est is None:
        return False
    ev.set_est(est)
    x, y = _arg(args, kwargs, 1, "X", "x"), _arg(args, kwargs, 2, "y", "Y")
    ev.data = [k for k in (rec.keep(x), rec.keep(y)) if k is not None]
    ev.extra["data_columns"] = [_columns_of(x), _columns_of(y)]  # which dataset a slice is (#16)
    ev.params = estimator_params(est)
    ev.search = _search_facts(est)
    with contextlib.suppress(TypeError):
        rec.fits[id(est)] = (weakref.ref(est), ev.seq)
    # The first fits of each setting get their fingerprint (and file) now: a loop may refit or
    # drop the model right after. Past MAX_MODELS fits of one setting in one cell, only the
    # state left at the end of the cell is kept (a loop of 950 refits is one model, not 950).
    setting = (
        ev.site.receiver,
        type(est),
        tuple(sorted((k, repr(v)) for k, (v, _d) in ev.params.items())),
    )
    count = rec.models_per_setting[setting] = rec.models_per_setting.get(setting, 0) + 1
    if ev.name != "partial_fit" and count < MAX_MODELS:
        ev.fingerprint = model_fingerprint(est)
        from . import artifacts

        artifacts.submit(rec.session.store_nowait.key, ev.fingerprint, est)
        ev.file_queued = True
    if ev.name in ("fit_predict", "fit_transform"):
        ev.outputs = [k for k in (rec.keep(result),) if k is not None]
        rec.session.note_prediction(result, est, x)
        if ev.name == "fit_transform":
            rec.session.note_data(result)  # transformed features are data
    return True


def _columns_of(obj: Any) -> frozenset[str] | None:
    cols = getattr(obj, "columns", None)
    if cols is not None:
        return frozenset(str(c) for c in list(cols)[:1000])
    name = getattr(obj, "name", None) if hasattr(obj, "iloc") else None
    return None if name is None else frozenset((str(name),))


def _on_predict(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    est = args[0] if args else None
    x = _arg(args, kwargs, 1, "X", "x")
    ev.set_est(est)
    ev.data = [k for k in (rec.keep(x),) if k is not None]
    rec.session.note_prediction(result, est, x)
    if ev.kind == "transform":
        rec.session.note_data(result)  # transformed features are data
    return True


def _on_score(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    value = _float(result)
    if value is None:
        return False
    rec.link(ev, args[0] if args else None)
    x, y = _arg(args, kwargs, 1, "X", "x"), _arg(args, kwargs, 2, "y", "Y")
    ev.data = [k for k in (rec.keep(x), rec.keep(y)) if k is not None]
    ev.y_true = rec.keep(y)
    ev.value = value
    return True


def _on_metric(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    y_true = _arg(args, kwargs, 0, "y_true", "labels_true", "X", "x")
    y_pred = _arg(
        args,
        kwargs,
        1,
        "y_pred",
        "y_score",
        "y_proba",
        "y_prob",
        "probas_pred",
        "labels_pred",
        "labels",
        "y",
    )
    ev.y_true, ev.y_pred = rec.keep(y_true), rec.keep(y_pred)
    ev.data = [k for k in (ev.y_true, ev.y_pred) if k is not None]
    _trace_prediction(rec, ev, y_pred)
    ev.settings = {
        k: stable(v)
        for k, v in kwargs.items()
        if isinstance(v, (str, int, float, bool)) or v is None
    }
    value = _metric_value(ev.name, result)
    if value is None:
        return False
    ev.value = value
    return True


def _on_report(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    from .instrument import original_of

    y_true, y_pred = _arg(args, kwargs, 0, "y_true"), _arg(args, kwargs, 1, "y_pred")
    ev.y_true, ev.y_pred = rec.keep(y_true), rec.keep(y_pred)
    ev.data = [k for k in (ev.y_true, ev.y_pred) if k is not None]
    _trace_prediction(rec, ev, y_pred)
    report = result
    if not isinstance(report, dict):  # the text form: compute the numbers once more, quietly
        report_fn = original_of(sys.modules["sklearn.metrics"].classification_report)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = report_fn(*args, **{**kwargs, "output_dict": True})
    ev.value = _flatten(report)
    return bool(ev.value)


def _trace_prediction(rec: Recorder, ev: Event, y_pred: Any) -> None:
    """The model (and its input) behind ``y_pred``, now: a temporary such as
    ``model.predict_proba(X)[:, 1]`` is gone by the end of the cell."""
    found = rec.session.links.prediction_of(y_pred)
    if found is not None:
        rec.link(ev, found[0])
        if found[1] is not None:
            ev.data.append(rec.keep(found[1]) or id(found[1]))


def _on_cv(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    from .instrument import original_of

    est = _arg(args, kwargs, 0, "estimator")
    x, y = _arg(args, kwargs, 1, "X"), _arg(args, kwargs, 2, "y")
    ev.set_est(est)
    if est is not None:
        with contextlib.suppress(TypeError):
            rec.fits[id(est)] = (weakref.ref(est), ev.seq)  # cross_val_predict's output scores it
    ev.data = [k for k in (rec.keep(x), rec.keep(y)) if k is not None]
    ev.extra["data_columns"] = [_columns_of(x), _columns_of(y)]  # which dataset a slice is (#16)
    ev.params = estimator_params(est) if est is not None else None
    func = getattr(sys.modules.get("sklearn.model_selection"), ev.name, None)
    ev.settings = call_settings(original_of(func), args, kwargs, {"estimator", "X", "y", "groups"})
    if ev.name == "validation_curve":
        param_range = _arg(args, kwargs, 4, "param_range")
        ev.extra["param_range"] = list(param_range) if param_range is not None else []
    if ev.kind == "cv_predict":
        rec.session.note_prediction(result, est, x)
        ev.outputs = [k for k in (rec.keep(result),) if k is not None]
        return True
    ev.value = _cv_scores(ev.name, result, ev.settings)
    return bool(ev.value)


def _on_data_call(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    """train_test_split, load_*, make_*, fetch_*: their settings, and what they return is data."""
    from .instrument import original_of

    if ev.kind != "split":
        home = "sklearn.datasets"
    elif ev.name in ("shuffle", "resample"):
        home = "sklearn.utils"
    else:
        home = "sklearn.model_selection"
    func = original_of(getattr(sys.modules.get(home), ev.name, None))
    if ev.kind == "split":
        ev.data = [k for k in (rec.keep(a) for a in args) if k is not None]
        ev.settings = {
            k: stable(v) for k, v in kwargs.items() if k != "stratify" and not hasattr(v, "shape")
        }
    elif func is not None:
        ev.settings = call_settings(func, args, kwargs, {"return_X_y", "as_frame", "data_home"})
    ev.outputs = [k for k in (rec.keep(o) for o in _outputs(result)) if k is not None]
    for key in ev.outputs:
        rec.session.note_data(rec.alive(key))
    return True


def _on_data_in(
    rec: Recorder, ev: Event, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
) -> bool:
    """A splitter's ``split(X, y)``: its arguments are data."""
    x, y = _arg(args, kwargs, 1, "X"), _arg(args, kwargs, 2, "y")
    ev.data = [k for k in (rec.keep(x), rec.keep(y)) if k is not None]
    return bool(ev.data)


_HANDLERS = {
    "data_in": _on_data_in,
    "fit": _on_fit,
    "predict": _on_predict,
    "transform": _on_predict,
    "score": _on_score,
    "metric": _on_metric,
    "report": _on_report,
    "cv": _on_cv,
    "cv_predict": _on_cv,
    "split": _on_data_call,
    "load": _on_data_call,
    "generate": _on_data_call,
}


# -- values ----------------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    from .detect import scalar

    f = scalar(value)
    if f is None:
        return None
    return f


def _metric_value(name: str, result: Any) -> Any:
    """A float, or ``{suffix: float}`` for tuple/array results (per class, p/r/f)."""
    f = _float(result)
    if f is not None:
        return f
    if name == "precision_recall_fscore_support" and isinstance(result, tuple):
        parts = dict(zip(("precision", "recall", "fscore"), result[:3]))
        return {
            k: v for k, v in ((k, _float(v)) for k, v in parts.items()) if v is not None
        } or None
    if name == "homogeneity_completeness_v_measure" and isinstance(result, tuple):
        return dict(zip(("homogeneity", "completeness", "v_measure"), map(_float, result)))
    if name == "class_likelihood_ratios" and isinstance(result, tuple):
        out = dict(zip(("positive", "negative"), map(_float, result)))
        return {k: v for k, v in out.items() if v is not None} or None
    tolist = getattr(result, "tolist", None)
    if callable(tolist) and getattr(result, "ndim", 0) == 1 and 0 < len(result) <= 100:
        values = [_float(v) for v in tolist()]
        return {str(i): v for i, v in enumerate(values) if v is not None} or None
    return None


def _flatten(report: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if not isinstance(report, dict):
        return out
    for key, value in report.items():
        name = _clean(str(key))
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{name}."))
        elif name != "support":  # a count of rows, not a measure
            f = _float(value)
            if f is not None:
                out[prefix + name] = f
    return out


def _clean(text: str) -> str:
    return text.strip().replace(" ", "_").replace("-", "_")


def _cv_scores(name: str, result: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """``{"test_<scorer>": folds, "train_<scorer>": folds}`` with folds as a 1-D or 2-D array."""
    np = sys.modules.get("numpy")
    if np is None:
        return {}
    scoring = settings.get("scoring")
    scorer = scoring if isinstance(scoring, str) and scoring and "(" not in scoring else "score"
    if name == "cross_val_score":
        return {f"test_{scorer}": np.asarray(result, dtype=float)}
    if name == "cross_validate" and isinstance(result, dict):
        return {
            k: np.asarray(v, dtype=float)
            for k, v in result.items()
            if (k.startswith(("test_", "train_"))) and not k.endswith(_TIMING)
        }
    if name == "validation_curve" and isinstance(result, tuple) and len(result) == 2:
        train, test = result
        return {
            f"train_{scorer}": np.asarray(train, dtype=float),
            f"test_{scorer}": np.asarray(test, dtype=float),
        }
    if name == "learning_curve" and isinstance(result, tuple) and len(result) >= 3:
        sizes, train, test = result[:3]
        return {
            "sizes": np.asarray(sizes),
            f"train_{scorer}": np.asarray(train, dtype=float),
            f"test_{scorer}": np.asarray(test, dtype=float),
        }
    if name == "permutation_test_score" and isinstance(result, tuple) and len(result) == 3:
        score, _perms, pvalue = result
        return {
            f"test_{scorer}": np.asarray([score], dtype=float),
            "pvalue": np.asarray([pvalue], dtype=float),
        }
    return {}


def _outputs(result: Any) -> list[Any]:
    if isinstance(result, (tuple, list)):
        return [o for o in result if _is_data(o)]
    if isinstance(result, dict):  # sklearn's Bunch
        return [
            v
            for k, v in result.items()
            if k in ("data", "target", "frame", "images") and _is_data(v)
        ]
    return [result] if _is_data(result) else []


def _is_data(obj: Any) -> bool:
    from .fingerprint import is_dataset

    return is_dataset(obj)


def _search_facts(est: Any) -> SearchFacts | None:
    search_mod = sys.modules.get("sklearn.model_selection._search")
    if search_mod is None or not isinstance(est, search_mod.BaseSearchCV):
        return None
    results = getattr(est, "cv_results_", None)
    if not isinstance(results, dict) or "params" not in results:
        return None
    metric_keys = [
        k
        for k in results
        if k.startswith(("mean_test_", "std_test_", "rank_test_", "mean_train_", "std_train_"))
    ]
    extra = [k for k in ("iter", "n_resources") if k in results]
    candidates = []
    for i, params in enumerate(results["params"]):
        metrics = {k: _float(results[k][i]) for k in metric_keys}
        shown = {str(k): stable(v) for k, v in params.items()}
        shown.update({k: stable(results[k][i]) for k in extra})
        candidates.append(
            {"params": shown, "metrics": {k: v for k, v in metrics.items() if v is not None}}
        )
    scorers = sorted(
        {k.removeprefix("mean_test_") for k in metric_keys if k.startswith("mean_test_")}
    )
    best_params = getattr(est, "best_params_", None)
    return SearchFacts(
        candidates=candidates,
        best_params={str(k): stable(v) for k, v in (best_params or {}).items()},
        best_score=_float(getattr(est, "best_score_", None)),
        best_index=getattr(est, "best_index_", None),
        scorers=scorers,
        best_estimator=getattr(est, "best_estimator_", None),
    )
