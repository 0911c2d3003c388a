"""One cell's recorded calls -> what to store: configurations, sweeps, metric keys and steps.

**Configurations.** Every fit (and every cross-validation of an estimator) belongs to a
configuration: the model's name, its class and its params. Two fits with the same three are
the same configuration (``partial_fit`` epochs, a refit on other data); a changed kwarg, a
``set_params`` or another estimator class is another one.

**Which model a metric scores.** ``model.score(...)`` scores ``model``; a metric on ``y_pred``
scores the model whose ``predict`` returned ``y_pred`` (in this cell or an earlier one); a
metric that cannot be traced scores the configuration fitted last in the cell.

**Sweeps.** When two or more configurations of one cell produce metrics (a loop over ``C``, a
loop over classifiers, ``validation_curve``), each becomes a child run of the current run
with its params and metrics (and the current run's params, inherited), so ``mj.compare``
ranks them. A configuration scored several times gives a metric curve: steps 0, 1, 2...
A search (``GridSearchCV``, ``RandomizedSearchCV``, the halving searches) puts ``best_score``
and ``<search>.best.<param>`` on its run, and every candidate becomes a child run with the
candidate's params and its ``mean_test_*`` / ``std_test_*`` / ``rank_test_*`` scores.

**Metric keys** (the README documents them):

- the name the code gives the value: ``acc = accuracy_score(...)`` -> ``acc``;
  ``ap["micro"] = ...`` -> ``ap.micro``; ``{"f1": f1_score(...)}`` -> ``f1``;
- otherwise the function, prefixed by the split when the data says which one (``y_test``,
  ``X_train``, ``y_val``...): ``test_accuracy_score``, ``train_score`` (an estimator's
  ``.score``), with ``.macro`` etc. when ``average=`` was given; per-class results add
  ``.0``, ``.1``...; ``classification_report`` adds ``.<class>.<measure>`` and ``.accuracy``;
- cross-validation: ``cv_<scoring>.mean`` / ``.std`` and ``cv_<scoring>.fold`` (one step per
  fold), ``cv_train_<scoring>.*`` for train folds (``cv_score`` when the estimator's own score
  is used); ``learning_curve``: ``lc_<scoring>.mean`` / ``.std`` with the training size as step;
- a key that the run already holds for another model is prefixed by the model's name
  (``rf.test_score``), so two models never overwrite each other.

**Param keys**: ``<model>.<param>`` for estimator params (scikit-learn's nested
``<model>.logisticregression__C`` form for pipelines) with ``<model>.class``; ``source`` is
``default`` where the value is the estimator's default, else ``estimator``;
``<function>.<argument>`` for the settings of split, cross-validation, search and data calls
(``train_test_split.test_size``, ``make_classification.n_samples``).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

from .events import Event, Recorder, SearchFacts
from .links import Links, ModelInfo

_SPLITS = {
    "train": "train", "training": "train", "tr": "train",
    "test": "test", "testing": "test", "holdout": "test", "te": "test",
    "val": "val", "valid": "val", "validation": "val", "dev": "val", "eval": "val",
}  # fmt: skip
_WORDS = re.compile(r"[_\W]+|(?<=[a-z])(?=[A-Z])")
MAX_CANDIDATES = 100_000
MAX_MODELS = 10  # per configuration and cell: a loop refitting one setting on new data


@dataclass
class Point:
    key: str
    value: float
    step: int | None
    producer: str
    split: str | None = None
    model_fp: str | None = None  # the model it scores, when known
    model_name: str | None = None
    data: list[int] = field(default_factory=list)  # ids of the data it was computed on
    detail: dict[str, Any] = field(default_factory=dict)
    named: bool = False  # the key is the code's own name for it


@dataclass
class ModelRecord:
    fingerprint: str
    class_name: str
    params: dict[str, Any]
    name: str
    est: Any  # the live model, or None once it is gone (or was refitted in place)
    data: list[int] = field(default_factory=list)  # what it was trained on
    file_queued: bool = False  # its file was queued when it was fitted


@dataclass
class Config:
    name: str
    class_name: str
    params: dict[str, tuple[Any, bool]]
    fitted: list[tuple[str | None, Any, list[int]]] = field(default_factory=list)  # fp, event, data
    fits: int = 0
    partial: bool = False
    searches: list[SearchFacts] = field(default_factory=list)
    data: list[int] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Child:
    label: str  # the run's name is "<current run's name> · <label>"
    params: dict[str, tuple[Any, str]]
    points: list[Point]
    models: list[ModelRecord]
    inherit: bool
    parent: int | None = None  # index of the child it belongs to; None: the current run


@dataclass
class Plan:
    params: dict[str, tuple[Any, str]] = field(default_factory=dict)
    points: list[Point] = field(default_factory=list)
    elsewhere: list[tuple[str, Point]] = field(default_factory=list)  # (run id, point)
    models: list[ModelRecord] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    data_ids: set[int] = field(default_factory=set)

    @property
    def has_results(self) -> bool:
        return bool(self.points or self.models or self.children)


def plan_cell(rec: Recorder, links: Links, ns: dict[str, Any]) -> Plan:
    """Group the cell's events into configurations and decide where each fact goes."""
    plan = Plan()
    if not rec.events:
        return plan
    names = _Names(ns, rec.alive)
    configs: dict[tuple[Any, ...], Config] = {}
    of_seq: dict[int, Config] = {}  # fit (or CV) event -> its configuration
    last: Config | None = None
    for ev in rec.events:
        plan.data_ids.update(ev.data)
        plan.data_ids.update(ev.outputs)
        if ev.kind == "fit" and ev.cls is not None:
            cfg = _config(configs, _model_name(ev, names), ev.cls, ev.params or {})
            cfg.fits += 1
            cfg.partial = ev.name == "partial_fit"
            cfg.fitted.append((ev.fingerprint, ev, list(ev.data)))
            if ev.search is not None:
                cfg.searches.append(ev.search)
            cfg.data = list(ev.data)
            of_seq[ev.seq] = last = cfg
        elif ev.kind in ("cv", "cv_predict"):
            name = _template_name(ev, names)
            for cfg, points in _cv_configs(configs, ev, name):
                cfg.settings.update(
                    {f"{ev.name}.{k}": v for k, v in ev.settings.items() if k != "param_range"}
                )
                cfg.points.extend(points)
                of_seq.setdefault(ev.seq, cfg)
                last = cfg
        elif ev.kind in ("score", "metric", "report"):
            cfg, info = _scored(ev, of_seq, last)
            points = _points(ev, rec, links, names, cfg, info)
            if cfg is not None:
                cfg.points.extend(points)
            elif info is not None and info.sweep:
                plan.elsewhere.extend((info.run_id, p) for p in points)
            else:
                plan.points.extend(points)
        elif ev.kind in ("split", "load", "generate"):
            plan.params.update({f"{ev.name}.{k}": (v, "auto") for k, v in ev.settings.items()})
    _finish(plan, list(configs.values()), rec)
    return plan


# -- configurations -----------------------------------------------------------------------------


def _config(
    configs: dict[tuple[Any, ...], Config],
    name: str,
    cls: type,
    params: dict[str, tuple[Any, bool]],
) -> Config:
    frozen = tuple(sorted((k, repr(v)) for k, (v, _d) in params.items()))
    key = (name, cls.__module__, cls.__qualname__, frozen)
    cfg = configs.get(key)
    if cfg is None:
        cfg = configs[key] = Config(name, f"{cls.__module__}.{cls.__qualname__}", params)
    return cfg


def _cv_configs(
    configs: dict[tuple[Any, ...], Config], ev: Event, name: str
) -> list[tuple[Config, list[Point]]]:
    if ev.cls is None:
        return []
    scores: dict[str, Any] = ev.value or {}
    base = dict(ev.params or {})
    if ev.name == "validation_curve":
        param, values = ev.settings.get("param_name"), _range(ev)
        out = []
        for i, value in enumerate(values):
            params = {**base, str(param): (value, False)}
            cfg = _config(configs, name, ev.cls, params)
            rows = {k: v[i] for k, v in scores.items() if getattr(v, "ndim", 0) == 2 and len(v) > i}
            out.append((cfg, _cv_points(rows, ev, "cv")))
        return out
    cfg = _config(configs, name, ev.cls, base)
    cfg.data = list(ev.data)
    if ev.name == "learning_curve":
        return [(cfg, _curve_points(scores, ev))]
    return [(cfg, _cv_points(scores, ev, "cv"))]


def _range(ev: Event) -> list[Any]:
    from .params import stable

    return [stable(v) for v in ev.extra.get("param_range", ())]


def _cv_points(scores: dict[str, Any], ev: Event, prefix: str) -> list[Point]:
    points = []
    for name, folds in scores.items():
        if name == "sizes" or not hasattr(folds, "ravel"):
            continue
        split, _, scorer = name.partition("_")
        if name == "pvalue":
            split, scorer = "test", "pvalue"
        key = f"{prefix}_{scorer}" if split == "test" else f"{prefix}_{split}_{scorer}"
        flat = [float(v) for v in folds.ravel()]
        if not flat:
            continue
        mean = sum(flat) / len(flat)
        std = (sum((v - mean) ** 2 for v in flat) / len(flat)) ** 0.5
        common = {"producer": ev.name, "data": list(ev.data), "detail": dict(ev.settings)}
        points.append(Point(f"{key}.mean", mean, None, **common))
        points.append(Point(f"{key}.std", std, None, **common))
        if len(flat) > 1:
            points.extend(Point(f"{key}.fold", v, i, **common) for i, v in enumerate(flat))
    return points


def _curve_points(scores: dict[str, Any], ev: Event) -> list[Point]:
    sizes = scores.get("sizes")
    if sizes is None:
        return []
    points = []
    for name, folds in scores.items():
        if name == "sizes" or getattr(folds, "ndim", 0) != 2:
            continue
        split, _, scorer = name.partition("_")
        key = f"lc_{scorer}" if split == "test" else f"lc_{split}_{scorer}"
        for size, row in zip(sizes.tolist(), folds):
            mean, std = float(row.mean()), float(row.std())
            common = {"producer": ev.name, "data": list(ev.data)}
            points.append(Point(f"{key}.mean", mean, int(size), **common))
            points.append(Point(f"{key}.std", std, int(size), **common))
    return points


# -- metrics ------------------------------------------------------------------------------------


def _scored(
    ev: Event, of_seq: dict[int, Config], last: Config | None
) -> tuple[Config | None, ModelInfo | None]:
    """The configuration (this cell) or the model (an earlier cell) a score or metric scores;
    both were tied to the event while the model was alive (``Recorder.link``)."""
    if ev.fit_seq is not None and ev.fit_seq in of_seq:
        return of_seq[ev.fit_seq], None
    if ev.model_info is not None:
        return None, ev.model_info
    if ev.cls is not None and ev.kind == "score":
        return None, None  # a model capture did not see fitted
    return (last, None) if last is not None and last.fits else (None, None)


def _points(
    ev: Event,
    rec: Recorder,
    links: Links,
    names: _Names,
    cfg: Config | None,
    info: ModelInfo | None,
) -> list[Point]:
    site = ev.site
    data = list(ev.data)
    named_key = None
    if site.assigned:
        named_key = site.assigned
    elif site.container and site.key is not None and not site.key_varies:
        named_key = f"{site.container}.{site.key}"
    elif site.key is not None and site.container is None and not site.key_varies:
        named_key = str(site.key)
    split = _split([ev.y_true, *data], names, site.arg_names)
    if named_key:
        base = named_key
    else:
        producer = "score" if ev.kind == "score" else ev.name
        base = f"{split}_{producer}" if split else producer
        average = ev.settings.get("average")
        if isinstance(average, str):
            base = f"{base}.{average}"
    model_name = cfg.name if cfg is not None else (info.name if info else None)
    common = {
        "split": split,
        "model_fp": info.fingerprint if info else None,
        "model_name": model_name,
        "data": data,
        "named": bool(named_key),
    }
    producer = "score" if ev.kind == "score" else ev.name
    detail = dict(ev.settings)
    if isinstance(ev.value, dict):
        return [
            Point(f"{base}.{sub}", v, None, producer, detail=detail, **common)
            for sub, v in ev.value.items()
        ]
    return [Point(base, float(ev.value), None, producer, detail=detail, **common)]


def _split(ids: list[int | None], names: _Names, arg_names: tuple[str, ...]) -> str | None:
    for key in ids:
        for name in names.data(key):
            split = split_word(name)
            if split:
                return split
    for name in arg_names:
        split = split_word(name)
        if split:
            return split
    return None


def split_word(name: str) -> str | None:
    """``X_test`` -> ``test``, ``y_train`` -> ``train``, ``Xval`` -> ``val``; else ``None``."""
    for word in _WORDS.split(name):
        found = _SPLITS.get(word.lower())
        if found:
            return found
    low = name.lower()
    for suffix, split in (("train", "train"), ("test", "test"), ("val", "val")):
        if low.endswith(suffix) and len(low) > len(suffix):
            return split
    return None


# -- names --------------------------------------------------------------------------------------


class _Names:
    """User names bound to objects (built once per cell with events, on first need)."""

    def __init__(self, ns: dict[str, Any], alive: Any) -> None:
        self.ns = ns
        self.alive = alive
        self._index: dict[int, list[str]] | None = None

    def data(self, key: int | None) -> list[str]:
        """Names bound to the object a call saw under ``key`` (if it is still that object)."""
        if key is None:
            return []
        obj = self.alive(key)
        if obj is None or id(obj) != key:
            return []
        if self._index is None:
            self._index = {}
            for name, value in self.ns.items():
                if not name.startswith("_") and not callable(value):
                    self._index.setdefault(id(value), []).append(name)
        return self._index.get(key, [])

    def bound(self, obj: Any) -> list[str]:
        """Names bound to ``obj`` (held by the event, so alive)."""
        return [n for n, v in self.ns.items() if v is obj and not n.startswith("_")]


def _model_name(ev: Event, names: _Names) -> str:
    if ev.site.receiver:
        return ev.site.receiver
    est = ev.est
    bound = [n for n in names.bound(est) if n.isidentifier()] if est is not None else []
    return bound[0] if bound else _class_name(ev)


def _class_name(ev: Event) -> str:
    return ev.cls.__name__.lower() if ev.cls is not None else "model"


def _template_name(ev: Event, names: _Names) -> str:
    first = ev.site.arg_names[0] if ev.site.arg_names else None
    est = ev.est
    if first and est is not None and names.ns.get(first) is est:
        return first
    bound = names.bound(est) if est is not None else []
    return bound[0] if bound else _class_name(ev)


# -- where everything goes -------------------------------------------------------------------


def _finish(plan: Plan, configs: list[Config], rec: Recorder) -> None:
    scored = [c for c in configs if c.points]
    sweep = len(scored) >= 2
    labels = _labels(scored) if sweep else {}
    for cfg in configs:
        params = _params_of(cfg)
        models = _models_of(cfg, rec)
        for point in cfg.points:
            point.model_fp = point.model_fp or (models[0].fingerprint if models else None)
        if sweep and cfg.points:
            plan.children.append(Child(labels[id(cfg)], params, cfg.points, models, inherit=True))
            _search_children(plan, cfg, params, len(plan.children) - 1)
            _steps(cfg.points)
        else:
            plan.params.update(params)
            plan.models.extend(models)
            own = list(cfg.points)
            plan.points.extend(own)
            _search_children(plan, cfg, plan.params, None)
    _steps(plan.points)


def _params_of(cfg: Config) -> dict[str, tuple[Any, str]]:
    out: dict[str, tuple[Any, str]] = {
        f"{cfg.name}.class": (cfg.class_name.rsplit(".", 1)[-1], "estimator")
    }
    for key, (value, is_default) in cfg.params.items():
        out[f"{cfg.name}.{key}"] = (value, "default" if is_default else "estimator")
    out.update({k: (v, "auto") for k, v in cfg.settings.items()})
    return out


def _models_of(cfg: Config, rec: Recorder) -> list[ModelRecord]:
    """One model per distinct fitted state of the configuration (the same settings fitted on
    other data is another model); the state left at the end of the cell is always one of them,
    when that model still exists and was not refitted since under other settings."""
    if not cfg.fits:
        return []
    params = {k: v for k, (v, _d) in cfg.params.items()}
    out: list[ModelRecord] = []
    seen: set[str] = set()
    fp, ev, data = cfg.fitted[-1]
    est = ev.est
    if est is not None and rec.fit_of(est) == ev.seq and (fp is None or cfg.partial):
        from .fingerprint import model_fingerprint

        fp = model_fingerprint(est)  # the final state, now
        out.append(ModelRecord(fp, cfg.class_name, params, cfg.name, est, data))
        seen.add(fp)
    for fp, ev, data in reversed(cfg.fitted):
        if fp is None or fp in seen or len(out) >= MAX_MODELS:
            continue
        seen.add(fp)
        alive = ev.est if rec.fit_of(ev.est) == ev.seq else None
        out.append(
            ModelRecord(
                fp, cfg.class_name, params, cfg.name, alive, data, file_queued=ev.file_queued
            )
        )
    for facts in cfg.searches[-MAX_MODELS:]:
        if facts.best_estimator is not None:
            out.append(
                model_record(facts.best_estimator, f"{cfg.name}.best_estimator_", list(cfg.data))
            )
    return out


def model_record(est: Any, name: str, data: list[int] | None = None) -> ModelRecord:
    """A fitted estimator as it stands now: fingerprint, class, params."""
    from .fingerprint import model_fingerprint
    from .params import estimator_params

    cls = type(est)
    params = {k: v for k, (v, _d) in estimator_params(est).items()}
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    return ModelRecord(model_fingerprint(est), qualified, params, name, est, data or [])


def _search_children(
    plan: Plan, cfg: Config, params: dict[str, tuple[Any, str]], parent: int | None
) -> None:
    """Each search's best on its run; one child run per candidate of each search."""
    target = plan.children[parent].points if parent is not None else plan.points
    fp = next((p.model_fp for p in cfg.points if p.model_fp), None)
    for facts in cfg.searches:
        params.update({f"{cfg.name}.best.{k}": (v, "auto") for k, v in facts.best_params.items()})
        if facts.best_score is not None:
            target.append(
                Point(
                    "best_score", facts.best_score, None, "search", model_name=cfg.name, model_fp=fp
                )
            )
        for i, cand in enumerate(facts.candidates[:MAX_CANDIDATES]):
            desc = ", ".join(f"{k}={v}" for k, v in list(cand["params"].items())[:3])
            own = {k: (v, "auto") for k, v in cand["params"].items()}
            points = [
                Point(k, v, None, "search", model_name=cfg.name) for k, v in cand["metrics"].items()
            ]
            name = f"{cfg.name} #{i + 1}" + (f" {desc}" if desc else "")
            plan.children.append(Child(name, own, points, [], inherit=False, parent=parent))


def _steps(points: list[Point]) -> None:
    """A key scored more than once in one configuration becomes a curve: steps 0, 1, 2..."""
    counts: dict[str, int] = {}
    for p in points:
        if p.step is None:
            counts[p.key] = counts.get(p.key, 0) + 1
    seen: dict[str, int] = {}
    for p in points:
        if p.step is None and counts.get(p.key, 0) > 1:
            p.step = seen.get(p.key, 0)
            seen[p.key] = p.step + 1


def _labels(configs: list[Config]) -> dict[int, str]:
    """A short name per configuration: what differs between them (``clf C=0.1``)."""
    keys = list(dict.fromkeys(k for c in configs for k in c.params))
    varying = [k for k in keys if len({repr(c.params.get(k, (None,))[0]) for c in configs}) > 1]
    several_names = len({c.name for c in configs}) > 1
    several_classes = len({c.class_name for c in configs}) > 1
    out = {}
    for cfg in configs:
        parts = [cfg.name] if several_names or not several_classes else []
        if several_classes:
            parts.append(cfg.class_name.rsplit(".", 1)[-1])
        else:
            shown = [f"{k}={cfg.params[k][0]}" for k in varying if k in cfg.params][:3]
            parts.append(", ".join(shown))
        out[id(cfg)] = " ".join(p for p in parts if p) or cfg.name
    return out


def is_search(est: Any) -> bool:
    search_mod = sys.modules.get("sklearn.model_selection._search")
    return search_mod is not None and isinstance(est, search_mod.BaseSearchCV)
