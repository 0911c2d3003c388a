"""What capture remembers between cells about live objects, all by weak reference.

- predictions: the array ``model.predict(X_test)`` returned -> (model, X_test), so a metric
  computed cells later on ``y_pred`` still knows the model it scores and the data it ran on;
- data: objects known to be data (returned by a loader, a generator or a split), so
  ``X = bunch.data`` is a dataset even before it reaches ``fit``;
- models: ``id(estimator)`` -> (fingerprint, name, run) of the fitted state capture recorded,
  so a later score lands in the run (a sweep's child run included) that holds that model.

Entries die with their objects; nothing here keeps user data alive.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

MAX_ENTRIES = 4096


@dataclass(frozen=True)
class ModelInfo:
    fingerprint: str
    name: str
    run_id: str
    sweep: bool = False  # fitted in a sweep: its run is a child run of its own


class Links:
    def __init__(self) -> None:
        self._predictions: dict[int, tuple[Any, Any, Any]] = {}
        self._data: dict[int, Any] = {}
        self._models: dict[int, tuple[Any, ModelInfo]] = {}

    # -- predictions -----------------------------------------------------------------------------

    def note_prediction(self, result: Any, est: Any, x: Any) -> None:
        ref = _ref(result)
        if ref is None:
            return
        self._predictions[id(result)] = (ref, _ref(est), _ref(x))
        if len(self._predictions) > MAX_ENTRIES:
            _prune(self._predictions)

    def prediction_of(self, obj: Any) -> tuple[Any, Any] | None:
        """``(model, X)`` that produced ``obj``, if it was a prediction (or a view of one:
        ``model.predict_proba(X)[:, 1]``)."""
        for _ in range(3):
            if obj is None:
                return None
            entry = self._predictions.get(id(obj))
            if entry is not None and entry[0]() is obj:
                return _deref(entry[1]), _deref(entry[2])
            obj = getattr(obj, "base", None) if type(obj).__name__ == "ndarray" else None
        return None

    # -- data --------------------------------------------------------------------------------------

    def note_data(self, obj: Any) -> None:
        ref = _ref(obj)
        if ref is not None:
            self._data[id(obj)] = ref
            if len(self._data) > MAX_ENTRIES:
                _prune(self._data, index=None)

    def is_data(self, obj: Any) -> bool:
        ref = self._data.get(id(obj))
        return ref is not None and ref() is obj

    # -- models ------------------------------------------------------------------------------------

    def note_model(self, est: Any, info: ModelInfo) -> None:
        ref = _ref(est)
        if ref is not None:
            self._models[id(est)] = (ref, info)
            if len(self._models) > MAX_ENTRIES:
                _prune(self._models)

    def model_of(self, est: Any) -> ModelInfo | None:
        entry = self._models.get(id(est)) if est is not None else None
        if entry is None or entry[0]() is not est:
            return None
        return entry[1]

    def model_by_fingerprint(self, fingerprint: str) -> Any:
        for ref, info in self._models.values():
            if info.fingerprint == fingerprint:
                return ref()
        return None


def _ref(obj: Any) -> Any:
    if obj is None:
        return None
    try:
        return weakref.ref(obj)
    except TypeError:
        return None


def _deref(ref: Any) -> Any:
    return ref() if ref is not None else None


def _prune(table: dict[int, Any], index: int | None = 0) -> None:
    for key in list(table):
        entry = table[key]
        ref = entry if index is None else entry[index]
        if ref() is None:
            del table[key]
